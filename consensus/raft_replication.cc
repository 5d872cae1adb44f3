// The leader's side of replication: appends and heartbeats to each peer,
// and the commit index they advance. (Their answers are handled in raft.cc.)
#include <algorithm>

#include "consensus/fatal.h"
#include "consensus/raft.h"

namespace consensus {

// ---------------------------------------------------------------- replication

void Raft::Send(pb::Message m) {
  m.set_from(id_);
  // Vote messages and their responses carry an explicit term; forwarded
  // requests carry none.
  if (m.term() == 0 && !IsTermless(m.type())) m.set_term(term_);
  msgs_.push_back(std::move(m));
}

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  Progress* pr = trk_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  const uint64_t prev = pr->next - 1;
  absl::StatusOr<uint64_t> prev_term = log_.Term(prev);
  absl::StatusOr<std::vector<pb::Entry>> ents =
      prev_term.ok() ? log_.Entries(pr->next, max_size_per_msg_) : prev_term.status();
  if (!ents.ok()) {
    if (!IsErrCompacted(ents.status())) return false;
    // The follower needs entries we no longer have: send the snapshot, but
    // only to a follower we know is alive (it is expensive).
    if (!pr->recent_active) return false;
    absl::StatusOr<pb::Snapshot> snap = log_.Snapshot();
    if (!snap.ok()) return false;  // temporarily unavailable: retry later
    uint64_t sindex = snap->metadata().index();
    RAFT_CHECK(sindex != 0, "need a snapshot for ", to, " but storage has none");
    pb::Message m = NewMessage(pb::MSG_SNAP, to);
    *m.mutable_snapshot() = *std::move(snap);
    Send(std::move(m));
    pr->BecomeSnapshot(sindex);
    return true;
  }
  if (ents->empty() && !send_if_empty) return false;
  pb::Message m = NewMessage(pb::MSG_APP, to);
  m.set_index(prev);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  const size_t n = ents->size();
  const uint64_t last = n > 0 ? ents->back().index() : prev;
  uint64_t bytes = 0;
  m.mutable_entries()->Reserve(static_cast<int>(n));
  for (pb::Entry& e : *ents) {
    bytes += e.data().size();
    *m.add_entries() = std::move(e);
  }
  Send(std::move(m));
  pr->SentEntries(n, last, bytes, now_);
  if (pr->state == ProgressState::kProbe) pr->probe_sent_at = now_;
  return true;
}

void Raft::SendAppends(uint64_t to, bool send_if_empty) {
  if (!MaybeSendAppend(to, send_if_empty)) return;
  const Progress* pr = trk_.Get(to);
  while (pr->state == ProgressState::kReplicate && MaybeSendAppend(to, false)) {
  }
}

void Raft::SendHeartbeat(uint64_t to, const std::string& context) {
  const Progress* pr = trk_.Get(to);
  pb::Message m = NewMessage(pb::MSG_HEARTBEAT, to);
  // Never tell a follower to commit past what it is known to have: its log
  // beyond match may still differ from ours.
  m.set_commit(std::min(pr->match, log_.committed()));
  m.set_context(context);
  m.set_index(now_ + 1);  // our send tick, +1 so that 0 means none
  Send(std::move(m));
}

// A heartbeat tells a follower of a commit only up to what it is known to
// hold (its match): under load that is often below the removal's own entry,
// and a removed node that never learnt of it campaigned for ever. So it gets
// the entries after its match up to the commit, with the commit, in one
// append (in the order of its other appends or not: an append after the
// known match is always safe to take). Past kMaxPartingBytes, or compacted
// away, a heartbeat is all it gets.
void Raft::SendParting(uint64_t to) {
  constexpr uint64_t kMaxPartingBytes = 64 << 20;
  const Progress* pr = trk_.Get(to);
  const uint64_t prev = pr->match, commit = log_.committed();
  absl::StatusOr<uint64_t> prev_term = log_.Term(prev);
  if (prev < commit && prev_term.ok()) {
    absl::StatusOr<std::vector<pb::Entry>> ents = log_.Slice(prev + 1, commit + 1, kMaxPartingBytes);
    if (ents.ok() && !ents->empty() && ents->back().index() == commit) {
      pb::Message m = NewMessage(pb::MSG_APP, to);
      m.set_index(prev);
      m.set_log_term(*prev_term);
      m.set_commit(commit);
      m.mutable_entries()->Reserve(static_cast<int>(ents->size()));
      for (pb::Entry& e : *ents) *m.add_entries() = std::move(e);
      Send(std::move(m));
      return;
    }
  }
  SendHeartbeat(to, "");
}

void Raft::BcastAppend(bool send_if_empty) {
  for (const auto& [id, pr] : trk_.progress()) {
    if (id != id_) SendAppends(id, send_if_empty);
  }
}

void Raft::BcastHeartbeat(const std::string& context) {
  for (const auto& [id, pr] : trk_.progress()) {
    if (id != id_) SendHeartbeat(id, context);
  }
}

// The transferee's forced campaign may win the votes of peers whose
// acknowledgements hold this leader's lease (a forced vote breaks their
// promise), and a transfer abandoned after an election timeout makes the lease
// count again: only acknowledgements of heartbeats sent an election timeout
// after this one count (by then its campaign has ended, README: lease reads).
void Raft::SendTimeoutNow(uint64_t to) {
  lease_floor_ = now_ + static_cast<uint64_t>(election_tick_);
  Send(NewMessage(pb::MSG_TIMEOUT_NOW, to));
}

bool Raft::MaybeCommit() { return log_.MaybeCommit(trk_.Committed(), term_); }

bool Raft::CommittedEntryInCurrentTerm() const {
  absl::StatusOr<uint64_t> t = log_.Term(log_.committed());
  return t.ok() && *t == term_;
}

void Raft::OnCommitAdvanced() {
  pending_bcast_commit_ = true;
  if (!reads_waiting_for_commit_.empty() && CommittedEntryInCurrentTerm()) {
    std::vector<ReadRequest> waiting = std::move(reads_waiting_for_commit_);
    reads_waiting_for_commit_.clear();
    for (ReadRequest& req : waiting) HandleReadIndexOnLeader(std::move(req));
  }
}

void Raft::AppendEntries(std::vector<pb::Entry> entries) {
  uint64_t li = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].set_term(term_);
    entries[i].set_index(li + 1 + i);
  }
  log_.Append(std::move(entries));
  // The leader's own progress advances when the host reports the entries
  // durable (Advance), so commit never counts an unpersisted copy.
  pending_bcast_entries_ = true;
}

void Raft::FlushBroadcasts() {
  if (role_ == Role::kLeader) {
    if (pending_bcast_entries_ || pending_bcast_commit_) BcastAppend(pending_bcast_commit_);
    if (pending_read_heartbeat_) BcastHeartbeat(read_only_.LastKey());
  }
  pending_bcast_entries_ = false;
  pending_bcast_commit_ = false;
  pending_read_heartbeat_ = false;
}

void Raft::UpdateSelfProgress() {
  if (role_ != Role::kLeader) return;
  Progress* self = trk_.Get(id_);
  if (self == nullptr) return;
  if (self->MaybeUpdate(log_.PersistedLastIndex()) && MaybeCommit()) OnCommitAdvanced();
}

}  // namespace consensus
