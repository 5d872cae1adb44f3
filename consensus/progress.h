// What the leader knows about each follower's log, and how it paces
// replication to it (the per-peer "replicator" state, one object per peer).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "consensus/quorum.h"
#include "consensus/raft.pb.h"

namespace consensus {

enum class ProgressState {
  // Next is a guess: send one append at a time until one is accepted.
  kProbe,
  // Next is known: stream appends optimistically, up to the in-flight window.
  kReplicate,
  // Entries the follower needs were compacted; a snapshot is on its way.
  kSnapshot,
};

const char* ProgressStateName(ProgressState s);

// How much a leader may have in flight to one follower: appends, and bytes
// of entry payload (0: no byte limit). The byte limit keeps a follower's
// next log write small whatever the entries' size, so its answers (and the
// leader's lease) never wait behind a huge fsync.
struct InflightLimits {
  size_t msgs = 256;
  uint64_t bytes = 0;
};

// Appends sent but not yet acknowledged, as the last index and payload bytes
// of each, oldest first. Bounded so a slow follower cannot make the leader
// buffer forever.
class Inflights {
 public:
  explicit Inflights(InflightLimits limits) : limits_(limits) {}
  bool Full() const { return window_.size() >= limits_.msgs || (limits_.bytes > 0 && bytes_ >= limits_.bytes); }
  size_t Count() const { return window_.size(); }
  uint64_t Bytes() const { return bytes_; }
  void Add(uint64_t last_index, uint64_t bytes) {
    window_.emplace_back(last_index, bytes);
    bytes_ += bytes;
  }
  // Frees every append whose last index is <= index.
  void FreeLE(uint64_t index);
  void FreeFirstOne();
  void Reset() {
    window_.clear();
    bytes_ = 0;
  }

 private:
  InflightLimits limits_;
  std::deque<std::pair<uint64_t, uint64_t>> window_;  // (last index, bytes)
  uint64_t bytes_ = 0;
};

struct Progress {
  explicit Progress(InflightLimits limits) : inflights(limits) {}

  uint64_t match = 0;  // highest index known to be replicated
  uint64_t next = 1;   // next index to send
  ProgressState state = ProgressState::kProbe;
  uint64_t pending_snapshot = 0;  // index of the snapshot in flight (kSnapshot)
  // In kProbe: an append was sent and we wait for its answer or a heartbeat.
  bool probe_sent = false;
  uint64_t probe_sent_at = 0;  // the leader's tick when it was sent
  // Heard from since the last check-quorum round (also: may get a snapshot).
  bool recent_active = false;
  bool is_learner = false;
  // 1 + the leader tick at which the newest heartbeat this follower
  // acknowledged was sent (0: none): the follower promised not to vote for
  // anyone else until an election timeout after that.
  uint64_t lease_ack = 0;
  // kReplicate: the leader's tick since which the appends in flight have gone
  // unanswered: the sending of the first append of an empty window, the last
  // answer that advanced match, or the last time an unanswered full window
  // was freed.
  uint64_t unanswered_since = 0;
  Inflights inflights;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // The follower acknowledged index n. Returns whether match advanced.
  bool MaybeUpdate(uint64_t n);
  // The follower rejected the append at `rejected`; hint is the last index
  // that may match. Returns false for a stale rejection.
  bool MaybeDecrTo(uint64_t rejected, uint64_t hint);
  // Records that an append carrying entries up to last_index (count of them,
  // `bytes` of payload) was sent at the leader's tick `now`.
  void SentEntries(size_t count, uint64_t last_index, uint64_t bytes, uint64_t now);
  // Whether sending appends should wait (probe in flight, window full, or a
  // snapshot in flight).
  bool IsPaused() const;
};

// The membership plus each member's progress. Iteration is in id order so the
// core's output is deterministic.
class ProgressTracker {
 public:
  explicit ProgressTracker(InflightLimits limits) : max_inflight_(limits) {}

  // Rebuilds the membership (progress of unknown members starts at match 0,
  // next = next_index).
  void Reset(const pb::ConfState& cs, uint64_t next_index);
  void AddVoter(uint64_t id, uint64_t next_index);
  void AddLearner(uint64_t id, uint64_t next_index);
  void Remove(uint64_t id);

  Progress* Get(uint64_t id);
  const Progress* Get(uint64_t id) const;
  bool IsVoter(uint64_t id) const { return voters_.Contains(id); }
  bool IsLearner(uint64_t id) const { return learners_.contains(id); }
  bool IsMember(uint64_t id) const { return IsVoter(id) || IsLearner(id); }
  const MajorityConfig& voters() const { return voters_; }
  pb::ConfState ConfState() const;

  // The largest index replicated on a majority of voters.
  uint64_t Committed() const;
  // The largest lease_ack that a majority of voters reached (self counts as
  // `now`, in the same +1 encoding).
  uint64_t QuorumLeaseAck(uint64_t self, uint64_t now, const absl::btree_set<uint64_t>& not_counted) const;
  // Whether a majority of voters was recently active (the leader counts as
  // active; pass its id).
  bool QuorumActive(uint64_t self) const;

  void ResetVotes() { votes_.clear(); }
  void RecordVote(uint64_t id, bool granted) { votes_.try_emplace(id, granted); }
  VoteResult TallyVotes() const;

  InflightLimits max_inflight() const { return max_inflight_; }
  absl::btree_map<uint64_t, Progress>& progress() { return progress_; }
  const absl::btree_map<uint64_t, Progress>& progress() const { return progress_; }

 private:
  InflightLimits max_inflight_;
  MajorityConfig voters_;
  absl::btree_set<uint64_t> learners_;
  absl::btree_map<uint64_t, Progress> progress_;
  absl::btree_map<uint64_t, bool> votes_;
};

}  // namespace consensus
