// A latency histogram in the manner of HdrHistogram: log-linear buckets whose
// width grows with the value, so that every recorded value is kept to within
// 1/1024 (about 0.1%) of itself from 1 ns up to about 18 minutes, in a fixed
// 256 KiB array. Recording is O(1) and allocation-free; histograms of several
// connections or runs merge by adding their counts.
//
// Values are nanoseconds; reports print microseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

class LatencyHistogram {
 public:
  // Values below 2^kSubBucketBits are exact; above, each power of two is split
  // into 2^(kSubBucketBits-1) equal buckets.
  static constexpr int kSubBucketBits = 11;
  static constexpr int kMaxValueBits = 40;  // 2^40 ns = 1100 s; larger values are clamped

  LatencyHistogram();

  void Record(int64_t value_ns);
  void Merge(const LatencyHistogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }

  // The value at quantile q in [0, 1]: the highest value equivalent (same
  // bucket) to the recorded value of rank ceil(q * count), clamped to max().
  // Percentile(1.0) == max(); 0 when empty.
  int64_t ValueAtQuantile(double q) const;

  // Bucket arithmetic, public for tests.
  static size_t IndexOf(int64_t v);
  static int64_t LowestEquivalent(size_t index);
  static int64_t HighestEquivalent(size_t index);
  static size_t BucketCount();

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t min_ = 0, max_ = 0;
  __int128 sum_ = 0;
};

}  // namespace bench
