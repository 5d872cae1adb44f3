// anarchoredis: strongly consistent, durable Redis. This is the node binary.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <tuple>

#include <systemd/sd-daemon.h>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asio.hpp"
#include "node/cli.h"
#include "node/cluster/backup.h"
#include "node/logging.h"
#include "node/server.h"
#include "node/tls.h"
#include "storage/log_store.h"

ABSL_FLAG(std::string, config, "",
          "Read settings from FILE: one 'name value' per line (names as the flags, with dashes or underscores; "
          "each at most once; '#' at a line's start or after a blank starts a comment). Flags given on the command "
          "line win.");
ABSL_FLAG(std::string, bind, "127.0.0.1", "Address to serve Redis clients on.");
ABSL_FLAG(int, port, 6380, "Port to serve Redis clients on.");
ABSL_FLAG(int, tls_port, 0, "Port to serve Redis clients on with TLS, as Redis's tls-port; 0: none.");
ABSL_FLAG(std::string, tls_cert_file, "", "The TLS port's certificate (PEM, may hold its chain).");
ABSL_FLAG(std::string, tls_key_file, "", "The TLS port's private key (PEM).");
ABSL_FLAG(std::string, tls_ca_cert_file, "", "CA certificates (PEM) that clients' certificates must chain to.");
ABSL_FLAG(std::string, tls_ca_cert_dir, "", "A directory of CA certificates (OpenSSL's hashed layout).");
ABSL_FLAG(std::string, tls_auth_clients, "yes",
          "As Redis: yes (clients must show a certificate), optional (checked if shown) or no.");
ABSL_FLAG(std::string, tls_protocols, "", "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\" (the default).");
ABSL_FLAG(std::string, tls_ciphers, "", "OpenSSL cipher list for TLSv1.2 and below.");
ABSL_FLAG(std::string, tls_ciphersuites, "", "OpenSSL ciphersuites for TLSv1.3.");
ABSL_FLAG(bool, tls_peers, false,
          "Raft links with mutual TLS too (as Redis's tls-cluster and tls-replication): the same certificate, "
          "key and CA files; every peer must show a certificate the CA signed. Followers then forward clients' "
          "requests to the leader's TLS port (needs --tls_port on every node). Node ids are proven by "
          "--cluster_secret_file, which a non-loopback Raft port still needs.");
ABSL_FLAG(std::string, dir, "", "Directory for all of the node's state (log, child). Required.");
ABSL_FLAG(std::string, redis_server, "redis-server", "The redis-server binary to run as the child.");
ABSL_FLAG(int, databases, 16, "Number of logical databases (SELECT 0..N-1).");
ABSL_FLAG(int64_t, proto_max_bulk_len, 512LL * 1024 * 1024,
          "Largest bulk string a client may send, in bytes (as Redis's proto-max-bulk-len).");
ABSL_FLAG(int64_t, max_multibulk_len, INT_MAX, "Largest number of arguments in one request (Redis 7.0 takes up to INT_MAX).");
ABSL_FLAG(int, maxclients, 10000,
          "Largest number of client connections; lowered at start to what the open-file limit allows (two "
          "descriptors a client and 64 for the node), after raising the soft limit up to the hard one.");
ABSL_FLAG(uint64_t, id, 1, "This node's id in the cluster (non-zero).");
ABSL_FLAG(int, raft_port, 0, "Port for Raft messages from peers (0: single node, no peers).");
ABSL_FLAG(std::string, peers, "",
          "Every member as id=host:client_port:raft_port, comma separated, this node included "
          "(empty: a single-node cluster).");
ABSL_FLAG(std::string, peer_addresses, "",
          "Where this node reaches nodes that may be added later, as id=host:client_port:raft_port, "
          "comma separated; used instead of the address their ANARCHO.ADD gives.");
ABSL_FLAG(bool, join, false,
          "Start with an empty log and wait to be added (ANARCHO.ADD) instead of bootstrapping a "
          "new cluster of --peers.");
ABSL_FLAG(std::string, cluster_secret_file, "",
          "File holding the cluster's shared secret (at least 16 bytes; anarcho-admin cluster start makes "
          "one): peers prove it to each other on every link, and never send it.");
ABSL_FLAG(std::string, cluster_id, "",
          "The cluster's id (any text up to 64 bytes). A new cluster stores it; a node that joins checks "
          "it. Empty: derived from the initial voters' ids at bootstrap, adopted from the cluster when "
          "joining.");
ABSL_FLAG(bool, insecure_peers, false,
          "Allow a Raft port on a non-loopback address without --cluster_secret_file: anyone who reaches "
          "it can then write to the log.");
ABSL_FLAG(int, tick_ms, 50, "Raft clock tick.");
ABSL_FLAG(int, election_ticks, 10, "Election timeout in ticks (randomized up to twice this).");
ABSL_FLAG(int, heartbeat_ticks, 1, "Leader heartbeat interval in ticks.");
ABSL_FLAG(bool, lease_reads, false,
          "Serve linearizable reads from the leader lease (bounded by the election timeout) "
          "instead of a ReadIndex heartbeat round.");
ABSL_FLAG(bool, follower_reads, true,
          "A follower serves reads from its own redis-server, still linearizable: it asks the leader "
          "for a read index (one round for all reads waiting) and reads once its redis-server applied "
          "that far. Off: a follower forwards reads to the leader, like writes.");
ABSL_FLAG(bool, shared_child_link, true,
          "The leader sends its clients' plain data commands (reads and writes of keys, outside "
          "MULTI, subscriptions and tracking, without ACL users) to its redis-server on one "
          "connection they share: one write and one read for the requests of many clients (CPU per "
          "request 0.64-0.92x). Off: each client's requests take its own connection to the "
          "redis-server (SLOWLOG then names every entry's client).");
ABSL_FLAG(bool, shared_relay, true,
          "A follower sends its clients' plain data commands that go to the leader (the same ones) on "
          "one connection to the leader's client port that they share. Off: each client's requests "
          "take its own connection to the leader.");
ABSL_FLAG(int, no_leader_wait_ms, 3000,
          "How long a client request waits for a leader before it gets a TRYAGAIN error.");
ABSL_FLAG(std::string, pidfile, "", "Write the node's pid to this file.");
ABSL_FLAG(std::string, loglevel, "info", "debug, info, warning or error (Redis's verbose and notice too).");
ABSL_FLAG(int, metrics_port, 0,
          "Serve Prometheus metrics (GET /metrics) on this port, on the --bind address; 0: no metrics endpoint.");
ABSL_FLAG(std::string, logfile, "",
          "Append the log to this file instead of stderr; SIGHUP reopens it (for log rotation).");
ABSL_FLAG(std::string, client_output_buffer_limit, "normal 0 0 0 pubsub 32mb 8mb 60",
          "As Redis's client-output-buffer-limit: per class, the hard limit, the soft limit and "
          "the seconds a client may stay above it; a client over the limit is disconnected.");
ABSL_FLAG(uint64_t, snapshot_log_bytes, 64ULL << 20,
          "Take a snapshot (and compact the log) once this many bytes of log were committed since "
          "the last one, and at least as many as the last snapshot holds, each time scaled by a factor "
          "between 3/4 and 1 drawn by this node (members do not all snapshot at once); 0: only with "
          "ANARCHO.SNAPSHOT.");
ABSL_FLAG(uint64_t, snapshot_keep_entries, 10000,
          "Entries kept below a snapshot when the log is compacted, for followers slightly behind (at most "
          "--snapshot_keep_bytes of them).");
ABSL_FLAG(uint64_t, snapshot_keep_bytes, 32ULL << 20,
          "Bytes of log kept below a snapshot when the log is compacted, for followers slightly behind; a "
          "follower further behind gets the snapshot.");
ABSL_FLAG(std::string, restore, "",
          "Start a new cluster from this RDB file: a backup written by `anarcho-admin backup` (with its "
          ".meta file beside it) or any redis-server's RDB. Every initial member is started with the same "
          "file, on an empty --dir.");
ABSL_FLAG(int, digest_interval_s, 0,
          "A leader logs a divergence check this often (seconds; 0: only with ANARCHO.DIGEST): every "
          "member compares its redis-server's DEBUG DIGEST, streams' consumer groups and function "
          "libraries at the same log index, and logs and counts a mismatch. Each check blocks every "
          "redis-server for about 6 us per key.");
ABSL_FLAG(int, busy_reply_threshold, 5000,
          "Redis's busy-reply-threshold at start (milliseconds a script runs before others get "
          "BUSY); CONFIG SET busy-reply-threshold changes it on every node.");
ABSL_FLAG(int, script_kill_after, 5000,
          "Milliseconds a script may keep the redis-server answering BUSY before the node stops "
          "it: a script that only read is killed, one that wrote is discarded by rebuilding the "
          "redis-server from the log.");
ABSL_FLAG(int, child_timeout, 30000,
          "Milliseconds the redis-server may answer nothing and not run (stopped, or hung waiting "
          "for something that never comes) before the node rebuilds it from the log, as after a "
          "crash; one that runs a long command is left to finish. 0: never.");
ABSL_FLAG(std::string, test_break_gate, "none",
          "Testing only, UNSAFE: switch off one rule of the consistency gate (ack-before-commit, "
          "no-confirmation, no-read-locks, no-marks, locks-at-queue, forget-gone-locks, "
          "keep-gone-clients) to prove "
          "the fault tests catch its violation. Never use it otherwise.");
ABSL_FLAG(bool, test_follower_reads_no_wait, false,
          "Testing only, UNSAFE: followers serve reads from their own redis-server without waiting for a "
          "read index (stale reads), to prove the fault tests catch them. Never use it otherwise.");
ABSL_FLAG(std::string, test_sync_gate, "",
          "Testing only: every log fsync waits while this file exists.");

namespace {

bool IsLoopback(const std::string& host) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

// The secret and cluster id the peer links prove (see cluster/peer_auth.h).
// A Raft port others can reach needs a secret, unless told otherwise.
bool ConfigurePeerSecurity(node::ReplicatedLogOptions& raft) {
  raft.cluster_id = absl::GetFlag(FLAGS_cluster_id);
  if (raft.cluster_id.size() > 64) {
    std::cerr << "anarchoredis: --cluster-id is longer than 64 bytes\n";
    return false;
  }
  if (const std::string file = absl::GetFlag(FLAGS_cluster_secret_file); !file.empty()) {
    auto secret = node::peer::ReadSecretFile(file);
    if (!secret.ok()) {
      std::cerr << "anarchoredis: --cluster-secret-file: " << secret.status().message() << "\n";
      return false;
    }
    raft.cluster_secret = std::move(*secret);
    return true;
  }
  const node::PeerAddress& self = raft.peers[raft.id];
  const bool has_peers = raft.peers.size() > 1 || self.raft_port > 0;
  // --tls_peers alone does not do: a certificate the CA signed (a client's
  // too) says nothing of which node its holder is, and the secret's
  // handshake is what proves node ids.
  if (has_peers && !IsLoopback(self.host) && !absl::GetFlag(FLAGS_insecure_peers)) {
    std::cerr << "anarchoredis: the Raft port listens on " << self.host
              << ", which is not a loopback address: give --cluster_secret_file (the same secret on every node; "
                 "--tls_peers encrypts the links but does not prove node ids), or --insecure_peers to run "
                 "without one\n";
    return false;
  }
  return true;
}

// The TLS settings, read now as the start will read them: a file that is
// missing or does not parse, a key that is not the certificate's, a protocol
// or cipher OpenSSL does not know, are configuration errors (exit status 2),
// found before the node touches its --dir. OpenSSL looks into a CA directory
// only when it verifies a certificate, so one that does not exist would pass
// silently and fail every client's handshake later.
bool TlsFilesUsable(const node::TlsOptions& tls) {
  if (tls.port == 0) return true;
  std::error_code ec;
  if (!tls.ca_cert_dir.empty() && !std::filesystem::is_directory(tls.ca_cert_dir, ec)) {
    std::cerr << "anarchoredis: --tls-ca-cert-dir " << tls.ca_cert_dir << " is not a directory\n";
    return false;
  }
  absl::Status s = node::MakeTlsServerContext(tls).status();
  if (s.ok() && tls.peers) s = node::MakeTlsPeerContext(tls).status();
  if (!s.ok()) {
    std::cerr << "anarchoredis: " << s.message() << "\n";
    return false;
  }
  return true;
}

// The files the node will write besides its --dir must be writable where they
// are named: a --dir that is a file, a --pidfile in a directory that does not
// exist (the pid file was then silently not written).
bool PathsUsable(const std::string& dir, const std::string& pidfile) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    std::cerr << "anarchoredis: --dir " << dir << " is not a directory\n";
    return false;
  }
  if (pidfile.empty()) return true;
  if (fs::is_directory(pidfile, ec)) {
    std::cerr << "anarchoredis: --pidfile " << pidfile << " is a directory\n";
    return false;
  }
  const fs::path parent = fs::absolute(pidfile, ec).parent_path();
  // (In the --dir a first start makes: the node creates it.)
  auto normal = [&](const fs::path& p) {
    fs::path n = fs::absolute(p, ec).lexically_normal();
    return n.has_filename() ? n : n.parent_path();  // ("n/" names n)
  };
  if (normal(parent) == normal(dir) && !fs::exists(dir, ec)) return true;
  if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0) {
    std::cerr << "anarchoredis: --pidfile " << pidfile << ": its directory " << parent.string()
              << " does not exist or cannot be written\n";
    return false;
  }
  return true;
}

// The pid of another process that holds the lock of this --dir's log (RocksDB
// locks DIR/log/LOCK with fcntl while it has the log open), or 0. Without
// this, a second node on a running node's --dir stopped with RocksDB's own
// "While lock file: ... Resource temporarily unavailable".
pid_t LogLockHolder(const std::string& dir) {
  const std::string lock = (std::filesystem::path(dir) / "log" / "LOCK").string();
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  const bool held = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return held ? fl.l_pid : 0;
}

// What a failed start was: the settings contradict themselves or the state in
// --dir (TLS files, a --restore into a --dir that holds other state, a
// --cluster-id not the stored one: their errors are InvalidArgument or
// FailedPrecondition), which no restart mends, is exit status 2, as systemd's
// unit (RestartPreventExitStatus=2) expects; anything else (a port in use, a
// --dir in use, a child that does not start, a full disk) may pass, and is 1.
int StartFailureStatus(const absl::Status& s) {
  return absl::IsInvalidArgument(s) || absl::IsFailedPrecondition(s) ? 2 : 1;
}

const node::cli::Program& Program() {
  static const node::cli::Program program{
      "anarchoredis",
      "a strongly consistent, durable Redis node",
      "  anarchoredis --dir DIR [--port 6380] [--id N --raft-port P --peers ID=IP:PORT:RAFT_PORT,...]\n"
      "  anarchoredis --config FILE\n"
      "Any Redis client can connect to --port; every acknowledged write is fsynced on a majority's log\n"
      "first. anarcho-admin starts local clusters and changes membership.\n",
      "node/anarchoredis.cc",
      {}};
  return program;
}

// The node's own settings from the flags; false (after saying why) if one is invalid.
bool ServerFlags(node::ServerOptions& options) {
  // Asio takes a port as 16 bits: 84537 would silently become 19001.
  for (const auto& [flag, value, min] : {std::tuple{"port", absl::GetFlag(FLAGS_port), 1},
                                         std::tuple{"raft-port", absl::GetFlag(FLAGS_raft_port), 0},
                                         std::tuple{"metrics-port", absl::GetFlag(FLAGS_metrics_port), 0}}) {
    if (value < min || value > 65535) {
      std::cerr << "anarchoredis: --" << flag << " " << value << " is not a port (" << min << "..65535)\n";
      return false;
    }
  }
  std::string error;
  options.bind = node::cli::ResolveHost(absl::GetFlag(FLAGS_bind), &error);
  if (options.bind.empty()) {
    std::cerr << "anarchoredis: --bind: " << error << "\n";
    return false;
  }
  options.port = absl::GetFlag(FLAGS_port);
  options.tls.port = absl::GetFlag(FLAGS_tls_port);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.ca_cert_file = absl::GetFlag(FLAGS_tls_ca_cert_file);
  options.tls.ca_cert_dir = absl::GetFlag(FLAGS_tls_ca_cert_dir);
  options.tls.auth_clients = absl::GetFlag(FLAGS_tls_auth_clients);
  options.tls.protocols = absl::GetFlag(FLAGS_tls_protocols);
  options.tls.ciphers = absl::GetFlag(FLAGS_tls_ciphers);
  options.tls.ciphersuites = absl::GetFlag(FLAGS_tls_ciphersuites);
  options.tls.peers = absl::GetFlag(FLAGS_tls_peers);
  if (options.tls.port < 0 || options.tls.port > 65535) {
    std::cerr << "anarchoredis: --tls-port must be 0..65535\n";
    return false;
  }
  if (options.tls.peers && options.tls.port == 0) {
    std::cerr << "anarchoredis: --tls_peers needs --tls_port: followers forward clients' requests to the leader's "
                 "TLS port\n";
    return false;
  }
  if (!TlsFilesUsable(options.tls)) return false;
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.dir = absl::GetFlag(FLAGS_dir);
  options.redis_server = absl::GetFlag(FLAGS_redis_server);
  if (std::string missing = node::cli::MissingProgram(options.redis_server); !missing.empty()) {
    std::cerr << "anarchoredis: --redis-server: " << missing;
    return false;
  }
  options.databases = absl::GetFlag(FLAGS_databases);
  options.limits.max_bulk_len = absl::GetFlag(FLAGS_proto_max_bulk_len);
  options.limits.max_multibulk_len = absl::GetFlag(FLAGS_max_multibulk_len);
  for (const auto& [flag, value] : {std::pair<const char*, int64_t>{"databases", options.databases},
                                    {"maxclients", absl::GetFlag(FLAGS_maxclients)},
                                    {"proto-max-bulk-len", options.limits.max_bulk_len},
                                    {"max-multibulk-len", options.limits.max_multibulk_len}}) {
    if (value < 1) {
      std::cerr << "anarchoredis: --" << flag << " must be at least 1\n";
      return false;
    }
  }
  // (redis-server allocates every database at its start: 10^8 of them took
  // the child minutes and gigabytes before it served.)
  constexpr int kMaxDatabases = 1'000'000;
  if (options.databases > kMaxDatabases || options.limits.max_multibulk_len > INT_MAX) {
    std::cerr << "anarchoredis: want --databases at most " << kMaxDatabases << " and --max-multibulk-len at most "
              << INT_MAX << " (as Redis)\n";
    return false;
  }
  options.max_clients = static_cast<size_t>(absl::GetFlag(FLAGS_maxclients));
  options.test_sync_gate = absl::GetFlag(FLAGS_test_sync_gate);
  options.no_leader_wait_ms = absl::GetFlag(FLAGS_no_leader_wait_ms);
  options.follower_reads = absl::GetFlag(FLAGS_follower_reads);
  options.shared_child_link = absl::GetFlag(FLAGS_shared_child_link);
  options.shared_relay = absl::GetFlag(FLAGS_shared_relay);
  options.test_follower_reads_no_wait = absl::GetFlag(FLAGS_test_follower_reads_no_wait);
  if (!node::gate::ParseBrokenRule(absl::GetFlag(FLAGS_test_break_gate), &options.test_broken_gate_rule)) {
    std::cerr << "anarchoredis: unknown --test_break_gate rule '" << absl::GetFlag(FLAGS_test_break_gate) << "'\n";
    return false;
  }
  auto limits = node::OutputBufferLimits::Parse(absl::GetFlag(FLAGS_client_output_buffer_limit));
  if (!limits.ok()) {
    std::cerr << "anarchoredis: --client-output-buffer-limit: " << limits.status().message() << "\n";
    return false;
  }
  options.output_limits = *limits;
  options.busy_reply_threshold_ms = absl::GetFlag(FLAGS_busy_reply_threshold);
  options.script_kill_after_ms = absl::GetFlag(FLAGS_script_kill_after);
  options.child_timeout_ms = absl::GetFlag(FLAGS_child_timeout);
  options.snapshot_log_bytes = absl::GetFlag(FLAGS_snapshot_log_bytes);
  options.digest_interval_s = absl::GetFlag(FLAGS_digest_interval_s);
  if (options.busy_reply_threshold_ms < 1 || options.script_kill_after_ms < 1) {
    std::cerr << "anarchoredis: --busy-reply-threshold and --script-kill-after must be at least 1 ms\n";
    return false;
  }
  if (options.no_leader_wait_ms < 0 || options.digest_interval_s < 0 || options.child_timeout_ms < 0) {
    std::cerr << "anarchoredis: --no-leader-wait-ms, --digest-interval-s and --child-timeout must be 0 or more\n";
    return false;
  }
  return true;
}

// The node's ports (clients, TLS clients, Raft, metrics) must differ: the
// second listener would fail only once the node started.
bool DistinctPorts(const node::ServerOptions& options) {
  const std::pair<const char*, int> ports[] = {{"port", options.port},
                                               {"tls-port", options.tls.port},
                                               {"raft-port", options.raft.peers.at(options.raft.id).raft_port},
                                               {"metrics-port", options.metrics_port}};
  for (size_t i = 0; i < std::size(ports); ++i) {
    for (size_t j = i + 1; j < std::size(ports); ++j) {
      if (ports[i].second != 0 && ports[i].second == ports[j].second) {
        std::cerr << "anarchoredis: --" << ports[i].first << " and --" << ports[j].first << " are both "
                  << ports[i].second << "\n";
        return false;
      }
    }
  }
  return true;
}

// id=host:client_port:raft_port,... with host names resolved to addresses.
bool ParseAddresses(const char* flag, const std::string& value, std::map<uint64_t, node::PeerAddress>* out) {
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    uint64_t id = 0;
    node::PeerAddress addr;
    std::pair<std::string, std::string> host_ports = absl::StrSplit(kv.second, absl::MaxSplits(':', 1));
    std::string error;
    const std::string ip = node::cli::ResolveHost(host_ports.first, &error);
    if (ip.empty()) {
      std::cerr << "anarchoredis: --" << flag << " entry '" << item << "': " << error << "\n";
      return false;
    }
    if (!absl::SimpleAtoi(kv.first, &id) || id == 0 ||
        !node::PeerAddress::Parse(absl::StrCat(ip, ":", host_ports.second), &addr)) {
      std::cerr << "anarchoredis: bad --" << flag << " entry '" << item
                << "' (want id=host:client_port:raft_port, ports 1..65535)\n";
      return false;
    }
    if (!out->emplace(id, addr).second) {
      std::cerr << "anarchoredis: --" << flag << " names node " << id << " twice\n";
      return false;
    }
  }
  return true;
}

// --peers names every member, this node included, and the node's own entry
// is where it serves: the others forward clients to its client port and dial
// its Raft port, which it listens on. A node missing from its own --peers was
// added silently with its --bind, as a second bootstrapping membership; an
// entry whose ports are not the node's flags left the others reaching a port
// it does not serve (the client port) or the flag ignored (the Raft port);
// two members at one address are one node to the others. --raft-port 0 (not
// given) takes the entry's Raft port.
bool PeersAgreeWithFlags(const std::map<uint64_t, node::PeerAddress>& peers, uint64_t id, int port, int raft_port) {
  auto self = peers.find(id);
  if (self == peers.end()) {
    std::cerr << "anarchoredis: --id " << id << " is not in --peers, which names every member, this node included "
              << "(add " << id << "=IP:" << port << ":RAFT_PORT)\n";
    return false;
  }
  if (self->second.client_port != port) {
    std::cerr << "anarchoredis: --peers gives node " << id << " (this node) client port " << self->second.client_port
              << ", but --port is " << port << "\n";
    return false;
  }
  if (raft_port != 0 && self->second.raft_port != raft_port) {
    std::cerr << "anarchoredis: --peers gives node " << id << " (this node) Raft port " << self->second.raft_port
              << ", but --raft-port is " << raft_port << "\n";
    return false;
  }
  for (auto a = peers.begin(); a != peers.end(); ++a) {
    for (auto b = std::next(a); b != peers.end(); ++b) {
      if (a->second.host != b->second.host) continue;
      for (const auto& [what, pa, pb] : {std::tuple{"client port", a->second.client_port, b->second.client_port},
                                         std::tuple{"Raft port", a->second.raft_port, b->second.raft_port}}) {
        if (pa != pb) continue;
        std::cerr << "anarchoredis: --peers gives nodes " << a->first << " and " << b->first << " the same " << what
                  << " on " << a->second.host << " (" << pa << ")\n";
        return false;
      }
    }
  }
  return true;
}

// The replicated log's settings from the flags; false (after saying why) if one is invalid.
bool RaftFlags(node::ServerOptions& options) {
  node::ReplicatedLogOptions& raft = options.raft;
  raft.keep_entries = absl::GetFlag(FLAGS_snapshot_keep_entries);
  raft.keep_bytes = absl::GetFlag(FLAGS_snapshot_keep_bytes);
  raft.keep_free_bytes = absl::GetFlag(FLAGS_snapshot_log_bytes) + raft.keep_bytes +
                         storage::kLogStoreMemtables * storage::kLogStoreMemtableBytes;
  raft.id = absl::GetFlag(FLAGS_id);
  raft.bootstrap = !absl::GetFlag(FLAGS_join);
  raft.tick_ms = absl::GetFlag(FLAGS_tick_ms);
  raft.election_ticks = absl::GetFlag(FLAGS_election_ticks);
  raft.heartbeat_ticks = absl::GetFlag(FLAGS_heartbeat_ticks);
  raft.lease_reads = absl::GetFlag(FLAGS_lease_reads);
  if (raft.id == 0) {
    std::cerr << "anarchoredis: --id must be non-zero\n";
    return false;
  }
  // (The election timeout is randomized up to twice --election-ticks, and a
  // lease ends two ticks before it.)
  constexpr int kMaxTickMs = 60'000;
  constexpr int kMaxElectionTicks = 100'000;
  constexpr int64_t kMaxElectionMs = 3'600'000;  // (twice it, in ms, fits an int)
  if (raft.tick_ms < 1 || raft.tick_ms > kMaxTickMs || raft.heartbeat_ticks < 1 || raft.election_ticks < 3 ||
      raft.election_ticks > kMaxElectionTicks || raft.election_ticks <= raft.heartbeat_ticks ||
      int64_t{raft.tick_ms} * raft.election_ticks > kMaxElectionMs) {
    std::cerr << "anarchoredis: want --tick-ms in 1.." << kMaxTickMs << ", --heartbeat-ticks >= 1 and --election-ticks in 3.."
              << kMaxElectionTicks << " and above --heartbeat-ticks, an election timeout (their product) of at most "
              << kMaxElectionMs << " ms\n";
    return false;
  }
  if (!ParseAddresses("peers", absl::GetFlag(FLAGS_peers), &raft.peers) ||
      !ParseAddresses("peer-addresses", absl::GetFlag(FLAGS_peer_addresses), &raft.address_book)) {
    return false;
  }
  if (const std::string file = absl::GetFlag(FLAGS_restore); !file.empty()) {
    if (!raft.bootstrap) {
      std::cerr << "anarchoredis: --restore starts a new cluster; a node that joins one (--join) gets its state "
                   "from the leader\n";
      return false;
    }
    auto restore = node::OpenRestore(file, options.redis_server, options.databases);
    if (!restore.ok()) {
      std::cerr << "anarchoredis: --restore: " << restore.status().message() << "\n";
      return false;
    }
    raft.restore = std::move(*restore);
  }
  if (raft.peers.empty()) {
    raft.peers[raft.id] = node::PeerAddress{options.bind, options.port, absl::GetFlag(FLAGS_raft_port)};
  } else if (!PeersAgreeWithFlags(raft.peers, raft.id, options.port, absl::GetFlag(FLAGS_raft_port))) {
    return false;
  }
  return ConfigurePeerSecurity(raft);
}

bool ConfigureLogging() {
  node::LogLevel level;
  if (!node::ParseLogLevel(absl::GetFlag(FLAGS_loglevel), &level)) {
    std::cerr << "anarchoredis: --loglevel must be debug, verbose, info, notice, warning or error\n";
    return false;
  }
  node::SetLogLevel(level);
  if (!node::SetLogFile(absl::GetFlag(FLAGS_logfile))) {
    std::cerr << "anarchoredis: cannot open --logfile " << absl::GetFlag(FLAGS_logfile) << "\n";
    return false;
  }
  node::SetLogTag(absl::StrCat("n", absl::GetFlag(FLAGS_id)));
  return true;
}

// The pid file names this process while it runs: removed when it stops
// (unless another process wrote its pid there meanwhile).
void RemovePidFile(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  if (!path.empty() && in >> pid && pid == getpid()) std::remove(path.c_str());
}

// Runs the node until it is stopped: SIGTERM, SIGINT or SHUTDOWN stop it
// gracefully (at most 60 s), a second signal at once; SIGHUP reopens the log
// file and reloads the TLS files. systemd (Type=notify) hears READY once clients are served, STOPPING
// when the stop begins.
int Run(const node::ServerOptions& options) {
  if (const pid_t holder = LogLockHolder(options.dir); holder != 0) {
    std::string comm;
    std::ifstream(absl::StrCat("/proc/", holder, "/comm")) >> comm;
    node::Log(node::LogComponent::kNode, node::LogLevel::kError,
              "start failed: --dir %s is in use by another %s (pid %d): one node per --dir", options.dir,
              comm.empty() ? "process" : comm, holder);
    return 1;
  }
  asio::io_context io(1);
  node::Server server(io, options);
  if (absl::Status s = server.Start(); !s.ok()) {
    node::Log(node::LogComponent::kNode, node::LogLevel::kError, "start failed: %s", s.ToString());
    return StartFailureStatus(s);
  }
  if (const std::string pidfile = absl::GetFlag(FLAGS_pidfile); !pidfile.empty()) {
    std::ofstream out(pidfile);
    if (!(out << getpid() << "\n") || !out.flush()) {
      node::Log(node::LogComponent::kNode, node::LogLevel::kError, "cannot write --pidfile %s: %s", pidfile,
                strerror(errno));
    }
  }
  asio::signal_set hup(io, SIGHUP);
  std::function<void()> on_hup = [&] {
    hup.async_wait([&](const asio::error_code& ec, int) {
      if (ec) return;
      const bool ok = node::ReopenLogFile();
      node::Log(node::LogComponent::kNode, ok ? node::LogLevel::kInfo : node::LogLevel::kError, "SIGHUP: %s",
                ok ? "log reopened" : "cannot reopen the log file");
      if (options.tls.port != 0) {
        const absl::Status tls = server.ReloadTls();
        const std::string reloaded =
            options.tls.peers ? "TLS files reloaded (client port and peer links)" : "TLS files reloaded";
        node::Log(node::LogComponent::kNode, tls.ok() ? node::LogLevel::kInfo : node::LogLevel::kError,
                  "SIGHUP: %s", tls.ok() ? reloaded : "TLS files not reloaded: " + tls.ToString());
      }
      on_hup();
    });
  };
  on_hup();
  asio::signal_set stop(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  auto stop_now = [&] {
    server.Stop();
    hup.cancel();
    io.stop();
  };
  auto begin_stop = [&](node::Server::ShutdownSnapshot snapshot) {
    if (server.shutting_down()) return;
    sd_notify(0, "STOPPING=1");
    deadline.expires_after(std::chrono::seconds(60));
    deadline.async_wait([&](const asio::error_code& ec) {
      if (!ec) stop_now();
    });
    server.Shutdown(snapshot, stop_now);
  };
  stop.async_wait([&](const asio::error_code&, int sig) {
    node::Log(node::LogComponent::kNode, node::LogLevel::kInfo, "signal %d: stopping (another signal stops at once)", sig);
    stop.async_wait([&](const asio::error_code&, int) { stop_now(); });
    begin_stop(node::Server::ShutdownSnapshot::kAuto);
  });
  server.on_shutdown_command = begin_stop;
  node::Log(node::LogComponent::kNode, node::LogLevel::kInfo, "serving Redis clients on %s:%d%s", options.bind,
            options.port, options.metrics_port ? absl::StrCat(", metrics on port ", server.metrics_port()) : "");
  sd_notify(0, absl::StrCat("READY=1\nSTATUS=serving Redis clients on ", options.bind, ":", options.port).c_str());
  io.run();
  RemovePidFile(absl::GetFlag(FLAGS_pidfile));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const node::cli::Parsed parsed = node::cli::Parse(argc, argv, Program());
  if (parsed.exit_code) return *parsed.exit_code;
  if (!parsed.positional.empty()) {
    std::cerr << "anarchoredis: unexpected argument '" << parsed.positional[0] << "' (see --help)\n";
    return 2;
  }
  if (const std::string config = absl::GetFlag(FLAGS_config); !config.empty()) {
    if (std::string error = node::cli::LoadConfigFile(config, parsed.given); !error.empty()) {
      std::cerr << "anarchoredis: " << error << "\n";
      return 2;
    }
  }
  if (absl::GetFlag(FLAGS_dir).empty()) {
    std::cerr << "anarchoredis: --dir is required (see --help)\n";
    return 2;
  }
  if (!ConfigureLogging() || !PathsUsable(absl::GetFlag(FLAGS_dir), absl::GetFlag(FLAGS_pidfile))) return 2;
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);  // until Run() reopens the log on it: a rotation during the start must not kill the node
  node::ServerOptions options;
  if (!ServerFlags(options) || !RaftFlags(options) || !DistinctPorts(options)) return 2;
  node::Log(node::LogComponent::kNode, node::LogLevel::kInfo, "%s starting, pid %d; settings: %s",
            node::cli::VersionLine("anarchoredis"), getpid(), node::cli::EffectiveSettings(Program()));
  if (options.test_broken_gate_rule != node::gate::BrokenRule::kNone) {
    node::Log(node::LogComponent::kNode, node::LogLevel::kWarning,
              "UNSAFE TEST MODE: the consistency gate's rule '%s' is switched off",
              node::gate::BrokenRuleName(options.test_broken_gate_rule));
  }
  const int code = Run(options);
  node::Log(node::LogComponent::kNode, node::LogLevel::kInfo, "exiting with status %d", code);
  return code;
}
