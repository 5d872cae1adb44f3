// Figures of a run, medians over rounds, and their rendering: a readable
// table, Markdown, CSV and JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness/load_generator.h"

namespace bench {

struct Summary {
  std::string system;
  std::string workload;  // "set P=16" ...
  int connections = 0;
  int pipeline = 0;
  double target_rate = 0;  // open loop; 0 = closed loop
  double rps = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
  uint64_t ok = 0;         // measured operations answered without error
  uint64_t errors = 0;     // error replies and failures, warm-up included
  std::string error_kinds; // "WRONGTYPE=3 timeout=2"
  int rounds = 1;
  // The system's CPU (its whole process tree) per answered operation, warm-up
  // included (the CPU is too); 0: not measured.
  double cpu_us_per_op = 0;
  // A median's rounds, in round order (empty for a single run): compared
  // round by round with a baseline run in the same rounds.
  struct Round {
    double rps = 0, p99_us = 0, cpu_us_per_op = 0;
  };
  std::vector<Round> per_round;
};

Summary Summarize(const LoadResult& r);
// Field-wise median over rounds (errors are summed: none may hide).
Summary Median(const std::vector<Summary>& rounds);

// Human-readable report of one run, with a line per operation kind.
std::string FormatRun(const LoadResult& r, const std::string& title);

// What the run happened on.
struct MachineInfo {
  std::string date;       // UTC, ISO 8601
  std::string cpu;        // model name
  int cores = 0;
  std::string memory;     // "7.8 GiB"
  std::string kernel;
  std::string redis_version;
  std::string storage;    // filesystem of the temporary directories: "ext4 on /dev/vda"
  std::string load_before, load_after;  // /proc/loadavg, 1/5/15 min
  std::string Describe() const;
};
MachineInfo DescribeMachine(const std::string& redis_server, const std::string& tmp_root);
std::string LoadAverage();

struct CompareReport {
  MachineInfo machine;
  std::vector<Summary> rows;       // medians, grouped by workload in run order
  std::vector<std::string> notes;  // skipped systems etc.
  std::string settings;            // the flags that shaped the run
};

// Ratios are to the "redis" and "redis-aof" rows of the same workload, and in a
// "vs baseline" section (when there are base-* rows) to each row's baseline
// counterpart: BaselineName(system).
std::string FormatCompareTable(const CompareReport& c);
std::string FormatCompareMarkdown(const CompareReport& c);
std::string FormatCompareCsv(const CompareReport& c);
std::string FormatCompareJson(const CompareReport& c);

std::string FormatSummaryCsv(const std::vector<Summary>& rows);

// The baseline counterpart of a target: "anarcho-3-leader" -> "base-3-leader";
// empty for names without the "anarcho-" prefix.
std::string BaselineName(const std::string& system);

}  // namespace bench
