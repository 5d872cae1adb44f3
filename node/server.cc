#include "node/server.h"

#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "node/front/client_session.h"
#include "node/effects.pb.h"
#include "node/logging.h"
#include "node/cluster/peer_auth.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace node {
namespace fs = std::filesystem;
namespace cpb = consensus::pb;

namespace {
constexpr size_t kMaxSocketPath = 100;  // sockaddr_un holds 108 bytes
}  // namespace

Server::Server(asio::io_context& io, ServerOptions options)
    : io_(io),
      options_(std::move(options)),
      link_(io),
      child_signals_(io, SIGCHLD),
      child_watch_(io),
      promote_timer_(io),
      busy_timer_(io),
      control_(io),
      snap_timer_(io),
      snap_retry_(io),
      snapshot_schedule_(options_.snapshot_log_bytes, std::random_device{}()),
      compare_timer_(io),
      handover_timer_(io),
      drain_timer_(io),
      digest_timer_(io),
      digest_settle_timer_(io) {
  gate_.BreakForTest(options_.test_broken_gate_rule);
  resp::AppendCommand(&relay_preamble_, {"ANARCHO.RELAY", absl::StrCat(options_.raft.id)});
}

Server::~Server() { Stop(); }

// ------------------------------------------------------------------ start/stop

absl::Status Server::Start() {
  std::error_code ec;
  fs::create_directories(fs::path(options_.dir) / "log", ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", options_.dir, ": ", ec.message()));
  options_.dir = fs::absolute(options_.dir).string();

  auto store = storage::OpenRocksLogStore((fs::path(options_.dir) / "log").string(),
                                          [](bool error, std::string_view message) {
                                            Log(LogComponent::kRaft, error ? LogLevel::kError : LogLevel::kWarning,
                                                "log store: %s", message);
                                          });
  if (!store.ok()) return store.status();
  store_ = std::move(*store);

  if (auto s = PrepareChild(); !s.ok()) return s;

  // Bind first, so a busy port fails the start before any work.
  if (auto s = ListenForClients(); !s.ok()) return s;
  if (auto s = StartMetrics(); !s.ok()) return s;

  if (auto s = StartChild(); !s.ok()) return s;
  WatchChild();
  PollChild();

  if (auto s = MakeReplicatedLog(); !s.ok()) return s;
  if (options_.shared_child_link || options_.shared_relay) StartSharedLink();
  if (auto s = rlog_->Start(); !s.ok()) return s;
  if (rlog_->was_removed(rlog_->id())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", rlog_->id(), " was removed from its cluster (its snapshot says so), and a removed id cannot come "
        "back: start a node with a new id and an empty --dir, and add it"));
  }
  if (const auto& snap = rlog_->snapshot()) {
    // The child is rebuilt from the snapshot; the committed entries after it follow.
    committed_index_ = snap->index();
    logged_.Load(*snap);
    LoggedSettingsChanged();
    logged_history_.Reset(*snap);
    acl_changed_at_ = snap->index();
  }
  state_ = State::kRunning;
  PromoteLearners();
  WatchBusy();
  ScheduleDigest();
  Accept();
  if (tls_acceptor_) AcceptTls();
  return absl::OkStatus();
}

// The child's settings, and the replication link it will follow (MasterLink).
absl::Status Server::PrepareChild() {
  child_options_.redis_server = options_.redis_server;
  child_options_.dir = (fs::path(options_.dir) / "child").string();
  child_options_.socket_path = (fs::path(options_.dir) / "child" / "redis.sock").string();
  child_options_.databases = options_.databases;
  options_.max_clients = ClientsTheFileLimitAllows(options_.max_clients, NodeFiles(options_));
  child_options_.max_clients = options_.max_clients + kNodeFiles;
  child_options_.internal_password = absl::BytesToHexString(peer::RandomBytes(32));
  child_auth_request_ = InternalAuthRequest(child_options_.internal_password);
  if (child_options_.socket_path.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dir is too long for a unix socket path: ", child_options_.socket_path));
  }
  // The child replicates from this node (see MasterLink): a loopback port of
  // the node's own, and a password only the child is given.
  std::random_device rd;
  std::string secret;
  for (int i = 0; i < 16; ++i) absl::StrAppendFormat(&secret, "%04x", rd() & 0xffff);
  if (auto s = link_.Listen(secret); !s.ok()) return s;
  link_.on_sync_requested = [this] { OnChildSyncRequested(); };
  link_.on_applied = [this](uint64_t index) { OnApplied(index); };
  link_.on_check = [this](uint64_t index, const std::string& digest) { CompareDigest(index, digest); };
  child_options_.master_password = secret;
  child_options_.extra_args = {
      "--busy-reply-threshold", absl::StrCat(options_.busy_reply_threshold_ms),
      "--replicaof", "127.0.0.1", absl::StrCat(link_.port()),
      // A fresh child loads the sync straight from the socket, not via a file.
      "--repl-diskless-load", "on-empty-db",
  };
  child_ = std::make_unique<ChildRedis>(child_options_);
  return absl::OkStatus();
}

// The replicated log and its hooks (started later, once the child runs).
absl::Status Server::MakeReplicatedLog() {
  ReplicatedLogOptions ro = options_.raft;
  if (options_.tls.peers) {
    auto tls = MakeTlsPeerContext(options_.tls);
    if (!tls.ok()) return tls.status();
    peer_tls_context_ = std::move(*tls);
    ro.peer_tls = peer_tls_context_;
    ro.client_tls_port = options_.tls.port;
  }
  ro.snapshot_dir = (fs::path(options_.dir) / "snapshots").string();
  ro.on_write = [this](const LogWriteStats& w) { metrics_.OnLogWrite(w.took, w.entries, w.bytes, w.synced); };
  if (!options_.test_sync_gate.empty()) {
    ro.before_sync = [gate = options_.test_sync_gate] {
      while (fs::exists(gate)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    };
  }
  rlog_ = std::make_unique<ReplicatedLog>(io_, store_.get(), std::move(ro));
  StartRelaySessions();
  rlog_->on_before_ready = [this] { ProposePending(); };
  rlog_->on_soft_state = [this](const consensus::SoftState& ss) { OnSoftState(ss); };
  rlog_->on_committed = [this](std::vector<cpb::Entry>&& e) { OnCommitted(std::move(e)); };
  rlog_->on_read_states = [this](std::vector<consensus::ReadState>&& r) { OnReadStates(std::move(r)); };
  rlog_->on_snapshot = [this](const pb::SnapshotMeta& meta) { OnSnapshotInstalled(meta); };
  if (options_.follower_reads) {
    FollowerReads::Hooks hooks;
    hooks.socket_path = child_options_.socket_path;
    hooks.auth = child_auth_request_;
    hooks.give_up_after = std::chrono::milliseconds(options_.no_leader_wait_ms);
    hooks.read_index = [this](const std::string& context) {
      return !is_leader_ && leader_id_ != 0 && rlog_->ReadIndex(context).ok();
    };
    follower_reads_ = std::make_unique<FollowerReads>(io_, std::move(hooks));
    if (options_.test_follower_reads_no_wait) follower_reads_->SkipWaitForTest();
  }
  return absl::OkStatus();
}

void Server::Stop() {
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  if (tls_acceptor_) tls_acceptor_->close(ec);
  if (metrics_endpoint_) metrics_endpoint_->Stop();
  child_signals_.cancel(ec);
  child_watch_.cancel();
  promote_timer_.cancel();
  busy_timer_.cancel();
  snap_timer_.cancel();
  snap_retry_.cancel();
  compare_timer_.cancel();
  handover_timer_.cancel();
  drain_timer_.cancel();
  digest_timer_.cancel();
  digest_settle_timer_.cancel();
  if (reader_) reader_->Stop();
  if (rlog_) rlog_->Stop();
  link_.Stop();
  control_.Close();
  gate_.Reset();
  if (follower_reads_) follower_reads_->Clear();
  if (shared_link_) {
    LoseSharedRequests(shared_link_->Close(), "UNKNOWN the node is shutting down; the outcome of this request is unknown");
  }
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [_, s] : sessions) s->Abort("UNKNOWN the node is shutting down; the outcome of this request is unknown");
  if (child_) child_->Kill();
}

// ------------------------------------------------------------------ leadership

void Server::OnSoftState(const consensus::SoftState& ss) {
  if (ss.role == consensus::Role::kCandidate && role_ != consensus::Role::kCandidate) metrics_.OnElection();
  role_ = ss.role;
  if (ss.leader != leader_id_ && ss.leader != 0) metrics_.OnLeaderChange();
  const bool was_leader = is_leader_;
  const bool leader_now = ss.role == consensus::Role::kLeader;
  if (ss.leader == leader_id_ && was_leader == leader_now) return;
  Log(LogComponent::kNode, LogLevel::kInfo, "leader is now %d (this node is %s, term %d)", ss.leader, consensus::RoleName(ss.role),
      rlog_->term());
  if (ss.leader == 0 && leader_id_ != 0) no_leader_since_ = std::chrono::steady_clock::now();
  leader_id_ = ss.leader;
  is_leader_ = leader_now;
  leader_unreachable_.clear();
  // The sessions that asked are aborted (NotifySessions): their reads go too.
  if (follower_reads_) follower_reads_->Clear();
  // The error says what this node saw: a follower that stopped hearing from its
  // leader (and may start an election) does not know that leadership changed.
  EndLeaderEpoch(absl::StrCat("UNKNOWN ",
                              was_leader       ? "this node stopped leading"
                              : ss.leader == 0 ? "this node lost contact with its leader"
                                               : "leadership changed",
                              "; the outcome of this request is unknown"));
  if (was_leader) {
    // Effects this child ran may never commit: rebuild it from the committed
    // log before applying anything more.
    leader_ready_ = false;
    RebuildChild("this node stopped leading");
  }
  if (leader_now) {
    leader_ready_ = false;
    ready_barrier_ = rlog_->last_index();  // includes this term's no-op
    CheckLeaderReady();
  }
  NotifySessions();
}

void Server::CheckLeaderReady() {
  if (!is_leader_ || leader_ready_ || stream_starting_ || promoted_ || state_ != State::kRunning) return;
  if (link_.applied() < ready_barrier_ || !link_.idle()) return;
  Promote();
}

// The child applied the whole committed log: it becomes a master (keeping its
// data, and with PSYNC2 its offset), and this node its replica. Only stream
// bytes past that offset are new writes. The offset is read while the child
// is still a replica: once a master, it evicts (under maxmemory) before the
// first command it runs, and those DELs must be in the stream the node reads
// (PSYNC2 continues from the replica's replication id and offset, out of a
// backlog that is big only until the stream continues: kPromotionBacklog).
void Server::Promote() {
  stream_starting_ = true;
  const int db = link_.stream_db();
  control_.Call({"CONFIG", "SET", "repl-backlog-size", kPromotionBacklog}, [](const resp::Value&) {});
  control_.Call({"INFO", "replication"}, [this, db](const resp::Value& info) {
    std::string replid;
    uint64_t offset = 0;
    for (absl::string_view line : absl::StrSplit(info.AsString(), absl::ByAnyChar("\r\n"), absl::SkipEmpty())) {
      if (absl::ConsumePrefix(&line, "master_replid:")) replid = std::string(line);
      if (absl::ConsumePrefix(&line, "master_repl_offset:")) (void)absl::SimpleAtoi(line, &offset);
    }
    if (replid.empty()) return RebuildChild("promotion: no replication id");
    control_.Call({"REPLICAOF", "NO", "ONE"}, [this, db, replid, offset](const resp::Value& v) {
      if (v.type == resp::Type::kError) return RebuildChild(absl::StrCat("promotion refused: ", v.str));
      promoted_ = true;
      link_.Detach();
      StartStream(std::make_pair(replid, offset), db);
    });
  });
}

// Connects the replication reader: the child's stream from here on is new writes.
void Server::StartStream(std::pair<std::string, uint64_t> resume, int db) {
  stream_starting_ = true;
  ReplicationReader::Callbacks cb;
  cb.on_sync = [this](const std::string& replid, uint64_t offset) {
    stream_starting_ = false;
    control_.Call({"CONFIG", "SET", "repl-backlog-size", kChildBacklog}, [](const resp::Value&) {});
    stream_id_ = replid;
    committed_offset_ = offset;
    last_stream_entry_ = {committed_index_, offset};  // the child holds every committed entry
    batcher_.Reset(offset);
    gate_.Committed(offset);  // the stream starts here, all of it committed
    // The child holds the committed settings: whether it may evict, until a
    // CONFIG SET turns eviction on (never off again before the next start,
    // which is when no eviction can still be on its way to the log).
    gate_.SetEvictions(logged_.MayEvict());
    leader_ready_ = true;
    Log(LogComponent::kNode, LogLevel::kInfo, "leading: serving clients, stream %s from offset %d", replid, offset);
    NotifySessions();
  };
  cb.on_effects = [this](EffectRun&& run) { OnEffects(std::move(run)); };
  cb.on_error = [this](const absl::Status& s) {
    stream_starting_ = false;
    RebuildChild(std::string(s.message()));
  };
  reader_ = std::make_unique<ReplicationReader>(io_, child_options_.socket_path, child_auth_request_, options_.port,
                                                std::move(cb));
  reader_->Start(std::move(resume), db);
}

void Server::StopStream() {
  if (reader_) reader_->Stop();
  reader_.reset();
  stream_starting_ = false;
  stream_id_.clear();
  batcher_.Reset(0);
  mark_.reset();
}

void Server::EndLeaderEpoch(const std::string& error) {
  DrainGate();  // replies released before the end were right to leave
  gate_.Reset();
  ++leader_epoch_;
  follows_.clear();
  asking_.clear();
  EndLeadershipChecks();
  if (shared_link_) LoseSharedRequests(shared_link_->Close(), error);
  AbortSessions(error);
}

// ------------------------------------------------------------------ write path

void Server::OnEffects(EffectRun&& run) {
  gate_.StreamRead(run.end_offset, run.deleted);
  batcher_.Add(std::move(run));
  rlog_->Kick();
}

// Runs before each Ready: what the stream brought since the last one becomes
// entries (group commit), at most kMaxTurnBytes of them, so that neither the
// entries' copies nor their log write hold the loop's timers (heartbeats)
// back for long, whatever the size of the values written; the rest waits one
// Ready.
void Server::ProposePending() {
  ProposeStream();
  ProposeFollows();
}

void Server::ProposeStream() {
  if (!leader_ready_ || batcher_.end_offset() <= batcher_.taken_offset()) return;
  // During a leadership transfer, or once the core stopped leading (the host
  // learns it at the next Ready), proposals would be refused. The effects wait
  // here, in stream order: proposed once a transfer is abandoned, or thrown
  // away with the child's state when this node stops leading.
  if (!rlog_->accepting_proposals() || ProposalsPaused()) return;
  if (!batcher_.has_effects() && !batcher_.cut_pending()) {
    // Only bytes that are not state (pings): nothing to replicate. They are
    // committed once everything proposed before them is.
    if (committed_offset_ >= batcher_.taken_offset()) {
      batcher_.SkipNonState();
      AdvanceCommitted(batcher_.taken_offset());
    }
    return;
  }
  std::vector<pb::EffectBatch> entries = batcher_.Take(kMaxTurnBytes);
  if (entries.empty()) return;  // waiting for the stream to reach a cut point
  std::vector<std::string> payloads;
  std::optional<size_t> marked;  // the entry a mark waits for
  size_t last_stream = 0;        // the last entry of the stream (a mark's follower may come after it)
  std::vector<std::pair<size_t, gate::SlotId>> followed;  // the last payload of a Follow, its slot
  for (pb::EffectBatch& e : entries) {
    e.set_stream_id(stream_id_);
    last_stream = payloads.size();
    payloads.push_back(e.SerializeAsString());
    if (mark_ && !marked && e.stream_end() == mark_->offset && !e.continued()) {
      marked = payloads.size() - 1;
      if (!mark_->follow.empty()) payloads.push_back(mark_->follow);
    }
    while (!e.continued() && !follows_.empty() && follows_.front().offset <= e.stream_end()) {
      payloads.push_back(std::move(follows_.front().payload));
      followed.emplace_back(payloads.size() - 1, follows_.front().slot);
      follows_.pop_front();
    }
  }
  const size_t count = payloads.size();
  if (auto s = rlog_->ProposeBatch(std::move(payloads)); !s.ok()) {
    // These effects ran on the child but will never be in the log. Dropping
    // them and going on would let a later entry's commit acknowledge them, so
    // the child's state is thrown away instead, and its clients get UNKNOWN.
    Log(LogComponent::kNode, LogLevel::kWarning, "proposal refused: %s", s.ToString());
    if (is_leader_) RebuildChild(absl::StrCat("a proposal was refused: ", s.message()));
    return;
  }
  gate_.Proposed(entries.back().stream_end());
  const uint64_t first = rlog_->last_index() + 1 - count;
  for (const auto& [pos, slot] : followed) gate_.WaitForEntry(slot, first + pos);
  last_stream_entry_ = {first + last_stream, entries.back().stream_end()};
  if (marked) {
    Mark m = std::move(*mark_);
    mark_.reset();
    m.at(first + *marked);
  }
  if (batcher_.has_effects()) rlog_->Kick();  // the rest goes with the next Ready
}

bool Server::LogAfterEffects(std::vector<LoggedRequest> requests, gate::SlotId slot) {
  if (!is_leader_ || requests.empty()) return false;
  // One entry for them all (a transaction's): if the leadership ends, a new
  // leader has all or none of them. Children run `commands`; `node_request`
  // holds the requests as the client gave them when some rules only the node
  // knows were taken out for the children.
  pb::EffectBatch batch;  // no stream id: a node entry, applied by every member
  std::string as_given, for_children;
  uint32_t count = 0;
  int db = requests.front().db;
  for (const LoggedRequest& r : requests) {
    if (r.db != db) {  // a transaction's that SELECTs another database
      db = r.db;
      for (std::string* out : {&as_given, &for_children}) resp::AppendCommand(out, {"SELECT", absl::StrCat(db)});
      ++count;
    }
    const std::vector<std::string_view> views(r.args.begin(), r.args.end());
    resp::AppendCommand(&as_given, views);
    const std::vector<std::string> for_child = LoggedState::ForChild(views);
    resp::AppendCommand(&for_children, std::vector<std::string_view>(for_child.begin(), for_child.end()));
    ++count;
  }
  if (as_given != for_children) batch.set_node_request(std::move(as_given));
  batch.set_commands(std::move(for_children));
  batch.set_command_count(count);
  batch.set_db(requests.front().db);
  batch.set_end_db(db);
  Follow f{.slot = slot};
  f.payload = batch.SerializeAsString();
  gate_.HoldForEntry(slot);  // until the entries are proposed
  asking_.push_back(std::move(f));
  if (asking_.size() == 1) AskFollowOffset(leader_epoch_);
  return true;
}

// One ROLE at a time on the control link, for the oldest entries waiting: the
// answers come in order, so follows_ stays in the order of offsets.
void Server::AskFollowOffset(uint64_t epoch) {
  // Not once the leadership ended meanwhile (no longer the master: it ends).
  auto wanted = [this, epoch] { return epoch == leader_epoch_ && !asking_.empty(); };
  AskMasterOffset(wanted, [this, epoch](uint64_t offset) {
    asking_.front().offset = offset;
    follows_.push_back(std::move(asking_.front()));
    asking_.pop_front();
    if (!asking_.empty()) AskFollowOffset(epoch);
    ProposeFollows();
  });
}

void Server::ProposeFollows() {
  while (!follows_.empty() && follows_.front().offset <= batcher_.taken_offset() && leader_ready_ &&
         rlog_->accepting_proposals() && !ProposalsPaused()) {
    Follow f = std::move(follows_.front());
    follows_.pop_front();
    if (auto s = rlog_->ProposeBatch({std::move(f.payload)}); !s.ok()) {
      // The reply waits for an entry that will not come: this leadership ends
      // (as a refused proposal of effects ends it), and the client gets UNKNOWN.
      Log(LogComponent::kNode, LogLevel::kWarning, "proposal refused: %s", s.ToString());
      if (is_leader_) RebuildChild(absl::StrCat("a proposal was refused: ", s.message()));
      return;
    }
    gate_.WaitForEntry(f.slot, rlog_->last_index());
    GateChanged();
  }
}

void Server::OnCommitted(std::vector<cpb::Entry>&& entries) {
  uint64_t own_end = 0;
  if (!entries.empty()) {
    gate_.IndexCommitted(entries.back().index());
    GateChanged();
  }
  for (cpb::Entry& e : entries) {
    committed_index_ = e.index();
    if (e.type() == cpb::ENTRY_CONF_CHANGE) {
      cpb::ConfChange cc;
      if (cc.ParseFromString(e.data())) {
        rlog_->ApplyConfChange(e.index(), cc);
        Log(LogComponent::kNode, LogLevel::kInfo, "membership: %s node %d %s", cpb::ConfChangeType_Name(cc.type()), cc.node_id(),
            cc.context());
        if (cc.type() == cpb::CONF_CHANGE_REMOVE_NODE && cc.node_id() == rlog_->id()) {
          Log(LogComponent::kNode, LogLevel::kWarning, "this node was removed from the cluster; exiting");
          LeaveCluster();
        }
      }
    }
    snapshot_schedule_.Committed(e.data().size());
    pb::EffectBatch batch;
    bool effects = e.type() == cpb::ENTRY_NORMAL && !e.data().empty();
    if (effects && promoted_) {
      // The leader's child ran its stream entries already: their commands are
      // not read here. A node entry's are (LoggedState).
      effects = ParseEffectHeader(e.data(), &batch) && (!batch.stream_id().empty() || batch.ParseFromString(e.data()));
    } else if (effects) {
      effects = batch.ParseFromString(e.data());
    }
    const bool check = effects && batch.stream_id().empty() && !batch.check_digest().empty();
    if (check && promoted_) DigestCommitted(e.index(), batch.check_digest());
    if (effects && batch.stream_id().empty() && !check) {
      const uint64_t generation = logged_.acl_generation();
      if (logged_.Apply(batch)) {
        logged_history_.Add(e.index(), batch);
        LoggedSettingsChanged();
      }
      if (logged_.acl_generation() != generation) acl_changed_at_ = e.index();
    }
    if (!promoted_) {
      if (FeedsAtOnce(e.index())) {
        FeedChild(e.index(), effects ? std::optional<pb::EffectBatch>(std::move(batch)) : std::nullopt);
      } else {
        ScheduleFeed();
      }
      continue;
    }
    // A promoted child produced everything committed from here on itself
    // (its own effects, or the node entries it ran first).
    if (effects && batch.stream_id() == stream_id_ && !stream_id_.empty()) {
      own_end = std::max(own_end, batch.stream_end());
    }
  }
  if (promoted_ && !entries.empty()) {
    gate_.Applied(entries.back().index());
    GateChanged();
    LearnDefaultUser();  // the leader's child ran every change before it was logged
  }
  FinishSnapshot();
  MaybeSnapshot();
  if (leader_id_ == 0 && rlog_->sole_voter()) rlog_->Campaign();  // no need to wait for a timeout
  if (own_end > 0) {
    AdvanceCommitted(own_end);
    // Non-state bytes that waited behind these effects commit with them.
    if (committed_offset_ >= batcher_.taken_offset() && !batcher_.has_effects() &&
        batcher_.end_offset() > committed_offset_) {
      batcher_.SkipNonState();
      AdvanceCommitted(batcher_.taken_offset());
    }
  }
}

void Server::AdvanceCommitted(uint64_t offset) {
  if (offset <= committed_offset_) return;
  committed_offset_ = offset;
  gate_.Committed(offset);
  GateChanged();
}

void Server::OnApplied(uint64_t index) {
  if (index >= acl_changed_at_) LearnDefaultUser();  // the child ran the newest user change
  if (link_.fed() < committed_index_) ScheduleFeed();  // room in its backlog again
  if (follower_reads_ && !promoted_) follower_reads_->Applied(index);
  gate_.Applied(index);
  GateChanged();
  CheckLeaderReady();
}

// ------------------------------------------------------------------ the gate

void Server::GateChanged() {
  if (gate_drain_posted_) return;
  gate_drain_posted_ = true;
  asio::post(io_, [this] { DrainGate(); });
}

void Server::DrainGate() {
  gate_drain_posted_ = false;
  // Each session writes once for all its replies released by this drain.
  ClientSession* last = nullptr;  // releases come in runs of the same session
  gate::SessionId last_id = 0;
  gate_.TakeActions(&released_);
  for (const gate::Action& a : released_) {
    if (a.session != last_id || last == nullptr) {
      auto it = sessions_.find(a.session);
      if (it == sessions_.end()) continue;
      last = it->second.get();
      last_id = a.session;
    }
    if (last->MarkReleased(a.tag)) released_to_.push_back(last->shared_from_this());
  }
  for (auto& s : released_to_) s->FlushReleased();
  released_to_.clear();
  MaybeStartReadRound();
}

// One ReadIndex round at a time serves every request that arrived before it
// began (the gate decides whether one is needed).
void Server::MaybeStartReadRound() {
  if (!is_leader_ || !leader_ready_ || !gate_.WantsReadRound()) return;
  const uint64_t stamp = gate_.StartReadRound();
  if (rlog_->sole_voter()) {
    // A lone voter cannot be deposed by anyone: it is the leader.
    gate_.ReadConfirmed(stamp, 0);
    GateChanged();
    return;
  }
  if (!rlog_->ReadIndex(absl::StrCat(stamp)).ok()) gate_.ReadRoundFailed();
}

void Server::OnReadStates(std::vector<consensus::ReadState>&& states) {
  for (const consensus::ReadState& rs : states) {
    uint64_t stamp = 0;
    absl::string_view ctx = rs.request_ctx;
    if (absl::ConsumePrefix(&ctx, "h")) {
      auto it = absl::SimpleAtoi(ctx, &stamp) ? leadership_checks_.find(stamp) : leadership_checks_.end();
      if (it == leadership_checks_.end()) continue;
      auto done = std::move(it->second);
      leadership_checks_.erase(it);
      done(is_leader_);
      continue;
    }
    if (absl::StartsWith(ctx, FollowerReads::kContextPrefix)) {
      if (follower_reads_) follower_reads_->Confirmed(rs.request_ctx, rs.index);
      continue;
    }
    if (absl::SimpleAtoi(rs.request_ctx, &stamp)) gate_.ReadConfirmed(stamp, rs.index);
  }
  GateChanged();
}

void Server::CoverFromNow(gate::CoverId cover) {
  // The shared link writes at the end of the turn anyway when its sessions
  // sent something: its ROLE then costs the child no wake-up of its own. A
  // held link would keep the ROLE behind a paused write.
  SharedLink* link = is_leader_ ? shared_link() : nullptr;
  if (link != nullptr && link->open() && !link->held()) return link->CoverBehind(cover);
  CoverOnControl(cover);
}

void Server::CoverOnControl(gate::CoverId cover) {
  covers_waiting_.push_back(cover);
  if (covers_waiting_.size() > 1) return;  // a ROLE is on its way for them all
  // After this turn of the loop: every session whose replies arrived in it
  // asks by then, and one ROLE covers them all.
  asio::post(io_, [this] { AskCoverOffset(); });
}

void Server::AskCoverOffset() {
  if (covers_waiting_.empty()) return;
  auto covers = std::make_shared<std::vector<gate::CoverId>>(std::move(covers_waiting_));
  covers_waiting_.clear();
  // No longer the master: the gate was reset with the leadership.
  AskMasterOffset([] { return true; }, [this, covers](uint64_t offset) {
    for (gate::CoverId c : *covers) gate_.Covered(c, offset);
    GateChanged();
  });
}

void Server::AskMasterOffset(std::function<bool()> wanted, std::function<void(uint64_t)> then) {
  control_.Call({"ROLE"}, [this, wanted, then](const resp::Value& v) {
    if (!wanted()) return;
    if (v.type == resp::Type::kError) {
      // BUSY while a script runs: ask again shortly.
      auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(10));
      retry->async_wait([this, wanted, then, retry](const asio::error_code& ec) {
        if (!ec && state_ == State::kRunning && wanted()) AskMasterOffset(wanted, then);
      });
      return;
    }
    if (absl::StatusOr<uint64_t> offset = MasterOffset(v); offset.ok()) then(*offset);
  });
}

void Server::KillChildClient(int64_t child_client_id, gate::CoverId cover) {
  // Killed, its connection runs nothing more (a blocked command is dropped);
  // the ROLE after it covers every effect it ever had.
  // (A rebuilt child drops this reply, but not the retry: the retry asks
  // only the child that the id belongs to.)
  control_.Call({"CLIENT", "KILL", "ID", absl::StrCat(child_client_id)}, [this, child_client_id, cover](
                                                                            const resp::Value& v) {
    if (v.type == resp::Type::kError && absl::StartsWith(v.str, "BUSY")) {
      auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(10));
      retry->async_wait([this, child_client_id, cover, retry, child = child_->pid()](const asio::error_code& ec) {
        if (!ec && state_ == State::kRunning && child_->pid() == child) KillChildClient(child_client_id, cover);
      });
      return;
    }
    CoverFromNow(cover);
  });
}

// ------------------------------------------------------------------ membership

// A learner that caught up with the commit index becomes a voter.
void Server::PromoteLearners() {
  promote_timer_.expires_after(std::chrono::milliseconds(500));
  promote_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || state_ != State::kRunning) return;
    if (is_leader_ && leader_ready_) {
      consensus::RaftStatus st = rlog_->status();
      for (const auto& [id, pr] : st.progress) {
        if (!pr.is_learner || pr.match < st.commit) continue;
        // With the address given to ANARCHO.ADD, not this leader's own
        // route to the learner (ReplicatedLog::PromoteLearner).
        if (rlog_->PromoteLearner(id).ok()) Log(LogComponent::kNode, LogLevel::kInfo, "promoting learner %d to voter", id);
        break;  // one change at a time
      }
    }
    PromoteLearners();
  });
}

int Server::ReplicaCountForWait() const {
  // Every acknowledged write is durable on a majority: the voters but one.
  consensus::RaftStatus st = rlog_->status();
  return std::max(0, st.conf_state.voters_size() / 2);
}

}  // namespace node
