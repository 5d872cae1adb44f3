#include "node/cluster/replicated_log.h"

#include <pthread.h>

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "node/logged_state.h"
#include "node/logging.h"

namespace node {

using consensus::pb::Entry;
using consensus::pb::Message;
namespace cpb = consensus::pb;

namespace {
// How long the link to a removed node outlives its removal: the messages of
// that turn, among them the one that tells it its removal committed, leave
// within a tick or two.
constexpr auto kRemovedPeerGrace = std::chrono::seconds(2);

// Out of `msgs`, the messages of each peer that gets only appends without
// entries (a leader's news of its commit index), in their order.
std::vector<Message> TakeCommitNotices(std::vector<Message>* msgs) {
  absl::flat_hash_set<uint64_t> busy;  // peers that get something else too
  for (const Message& m : *msgs) {
    if (m.type() != cpb::MSG_APP || m.entries_size() > 0) busy.insert(m.to());
  }
  std::vector<Message> notices, rest;
  for (Message& m : *msgs) (busy.contains(m.to()) ? rest : notices).push_back(std::move(m));
  *msgs = std::move(rest);
  return notices;
}
}  // namespace

void ReplicatedLog::ExitOnLogFailure(std::string_view what, const absl::Status& s) {
  Log(LogComponent::kRaft, LogLevel::kError, "%s: %s; exiting", what, s.ToString());
  std::_Exit(70);
}

std::string PeerAddress::ToString() const { return absl::StrCat(host, ":", client_port, ":", raft_port); }

// An IP address (host names are not resolved) and two ports in 1..65535.
bool PeerAddress::Parse(std::string_view text, PeerAddress* out) {
  std::vector<std::string> f = absl::StrSplit(absl::string_view(text.data(), text.size()), ':');
  PeerAddress a;
  asio::error_code ec;
  if (f.size() != 3 || (asio::ip::make_address(f[0], ec), ec) || !absl::SimpleAtoi(f[1], &a.client_port) ||
      !absl::SimpleAtoi(f[2], &a.raft_port)) {
    return false;
  }
  if (a.client_port < 1 || a.client_port > 65535 || a.raft_port < 1 || a.raft_port > 65535) return false;
  a.host = f[0];
  *out = a;
  return true;
}

ReplicatedLog::ReplicatedLog(asio::io_context& io, storage::LogStore* store, ReplicatedLogOptions options)
    : io_(io),
      store_(store),
      options_(std::move(options)),
      ticker_(io),
      snapshots_(options_.snapshot_dir),
      read_prefix_(absl::StrCat(absl::Hex(static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()),
                                ".")) {
  // Named for `top -H` and `perf report --comm` (at most 15 characters).
  asio::post(worker_, [] { pthread_setname_np(pthread_self(), "anarcho-log"); });
  asio::post(files_, [] { pthread_setname_np(pthread_self(), "anarcho-files"); });
}

ReplicatedLog::~ReplicatedLog() {
  Stop();
  worker_.join();
  files_.join();
}

void ReplicatedLog::Stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  ticker_.cancel();
  if (unwritten_hard_state_) {
    // Kept for a restart, after every write already queued.
    auto write = std::make_shared<storage::LogWrite>();
    write->meta[kHardStateKey] = std::move(*unwritten_hard_state_);
    unwritten_hard_state_.reset();
    asio::post(worker_, [this, write] {
      if (absl::Status s = store_->Write(*write); !s.ok()) {
        Log(LogComponent::kRaft, LogLevel::kWarning, "the last commit index was not recorded: %s", s.message());
      }
    });
  }
  if (sender_) sender_->Stop();
  if (transport_) transport_->Stop();
}

absl::Status ReplicatedLog::Start() {
  for (const auto& [id, _] : options_.peers) configured_.insert(id);
  if (auto s = snapshots_.Open(); !s.ok()) return s;
  if (auto s = CheckNodeId(); !s.ok()) return s;
  if (auto s = Bootstrap(); !s.ok()) return s;
  if (auto s = LoadCluster(); !s.ok()) return s;
  for (const auto& [id, addr] : options_.address_book) {
    if (options_.peers.emplace(id, addr).second) configured_.insert(id);
  }
  if (auto s = LoadSnapshot(); !s.ok()) return s;
  if (auto s = LoadLog(); !s.ok()) return s;

  consensus::Config c;
  c.id = options_.id;
  c.election_tick = options_.election_ticks;
  c.heartbeat_tick = options_.heartbeat_ticks;
  c.storage = &mem_;
  // The child starts empty, loads the snapshot, and every committed entry
  // after it is applied again.
  c.applied = snapshot_ ? snapshot_->index() : 0;
  c.pre_vote = true;
  c.check_quorum = true;
  // A follower persists at most about this much in one log write, however
  // big the entries (see EffectBatcher): its answers never wait long.
  c.max_inflight_bytes = kMaxTurnBytes;
  c.max_committed_size_per_ready = kMaxTurnBytes;
  // Fresh randomness per process: with a seed fixed by the id, the nodes would
  // draw the same sequence of election timeouts after every restart.
  c.random_seed = (static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()) | 1;
  c.read_only_option = options_.lease_reads ? consensus::ReadOnlyOption::kLeaseBased
                                            : consensus::ReadOnlyOption::kSafe;
  auto raft = consensus::Raft::Create(c);
  if (!raft.ok()) return raft.status();
  raft_ = std::move(*raft);
  const cpb::ConfState cs = raft_->conf_state();
  sole_voter_ = cs.voters_size() == 1 && cs.voters(0) == options_.id;
  if (auto s = StartTransport(); !s.ok()) return s;
  if (snapshot_) LearnAddresses(*snapshot_);
  clock_origin_ = std::chrono::steady_clock::now();
  if (!options_.external_ticks) ScheduleTick();
  Kick();
  return absl::OkStatus();
}

// The hard state and the entries after the snapshot, into the core's view.
absl::Status ReplicatedLog::LoadLog() {
  auto stored_hs = store_->GetMeta(kHardStateKey);
  if (!stored_hs.ok()) return stored_hs.status();
  if (stored_hs->has_value()) {
    cpb::HardState h;
    if (!h.ParseFromString(**stored_hs)) return absl::DataLossError("raft hard state is corrupt");
    mem_.SetHardState(h);
  }
  const uint64_t after = snapshot_ ? snapshot_->index() : 0;
  if (store_->FirstIndex() > after + 1) {
    return absl::FailedPreconditionError("the log was compacted, and this node has no snapshot to start from");
  }
  std::vector<Entry> entries;
  for (uint64_t next = std::max(store_->FirstIndex(), after + 1); next <= store_->LastIndex();) {
    auto batch = store_->Read(next, store_->LastIndex() + 1, 64 << 20);
    if (!batch.ok()) return batch.status();
    for (const storage::LogEntry& le : *batch) {
      Entry e;
      if (!e.ParseFromString(le.data)) return absl::DataLossError(absl::StrCat("log entry ", le.index, " is corrupt"));
      entries.push_back(std::move(e));
      next = le.index + 1;
    }
  }
  return mem_.Append(std::move(entries));
}

absl::Status ReplicatedLog::StartTransport() {
  if (options_.make_transport) {
    transport_ = options_.make_transport(options_.id);
  } else {
    transport_ = std::make_unique<PeerTransport>(
        io_, peer::Identity{options_.id, options_.cluster_secret, cluster_, options_.client_tls_port, options_.lease_reads},
        options_.peer_tls,
        // Two of the longest election timeouts: a link that stalled is dialled
        // again soon after its peer would have started an election. (At
        // least ten acknowledgement intervals, whatever the clock.)
        std::max<std::chrono::milliseconds>(std::chrono::milliseconds(4 * options_.election_ticks * options_.tick_ms),
                                            10 * PeerTransport::kAckInterval));
  }
  transport_->on_cluster = [this](const peer::ClusterName& cluster) { AdoptCluster(cluster); };
  transport_->on_peer_lease = [this](uint64_t id, bool lease_reads) { raft_->SetLeasePromise(id, lease_reads); };
  transport_->on_message = [this](Message&& m) {
    if (stopped_) return;
    heard_[m.from()] = std::chrono::steady_clock::now();
    SyncClock();
    (void)raft_->Step(std::move(m));
    Kick();
  };
  transport_->on_unreachable = [this](uint64_t id) { raft_->ReportUnreachable(id); };
  transport_->on_peer_gone = [this](uint64_t id) { raft_->ReportPeerGone(id); };
  auto send = [this](uint64_t to, pb::SnapshotFrame f) { transport_->Send(to, f); };
  sender_ = std::make_unique<SnapshotSender>(io_, options_.id, snapshots_, send);
  sender_->on_done = [this](uint64_t to, bool failed) {
    raft_->ReportSnapshot(to, failed);
    Kick();
  };
  receiver_ = std::make_unique<SnapshotReceiver>(io_, options_.id, snapshots_, files_, send, [this](Message&& m) {
    if (stopped_) return;
    StepReceivedSnapshot(std::move(m));
  });
  transport_->on_snapshot_frame = [this](pb::SnapshotFrame&& f) {
    if (stopped_ || f.to() != options_.id) return;
    if (f.kind() == pb::SnapshotFrame::ACK || f.kind() == pb::SnapshotFrame::ABORT) {
      sender_->OnFrame(f);
    } else {
      receiver_->OnFrame(f);
    }
  };
  for (const auto& [id, addr] : options_.peers) transport_->SetPeer(id, addr.host, addr.raft_port);
  const PeerAddress& self = options_.peers[options_.id];
  if (options_.peers.size() > 1 || self.raft_port > 0) {
    if (auto s = transport_->Listen(self.host, self.raft_port); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void ReplicatedLog::Tick() {
  if (stopped_) return;
  raft_->Tick();
  ++clock_ticks_;
  SyncClock();
  Pump();
}

// The core's clock as the steady clock has it: ticks a late loop never ran
// count too (Raft::ClockSkipped), before anything that reads the clock (a
// lease read, a follower's read index request). Under --lease_reads a leader
// whose ticks ran late answered reads from a lease that had run out in time.
void ReplicatedLog::SyncClock() {
  if (options_.external_ticks) return;  // the test drives the clock
  const auto elapsed = std::chrono::steady_clock::now() - clock_origin_;
  const uint64_t ticks = static_cast<uint64_t>(elapsed / std::chrono::milliseconds(options_.tick_ms));
  if (ticks <= clock_ticks_) return;
  raft_->ClockSkipped(ticks - clock_ticks_);
  clock_ticks_ = ticks;
}

void ReplicatedLog::ScheduleTick() {
  ticker_.expires_after(std::chrono::milliseconds(options_.tick_ms));
  ticker_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    // Ticks count time only when they run: a stalled event loop delays
    // heartbeats and elections alike. Say so when it happens.
    const auto now = std::chrono::steady_clock::now();
    const auto late = now - ticker_.expiry();
    if (late > std::chrono::milliseconds(options_.tick_ms * 4)) {
      Log(LogComponent::kRaft, LogLevel::kWarning, "event loop stalled: a raft tick ran %d ms late",
          std::chrono::duration_cast<std::chrono::milliseconds>(late).count());
    }
    Tick();
    ScheduleTick();
  });
}

void ReplicatedLog::Kick() {
  if (kicked_) return;
  kicked_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    kicked_ = false;
    Pump();
  });
}

absl::Status ReplicatedLog::Propose(std::string data) {
  auto s = raft_->Propose(std::move(data));
  Kick();
  return s;
}

absl::Status ReplicatedLog::ProposeBatch(std::vector<std::string> data) {
  auto s = raft_->ProposeBatch(std::move(data));
  Kick();
  return s;
}

absl::Status ReplicatedLog::ProposeConfChange(const cpb::ConfChange& cc) {
  auto s = raft_->ProposeConfChange(cc);
  Kick();
  return s;
}

absl::Status ReplicatedLog::ReadIndex(std::string context) {
  SyncClock();
  auto s = raft_->ReadIndex(absl::StrCat(read_prefix_, context));
  Kick();
  return s;
}

absl::Status ReplicatedLog::TransferLeadership(uint64_t to) {
  auto s = raft_->TransferLeadership(to);
  Kick();
  return s;
}

void ReplicatedLog::Campaign() {
  raft_->Campaign();
  Kick();
}

cpb::ConfState ReplicatedLog::ApplyConfChange(uint64_t index, const cpb::ConfChange& cc) {
  commit_membership_now_ = true;  // its commit is recorded with the next Ready (TakeWrite)
  PeerAddress addr;
  if (cc.type() == cpb::CONF_CHANGE_REMOVE_NODE) {
    removed_.emplace(cc.node_id(), index);
    announced_.erase(cc.node_id());
    if (cc.node_id() != options_.id) {
      options_.peers.erase(cc.node_id());
      RetirePeer(cc.node_id());
    }
  } else if (PeerAddress::Parse(cc.context(), &addr)) {
    announced_[cc.node_id()] = addr.ToString();
    // Addresses given on this node's command line win: they are its view of
    // the network (which may differ from another node's, e.g. through proxies).
    if (!configured_.contains(cc.node_id())) {
      options_.peers[cc.node_id()] = addr;
      transport_->SetPeer(cc.node_id(), addr.host, addr.raft_port);
    }
  }
  cpb::ConfState cs = raft_->ApplyConfChange(cc);
  sole_voter_ = cs.voters_size() == 1 && cs.voters(0) == options_.id;
  conf_history_[index] = cs;
  return cs;
}

absl::Status ReplicatedLog::PromoteLearner(uint64_t id) {
  cpb::ConfChange cc;
  cc.set_type(cpb::CONF_CHANGE_ADD_VOTER);
  cc.set_node_id(id);
  // Empty if the learner's address is not known here: ApplyConfChange then
  // leaves every member's route to it as it is.
  cc.set_context(AnnouncedAddress(id));
  return ProposeConfChange(cc);
}

std::string ReplicatedLog::AnnouncedAddress(uint64_t id) const {
  auto it = announced_.find(id);
  return it == announced_.end() ? "" : it->second;
}

// Dropped at once, the link lost the commit notice of the removal's own turn
// (queued after it was applied): on a quiet cluster the removed node never
// learnt that it was removed, and kept running.
void ReplicatedLog::RetirePeer(uint64_t id) {
  auto timer = std::make_shared<asio::steady_timer>(io_, kRemovedPeerGrace);
  timer->async_wait([this, id, timer, alive = alive_](const asio::error_code&) {
    if (!*alive || stopped_ || options_.peers.contains(id)) return;
    transport_->RemovePeer(id);
  });
}

void ReplicatedLog::Leave(std::function<void()> then) {
  // After this turn, whose commit notices wait in deferred_ by then.
  asio::post(io_, [this, then = std::move(then), alive = alive_]() mutable {
    if (!*alive || stopped_) return then();
    if (!deferred_.empty()) transport_->Send(std::exchange(deferred_, {}));
    Pump();  // the core's messages since (SendAndApply, or SendUnblocked during a write)
    transport_->Drain(kLeaveLimit, [this, then = std::move(then), alive]() mutable {
      if (!*alive || stopped_ || !removed_.contains(options_.id)) return then();
      // The removal's commit, recorded after every write queued before: its
      // record may still wait for a write in progress (or for the next Ready),
      // and a node restarted without it never replayed its removal (it stayed
      // a pre-candidate for ever, its clients answered TRYAGAIN). The entry
      // itself is durable here (it was applied), so the stored commit index
      // may be raised to it.
      asio::post(worker_, [this, removal = removed_.at(options_.id), then = std::move(then)] {
        if (absl::Status s = RecordCommitAtLeast(removal); !s.ok()) {
          Log(LogComponent::kRaft, LogLevel::kWarning, "the removal's commit was not recorded: %s", s.message());
        }
        then();
      });
    });
  });
}

absl::Status ReplicatedLog::RecordCommitAtLeast(uint64_t index) {
  auto stored = store_->GetMeta(kHardStateKey);
  if (!stored.ok()) return stored.status();
  cpb::HardState hs;
  if (stored->has_value() && !hs.ParseFromString(**stored)) return absl::DataLossError("unreadable hard state");
  if (hs.commit() >= index) return absl::OkStatus();
  hs.set_commit(index);
  storage::LogWrite write;
  write.meta[kHardStateKey] = hs.SerializeAsString();
  return store_->Write(write);
}

void ReplicatedLog::Pump() {
  if (stopped_) return;
  if (persisting_) {
    SendUnblocked();
    return;
  }
  if (on_before_ready) on_before_ready();
  if (!raft_->HasReady()) return;
  consensus::Ready rd = raft_->GetReady();
  if (rd.soft_state && on_soft_state) on_soft_state(*rd.soft_state);
  std::vector<Message> late = SendAndApply(rd);
  std::shared_ptr<storage::LogWrite> write = TakeWrite(rd);
  if (!write) {
    Complete(std::move(rd), std::move(late), absl::OkStatus(), /*wrote=*/false);
    return;
  }
  persisting_ = true;
  auto ready = std::make_shared<consensus::Ready>(std::move(rd));
  auto late_msgs = std::make_shared<std::vector<Message>>(std::move(late));
  asio::post(worker_, [this, write, ready, late_msgs, alive = alive_] {
    if (write->sync && options_.before_sync) options_.before_sync();
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = store_->Write(*write);
    // While a write is in progress the next Ready waits (commits, append and
    // vote responses); heartbeats and reads do not (SendUnblocked).
    const auto took = std::chrono::steady_clock::now() - start;
    if (took > std::chrono::milliseconds(options_.tick_ms * options_.election_ticks / 2)) {
      Log(LogComponent::kRaft, LogLevel::kWarning, "slow raft log write: %d ms for %d entries",
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), write->entries.size());
    }
    LogWriteStats stats{took, write->entries.size(), 0, write->sync};
    for (const storage::LogEntry& e : write->entries) stats.bytes += e.data.size();
    asio::post(io_, [this, ready, late_msgs, s, alive, stats] {
      if (!*alive) return;
      ++syncs_;
      if (options_.on_write) options_.on_write(stats);
      Complete(std::move(*ready), std::move(*late_msgs), s, /*wrote=*/true);
    });
  });
}

std::vector<Message> ReplicatedLog::SendAndApply(consensus::Ready& rd) {
  // Heartbeats, a leader's appends, reads travel while the write is in progress.
  std::vector<Message> early, late;
  if (LogEnabled(LogLevel::kDebug)) LogBigReady(rd);
  for (Message& m : rd.messages) {
    if (m.type() == cpb::MSG_SNAP) {
      sender_->Start(std::move(m));  // the file first, the message at its end
      continue;
    }
    (raft_->SendableBeforeWrite(m) ? early : late).push_back(std::move(m));
  }
  rd.messages.clear();
  // A leader's appends that carry no entries only tell their peers of the
  // new commit: the clients whose replies it released hear first. Sent
  // before, each woke a follower that took the CPU from this loop before it
  // wrote a reply (two cores, seven busy processes).
  std::vector<Message> commit_notices;
  if (!rd.committed_entries.empty()) commit_notices = TakeCommitNotices(&early);
  Send(std::move(early));
  // Committed entries are durable here already: they take effect now, not
  // once this Ready's write is done (a reply waits one fsync less).
  if (!rd.committed_entries.empty() && on_committed) on_committed(std::exchange(rd.committed_entries, {}));
  SendAfterTurn(std::move(commit_notices));
  return late;
}

std::shared_ptr<storage::LogWrite> ReplicatedLog::TakeWrite(const consensus::Ready& rd) {
  if (rd.entries.empty() && !rd.hard_state && !rd.snapshot) return nullptr;
  if (!rd.must_sync && rd.entries.empty() && !rd.snapshot && !commit_membership_now_) {
    // Only the commit index moved (the term, the vote and the log did not).
    // What commits is decided by a majority's durable logs, not by this
    // record of it: a node that restarts with an older one learns the commit
    // from the leader again (and the core never lowers it). So the committed
    // entries go on at once, and the record waits for the next write to the
    // log. Writing it on its own cost a log write and a wakeup of the worker
    // per commit on every node: one per request for an unpipelined client.
    // Not for the commit of a membership change: a restart takes on only the
    // changes it knows committed, and a leader is needed to learn the commit
    // again. After a crash of every member with no write since a change,
    // each came back with the membership before it, whose majority may be
    // down for good (MembershipChangeCommitSurvivesACrashOfEveryNode).
    unwritten_hard_state_ = rd.hard_state->SerializeAsString();
    return nullptr;
  }
  if (rd.hard_state || unwritten_hard_state_) commit_membership_now_ = false;
  auto write = std::make_shared<storage::LogWrite>();
  for (const Entry& e : rd.entries) write->entries.push_back(storage::LogEntry{e.index(), e.term(), e.SerializeAsString()});
  if (rd.hard_state) {
    write->meta[kHardStateKey] = rd.hard_state->SerializeAsString();
  } else if (unwritten_hard_state_) {
    write->meta[kHardStateKey] = std::move(*unwritten_hard_state_);
  }
  unwritten_hard_state_.reset();
  if (rd.snapshot) {
    // A snapshot from the leader replaces the whole log (its file is already
    // in place, verified by the receiver), as it does in the mirror: the core
    // installs one only where this log does not hold its last entry, so the
    // entries after it belong to another history. Left on disk, they came
    // back after the snapshot at a restart before the next append.
    pb::SnapshotMeta meta;
    meta.ParseFromString(rd.snapshot->data());
    RecordSnapshot(write.get(), meta, std::nullopt);
    write->reset_to = rd.snapshot->metadata().index();
    installing_ = meta.file();
  }
  return write;
}

void ReplicatedLog::Send(std::vector<Message> messages) {
  if (messages.empty()) return;
  if (!deferred_.empty()) {
    messages.insert(messages.begin(), std::make_move_iterator(deferred_.begin()), std::make_move_iterator(deferred_.end()));
    deferred_.clear();
  }
  transport_->Send(std::move(messages));
}

void ReplicatedLog::SendAfterTurn(std::vector<Message> messages) {
  if (messages.empty()) return;
  const bool post = deferred_.empty();
  deferred_.insert(deferred_.end(), std::make_move_iterator(messages.begin()), std::make_move_iterator(messages.end()));
  if (!post) return;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive || stopped_) return;
    std::vector<Message> messages = std::exchange(deferred_, {});
    Send(std::move(messages));
  });
}

void ReplicatedLog::SendUnblocked() {
  consensus::Raft::Unblocked out = raft_->TakeUnblocked();
  Send(std::move(out.messages));
  if (!out.committed_entries.empty()) {
    if (on_committed) on_committed(std::move(out.committed_entries));
    Kick();  // the rest of a backlog, kMaxTurnBytes at a time, in the loop's next turns
  }
  DeliverReadStates(std::move(out.read_states));
}

void ReplicatedLog::DeliverReadStates(std::vector<consensus::ReadState> states) {
  std::erase_if(states, [this](consensus::ReadState& rs) {
    if (!absl::StartsWith(rs.request_ctx, read_prefix_)) return true;  // asked by an earlier process
    rs.request_ctx.erase(0, read_prefix_.size());
    return false;
  });
  if (!states.empty() && on_read_states) on_read_states(std::move(states));
}

void ReplicatedLog::LogBigReady(const consensus::Ready& rd) {
  size_t ents = 0;
  std::string detail;
  for (const Message& m : rd.messages) {
    ents += m.entries_size();
    if (m.entries_size() > 0) absl::StrAppend(&detail, " ", m.to(), ":", m.index() + 1, "+", m.entries_size());
  }
  if (ents > 20000 || rd.messages.size() > 200 || rd.committed_entries.size() > 20000) {
    Log(LogComponent::kRaft, LogLevel::kDebug, "big ready: %d messages, %d entries, %d committed entries; appends%s",
        rd.messages.size(), ents, rd.committed_entries.size(), detail.substr(0, 400));
  }
}

void ReplicatedLog::Complete(consensus::Ready rd, std::vector<Message> late, const absl::Status& s, bool wrote) {
  if (!s.ok()) ExitOnLogFailure("raft log write failed", s);
  persisting_ = false;
  if (rd.snapshot) InstallReceived(*rd.snapshot);
  if (auto st = mem_.Append(std::move(rd.entries)); !st.ok()) ExitOnLogFailure("raft log mirror", st);
  if (rd.hard_state) mem_.SetHardState(*rd.hard_state);
  Send(std::move(late));
  DeliverReadStates(std::move(rd.read_states));
  raft_->Advance(rd);
  // A Ready that wrote nothing ends inside Pump: the next one (the rest of a
  // backlog of committed entries, kMaxTurnBytes at a time, as when a
  // restarted node applies its log again) waits for the loop's next turn
  // instead of running in this one.
  if (wrote) {
    Pump();
  } else {
    Kick();
  }
}

}  // namespace node
