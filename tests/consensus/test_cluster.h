// A cluster of NodeHosts over a synchronous network for scenario tests:
// messages are delivered in order, one round at a time, until nothing moves
// (Stabilize), except on links a test cut. Every delivery is appended to a
// transcript a failing test can print.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/consensus/node_host.h"

namespace consensus::testing {

class TestCluster {
 public:
  // Voters 1..n, bootstrapped and started (nobody is leader yet).
  explicit TestCluster(int n, Config base = DefaultConfig());

  static Config DefaultConfig() {
    Config c;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.pre_vote = true;
    c.check_quorum = true;
    return c;
  }

  // A node with empty storage that a later membership change will add.
  NodeHost& AddEmptyNode(uint64_t id);

  NodeHost& host(uint64_t id) { return *nodes_.at(id); }
  Raft& raft(uint64_t id) { return nodes_.at(id)->raft(); }

  // Processes every Ready and delivers every message until quiet.
  void Stabilize();
  // Ticks the given nodes (all up nodes by default) n times, stabilizing
  // after each tick.
  void Tick(int n, std::vector<uint64_t> ids = {});
  // Ticks everybody until `id` is no longer... or something else: runs until
  // pred() holds or max ticks pass. Returns whether it held.
  bool TickUntil(const std::function<bool()>& pred, int max_ticks = 200);

  // `id` campaigns now; returns when the cluster is quiet.
  void Campaign(uint64_t id);

  // Network faults. A cut link drops messages both ways.
  void Cut(uint64_t a, uint64_t b);
  void Isolate(uint64_t id);
  void Heal();
  void Crash(uint64_t id) { nodes_.at(id)->Crash(); }
  void Restart(uint64_t id);
  // Drops messages this filter returns true for (in addition to cut links).
  std::function<bool(const pb::Message&)> drop;
  // Rewrites messages in flight (after the drop filter).
  std::function<void(pb::Message&)> mutate;

  absl::Status Propose(uint64_t id, const std::string& data);

  // The up node that believes it is leader with the highest term (0: none).
  uint64_t Leader() const;
  std::vector<uint64_t> ids() const;

  // The first invariant violation seen (or OK) and the message transcript.
  const absl::Status& status() const { return status_; }
  std::string Transcript(size_t last_lines = 80) const;

  InvariantChecker& checker() { return checker_; }

 private:
  void Deliver(pb::Message m);
  bool Blocked(const pb::Message& m) const;
  void Fail(const absl::Status& s);

  Config base_;
  InvariantChecker checker_;
  std::map<uint64_t, std::unique_ptr<NodeHost>> nodes_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::deque<pb::Message> queue_;
  std::vector<std::string> transcript_;
  absl::Status status_;
};

// Tests that elect a new leader by hand while the old one still runs turn
// check-quorum off: with it, followers would honour the old leader's lease.
inline Config NoLease() {
  Config cfg = TestCluster::DefaultConfig();
  cfg.check_quorum = false;
  return cfg;
}

// Raft as in the paper's basic form: no pre-vote, no check-quorum (no lease).
inline Config Unguarded() {
  Config cfg = TestCluster::DefaultConfig();
  cfg.pre_vote = false;
  cfg.check_quorum = false;
  return cfg;
}

// Lease reads (check-quorum is on by default).
inline Config LeaseReads() {
  Config cfg = TestCluster::DefaultConfig();
  cfg.read_only_option = ReadOnlyOption::kLeaseBased;
  return cfg;
}

// Node 1 leads a cluster made with LeaseReads(), and holds its lease: past
// the restart guard, its heartbeats acknowledged.
inline void LeadWithLease(TestCluster& c) {
  c.Tick(LeaseReads().election_tick);
  c.Campaign(1);
  c.Tick(2);
}

#define EXPECT_CLUSTER_OK(c) \
  EXPECT_TRUE((c).status().ok()) << (c).status() << "\n" << (c).Transcript()

}  // namespace consensus::testing
