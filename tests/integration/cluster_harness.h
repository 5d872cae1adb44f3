// A cluster of real anarchoredis nodes on loopback, with a fault-injecting TCP
// proxy on every directed Raft link so tests can cut the network between any
// two nodes (each node reaches peer j through its own proxy to j).
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asio.hpp"
#include "absl/status/statusor.h"
#include "harness.h"
#include "resp/value.h"

namespace itest {

// Forwards TCP connections from a local port to a target port, unless blocked.
// Blocking closes every open connection and every new one at once: to the
// nodes it looks like a cut network.
class FaultProxy {
 public:
  explicit FaultProxy(int target_port);
  ~FaultProxy();
  int port() const { return port_; }
  // Blocked: new connections are closed at once, and the open ones are
  // closed too, or (!close_open) stall as Freeze does. Unblocked: new
  // connections pass, and stalled ones go on (Thaw).
  void SetBlocked(bool blocked, bool close_open = true);
  // The connections open now stall: nothing more passes them either way, and
  // they stay open (as through a middlebox that lost their state). New
  // connections pass. Returns once done.
  void Freeze();
  // The stalled connections go on, what they held first.
  void Thaw();

 private:
  struct Conn;
  void Accept();
  void Pump(std::shared_ptr<Conn> c, bool upstream);
  void Forward(std::shared_ptr<Conn> c, bool upstream, size_t n);

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  int target_;
  int port_;
  std::atomic<bool> blocked_{false};
  std::vector<std::weak_ptr<Conn>> conns_;  // io thread only
  std::vector<std::shared_ptr<Conn>> frozen_;  // io thread only: held open
  std::thread thread_;
};

struct ClusterOptions {
  int nodes = 3;
  std::vector<std::string> node_args;  // extra flags for every node
  std::map<int, std::vector<std::string>> args_of;  // more flags for node i
  bool proxies = true;
  // Nodes not waited for at the start (they are not meant to serve).
  std::set<int> never_ready;
  // Nodes prove a shared secret on their links (as anarcho-admin's clusters do).
  bool peer_secret = true;
  // Non-empty: a directory with ca.crt, server.crt and server.key. Every node
  // then serves TLS on tls_port(i), and its Raft links and its hop to the
  // leader are mutual TLS (--tls_peers).
  std::string tls_certs;
  // With proxies: node i reaches node j's client port (a follower's relay to
  // its leader) through a proxy too, which Partition, CutOneWay and
  // StallLinks treat as one more link from i to j.
  bool relay_proxies = false;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();

  int size() const { return static_cast<int>(ports_.size()); }
  int port(int i) const { return ports_[i]; }  // client port of node i (0-based)
  int raft_port(int i) const { return raft_ports_[i]; }
  int tls_port(int i) const { return tls_ports_.empty() ? 0 : tls_ports_[i]; }
  Node& node(int i) { return *nodes_[i]; }
  // The flags that give a node this cluster's secret (empty without one).
  std::vector<std::string> SecretArgs() const;
  // Once a test sets a password (requirepass, or a restricted default user),
  // the harness's own requests (Status, WaitConverged, ...) AUTH first.
  void UseAuth(std::string user, std::string password) { auth_ = {std::move(user), std::move(password)}; }
  // A client of node i, authenticated if UseAuth was called.
  std::unique_ptr<Client> Connect(int i) const;

  // Index of the node that reports itself serving as leader; waits up to
  // `timeout`; -1 if none. `among` restricts the candidates.
  int WaitForLeader(std::chrono::milliseconds timeout = std::chrono::seconds(20),
                    std::set<int> among = {});
  void Kill9(int i);
  void Restart(int i);        // same dir, same flags
  void WipeAndRestart(int i); // empty dir: it joins and catches up
  // Membership change under load: removes node i (a follower) through the
  // leader, wipes it, and adds it back under a new id (learner, then voter)
  // on the same ports and proxies. Returns what went wrong, or "".
  std::string Replace(int i);
  uint64_t id(int i) const { return ids_[i]; }
  // Cuts every link between the two groups (both directions); Heal() restores.
  // The connections open are closed at both ends, or (`silently`) stall, as
  // when a network drops packets: no close reaches either end, and after
  // Heal() they go on.
  void Partition(const std::set<int>& a, const std::set<int>& b, bool silently = false);
  // Cuts the Raft links from `from` to every node of `to`, one way: what
  // those nodes send to `from` still arrives. Heal() restores.
  void CutOneWay(const std::set<int>& from, const std::set<int>& to);
  // The Raft connections open between the two groups stall without closing
  // (FaultProxy::Freeze); new ones pass.
  void StallLinks(const std::set<int>& a, const std::set<int>& b);
  // With relay_proxies: node `from`'s connections open now to node `to`'s
  // client port stall without closing; the Raft links pass.
  void StallRelay(int from, int to);
  void Heal();
  // A request to node i's child on its own socket (not through the node).
  absl::StatusOr<resp::Value> ChildCall(int i, const std::vector<std::string>& args);
  // Sets `key` in node i's child behind the log's back (a replica child is
  // made writable for it): a divergence the checks must catch.
  absl::Status WriteBehindTheLog(int i, const std::string& key);
  // The digest of node i's child.
  std::string ChildDigest(int i);
  // Follower i's child drops its link to the node (CLIENT KILL TYPE master)
  // and syncs again on its own. Returns what went wrong, or "" once the node
  // counted the new full sync (seen within a millisecond or so: the child is
  // then still loading).
  std::string ChildSyncsAgain(int i);
  // Divergence check (ANARCHO.DIGEST through the leader): true once every
  // running member's child matched the leader's at the same log index, false
  // on a mismatch (one any member counted before included) or a timeout.
  bool WaitConverged(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::map<std::string, std::string> Status(int i);
  pid_t ChildPid(int i);  // node i's redis-server (-1 if it does not say)

 private:
  // AUTH on `c` if UseAuth was called.
  void Authenticate(Client& c) const;
  std::optional<std::pair<std::string, std::string>> auth_;
  std::vector<std::string> NodeArgs(int i);

  ClusterOptions options_;
  std::string dir_;
  std::vector<int> ports_, raft_ports_, tls_ports_;
  std::vector<uint64_t> ids_;   // node i's current id
  std::vector<int> generation_;  // how often node i was replaced
  static constexpr int kSpareGenerations = 8;
  // Node i's id after its g-th replacement: far from the ids tests pick.
  static uint64_t SpareId(int i, int g) { return static_cast<uint64_t>(100 * g + i + 1); }
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::pair<int, int>, std::unique_ptr<FaultProxy>> proxies_;  // (from, to)
  std::map<std::pair<int, int>, std::unique_ptr<FaultProxy>> relay_proxies_;  // (from, to): to's client port
  // The proxies of the links from `from` to `to` (Raft, and relay if any).
  std::vector<FaultProxy*> LinksFrom(int from, int to);
};

}  // namespace itest
