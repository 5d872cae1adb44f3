// anarcho-admin: start and stop a local cluster, show node state, change
// membership. It speaks RESP to the nodes (ANARCHO.* commands).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asio.hpp"
#include "absl/strings/escaping.h"
#include "node/child/sync_client.h"
#include "node/cli.h"
#include "node/cluster/peer_auth.h"
#include "tools/admin_util.h"

ABSL_FLAG(std::string, dir, "", "Cluster directory (cluster start/stop/status).");
ABSL_FLAG(int, nodes, 3, "Number of nodes (cluster start).");
ABSL_FLAG(int, base_port, 7001,
          "Client port of the first node (cluster start); node i serves clients on base-port+i-1 "
          "and talks Raft on base-port+100+i-1.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Address of the node to ask.");
ABSL_FLAG(int, port, 0, "Client port of the node to ask.");
ABSL_FLAG(std::string, node_bin, "", "The anarchoredis binary (default: next to this tool's build, or PATH).");
ABSL_FLAG(std::vector<std::string>, node_args, {}, "Extra flags for every node (cluster start), comma separated.");
ABSL_FLAG(int, timeout_s, 30, "How long to wait for a leader (cluster start).");
ABSL_FLAG(std::string, restore, "",
          "cluster start: the new cluster starts from this backup (written by `backup`) or Redis RDB file.");
ABSL_FLAG(bool, json, false, "status, members, health: print JSON instead of a table.");
ABSL_FLAG(std::string, tls_certs, "",
          "cluster start: also serve clients with TLS, node i on base-port+200+i-1, with DIR/server.crt, "
          "DIR/server.key and, for clients' certificates, DIR/ca.crt; the Raft links and followers' hop to the "
          "leader are mutual TLS with the same files (--tls_peers).");
ABSL_FLAG(std::string, user, "", "The user to authenticate as (default: Redis's default user).");
ABSL_FLAG(std::string, pass, "",
          "The password to authenticate with (else --pass_file, else the REDISCLI_AUTH environment variable).");
ABSL_FLAG(std::string, pass_file, "", "A file holding the password (its first line).");
ABSL_FLAG(double, timeout, 5,
          "Seconds to wait for a node to connect and answer each command, 0 for no limit (a stopped node "
          "accepts connections and answers nothing). backup, snapshot and digest wait for the cluster's work up "
          "to 10 minutes unless it is given.");

namespace fs = std::filesystem;

namespace {

using admin::Member;
using admin::ReadCluster;

int Call(const std::string& host, int port, std::initializer_list<std::string_view> args) {
  asio::io_context io;
  node::SyncClient c(io);
  if (auto s = admin::Connect(c, host, port); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  auto v = c.Call(args);
  if (!v.ok()) {
    std::cerr << v.status().message() << "\n";
    return 1;
  }
  if (v->IsError()) {
    std::cerr << v->str << "\n";
    return 1;
  }
  std::cout << v->AsString() << "\n";
  return 0;
}

const node::cli::Program& Program() {
  static const node::cli::Program program{
      "anarcho-admin",
      "starts local anarchoredis clusters, shows their state and changes their members",
      "",
      "tools/anarcho_admin.cc",
      {
          {{"cluster", "start"},
           "cluster start --dir D [--nodes 3] [--base-port 7001] [--restore FILE [--pass P]] [--node-args A,B,...] "
           "[--tls-certs DIR]",
           {"dir", "nodes", "base_port", "restore", "node_bin", "node_args", "timeout_s", "tls_certs", "user", "pass",
            "pass_file"}},
          {{"cluster", "stop"}, "cluster stop --dir D", {"dir"}},
          {{"status"}, "status (--dir D | [--host H] --port N) [--json]   (exit 1 unless all answer and a leader serves)",
           {"dir", "host", "port", "json", "user", "pass", "pass_file", "timeout"}},
          {{"members"}, "members [--host H] --port N [--json]",
           {"host", "port", "json", "user", "pass", "pass_file", "timeout"}},
          {{"health"}, "health [--host H] --port N [--json]   (exit 1 unless the node can serve)",
           {"host", "port", "json", "user", "pass", "pass_file", "timeout"}},
          {{"add"}, "add [--host H] --port N ID IP:CLIENT_PORT:RAFT_PORT   (joins as a learner, then a voter)",
           {"host", "port", "user", "pass", "pass_file", "timeout"}},
          {{"remove"}, "remove [--host H] --port N ID", {"host", "port", "user", "pass", "pass_file", "timeout"}},
          {{"transfer"}, "transfer [--host H] --port N ID   (hands leadership to voter ID)",
           {"host", "port", "user", "pass", "pass_file", "timeout"}},
          {{"snapshot"}, "snapshot [--host H] --port N   (that node snapshots its data and compacts its log)",
           {"host", "port", "user", "pass", "pass_file", "timeout"}},
          {{"backup"}, "backup [--host H] --port N FILE   (a backup at a linearizable point: FILE and FILE.meta)",
           {"host", "port", "user", "pass", "pass_file", "timeout"}},
          {{"digest"},
           "digest (--dir D | [--host H] --port N)   (divergence check: every member compared at one index; exit 1 on a "
           "mismatch, 3 if not every member compared)",
           {"dir", "host", "port", "user", "pass", "pass_file", "timeout"}},
      }};
  return program;
}

// ANARCHO.TRANSFER answers once the hand-over started; the target campaigns
// once it holds the leader's whole log, which may never come (it is far
// behind, or cut off). So this waits until the node asked names the target
// as leader, and says so either way: it answered OK before when nothing
// changed.
int TransferCommand(const std::string& host, int port, const std::string& id) {
  if (int rc = Call(host, port, {"ANARCHO.TRANSFER", id}); rc != 0) return rc;
  const absl::Duration wait = std::max(admin::TheTimeouts().answer, absl::Seconds(5));
  const absl::Time deadline = absl::Now() + wait;
  std::string leader;
  while (absl::Now() < deadline) {
    if (auto st = admin::StatusOf(host, port); st.ok()) leader = (*st)["leader"];
    if (leader == id) {
      std::cout << "node " << id << " leads now\n";
      return 0;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::cerr << "transfer: node " << id << " did not take the leadership within " << absl::FormatDuration(wait)
            << " (the leader is node " << (leader.empty() ? "?" : leader)
            << "); a target behind the leader's log takes it only once it caught up\n";
  return 1;
}

// The commands that ask one node (--host, --port).
int NodeCommand(const std::vector<std::string>& cmd) {
  const std::string host = absl::GetFlag(FLAGS_host);
  const int port = absl::GetFlag(FLAGS_port);
  if (port <= 0 || port > 65535) {
    std::cerr << cmd[0] << ": --port of a node is required (1..65535)\n";
    return 2;
  }
  const admin::Target node{0, host, port};
  const bool json = absl::GetFlag(FLAGS_json);
  if (cmd[0] == "members" && cmd.size() == 1) return admin::MembersCommand(node, json);
  if (cmd[0] == "health" && cmd.size() == 1) return admin::HealthCommand(node, json);
  if (cmd[0] == "add" && cmd.size() == 3) {
    // The node takes an IP address: a host name is resolved here.
    std::pair<std::string, std::string> host_ports = absl::StrSplit(cmd[2], absl::MaxSplits(':', 1));
    std::string error;
    const std::string ip = node::cli::ResolveHost(host_ports.first, &error);
    if (ip.empty()) {
      std::cerr << "add: " << error << "\n";
      return 2;
    }
    return Call(host, port, {"ANARCHO.ADD", cmd[1], absl::StrCat(ip, ":", host_ports.second)});
  }
  if (cmd[0] == "remove" && cmd.size() == 2) return Call(host, port, {"ANARCHO.REMOVE", cmd[1]});
  if (cmd[0] == "transfer" && cmd.size() == 2) return TransferCommand(host, port, cmd[1]);
  if (cmd[0] == "snapshot" && cmd.size() == 1) return admin::SnapshotCommand(host, port);
  if (cmd[0] == "backup" && cmd.size() == 2) return admin::BackupCommand(host, port, cmd[1]);
  std::cerr << "anarcho-admin: unknown command or wrong arguments: '" << absl::StrJoin(cmd, " ") << "' (see --help)\n";
  return 2;
}

}  // namespace

// --user and --pass, or --pass_file, or REDISCLI_AUTH (as redis-cli).
absl::StatusOr<admin::Credentials> Credentials() {
  admin::Credentials who{absl::GetFlag(FLAGS_user), absl::GetFlag(FLAGS_pass)};
  if (who.password.empty() && !absl::GetFlag(FLAGS_pass_file).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_pass_file));
    if (!in || !std::getline(in, who.password)) {
      return absl::NotFoundError(absl::StrCat("cannot read a password from ", absl::GetFlag(FLAGS_pass_file)));
    }
  }
  if (who.password.empty()) {
    if (const char* env = std::getenv("REDISCLI_AUTH")) who.password = env;
  }
  if (!who.user.empty() && who.password.empty()) {
    return absl::InvalidArgumentError("--user needs a password (--pass, --pass_file or REDISCLI_AUTH)");
  }
  return who;
}

// --timeout: for every answer, and for those that wait for the cluster's
// work if given.
absl::StatusOr<admin::Timeouts> Timeouts(bool given) {
  const double seconds = absl::GetFlag(FLAGS_timeout);
  if (!(seconds >= 0)) return absl::InvalidArgumentError("--timeout must be 0 (no limit) or more seconds");
  const absl::Duration limit = seconds == 0 ? absl::InfiniteDuration() : absl::Seconds(seconds);
  admin::Timeouts timeouts{.answer = limit};
  if (given) timeouts.work = limit;
  return timeouts;
}

int main(int argc, char** argv) {
  const node::cli::Parsed parsed = node::cli::Parse(argc, argv, Program());
  if (parsed.exit_code) return *parsed.exit_code;
  const std::vector<std::string>& cmd = parsed.positional;
  signal(SIGPIPE, SIG_IGN);
  if (cmd.empty()) {
    std::cerr << node::cli::Help(Program(), {});
    return 2;
  }
  if (auto who = Credentials(); who.ok()) {
    admin::SetCredentials(std::move(*who));
  } else {
    std::cerr << who.status().message() << "\n";
    return 2;
  }
  if (auto timeouts = Timeouts(parsed.given.contains("timeout")); timeouts.ok()) {
    admin::SetTimeouts(*timeouts);
  } else {
    std::cerr << timeouts.status().message() << "\n";
    return 2;
  }
  const std::string host = absl::GetFlag(FLAGS_host);
  const int port = absl::GetFlag(FLAGS_port);
  if (parsed.given.contains("port") && (port <= 0 || port > 65535)) {
    std::cerr << "--port " << port << " is out of range (1..65535)\n";
    return 2;
  }
  static const absl::flat_hash_set<std::string> kCommands = {"cluster", "status", "members", "health", "add",
                                                            "remove",  "transfer", "snapshot", "backup", "digest"};
  if (!kCommands.contains(cmd[0]) || (cmd[0] == "cluster" && (cmd.size() != 2 || (cmd[1] != "start" && cmd[1] != "stop")))) {
    std::cerr << "anarcho-admin: unknown command '" << absl::StrJoin(cmd, " ") << "' (see --help)\n";
    return 2;
  }
  if (cmd[0] == "cluster" && cmd[1] == "start") return admin::ClusterStart(argv[0], parsed.given);
  if (cmd[0] == "cluster") return admin::ClusterStop();
  if (cmd[0] == "digest" && cmd.size() == 1) {
    std::vector<admin::Target> given;
    for (const Member& m : ReadCluster(absl::GetFlag(FLAGS_dir))) given.push_back({m.id, host, m.client_port});
    if (given.empty() && port > 0) given.push_back({0, host, port});
    if (given.empty()) {
      std::cerr << "digest: give --dir of a cluster or --port of a node\n";
      return 2;
    }
    // --port, else every member in turn until one answers. Every member
    // reports its outcome, as with status: the members the node asked knows,
    // not only the node given (a divergence elsewhere passed as a match).
    std::vector<admin::Target> ask = given;
    if (port > 0) ask = {admin::Target{0, host, port}};
    return admin::DigestCommand(ask, admin::MembersOf(std::move(given)));
  }
  if (cmd[0] == "status" && cmd.size() == 1) {
    std::vector<admin::Target> targets;
    if (const std::string dir = absl::GetFlag(FLAGS_dir); !dir.empty()) {
      for (const Member& m : ReadCluster(dir)) targets.push_back({m.id, host, m.client_port});
      if (targets.empty()) {
        std::cerr << "status: " << dir << " holds no cluster started by anarcho-admin (no cluster.conf)\n";
        return 2;
      }
    } else if (port > 0) {
      targets.push_back({0, host, port});
    }
    if (targets.empty()) {
      std::cerr << "status: give --dir of a cluster or --port of a node\n";
      return 2;
    }
    return admin::StatusCommand(std::move(targets), absl::GetFlag(FLAGS_json));
  }
  return NodeCommand(cmd);
}
