// Raft's side of the host loop (raft.h): the host's requests (proposals,
// membership changes, reads, transfers, reports from the transport) and the
// Ready cycle that hands back the work they cause. The protocol itself
// (roles, clock, messages, replication) is in raft.cc.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "consensus/fatal.h"
#include "consensus/raft.h"

namespace consensus {

namespace {

bool SameHardState(const pb::HardState& a, const pb::HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}

}  // namespace

// ---------------------------------------------------------------- requests

absl::Status Raft::Propose(std::string payload) {
  std::vector<std::string> one;
  one.push_back(std::move(payload));
  return ProposeBatch(std::move(one));
}

absl::Status Raft::ProposeBatch(std::vector<std::string> payloads) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("raft: not leader");
  if (lead_transferee_ != 0) {
    return absl::FailedPreconditionError("raft: leadership transfer in progress");
  }
  std::vector<pb::Entry> entries(payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) entries[i].set_data(std::move(payloads[i]));
  AppendEntries(std::move(entries));
  return absl::OkStatus();
}

absl::Status Raft::ProposeConfChange(const pb::ConfChange& cc) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("raft: not leader");
  if (lead_transferee_ != 0) {
    return absl::FailedPreconditionError("raft: leadership transfer in progress");
  }
  if (pending_conf_index_ > log_.applied()) {
    return absl::FailedPreconditionError(
        "raft: a membership change (or this leader's first entry) is not applied yet");
  }
  if (cc.node_id() == 0) return absl::InvalidArgumentError("raft: conf change for node 0");
  switch (cc.type()) {
    case pb::CONF_CHANGE_ADD_VOTER:
      break;
    case pb::CONF_CHANGE_ADD_LEARNER:
    case pb::CONF_CHANGE_REMOVE_NODE:
      if (trk_.IsVoter(cc.node_id()) && trk_.voters().size() == 1) {
        return absl::InvalidArgumentError("raft: cannot remove the last voter");
      }
      break;
    default:
      return absl::InvalidArgumentError("raft: unknown conf change type");
  }
  std::vector<pb::Entry> entries(1);
  entries[0].set_type(pb::ENTRY_CONF_CHANGE);
  entries[0].set_data(cc.SerializeAsString());
  AppendEntries(std::move(entries));
  pending_conf_index_ = log_.LastIndex();
  return absl::OkStatus();
}

pb::ConfState Raft::ApplyConfChange(const pb::ConfChange& cc) {
  const uint64_t id = cc.node_id();
  const uint64_t next = log_.LastIndex() + 1;
  const bool last_voter = trk_.IsVoter(id) && trk_.voters().size() == 1;
  if (id != 0) {
    switch (cc.type()) {
      case pb::CONF_CHANGE_ADD_VOTER: trk_.AddVoter(id, next); break;
      case pb::CONF_CHANGE_ADD_LEARNER:
        if (!last_voter) trk_.AddLearner(id, next);
        break;
      case pb::CONF_CHANGE_REMOVE_NODE:
        if (last_voter) break;
        // The node removed hears that its removal committed (it then
        // exits): from now on it gets nothing, and the broadcast of this
        // commit may not be made yet (a commit learnt during a write is
        // applied before it).
        if (role_ == Role::kLeader && id != id_ && trk_.Get(id) != nullptr) SendParting(id);
        trk_.Remove(id);
        break;
      default: break;
    }
  }
  if (role_ == Role::kLeader) {
    if (!trk_.IsVoter(id_)) {
      // We removed (or demoted) ourselves, and the change is committed. The
      // others hear that it committed: the broadcast of this commit may not
      // be made yet (a commit learnt during a write is applied before it),
      // and stepping down drops it. A voter that never learnt it would
      // campaign under the old configuration, which still counts this node
      // (of two voters, it could never win). Then the most caught-up voter
      // is asked to campaign now rather than after a timeout.
      BcastHeartbeat("");
      uint64_t best = 0, best_match = 0;
      for (const auto& [pid, pr] : trk_.progress()) {
        if (pid != id_ && !pr.is_learner && pr.match >= best_match) {
          best = pid;
          best_match = pr.match;
        }
      }
      if (best != 0 && best_match == log_.LastIndex()) SendTimeoutNow(best);
      BecomeFollower(term_, 0);
      return trk_.ConfState();
    }
    if (lead_transferee_ != 0 && !trk_.IsVoter(lead_transferee_)) AbortLeaderTransfer();
    // The quorum changed: the commit index may move, new members need appends.
    if (MaybeCommit()) OnCommitAdvanced();
    pending_bcast_commit_ = true;
  }
  return trk_.ConfState();
}

absl::Status Raft::ReadIndex(std::string context) {
  if (role_ == Role::kLeader) {
    HandleReadIndexOnLeader(ReadRequest{id_, std::move(context), 0});
    return absl::OkStatus();
  }
  if (lead_ == 0) return absl::UnavailableError("raft: no leader");
  pb::Message m = NewMessage(pb::MSG_READ_INDEX, lead_);
  m.set_context(std::move(context));
  m.set_log_term(term_);
  Send(std::move(m));
  return absl::OkStatus();
}

absl::Status Raft::TransferLeadership(uint64_t transferee) {
  if (!trk_.IsVoter(transferee)) {
    return absl::InvalidArgumentError(absl::StrCat("raft: ", transferee, " is not a voter"));
  }
  if (role_ == Role::kLeader) return HandleTransferLeader(transferee);
  if (lead_ == 0) return absl::UnavailableError("raft: no leader");
  pb::Message m = NewMessage(pb::MSG_TRANSFER_LEADER, lead_);
  m.set_transferee(transferee);
  Send(std::move(m));
  return absl::OkStatus();
}

void Raft::Campaign() {
  if (role_ == Role::kLeader) return;
  StartCampaign(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
}

void Raft::ReportUnreachable(uint64_t id) {
  if (role_ != Role::kLeader) return;
  Progress* pr = trk_.Get(id);
  if (pr != nullptr && pr->state == ProgressState::kReplicate) pr->BecomeProbe();
}

// A follower's link to its leader closed or was refused (a leader killed
// closes its connections at once; a slow one does not). If the leader then stays silent for two heartbeat
// ticks too, the follower stops defending the leader's lease and campaigns
// within a few ticks instead of a whole election timeout. Only with pre-vote:
// then a campaign changes nothing unless a majority also lost the leader (the
// others still hearing it refuse the pre-vote). A leader that speaks again
// cancels it; a spread of a few ticks keeps followers that lost the same
// leader from splitting the vote. Not under lease reads (see
// CampaignSoonIfLeaderLost).
void Raft::ReportPeerGone(uint64_t id) {
  if (id != 0 && id == lead_ && role_ == Role::kFollower && pre_vote_) leader_link_lost_ = true;
}

// A lease rests on every voter refusing votes for an election timeout after
// it heard from the leader, also after its own restart: a node without lease
// reads keeps neither (CampaignSoonIfLeaderLost, InLease's restart guard), so
// a cluster changing the setting one node at a time could serve a stale read
// from a lease. Its acks no longer count for one; the leader then confirms
// reads with a heartbeat round.
void Raft::SetLeasePromise(uint64_t id, bool keeps) {
  if (keeps) {
    lease_breakers_.erase(id);
  } else {
    lease_breakers_.insert(id);
  }
}

void Raft::CampaignSoonIfLeaderLost() {
  constexpr int kSilentTicks = 2;
  constexpr int kSpreadTicks = 4;
  // Not under lease reads: a follower that heard the leader promised it a
  // whole election timeout, and the leader answers reads on that promise (a
  // leader cut off from everyone, whose links were reset, still lives).
  if (read_only_option_ == ReadOnlyOption::kLeaseBased) leader_link_lost_ = false;
  if (!leader_link_lost_ || election_elapsed_ < kSilentTicks) return;
  leader_link_lost_ = false;
  const int early = 1 + static_cast<int>(rng_() % kSpreadTicks);
  election_elapsed_ = std::max({election_elapsed_, election_tick_, randomized_election_timeout_ - early});
}

void Raft::ReportSnapshot(uint64_t id, bool failed) {
  if (role_ != Role::kLeader) return;
  Progress* pr = trk_.Get(id);
  if (pr == nullptr || pr->state != ProgressState::kSnapshot) return;
  if (failed) pr->pending_snapshot = 0;
  pr->BecomeProbe();
  // Wait for the follower's answer (or a heartbeat) before probing again.
  pr->probe_sent = true;
}

// ---------------------------------------------------------------- Ready

pb::HardState Raft::HardState() const {
  pb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

bool Raft::HasReady() const {
  if (ready_outstanding_) return false;
  if (GetSoftState() != prev_soft_state_) return true;
  if (!SameHardState(HardState(), prev_hard_state_)) return true;
  if (log_.unstable().snapshot() || !log_.unstable().entries().empty()) return true;
  if (!msgs_.empty() || !read_states_.empty()) return true;
  if (role_ == Role::kLeader &&
      (pending_bcast_entries_ || pending_bcast_commit_ || pending_read_heartbeat_)) {
    return true;
  }
  return log_.HasNextCommittedEntries();
}

Ready Raft::GetReady() {
  RAFT_CHECK(!ready_outstanding_, "GetReady called again before Advance");
  FlushBroadcasts();
  Ready rd;
  rd.entries = log_.unstable().entries();
  if (log_.unstable().snapshot()) rd.snapshot = *log_.unstable().snapshot();
  // Entries this very Ready stores wait for the next one (or TakeUnblocked):
  // what the host gets it may apply while it writes.
  rd.committed_entries = log_.TakeNextCommittedEntries();
  if (!rd.entries.empty()) {
    rd.last_entry_index = rd.entries.back().index();
    rd.last_entry_term = rd.entries.back().term();
  }
  SoftState ss = GetSoftState();
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  pb::HardState hs = HardState();
  if (!SameHardState(hs, prev_hard_state_)) {
    rd.must_sync = hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote();
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  rd.must_sync = rd.must_sync || !rd.entries.empty() || rd.snapshot.has_value();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  ready_outstanding_ = true;
  return rd;
}

Raft::Unblocked Raft::TakeUnblocked() {
  if (role_ == Role::kLeader && pending_read_heartbeat_) {
    BcastHeartbeat(read_only_.LastKey());
    pending_read_heartbeat_ = false;
  }
  Unblocked out;
  auto blocked = std::stable_partition(msgs_.begin(), msgs_.end(),
                                       [this](const pb::Message& m) { return SendableBeforeWrite(m); });
  out.messages.assign(std::make_move_iterator(msgs_.begin()), std::make_move_iterator(blocked));
  msgs_.erase(msgs_.begin(), blocked);
  out.read_states = std::move(read_states_);
  read_states_.clear();
  // PersistedLastIndex() is 0 while a received snapshot waits to be stored,
  // and short of the entries the outstanding write stores.
  if (ready_outstanding_) out.committed_entries = log_.TakeNextCommittedEntries();
  return out;
}

void Raft::Advance(const Ready& rd) {
  RAFT_CHECK(ready_outstanding_, "Advance without GetReady");
  ready_outstanding_ = false;
  if (rd.hard_state) durable_term_ = rd.hard_state->term();
  uint64_t applied = log_.applied();
  if (rd.snapshot) {
    log_.unstable().StableSnapTo(rd.snapshot->metadata().index());
    applied = std::max(applied, rd.snapshot->metadata().index());
  }
  if (rd.last_entry_index > 0) log_.unstable().StableTo(rd.last_entry_index, rd.last_entry_term);
  applied = std::max(applied, log_.applying());
  // A snapshot restored after GetReady may have moved the log past what was
  // applied; applying stays bounded by the commit index.
  log_.AppliedTo(std::min(applied, log_.committed()));
  UpdateSelfProgress();
  if (campaign_after_apply_ && role_ == Role::kFollower && !HasUnappliedConfChanges()) {
    campaign_after_apply_ = false;
    StartCampaign(CampaignType::kTransfer);
  }
}

RaftStatus Raft::Status() const {
  RaftStatus s;
  s.id = id_;
  s.term = term_;
  s.vote = vote_;
  s.commit = log_.committed();
  s.applied = log_.applied();
  s.last_index = log_.LastIndex();
  s.leader = lead_;
  s.lead_transferee = lead_transferee_;
  s.role = role_;
  s.conf_state = trk_.ConfState();
  s.ignored_non_members = ignored_non_members_;
  if (role_ == Role::kLeader) {
    for (const auto& [id, pr] : trk_.progress()) {
      ProgressInfo& info = s.progress[id];
      info.match = pr.match;
      info.next = pr.next;
      info.state = pr.state;
      info.is_learner = pr.is_learner;
      info.recent_active = pr.recent_active;
      info.pending_snapshot = pr.pending_snapshot;
      info.inflight = pr.inflights.Count();
    }
  }
  return s;
}

}  // namespace consensus
