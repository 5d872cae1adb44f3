// The Raft log as the core sees it: the stable prefix behind Storage, plus the
// unstable tail (entries and possibly a snapshot) the host has not persisted.
//
// Indexes: the log covers (FirstIndex()-1, LastIndex()]; the entry at
// FirstIndex()-1 is only known by its term (a snapshot or a compaction point).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "consensus/raft.pb.h"
#include "consensus/storage.h"

namespace consensus {

// Entries received or proposed but not yet persisted, and a snapshot received
// but not yet persisted. Entries start at offset(); a snapshot, if any, is at
// offset()-1.
class Unstable {
 public:
  std::optional<uint64_t> MaybeFirstIndex() const;
  std::optional<uint64_t> MaybeLastIndex() const;
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;

  // The host persisted entries up to (i, t). Ignored if the tail changed since
  // (the entry at i is gone or has another term): it will be handed out again.
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i);
  void Restore(pb::Snapshot snapshot);
  // Appends entries, replacing any unstable entry at or after the first one's
  // index. Entries must start at or before LastIndex()+1 of the whole log.
  void TruncateAndAppend(std::vector<pb::Entry> entries);
  // Copies of entries [lo, hi); lo >= offset(), hi <= offset()+size.
  std::vector<pb::Entry> Slice(uint64_t lo, uint64_t hi) const;

  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t o) { offset_ = o; }
  const std::vector<pb::Entry>& entries() const { return entries_; }
  const std::optional<pb::Snapshot>& snapshot() const { return snapshot_; }

 private:
  std::optional<pb::Snapshot> snapshot_;
  std::vector<pb::Entry> entries_;
  uint64_t offset_ = 0;
};

class RaftLog {
 public:
  // Reads first/last index from storage. max_applying_bytes bounds the size of
  // committed entries handed out in one Ready (at least one entry).
  RaftLog(const Storage* storage, uint64_t max_applying_bytes);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i. ErrCompacted below FirstIndex()-1, ErrUnavailable past
  // LastIndex().
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t t) const;
  // Whether a log ending at (last_index, last_term) is at least as up to date
  // as ours (Raft §5.4.1).
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // The follower's side of AppendEntries: if our entry at `index` has term
  // `log_term`, merges `entries` after it (truncating from the first conflict)
  // and commits up to min(committed, last new index). Returns the last new
  // index, or nullopt when the terms do not match.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      std::vector<pb::Entry> entries);
  // Appends entries to the unstable tail; returns the new last index. Never
  // truncates committed entries (fatal).
  uint64_t Append(std::vector<pb::Entry> entries);
  // Index of the first entry whose term differs from ours (or that we lack);
  // 0 when all entries are already in the log.
  uint64_t FindConflict(const std::vector<pb::Entry>& entries) const;
  // The largest index <= index whose term is <= term (or the first index whose
  // term is unknown). Used on both ends of a rejected append to skip a whole
  // conflicting term at once.
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries [lo, hi) within max_bytes (always at least one), stable then
  // unstable. ErrCompacted if lo < FirstIndex().
  absl::StatusOr<std::vector<pb::Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  // Entries from i to the end, within max_bytes. Empty if i > LastIndex().
  absl::StatusOr<std::vector<pb::Entry>> Entries(uint64_t i, uint64_t max_bytes) const;

  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void CommitTo(uint64_t c);
  void AppliedTo(uint64_t i);

  // Committed entries after those handed out (applying()) that are durable
  // here (up to PersistedLastIndex()), bounded by max_applying_bytes.
  bool HasNextCommittedEntries() const;
  // Hands them out: the host applies them before it next calls Advance()
  // (applied() follows then).
  std::vector<pb::Entry> TakeNextCommittedEntries();

  // Snapshot to send to a follower: the unstable one if any, else storage's.
  absl::StatusOr<pb::Snapshot> Snapshot() const;
  // Discards the whole log in favour of a snapshot (follower side).
  void Restore(pb::Snapshot snapshot);

  // Everything up to this index is durable on this node and belongs to the
  // current log (0 while a received snapshot is not persisted).
  uint64_t PersistedLastIndex() const;

  Unstable& unstable() { return unstable_; }
  const Unstable& unstable() const { return unstable_; }
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  uint64_t applying() const { return std::max(applying_, applied_); }

 private:
  const Storage* storage_;
  Unstable unstable_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t applying_ = 0;  // the last committed entry handed out (see applying())
  uint64_t max_applying_bytes_;
};

// Unwraps a storage answer that may not fail (fail-stop otherwise).
template <typename T>
T MustOk(absl::StatusOr<T> v, const char* what);

}  // namespace consensus
