// ReplicatedLog's snapshots: the newest durable one loaded at start, one
// received from the leader installed, one of this node's own adopted (its
// file checked and fsynced, the log compacted behind it, a tail kept for
// followers).

#include <malloc.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "node/cluster/replicated_log.h"
#include "node/logged_state.h"
#include "node/logging.h"

namespace node {

namespace cpb = consensus::pb;

namespace {
constexpr char kSnapshotKey[] = "snapshot";           // the newest snapshot
constexpr char kPrevSnapshotKey[] = "snapshot.prev";  // the one before: the log goes back to it

// Freed heap memory beyond `keep` goes back to the system. glibc keeps what
// is freed (big frees raise its mmap threshold, so later big entries come from
// a heap it seldom shrinks): after 1 MB values a node held twice its live log
// (a review: 1.84 GB, 950 MB once trimmed). But what the next entries and
// memtables take again is better kept: given back after every compaction, it
// came back as ~54 page faults per 1000 SETs on every node (against 2 when
// kept), which on this VM were a ninth of a follower's CPU.
void GiveBackFreeMemory(uint64_t keep) {
  const struct mallinfo2 heap = mallinfo2();
  if (heap.fordblks <= keep) return;
  malloc_trim(0);
  Log(LogComponent::kRaft, LogLevel::kDebug, "gave back free memory: %d MB were free", heap.fordblks >> 20);
}
}  // namespace

// The newest snapshot whose file checks out; if it does not, the previous
// one (the log was only compacted up to it). Never partial state.
absl::Status ReplicatedLog::LoadSnapshot() {
  std::vector<pb::SnapshotMeta> candidates;
  for (const char* key : {kSnapshotKey, kPrevSnapshotKey}) {
    auto raw = store_->GetMeta(key);
    if (!raw.ok()) return raw.status();
    if (!raw->has_value()) continue;
    pb::SnapshotMeta m;
    if (!m.ParseFromString(**raw)) return absl::DataLossError(absl::StrCat("snapshot record ", key, " is corrupt"));
    candidates.push_back(std::move(m));
  }
  if (candidates.empty()) return absl::OkStatus();
  for (size_t i = 0; i < candidates.size(); ++i) {
    const pb::SnapshotMeta& m = candidates[i];
    if (absl::Status s = snapshots_.Verify(m); !s.ok()) {
      Log(LogComponent::kRaft, LogLevel::kError, "snapshot %d is not usable (%s)%s", m.index(), s.ToString(),
          i + 1 < candidates.size() ? "; trying the previous one" : "");
      continue;
    }
    if (store_->FirstIndex() > m.index() + 1) {
      Log(LogComponent::kRaft, LogLevel::kError, "snapshot %d: the log after it was compacted away", m.index());
      continue;
    }
    snapshot_ = m;
    if (i == 0 && candidates.size() > 1) prev_snapshot_ = candidates[1];
    cpb::Snapshot snap;
    snap.set_data(m.SerializeAsString());
    snap.mutable_metadata()->set_index(m.index());
    snap.mutable_metadata()->set_term(m.term());
    for (uint64_t v : m.voters()) snap.mutable_metadata()->mutable_conf_state()->add_voters(v);
    for (uint64_t l : m.learners()) snap.mutable_metadata()->mutable_conf_state()->add_learners(l);
    conf_history_[m.index()] = snap.metadata().conf_state();
    LearnRemovals(m);
    Log(LogComponent::kRaft, LogLevel::kInfo, "starting from snapshot %d (term %d, %d bytes)", m.index(), m.term(), m.size());
    return mem_.ApplySnapshot(snap);
  }
  return absl::DataLossError(
      "no usable snapshot (see above): this node cannot rebuild its state. Remove it from the cluster, wipe its "
      "--dir and add it back under a new id; it then gets a snapshot from the leader");
}

// The snapshot the leader sent is durable: the core's view, the membership
// and the addresses follow it, and the host loads it into its state machine.
void ReplicatedLog::InstallReceived(const cpb::Snapshot& snap) {
  pb::SnapshotMeta meta;
  meta.ParseFromString(snap.data());
  if (auto s = mem_.ApplySnapshot(snap); !s.ok()) {
    ExitOnLogFailure(absl::StrCat("snapshot ", meta.index(), " from the leader"), s);
  }
  prev_snapshot_.reset();
  snapshot_ = meta;
  installing_.reset();
  conf_history_.clear();
  conf_history_[meta.index()] = snap.metadata().conf_state();
  const cpb::ConfState& cs = snap.metadata().conf_state();
  sole_voter_ = cs.voters_size() == 1 && cs.voters(0) == options_.id;
  LearnAddresses(meta);
  LearnRemovals(meta);
  Log(LogComponent::kRaft, LogLevel::kInfo, "installed snapshot %d (term %d, %d bytes) from the leader", meta.index(), meta.term(),
      meta.size());
  asio::post(files_, [this, meta] {
    SnapshotStore(snapshots_.dir()).RemoveOlder(meta);
    (void)store_->ReclaimSpace();
  });
  if (on_snapshot) on_snapshot(meta);
}

// The receiver moved the snapshot's file into the store before the core
// decides on it. A core that refuses it (a message of an older term, a
// snapshot at or below its commit index) never names the file, which would
// stay until a later snapshot passed its index: it is removed, unless it is
// (by name: the same bytes) a snapshot this node uses or installs.
void ReplicatedLog::StepReceivedSnapshot(cpb::Message&& m) {
  pb::SnapshotMeta received;
  const bool named = received.ParseFromString(m.snapshot().data()) && SnapshotStore::WellNamed(received);
  const uint64_t from = m.from();
  (void)raft_->Step(std::move(m));
  Kick();
  if (!named) return;
  const std::string& file = received.file();
  pb::SnapshotMeta taken;
  const std::optional<cpb::Snapshot>& pending = raft_->log().unstable().snapshot();
  if (pending && taken.ParseFromString(pending->data()) && taken.file() == file) return;
  if (file == installing_.value_or("") || (snapshot_ && file == snapshot_->file()) ||
      (prev_snapshot_ && file == prev_snapshot_->file())) {
    return;
  }
  Log(LogComponent::kSnapshot, LogLevel::kInfo, "snapshot %d from node %d not taken (this node is past it); file removed",
      received.index(), from);
  asio::post(files_, [path = snapshots_.Path(file)] {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  });
}

cpb::ConfState ReplicatedLog::ConfStateAt(uint64_t index) const {
  auto it = conf_history_.upper_bound(index);
  if (it == conf_history_.begin()) return raft_->conf_state();  // before anything known: the current one
  return std::prev(it)->second;
}

void ReplicatedLog::LearnRemovals(const pb::SnapshotMeta& m) {
  for (uint64_t id : m.removed()) removed_.emplace(id, m.index());
}

void ReplicatedLog::LearnAddresses(const pb::SnapshotMeta& m) {
  announced_.clear();  // the snapshot replaces the membership, and its changes
  for (const auto& [id, text] : m.addresses()) {
    PeerAddress addr;
    if (!PeerAddress::Parse(text, &addr)) continue;
    announced_[id] = addr.ToString();
    if (configured_.contains(id) || id == options_.id) continue;
    options_.peers[id] = addr;
    if (transport_) transport_->SetPeer(id, addr.host, addr.raft_port);
  }
}

void ReplicatedLog::RecordSnapshot(storage::LogWrite* w, const pb::SnapshotMeta& meta,
                                   const std::optional<pb::SnapshotMeta>& prev) {
  w->meta[kSnapshotKey] = meta.SerializeAsString();
  if (prev) {
    w->meta[kPrevSnapshotKey] = prev->SerializeAsString();
  } else {
    w->meta[kPrevSnapshotKey] = std::nullopt;
  }
}

// The highest index the tail kept below a new snapshot at `index` may start
// after: at most keep_entries entries and keep_bytes of payload. Reads the
// entries in place: a snapshot lands every few seconds under heavy writes, and
// copying a tail of up to keep_bytes to measure it stalled the event loop.
uint64_t ReplicatedLog::TailFloor(uint64_t index) const {
  const uint64_t first = mem_.FirstIndex().value_or(1);
  const uint64_t lo = std::max(first, index > options_.keep_entries ? index - options_.keep_entries + 1 : 1);
  if (lo > index) return index;
  if (!mem_.At(lo) || !mem_.At(index)) return lo - 1;
  uint64_t bytes = 0;
  uint64_t floor = index;
  for (uint64_t i = index; i >= lo; --i) {
    bytes += mem_.At(i)->data().size();
    if (bytes > options_.keep_bytes) break;
    floor = i - 1;
  }
  return floor;
}

// The core's view follows the store: the new snapshot, and the mirror keeps
// only the entries after `compact_to`.
void ReplicatedLog::InstallCompacted(const pb::SnapshotMeta& meta, uint64_t compact_to, uint64_t mirror_to) {
  cpb::ConfState cs;
  for (uint64_t v : meta.voters()) cs.add_voters(v);
  for (uint64_t l : meta.learners()) cs.add_learners(l);
  if (auto s = mem_.CreateSnapshot(meta.index(), cs, meta.SerializeAsString()); !s.ok()) {
    Log(LogComponent::kRaft, LogLevel::kWarning, "snapshot %d: %s", meta.index(), s.status().ToString());
    return;
  }
  if (mirror_to > 0) {
    if (auto s = mem_.Compact(mirror_to); !s.ok()) Log(LogComponent::kRaft, LogLevel::kWarning, "compact to %d: %s", mirror_to, s.ToString());
  }
  prev_snapshot_ = snapshot_;
  snapshot_ = meta;
  // The membership in force at compact_to stays: a later snapshot may lie
  // below changes applied already (a follower's index is its child's, which
  // trails the log), and must record the membership before them, not the
  // current one.
  auto baseline = conf_history_.upper_bound(compact_to);
  if (baseline != conf_history_.begin()) --baseline;
  conf_history_.erase(conf_history_.begin(), baseline);
  const std::string keep_prev = prev_snapshot_ ? prev_snapshot_->file() : "";
  asio::post(files_, [this, meta, keep_prev] {
    // Older files are dropped, their entries' space given back.
    SnapshotStore(snapshots_.dir()).RemoveOlder(meta, keep_prev);
    if (auto s = store_->ReclaimSpace(); !s.ok()) Log(LogComponent::kRaft, LogLevel::kWarning, "reclaiming log space: %s", s.ToString());
    // Between snapshots the log grows to the last snapshot's size at least
    // (node/snapshot_schedule.h).
    GiveBackFreeMemory(options_.keep_free_bytes + meta.size());
  });
}

// Whether a snapshot of this node's own at `index` is needed no more: the
// newest snapshot holds the state at `index` already (the answer), or one
// from the leader is being written, which replaces the whole log.
std::optional<absl::StatusOr<pb::SnapshotMeta>> ReplicatedLog::Superseded(uint64_t index) const {
  if (installing_) return absl::AbortedError("a snapshot from the leader is being installed; retry");
  if (snapshot_ && index <= snapshot_->index()) return *snapshot_;
  return std::nullopt;
}

// A file AddSnapshot does not adopt is removed, unless it is (by the same
// name: the same bytes) the snapshot in use or the one being installed.
void ReplicatedLog::Discard(const std::string& path, absl::StatusOr<pb::SnapshotMeta> answer,
                            const std::function<void(absl::StatusOr<pb::SnapshotMeta>)>& done) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (!(snapshot_ && name == snapshot_->file()) && name != installing_.value_or("")) {
    asio::post(files_, [path] {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    });
  }
  if (answer.ok()) {
    Log(LogComponent::kRaft, LogLevel::kInfo, "snapshot %d already holds the state it was asked for", answer->index());
  }
  done(std::move(answer));
}

void ReplicatedLog::AddSnapshot(std::string file, uint64_t index, pb::SnapshotMeta carried,
                                std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done) {
  if (auto answer = Superseded(index)) return Discard(file, std::move(*answer), done);
  auto term = mem_.Term(index);
  if (!term.ok()) {
    return Discard(file, absl::FailedPreconditionError(absl::StrCat("no entry ", index, " in the log")), done);
  }
  const cpb::ConfState cs = ConfStateAt(index);
  // The addresses the membership changes gave, as every member applied them:
  // a member that installs this snapshot adopts them for the nodes it has no
  // route of its own to, so this node's own routes (--peers,
  // --peer-addresses) must not travel in it.
  const std::map<uint64_t, std::string> addresses = announced_;
  std::vector<uint64_t> removed;
  for (const auto& [id, at] : removed_) {
    if (at <= index) removed.push_back(id);
  }
  // Off the event loop: checksum and fsync the file; then, unless a snapshot
  // from the leader came meanwhile, make it the newest snapshot (synced) and
  // compact the log.
  asio::post(files_, [this, file, index, t = *term, cs, addresses, removed, carried = std::move(carried),
                      done = std::move(done), alive = alive_] {
    auto meta = snapshots_.Adopt(file, index, t);
    if (meta.ok()) {
      for (uint64_t v : cs.voters()) meta->add_voters(v);
      for (uint64_t l : cs.learners()) meta->add_learners(l);
      for (const auto& [id, a] : addresses) (*meta->mutable_addresses())[id] = a;
      for (uint64_t id : removed) meta->add_removed(id);
      LoggedState::Copy(carried, &*meta);
    }
    asio::post(io_, [this, meta, done, alive] {
      if (!*alive) return;
      if (!meta.ok()) return done(meta.status());
      if (auto answer = Superseded(meta->index())) return Discard(SnapshotPath(*meta), std::move(*answer), done);
      Adopted(*meta, done);
    });
  });
}

// The file is in place: on disk, the log stays back to the previous snapshot
// (the fallback if the newest file is ever found corrupt) and a tail for
// followers; in memory, only the tail. Store writes keep their order on the
// worker, so a snapshot from the leader written after this one replaces it.
void ReplicatedLog::Adopted(const pb::SnapshotMeta& meta, std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done) {
  const std::optional<pb::SnapshotMeta> prev = snapshot_;
  const uint64_t tail_floor = TailFloor(meta.index());
  const uint64_t compact_to = prev ? std::min(prev->index(), tail_floor) : 0;
  asio::post(worker_, [this, meta, prev, compact_to, tail_floor, done = std::move(done), alive = alive_] {
    storage::LogWrite w;
    RecordSnapshot(&w, meta, prev);
    if (compact_to > 0) w.compact_to = compact_to;
    absl::Status s = store_->Write(w);
    asio::post(io_, [this, meta, s, compact_to, tail_floor, done, alive] {
      if (!*alive) return;
      if (!s.ok()) return done(s);
      InstallCompacted(meta, compact_to, tail_floor);
      done(meta);
    });
  });
}

}  // namespace node
