// A run second by second: the operations answered, the errors and the latency
// percentiles of each second since the load started (the load generator folds
// its replies in as they arrive, so every operation lands in exactly one
// second), the CPU the server's processes used in each second (sampled beside
// the run), the CSV they are written as (--timeseries), and the gnuplot
// script that draws it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/harness/histogram.h"

namespace bench {

struct SecondRow {
  int64_t second = 0;   // the row covers [second, second + 1) s after the load started; the last may end early
  uint64_t ops = 0;     // operations answered in it, error replies included, warm-up included
  uint64_t errors = 0;  // error replies and failures in it
  int64_t p50_ns = 0, p99_ns = 0, max_ns = 0;  // of its operations answered without error; 0 if none
  double cpu_pct = -1;  // CPU of the server's process tree in it (100 = one core); < 0: not measured
};

// Folds a run's events, in time order, into one row per second: every second
// from the start to the end gets its row, empty or not. An event stamped
// before the current second (clocks read a little apart) counts in the current
// one; events before Start() count in second 0.
class PerSecond {
 public:
  void Start(int64_t start_ns);
  void Answered(int64_t now_ns, bool ok, int64_t latency_ns);
  void Errors(int64_t now_ns, uint64_t n);
  // Closes the rows up to and including the second of `end_ns`; returns them all.
  std::vector<SecondRow> Finish(int64_t end_ns);

 private:
  void Advance(int64_t now_ns);  // closes the seconds before the one of `now_ns`
  void Close();                  // appends the current row and starts the next

  int64_t next_ns_ = INT64_MAX;  // where the current second ends; never, before Start()
  SecondRow current_;
  LatencyHistogram latency_;  // of the current second
  std::vector<SecondRow> rows_;
};

// The server's cumulative CPU seconds at t_s seconds after the load started.
struct CpuSample {
  double t_s = 0;
  double cpu_s = 0;
};
// Sets the cpu_pct of every row the samples cover (the first sample no later
// than 0.1 s into it, the last no earlier than 0.1 s before its end), from
// the CPU interpolated linearly between samples at its start and end.
void AttachCpu(const std::vector<CpuSample>& samples, std::vector<SecondRow>* rows);

// t_s,ops,errors,p50_us,p99_us,max_us,server_cpu_pct: one line per row,
// server_cpu_pct empty where not measured.
std::string FormatTimeSeriesCsv(const std::vector<SecondRow>& rows);
absl::StatusOr<std::vector<SecondRow>> ParseTimeSeriesCsv(const std::string& text);

// A gnuplot script that draws `csv` into `png` (paths as gnuplot should open
// them): operations per second, and the server's CPU if `with_cpu`, over
// p50/p99/max latency. The title may hold line breaks.
std::string TimeSeriesPlotScript(const std::string& csv, const std::string& png, const std::string& title,
                                 bool with_cpu);

}  // namespace bench
