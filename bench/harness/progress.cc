#include "bench/harness/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/harness/procfs.h"

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

EtaEstimator::EtaEstimator(std::vector<double> planned_s) : planned_(std::move(planned_s)) {}

void EtaEstimator::Start(double now_s) {
  running_ = true;
  since_s_ = last_end_s_ >= 0 ? last_end_s_ : now_s;
  ++next_;
}

void EtaEstimator::Finish(double now_s) {
  if (!running_) return;
  running_ = false;
  const double planned = next_ - 1 < planned_.size() ? planned_[next_ - 1] : 0;
  overhead_s_ += (now_s - since_s_) - planned;
  ++finished_;
  last_end_s_ = now_s;
}

void EtaEstimator::Skip() { ++next_; }

double EtaEstimator::Estimate(size_t run) const {
  const double planned = run < planned_.size() ? planned_[run] : 0;
  return std::max(0.0, planned + (finished_ > 0 ? overhead_s_ / finished_ : 0));
}

double EtaEstimator::Remaining(double now_s) const {
  double left = running_ ? std::max(0.0, Estimate(next_ - 1) - (now_s - since_s_)) : 0;
  for (size_t i = next_; i < planned_.size(); ++i) left += Estimate(i);
  return left;
}

std::string FormatDuration(double seconds) {
  const int64_t s = std::llround(std::max(0.0, seconds));
  if (s < 60) return absl::StrFormat("%ds", s);
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
}

std::string ProgressLine(size_t run, size_t runs, const std::string& label, double ops_per_s, double elapsed_s,
                         double eta_s) {
  return absl::StrCat("[", run, "/", runs, "] elapsed ", FormatDuration(elapsed_s), "  ETA ", FormatDuration(eta_s),
                      ops_per_s >= 0 ? absl::StrFormat("  %.0f ops/s", ops_per_s) : "", "  ", label);
}

Progress::Progress(bool enabled, int columns, std::ostream& out)
    : enabled_(enabled), columns_(std::max(columns, 0)), out_(out), t0_(SteadyNs() / 1e9) {}

double Progress::Now() const { return SteadyNs() / 1e9 - t0_; }

void Progress::Plan(std::vector<double> planned_s) {
  std::lock_guard lock(mu_);
  eta_ = EtaEstimator(std::move(planned_s));
}

void Progress::Start(const std::string& label) {
  std::lock_guard lock(mu_);
  const double now = Now();
  eta_.Start(now);
  label_ = label;
  last_completed_ = 0;
  last_tick_s_ = now;
  if (!enabled_) return;
  if (columns_ > 0) {
    Draw(-1);
  } else {
    out_ << ProgressLine(eta_.started(), eta_.runs(), label_, -1, now, eta_.Remaining(now)) << std::endl;
  }
}

void Progress::Finish() {
  std::lock_guard lock(mu_);
  eta_.Finish(Now());
}

void Progress::Skip() {
  std::lock_guard lock(mu_);
  eta_.Skip();
}

void Progress::Tick(uint64_t completed) {
  std::lock_guard lock(mu_);
  if (!enabled_ || columns_ == 0) return;
  const double now = Now();
  if (now - last_tick_s_ < 0.5) return;  // too short a time for a rate
  const double rate = (completed - last_completed_) / (now - last_tick_s_);
  last_completed_ = completed;
  last_tick_s_ = now;
  Draw(rate);
}

void Progress::Log(const std::string& line) {
  std::lock_guard lock(mu_);
  if (drawn_) out_ << "\r\033[K";
  out_ << line << "\n";
  if (drawn_) Draw(-1);
  out_ << std::flush;
}

void Progress::Done() {
  std::lock_guard lock(mu_);
  if (drawn_) out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

void Progress::Draw(double ops_per_s) {
  const double now = Now();
  std::string line = ProgressLine(eta_.started(), eta_.runs(), label_, ops_per_s, now, eta_.Remaining(now));
  if (line.size() >= static_cast<size_t>(columns_)) line.resize(std::max(columns_ - 1, 1));
  out_ << "\r\033[K" << line << std::flush;
  drawn_ = true;
}

RunWatcher::RunWatcher(const LoadProgress& progress, std::vector<pid_t> cpu_roots, std::function<void()> tick)
    : progress_(progress), roots_(std::move(cpu_roots)), tick_(std::move(tick)), thread_([this] { Loop(); }) {}

RunWatcher::~RunWatcher() {
  if (thread_.joinable()) Stop();
}

std::vector<CpuSample> RunWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  return std::move(samples_);
}

void RunWatcher::Loop() {
  std::unique_lock lock(mu_);
  int64_t second = 0;  // the next whole second of the load to wake at
  while (!stop_) {
    const int64_t start_ns = progress_.start_ns.load();
    const Clock::time_point wake =
        start_ns == 0 ? Clock::now() + std::chrono::milliseconds(100)
                      : Clock::time_point(std::chrono::nanoseconds(start_ns)) + std::chrono::seconds(second);
    if (cv_.wait_until(lock, wake, [this] { return stop_; })) break;
    if (start_ns == 0) continue;  // still connecting
    const double t_s = (SteadyNs() - start_ns) / 1e9;
    second = static_cast<int64_t>(t_s) + 1;  // seconds overslept are skipped, not caught up
    lock.unlock();
    const double cpu_s = roots_.empty() ? 0 : TreeCpuSeconds(roots_);
    if (tick_) tick_();
    lock.lock();
    if (!roots_.empty()) samples_.push_back({t_s, cpu_s});
  }
}

}  // namespace bench
