// Key choice: uniform, or Zipfian over ranks 1..n with P(k) proportional to
// 1/k^s, drawn in O(1) expected time by rejection-inversion (W. Hörmann and
// G. Derflinger, "Rejection-inversion to generate variates from monotone
// discrete distributions", 1996), which needs no table and so suits key spaces
// of any size.
#pragma once

#include <cstdint>

namespace bench {

// splitmix64: small, fast, good enough for load generation; seeded per connection.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double NextDouble() { return (Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) (Lemire's multiply-shift; bias < n/2^64).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }

 private:
  uint64_t state_;
};

class ZipfGenerator {
 public:
  // n >= 1 ranks, exponent s > 0 (s = 0.99 is YCSB's default skew).
  ZipfGenerator(uint64_t n, double s);

  // A rank in [1, n]; rank 1 is the most frequent.
  uint64_t Next(Rng& rng) const;

  uint64_t n() const { return n_; }
  double exponent() const { return s_; }

 private:
  double H(double x) const;         // integral of h: (x^(1-s) - 1) / (1-s), log x when s == 1
  double HInverse(double x) const;  // its inverse
  double h(double x) const;         // x^-s

  uint64_t n_;
  double s_;
  double h_integral_x1_;
  double h_integral_n_;
  double threshold_;
};

}  // namespace bench
