#include "node/front/output_limit.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace node {

bool ParseMemory(std::string_view text, uint64_t* out) {
  std::string t = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  size_t digits = 0;
  while (digits < t.size() && absl::ascii_isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  uint64_t n = 0;
  if (digits == 0 || !absl::SimpleAtoi(t.substr(0, digits), &n)) return false;
  const std::string unit = t.substr(digits);
  uint64_t mul = 0;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k") mul = 1000;
  else if (unit == "kb") mul = 1024;
  else if (unit == "m") mul = 1000 * 1000;
  else if (unit == "mb") mul = 1024 * 1024;
  else if (unit == "g") mul = 1000ULL * 1000 * 1000;
  else if (unit == "gb") mul = 1024ULL * 1024 * 1024;
  else return false;
  *out = n * mul;
  return true;
}

absl::StatusOr<OutputBufferLimits> OutputBufferLimits::Parse(std::string_view text) {
  OutputBufferLimits limits;
  std::vector<std::string> f = absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty());
  if (f.size() % 4 != 0) return absl::InvalidArgumentError("expected <class> <hard> <soft> <soft seconds>, repeated");
  for (size_t i = 0; i < f.size(); i += 4) {
    OutputBufferLimit l;
    const std::string cls = absl::AsciiStrToLower(f[i]);
    if (!ParseMemory(f[i + 1], &l.hard) || !ParseMemory(f[i + 2], &l.soft) ||
        !absl::SimpleAtoi(f[i + 3], &l.soft_seconds) || l.soft_seconds < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad limits for class '", cls, "'"));
    }
    if (cls == "normal") {
      limits.normal = l;
    } else if (cls == "pubsub") {
      limits.pubsub = l;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown client class '", cls, "' (normal or pubsub)"));
    }
  }
  return limits;
}

bool OutputLimitCheck::Exceeded(uint64_t bytes, const OutputBufferLimit& limit, Clock::time_point now) {
  if (limit.hard > 0 && bytes >= limit.hard) return true;
  if (limit.soft == 0 || bytes < limit.soft) {
    soft_reached_ = false;
    return false;
  }
  if (!soft_reached_) {
    soft_reached_ = true;
    soft_since_ = now;
    return false;
  }
  return now - soft_since_ > std::chrono::seconds(limit.soft_seconds);
}

}  // namespace node
