// Storage kept in memory: the twin of the RocksDB storage, for tests and the
// simulation. Not thread-safe; the host serializes access.
#pragma once

#include <cstdint>
#include <vector>

#include "consensus/storage.h"

namespace consensus {

class MemoryStorage : public Storage {
 public:
  MemoryStorage() = default;

  absl::StatusOr<PersistentState> InitialState() const override;
  absl::StatusOr<std::vector<pb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                 uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  absl::StatusOr<uint64_t> FirstIndex() const override;
  absl::StatusOr<uint64_t> LastIndex() const override;
  absl::StatusOr<pb::Snapshot> Snapshot() const override;
  // The entry at index i without copying it (Entries copies every entry it
  // returns); nullptr where the log holds none (compacted, or past the last
  // index). Valid until the next write.
  const pb::Entry* At(uint64_t i) const;

  // --- Writes, done by the host while processing a Ready. ---

  void SetHardState(const pb::HardState& hs) { hard_state_ = hs; }

  // Appends entries; an entry at an index already stored replaces it and
  // everything after it. Entries below the first index are skipped. Fails if
  // the entries would leave a gap after the last index.
  absl::Status Append(std::vector<pb::Entry> entries);

  // Replaces the whole log with a snapshot received from the leader. Fails
  // (without change) if it is older than the current one.
  absl::Status ApplySnapshot(const pb::Snapshot& snapshot);

  // Records a snapshot of the state machine at applied index i (<= LastIndex)
  // with the membership cs as of i. Does not drop entries: see Compact.
  absl::StatusOr<pb::Snapshot> CreateSnapshot(uint64_t i, const pb::ConfState& cs,
                                              std::string data);

  // Drops entries up to and including compact_index (which must be <= the
  // last index); the caller must have a snapshot at or past it.
  absl::Status Compact(uint64_t compact_index);

  // Membership as of the snapshot is in the snapshot; this overrides what
  // InitialState() reports (a host that persists membership on apply).
  void SetConfState(const pb::ConfState& cs) { conf_state_override_ = cs; has_conf_override_ = true; }

  const pb::HardState& hard_state() const { return hard_state_; }

 private:
  uint64_t offset() const { return compacted_index_; }

  pb::HardState hard_state_;
  pb::Snapshot snapshot_;
  // The log holds entries (compacted_index_, last]; compacted_term_ is the
  // term of the entry at compacted_index_, kept for the log-matching check.
  uint64_t compacted_index_ = 0;
  uint64_t compacted_term_ = 0;
  std::vector<pb::Entry> entries_;  // entries_[k] has index offset()+1+k
  pb::ConfState conf_state_override_;
  bool has_conf_override_ = false;
};

}  // namespace consensus
