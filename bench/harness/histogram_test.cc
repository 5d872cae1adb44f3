#include "bench/harness/histogram.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace bench {
namespace {

TEST(LatencyHistogram, BucketsCoverEveryValueWithinAThousandth) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{2047}, int64_t{2048}, int64_t{2049}, int64_t{4095},
                    int64_t{4096}, int64_t{123456}, int64_t{999999999}, (int64_t{1} << 40) - 1}) {
    size_t i = LatencyHistogram::IndexOf(v);
    ASSERT_LT(i, LatencyHistogram::BucketCount()) << v;
    EXPECT_LE(LatencyHistogram::LowestEquivalent(i), v) << v;
    EXPECT_GE(LatencyHistogram::HighestEquivalent(i), v) << v;
    double width = LatencyHistogram::HighestEquivalent(i) - LatencyHistogram::LowestEquivalent(i) + 1;
    EXPECT_LE(width, std::max(1.0, v / 1024.0)) << v;
  }
}

TEST(LatencyHistogram, IndexesAreContiguousAndMonotonic) {
  for (size_t i = 0; i + 1 < LatencyHistogram::BucketCount(); ++i) {
    ASSERT_EQ(LatencyHistogram::HighestEquivalent(i) + 1, LatencyHistogram::LowestEquivalent(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::IndexOf(LatencyHistogram::LowestEquivalent(i)), i);
    ASSERT_EQ(LatencyHistogram::IndexOf(LatencyHistogram::HighestEquivalent(i)), i);
  }
}

TEST(LatencyHistogram, ExactBelow2048) {
  LatencyHistogram h;
  for (int v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 1000);
  EXPECT_EQ(h.ValueAtQuantile(0.5), 500);
  EXPECT_EQ(h.ValueAtQuantile(0.99), 990);
  EXPECT_EQ(h.ValueAtQuantile(0.999), 999);
  EXPECT_EQ(h.ValueAtQuantile(1.0), 1000);
  EXPECT_EQ(h.ValueAtQuantile(0), 1);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
}

TEST(LatencyHistogram, PercentilesMatchSortedSampleWithinPrecision) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(200000.0), 1.5);  // ~200 us median, long tail
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 200000; ++i) {
    int64_t v = static_cast<int64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    int64_t exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    int64_t got = h.ValueAtQuantile(q);
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got - exact, exact / 1024 + 1) << q;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  for (int i = 0; i < 100; ++i) a.Record(1000);
  for (int i = 0; i < 100; ++i) b.Record(5000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_EQ(a.min(), 1000);
  EXPECT_EQ(a.max(), 5000000);
  EXPECT_EQ(a.ValueAtQuantile(0.5), 1000);
  EXPECT_EQ(a.ValueAtQuantile(0.51), 5000000);
}

TEST(LatencyHistogram, ClampsOutOfRange) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(int64_t{1} << 50);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), (int64_t{1} << 40) - 1);
  LatencyHistogram empty;
  EXPECT_EQ(empty.ValueAtQuantile(0.99), 0);
}

}  // namespace
}  // namespace bench
