// Test drivers shared by the unit tests and the fuzz target: feed an input to
// RequestParser / ReplyScanner the way a connection does (a growing buffer whose
// unconsumed part is passed again after every read), with the input cut into
// reads at chosen points, and record everything that came out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/reply_scanner.h"
#include "resp/request_parser.h"

namespace resp::testing {

struct RequestOutcome {
  std::vector<std::vector<std::string>> requests;  // every kOk, empty ones included
  std::vector<size_t> sizes;                       // *consumed of each request
  std::string error;                               // set when parsing ended in kError
  size_t leftover = 0;                             // unconsumed bytes at the end
  bool operator==(const RequestOutcome&) const = default;
};

struct ReplyOutcome {
  std::vector<std::string> replies;  // the bytes of each complete value
  std::string first_bytes;           // *first_byte of each
  std::string error;
  size_t leftover = 0;
  bool operator==(const ReplyOutcome&) const = default;
};

// Read sizes: each read is cuts[i % cuts.size()] bytes (0 means "the rest").
// {0} delivers the whole input at once, {1} byte by byte.
inline std::vector<size_t> ReadSizes(std::initializer_list<size_t> sizes) { return sizes; }

// Feeds `input` in reads of the given sizes. The buffer is copied to a fresh
// string at every read, so a parser that kept pointers into an old buffer (rather
// than offsets) would fail under ASan.
inline RequestOutcome RunRequestParser(std::string_view input, const std::vector<size_t>& reads,
                                       const Limits& limits = {}, bool authenticated = true) {
  RequestOutcome outcome;
  RequestParser parser(limits);
  parser.SetAuthenticated(authenticated);
  std::string buffer;  // unconsumed bytes
  size_t fed = 0;
  size_t read_index = 0;
  std::vector<std::string_view> args;
  while (true) {
    // Parse everything parsable in the buffer.
    bool failed = false;
    while (!buffer.empty()) {
      size_t consumed = 0;
      std::string error;
      const ParseStatus status = parser.Parse(buffer, &consumed, &args, &error);
      if (status == ParseStatus::kNeedMore) break;
      if (status == ParseStatus::kError) {
        outcome.error = error;
        failed = true;
        break;
      }
      std::vector<std::string> request(args.begin(), args.end());
      outcome.requests.push_back(std::move(request));
      outcome.sizes.push_back(consumed);
      buffer.erase(0, consumed);
    }
    if (failed || fed == input.size()) break;
    size_t n = reads.empty() ? 0 : reads[read_index++ % reads.size()];
    if (n == 0 || n > input.size() - fed) n = input.size() - fed;
    std::string grown;
    grown.reserve(buffer.size() + n);
    grown.append(buffer);
    grown.append(input.substr(fed, n));
    buffer.swap(grown);
    fed += n;
  }
  outcome.leftover = outcome.error.empty() ? buffer.size() : 0;
  return outcome;
}

inline ReplyOutcome RunReplyScanner(std::string_view input, const std::vector<size_t>& reads,
                                    const Limits& limits = {}) {
  ReplyOutcome outcome;
  ReplyScanner scanner(limits);
  std::string buffer;
  size_t fed = 0;
  size_t read_index = 0;
  while (true) {
    bool failed = false;
    while (!buffer.empty()) {
      size_t length = 0;
      char first = 0;
      std::string error;
      const ParseStatus status = scanner.Scan(buffer, &length, &first, &error);
      if (status == ParseStatus::kNeedMore) break;
      if (status == ParseStatus::kError) {
        outcome.error = error;
        failed = true;
        break;
      }
      outcome.replies.push_back(buffer.substr(0, length));
      outcome.first_bytes.push_back(first);
      buffer.erase(0, length);
    }
    if (failed || fed == input.size()) break;
    size_t n = reads.empty() ? 0 : reads[read_index++ % reads.size()];
    if (n == 0 || n > input.size() - fed) n = input.size() - fed;
    std::string grown;
    grown.reserve(buffer.size() + n);
    grown.append(buffer);
    grown.append(input.substr(fed, n));
    buffer.swap(grown);
    fed += n;
  }
  outcome.leftover = outcome.error.empty() ? buffer.size() : 0;
  return outcome;
}

// A small deterministic PRNG (splitmix64) for tests and the fuzz driver.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

// Read sizes drawn at random between 1 and max_read.
inline std::vector<size_t> RandomReads(uint64_t seed, size_t count, size_t max_read) {
  Rng rng(seed);
  std::vector<size_t> reads;
  for (size_t i = 0; i < count; ++i) reads.push_back(1 + rng.Below(max_read));
  return reads;
}

}  // namespace resp::testing
