// The stable part of the Raft log, as the core sees it.
//
// The core keeps entries the host has not yet persisted (the unstable tail)
// itself and reads everything older through this interface. The host writes
// to its storage (append, apply snapshot, compact) in its own way between
// GetReady() and Advance(); the core only reads. Implementations: MemoryStorage
// (tests) and the RocksDB one in storage/.
//
// Error contract: ErrCompacted() and ErrUnavailable() are expected answers and
// the core handles them; ErrSnapshotTemporarilyUnavailable() from Snapshot()
// makes the core retry later. Any other error is fatal: the core fail-stops
// (see fatal.h), because a node that cannot read its own log must not vote or
// acknowledge anything.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consensus/raft.pb.h"

namespace consensus {

// What a restarting node reloads. conf_state must be the membership as of the
// applied index the host passes in Config::applied (after a restart that
// replays from the snapshot, the snapshot's conf_state).
struct PersistentState {
  pb::HardState hard_state;
  pb::ConfState conf_state;
};

// The index asked for is below the first index (compacted into a snapshot).
absl::Status ErrCompacted();
// The index asked for is past the last index.
absl::Status ErrUnavailable();
// Snapshot() cannot produce one right now; the core retries on a later tick.
absl::Status ErrSnapshotTemporarilyUnavailable();
bool IsErrCompacted(const absl::Status& s);
bool IsErrUnavailable(const absl::Status& s);
bool IsErrSnapshotTemporarilyUnavailable(const absl::Status& s);

class Storage {
 public:
  virtual ~Storage() = default;

  virtual absl::StatusOr<PersistentState> InitialState() const = 0;

  // Entries [lo, hi), at most max_bytes in total (by ByteSizeLong) but always
  // at least one entry when lo < hi. ErrCompacted if lo <= the snapshot index.
  virtual absl::StatusOr<std::vector<pb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                         uint64_t max_bytes) const = 0;

  // Term of entry i, for i in [FirstIndex()-1, LastIndex()]; FirstIndex()-1 is
  // the snapshot's index and answers with the snapshot's term.
  virtual absl::StatusOr<uint64_t> Term(uint64_t i) const = 0;

  // Index of the first entry still stored (snapshot index + 1).
  virtual absl::StatusOr<uint64_t> FirstIndex() const = 0;

  // Index of the last entry stored (the snapshot index when there is none).
  virtual absl::StatusOr<uint64_t> LastIndex() const = 0;

  // The most recent snapshot, sent to followers that need compacted entries.
  virtual absl::StatusOr<pb::Snapshot> Snapshot() const = 0;
};

}  // namespace consensus
