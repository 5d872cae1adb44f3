#include "gate_model.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gatesim {

using node::gate::Kind;
using node::gate::Request;

namespace {

node::gate::KeyId RegisterName(int k) { return node::gate::KeyOf(0, absl::StrCat("k", k)); }
node::gate::KeyId ListName() {
  static const node::gate::KeyId n = node::gate::KeyOf(0, "list");
  return n;
}
node::gate::KeyId ForeverName() {
  static const node::gate::KeyId n = node::gate::KeyOf(0, "forever");
  return n;
}

}  // namespace

Model::Model(uint64_t seed, ModelOptions options) : rng_(seed), o_(options) {
  data_.assign(o_.keys, std::vector<Version>{{0, 0}});
  logged_.assign(o_.keys, 0);
  logged_committed_by_key_.assign(o_.keys, 0);
  for (int i = 0; i < o_.sessions; ++i) NewConn();
}

Model::Conn& Model::NewConn() {
  Conn c;
  c.id = next_session_++;
  conns_.push_back(std::move(c));
  return conns_.back();
}

void Model::Fail(const std::string& what) {
  if (failure_.empty()) failure_ = absl::StrCat("step ", steps_, ": ", what);
}

// ------------------------------------------------------------------ clients

// Routes one request; one the gate holds back waits in c.held, and nothing
// more is routed on that connection meanwhile (as a session stalls).
void Model::SendOne(Conn& c, Op op, int key) {
  if (key < 0) key = static_cast<int>(rng_() % o_.keys);
  if (c.held) return;
  if (!TrySend(c, op, key)) c.held.emplace(op, key);
}

void Model::Resume(SessionId id) {
  for (Conn& c : conns_) {
    if (c.id != id || c.gone || !c.held) continue;
    const auto [op, key] = *c.held;
    c.held.reset();
    SendOne(c, op, key);
    if (auto cover = gate_.EndOfBatch(c.id)) c.to_child.push_back(Command{Op::kPing, 0, 0, *cover, false});
  }
}

bool Model::TrySend(Conn& c, Op op, int key) {
  Command cmd;
  cmd.op = op;
  cmd.key = key;
  Request r;
  switch (op) {
    case Op::kGet: r = {Kind::kRead, {RegisterName(cmd.key)}, false}; break;
    case Op::kListRead: r = {Kind::kRead, {ListName()}, false}; break;
    case Op::kSet:
    case Op::kNoopWrite: r = {Kind::kWrite, {RegisterName(cmd.key)}, false}; break;
    case Op::kFailedWrite:  // SINTERSTORE key source: WRONGTYPE from either
      r = {Kind::kWrite, {RegisterName(cmd.key)}, false};
      r.read_only_keys = {RegisterName(SourceOf(cmd.key))};
      break;
    case Op::kLoggedWrite:
      r = {Kind::kWrite, {RegisterName(cmd.key)}, false};
      r.logged = true;
      break;
    case Op::kLoggedState:
      r = {Kind::kStateless, {}, false};
      r.logged = true;
      break;
    case Op::kKeyspaceRead: r = {Kind::kRead, {}, true}; break;
    case Op::kFlush: r = {Kind::kWrite, {}, true}; break;
    case Op::kPush: r = {Kind::kWrite, {ListName()}, false}; break;
    case Op::kBlockingPop:
      r = {Kind::kBlocking, {c.blocks_forever ? ForeverName() : ListName()}, false};
      break;
    case Op::kExec: r = {Kind::kExec, {}, false}; break;
    case Op::kPing:
    case Op::kMulti:
    case Op::kDiscard: r = {Kind::kStateless, {}, false}; break;
  }
  const bool queue_it = c.in_multi && op != Op::kExec && op != Op::kDiscard && op != Op::kMulti;
  // Logged from its reply: EXEC's, of the logged request it ran (SCRIPT LOAD
  // inside MULTI), when one was queued. Never sent behind a pop in flight: a
  // request that may block holds the session's later ones until answered
  // (modelled for logged requests only, which is where it matters here).
  cmd.logs = op == Op::kExec ? c.tx_logged : !queue_it && (op == Op::kLoggedWrite || op == Op::kLoggedState);
  if (cmd.logs && !c.pops.empty()) return false;
  if (op == Op::kExec) r.logged = c.tx_logged;
  if (!queue_it && !gate_.MayForward(c.id, r, [this, id = c.id]() -> std::function<void()> {
        return [this, id] { may_forward_.insert(id); };
      })) {
    return false;
  }
  Pending p;
  p.session = c.id;
  p.arrival_event = Event();
  if (queue_it) {
    if (r.kind == Kind::kBlocking) r.kind = Kind::kWrite;  // a pop inside MULTI never blocks
    cmd.slot = gate_.Queue(c.id, r);
    cmd.queued = true;
  } else {
    node::gate::Admission a = gate_.Arrive(c.id, r);
    if (a.cover_first) c.to_child.push_back(Command{Op::kPing, 0, 0, *a.cover_first, false});
    cmd.slot = a.slot;
    p.needs_confirm = r.kind != Kind::kStateless;
  }
  if (op == Op::kMulti && !c.in_multi) {
    c.in_multi = true;
    c.tx_logged = false;
    gate_.BeginTransaction(c.id);
  } else if (op == Op::kExec || op == Op::kDiscard) {
    if (op == Op::kDiscard) gate_.DropTransaction(c.id);
    c.in_multi = c.tx_logged = false;
  } else if (queue_it && op == Op::kLoggedState) {
    c.tx_logged = true;
  }
  pending_[cmd.slot] = p;
  if (op == Op::kBlockingPop && !queue_it) c.pops.insert(cmd.slot);
  c.to_child.push_back(cmd);
  return true;
}

void Model::SendBatch(Conn& c) {
  static const Op kOps[] = {Op::kGet,         Op::kGet,         Op::kListRead,    Op::kSet,          Op::kSet,
                            Op::kNoopWrite,   Op::kFailedWrite, Op::kKeyspaceRead, Op::kFlush,       Op::kPush,
                            Op::kPush,        Op::kBlockingPop, Op::kPing,        Op::kMulti,        Op::kExec,
                            Op::kDiscard,     Op::kLoggedWrite, Op::kLoggedWrite, Op::kLoggedState};
  const int n = 1 + static_cast<int>(rng_() % o_.max_batch);
  for (int i = 0; i < n && !c.held; ++i) {
    Op op = kOps[rng_() % std::size(kOps)];
    if ((op == Op::kExec || op == Op::kDiscard) && !c.in_multi) op = Op::kGet;
    if (op == Op::kMulti && c.in_multi) op = Op::kSet;
    if (op == Op::kLoggedWrite && c.in_multi) op = Op::kSet;  // the node refuses it inside MULTI
    if (op == Op::kLoggedState && c.in_multi && c.tx_logged) op = Op::kPing;  // one per transaction here
    SendOne(c, op, -1);
  }
  if (auto cover = gate_.EndOfBatch(c.id)) c.to_child.push_back(Command{Op::kPing, 0, 0, *cover, false});
}

// ------------------------------------------------------------------ the child

uint64_t Model::Effect(int key, bool evicted) {
  ++offset_;
  stream_has_effects_ = true;
  data_[key].push_back(Version{offset_, static_cast<int>(rng_() % 100), evicted});
  return offset_;
}

uint64_t Model::EffectAll() {
  ++offset_;
  stream_has_effects_ = true;
  for (auto& versions : data_) versions.push_back(Version{offset_, 0});
  list_.clear();
  ListChanged();
  return offset_;
}

void Model::ListChanged() {
  list_version_ = offset_;
  list_history_.push_back(ListState{offset_, list_});
}

uint64_t Model::Observe(int key) const { return data_[key].back().offset; }

void Model::SeeLogged(int key) {
  if (running_ != nullptr && logged_[key] != 0) running_->logged_seen.push_back(logged_[key]);
}

uint64_t Model::ObserveAll() const {
  uint64_t m = list_version_;
  for (const auto& v : data_) m = std::max(m, v.back().offset);
  return m;
}

// Runs `cmd` (never a blocking wait) and returns the latest effect its reply shows.
uint64_t Model::Execute(Conn& c, const Command& cmd) {
  switch (cmd.op) {
    case Op::kGet:
    case Op::kNoopWrite:
      SeeLogged(cmd.key);
      return Observe(cmd.key);
    case Op::kFailedWrite:
      SeeLogged(cmd.key);
      SeeLogged(SourceOf(cmd.key));
      return std::max(Observe(cmd.key), Observe(SourceOf(cmd.key)));
    case Op::kLoggedWrite:
    case Op::kLoggedState: {
      const uint64_t id = next_logged_++;
      const bool keyed = cmd.op == Op::kLoggedWrite;
      logged_key_[id] = keyed ? cmd.key : -1;
      logged_runs_[id] = LoggedRun{offset_, Event()};
      if (c.gone) Fail(absl::StrCat("logged change ", id, " ran for a client the node let go: it is never logged"));
      if (running_ != nullptr) {
        running_->logged_made = id;
        running_->logged_seen.push_back(id);
      }
      if (!keyed) return 0;
      logged_[cmd.key] = id;
      return Observe(cmd.key);
    }
    case Op::kSet: return Effect(cmd.key);
    case Op::kListRead: return list_version_;
    case Op::kKeyspaceRead:
      for (int k = 0; k < o_.keys; ++k) SeeLogged(k);
      return ObserveAll();
    case Op::kFlush: return EffectAll();
    case Op::kPush: {
      ++offset_;
      stream_has_effects_ = true;
      list_.emplace_back(offset_, static_cast<int>(rng_() % 100));
      ListChanged();
      const uint64_t o = offset_;
      ServeBlocked(0);
      return o;
    }
    case Op::kBlockingPop: {  // inside EXEC, or with an element there
      if (list_.empty()) return list_version_;
      const uint64_t seen = list_.front().first;
      list_.pop_front();
      ++offset_;
      stream_has_effects_ = true;
      ListChanged();
      return std::max(seen, offset_);
    }
    case Op::kExec: {
      uint64_t m = 0;
      std::vector<Command> q = std::move(c.queued);
      c.queued.clear();
      c.in_multi_child = false;
      for (const Command& inner : q) m = std::max(m, Execute(c, inner));
      return m;
    }
    case Op::kMulti:
      c.in_multi_child = true;
      return 0;
    case Op::kDiscard:
      c.queued.clear();
      c.in_multi_child = false;
      return 0;
    case Op::kPing: return 0;
  }
  return 0;
}

void Model::ServeBlocked(int) {
  // Redis serves the longest-blocked client first, right after the push.
  while (!list_.empty() && !blocked_order_.empty()) {
    const SessionId id = blocked_order_.front();
    blocked_order_.pop_front();
    for (Conn& c : conns_) {
      if (c.id != id || !c.blocked) continue;
      Command cmd = c.to_child.front();
      c.to_child.pop_front();
      c.blocked = false;
      Reply reply{cmd.slot, 0, 0};
      Reply* outer = std::exchange(running_, &reply);
      reply.offset = Execute(c, cmd);
      running_ = outer;
      c.replies.push_back(std::move(reply));
    }
  }
}

bool Model::RunChild(Conn& c) {
  if (c.to_child.empty() || c.blocked) return false;
  Command cmd = c.to_child.front();
  if (cmd.slot == 0) {  // the node's mark: the child never sees it, it keeps its place among the replies
    c.to_child.pop_front();
    c.replies.push_back(Reply{0, cmd.cover, 0});
    return true;
  }
  const bool queue_it = c.in_multi_child && cmd.op != Op::kExec && cmd.op != Op::kDiscard &&
                        cmd.op != Op::kMulti;
  if (queue_it) {
    c.to_child.pop_front();
    c.queued.push_back(cmd);
    c.replies.push_back(Reply{cmd.slot, 0, 0});  // +QUEUED
    return true;
  }
  if (cmd.op == Op::kBlockingPop && (c.blocks_forever || list_.empty())) {
    c.blocked = true;
    if (!c.blocks_forever) blocked_order_.push_back(c.id);  // its key never gets a push
    return true;
  }
  c.to_child.pop_front();
  MaybeEvict();
  Reply reply{cmd.slot, 0, 0, cmd.op == Op::kFailedWrite ? node::gate::Outcome::kError : node::gate::Outcome::kOk};
  running_ = &reply;
  reply.offset = Execute(c, cmd);
  running_ = nullptr;
  c.replies.push_back(std::move(reply));
  return true;
}

// ------------------------------------------------------------------ the node

void Model::DeliverReply(Conn& c) {
  if (c.replies.empty()) return;
  Reply r = std::move(c.replies.front());
  c.replies.pop_front();
  if (c.gone) {
    if (r.logged_made != 0) Fail(absl::StrCat("logged change ", r.logged_made, " answered after its client was let go"));
    return;
  }
  FinishReply(c, r);
  if (c.leaving && !LoggedReplyDue(c)) ClientGone(c);
}

void Model::FinishReply(Conn& c, const Reply& r) {
  if (r.slot == 0) {
    // Every reply before the mark arrived: the node's own link asks a ROLE.
    control_.push_back(Command{Op::kPing, 0, 0, r.cover, false});
    return;
  }
  if (c.pops.erase(r.slot) != 0 && c.pops.empty() && c.held) may_forward_.insert(c.id);
  auto it = pending_.find(r.slot);
  if (it == pending_.end()) return Fail(absl::StrCat("reply for unknown slot ", r.slot));
  it->second.answered = true;
  it->second.observed = r.offset;
  it->second.logged_seen = r.logged_seen;
  if (r.logged_made != 0) {
    // The node logs it after the stream's effects up to a ROLE's offset, on
    // its own link; the reply waits for the entry.
    gate_.HoldForEntry(r.slot);
    asking_.push_back(Follow{0, r.slot, r.logged_made});
    control_.push_back(Command{Op::kLoggedWrite, 0, 0, 0, false});
  }
  // A read of keys a blocked pop may change needs an offset taken after it
  // ran: any connection will do, here the node's own.
  if (auto cover = gate_.ReplyArrived(r.slot, r.outcome)) control_.push_back(Command{Op::kPing, 0, 0, *cover, false});
}

void Model::ProposePending() {
  const bool stream_proposed = std::any_of(proposals_.begin(), proposals_.end(),
                                           [](const Proposal& p) { return p.logged == 0; });
  if (read_offset_ <= proposed_offset_) {
  } else if (stream_has_effects_) {
    proposals_.push_back(Proposal{read_offset_, Event(), 0});
    gate_.Proposed(read_offset_);
    stream_has_effects_ = false;
    proposed_offset_ = read_offset_;
  } else if (!stream_proposed) {
    // Bytes that are not state commit once what was proposed before them did.
    committed_ = read_offset_;
    gate_.Committed(committed_);
    proposed_offset_ = read_offset_;
  }
  ProposeFollows();
}

// Promise 7: between the logged change's run and the offset that places its
// entry, no write of its key ran (nor another logged change of it, keyless
// ones among themselves, whose entry would then come first).
void Model::CheckPlacement(uint64_t id, uint64_t at) {
  const int key = logged_key_[id];
  const LoggedRun run = logged_runs_[id];
  if (key >= 0) {
    for (const Version& v : data_[key]) {
      // An eviction between them deletes what the logged change made: every
      // member ends with the key gone, whichever of the two runs first (the
      // change then fails, as XREADGROUP does on a missing stream).
      if (v.offset > run.offset && v.offset <= at && !v.evicted) {
        return Fail(absl::StrCat("logged change ", id, " of k", key, " placed at offset ", at, ", after a write of k",
                                 key, " at ", v.offset, " that ran after it (at ", run.offset, ")"));
      }
    }
  }
  for (uint64_t other : logged_proposed_) {
    if (logged_key_[other] == key && logged_runs_[other].event > run.event) {
      return Fail(absl::StrCat("logged change ", id, " placed after logged change ", other, " of the same ",
                               key >= 0 ? "key" : "settings", ", which ran after it"));
    }
  }
  logged_proposed_.insert(id);
}

// Node entries go right after the stream's effects up to their ROLE's offset.
void Model::ProposeFollows() {
  while (!follows_.empty() && follows_.front().offset <= proposed_offset_) {
    const Follow f = follows_.front();
    follows_.pop_front();
    CheckPlacement(f.logged, f.offset);
    proposals_.push_back(Proposal{proposed_offset_, Event(), f.logged});
    gate_.WaitForEntry(f.slot, raft_index_ + proposals_.size());
  }
}

void Model::CommitOne() {
  if (proposals_.empty()) return;
  const Proposal p = proposals_.front();
  proposals_.pop_front();
  ++raft_index_;
  confirmed_begin_ = std::max(confirmed_begin_, p.begin);
  gate_.IndexCommitted(raft_index_);
  if (p.logged != 0) {
    logged_committed_.insert(p.logged);
    if (const int key = logged_key_[p.logged]; key >= 0) logged_committed_by_key_[key] = p.logged;
    return;
  }
  committed_ = p.end;
  gate_.Committed(p.end);
  while (!eviction_changes_.empty() && eviction_changes_.front().first <= committed_) {
    evicts_committed_ = eviction_changes_.front().second;
    eviction_changes_.pop_front();
  }
  if (eviction_changes_.empty() && !evicts_committed_) gate_.SetEvictions(false);
}

// Under maxmemory Redis evicts before it runs a command, whatever it is.
void Model::MaybeEvict() {
  if (!child_evicts_ || rng_() % 3 != 0) return;
  const int key = static_cast<int>(rng_() % o_.keys);
  Effect(key, /*evicted=*/true);
  unread_deletions_.push_back(RegisterName(key));
}

// The node reads the stream so far, and tells the gate which keys its DELs
// deleted (here: evictions).
void Model::ReadStream() {
  read_offset_ = offset_;
  gate_.StreamRead(read_offset_, unread_deletions_);
  unread_deletions_.clear();
}

// A CONFIG SET of maxmemory (or its policy): the node turns the gate's rule
// on before the child may evict. The model turns it off as soon as it may:
// once the setting that stops eviction committed (every eviction before it
// is in the stream before it); the node waits longer, until its stream
// starts anew.
void Model::ToggleEvictions() {
  if (!child_evicts_) gate_.SetEvictions(true);
  child_evicts_ = !child_evicts_;
  eviction_changes_.emplace_back(++offset_, child_evicts_);
  stream_has_effects_ = true;
}

void Model::StartRound() {
  if (!gate_.WantsReadRound()) return;
  const uint64_t stamp = gate_.StartReadRound();
  if (rng_() % 10 == 0) {
    gate_.ReadRoundFailed();
    return;
  }
  rounds_.push_back(Round{stamp, Event(), raft_index_});
}

void Model::FinishRound() {
  if (rounds_.empty()) return;
  Round r = rounds_.front();
  rounds_.pop_front();
  if (applied_ >= r.index) {
    confirmed_begin_ = std::max(confirmed_begin_, r.begin_event);
  } else {
    waiting_apply_.emplace_back(r.index, r.begin_event);
  }
  gate_.ReadConfirmed(r.stamp, r.index);
}

// A logged request in flight (never behind a pop, see TrySend): the node
// waits for its reply, which it logs, before it kills the connection.
bool Model::LoggedReplyDue(const Conn& c) const {
  for (const Reply& r : c.replies) {
    if (r.logged_made != 0) return true;
  }
  for (const Command& cmd : c.to_child) {
    if (cmd.logs) return true;
  }
  return false;
}

void Model::ClientGone(Conn& c) {
  DrainActions();
  for (auto& [slot, p] : pending_) {
    if (p.session == c.id) p.unread = true;
  }
  c.held.reset();
  if (LoggedReplyDue(c)) {
    c.leaving = true;
    return;
  }
  c.leaving = false;
  c.gone = true;
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = it->second.session == c.id ? pending_.erase(it) : std::next(it);
  }
  if (auto cover = gate_.ClientGone(c.id)) {
    c.kill_cover = cover;  // CLIENT KILL, then ROLE, on the node's own link
  } else {
    c.to_child.clear();  // no effect can be in flight: the close is enough
  }
}

// The child processes CLIENT KILL: whatever the client had not run never runs.
void Model::ProcessKill(Conn& c) {
  c.to_child.clear();
  c.blocked = false;
  blocked_order_.erase(std::remove(blocked_order_.begin(), blocked_order_.end(), c.id), blocked_order_.end());
  c.queued.clear();
  c.in_multi_child = false;
  control_.push_back(Command{Op::kPing, 0, 0, *c.kill_cover, false});
  c.kill_cover.reset();
}

void Model::LoseLeadership() {
  DrainActions();  // replies released before the loss were right to leave
  gate_.Reset();
  // The child is rebuilt from the committed log; every session is aborted.
  for (auto& versions : data_) {
    while (versions.back().offset > committed_) versions.pop_back();
  }
  while (!list_history_.empty() && list_history_.back().version > committed_) list_history_.pop_back();
  list_ = list_history_.empty() ? decltype(list_){} : list_history_.back().elements;
  list_version_ = list_history_.empty() ? 0 : list_history_.back().version;
  logged_ = logged_committed_by_key_;
  asking_.clear();
  follows_.clear();
  may_forward_.clear();
  conns_.clear();
  pending_.clear();
  blocked_order_.clear();
  control_.clear();
  control_replies_.clear();  // answers of the old leadership's ROLEs
  offset_ = read_offset_ = proposed_offset_ = committed_;
  proposals_.clear();
  rounds_.clear();
  waiting_apply_.clear();
  stream_has_effects_ = false;
  // The settings too are the committed ones; the node sets the rule from them.
  child_evicts_ = evicts_committed_;
  eviction_changes_.clear();
  unread_deletions_.clear();
  gate_.SetEvictions(child_evicts_);
  gate_.Committed(committed_);  // the new stream starts at the committed offset
  for (int i = 0; i < o_.sessions; ++i) NewConn();
}

// ------------------------------------------------------------------ checks

void Model::DrainActions() {
  gate_.TakeActions(&actions_);
  for (const node::gate::Action& a : actions_) {
    if (a.type != node::gate::Action::Type::kRelease) continue;  // kills come from ClientGone
    ++releases_;
    if (!released_.insert(a.slot).second) return Fail(absl::StrCat("slot ", a.slot, " released twice"));
    auto it = pending_.find(a.slot);
    if (it == pending_.end()) continue;  // its client is gone: nobody reads it
    const Pending& p = it->second;
    if (p.unread) {
      pending_.erase(it);
      continue;
    }
    if (!p.answered) return Fail(absl::StrCat("slot ", a.slot, " released before the child answered"));
    if (p.needs_confirm && confirmed_begin_ < p.arrival_event) {
      return Fail(absl::StrCat("slot ", a.slot, " released with no leadership confirmation begun after it ",
                               "arrived (arrival event ", p.arrival_event, ", latest confirmation began at ",
                               confirmed_begin_, ")"));
    }
    if (p.observed > committed_) {
      return Fail(absl::StrCat("slot ", a.slot, " released showing the effect at offset ", p.observed,
                               ", but only ", committed_, " is committed"));
    }
    for (uint64_t id : p.logged_seen) {
      if (!logged_committed_.contains(id)) {
        return Fail(absl::StrCat("slot ", a.slot, " released showing logged change ", id,
                                 " before the node entry that logs it committed"));
      }
    }
    pending_.erase(it);
  }
}

bool Model::Step() {
  ++steps_;
  const int dice = static_cast<int>(rng_() % 100);
  Conn* c = conns_.empty() ? nullptr : &conns_[rng_() % conns_.size()];
  if (dice < 14) {
    if (!quiescing_ && c && !c->gone && !c->leaving) SendBatch(*c);
  } else if (dice < 40) {
    if (c) RunChild(*c);
  } else if (dice < 58) {
    if (c) DeliverReply(*c);
  } else if (dice < 62) {
    if (!control_.empty()) {
      MaybeEvict();  // before the node's own commands too
      control_replies_.emplace_back(control_.front().cover, offset_);
      control_.pop_front();
    }
  } else if (dice < 66) {
    if (!control_replies_.empty()) {
      const auto [cover, offset] = control_replies_.front();
      control_replies_.pop_front();
      if (cover != 0) {
        gate_.Covered(cover, offset);
      } else {  // the ROLE asked for the oldest logged write
        Follow f = asking_.front();
        asking_.pop_front();
        f.offset = offset;
        follows_.push_back(f);
        ProposeFollows();
      }
    }
  } else if (dice < 69) {
    if (!quiescing_ && o_.evictions && rng_() % 8 == 0) {
      ToggleEvictions();
    } else if (!quiescing_) {
      ++offset_;  // a ping in the stream: bytes, not state
    }
  } else if (dice < 74) {
    ReadStream();
  } else if (dice < 79) {
    ProposePending();
  } else if (dice < 85) {
    CommitOne();
  } else if (dice < 89) {
    StartRound();
  } else if (dice < 93) {
    FinishRound();
  } else if (dice < 96) {
    applied_ = raft_index_;
    gate_.Applied(applied_);
    for (auto it = waiting_apply_.begin(); it != waiting_apply_.end();) {
      if (it->first > applied_) { ++it; continue; }
      confirmed_begin_ = std::max(confirmed_begin_, it->second);
      it = waiting_apply_.erase(it);
    }
  } else if (dice < 98) {
    // A blocked pop times out.
    if (c && c->blocked && !c->blocks_forever) {
      Command cmd = c->to_child.front();
      c->to_child.pop_front();
      c->blocked = false;
      blocked_order_.erase(std::remove(blocked_order_.begin(), blocked_order_.end(), c->id), blocked_order_.end());
      c->replies.push_back(Reply{cmd.slot, 0, list_version_});
    }
  } else if (dice < 99) {
    if (c && c->gone && c->kill_cover) {
      ProcessKill(*c);
    } else if (c && !c->gone && !c->leaving && !quiescing_ && o_.allow_client_gone && rng_() % 4 == 0) {
      ClientGone(*c);
      NewConn();
    }
  } else if (!quiescing_ && o_.allow_leadership_loss && rng_() % 8 == 0) {
    LoseLeadership();
  }
  // A connection the gate let go routes its held request (the node posts it).
  if (!may_forward_.empty() && rng_() % 2 == 0) {
    const SessionId id = *may_forward_.begin();
    may_forward_.erase(may_forward_.begin());
    Resume(id);
  }
  DrainActions();
  return failure_.empty();
}

bool Model::Quiescent() const {
  for (const auto& [slot, p] : pending_) {
    for (const Conn& c : conns_) {
      if (c.id == p.session && !c.blocks_forever) return false;
    }
  }
  for (const Conn& c : conns_) {
    if (c.kill_cover) return false;
    if (c.blocks_forever || c.gone) continue;
    if (!c.to_child.empty() || !c.replies.empty() || c.held) return false;
  }
  return control_.empty() && control_replies_.empty() && !gate_.HasActions();
}

bool Model::Quiesce() {
  quiescing_ = true;
  // Two clients that must delay nobody: one opens a MULTI, queues writes and
  // goes idle; one waits in a pop that is never served.
  Conn& idle = NewConn();
  idle.idle_multi = true;
  SendOne(idle, Op::kMulti, 0);
  SendOne(idle, Op::kSet, 0);
  SendOne(idle, Op::kFlush, 0);
  const SessionId idle_id = idle.id;
  Conn& blocked = NewConn();
  blocked.blocks_forever = true;
  SendOne(blocked, Op::kBlockingPop, 0);
  if (auto cover = gate_.EndOfBatch(blocked.id)) blocked.to_child.push_back(Command{Op::kPing, 0, 0, *cover, false});
  const SessionId blocked_id = blocked.id;
  // Their neighbours read and write the same keys, and the whole keyspace.
  Conn& probe = NewConn();
  for (Op op : {Op::kGet, Op::kSet, Op::kKeyspaceRead, Op::kGet, Op::kNoopWrite}) SendOne(probe, op, 0);
  if (auto cover = gate_.EndOfBatch(probe.id)) probe.to_child.push_back(Command{Op::kPing, 0, 0, *cover, false});

  auto run_until_quiet = [&](const char* phase) {
    for (int i = 0; i < 200000 && failure_.empty(); ++i) {
      // Everything committed: an eviction before the node's last ROLE is
      // an effect its cover waits for.
      if (Quiescent() && read_offset_ == offset_ && committed_ == offset_ && proposals_.empty() && rounds_.empty() &&
          asking_.empty() && follows_.empty()) {
        return true;
      }
      Step();
    }
    if (failure_.empty()) {
      std::string left;
      for (const auto& [slot, p] : pending_) absl::StrAppend(&left, " ", slot, "@", p.session);
      Fail(absl::StrCat(phase, ": requests never answered:", left, " (gate holds ", gate_.Stats().slots,
                        " slots, ", gate_.Stats().live_tickets, " tickets)")); 
    }
    return false;
  };
  if (!run_until_quiet("with an idle MULTI and a blocked pop")) return false;
  node::gate::GateStats st = gate_.Stats();
  if (st.live_tickets != 0) Fail(absl::StrCat("quiet, but ", st.live_tickets, " write tickets still held"));
  if (st.marked_keys != 1) Fail(absl::StrCat("quiet: expected the blocked pop's one mark, found ", st.marked_keys));
  // Now they leave too: the pop's mark must go with it.
  for (Conn& c : conns_) {
    if (c.id == idle_id || c.id == blocked_id) ClientGone(c);
  }
  for (int i = 0; i < 100000 && failure_.empty(); ++i) {
    for (Conn& c : conns_) {
      if (c.kill_cover) ProcessKill(c);
    }
    Step();
    st = gate_.Stats();
    if (st.slots == 0 && st.live_tickets == 0 && st.marked_keys == 0 && st.covers_waiting == 0) return failure_.empty();
  }
  Fail(absl::StrCat("after every client left: ", st.slots, " slots, ", st.live_tickets, " tickets, ", st.marked_keys,
                    " marks, ", st.covers_waiting, " covers remain"));
  return false;
}

}  // namespace gatesim
