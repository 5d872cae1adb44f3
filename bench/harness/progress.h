// Progress of anarcho-bench's runs on stderr (which run of how many, elapsed
// time, estimated time left), and the thread that watches a run second by
// second: it redraws that line and samples the server's CPU for the time
// series.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/load_generator.h"
#include "bench/harness/timeseries.h"

namespace bench {

// The time left of a sequence of runs, each planned to take its warm-up plus
// measured seconds. Runs take longer than planned (connecting, draining, the
// CPU meter, files written between runs): a run's overhead is the time from
// the end of the run before it (for the first, from its own start) to its end,
// less its plan, and the mean overhead of the runs finished so far is added to
// every run still to come. Time before the first run (starting the systems,
// preloading) is not a run's.
class EtaEstimator {
 public:
  explicit EtaEstimator(std::vector<double> planned_s = {});
  void Start(double now_s);   // the next run starts
  void Finish(double now_s);  // the run started last ends
  void Skip();                // the next run will not happen
  double Remaining(double now_s) const;
  size_t runs() const { return planned_.size(); }
  size_t started() const { return next_; }  // runs started or skipped so far

 private:
  double Estimate(size_t run) const;  // the plan plus the mean overhead, at least 0

  std::vector<double> planned_;
  size_t next_ = 0;
  bool running_ = false;
  double since_s_ = 0;      // where the running run's time counts from
  double last_end_s_ = -1;  // the end of the last run finished; < 0: none yet
  double overhead_s_ = 0;   // summed over the runs finished
  int finished_ = 0;
};

// "45s", "3m05s", "1h02m".
std::string FormatDuration(double seconds);

// "[3/40] elapsed 1m05s  ETA 3m20s  12345 ops/s  round 1/2 set P=16 on redis":
// the label last, where cutting the line loses least; the rate left out when
// negative.
std::string ProgressLine(size_t run, size_t runs, const std::string& label, double ops_per_s, double elapsed_s,
                         double eta_s);

// The progress line of a sequence of runs. On a terminal (`columns` > 0) it
// is redrawn in place ('\r', cut to `columns` - 1 characters so it never
// wraps) as runs start and at every Tick, and lines logged meanwhile go above
// it; elsewhere one line is printed as each run starts. Disabled, only logged
// lines are printed. Thread-safe (Tick comes from a RunWatcher).
class Progress {
 public:
  Progress(bool enabled, int columns, std::ostream& out);
  void Plan(std::vector<double> planned_s);  // the runs to come; elapsed time counts from construction
  void Start(const std::string& label);
  void Finish();
  void Skip();
  // Operations answered so far in the current run: redraws with the rate
  // since the last Tick that drew (at least half a second before).
  void Tick(uint64_t completed);
  void Log(const std::string& line);
  void Done();  // clears the line on a terminal

 private:
  double Now() const;
  void Draw(double ops_per_s);  // mu_ held

  const bool enabled_;
  const int columns_;  // 0: not a terminal
  std::ostream& out_;
  const double t0_;
  std::mutex mu_;
  EtaEstimator eta_;
  std::string label_;
  bool drawn_ = false;  // a line is on the terminal without its newline
  uint64_t last_completed_ = 0;
  double last_tick_s_ = 0;
};

// A thread beside RunLoad that wakes at every whole second of the load
// (LoadProgress::start_ns) and samples the cumulative CPU of the process trees
// of `cpu_roots` (none if empty), then calls `tick` (if set).
class RunWatcher {
 public:
  RunWatcher(const LoadProgress& progress, std::vector<pid_t> cpu_roots, std::function<void()> tick);
  ~RunWatcher();
  std::vector<CpuSample> Stop();  // ends the thread; the samples taken

 private:
  void Loop();

  const LoadProgress& progress_;
  const std::vector<pid_t> roots_;
  const std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<CpuSample> samples_;
  std::thread thread_;
};

}  // namespace bench
