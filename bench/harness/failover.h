// anarcho-bench failover: how long writes stall on a three-node cluster when
// its leader goes away, over several trials of each kind:
//   handover  SIGTERM: the leader answers its clients' requests in flight,
//             hands its leadership to the most caught-up voter and exits;
//   kill      SIGKILL: the others elect a leader after an election timeout.
//
// A trial: a writer (one connection, one SET at a time, a new key each time)
// through a follower, which survives; after `before_s` the leader gets the
// signal; the writer goes on until writes have resumed for `after_s`. Every
// acknowledged key is then read back through the new leader (a missing one is
// a lost write), and the stopped node is started again with its own command
// line and waited for until it has caught up, for the next trial.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/harness/progress.h"

namespace bench {

// One write: when it was sent and when its reply (or failure) came, in
// seconds on one clock, and whether it was acknowledged (+OK).
struct WriteRecord {
  double start_s = 0;
  double end_s = 0;
  bool ok = false;
};

struct StallFigures {
  bool resumed = false;  // a write sent after the signal was acknowledged
  // The longest gap between consecutive acknowledgements from the last one
  // before the signal (or the signal, if none) to the last one, and when it
  // ended, from the signal.
  double stall_s = 0;
  double stall_end_s = 0;
  // From the signal to the acknowledgement of the first write sent after it.
  double first_write_s = 0;
  // The longest gap between consecutive acknowledgements before the signal:
  // what the machine's noise alone does.
  double quiet_gap_s = 0;
};
StallFigures ComputeStall(const std::vector<WriteRecord>& writes, double signal_s);

// The q-quantile (0..1) of `v`, interpolated between the closest ranks (the
// median of an even count is the mean of the middle two); 0 if empty.
double Percentile(std::vector<double> v, double q);

struct FailoverTrial {
  std::string kind;  // handover or kill
  int trial = 0;     // 1, 2, ... within its kind
  int old_leader = 0, new_leader = 0, writer_node = 0;  // node ids
  StallFigures stall;
  uint64_t writes = 0, acked = 0, errors = 0, lost = 0;
  std::string error_kinds;  // "TRYAGAIN=2 UNKNOWN=1"
  double exit_s = 0;        // from the signal until the old leader and its redis-server were gone
  double rejoin_s = 0;      // from its restart until it had caught up
  std::string failure;      // why the trial failed (writes never resumed, ...); empty if it did not
};

struct FailoverSummary {
  std::string kind;
  int trials = 0;
  int failed = 0;  // trials with a failure: not in the figures below
  double median_stall_ms = 0, p90_stall_ms = 0, max_stall_ms = 0, median_first_write_ms = 0;
  uint64_t errors = 0, lost = 0;  // over all trials
};
// One summary per kind, in the order the kinds first appear.
std::vector<FailoverSummary> SummarizeFailover(const std::vector<FailoverTrial>& trials);

std::string FormatFailoverTable(const std::vector<FailoverSummary>& s);
std::string FormatFailoverCsv(const std::vector<FailoverTrial>& trials);
// `header`: what ran where (machine, settings), as Markdown paragraphs.
std::string FormatFailoverMarkdown(const std::vector<FailoverTrial>& trials, const std::string& header);

struct FailoverOptions {
  std::vector<std::string> kinds = {"handover", "kill"};
  int trials = 5;
  double before_s = 1;            // writes before the signal
  double after_s = 1;             // writes after the first one acknowledged after the signal
  double resume_timeout_s = 30;   // a trial fails if writes have not resumed by then
  double rejoin_timeout_s = 120;  // how long the restarted node may take to catch up
};

// Every trial, kind after kind, on the cluster started in `cluster_dir` by
// `anarcho-admin cluster start`. The nodes it restarted are its children; it
// stops them at the end (the others are `anarcho-admin cluster stop`'s).
// Stops early, after the trial that failed, if the cluster is not whole again
// (no serving leader with the others following, or the node did not rejoin).
absl::StatusOr<std::vector<FailoverTrial>> RunFailover(const FailoverOptions& o, const std::string& cluster_dir,
                                                       Progress& progress);

}  // namespace bench
