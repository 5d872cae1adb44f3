// libFuzzer target for the RESP codec. Built as `fuzz_resp` with
// -DANARCHO_FUZZ=ON under clang; the same function is driven by fuzz_resp_test.cc
// in the ordinary test suite.
//
// Input: byte 0 chooses limits, whether the client is authenticated and how the
// rest is cut into reads; bytes 1.. are
// fed as a client's request stream and, separately, as a child's reply stream.
// Properties checked:
// - RequestParser: the outcome (requests, sizes, final error or leftover) does not
//   depend on how the input is split; consumed bytes add up; limits hold;
//   re-encoding each request with AppendCommand parses back to the same args.
// - ReplyScanner: split-independent the same way; the values found tile the
//   input; each one decodes with ParseValue to exactly its own length.
// - ParseValue on the raw input: a decoded value is what ReplyScanner finds too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "resp/reply_scanner.h"
#include "resp/request_parser.h"
#include "resp/value.h"
#include "resp/writer.h"
#include "tests/resp/resp_drivers.h"

namespace {

using resp::testing::ReplyOutcome;
using resp::testing::RequestOutcome;

[[noreturn]] void Die(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_resp: property violated: %s\ninput (%zu bytes):", what, input.size());
  for (unsigned char c : input) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

#define FUZZ_CHECK(cond, input)     \
  do {                              \
    if (!(cond)) Die(#cond, input); \
  } while (0)

uint64_t Hash(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::vector<size_t> ChooseReads(uint8_t mode, std::string_view input) {
  switch ((mode >> 1) & 3) {
    case 0:
      // Byte by byte; big inputs in small random reads (the drivers copy the
      // buffer per read, which is quadratic).
      if (input.size() <= 2048) return {1};
      return resp::testing::RandomReads(Hash(input), 256, 16);
    case 1:
      return {2, 3, 5, 7, 11};
    case 2:
      return resp::testing::RandomReads(Hash(input), 64, 1 + mode % 64);
    default:
      return {1 + (static_cast<size_t>(mode) * 7) % (input.size() + 1), 0};
  }
}

resp::Limits ChooseLimits(uint8_t mode) {
  resp::Limits limits;
  if (mode & 1) {
    limits.max_unauthenticated_multibulk_len = 3;
    limits.max_unauthenticated_bulk_len = 16;
    limits.max_bulk_len = 64;
    limits.max_multibulk_len = 8;
    limits.max_inline_len = 32;
    limits.max_reply_depth = 4;
  }
  return limits;
}

void CheckRequests(std::string_view input, const std::vector<size_t>& reads,
                   const resp::Limits& limits, bool authenticated) {
  const RequestOutcome whole = resp::testing::RunRequestParser(input, {0}, limits, authenticated);
  const RequestOutcome split = resp::testing::RunRequestParser(input, reads, limits, authenticated);
  FUZZ_CHECK(whole == split, input);

  size_t total = whole.leftover;
  for (size_t size : whole.sizes) total += size;
  if (whole.error.empty()) FUZZ_CHECK(total == input.size(), input);
  if (!whole.error.empty()) FUZZ_CHECK(whole.error.rfind("Protocol error: ", 0) == 0, input);

  for (size_t i = 0; i < whole.requests.size(); ++i) {
    const std::vector<std::string>& args = whole.requests[i];
    FUZZ_CHECK(whole.sizes[i] > 0, input);
    // Multibulk requests obey the count limit; inline ones only the line length.
    FUZZ_CHECK(args.size() <= static_cast<size_t>(limits.max_multibulk_len) ||
                   args.size() <= limits.max_inline_len,
               input);
    if (args.empty() || args.size() > static_cast<size_t>(limits.max_multibulk_len)) continue;
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string encoded;
    resp::AppendCommand(&encoded, views);
    resp::RequestParser parser(limits);
    size_t consumed = 0;
    std::vector<std::string_view> reparsed;
    std::string error;
    bool fits = true;
    for (const std::string& arg : args) {
      if (static_cast<int64_t>(arg.size()) > limits.max_bulk_len) fits = false;
    }
    if (!fits) continue;  // an inline request is not bound by the bulk limit
    FUZZ_CHECK(parser.Parse(encoded, &consumed, &reparsed, &error) == resp::ParseStatus::kOk,
               input);
    FUZZ_CHECK(consumed == encoded.size(), input);
    FUZZ_CHECK(std::vector<std::string>(reparsed.begin(), reparsed.end()) == args, input);
  }
}

void CheckReplies(std::string_view input, const std::vector<size_t>& reads,
                  const resp::Limits& limits) {
  const ReplyOutcome whole = resp::testing::RunReplyScanner(input, {0}, limits);
  const ReplyOutcome split = resp::testing::RunReplyScanner(input, reads, limits);
  FUZZ_CHECK(whole == split, input);

  std::string tiled;
  for (const std::string& reply : whole.replies) tiled += reply;
  FUZZ_CHECK(input.substr(0, tiled.size()) == tiled, input);
  if (whole.error.empty()) FUZZ_CHECK(tiled.size() + whole.leftover == input.size(), input);

  for (size_t i = 0; i < whole.replies.size(); ++i) {
    const std::string& reply = whole.replies[i];
    resp::Value value;
    size_t consumed = 0;
    std::string error;
    const resp::ParseStatus status = resp::ParseValue(reply, &consumed, &value, &error, limits);
    // ParseValue checks contents the scanner skips, but framing is the same.
    FUZZ_CHECK(status != resp::ParseStatus::kNeedMore, input);
    if (status == resp::ParseStatus::kOk) {
      FUZZ_CHECK(consumed == reply.size(), input);
      const char first = whole.first_bytes[i];
      switch (first) {
        case '%': FUZZ_CHECK(value.type == resp::Type::kMap, input); break;
        case '>': FUZZ_CHECK(value.is_push, input); break;
        case '-':
        case '!': FUZZ_CHECK(value.IsError(), input); break;
        default: break;
      }
    }
  }
}

void CheckParseValue(std::string_view input, const resp::Limits& limits) {
  resp::Value value;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(input, &consumed, &value, &error, limits) != resp::ParseStatus::kOk) return;
  resp::ReplyScanner scanner(limits);
  size_t length = 0;
  char first = 0;
  FUZZ_CHECK(scanner.Scan(input, &length, &first, &error) == resp::ParseStatus::kOk, input);
  FUZZ_CHECK(length == consumed, input);
  (void)value.AsString();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const resp::Limits limits = ChooseLimits(mode);
  const std::vector<size_t> reads = ChooseReads(mode, input);
  CheckRequests(input, reads, limits, /*authenticated=*/(mode & 8) == 0);
  CheckReplies(input, reads, limits);
  CheckParseValue(input, limits);
  return 0;
}
