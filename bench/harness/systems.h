// The systems under test, started on this machine with temporary directories
// and loopback ports, and the small blocking client used to set them up.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio.hpp"
#include "asio/ssl.hpp"
#include "bench/harness/load_generator.h"
#include "bench/harness/workload.h"
#include "resp/value.h"

namespace bench {

// A blocking RESP client over TCP for setup work: readiness, preload, status.
class BlockingClient {
 public:
  BlockingClient() : socket_(io_) {}
  absl::Status Connect(const std::string& host, int port, double timeout_s = 10);
  // A Unix domain socket (a node's child redis-server listens on one).
  absl::Status ConnectUnix(const std::string& path, double timeout_s = 10);
  absl::StatusOr<resp::Value> Call(const std::vector<std::string>& args);
  // Sends `count` requests already encoded as RESP; returns how many replies were errors
  // and the first error's text in *first_error.
  absl::StatusOr<uint64_t> Pipeline(std::string_view requests, size_t count, std::string* first_error);

 private:
  absl::StatusOr<resp::Value> ReadReply();

  asio::io_context io_;
  asio::generic::stream_protocol::socket socket_;
  std::string in_;
  int timeout_ms_ = 10000;  // for each reply
};

// A loopback port that was free a moment ago (never 6379), with the next
// `span - 1` ports free as well.
int PickFreePort(int span = 1);
// `base` if it and the next `span - 1` ports are free, else 0.
int PickFreePortAt(int base, int span);

// Waits until host:port accepts a connection and answers PING with PONG.
absl::Status WaitReady(const std::string& host, int port, double timeout_s);

// Waits until ANARCHO.STATUS reports role leader (and state serving, when the
// node reports a state); a server without ANARCHO.STATUS counts as serving.
absl::Status WaitServing(const std::string& host, int port, double timeout_s);

// The flat map `ANARCHO.STATUS` returns, as strings.
absl::StatusOr<std::map<std::string, std::string>> AnarchoStatus(const std::string& host, int port);

// Fills the keys the workload reads (string keys for GET, lists for LRANGE),
// so reads do not all hit missing keys.
absl::Status Preload(const std::string& host, int port, const WorkloadSpec& workload);

// One endpoint to load: a system, or one node of a cluster.
struct Target {
  std::string name;         // short label used in tables: redis, redis-aof, anarcho-1, ...
  std::string description;  // what it is, for the report
  std::string host = "127.0.0.1";
  int port = 0;
  // The system's processes, whose CPU is its cost: `pid` (spawned by this
  // harness) and every process with an argument under `cluster_dir` (the
  // nodes of a cluster started with `anarcho-admin cluster start --dir`), each
  // with all its descendants (a node's redis-server, a BGSAVE fork).
  pid_t pid = 0;
  std::string cluster_dir;
  // A TLS target: the load goes to tls_port with this client context (a
  // client certificate, the CA); setup (readiness, preload) stays on `port`.
  int tls_port = 0;
  std::shared_ptr<asio::ssl::context> tls;
};

// Points a load at a target: its port, or its TLS port with its context.
void Aim(const Target& t, LoadOptions& o);

// The root processes of a target's system now (see Target).
std::vector<pid_t> SystemRoots(const Target& t);

struct SystemsConfig {
  std::string redis_server = "redis-server";
  std::string anarchoredis;   // node binary; empty: <build dir>/node/anarchoredis or PATH
  std::string anarcho_admin;  // admin tool; empty: <build dir>/tools/anarcho-admin or PATH
  std::string baseline_anarchoredis;  // node binary of anarcho-base and cluster-base
  // redis-tls and cluster-tls: a directory with ca.crt, server.crt/.key (the
  // servers') and client.crt/.key (the load's); empty: the source tree's
  // test certificates.
  std::string tls_certs;
  std::vector<std::string> node_args;  // extra flags for every cluster node (anarcho-admin --node_args)
  std::string tmp_root;       // parent of the temporary directory; empty: $TMPDIR or /tmp
  bool keep_tmp = false;
  double ready_timeout_s = 60;
};

// System names accepted by Start(): "redis" (no persistence), "redis-aof"
// (appendfsync always), "anarcho" (one node, target anarcho-1), "cluster"
// (three nodes: targets anarcho-3-leader and anarcho-3-follower), and the same
// two from the baseline binary: "anarcho-base" (base-1) and "cluster-base"
// (base-3-leader, base-3-follower). A target's baseline counterpart is its
// name with "anarcho-" replaced by "base-". With TLS for clients (and, in the
// cluster, on the Raft links and followers' hop to the leader): "redis-tls"
// and "cluster-tls" (targets anarcho-3-leader-tls, anarcho-3-follower-tls),
// compared with redis-tls.
class Systems {
 public:
  explicit Systems(SystemsConfig cfg) : cfg_(std::move(cfg)) {}
  ~Systems() { Stop(); }
  Systems(const Systems&) = delete;
  Systems& operator=(const Systems&) = delete;

  // Starts every named system; one that cannot start is skipped with a note,
  // the others still run. Fails only if the temporary directory cannot be made.
  absl::Status Start(const std::vector<std::string>& names);
  // Stops everything this object started and removes the temporary directory.
  void Stop();

  const std::vector<Target>& targets() const { return targets_; }
  const std::vector<std::string>& notes() const { return notes_; }
  const std::string& tmp_dir() const { return tmp_dir_; }

 private:
  absl::Status StartRedis(const std::string& name, bool aof, bool tls = false);
  // One node of `bin`, as target `label`.
  absl::Status StartAnarcho(const std::string& bin, const std::string& label);
  // Three nodes of `node_bin` in <tmp>/<dir_name>, as targets <label>-leader
  // and <label>-follower.
  absl::Status StartCluster(const std::string& node_bin, const std::string& label, const std::string& dir_name,
                            bool tls = false);
  absl::Status WaitClusterTargets(const std::string& dir, const std::string& log, int base, const std::string& label,
                                  const std::string& node_bin, bool tls);
  // The certificates' directory and the load's client context (made once).
  absl::StatusOr<std::string> TlsCerts();
  std::shared_ptr<asio::ssl::context> client_tls_;
  std::string Admin() const;

  struct Proc {
    pid_t pid;
    std::string name;
  };
  SystemsConfig cfg_;
  std::string tmp_dir_;
  std::vector<Proc> procs_;
  std::vector<std::string> cluster_dirs_;  // clusters running (stopped through anarcho-admin)
  std::vector<Target> targets_;
  std::vector<std::string> notes_;
};

// Finds an executable: `flag` if given, else <build dir>/<rel>, else `name` on PATH.
// Empty if none exists.
std::string FindBinary(const std::string& flag, const std::string& rel, const std::string& name);

// Runs argv to completion (output to log_path); the exit code, or an error on
// spawn failure or timeout (the process is then killed).
absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv, const std::string& log_path,
                               double timeout_s);

// Starts argv in the background, output to log_path. The child gets SIGTERM if
// this process dies.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path);
// SIGTERM, then SIGKILL after timeout_s; reaps the process.
void Terminate(pid_t pid, double timeout_s = 10);

// Kills every process Spawn() started that is still running, and the nodes of
// the clusters Systems started (by their pidfiles): for signal handlers.
void KillAllSpawned();

}  // namespace bench
