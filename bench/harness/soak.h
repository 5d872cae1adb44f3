// anarcho-bench soak: sustained pipelined SET on a three-node cluster, with
// each node's memory, disk and log/snapshot progress sampled at a fixed
// interval, then one follower restarted and timed.
//
// The load runs as one RunLoad in a thread for the whole soak (its
// connections stay open; no gaps between slices) and publishes its completed
// count through LoadProgress; the sampler reads it every interval, and prints
// a line per sample (with the time left of the load, if `progress`). The
// load's per-second rows (LoadResult::per_second) get the cluster's CPU per
// second if `cpu_per_second` (a RunWatcher beside it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/harness/load_generator.h"
#include "bench/harness/systems.h"

namespace bench {

// One node of a cluster started by `anarcho-admin cluster start --dir D`: its
// id and client port (D/cluster.conf) and its --dir, D/n<id>.
struct ClusterNode {
  int id = 0;
  int port = 0;
  std::string dir;
};
absl::StatusOr<std::vector<ClusterNode>> ReadClusterNodes(const std::string& cluster_dir);

// Recursive sum of the sizes of the regular files under `dir` (0 if missing).
uint64_t DirBytes(const std::string& dir);

struct NodeSample {
  int id = 0;
  bool answered = false;  // ANARCHO.STATUS answered
  std::string role;
  pid_t pid = 0, child_pid = 0;
  uint64_t node_rss = 0, child_rss = 0;  // VmRSS, bytes
  uint64_t used_memory = 0;              // the child's INFO memory, asked on its own socket
  uint64_t disk = 0;                     // every file under the node's --dir
  uint64_t disk_log = 0, disk_snapshots = 0;  // of which in log/ (RocksDB) and snapshots/
  uint64_t snapshot_index = 0, snapshot_bytes = 0, snapshots_taken = 0;
  uint64_t log_first_index = 0, last_index = 0, applied_index = 0, commit_index = 0;
};
NodeSample SampleNode(const ClusterNode& n);

struct SoakSample {
  double t_s = 0;                // since the load started
  double ops_per_s = 0;          // operations completed over the interval ending here
  uint64_t ops = 0, errors = 0;  // totals so far
  double load1 = 0;              // the machine's 1-minute load average
  std::vector<NodeSample> nodes;
};

// The RDB load of a restarted node's child, as its redis.log tells it:
// "MASTER <-> REPLICA sync: Loading DB in memory" to "Done loading RDB, keys
// loaded: N" (a full sync), or "DB loaded from disk: S seconds" (a file).
struct RdbLoad {
  bool found = false;
  double seconds = 0;
  uint64_t keys = 0;
};
RdbLoad ParseRdbLoad(std::string_view redis_log);

struct RestartResult {
  bool ok = false;
  std::string error;
  int node = 0;
  pid_t pid = 0;              // the restarted node: this process's child now
  double stop_s = 0;          // SIGTERM until the node and its redis-server are gone
  double answer_s = 0;        // start until ANARCHO.STATUS answers
  double caught_up_s = 0;     // start until applied_index >= target_index and GET answers
  uint64_t target_index = 0;  // the leader's commit index when the node was started
  RdbLoad rdb;
  std::string node_log;       // the node's log lines written by the restart
};

// A running node: its pid (from its pidfile), its redis-server's pid, its
// command line (to start it again exactly as it was), and the sizes of its
// node.log and child/redis.log then (what a restart logs comes after).
struct NodeProcess {
  pid_t pid = 0, child_pid = 0;
  std::vector<std::string> argv;
  uint64_t node_log_from = 0, child_log_from = 0;
};
absl::StatusOr<NodeProcess> FindNodeProcess(const ClusterNode& n);

// Sends `sig` to the node, then waits until it and its redis-server are gone
// (SIGKILL after `timeout_s`); the seconds it took.
double StopNode(const NodeProcess& p, int sig, double timeout_s);

// Starts the stopped node `p` of `n` again with its command line (a child of
// this process now: r->pid) and times its catch-up with the leader's commit
// index at that moment: fills *r from target_index on (not node, stop_s).
void StartNodeAgain(const ClusterNode& n, const NodeProcess& p, const ClusterNode& leader, double timeout_s,
                    RestartResult* r);

// Stops node `n` (SIGTERM, waits until it and its redis-server are gone),
// starts it again with the command line it had, and times its catch-up with
// the leader's commit index at that moment.
RestartResult RestartNode(const ClusterNode& n, const ClusterNode& leader, double timeout_s);

struct SoakOptions {
  double seconds = 600;
  double interval_s = 5;
  uint64_t keyspace = 1000000;
  int value_size = 64;
  bool random_values = true;  // incompressible, so RDB and log sizes are honest
  int pipeline = 16;
  int connections = 50;
  bool preload = true;
  uint64_t seed = 1;
  double restart_timeout_s = 300;
  bool progress = true;         // "120/600 s ETA 8m00s" on each sample's line
  bool cpu_per_second = false;  // the cluster's CPU in load.per_second
};

struct SoakResult {
  std::vector<ClusterNode> nodes;
  std::vector<SoakSample> samples;  // the first at t = 0, before any load
  LoadResult load;
  double preload_s = 0;
  double cpu_us_per_op = 0;  // the cluster's process tree, over the load
  RestartResult restart;
  std::vector<std::string> node_args;  // a node's flags beyond anarcho-admin's own (from its command line)
  std::vector<std::string> notes;
};

// Runs the soak against the cluster of `leader` (a Systems target with a
// cluster_dir): preload, load + samples, then a follower restart.
SoakResult RunSoak(const SoakOptions& o, const Target& leader);

}  // namespace bench
