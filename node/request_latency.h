// Per-request latency, counted on the hot path without locks or allocation:
// a fixed set of buckets per request class, read by the metrics endpoint
// (node/metrics.h) on the same event loop.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace node {

enum class RequestClass : uint8_t { kRead, kWrite, kNode, kOther };
inline constexpr size_t kRequestClasses = 4;
const char* RequestClassName(RequestClass c);

// When a request arrived and what it is; `arrived` empty: not timed.
struct RequestTiming {
  std::chrono::steady_clock::time_point arrived{};
  RequestClass cls = RequestClass::kOther;
};

class RequestLatency {
 public:
  // Upper bounds of the buckets, in microseconds (+Inf is implicit).
  static constexpr std::array<int64_t, 16> kBoundsUs = {50,    100,   250,    500,    1000,   2500,    5000,    10000,
                                                        25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
  struct Class {
    std::array<uint64_t, kBoundsUs.size() + 1> counts{};  // per bucket, not cumulative; last: +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void Observe(RequestClass cls, std::chrono::steady_clock::duration took) {
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    Class& c = classes_[static_cast<size_t>(cls)];
    size_t b = 0;
    while (b < kBoundsUs.size() && us > kBoundsUs[b]) ++b;
    ++c.counts[b];
    ++c.count;
    c.sum_seconds += std::chrono::duration<double>(took).count();
  }
  const Class& of(RequestClass cls) const { return classes_[static_cast<size_t>(cls)]; }

 private:
  std::array<Class, kRequestClasses> classes_{};
};

}  // namespace node
