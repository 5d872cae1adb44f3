#include "consensus/log.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "consensus/fatal.h"

namespace consensus {

template <typename T>
T MustOk(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) Fatal(absl::StrCat("raft: storage ", what, " failed: ", v.status().ToString()));
  return *std::move(v);
}
template uint64_t MustOk(absl::StatusOr<uint64_t>, const char*);
template std::vector<pb::Entry> MustOk(absl::StatusOr<std::vector<pb::Entry>>, const char*);
template PersistentState MustOk(absl::StatusOr<PersistentState>, const char*);

// ---------------------------------------------------------------- Unstable

std::optional<uint64_t> Unstable::MaybeFirstIndex() const {
  if (snapshot_) return snapshot_->metadata().index() + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeLastIndex() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->metadata().index();
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeTerm(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->metadata().index() == i) return snapshot_->metadata().term();
    return std::nullopt;
  }
  if (i >= offset_ + entries_.size()) return std::nullopt;
  return entries_[i - offset_].term();
}

void Unstable::StableTo(uint64_t i, uint64_t t) {
  if (i < offset_ || i >= offset_ + entries_.size()) return;
  if (entries_[i - offset_].term() != t) return;
  entries_.erase(entries_.begin(), entries_.begin() + (i + 1 - offset_));
  offset_ = i + 1;
}

void Unstable::StableSnapTo(uint64_t i) {
  if (snapshot_ && snapshot_->metadata().index() == i) snapshot_.reset();
}

void Unstable::Restore(pb::Snapshot snapshot) {
  offset_ = snapshot.metadata().index() + 1;
  entries_.clear();
  snapshot_ = std::move(snapshot);
}

void Unstable::TruncateAndAppend(std::vector<pb::Entry> entries) {
  if (entries.empty()) return;
  uint64_t after = entries.front().index();
  if (after == offset_ + entries_.size()) {
    // The common case: a plain append.
  } else if (after <= offset_) {
    // Replaces the whole unstable tail (and shadows stable entries >= after).
    offset_ = after;
    entries_.clear();
  } else {
    entries_.resize(after - offset_);
  }
  if (entries_.empty()) {
    entries_ = std::move(entries);
  } else {
    entries_.insert(entries_.end(), std::make_move_iterator(entries.begin()),
                    std::make_move_iterator(entries.end()));
  }
}

std::vector<pb::Entry> Unstable::Slice(uint64_t lo, uint64_t hi) const {
  RAFT_CHECK(lo >= offset_ && hi <= offset_ + entries_.size() && lo <= hi, "unstable slice [", lo,
             ",", hi, ") out of [", offset_, ",", offset_ + entries_.size(), ")");
  return std::vector<pb::Entry>(entries_.begin() + (lo - offset_), entries_.begin() + (hi - offset_));
}

// ---------------------------------------------------------------- RaftLog

RaftLog::RaftLog(const Storage* storage, uint64_t max_applying_bytes)
    : storage_(storage), max_applying_bytes_(max_applying_bytes) {
  uint64_t first = MustOk(storage_->FirstIndex(), "FirstIndex");
  uint64_t last = MustOk(storage_->LastIndex(), "LastIndex");
  unstable_.set_offset(last + 1);
  // Everything up to the compaction point was committed and applied.
  committed_ = first - 1;
  applied_ = first - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (auto i = unstable_.MaybeFirstIndex()) return *i;
  return MustOk(storage_->FirstIndex(), "FirstIndex");
}

uint64_t RaftLog::LastIndex() const {
  if (auto i = unstable_.MaybeLastIndex()) return *i;
  return MustOk(storage_->LastIndex(), "LastIndex");
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  uint64_t dummy = FirstIndex() - 1;
  if (i < dummy) return ErrCompacted();
  if (i > LastIndex()) return ErrUnavailable();
  if (auto t = unstable_.MaybeTerm(i)) return *t;
  absl::StatusOr<uint64_t> t = storage_->Term(i);
  if (t.ok() || IsErrCompacted(t.status()) || IsErrUnavailable(t.status())) return t;
  Fatal(absl::StrCat("raft: storage Term(", i, ") failed: ", t.status().ToString()));
}

uint64_t RaftLog::LastTerm() const {
  absl::StatusOr<uint64_t> t = Term(LastIndex());
  RAFT_CHECK(t.ok(), "term of last index: ", t.status().ToString());
  return *t;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t t) const {
  absl::StatusOr<uint64_t> term = Term(i);
  return term.ok() && *term == t;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  uint64_t our_term = LastTerm();
  return last_term > our_term || (last_term == our_term && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             std::vector<pb::Entry> entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + entries.size();
  uint64_t conflict = FindConflict(entries);
  if (conflict != 0) {
    RAFT_CHECK(conflict > committed_, "entry ", conflict, " conflicts with committed entry (commit ",
               committed_, ")");
    entries.erase(entries.begin(), entries.begin() + (conflict - (index + 1)));
    Append(std::move(entries));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(std::vector<pb::Entry> entries) {
  if (entries.empty()) return LastIndex();
  uint64_t after = entries.front().index() - 1;
  RAFT_CHECK(after >= committed_, "append after ", after, " would truncate committed ", committed_);
  unstable_.TruncateAndAppend(std::move(entries));
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<pb::Entry>& entries) const {
  for (const pb::Entry& e : entries) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (;;) {
    absl::StatusOr<uint64_t> t = Term(index);
    if (!t.ok() || *t <= term || index == 0) return index;
    --index;
  }
}

absl::StatusOr<std::vector<pb::Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                      uint64_t max_bytes) const {
  if (lo < FirstIndex()) return ErrCompacted();
  RAFT_CHECK(lo <= hi && hi <= LastIndex() + 1, "slice [", lo, ",", hi, ") past last index ",
             LastIndex());
  std::vector<pb::Entry> out;
  if (lo == hi) return out;
  uint64_t off = unstable_.offset();
  if (lo < off) {
    absl::StatusOr<std::vector<pb::Entry>> stored = storage_->Entries(lo, std::min(hi, off), max_bytes);
    if (!stored.ok()) {
      if (IsErrCompacted(stored.status())) return stored.status();
      Fatal(absl::StrCat("raft: storage Entries(", lo, ",", std::min(hi, off),
                         ") failed: ", stored.status().ToString()));
    }
    out = *std::move(stored);
    // The size limit cut the stable part short: stop there.
    if (out.size() < std::min(hi, off) - lo) return out;
  }
  if (hi > off) {
    uint64_t bytes = 0;
    for (const pb::Entry& e : out) bytes += e.ByteSizeLong();
    for (uint64_t i = std::max(lo, off); i < hi; ++i) {
      const pb::Entry& e = unstable_.entries()[i - off];
      bytes += e.ByteSizeLong();
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(e);
    }
  }
  return out;
}

absl::StatusOr<std::vector<pb::Entry>> RaftLog::Entries(uint64_t i, uint64_t max_bytes) const {
  if (i > LastIndex()) return std::vector<pb::Entry>();
  return Slice(i, LastIndex() + 1, max_bytes);
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_) {
    absl::StatusOr<uint64_t> t = Term(max_index);
    if (t.ok() && *t == term) {
      CommitTo(max_index);
      return true;
    }
  }
  return false;
}

void RaftLog::CommitTo(uint64_t c) {
  if (c <= committed_) return;
  RAFT_CHECK(c <= LastIndex(), "commit ", c, " past last index ", LastIndex());
  committed_ = c;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  RAFT_CHECK(i <= committed_ && i >= applied_, "applied ", i, " outside [", applied_, ",",
             committed_, "]");
  applied_ = i;
}

bool RaftLog::HasNextCommittedEntries() const {
  return std::min(committed_, PersistedLastIndex()) > std::max(applying(), FirstIndex() - 1);
}

std::vector<pb::Entry> RaftLog::TakeNextCommittedEntries() {
  const uint64_t lo = std::max(applying() + 1, FirstIndex());
  const uint64_t hi = std::min(committed_, PersistedLastIndex());
  if (hi < lo) return {};
  absl::StatusOr<std::vector<pb::Entry>> ents = Slice(lo, hi + 1, max_applying_bytes_);
  RAFT_CHECK(ents.ok(), "committed entries [", lo, ",", hi + 1, "): ", ents.status().ToString());
  applying_ = ents->back().index();
  return *std::move(ents);
}

absl::StatusOr<pb::Snapshot> RaftLog::Snapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  absl::StatusOr<pb::Snapshot> s = storage_->Snapshot();
  if (s.ok() || IsErrSnapshotTemporarilyUnavailable(s.status())) return s;
  Fatal(absl::StrCat("raft: storage Snapshot failed: ", s.status().ToString()));
}

void RaftLog::Restore(pb::Snapshot snapshot) {
  committed_ = snapshot.metadata().index();
  unstable_.Restore(std::move(snapshot));
}

uint64_t RaftLog::PersistedLastIndex() const {
  if (unstable_.snapshot()) return 0;
  return unstable_.offset() - 1;
}

}  // namespace consensus
