#include "bench/harness/flags.h"

#include <algorithm>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "run: server host.");
ABSL_FLAG(int, port, 0, "run: server port.");
ABSL_FLAG(std::string, workload, "mixed",
          "run: command mix: a preset (set, get, incr, lpush, lrange, hset, zadd, multi, setget, mixed) or "
          "op=weight,... (mixed = get=50,set=20,incr=5,lpush=5,lrange=5,hset=5,zadd=5,multi=5; multi is "
          "MULTI SET INCR EXEC as one operation).");
ABSL_FLAG(int, connections, 50, "Client connections.");
ABSL_FLAG(int, pipeline, 0, "run/soak: operations per batch in closed loop (a batch is written, then all its replies "
                            "read); 0: 1 for run, 16 for soak.");
ABSL_FLAG(double, rate, 0, "run: open loop at this many operations per second in total (latency from the intended "
                           "send time); 0 = closed loop, as fast as possible.");
ABSL_FLAG(uint64_t, keyspace, 0, "Number of distinct keys per data type; 0: 10000 (1000000 for soak).");
ABSL_FLAG(double, zipf, 0, "Key choice: 0 = uniform, > 0 = Zipfian with this exponent (0.99 is YCSB's).");
ABSL_FLAG(int, value_size, 64, "Value size in bytes.");
ABSL_FLAG(std::string, values, "",
          "Values written: constant (all 'v': RDB and RocksDB compress them to almost nothing) or random (no two "
          "alike, incompressible); empty: constant for run/compare/curve, random for soak.");
ABSL_FLAG(double, duration, 3, "Measured seconds per run (after the warm-up).");
ABSL_FLAG(uint64_t, requests, 0, "If > 0, measure this many operations instead of --duration.");
ABSL_FLAG(double, warmup, 1, "Warm-up seconds per run, excluded from the figures.");
ABSL_FLAG(bool, preload, true, "Fill the keys that reads touch before measuring.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(std::string, format, "table", "Output on stdout: table, csv or json (markdown for compare).");
ABSL_FLAG(bool, progress, true,
          "run/compare/curve/soak/failover: progress on stderr: run k of n, elapsed time, ETA (from the warm-up + "
          "duration planned for the runs left, plus the overhead per run measured so far); redrawn in place when "
          "stderr is a terminal, one line per run otherwise (soak: on its line per sample).");
ABSL_FLAG(std::string, timeseries, "",
          "run/soak: also write the run second by second to this CSV, and plot it beside (.png, script .gp): "
          "t_s,ops,errors,p50_us,p99_us,max_us,server_cpu_pct = operations answered, errors, latency of the "
          "operations answered in each second since the load started (warm-up and drain included), and the CPU of "
          "the server's processes in it (100 = one core; run: the processes listening on --port, if --host is this "
          "machine; soak: the cluster). plot: the CSV to plot.");
ABSL_FLAG(std::string, timeseries_dir, "",
          "compare/curve: write such a CSV and plot per system, workload and round (curve: per point) in this "
          "directory.");
ABSL_FLAG(std::string, out, "", "plot: the PNG to write (default: the --timeseries CSV's path with .png).");

ABSL_FLAG(std::string, systems, "redis,redis-aof,anarcho,cluster",
          "compare/curve: systems to start: redis (--save \"\" --appendonly no), redis-aof (--appendonly yes "
          "--appendfsync always), anarcho (one node), cluster (three nodes, loaded through leader and follower), "
          "anarcho-base and cluster-base (the same from --baseline_anarchoredis); redis-tls and cluster-tls "
          "(clients over TLS; the cluster's Raft links and forwarding too), compared with each other.");
ABSL_FLAG(std::string, workloads, "set@1,set@16,get@1,get@16,mixed@16",
          "compare: workloads as mix@pipeline, comma separated (connect@1: each GET on a new connection, "
          "what a connection costs; with TLS, its handshake).");
ABSL_FLAG(int, rounds, 2, "compare: rounds; each round runs every workload on every system, round robin; the "
                          "median over rounds is reported.");
ABSL_FLAG(std::string, out_dir, "",
          "compare/curve: also write latest.md, compare.csv, compare.json (and curve.*) here; soak: soak.*; "
          "failover: failover.md, failover.csv.");
ABSL_FLAG(bool, curve, false, "compare: also measure the latency-versus-throughput curve and plot it.");
ABSL_FLAG(std::string, curve_workload, "set", "curve: the workload of the open-loop runs.");
ABSL_FLAG(std::string, curve_fractions, "0.1,0.25,0.5,0.7,0.85,1.0,1.15",
          "curve: open-loop rates, as fractions of each system's closed-loop throughput.");
ABSL_FLAG(int, curve_probe_pipeline, 4, "curve: pipeline depth of the closed-loop run that finds each system's peak.");
ABSL_FLAG(double, curve_duration, 2, "curve: measured seconds per point.");
ABSL_FLAG(std::string, redis_server, "redis-server", "The redis-server binary.");
ABSL_FLAG(std::string, redis_benchmark, "redis-benchmark", "calibrate: the redis-benchmark binary.");
ABSL_FLAG(std::string, anarchoredis, "", "The anarchoredis binary (default: <build dir>/node/anarchoredis, then PATH).");
ABSL_FLAG(std::string, anarcho_admin, "", "The anarcho-admin binary (default: <build dir>/tools/anarcho-admin, then PATH).");
ABSL_FLAG(std::string, baseline_anarchoredis, "",
          "compare/curve: the node binary of the anarcho-base and cluster-base systems (targets base-1, "
          "base-3-leader, base-3-follower), compared in the same run with the current one (\"vs baseline\").");
ABSL_FLAG(std::string, tls_certs, "",
          "compare/curve: redis-tls and cluster-tls's certificates: a directory with ca.crt, server.crt, "
          "server.key, client.crt, client.key (default: the source tree's test certificates).");
ABSL_FLAG(std::string, node_args, "",
          "Extra flags for every node of the clusters (anarcho-admin --node_args), comma separated, e.g. "
          "--node_args=--snapshot_log_bytes=16000000,--snapshot_keep_entries=1000.");
ABSL_FLAG(double, soak_seconds, 600, "soak: seconds of sustained load.");
ABSL_FLAG(double, soak_interval, 5, "soak: seconds between samples.");
ABSL_FLAG(bool, soak_preload, true, "soak: SET every key once before the soak, so used_memory is flat during it.");
ABSL_FLAG(double, soak_restart_timeout, 300, "soak: how long the restarted follower may take to catch up.");
ABSL_FLAG(std::string, failover_kinds, "handover,kill",
          "failover: what happens to the leader: handover (SIGTERM: it drains, hands its leadership over and exits), "
          "kill (SIGKILL: the others elect a leader), comma separated.");
ABSL_FLAG(int, failover_trials, 5, "failover: trials of each kind.");
ABSL_FLAG(std::string, tmp_dir, "", "Parent of the temporary directories (default $TMPDIR or /tmp).");
ABSL_FLAG(bool, keep_tmp, false, "Keep the temporary directories (server logs) after the run.");


namespace bench {

uint64_t Keyspace(uint64_t mode_default) {
  uint64_t k = absl::GetFlag(FLAGS_keyspace);
  return k > 0 ? k : mode_default;
}

bool RandomValues(bool mode_default) {
  const std::string v = absl::GetFlag(FLAGS_values);
  return v.empty() ? mode_default : v == "random";
}

absl::StatusOr<WorkloadSpec> WorkloadFromFlags(const std::string& mix) {
  auto w = ParseWorkload(mix);
  if (!w.ok()) return w;
  w->keyspace = Keyspace(10000);
  w->zipf = absl::GetFlag(FLAGS_zipf);
  w->value_size = absl::GetFlag(FLAGS_value_size);
  w->random_values = RandomValues(false);
  return w;
}

LoadOptions OptionsFromFlags() {
  LoadOptions o;
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.connections = std::max(absl::GetFlag(FLAGS_connections), 1);
  o.pipeline = std::max(absl::GetFlag(FLAGS_pipeline), 1);
  o.rate = absl::GetFlag(FLAGS_rate);
  o.duration_s = absl::GetFlag(FLAGS_duration);
  o.requests = absl::GetFlag(FLAGS_requests);
  o.warmup_s = absl::GetFlag(FLAGS_warmup);
  o.seed = absl::GetFlag(FLAGS_seed);
  return o;
}

SystemsConfig SystemsFromFlags() {
  SystemsConfig c;
  c.redis_server = absl::GetFlag(FLAGS_redis_server);
  c.anarchoredis = absl::GetFlag(FLAGS_anarchoredis);
  c.anarcho_admin = absl::GetFlag(FLAGS_anarcho_admin);
  c.baseline_anarchoredis = absl::GetFlag(FLAGS_baseline_anarchoredis);
  c.node_args = absl::StrSplit(absl::GetFlag(FLAGS_node_args), ',', absl::SkipEmpty());
  c.tmp_root = absl::GetFlag(FLAGS_tmp_dir);
  c.keep_tmp = absl::GetFlag(FLAGS_keep_tmp);
  c.tls_certs = absl::GetFlag(FLAGS_tls_certs);
  return c;
}

}  // namespace bench
