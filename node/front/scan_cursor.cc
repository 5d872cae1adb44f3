#include "node/front/scan_cursor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace node::scan_cursor {
namespace {

constexpr uint64_t kChildMask = (uint64_t{1} << kChildBits) - 1;

// Digits only (Redis's strtoul also takes a sign, which the node leaves to
// it), fitting in 64 bits.
std::optional<uint64_t> ParseDigits(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

}  // namespace

size_t CursorArg(std::string_view name) {
  if (name == "scan") return 1;
  if (name == "hscan" || name == "sscan" || name == "zscan") return 2;
  return 0;
}

std::optional<std::string> ForChild(std::string_view cursor, uint32_t epoch) {
  const std::optional<uint64_t> v = ParseDigits(cursor);
  if (!v || (*v >> (kChildBits + kEpochBits)) != 0) return std::nullopt;
  const uint64_t made_by = *v >> kChildBits;
  if (made_by == 0) return std::nullopt;
  if (made_by != epoch) return std::string("0");
  return absl::StrCat(*v & kChildMask);
}

std::string ForClient(std::string_view reply, uint32_t epoch) {
  // *2 \r\n $<len> \r\n <cursor> \r\n <elements>
  if (!reply.starts_with("*2\r\n$")) return std::string(reply);
  const size_t len_end = reply.find("\r\n", 5);
  if (len_end == std::string_view::npos) return std::string(reply);
  const std::optional<uint64_t> len = ParseDigits(reply.substr(5, len_end - 5));
  const size_t start = len_end + 2;
  if (!len || *len >= reply.size() || start + *len + 2 > reply.size() || reply.substr(start + *len, 2) != "\r\n") {
    return std::string(reply);
  }
  const std::optional<uint64_t> cursor = ParseDigits(reply.substr(start, *len));
  if (!cursor || *cursor == 0 || *cursor > kChildMask) return std::string(reply);
  const std::string tagged = absl::StrCat((static_cast<uint64_t>(epoch) << kChildBits) | *cursor);
  std::string out = absl::StrCat("*2\r\n$", tagged.size(), "\r\n", tagged);
  out += reply.substr(start + *len);
  return out;
}

}  // namespace node::scan_cursor
