#include "bench/harness/zipf.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace bench {
namespace {

// Chi-square goodness of fit of ZipfGenerator against the exact probabilities.
double ChiSquare(uint64_t n, double s, int samples) {
  ZipfGenerator z(n, s);
  Rng rng(42);
  std::vector<uint64_t> counts(n + 1, 0);
  for (int i = 0; i < samples; ++i) {
    uint64_t k = z.Next(rng);
    EXPECT_GE(k, 1u);
    EXPECT_LE(k, n);
    if (k >= 1 && k <= n) ++counts[k];
  }
  double norm = 0;
  for (uint64_t k = 1; k <= n; ++k) norm += std::pow(static_cast<double>(k), -s);
  double chi = 0;
  for (uint64_t k = 1; k <= n; ++k) {
    double expected = samples * std::pow(static_cast<double>(k), -s) / norm;
    chi += (counts[k] - expected) * (counts[k] - expected) / expected;
  }
  return chi;
}

// With n-1 degrees of freedom, chi-square has mean n-1 and sd sqrt(2(n-1));
// allow 5 sd (a correct generator fails this about once in a million seeds).
TEST(Zipf, MatchesExactDistribution) {
  for (double s : {0.5, 0.99, 1.0, 1.2, 2.0}) {
    for (uint64_t n : {uint64_t{2}, uint64_t{10}, uint64_t{100}}) {
      double dof = n - 1;
      EXPECT_LT(ChiSquare(n, s, 400000), dof + 5 * std::sqrt(2 * dof) + 5) << "n=" << n << " s=" << s;
    }
  }
}

TEST(Zipf, HugeKeySpaceStaysInRangeAndSkewed) {
  ZipfGenerator z(uint64_t{1} << 40, 0.99);
  Rng rng(1);
  uint64_t ones = 0;
  for (int i = 0; i < 100000; ++i) {
    uint64_t k = z.Next(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, uint64_t{1} << 40);
    ones += k == 1;
  }
  // P(1) = 1/H(n, 0.99), about 1/28.9 for n = 2^40.
  EXPECT_GT(ones, 100000 / 40);
  EXPECT_LT(ones, 100000 / 20);
}

TEST(Zipf, SingleKey) {
  ZipfGenerator z(1, 0.99);
  Rng rng(3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(z.Next(rng), 1u);
}

TEST(Rng, BelowIsUniform) {
  Rng rng(9);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) ++counts[rng.Below(10)];
  for (int c : counts) {
    EXPECT_GT(c, 9500);
    EXPECT_LT(c, 10500);
  }
}

}  // namespace
}  // namespace bench
