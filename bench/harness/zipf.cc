#include "bench/harness/zipf.h"

#include <algorithm>
#include <cmath>

namespace bench {

namespace {
// log1p(x)/x, continuous at 0.
double Helper1(double x) {
  if (std::abs(x) > 1e-8) return std::log1p(x) / x;
  return 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}
// expm1(x)/x, continuous at 0.
double Helper2(double x) {
  if (std::abs(x) > 1e-8) return std::expm1(x) / x;
  return 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
}
}  // namespace

ZipfGenerator::ZipfGenerator(uint64_t n, double s) : n_(std::max<uint64_t>(n, 1)), s_(s) {
  h_integral_x1_ = H(1.5) - 1.0;
  h_integral_n_ = H(static_cast<double>(n_) + 0.5);
  threshold_ = 2 - HInverse(H(2.5) - h(2));
}

double ZipfGenerator::H(double x) const {
  double log_x = std::log(x);
  return Helper2((1 - s_) * log_x) * log_x;
}

double ZipfGenerator::HInverse(double x) const {
  double t = x * (1 - s_);
  if (t < -1) t = -1;  // rounding
  return std::exp(Helper1(t) * x);
}

double ZipfGenerator::h(double x) const { return std::exp(-s_ * std::log(x)); }

uint64_t ZipfGenerator::Next(Rng& rng) const {
  while (true) {
    // u uniform in (h_integral_x1_, h_integral_n_]
    double u = h_integral_n_ + rng.NextDouble() * (h_integral_x1_ - h_integral_n_);
    double x = HInverse(u);
    double kd = std::floor(x + 0.5);
    uint64_t k;
    if (kd < 1) {
      k = 1;
    } else if (kd > static_cast<double>(n_)) {
      k = n_;
    } else {
      k = static_cast<uint64_t>(kd);
    }
    double kf = static_cast<double>(k);
    if (kf - x <= threshold_ || u >= H(kf + 0.5) - h(kf)) return k;
  }
}

}  // namespace bench
