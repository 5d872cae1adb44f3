#include "node/gate/consistency_gate.h"

#include <algorithm>
#include <limits>

#include "absl/hash/hash.h"

namespace node::gate {

namespace {
// HoldForEntry: the slot waits for an entry whose index is not known yet.
constexpr uint64_t kEntryUnknown = std::numeric_limits<uint64_t>::max();
// The lock keyless logged requests (SCRIPT LOAD, CONFIG SET) hold: no key of
// any database (KeyOf's databases start at 0).
const KeyId kNodeSettings = absl::HashOf(-1, absl::string_view("node settings"));
}  // namespace

KeyId KeyOf(int db, std::string_view key) {
  return absl::HashOf(db, absl::string_view(key.data(), key.size()));
}

namespace {
constexpr std::pair<BrokenRule, std::string_view> kRuleNames[] = {
    {BrokenRule::kNone, "none"},
    {BrokenRule::kAckBeforeCommit, "ack-before-commit"},
    {BrokenRule::kNoConfirmation, "no-confirmation"},
    {BrokenRule::kNoReadLocks, "no-read-locks"},
    {BrokenRule::kNoMarks, "no-marks"},
    {BrokenRule::kLocksAtQueue, "locks-at-queue"},
    {BrokenRule::kForgetGoneLocks, "forget-gone-locks"},
    {BrokenRule::kKeepGoneClients, "keep-gone-clients"},
    {BrokenRule::kNoEntryWait, "no-entry-wait"},
    {BrokenRule::kNoLoggedLocks, "no-logged-locks"},
    {BrokenRule::kNoPlacementWait, "no-placement-wait"},
    {BrokenRule::kNoEvictionWait, "no-eviction-wait"},
    {BrokenRule::kEvictionsUnread, "evictions-unread"},
    {BrokenRule::kNoSourceLocks, "no-source-locks"},
};
}  // namespace

bool ParseBrokenRule(std::string_view name, BrokenRule* out) {
  for (const auto& [rule, n] : kRuleNames) {
    if (n == name) {
      *out = rule;
      return true;
    }
  }
  return false;
}

std::string_view BrokenRuleName(BrokenRule rule) {
  for (const auto& [r, n] : kRuleNames) {
    if (r == rule) return n;
  }
  return "?";
}

// ------------------------------------------------------------------ requests

SlotId ConsistencyGate::NewSlot(SessionId session, Kind kind, bool needs_confirm, uint64_t tag) {
  Slot s;
  s.session = session;
  s.kind = kind;
  s.tag = tag;
  s.arrival = clock_;
  s.needs_confirm = needs_confirm;
  return slots_.Add(std::move(s));
}

void ConsistencyGate::TakeLocks(Slot& s, std::span<const KeyId> keys, bool whole_keyspace) {
  const KeyLockTable::Ticket t = locks_.Begin();
  if (whole_keyspace) {
    locks_.LockAll(t);
  } else {
    for (KeyId k : keys) locks_.Lock(t, k);
  }
  s.tickets.push_back(t);
  s.own_ticket = t;
}

Admission ConsistencyGate::Arrive(SessionId session, Request request, uint64_t tag) {
  ++clock_;
  Session& ss = sessions_[session];
  Admission a;
  switch (request.kind) {
    case Kind::kStateless:
      a.slot = NewSlot(session, Kind::kStateless, false, tag);
      if (request.logged) slots_.Find(a.slot)->logged_ticket = TakeLoggedLock(session, ss, request);
      break;
    case Kind::kRead: {
      a.slot = NewSlot(session, Kind::kRead, true, tag);
      Slot& s = *slots_.Find(a.slot);
      s.script = request.script;  // EVAL_RO: see WaitForLogged
      s.read_keys = std::move(request.keys);
      if (request.settings) s.read_keys.push_back(kNodeSettings);
      s.whole_keyspace = request.whole_keyspace;
      WantRound(a.slot, s);  // the round runs while the child answers
      break;
    }
    case Kind::kBlocking:
      if (!request.whole_keyspace) {
        // It may wait in the child for a long time, and the connection with
        // it: the writes before it get their own cover first.
        a.cover_first = EndOfBatch(session);
        a.slot = NewSlot(session, Kind::kBlocking, true, tag);
        Slot& s = *slots_.Find(a.slot);
        s.needs_commit = true;
        for (KeyId k : request.keys) locks_.Mark(k);
        s.marks.assign(request.keys.begin(), request.keys.end());
        ss.uncovered.push_back(a.slot);
        break;
      }
      [[fallthrough]];  // keys unknown: lock everything like any write
    case Kind::kWrite: {
      a.slot = NewSlot(session, Kind::kWrite, true, tag);
      Slot& s = *slots_.Find(a.slot);
      s.needs_commit = true;
      s.script = request.script;
      TakeLocks(s, request.keys, request.whole_keyspace);
      if (request.logged) s.logged_ticket = TakeLoggedLock(session, ss, request);
      s.read_keys = std::move(request.keys);
      if (broken_ != BrokenRule::kNoSourceLocks) {
        s.read_keys.insert(s.read_keys.end(), request.read_only_keys.begin(), request.read_only_keys.end());
      }
      s.whole_keyspace = request.whole_keyspace;
      ss.uncovered.push_back(a.slot);
      break;
    }
    case Kind::kExec: {
      a.slot = NewSlot(session, Kind::kExec, true, tag);
      Slot& s = *slots_.Find(a.slot);
      s.needs_commit = true;  // also covers the reads inside the transaction
      if (ss.transaction && ss.transaction->writes()) {
        TakeLocks(s, ss.transaction->keys(), ss.transaction->whole_keyspace());
        s.read_keys.assign(ss.transaction->keys().begin(), ss.transaction->keys().end());
        s.whole_keyspace = ss.transaction->whole_keyspace();
      }
      if (request.logged) s.logged_ticket = TakeLoggedLock(session, ss, request);
      ss.transaction.reset();
      ss.uncovered.push_back(a.slot);
      break;
    }
  }
  return a;
}

// The keys a request would write, for MayForward (EXEC: its transaction's).
bool ConsistencyGate::WrittenKeys(SessionId session, const Request& request, std::span<const KeyId>* keys,
                                  bool* every_key) const {
  static const KeyId settings[] = {kNodeSettings};
  *keys = request.keys;
  *every_key = request.whole_keyspace;
  switch (request.kind) {
    case Kind::kStateless:
      *keys = settings;
      *every_key = false;
      return request.logged;
    case Kind::kRead:
      return false;
    case Kind::kExec: {
      // A transaction with logged requests (SCRIPT LOAD, CONFIG SET) takes
      // its place among all writes: rare, and its keys and settings at once.
      *every_key = request.logged;
      if (request.logged) return true;
      auto it = sessions_.find(session);
      if (it == sessions_.end() || !it->second.transaction || !it->second.transaction->writes()) return false;
      *keys = it->second.transaction->keys();
      *every_key = it->second.transaction->whole_keyspace();
      return true;
    }
    case Kind::kWrite:
    case Kind::kBlocking:
      return true;
  }
  return false;
}

bool ConsistencyGate::MayForward(SessionId session, const Request& request,
                                 absl::FunctionRef<std::function<void()>()> ready) {
  if (broken_ == BrokenRule::kNoPlacementWait) return true;
  std::span<const KeyId> keys;
  bool every_key = false;
  if (!WrittenKeys(session, request, &keys, &every_key)) return true;
  if (request.logged && sessions_[session].reserved != 0) return true;  // it waited already
  if (request.logged && logged_holds_ > 0) {
    held_logged_.push_back(ready());
    return false;
  }
  if (!request.logged && logged_locks_.live_tickets() == 0) return true;
  auto waits = std::make_shared<std::pair<int, std::function<void()>>>(0, ready());
  auto one_done = [waits] {
    if (--waits->first == 0) waits->second();
  };
  if (!logged_locks_.WaitClear(keys, every_key, one_done)) ++waits->first;
  if (request.logged) {
    if (!locks_.WaitClear(keys, every_key, one_done)) ++waits->first;
    // Reserved after those waits: writes that ask from now on wait for it.
    sessions_[session].reserved = LockLogged(keys, every_key);
  }
  return waits->first == 0;
}

void ConsistencyGate::ReleaseLogged() {
  if (logged_holds_ > 0 && --logged_holds_ > 0) return;
  for (auto& ready : std::exchange(held_logged_, {})) ready();
}

KeyLockTable::Ticket ConsistencyGate::LockLogged(std::span<const KeyId> keys, bool every_key) {
  const KeyLockTable::Ticket t = logged_locks_.Begin();
  if (every_key) logged_locks_.LockAll(t);
  for (KeyId k : keys) logged_locks_.Lock(t, k);
  return t;
}

KeyLockTable::Ticket ConsistencyGate::TakeLoggedLock(SessionId session, Session& ss, const Request& request) {
  if (ss.reserved != 0) return std::exchange(ss.reserved, 0);
  // Not reserved (the caller did not ask MayForward, or its waits are broken
  // for a test): taken now.
  std::span<const KeyId> keys;
  bool every_key = false;
  WrittenKeys(session, request, &keys, &every_key);
  return LockLogged(keys, every_key);
}

SlotId ConsistencyGate::Queue(SessionId session, const Request& request, uint64_t tag) {
  ++clock_;
  Session& ss = sessions_[session];
  if (!ss.transaction) ss.transaction.emplace();
  const SlotId id = NewSlot(session, Kind::kStateless, false, tag);
  if (request.kind == Kind::kWrite || request.kind == Kind::kBlocking) {
    if (broken_ == BrokenRule::kLocksAtQueue) {
      // Held until the session ends: the bug of locking at queue time.
      TakeLocks(queued_locks_[session], request.keys, request.whole_keyspace);
    }
    ss.transaction->RecordWrite(request.keys, request.whole_keyspace);
  }
  return id;
}

void ConsistencyGate::BeginTransaction(SessionId session) { sessions_[session].transaction.emplace(); }

void ConsistencyGate::DropTransaction(SessionId session) {
  auto it = sessions_.find(session);
  if (it != sessions_.end()) it->second.transaction.reset();
}

CoverId ConsistencyGate::NewCover(SessionId session, std::span<const SlotId> slots) {
  const CoverId id = next_cover_++;
  Cover& c = covers_[id];
  c.session = session;
  c.slots.assign(slots.begin(), slots.end());
  for (SlotId sid : slots) {
    Slot* sp = slots_.Find(sid);
    if (sp == nullptr) continue;
    Slot& s = *sp;
    c.tickets.insert(c.tickets.end(), s.tickets.begin(), s.tickets.end());
    c.marks.insert(c.marks.end(), s.marks.begin(), s.marks.end());
    s.tickets.clear();
    s.marks.clear();
  }
  sessions_[session].unanswered.push_back(id);
  return id;
}

std::optional<CoverId> ConsistencyGate::EndOfBatch(SessionId session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.uncovered.empty()) return std::nullopt;
  std::vector<SlotId>& uncovered = it->second.uncovered;
  const CoverId id = NewCover(session, uncovered);
  uncovered.clear();  // keeps its capacity for the session's next batch
  return id;
}

std::optional<CoverId> ConsistencyGate::ReplyArrived(SlotId id, Outcome outcome) {
  Slot* sp = slots_.Find(id);
  if (sp == nullptr) return std::nullopt;
  Slot& s = *sp;
  s.reply = true;
  // A script may return Redis's own refusal as its error, word for word, and
  // choose to from what it read: its reply is never taken as not run (a real
  // BUSY then waits as a failed script's error does).
  if (outcome == Outcome::kNotRun && s.script) outcome = Outcome::kError;
  if (s.logged_ticket != 0 && (outcome != Outcome::kOk || s.entry == 0)) {
    // Not logged: it failed, or the node could not log it (its leadership
    // ends, and this slot with it).
    logged_locks_.Release(std::exchange(s.logged_ticket, 0));
  }
  if (s.kind != Kind::kStateless && outcome != Outcome::kNotRun) WaitForLogged(id, s);
  std::optional<CoverId> cover;
  if (s.kind == Kind::kRead) {
    if (outcome != Outcome::kNotRun) cover = ReadReplyArrived(id, s);
  } else if (outcome != Outcome::kOk && !s.script && (s.kind == Kind::kWrite || s.kind == Kind::kExec) &&
             s.needs_commit && !s.committed) {
    // Redis checks a command before it changes anything, and EXEC answers an
    // error only when nothing ran: no effect to wait for. Its own locks drop
    // (a cover that holds them releases them again, harmlessly).
    s.needs_commit = false;
    if (s.own_ticket != 0) locks_.Release(s.own_ticket);
    Slot* again = slots_.Find(id);  // releasing may have ended waiting reads, not this slot
    if (again == nullptr) return std::nullopt;
    if (outcome == Outcome::kError) cover = ReadReplyArrived(id, *again);
  }
  Check(id);
  return cover;
}

// A transaction's reads are not known: its EXEC waits for every logged write.
// A script may run one a keyless logged request loaded (EVALSHA after SCRIPT
// LOAD): it waits for those too. A logged write waits for its own lock too,
// which its entry's commit ends.
void ConsistencyGate::WaitForLogged(SlotId id, Slot& s) {
  if (logged_locks_.live_tickets() == 0 || broken_ == BrokenRule::kNoLoggedLocks) return;
  const bool every_key = s.whole_keyspace || s.kind == Kind::kExec;
  KeyIds keys;
  if (!every_key) {
    keys = s.read_keys;
    if (s.script) keys.push_back(kNodeSettings);
  }
  const bool clear = logged_locks_.WaitClear(keys, every_key, [this, id] {
    Slot* waiting = slots_.Find(id);
    if (waiting == nullptr) return;
    --waiting->lock_waits;
    Check(id);
  });
  if (!clear) ++s.lock_waits;
}

std::optional<CoverId> ConsistencyGate::ReadReplyArrived(SlotId id, Slot& s) {
  const bool marked = broken_ != BrokenRule::kNoMarks &&
                      (s.whole_keyspace ? locks_.AnyMarked() : locks_.AnyMarked(s.read_keys));
  if (marked) {
    // A blocking command may have changed these keys at any moment, with no
    // lock to show it: wait for the commit of an offset taken after this read.
    s.needs_commit = true;
    return NewCover(s.session, std::span<const SlotId>(&id, 1));
  }
  if (broken_ != BrokenRule::kNoReadLocks) {
    const bool clear = locks_.WaitClear(s.read_keys, s.whole_keyspace, [this, id] {
      Slot* waiting = slots_.Find(id);
      if (waiting == nullptr) return;
      --waiting->lock_waits;
      Check(id);
    });
    if (!clear) ++s.lock_waits;
  }
  if (!evictions_ || broken_ == BrokenRule::kNoEvictionWait) return std::nullopt;
  // The child may have evicted these keys, with no lock to show it: an offset
  // taken after this read tells how far the deletions it may have seen go.
  s.needs_commit = true;
  const CoverId cover = NewCover(s.session, std::span<const SlotId>(&id, 1));
  covers_[cover].deletions = true;
  return cover;
}

uint64_t ConsistencyGate::LatestDeletion(const Slot& s) const {
  if (s.whole_keyspace) return deletions_.empty() ? 0 : deletions_.rbegin()->first;
  uint64_t latest = 0;
  for (KeyId k : s.read_keys) {
    if (auto it = deleted_.find(k); it != deleted_.end()) latest = std::max(latest, it->second);
  }
  return latest;
}

void ConsistencyGate::ResolveDeletions(CoverId id) {
  auto it = covers_.find(id);
  if (it == covers_.end()) return;
  uint64_t wait = 0;
  for (SlotId sid : it->second.slots) {
    if (const Slot* s = slots_.Find(sid)) wait = std::max(wait, LatestDeletion(*s));
  }
  if (wait <= committed_) return FinishCover(id);
  commit_waits_.emplace(wait, id);
}

void ConsistencyGate::StreamRead(uint64_t end_offset, std::span<const KeyId> deleted) {
  // Only evictions need this (a client's DEL holds its keys' locks), and the
  // child evicts only once the rule is on.
  if (evictions_ && end_offset > committed_) {
    for (KeyId k : deleted) {
      uint64_t& at = deleted_[k];
      at = std::max(at, end_offset);
      deletions_.emplace(end_offset, k);
    }
  }
  stream_read_ = std::max(stream_read_, end_offset);
  while (!read_waits_.empty() && read_waits_.begin()->first <= stream_read_) {
    const CoverId c = read_waits_.begin()->second;
    read_waits_.erase(read_waits_.begin());
    ResolveDeletions(c);
  }
}

void ConsistencyGate::Covered(CoverId id, uint64_t offset) {
  auto it = covers_.find(id);
  if (it == covers_.end()) return;
  if (auto sit = sessions_.find(it->second.session); sit != sessions_.end()) {
    auto& un = sit->second.unanswered;
    un.erase(std::remove(un.begin(), un.end(), id), un.end());
  }
  if (it->second.deletions) {
    if (offset <= stream_read_ || broken_ == BrokenRule::kEvictionsUnread) return ResolveDeletions(id);
    read_waits_.emplace(offset, id);
  } else if (offset <= committed_) {
    FinishCover(id);
  } else {
    commit_waits_.emplace(offset, id);
  }
}

void ConsistencyGate::HoldForEntry(SlotId id) {
  if (Slot* s = slots_.Find(id)) s->entry = kEntryUnknown;
}

void ConsistencyGate::KeepUntilEntry(uint64_t index, KeyLockTable::Ticket t) {
  if (index <= committed_index_) return logged_locks_.Release(t);
  entry_locks_.emplace(index, t);
}

void ConsistencyGate::WaitForEntry(SlotId id, uint64_t index) {
  if (auto o = orphan_locks_.find(id); o != orphan_locks_.end()) {
    KeepUntilEntry(index, o->second);
    orphan_locks_.erase(o);
  }
  Slot* s = slots_.Find(id);
  if (s == nullptr) return;
  if (s->logged_ticket != 0) KeepUntilEntry(index, std::exchange(s->logged_ticket, 0));
  if (index <= committed_index_) {
    s->entry = 0;
    return Check(id);
  }
  s->entry = index;
  entry_waits_.emplace(index, id);
}

void ConsistencyGate::IndexCommitted(uint64_t index) {
  if (index <= committed_index_) return;
  committed_index_ = index;
  while (!entry_locks_.empty() && entry_locks_.begin()->first <= index) {
    const KeyLockTable::Ticket t = entry_locks_.begin()->second;
    entry_locks_.erase(entry_locks_.begin());
    logged_locks_.Release(t);  // may end waiting replies
  }
  while (!entry_waits_.empty() && entry_waits_.begin()->first <= index) {
    const SlotId id = entry_waits_.begin()->second;
    entry_waits_.erase(entry_waits_.begin());
    Check(id);
  }
}

void ConsistencyGate::FinishCover(CoverId id) {
  auto it = covers_.find(id);
  if (it == covers_.end()) return;
  Cover c = std::move(it->second);
  covers_.erase(it);
  for (SlotId sid : c.slots) {
    if (Slot* s = slots_.Find(sid)) s->committed = true;
  }
  // Releasing may run read waiters' callbacks, which may end slots.
  for (KeyLockTable::Ticket t : c.tickets) locks_.Release(t);
  for (KeyId k : c.marks) locks_.Unmark(k);
  for (SlotId sid : c.slots) Check(sid);
}

// ------------------------------------------------------------------ the log

void ConsistencyGate::Proposed(uint64_t end_offset) { proposals_.emplace_back(end_offset, clock_); }

void ConsistencyGate::Committed(uint64_t offset) {
  if (offset <= committed_) return;
  committed_ = offset;
  // An entry proposed by this leader after a request arrived, now committed,
  // proves this node still led after that arrival: it confirms like a round.
  uint64_t stamp = 0;
  while (!proposals_.empty() && proposals_.front().first <= offset) {
    stamp = std::max(stamp, proposals_.front().second);
    proposals_.pop_front();
  }
  if (stamp > 0) Confirm(stamp);
  while (!deletions_.empty() && deletions_.begin()->first <= offset) {
    auto [at, key] = *deletions_.begin();
    deletions_.erase(deletions_.begin());
    if (auto it = deleted_.find(key); it != deleted_.end() && it->second == at) deleted_.erase(it);
  }
  if (offset > stream_read_) StreamRead(offset, {});  // committed, so read
  while (!commit_waits_.empty() && commit_waits_.begin()->first <= offset) {
    const CoverId c = commit_waits_.begin()->second;
    commit_waits_.erase(commit_waits_.begin());
    FinishCover(c);
  }
}

bool ConsistencyGate::WantsReadRound() const {
  return !round_in_flight_ && round_wanted_after_ > round_stamp_;
}

uint64_t ConsistencyGate::StartReadRound() {
  round_in_flight_ = true;
  round_stamp_before_ = round_stamp_;
  round_stamp_ = clock_;
  return round_stamp_;
}

void ConsistencyGate::ReadRoundFailed() {
  round_in_flight_ = false;
  round_stamp_ = round_stamp_before_;
}

void ConsistencyGate::ReadConfirmed(uint64_t stamp, uint64_t index) {
  if (stamp == round_stamp_) round_in_flight_ = false;
  if (index <= applied_) {
    Confirm(stamp);
  } else {
    apply_waits_.emplace(index, stamp);
  }
}

void ConsistencyGate::Applied(uint64_t index) {
  if (index <= applied_) return;
  applied_ = index;
  uint64_t stamp = 0;
  while (!apply_waits_.empty() && apply_waits_.begin()->first <= index) {
    stamp = std::max(stamp, apply_waits_.begin()->second);
    apply_waits_.erase(apply_waits_.begin());
  }
  if (stamp > 0) Confirm(stamp);
}

void ConsistencyGate::Confirm(uint64_t stamp) {
  if (stamp <= confirmed_stamp_) return;
  confirmed_stamp_ = stamp;
  while (!unconfirmed_.empty() && unconfirmed_.front().first <= stamp) {
    const SlotId id = unconfirmed_.front().second;
    unconfirmed_.pop_front();
    Check(id);
  }
}

void ConsistencyGate::WantRound(SlotId id, Slot& s) {
  if (s.wants_round) return;
  s.wants_round = true;
  round_wanted_after_ = std::max(round_wanted_after_, s.arrival);
  // Reads ask at arrival, in order; a write that changed nothing asks later,
  // with an older arrival (rare): it goes in its place.
  std::pair<uint64_t, SlotId> entry(s.arrival, id);
  if (unconfirmed_.empty() || unconfirmed_.back().first <= s.arrival) {
    unconfirmed_.push_back(entry);
  } else {
    unconfirmed_.insert(std::upper_bound(unconfirmed_.begin(), unconfirmed_.end(), entry), entry);
  }
}

// ------------------------------------------------------------------ release

void ConsistencyGate::Check(SlotId id) {
  Slot* sp = slots_.Find(id);
  if (sp == nullptr) return;
  Slot& s = *sp;
  if (!s.reply || s.lock_waits > 0) return;
  if (s.entry > committed_index_ && broken_ != BrokenRule::kNoEntryWait) return;
  const bool unsafe_ack = broken_ == BrokenRule::kAckBeforeCommit && s.needs_commit;
  if (s.needs_commit && !s.committed && !unsafe_ack) return;
  if (s.needs_confirm && confirmed_stamp_ < s.arrival && broken_ != BrokenRule::kNoConfirmation && !unsafe_ack) {
    WantRound(id, s);  // a write that changed nothing still needs leadership confirmed
    return;
  }
  actions_.push_back(Action{Action::Type::kRelease, s.session, id, s.tag});
  slots_.Erase(id);
}

std::optional<CoverId> ConsistencyGate::ClientGone(SessionId session) {
  auto sit = sessions_.find(session);
  std::vector<SlotId> mine;
  slots_.ForEach([&](SlotId id, const Slot& s) {
    if (s.session == session) mine.push_back(id);
  });
  Cover kill;
  if (sit != sessions_.end() && sit->second.reserved != 0) logged_locks_.Release(sit->second.reserved);
  if (sit != sessions_.end()) {
    // Locks whose covering offset is not known yet: after the child client is
    // killed, one offset covers everything it ever ran.
    for (SlotId id : sit->second.uncovered) {
      Slot* sp = slots_.Find(id);
      if (sp == nullptr) continue;
      Slot& s = *sp;
      kill.tickets.insert(kill.tickets.end(), s.tickets.begin(), s.tickets.end());
      kill.marks.insert(kill.marks.end(), s.marks.begin(), s.marks.end());
    }
    for (CoverId c : sit->second.unanswered) {
      auto cit = covers_.find(c);
      if (cit == covers_.end()) continue;
      kill.tickets.insert(kill.tickets.end(), cit->second.tickets.begin(), cit->second.tickets.end());
      kill.marks.insert(kill.marks.end(), cit->second.marks.begin(), cit->second.marks.end());
      covers_.erase(cit);
    }
    sessions_.erase(sit);
  }
  // Covers with a known offset keep their locks until it commits. A logged
  // write the node is logging keeps its lock until its entry commits; one
  // whose reply never arrived is never logged (the README says so).
  for (SlotId id : mine) {
    if (Slot* s = slots_.Find(id); s != nullptr && s->logged_ticket != 0) {
      if (s->entry == kEntryUnknown) {
        orphan_locks_.emplace(id, s->logged_ticket);
      } else {
        logged_locks_.Release(s->logged_ticket);
      }
    }
    slots_.Erase(id);
  }
  if (auto q = queued_locks_.find(session); q != queued_locks_.end()) {
    for (KeyLockTable::Ticket t : q->second.tickets) locks_.Release(t);
    queued_locks_.erase(q);
  }
  if (broken_ == BrokenRule::kForgetGoneLocks) return std::nullopt;
  if (kill.tickets.empty() && kill.marks.empty()) return std::nullopt;
  const CoverId id = next_cover_++;
  covers_.emplace(id, std::move(kill));
  return id;
}

void ConsistencyGate::Reset() {
  locks_ = KeyLockTable();
  logged_locks_ = KeyLockTable();
  queued_locks_.clear();
  slots_.Clear();
  sessions_.clear();
  covers_.clear();
  commit_waits_.clear();
  read_waits_.clear();
  deleted_.clear();
  deletions_.clear();
  stream_read_ = 0;
  entry_waits_.clear();
  entry_locks_.clear();
  orphan_locks_.clear();
  committed_ = 0;
  proposals_.clear();
  unconfirmed_.clear();
  round_in_flight_ = false;
  round_wanted_after_ = round_stamp_ = round_stamp_before_ = clock_;
  apply_waits_.clear();
  actions_.clear();
  logged_holds_ = 0;
  held_logged_.clear();
}

void ConsistencyGate::TakeActions(std::vector<Action>* out) {
  out->clear();
  out->swap(actions_);
}

GateStats ConsistencyGate::Stats() const {
  GateStats st;
  st.slots = slots_.size();
  st.live_tickets = locks_.live_tickets() + logged_locks_.live_tickets();
  st.locked_keys = locks_.locked_keys();
  st.marked_keys = locks_.marked_keys();
  st.covers_waiting = covers_.size();
  st.confirmed_stamp = confirmed_stamp_;
  st.committed_offset = committed_;
  return st;
}

}  // namespace node::gate
