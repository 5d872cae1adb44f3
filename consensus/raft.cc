#include "consensus/raft.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "consensus/fatal.h"

namespace consensus {

bool Raft::IsTermless(pb::MessageType t) {
  return t == pb::MSG_READ_INDEX || t == pb::MSG_TRANSFER_LEADER;
}

pb::Message Raft::NewMessage(pb::MessageType type, uint64_t to) {
  pb::Message m;
  m.set_type(type);
  m.set_to(to);
  return m;
}

namespace {
bool PromisesNothing(pb::MessageType t) {
  switch (t) {
    case pb::MSG_APP:
    case pb::MSG_HEARTBEAT:
    case pb::MSG_HEARTBEAT_RESP:
    case pb::MSG_READ_INDEX:
    case pb::MSG_READ_INDEX_RESP:
    case pb::MSG_TIMEOUT_NOW:  // the transferee's log is what it depends on
      return true;
    default:
      return false;
  }
}
}  // namespace

bool Raft::SendableBeforeWrite(const pb::Message& m) const {
  return PromisesNothing(m.type()) && m.term() <= durable_term_;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

std::vector<pb::Entry> BootstrapEntries(const std::vector<uint64_t>& voters) {
  std::vector<pb::Entry> out;
  for (size_t i = 0; i < voters.size(); ++i) {
    pb::ConfChange cc;
    cc.set_type(pb::CONF_CHANGE_ADD_VOTER);
    cc.set_node_id(voters[i]);
    pb::Entry e;
    e.set_term(1);
    e.set_index(i + 1);
    e.set_type(pb::ENTRY_CONF_CHANGE);
    e.set_data(cc.SerializeAsString());
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------- creation

Raft::Raft(const Config& c)
    : id_(c.id),
      election_tick_(c.election_tick),
      heartbeat_tick_(c.heartbeat_tick),
      pre_vote_(c.pre_vote),
      check_quorum_(c.check_quorum),
      read_only_option_(c.read_only_option),
      max_size_per_msg_(c.max_size_per_msg),
      lease_margin_ticks_(c.lease_margin_ticks),
      log_(c.storage, c.max_committed_size_per_ready),
      trk_(InflightLimits{c.max_inflight_msgs, c.max_inflight_bytes}),
      rng_(c.random_seed != 0 ? c.random_seed : c.id * 0x9E3779B97F4A7C15ull) {}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& c) {
  if (c.id == 0) return absl::InvalidArgumentError("raft: id must not be 0");
  if (c.storage == nullptr) return absl::InvalidArgumentError("raft: storage is required");
  if (c.heartbeat_tick <= 0) return absl::InvalidArgumentError("raft: heartbeat_tick must be > 0");
  if (c.election_tick <= c.heartbeat_tick) {
    return absl::InvalidArgumentError("raft: election_tick must be > heartbeat_tick");
  }
  if (c.max_inflight_msgs == 0) return absl::InvalidArgumentError("raft: max_inflight_msgs must be > 0");
  if (c.read_only_option == ReadOnlyOption::kLeaseBased && !c.check_quorum) {
    return absl::InvalidArgumentError("raft: lease-based reads need check_quorum");
  }
  if (c.lease_margin_ticks < 0 || c.lease_margin_ticks >= c.election_tick) {
    return absl::InvalidArgumentError("raft: lease_margin_ticks must be in [0, election_tick)");
  }
  absl::StatusOr<PersistentState> st = c.storage->InitialState();
  if (!st.ok()) return st.status();

  std::unique_ptr<Raft> r(new Raft(c));
  RaftLog& log = r->log_;
  const pb::HardState& hs = st->hard_state;
  if (hs.commit() > log.LastIndex()) {
    return absl::FailedPreconditionError(absl::StrCat("raft: persisted commit ", hs.commit(),
                                                      " is past the last index ", log.LastIndex()));
  }
  log.CommitTo(hs.commit());
  if (c.applied > 0) {
    // Committed entries are applied before the commit is recorded (they are
    // durable already, see the host loop), so a durable state machine may be
    // ahead of the recorded commit: what it applied was committed.
    if (c.applied > log.LastIndex() || c.applied < log.applied()) {
      return absl::InvalidArgumentError(absl::StrCat("raft: applied ", c.applied, " outside [",
                                                     log.applied(), ",", log.LastIndex(), "]"));
    }
    log.CommitTo(c.applied);
    log.AppliedTo(c.applied);
  }
  r->trk_.Reset(st->conf_state, log.LastIndex() + 1);
  r->term_ = hs.term();
  r->BecomeFollower(hs.term(), 0);
  r->vote_ = hs.vote();
  r->prev_hard_state_ = r->HardState();
  r->durable_term_ = hs.term();
  r->prev_soft_state_ = r->GetSoftState();
  return r;
}

// ---------------------------------------------------------------- roles

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      election_tick_ + static_cast<int>(rng_() % static_cast<uint64_t>(election_tick_));
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = 0;
    campaign_after_apply_ = false;
  }
  lead_ = 0;
  election_elapsed_ = 0;
  leader_link_lost_ = false;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  trk_.ResetVotes();
  // Fresh progress for everybody; our own match is what is durable.
  const uint64_t next = log_.LastIndex() + 1;
  for (auto& [id, pr] : trk_.progress()) {
    Progress fresh(trk_.max_inflight());
    fresh.next = next;
    fresh.is_learner = trk_.IsLearner(id);
    if (id == id_) {
      fresh.match = log_.PersistedLastIndex();
      fresh.recent_active = true;
    }
    pr = std::move(fresh);
  }
  pending_conf_index_ = 0;
  read_only_.Clear();
  reads_waiting_for_commit_.clear();
  pending_bcast_entries_ = false;
  pending_bcast_commit_ = false;
  pending_read_heartbeat_ = false;
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void Raft::BecomePreCandidate() {
  RAFT_CHECK(role_ != Role::kLeader, "leader cannot become pre-candidate");
  // Neither term nor vote changes: a pre-vote round binds nobody.
  role_ = Role::kPreCandidate;
  trk_.ResetVotes();
  lead_ = 0;
  ResetRandomizedElectionTimeout();
}

void Raft::BecomeCandidate() {
  RAFT_CHECK(role_ != Role::kLeader, "leader cannot become candidate");
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::BecomeLeader() {
  RAFT_CHECK(role_ != Role::kFollower, "follower cannot become leader");
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  if (Progress* self = trk_.Get(id_)) self->BecomeReplicate();
  // Conf changes wait until everything before this term's no-op is applied.
  pending_conf_index_ = log_.LastIndex();
  // The no-op: commits everything before it (Raft §5.4.2) and enables reads.
  AppendEntries(std::vector<pb::Entry>(1));
}

bool Raft::Promotable() const { return trk_.IsVoter(id_) && !log_.unstable().snapshot(); }

bool Raft::HasUnappliedConfChanges() const {
  uint64_t lo = std::max(log_.applied() + 1, log_.FirstIndex());
  if (lo > log_.committed()) return false;
  absl::StatusOr<std::vector<pb::Entry>> ents =
      log_.Slice(lo, log_.committed() + 1, std::numeric_limits<uint64_t>::max());
  RAFT_CHECK(ents.ok(), "unapplied entries: ", ents.status().ToString());
  for (const pb::Entry& e : *ents) {
    if (e.type() == pb::ENTRY_CONF_CHANGE) return true;
  }
  return false;
}

bool Raft::PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }

bool Raft::InLease() const {
  if (check_quorum_ && lead_ != 0 && election_elapsed_ < election_tick_) return true;
  // After a restart we do not know what we promised before the crash: keep
  // any promise by waiting one election timeout before voting.
  return read_only_option_ == ReadOnlyOption::kLeaseBased &&
         now_ < static_cast<uint64_t>(election_tick_);
}

bool Raft::LeaseValid() const {
  if (role_ != Role::kLeader || lead_transferee_ != 0) return false;
  // Heartbeats carry now_+1, so 0 means "never acknowledged".
  uint64_t acked = trk_.QuorumLeaseAck(id_, now_ + 1, lease_breakers_);
  if (acked == 0 || acked - 1 < lease_floor_) return false;
  uint64_t lease = static_cast<uint64_t>(election_tick_ - lease_margin_ticks_);
  return (acked - 1) + lease > now_;
}

void Raft::StartCampaign(CampaignType t) {
  if (!Promotable()) return;
  // A change we know is committed may remove us or change the quorum; vote
  // counting with the old configuration could be wrong.
  if (HasUnappliedConfChanges()) return;
  pb::MessageType type;
  uint64_t vote_term;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    type = pb::MSG_PRE_VOTE;
    vote_term = term_ + 1;
  } else {
    BecomeCandidate();
    type = pb::MSG_VOTE;
    vote_term = term_;
  }
  trk_.RecordVote(id_, true);
  if (trk_.TallyVotes() == VoteResult::kWon) {
    // A single voter wins at once.
    if (t == CampaignType::kPreElection) {
      StartCampaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  uint64_t last_index = log_.LastIndex();
  uint64_t last_term = log_.LastTerm();
  for (uint64_t id : trk_.voters().ids()) {
    if (id == id_) continue;
    pb::Message m = NewMessage(type, id);
    m.set_term(vote_term);
    m.set_index(last_index);
    m.set_log_term(last_term);
    m.set_force(t == CampaignType::kTransfer);
    Send(std::move(m));
  }
}

// ---------------------------------------------------------------- clock

void Raft::Tick() {
  ++now_;
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  CampaignSoonIfLeaderLost();
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    StartCampaign(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_tick_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      if (!trk_.QuorumActive(id_)) {
        // Cut off from a majority: stop acting as leader (and serving leases).
        BecomeFollower(term_, 0);
        return;
      }
      for (auto& [id, pr] : trk_.progress()) {
        if (id != id_) pr.recent_active = false;
      }
    }
    // A transfer that did not finish within an election timeout is abandoned.
    AbortLeaderTransfer();
  }
  if (heartbeat_elapsed_ >= heartbeat_tick_) {
    heartbeat_elapsed_ = 0;
    BcastHeartbeat(read_only_.LastKey());
  }
}

// ---------------------------------------------------------------- messages

absl::Status Raft::Step(pb::Message m) {
  const pb::MessageType type = m.type();
  if (type <= pb::MSG_UNSPECIFIED || type > pb::MSG_TRANSFER_LEADER) {
    return absl::InvalidArgumentError(absl::StrCat("raft: bad message type ", type));
  }
  const bool is_vote = type == pb::MSG_VOTE || type == pb::MSG_PRE_VOTE;
  if (IgnoresNonMember(m, is_vote)) {
    ++ignored_non_members_;
    return absl::OkStatus();
  }
  if (m.term() == 0 && IsTermless(type)) {
    // Requests forwarded by a follower: not bound to a term.
  } else if (m.term() > term_) {
    if (is_vote) {
      // The leader lease: while we hear from a leader, a candidate is more
      // likely partitioned than the leader dead. A transfer overrides it.
      if (!m.force() && InLease()) return absl::OkStatus();
    }
    if (type == pb::MSG_PRE_VOTE) {
      // A pre-vote never changes our term.
    } else if (type == pb::MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the term we would campaign for.
    } else if (type == pb::MSG_APP || type == pb::MSG_HEARTBEAT || type == pb::MSG_SNAP) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), 0);
    }
  } else if (m.term() < term_) {
    if (type == pb::MSG_HEARTBEAT || type == pb::MSG_APP) {
      // A stale leader, perhaps back from a partition. Our vote requests may
      // be ignored by its followers (lease) while we ignore its appends, and
      // a learner (which a removed node's vote request moved to a newer term)
      // never campaigns at all: telling it our term makes it step down and
      // ends the stand-off.
      Send(NewMessage(pb::MSG_APP_RESP, m.from()));
    } else if (type == pb::MSG_PRE_VOTE) {
      pb::Message resp = NewMessage(pb::MSG_PRE_VOTE_RESP, m.from());
      resp.set_term(term_);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    return absl::OkStatus();
  }

  if (is_vote) {
    HandleVoteRequest(m);
    return absl::OkStatus();
  }
  switch (role_) {
    case Role::kLeader: StepLeader(m); break;
    case Role::kPreCandidate:
    case Role::kCandidate: StepCandidate(m); break;
    case Role::kFollower: StepFollower(m); break;
  }
  return absl::OkStatus();
}

// A node outside the configuration cannot disrupt it: a member ignores its
// vote requests, and a leader its higher terms (a removed node that kept
// campaigning, or a sender nobody in the cluster knows). A follower still
// takes a higher term from an unknown leader: its log may lag the membership
// change that made that leader a member. A node that is not a member itself
// (one that joins) listens to anyone.
bool Raft::IgnoresNonMember(const pb::Message& m, bool is_vote) const {
  if (m.from() == id_ || trk_.IsMember(m.from()) || !trk_.IsMember(id_)) return false;
  return is_vote || (role_ == Role::kLeader && m.term() > term_);
}

void Raft::HandleVoteRequest(const pb::Message& m) {
  const bool pre = m.type() == pb::MSG_PRE_VOTE;
  const pb::MessageType resp_type = pre ? pb::MSG_PRE_VOTE_RESP : pb::MSG_VOTE_RESP;
  // We may vote again for the same candidate (a duplicate request), vote if
  // we have neither voted nor know a leader in this term, and grant a
  // pre-vote for a later term (it binds nothing).
  bool can_vote = vote_ == m.from() || (vote_ == 0 && lead_ == 0) || (pre && m.term() > term_);
  pb::Message resp = NewMessage(resp_type, m.from());
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    resp.set_term(m.term());
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
  }
  Send(std::move(resp));
}

void Raft::StepFollower(pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APP:
      election_elapsed_ = 0;
      leader_link_lost_ = false;
      lead_ = m.from();
      HandleAppendEntries(m);
      break;
    case pb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      leader_link_lost_ = false;
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case pb::MSG_SNAP:
      election_elapsed_ = 0;
      leader_link_lost_ = false;
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case pb::MSG_TRANSFER_LEADER:
      if (lead_ != 0) {
        m.set_to(lead_);
        Send(std::move(m));
      }
      break;
    case pb::MSG_TIMEOUT_NOW:
      if (HasUnappliedConfChanges()) {
        campaign_after_apply_ = true;
      } else {
        StartCampaign(CampaignType::kTransfer);
      }
      break;
    case pb::MSG_READ_INDEX_RESP:
      read_states_.push_back(ReadState{m.index(), m.context()});
      break;
    default:
      // MSG_READ_INDEX sent to us by mistake is dropped: its asker times out.
      break;
  }
}

void Raft::StepCandidate(pb::Message& m) {
  const pb::MessageType my_resp =
      role_ == Role::kPreCandidate ? pb::MSG_PRE_VOTE_RESP : pb::MSG_VOTE_RESP;
  switch (m.type()) {
    case pb::MSG_APP:
      BecomeFollower(m.term(), m.from());
      HandleAppendEntries(m);
      return;
    case pb::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      return;
    case pb::MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      return;
    default:
      break;
  }
  if (m.type() != my_resp) return;
  // A grant from an older pre-vote round would count for the wrong term.
  if (role_ == Role::kPreCandidate && !m.reject() && m.term() != term_ + 1) return;
  trk_.RecordVote(m.from(), !m.reject());
  switch (trk_.TallyVotes()) {
    case VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        StartCampaign(CampaignType::kElection);
      } else {
        BecomeLeader();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, 0);
      break;
    case VoteResult::kPending:
      break;
  }
}

void Raft::StepLeader(pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APP_RESP: HandleAppendResponse(m); break;
    case pb::MSG_HEARTBEAT_RESP: HandleHeartbeatResponse(m); break;
    case pb::MSG_TRANSFER_LEADER: (void)HandleTransferLeader(m.transferee()); break;
    case pb::MSG_READ_INDEX:
      HandleReadIndexOnLeader(ReadRequest{m.from(), std::move(*m.mutable_context()), 0, m.log_term()});
      break;
    default: break;
  }
}

void Raft::HandleAppendEntries(pb::Message& m) {
  pb::Message resp = NewMessage(pb::MSG_APP_RESP, m.from());
  if (m.index() < log_.committed()) {
    // Everything up to our commit index matches any leader's log: entries up
    // to it are ours already, and those after it follow it. (A leader's last
    // append to a node it removes starts at what it knows the node holds,
    // which may lie below what the node committed meanwhile.)
    auto& ents = *m.mutable_entries();
    const auto past = std::find_if(ents.begin(), ents.end(), [&](const pb::Entry& e) { return e.index() > log_.committed(); });
    const absl::StatusOr<uint64_t> committed_term = log_.Term(log_.committed());
    if (past == ents.end() || !committed_term.ok()) {
      resp.set_index(log_.committed());
      Send(std::move(resp));
      return;
    }
    ents.erase(ents.begin(), past);
    m.set_index(log_.committed());
    m.set_log_term(*committed_term);
  }
  std::vector<pb::Entry> entries;
  entries.reserve(m.entries_size());
  for (pb::Entry& e : *m.mutable_entries()) entries.push_back(std::move(e));
  if (std::optional<uint64_t> last = log_.MaybeAppend(m.index(), m.log_term(), m.commit(),
                                                      std::move(entries))) {
    resp.set_index(*last);
    Send(std::move(resp));
    return;
  }
  // Our entry at m.index() is missing or from another term. Point the leader
  // at the last index whose term could still match: entries after it with a
  // term above m.log_term() cannot be in the leader's log at those indexes.
  uint64_t hint = std::min(m.index(), log_.LastIndex());
  hint = log_.FindConflictByTerm(hint, m.log_term());
  absl::StatusOr<uint64_t> hint_term = log_.Term(hint);
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint);
  resp.set_log_term(hint_term.ok() ? *hint_term : 0);
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const pb::Message& m) {
  log_.CommitTo(m.commit());
  pb::Message resp = NewMessage(pb::MSG_HEARTBEAT_RESP, m.from());
  resp.set_context(m.context());
  resp.set_index(m.index());  // the leader's send tick, for its lease
  Send(std::move(resp));
}

void Raft::HandleSnapshot(pb::Message& m) {
  pb::Message resp = NewMessage(pb::MSG_APP_RESP, m.from());
  if (Restore(std::move(*m.mutable_snapshot()))) {
    resp.set_index(log_.LastIndex());
  } else {
    resp.set_index(log_.committed());
  }
  Send(std::move(resp));
}

bool Raft::Restore(pb::Snapshot s) {
  const pb::SnapshotMetadata& meta = s.metadata();
  if (meta.index() <= log_.committed()) return false;
  // The snapshot's configuration may not include us yet (it predates our
  // addition, which follows in the log): accept it anyway. Until we apply
  // that addition we are not promotable, which is the truth.
  if (log_.MatchTerm(meta.index(), meta.term())) {
    // We already have the snapshot's last entry: just learn it is committed.
    log_.CommitTo(meta.index());
    return false;
  }
  pb::ConfState conf = meta.conf_state();
  log_.Restore(std::move(s));
  trk_.Reset(conf, log_.LastIndex() + 1);
  return true;
}

void Raft::HandleAppendResponse(const pb::Message& m) {
  Progress* pr = trk_.Get(m.from());
  if (pr == nullptr) return;
  pr->recent_active = true;
  if (m.reject()) {
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) {
      // Skip every entry of ours whose term is above the follower's term at
      // the hint: none of them can match.
      next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term());
    }
    if (pr->MaybeDecrTo(m.index(), next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      MaybeSendAppend(m.from(), true);
    }
    return;
  }
  if (pr->MaybeUpdate(m.index())) {
    if (pr->state == ProgressState::kProbe) {
      pr->BecomeReplicate();
    } else if (pr->state == ProgressState::kSnapshot &&
               (pr->match >= pr->pending_snapshot || pr->match + 1 >= log_.FirstIndex())) {
      pr->BecomeProbe();
      pr->BecomeReplicate();
    } else if (pr->state == ProgressState::kReplicate) {
      pr->inflights.FreeLE(m.index());
      pr->unanswered_since = now_;
    }
    if (MaybeCommit()) OnCommitAdvanced();
    SendAppends(m.from(), false);
    if (m.from() == lead_transferee_ && pr->match == log_.LastIndex()) SendTimeoutNow(m.from());
  }
}

void Raft::HandleHeartbeatResponse(const pb::Message& m) {
  Progress* pr = trk_.Get(m.from());
  if (pr == nullptr) return;
  pr->recent_active = true;
  // A heartbeat answer frees the next probe, at most once a tick: a follower
  // back from an outage may answer a pile of heartbeats at once (or reads
  // may send many per tick), and each must not fetch the same entries again.
  if (now_ > pr->probe_sent_at) pr->probe_sent = false;
  pr->lease_ack = std::max(pr->lease_ack, m.index());
  // All appends of a full window may have been lost, or their answers: a
  // transport drops what is sent while a link waits to reconnect, and a
  // follower's answers lost on their way back are reported to nobody. Once
  // the window went unanswered for an election timeout, free what keeps it
  // full and start the clock again; the next append finds out (the follower
  // rejects it if there is a gap, and probing repairs that). Not sooner: a
  // follower still writing what it got answers heartbeats meanwhile, and
  // freeing one per answer sent it several windows for one write.
  if (pr->state == ProgressState::kReplicate && pr->inflights.Full() &&
      now_ - pr->unanswered_since >= static_cast<uint64_t>(election_tick_)) {
    while (pr->inflights.Full()) pr->inflights.FreeFirstOne();
    pr->unanswered_since = now_;
  }
  if (pr->match < log_.LastIndex()) MaybeSendAppend(m.from(), true);

  if (m.context().empty()) return;
  const absl::btree_set<uint64_t>* acks = read_only_.RecvAck(m.from(), m.context());
  if (acks == nullptr) return;
  VoteResult r = trk_.voters().Vote([acks](uint64_t id) -> std::optional<bool> {
    if (acks->contains(id)) return true;
    return std::nullopt;
  });
  if (r != VoteResult::kWon) return;
  for (const ReadRequest& req : read_only_.Release(m.context())) RespondRead(req, req.index);
}

absl::Status Raft::HandleTransferLeader(uint64_t transferee) {
  const Progress* pr = trk_.Get(transferee);
  if (pr == nullptr || pr->is_learner) return absl::OkStatus();
  // Not while a membership change is on its way: the transferee may be the
  // node it removes, and told to campaign before the others applied its
  // removal it could win their forced votes (and leave at once), or sit out
  // its removal at a higher term than theirs, never told of it.
  if (pending_conf_index_ > log_.applied()) {
    return absl::FailedPreconditionError("raft: a membership change (or this leader's first entry) is not applied yet");
  }
  if (lead_transferee_ != 0) {
    if (lead_transferee_ == transferee) return absl::OkStatus();
    AbortLeaderTransfer();
  }
  if (transferee == id_) return absl::OkStatus();
  // The transfer must finish within an election timeout (see TickHeartbeat).
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    MaybeSendAppend(transferee, true);
  }
  return absl::OkStatus();
}

void Raft::HandleReadIndexOnLeader(ReadRequest req) {
  // Until an entry of this term is committed, our commit index may be behind
  // what a previous leader committed (or, for a sole voter, what it committed
  // itself before a restart: the record of a commit may be written lazily).
  if (!CommittedEntryInCurrentTerm()) {
    reads_waiting_for_commit_.push_back(std::move(req));
    return;
  }
  if (trk_.voters().size() == 1 && trk_.IsVoter(id_)) {
    RespondRead(req, log_.committed());
    return;
  }
  req.index = log_.committed();
  if (read_only_option_ == ReadOnlyOption::kLeaseBased && LeaseValid()) {
    RespondRead(req, req.index);
    return;
  }
  if (AskerCompletesQuorum(req)) {
    RespondRead(req, req.index);
    return;
  }
  std::string key = absl::StrCat(req.from, ":", req.context);
  read_only_.Add(key, std::move(req));
  read_only_.RecvAck(id_, key);
  pending_read_heartbeat_ = true;
}

// A follower that asked in this leader's term acknowledged the leader after
// the read began (a node that voted in a newer term never goes back to this
// one). With this leader's own, that may already be a majority (two of three
// voters): no newer leader could have committed anything before the read
// began, so the commit index now is a linearizable read index, one round trip
// for the follower instead of two. It counts for this request only: earlier
// ones may have begun after the follower asked.
bool Raft::AskerCompletesQuorum(const ReadRequest& req) const {
  if (req.from == id_ || req.asker_term != term_ || !trk_.IsVoter(req.from)) return false;
  return trk_.voters().Vote([&](uint64_t id) -> std::optional<bool> {
           if (id == id_ || id == req.from) return true;
           return std::nullopt;
         }) == VoteResult::kWon;
}

void Raft::RespondRead(const ReadRequest& req, uint64_t index) {
  if (req.from == id_) {
    read_states_.push_back(ReadState{index, req.context});
    return;
  }
  pb::Message m = NewMessage(pb::MSG_READ_INDEX_RESP, req.from);
  m.set_index(index);
  m.set_context(req.context);
  Send(std::move(m));
}

}  // namespace consensus
