// Redis's client-output-buffer-limit for the node's clients: a client whose
// unsent replies reach the hard limit, or stay above the soft limit for the
// soft seconds, is disconnected. Same classes, syntax and defaults as Redis:
// "normal 0 0 0 pubsub 32mb 8mb 60" (0 means no limit).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace node {

// Redis's memtoll: a number with an optional unit (b, k, kb, m, mb, g, gb).
bool ParseMemory(std::string_view text, uint64_t* out);

struct OutputBufferLimit {
  uint64_t hard = 0;
  uint64_t soft = 0;
  int64_t soft_seconds = 0;
};

struct OutputBufferLimits {
  OutputBufferLimit normal;
  OutputBufferLimit pubsub{32ULL << 20, 8ULL << 20, 60};
  // Parses Redis's syntax: pairs of "<class> <hard> <soft> <seconds>", sizes
  // with Redis's units (b, k, kb, m, mb, g, gb); classes normal and pubsub.
  static absl::StatusOr<OutputBufferLimits> Parse(std::string_view text);
};

// One client's state against its limit.
class OutputLimitCheck {
 public:
  using Clock = std::chrono::steady_clock;
  // Whether a client holding `bytes` must be disconnected now.
  bool Exceeded(uint64_t bytes, const OutputBufferLimit& limit, Clock::time_point now);

 private:
  bool soft_reached_ = false;
  Clock::time_point soft_since_;
};

}  // namespace node
