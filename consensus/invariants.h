// Checks Raft's safety properties over a whole cluster, fed by a test host
// with what each node persists, commits and applies (Raft §5.2-5.4, LogCabin
// style). Each Observe* returns an error describing the first violation:
//
//   Election safety      at most one leader per term.
//   Log matching         two logs with an entry of the same index and term
//                        are identical up to it (checked with a hash chain:
//                        every (index, term) maps to one prefix hash).
//   Commit durability    a committed entry never changes, and no node
//                        truncates below its own commit index.
//   Leader completeness  a new leader's log holds every entry committed in
//                        an earlier term.
//   State machine safety nodes apply entries in order, only committed ones,
//                        and the same entry at the same index.
//   Read safety          a ReadIndex answer is at or past every entry known
//                        committed when the read was asked.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "consensus/log.h"
#include "consensus/raft.pb.h"

namespace consensus {

class InvariantChecker {
 public:
  // `node` is the leader of `term`; `log` is its in-core log (unstable tail
  // included, so it can be called at any time).
  absl::Status ObserveLeader(uint64_t node, uint64_t term, const RaftLog& log);
  // `node` durably wrote `entries` (consecutive; anything after the first
  // index was replaced). Entries at or below its snapshot are ignored.
  absl::Status ObserveAppend(uint64_t node, const std::vector<pb::Entry>& entries);
  // `node` durably replaced its log with a snapshot.
  absl::Status ObserveSnapshot(uint64_t node, const pb::SnapshotMetadata& meta);
  // `node`, in `term`, durably recorded commit index `commit`. Its log must
  // already hold the entries up to it (same Ready).
  absl::Status ObserveCommit(uint64_t node, uint64_t term, uint64_t commit);
  // The node learnt that its durable log is committed up to `commit` and
  // applies entries up to there before it next records its commit (which may
  // then still be an older one, written by a write already under way).
  absl::Status ObserveLearntCommit(uint64_t node, uint64_t term, uint64_t commit);
  // `node` applied `entry` to its state machine.
  absl::Status ObserveApply(uint64_t node, const pb::Entry& entry);
  // `node` installed a snapshot into its state machine.
  absl::Status ObserveApplySnapshot(uint64_t node, const pb::SnapshotMetadata& meta);
  // `node` restarted: its state machine is back at `applied` (its snapshot).
  void ObserveRestart(uint64_t node, uint64_t applied);
  // A read was requested now; returns the floor its answer must reach.
  uint64_t ReadFloor() const { return max_committed_; }
  absl::Status ObserveRead(uint64_t node, uint64_t floor, uint64_t read_index);

  uint64_t max_committed() const { return max_committed_; }

 private:
  struct NodeLog {
    uint64_t base = 0;              // index of chain[0]
    std::vector<uint64_t> chain{0};  // prefix hash at base + k
    std::vector<uint64_t> terms{0};  // term at base + k
    uint64_t commit = 0;
    uint64_t applied = 0;
    uint64_t last() const { return base + chain.size() - 1; }
  };

  NodeLog& Node(uint64_t id) { return nodes_[id]; }
  absl::Status RecordChain(uint64_t index, uint64_t term, uint64_t hash);

  absl::flat_hash_map<uint64_t, NodeLog> nodes_;
  absl::flat_hash_map<uint64_t, uint64_t> leader_of_term_;
  // (index, term) -> prefix hash, over every log ever observed.
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, uint64_t> chains_;
  // Committed entries: [i] for index i (0 = unknown, index 0 unused).
  uint64_t max_committed_ = 0;
  std::vector<uint64_t> committed_chain_{0};
  std::vector<uint64_t> committed_term_{0};
  // An upper bound of the term in which each index was committed.
  std::vector<uint64_t> commit_term_{0};
  // What was applied at each index: (term, data hash).
  std::vector<std::pair<uint64_t, uint64_t>> applied_{{0, 0}};
};

// A short description of a message for traces: "1->2 MSG_APP t3 i5/2 c4 n2".
std::string DescribeMessage(const pb::Message& m);

}  // namespace consensus
