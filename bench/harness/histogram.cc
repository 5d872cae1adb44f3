#include "bench/harness/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bench {

namespace {
constexpr int64_t kSub = int64_t{1} << LatencyHistogram::kSubBucketBits;  // 2048 exact values
constexpr int64_t kHalf = kSub / 2;                                       // buckets per octave
constexpr int64_t kMaxValue = (int64_t{1} << LatencyHistogram::kMaxValueBits) - 1;
}  // namespace

size_t LatencyHistogram::BucketCount() {
  // Octaves above the exact range: msb from kSubBucketBits to kMaxValueBits-1.
  return kSub + (kMaxValueBits - kSubBucketBits) * kHalf;
}

size_t LatencyHistogram::IndexOf(int64_t v) {
  if (v < 0) v = 0;
  if (v > kMaxValue) v = kMaxValue;
  if (v < kSub) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(static_cast<uint64_t>(v));  // >= kSubBucketBits
  int shift = msb - (kSubBucketBits - 1);                     // v >> shift in [kHalf, kSub)
  return kSub + (shift - 1) * kHalf + ((v >> shift) - kHalf);
}

int64_t LatencyHistogram::LowestEquivalent(size_t index) {
  int64_t i = static_cast<int64_t>(index);
  if (i < kSub) return i;
  int shift = static_cast<int>((i - kSub) / kHalf) + 1;
  int64_t sub = (i - kSub) % kHalf + kHalf;
  return sub << shift;
}

int64_t LatencyHistogram::HighestEquivalent(size_t index) {
  int64_t i = static_cast<int64_t>(index);
  if (i < kSub) return i;
  int shift = static_cast<int>((i - kSub) / kHalf) + 1;
  int64_t sub = (i - kSub) % kHalf + kHalf;
  return ((sub + 1) << shift) - 1;
}

LatencyHistogram::LatencyHistogram() : counts_(BucketCount(), 0) {}

void LatencyHistogram::Record(int64_t v) {
  if (v < 0) v = 0;
  if (v > kMaxValue) v = kMaxValue;
  ++counts_[IndexOf(v)];
  if (count_ == 0 || v < min_) min_ = v;
  if (v > max_) max_ = v;
  ++count_;
  sum_ += v;
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  if (o.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  if (count_ == 0 || o.min_ < min_) min_ = o.min_;
  max_ = std::max(max_, o.max_);
  count_ += o.count_;
  sum_ += o.sum_;
}

void LatencyHistogram::Clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

int64_t LatencyHistogram::ValueAtQuantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  if (rank >= count_) return max_;
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(HighestEquivalent(i), min_, max_);
  }
  return max_;
}

}  // namespace bench
