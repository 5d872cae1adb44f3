// Private helpers shared by the resp/ sources. Not part of the public API.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace resp::internal {

// Parses a decimal integer with the strictness of Redis's string2ll: an optional
// '-', no '+', no spaces, no leading zeros ("0" alone is fine, "-0" is not), at
// most 20 characters, no overflow. This is what redis-server accepts in the
// "*<count>" and "$<len>" lines of a request.
inline bool ParseStrictInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() >= 21) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    i = 1;
    if (i == s.size()) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = static_cast<uint64_t>(s[i] - '0');
  for (++i; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// Offset of the first `c` in data[from, end), or npos. Header lines are a few
// bytes long, where a plain loop beats a memchr call; longer searches use memchr.
inline size_t FindByte(std::string_view data, size_t from, char c) {
  if (from >= data.size()) return std::string_view::npos;
  const size_t short_end = std::min(data.size(), from + 16);
  for (size_t i = from; i < short_end; ++i) {
    if (data[i] == c) return i;
  }
  if (short_end == data.size()) return std::string_view::npos;
  from = short_end;
  const void* p = std::memchr(data.data() + from, c, data.size() - from);
  if (p == nullptr) return std::string_view::npos;
  return static_cast<size_t>(static_cast<const char*>(p) - data.data());
}

}  // namespace resp::internal
