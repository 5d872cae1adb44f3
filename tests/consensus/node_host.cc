#include "tests/consensus/node_host.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace consensus::testing {

NodeHost::NodeHost(uint64_t id, const std::vector<uint64_t>& voters, const Config& base,
                   InvariantChecker* checker)
    : id_(id), config_(base), checker_(checker), storage_(std::make_unique<MemoryStorage>()) {
  config_.id = id;
  config_.storage = storage_.get();
  if (!voters.empty()) {
    std::vector<pb::Entry> boot = BootstrapEntries(voters);
    (void)storage_->Append(boot);
    pb::HardState hs;
    hs.set_term(1);
    hs.set_commit(boot.size());
    storage_->SetHardState(hs);
    (void)checker_->ObserveAppend(id, boot);
    (void)checker_->ObserveCommit(id, 1, boot.size());
  }
}

void NodeHost::RestoreStateMachine(const pb::Snapshot& snap) {
  data_.clear();
  if (!snap.data().empty()) data_ = absl::StrSplit(snap.data(), '|');
  applied_ = snap.metadata().index();
  conf_ = snap.metadata().conf_state();
}

absl::Status NodeHost::Start() {
  absl::StatusOr<pb::Snapshot> snap = storage_->Snapshot();
  if (!snap.ok()) return snap.status();
  RestoreStateMachine(*snap);
  checker_->ObserveRestart(id_, applied_);
  config_.applied = applied_;
  // A restarted core draws new election timeouts.
  config_.random_seed = config_.random_seed * 31 + 17;
  absl::StatusOr<std::unique_ptr<Raft>> r = Raft::Create(config_);
  if (!r.ok()) return r.status();
  raft_ = *std::move(r);
  pending_.reset();
  read_floor_.clear();
  return absl::OkStatus();
}

void NodeHost::Crash() {
  raft_.reset();
  pending_.reset();
}

std::optional<std::vector<pb::Message>> NodeHost::BeginReady() {
  if (!up() || pending_ || !raft_->HasReady()) return std::nullopt;
  pending_ = raft_->GetReady();
  // Committed entries are durable already: applied before the persist (raft.h).
  applied_early_ = ApplyCommitted(pending_->committed_entries);  // reported by FinishReady
  // raft.h lets these leave before the persist (and snapshots go first, as
  // the node's sender streams the file); exercise that.
  std::vector<pb::Message> early, rest;
  for (pb::Message& m : pending_->messages) {
    const bool now = raft_->SendableBeforeWrite(m) || m.type() == pb::MSG_SNAP;
    (now ? early : rest).push_back(std::move(m));
  }
  pending_->messages = std::move(rest);
  return early;
}

absl::StatusOr<std::vector<pb::Message>> NodeHost::TakeUnblocked() {
  if (!up() || !pending_) return std::vector<pb::Message>();
  Raft::Unblocked out = raft_->TakeUnblocked();
  absl::Status s = ApplyCommitted(out.committed_entries);
  if (!s.ok()) return s;
  s = ObserveReads(out.read_states);
  if (!s.ok()) return s;
  return std::move(out.messages);
}

absl::Status NodeHost::ObserveReads(const std::vector<ReadState>& states) {
  for (const ReadState& rs : states) {
    auto it = read_floor_.find(rs.request_ctx);
    if (it == read_floor_.end()) continue;  // asked before a restart
    absl::Status s = checker_->ObserveRead(id_, it->second, rs.index);
    if (!s.ok()) return s;
    read_floor_.erase(it);
    read_results_.push_back(rs);
  }
  return absl::OkStatus();
}

absl::Status NodeHost::Persist(const Ready& rd) {
  if (rd.snapshot) {
    absl::Status s = storage_->ApplySnapshot(*rd.snapshot);
    if (!s.ok()) return s;
    s = checker_->ObserveSnapshot(id_, rd.snapshot->metadata());
    if (!s.ok()) return s;
  }
  if (!rd.entries.empty()) {
    absl::Status s = storage_->Append(rd.entries);
    if (!s.ok()) return s;
    s = checker_->ObserveAppend(id_, rd.entries);
    if (!s.ok()) return s;
  }
  if (rd.hard_state) {
    storage_->SetHardState(*rd.hard_state);
    absl::Status s = checker_->ObserveCommit(id_, rd.hard_state->term(), rd.hard_state->commit());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status NodeHost::Apply(const Ready& rd) {
  if (rd.snapshot) {
    RestoreStateMachine(*rd.snapshot);
    absl::Status s = checker_->ObserveApplySnapshot(id_, rd.snapshot->metadata());
    if (!s.ok()) return s;
  }
  return ObserveReads(rd.read_states);
}

absl::Status NodeHost::ApplyCommitted(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return absl::OkStatus();
  // The commit the core learnt, as far as this node's durable log reaches.
  const RaftLog& log = raft_->log();
  absl::Status s = checker_->ObserveLearntCommit(id_, raft_->term(), std::min(log.committed(), log.PersistedLastIndex()));
  if (!s.ok()) return s;
  for (const pb::Entry& e : entries) {
    s = checker_->ObserveApply(id_, e);
    if (!s.ok()) return s;
    if (e.type() == pb::ENTRY_CONF_CHANGE) {
      pb::ConfChange cc;
      if (!cc.ParseFromString(e.data())) return absl::InternalError("bad conf change entry");
      conf_ = raft_->ApplyConfChange(cc);
    } else if (!e.data().empty()) {
      data_.push_back(e.data());
    }
    applied_ = e.index();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<pb::Message>> NodeHost::FinishReady() {
  if (!applied_early_.ok()) return std::exchange(applied_early_, absl::OkStatus());  // even after a crash
  if (!pending_) return std::vector<pb::Message>();
  Ready rd = *std::move(pending_);
  pending_.reset();
  absl::Status s = Persist(rd);
  if (!s.ok()) return s;
  s = Apply(rd);
  if (!s.ok()) return s;
  std::vector<pb::Message> out = std::move(rd.messages);
  // As the node does, the host keeps no copy of what it stored and applied:
  // Advance() must not need the entries themselves.
  std::vector<pb::Entry>().swap(rd.entries);
  std::vector<pb::Entry>().swap(rd.committed_entries);
  raft_->Advance(rd);
  if (raft_->role() == Role::kLeader) {
    s = checker_->ObserveLeader(id_, raft_->term(), raft_->log());
    if (!s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::vector<pb::Message>> NodeHost::DrainReady() {
  std::vector<pb::Message> all;
  if (pending_) {
    absl::StatusOr<std::vector<pb::Message>> rest = FinishReady();
    if (!rest.ok()) return rest.status();
    for (pb::Message& m : *rest) all.push_back(std::move(m));
  }
  while (std::optional<std::vector<pb::Message>> early = BeginReady()) {
    for (pb::Message& m : *early) all.push_back(std::move(m));
    absl::StatusOr<std::vector<pb::Message>> rest = FinishReady();
    if (!rest.ok()) return rest.status();
    for (pb::Message& m : *rest) all.push_back(std::move(m));
  }
  return all;
}

absl::Status NodeHost::SnapshotAndCompact(uint64_t keep) {
  absl::StatusOr<pb::Snapshot> cur = storage_->Snapshot();
  if (!cur.ok()) return cur.status();
  if (applied_ <= cur->metadata().index()) return absl::OkStatus();
  absl::StatusOr<pb::Snapshot> snap =
      storage_->CreateSnapshot(applied_, conf_, absl::StrJoin(data_, "|"));
  if (!snap.ok()) return snap.status();
  if (applied_ > keep) return storage_->Compact(applied_ - keep);
  return absl::OkStatus();
}

absl::Status NodeHost::ReadIndex() {
  std::string ctx = absl::StrCat("r", id_, "-", ++next_read_);
  absl::Status s = raft_->ReadIndex(ctx);
  if (s.ok()) read_floor_[ctx] = checker_->ReadFloor();
  return s;
}

}  // namespace consensus::testing
