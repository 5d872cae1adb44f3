#include "consensus/memory_storage.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace consensus {

absl::Status ErrCompacted() { return absl::OutOfRangeError("raft: requested index is compacted"); }
absl::Status ErrUnavailable() { return absl::NotFoundError("raft: requested index is unavailable"); }
absl::Status ErrSnapshotTemporarilyUnavailable() {
  return absl::UnavailableError("raft: snapshot is temporarily unavailable");
}
bool IsErrCompacted(const absl::Status& s) { return s.code() == absl::StatusCode::kOutOfRange; }
bool IsErrUnavailable(const absl::Status& s) { return s.code() == absl::StatusCode::kNotFound; }
bool IsErrSnapshotTemporarilyUnavailable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable;
}

absl::StatusOr<PersistentState> MemoryStorage::InitialState() const {
  PersistentState st;
  st.hard_state = hard_state_;
  st.conf_state = has_conf_override_ ? conf_state_override_ : snapshot_.metadata().conf_state();
  return st;
}

absl::StatusOr<std::vector<pb::Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                              uint64_t max_bytes) const {
  if (lo <= offset()) return ErrCompacted();
  if (hi > offset() + entries_.size() + 1) return ErrUnavailable();
  std::vector<pb::Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const pb::Entry& e = entries_[i - offset() - 1];
    bytes += e.ByteSizeLong();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t i) const {
  if (i < offset()) return ErrCompacted();
  if (i == offset()) return compacted_term_;
  if (i > offset() + entries_.size()) return ErrUnavailable();
  return entries_[i - offset() - 1].term();
}

const pb::Entry* MemoryStorage::At(uint64_t i) const {
  if (i <= offset() || i > offset() + entries_.size()) return nullptr;
  return &entries_[i - offset() - 1];
}

absl::StatusOr<uint64_t> MemoryStorage::FirstIndex() const { return offset() + 1; }

absl::StatusOr<uint64_t> MemoryStorage::LastIndex() const { return offset() + entries_.size(); }

absl::StatusOr<pb::Snapshot> MemoryStorage::Snapshot() const { return snapshot_; }

absl::Status MemoryStorage::Append(std::vector<pb::Entry> entries) {
  if (entries.empty()) return absl::OkStatus();
  uint64_t last = offset() + entries_.size();
  uint64_t first_new = entries.front().index();
  if (first_new > last + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("raft: append at ", first_new, " leaves a gap after ", last));
  }
  size_t skip = 0;
  // Entries at or below the snapshot are already covered by it.
  if (first_new <= offset()) skip = offset() + 1 - first_new;
  if (skip >= entries.size()) return absl::OkStatus();
  uint64_t start = entries[skip].index();
  entries_.resize(start - offset() - 1);
  entries_.insert(entries_.end(), std::make_move_iterator(entries.begin() + skip),
                  std::make_move_iterator(entries.end()));
  return absl::OkStatus();
}

absl::Status MemoryStorage::ApplySnapshot(const pb::Snapshot& snapshot) {
  if (snapshot.metadata().index() < snapshot_.metadata().index()) {
    return absl::FailedPreconditionError("raft: snapshot is older than the current one");
  }
  snapshot_ = snapshot;
  compacted_index_ = snapshot.metadata().index();
  compacted_term_ = snapshot.metadata().term();
  entries_.clear();
  has_conf_override_ = false;
  return absl::OkStatus();
}

absl::StatusOr<pb::Snapshot> MemoryStorage::CreateSnapshot(uint64_t i, const pb::ConfState& cs,
                                                           std::string data) {
  if (i <= snapshot_.metadata().index()) {
    return absl::FailedPreconditionError("raft: snapshot is out of date");
  }
  absl::StatusOr<uint64_t> term = Term(i);
  if (!term.ok()) return term.status();
  pb::Snapshot snap;
  snap.set_data(std::move(data));
  snap.mutable_metadata()->set_index(i);
  snap.mutable_metadata()->set_term(*term);
  *snap.mutable_metadata()->mutable_conf_state() = cs;
  snapshot_ = snap;
  return snap;
}

absl::Status MemoryStorage::Compact(uint64_t compact_index) {
  if (compact_index <= offset()) return absl::OkStatus();
  if (compact_index > snapshot_.metadata().index()) {
    return absl::FailedPreconditionError(
        absl::StrCat("raft: compact to ", compact_index, " needs a snapshot at or past it"));
  }
  absl::StatusOr<uint64_t> term = Term(compact_index);
  if (!term.ok()) return term.status();
  entries_.erase(entries_.begin(), entries_.begin() + (compact_index - offset()));
  compacted_index_ = compact_index;
  compacted_term_ = *term;
  return absl::OkStatus();
}

}  // namespace consensus
