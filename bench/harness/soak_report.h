// What a soak's samples say: memory and disk against their expected bounds,
// the throughput dip while snapshots are taken, the restart; rendered as
// soak.csv (one row per node per sample), soak.md, and soak.dat/soak.gp for
// gnuplot (soak.png).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness/report.h"
#include "bench/harness/soak.h"

namespace bench {

// Interval throughput (each sample after the first) split by whether a
// snapshot finished in the interval: snapshots_taken grew on the sample's
// leader (leader_only) or on any node.
struct SnapshotDip {
  int snapshot_intervals = 0, other_intervals = 0;
  double snapshot_mean = 0, other_mean = 0;  // ops/s
  double dip = 0;                            // 1 - snapshot_mean / other_mean
};
SnapshotDip ComputeSnapshotDip(const std::vector<SoakSample>& samples, bool leader_only);

// Resident memory of a node (the node process plus its redis-server) in the
// samples after its first snapshot, against 2 x used_memory + 256 MiB.
struct NodeMemory {
  int id = 0;
  int samples = 0;                    // samples after the node's first snapshot
  uint64_t max_total = 0;             // max node RSS + child RSS among them
  uint64_t used_memory_at_max = 0, bound_at_max = 0;
  double worst_ratio = 0;             // max over those samples of total / bound
  uint64_t max_node_rss = 0, max_child_rss = 0, max_used_memory = 0;  // over all samples
  uint64_t node_rss_first = 0, node_rss_last = 0;   // first and last sample after the first snapshot
  uint64_t child_rss_first = 0, child_rss_last = 0;
  // Least-squares slope of RSS over the second half of the soak, MiB per
  // minute: near 0 for memory that levelled off, steady growth for a leak.
  double node_rss_trend = 0, child_rss_trend = 0;
};
// Least-squares slope of y over x (0 with fewer than two points).
double Slope(const std::vector<double>& x, const std::vector<double>& y);
std::vector<NodeMemory> MemoryChecks(const std::vector<SoakSample>& samples);
constexpr uint64_t kMemorySlack = 256ULL << 20;

// Disk under a node's --dir against 3 x the largest RDB (the newest snapshot,
// the previous one kept as fallback, one being written) + the log the node
// keeps by design: back to the previous snapshot or `keep_entries` entries,
// whichever is more, plus up to snapshot_log_bytes since the newest, i.e.
// max(S, keep_entries x E) + S with S = snapshot_log_bytes and E the mean
// entry size, S / (median index distance between consecutive snapshots).
struct NodeDisk {
  int id = 0;
  uint64_t max_disk = 0, max_log = 0, max_snapshots = 0, last_disk = 0, last_log = 0;
  uint64_t max_rdb = 0;        // largest snapshot_bytes seen
  double mean_entry_bytes = 0; // E; 0 when fewer than two snapshots were seen
  uint64_t kept_tail = 0, bound = 0;
  uint64_t first_log_first_index = 0, last_log_first_index = 0;
  uint64_t snapshots_taken = 0;
};
std::vector<NodeDisk> DiskChecks(const std::vector<SoakSample>& samples, uint64_t snapshot_log_bytes,
                                 uint64_t keep_entries);

// What shaped the soak, for the report.
struct SoakSettings {
  SoakOptions options;
  std::vector<std::string> node_args;
  uint64_t snapshot_log_bytes = 64ULL << 20;  // effective values (node defaults unless node_args set them)
  uint64_t keep_entries = 10000;
  std::string node_bin;
  MachineInfo machine;
};
// The value of --name=V or --name V in args, else `fallback`.
uint64_t FlagValue(const std::vector<std::string>& args, const std::string& name, uint64_t fallback);

std::string FormatSoakCsv(const SoakResult& r);
std::string FormatSoakMarkdown(const SoakResult& r, const SoakSettings& s);
// soak.dat: one block per node (t, RSS, disk in MiB), then throughput; soak.gp draws soak.png from it.
std::string SoakPlotData(const SoakResult& r);
std::string SoakPlotScript(const SoakResult& r, const std::string& title);

}  // namespace bench
