// What the anarcho-admin commands share: talking RESP to one node.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "node/child/sync_client.h"
#include "resp/value.h"

namespace admin {

// Who the tool is to the nodes it asks (--user, --pass or --pass_file, or
// REDISCLI_AUTH as redis-cli reads it): every connection AUTHs first when a
// password is given.
struct Credentials {
  std::string user;  // empty: the default user
  std::string password;
};
void SetCredentials(Credentials credentials);

// How long the tool waits for a node (--timeout): a connect, or the answer to
// a command, takes at most `answer`; the answers that wait for the cluster's
// work (a backup's or a snapshot's fork, a divergence check) at most `work`.
// A stopped node accepts connections (the kernel does) and answers nothing.
struct Timeouts {
  absl::Duration answer = absl::Seconds(5);
  absl::Duration work = absl::Minutes(10);
};
void SetTimeouts(Timeouts timeouts);
const Timeouts& TheTimeouts();

// Connects to a node's client port and authenticates.
absl::Status Connect(node::SyncClient& c, const std::string& host, int port);

// ANARCHO.STATUS of one node as field -> value, or why it did not answer.
absl::StatusOr<std::map<std::string, std::string>> StatusOf(const std::string& host, int port);
// The same, empty if it does not answer.
std::map<std::string, std::string> Status(const std::string& host, int port);
// One command; an error reply is an error status.
absl::StatusOr<resp::Value> Call(const std::string& host, int port, std::initializer_list<std::string_view> args);
// One command whose answer waits for the cluster's work (Timeouts::work).
absl::StatusOr<resp::Value> CallForWork(const std::string& host, int port, std::initializer_list<std::string_view> args);
// Field -> value of a map reply (RESP2 flat array or RESP3 map).
std::map<std::string, resp::Value> Fields(const resp::Value& v);

// A node to ask.
struct Target {
  int id = 0;  // 0: not known yet
  std::string host;
  int port = 0;
};

// The nodes given, plus every member the first of them that answers knows
// (ANARCHO.MEMBERS), so a node added later is asked too; a node given
// without its id gets it.
std::vector<Target> MembersOf(std::vector<Target> given);

// status: one line per member (those given and those the first to answer
// knows); exit status 0 only if every node answers and a leader serves.
int StatusCommand(std::vector<Target> targets, bool json);
// members: the configuration one node knows (ANARCHO.MEMBERS).
int MembersCommand(const Target& node, bool json);
// health: whether one node can serve (ANARCHO.HEALTH); exit status 0 if ok.
int HealthCommand(const Target& node, bool json);

// snapshot --port N: the node snapshots its child and compacts its log.
int SnapshotCommand(const std::string& host, int port);
// backup --port N FILE: a backup at a linearizable point, from the leader.
int BackupCommand(const std::string& host, int port, const std::string& file);
// digest: a divergence check, run through the first node of `ask` that
// answers, then every node of `nodes` (the members: see MembersOf) reports its
// outcome at its index. Exit status 1 on a mismatch, 3 if the check could not
// run or a node did not report it.
int DigestCommand(const std::vector<Target>& ask, const std::vector<Target>& nodes);

// Local clusters (admin_cluster.cc): the members a cluster directory's
// cluster.conf lists, `cluster start` (--dir, --nodes, --base-port, ...) and
// `cluster stop` (--dir).
struct Member {
  int id;
  int client_port;
  int raft_port;
};
std::vector<Member> ReadCluster(const std::string& dir);
int ClusterStart(const char* argv0, const absl::flat_hash_set<std::string>& given);
int ClusterStop();

}  // namespace admin
