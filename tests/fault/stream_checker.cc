// The stream checker (CheckStream in history.h): one stream, one consumer
// group, producers that XADD unique payloads, consumers that read new
// entries, acknowledge most of them and now and then read their own pending
// entries back, and claimers that take over entries left idle and
// acknowledge them. Both delete some of what they acknowledged (XDEL).
#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "history.h"

namespace fault {
namespace {

// A stream entry ID, "<ms>-<seq>", ordered as Redis orders them.
using StreamId = std::pair<uint64_t, uint64_t>;

StreamId Parse(const std::string& id) {
  StreamId out{0, 0};
  const size_t dash = id.find('-');
  if (dash == std::string::npos || !absl::SimpleAtoi(id.substr(0, dash), &out.first) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &out.second)) {
    return {0, 0};  // never a real entry's ID (0-0 cannot be added)
  }
  return out;
}

struct IdLess {
  bool operator()(const std::string& a, const std::string& b) const { return Parse(a) < Parse(b); }
};

// What named one entry: the XACKs (ok or unknown), the ok claims and the ok
// reads of pending entries that returned it (each resets its idle time).
struct EntryOps {
  std::vector<const Op*> acks;
  std::vector<const Op*> claims;
  std::vector<const Op*> shown;
  std::vector<const Op*> deletes;  // XDELs, ok or unknown
};

struct StreamOps {
  std::map<std::string, const Op*> added;  // payload -> its XADD (any outcome)
  std::vector<const Op*> ok_reads;         // of new entries, with entries
  std::map<std::string, std::vector<const Op*>> unknown_reads;  // consumer -> its unknown reads of new entries
  std::vector<const Op*> unknown_noack_reads;  // unknown reads with NOACK (in neither list above)
  std::map<std::string, std::vector<const Op*>> by_consumer;  // reads, acks, pending reads, claims in invocation order
  std::map<std::string, EntryOps> by_entry;                   // entry ID -> what named it
  std::vector<const Op*> ok_claims;
  std::vector<const Op*> unknown_claims;
  std::vector<const Op*> ok_deletes;
};

// A read of new entries with NOACK: what it delivers never becomes pending.
bool Noack(const Op& op) { return op.kind == OpKind::kXread && op.value == 1; }

StreamOps Index(const std::vector<Op>& ops) {
  StreamOps s;
  for (const Op& op : ops) {
    switch (op.kind) {
      case OpKind::kXadd:
        if (!op.elems.empty()) s.added[op.elems[0]] = &op;
        break;
      case OpKind::kXread:
        if (op.outcome == Outcome::kOk && !op.ids.empty()) s.ok_reads.push_back(&op);
        if (op.outcome == Outcome::kUnknown) (Noack(op) ? s.unknown_noack_reads : s.unknown_reads[op.consumer]).push_back(&op);
        if (!Noack(op)) s.by_consumer[op.consumer].push_back(&op);
        break;
      case OpKind::kXack:
        if (op.outcome != Outcome::kFail) {
          for (const std::string& id : op.ids) s.by_entry[id].acks.push_back(&op);
        }
        s.by_consumer[op.consumer].push_back(&op);
        break;
      case OpKind::kXclaim:
        if (op.outcome == Outcome::kOk) {
          s.ok_claims.push_back(&op);
          for (const std::string& id : op.ids) s.by_entry[id].claims.push_back(&op);
        }
        if (op.outcome == Outcome::kUnknown) s.unknown_claims.push_back(&op);
        s.by_consumer[op.consumer].push_back(&op);
        break;
      case OpKind::kXreadPending:
        if (op.outcome == Outcome::kOk) {
          for (const std::string& id : op.ids) s.by_entry[id].shown.push_back(&op);
        }
        s.by_consumer[op.consumer].push_back(&op);
        break;
      case OpKind::kXdel:
        if (op.outcome != Outcome::kFail) {
          for (const std::string& id : op.ids) s.by_entry[id].deletes.push_back(&op);
        }
        if (op.outcome == Outcome::kOk) s.ok_deletes.push_back(&op);
        break;
      default:
        break;
    }
  }
  return s;
}

const EntryOps& OpsOf(const StreamOps& s, const std::string& id) {
  static const EntryOps kNone;
  auto it = s.by_entry.find(id);
  return it == s.by_entry.end() ? kNone : it->second;
}

// An ok XACK naming `id` completed before `t`: from then on it is not pending
// (whether that XACK or an earlier one removed it).
bool AckedBefore(const StreamOps& s, const std::string& id, int64_t t) {
  const auto& acks = OpsOf(s, id).acks;
  return std::any_of(acks.begin(), acks.end(),
                     [&](const Op* a) { return a->outcome == Outcome::kOk && a->complete_ns < t; });
}

// Some consumer other than `consumer` may have acknowledged `id` (ok or
// unknown XACK) by `t`.
bool OthersMayHaveAcked(const StreamOps& s, const std::string& id, const std::string& consumer, int64_t t) {
  const auto& acks = OpsOf(s, id).acks;
  return std::any_of(acks.begin(), acks.end(), [&](const Op* a) { return a->consumer != consumer && a->invoke_ns <= t; });
}

// An ok claim by someone other than `consumer` of `id` that began by `t`
// (began: it may have taken effect; completed: it did).
bool ClaimedAwayBy(const StreamOps& s, const std::string& id, const std::string& consumer, int64_t t, bool completed) {
  const auto& claims = OpsOf(s, id).claims;
  return std::any_of(claims.begin(), claims.end(), [&](const Op* c) {
    return c->consumer != consumer && (completed ? c->complete_ns < t : c->invoke_ns <= t);
  });
}

// An ok XDEL naming `id` completed before `t`: from then on the entry is gone
// (whether that XDEL or an earlier one removed it).
bool DeletedBefore(const StreamOps& s, const std::string& id, int64_t t) {
  const auto& deletes = OpsOf(s, id).deletes;
  return std::any_of(deletes.begin(), deletes.end(),
                     [&](const Op* d) { return d->outcome == Outcome::kOk && d->complete_ns < t; });
}

// `payload` at `id`: as the final stream holds it, or as an XADD wrote it (not
// a failed one; an unknown one returned no ID) and an XDEL may have removed it.
bool Holds(const StreamOps& s, const std::map<std::string, std::string>& by_id, const std::string& id,
           const std::string& payload) {
  if (auto e = by_id.find(id); e != by_id.end()) return e->second == payload;
  auto add = s.added.find(payload);
  return !OpsOf(s, id).deletes.empty() && add != s.added.end() && add->second->outcome != Outcome::kFail &&
         (add->second->ids.empty() || add->second->ids[0] == id);
}

// Unknown claims begun by `t` by others than `consumer`.
int64_t UnknownClaimsBy(const StreamOps& s, const std::string& consumer, int64_t t) {
  return std::count_if(s.unknown_claims.begin(), s.unknown_claims.end(),
                       [&](const Op* c) { return c->consumer != consumer && c->invoke_ns <= t; });
}

std::string Ids(const std::set<std::string, IdLess>& ids) {
  std::vector<std::string> v(ids.begin(), ids.end());
  if (v.size() > 8) {
    v.resize(8);
    v.push_back(absl::StrCat("... (", ids.size(), " in all)"));
  }
  return absl::StrJoin(v, " ");
}

// (a) The final stream against the XADDs and XDELs. Returns the final entries by ID.
std::map<std::string, std::string> CheckEntries(const StreamOps& s, const StreamFinal& f, CheckResult* r) {
  std::map<std::string, std::string> by_id;
  std::map<std::string, std::string> id_of;  // payload -> final ID
  StreamId previous{0, 0};
  for (const auto& [id, payload] : f.entries) {
    if (Parse(id) <= previous) r->Fail(absl::StrCat("stream: the final stream's IDs are not increasing at ", id));
    previous = Parse(id);
    by_id[id] = payload;
    if (!id_of.emplace(payload, id).second) {
      r->Fail(absl::StrCat("stream: DUPLICATE ENTRY: ", payload, " is in the final stream twice (", id_of[payload],
                           " and ", id, ")"));
    }
    if (DeletedBefore(s, id, kInf)) {
      r->Fail(absl::StrCat("stream: DELETED ENTRY CAME BACK: the final stream holds ", id, " (", payload,
                           "), which an acknowledged XDEL removed:\n    ", Describe(*OpsOf(s, id).deletes[0])));
    }
    auto add = s.added.find(payload);
    if (add == s.added.end()) {
      r->Fail(absl::StrCat("stream: the final stream holds ", payload, " at ", id, ", which no XADD wrote"));
    } else if (add->second->outcome == Outcome::kFail) {
      r->Fail(absl::StrCat("stream: the final stream holds ", payload, " from a failed XADD:\n    ",
                           Describe(*add->second)));
    }
  }
  for (const auto& [payload, add] : s.added) {
    if (add->outcome != Outcome::kOk) continue;
    auto at = id_of.find(payload);
    if (at == id_of.end() && !add->ids.empty() && !OpsOf(s, add->ids[0]).deletes.empty()) continue;  // deleted
    if (at == id_of.end()) {
      ++r->lost_writes;
      r->Fail(absl::StrCat("stream: LOST WRITE: an acknowledged XADD is not in the final stream:\n    ", Describe(*add)));
    } else if (add->ids.empty() || add->ids[0] != at->second) {
      r->Fail(absl::StrCat("stream: ", payload, " is in the final stream at ", at->second,
                           ", not at the ID its XADD returned:\n    ", Describe(*add)));
    }
  }
  return by_id;
}

// (b) Ok reads of new entries. Returns every entry they delivered -> the read.
std::map<std::string, const Op*, IdLess> CheckDeliveries(const StreamOps& s, const std::map<std::string, std::string>& by_id,
                                                        CheckResult* r) {
  std::map<std::string, const Op*, IdLess> delivered;
  for (const Op* read : s.ok_reads) {
    for (size_t i = 0; i < read->ids.size(); ++i) {
      const std::string& id = read->ids[i];
      if (i >= read->elems.size() || !Holds(s, by_id, id, read->elems[i])) {
        r->Fail(absl::StrCat("stream: a read delivered ", id, " (", i < read->elems.size() ? read->elems[i] : "?",
                             "), which the final stream does not hold so (nor was it written so and deleted):\n    ",
                             Describe(*read)));
      }
      auto add = i < read->elems.size() ? s.added.find(read->elems[i]) : s.added.end();
      if (add != s.added.end() && add->second->invoke_ns > read->complete_ns) {
        r->Fail(absl::StrCat("stream: a read delivered ", id, " before its XADD began:\n    ", Describe(*add->second),
                             "\n    ", Describe(*read)));
      }
      if (i > 0 && !IdLess()(read->ids[i - 1], id)) {
        r->Fail(absl::StrCat("stream: a read delivered entries out of order:\n    ", Describe(*read)));
      }
      auto [it, fresh] = delivered.emplace(id, read);
      if (!fresh) {
        r->Fail(absl::StrCat("stream: DUPLICATE DELIVERY of ", id, " to two reads of new entries:\n    ",
                             Describe(*it->second), "\n    ", Describe(*read)));
      }
    }
  }
  // A read begun after another completed delivers only newer entries: the
  // group's last-delivered ID never goes back.
  std::vector<const Op*> by_invoke = s.ok_reads, by_complete = s.ok_reads;
  std::sort(by_invoke.begin(), by_invoke.end(), [](const Op* a, const Op* b) { return a->invoke_ns < b->invoke_ns; });
  std::sort(by_complete.begin(), by_complete.end(),
            [](const Op* a, const Op* b) { return a->complete_ns < b->complete_ns; });
  size_t done = 0;
  const Op* newest = nullptr;  // the completed read that delivered the newest entry
  for (const Op* read : by_invoke) {
    for (; done < by_complete.size() && by_complete[done]->complete_ns < read->invoke_ns; ++done) {
      if (!newest || IdLess()(newest->ids.back(), by_complete[done]->ids.back())) newest = by_complete[done];
    }
    if (newest && !IdLess()(newest->ids.back(), read->ids.front())) {
      r->Fail(absl::StrCat("stream: STALE DELIVERY: a read delivered ", read->ids.front(), " after a read that had "
                           "completed before it began delivered ", newest->ids.back(), ":\n    ", Describe(*newest),
                           "\n    ", Describe(*read)));
    }
  }
  return delivered;
}

// `consumer` took `id` by a claim: an ok claim naming it, or an unknown claim.
bool MayHaveClaimed(const StreamOps& s, const std::string& consumer, const std::string& id) {
  const auto& claims = OpsOf(s, id).claims;
  return std::any_of(claims.begin(), claims.end(), [&](const Op* c) { return c->consumer == consumer; }) ||
         std::any_of(s.unknown_claims.begin(), s.unknown_claims.end(),
                     [&](const Op* c) { return c->consumer == consumer; });
}

// How many of the entries added at the times `added` none of `reads` can
// have taken: each takes at most count_per_read, added no later than its
// close plus the grace (a read served after its client left is as wrong as
// a pop that was).
int64_t Unexplained(std::vector<int64_t> added, const std::vector<const Op*>& reads, int count_per_read, int64_t grace_ns) {
  // Latest entry first: the reads a later entry may go to are a subset of
  // those an earlier one may go to.
  std::sort(added.rbegin(), added.rend());
  std::vector<int64_t> window_end;
  for (const Op* read : reads) window_end.push_back(read->complete_ns + grace_ns);
  std::sort(window_end.rbegin(), window_end.rend());
  size_t next = 0;
  int64_t room = 0, unexplained = 0;
  for (int64_t at : added) {
    for (; next < window_end.size() && window_end[next] >= at; ++next) room += count_per_read;
    if (room > 0) --room;
    else ++unexplained;
  }
  return unexplained;
}

// (c) The group's last-delivered ID covers every ok delivery. What it covers
// beyond them was taken by unknown reads: the consumers acknowledge only
// what ok reads gave them, so each such entry must still be pending, for a
// consumer whose unknown reads can have taken it (Unexplained), or be
// nobody's, taken by an unknown read with NOACK (the same count and window).
void CheckLastDelivered(const StreamOps& s, const StreamFinal& f, const std::map<std::string, const Op*, IdLess>& delivered,
                        int count_per_read, int64_t grace_ns, CheckResult* r) {
  if (!delivered.empty() && IdLess()(f.last_delivered, delivered.rbegin()->first)) {
    r->Fail(absl::StrCat("stream: the group's last-delivered ID ", f.last_delivered, " is behind ",
                         delivered.rbegin()->first, ", which an ok read delivered:\n    ",
                         Describe(*delivered.rbegin()->second)));
  }
  std::map<std::string, std::vector<int64_t>> taken;  // consumer -> when each entry it took was added
  std::vector<int64_t> gone;  // when each entry no ok read delivered and nobody holds was added
  std::set<std::string, IdLess> gone_ids;
  for (const auto& [id, payload] : f.entries) {
    if (IdLess()(f.last_delivered, id) || delivered.contains(id)) continue;
    auto p = f.pending.find(id);
    auto add = s.added.find(payload);
    if (p == f.pending.end()) {
      if (!OpsOf(s, id).acks.empty()) continue;  // claimed, then acknowledged by its claimer
      if (add != s.added.end()) gone.push_back(add->second->invoke_ns);
      gone_ids.insert(id);
    } else if (add != s.added.end() && !MayHaveClaimed(s, p->second, id)) {
      taken[p->second].push_back(add->second->invoke_ns);
    }
  }
  const int64_t grace_ms = grace_ns / 1000000;
  for (auto& [consumer, added] : taken) {
    auto reads = s.unknown_reads.find(consumer);
    const std::vector<const Op*> none;
    const std::vector<const Op*>& its = reads == s.unknown_reads.end() ? none : reads->second;
    if (const int64_t unexplained = Unexplained(added, its, count_per_read, grace_ns); unexplained > 0) {
      r->Fail(absl::StrCat("stream: ", unexplained, " of the ", added.size(), " entries pending for ", consumer,
                           " that no ok read delivered cannot have been taken by its ", its.size(), " unknown reads (",
                           count_per_read, " each, added no later than ", grace_ms, " ms after the read's close)"));
    }
  }
  // Without NOACK, what no ok read delivered is pending for the consumer an
  // unknown read gave it; with it, it is nobody's.
  if (const int64_t unexplained = Unexplained(gone, s.unknown_noack_reads, count_per_read, grace_ns); unexplained > 0) {
    r->Fail(absl::StrCat("stream: LOST PENDING ENTRY: ", unexplained, " of ", Ids(gone_ids),
                         " (covered by the group's last-delivered ID ", f.last_delivered,
                         ", delivered by no ok read, named by no XACK) are not pending, more than the ",
                         s.unknown_noack_reads.size(), " unknown reads with NOACK can have taken (", count_per_read,
                         " each, added no later than ", grace_ms, " ms after the read's close)"));
  }
}

// A read of `consumer`'s own pending entries, against its earlier ops (`must`:
// what its ok reads and claims gave it and it did not acknowledge since) and
// everyone's XACKs and claims.
void CheckPendingRead(const StreamOps& s, const Op& op, const std::set<std::string, IdLess>& must,
                      const std::map<std::string, const Op*, IdLess>& delivered, int64_t unknown_takes,
                      int count_per_read, CheckResult* r) {
  const std::string& consumer = op.consumer;
  std::set<std::string, IdLess> seen(op.ids.begin(), op.ids.end()), missing, wrong;
  int64_t taken_unseen = 0;  // entries neither an ok read nor an ok claim gave it: an unknown one's
  int64_t claimed_unseen = 0;  // entries it lacks that only an unknown claim can have taken
  for (const std::string& id : must) {
    if (seen.contains(id) || OthersMayHaveAcked(s, id, consumer, op.complete_ns) ||
        ClaimedAwayBy(s, id, consumer, op.complete_ns, false)) {
      continue;
    }
    ++claimed_unseen;
    missing.insert(id);
  }
  if (claimed_unseen <= UnknownClaimsBy(s, consumer, op.complete_ns) * count_per_read) missing.clear();
  for (const std::string& id : seen) {
    auto d = delivered.find(id);
    const bool mine = must.contains(id) || MayHaveClaimed(s, consumer, id);
    if (AckedBefore(s, id, op.invoke_ns) || ClaimedAwayBy(s, id, consumer, op.invoke_ns, true) ||
        (d != delivered.end() && (Noack(*d->second) || (!mine && d->second->consumer != consumer)))) {
      wrong.insert(id);
    } else if (d == delivered.end() && !mine) {
      ++taken_unseen;
    }
  }
  if (!missing.empty()) {
    r->Fail(absl::StrCat("stream: LOST PENDING ENTRIES: ", consumer, "'s pending entries lack ", Ids(missing),
                         ", given to it and never acknowledged or claimed:\n    ", Describe(op)));
  }
  if (!wrong.empty()) {
    r->Fail(absl::StrCat("stream: ", consumer, "'s pending entries hold ", Ids(wrong),
                         ", acknowledged before, claimed away before, delivered to another consumer or with NOACK:\n    ",
                         Describe(op)));
  }
  if (taken_unseen > unknown_takes * count_per_read) {
    r->Fail(absl::StrCat("stream: ", consumer, "'s pending entries hold ", taken_unseen,
                         " that no ok read or claim gave it, more than its ", unknown_takes,
                         " unknown reads and claims so far can have taken:\n    ", Describe(op)));
  }
}

// An ok XACK counts every ID it names that is still pending: all of them,
// but those another consumer may have acknowledged first.
void CheckAckCount(const StreamOps& s, const Op& ack, CheckResult* r) {
  const int64_t named = static_cast<int64_t>(ack.ids.size());
  const int64_t others = std::count_if(ack.ids.begin(), ack.ids.end(), [&](const std::string& id) {
    return OthersMayHaveAcked(s, id, ack.consumer, ack.complete_ns);
  });
  if (ack.result > named || ack.result < named - others) {
    r->Fail(absl::StrCat("stream: an XACK of entries given to ", ack.consumer, " and not acknowledged by it before "
                         "counted ", ack.result, " of them (", others, " others may have acknowledged first):\n    ",
                         Describe(ack)));
  }
}

// (d) Acknowledgements and pending entries, per consumer in its own order.
void CheckPending(const StreamOps& s, const StreamFinal& f, const std::map<std::string, const Op*, IdLess>& delivered,
                  int count_per_read, CheckResult* r) {
  for (const auto& [consumer, ops] : s.by_consumer) {
    std::set<std::string, IdLess> must;  // given by its ok reads and claims, not acknowledged since
    int64_t unknown_takes = 0;
    for (const Op* op : ops) {
      if (op->kind == OpKind::kXread || op->kind == OpKind::kXclaim) {
        if (op->outcome == Outcome::kUnknown) ++unknown_takes;
        if (op->outcome == Outcome::kOk) must.insert(op->ids.begin(), op->ids.end());
      } else if (op->kind == OpKind::kXack && op->outcome != Outcome::kFail) {
        for (const std::string& id : op->ids) must.erase(id);
        if (op->outcome == Outcome::kOk) CheckAckCount(s, *op, r);
      } else if (op->kind == OpKind::kXreadPending && op->outcome == Outcome::kOk) {
        CheckPendingRead(s, *op, must, delivered, unknown_takes, count_per_read, r);
      }
    }
  }
  // At the end: what an ok read or claim gave and no XACK named is pending,
  // and whatever of it is pending is so for the consumer it went to or one
  // that can have claimed it since.
  std::map<std::string, const Op*, IdLess> given = delivered;
  for (const Op* claim : s.ok_claims) {
    for (const std::string& id : claim->ids) given[id] = claim;  // a later claim is the newer owner
  }
  for (const auto& [id, op] : given) {
    auto p = f.pending.find(id);
    if (Noack(*op)) {
      if (p != f.pending.end()) {
        r->Fail(absl::StrCat("stream: ", id, " is pending for ", p->second, " at the end although a read with NOACK "
                             "delivered it:\n    ", Describe(*op)));
      }
      continue;
    }
    if (AckedBefore(s, id, kInf) && p != f.pending.end()) {
      r->Fail(absl::StrCat("stream: ", id, " is still pending at the end although an XACK of it was acknowledged"));
    } else if ((p == f.pending.end() && OpsOf(s, id).acks.empty()) ||
               (p != f.pending.end() && p->second != op->consumer && !MayHaveClaimed(s, p->second, id))) {
      r->Fail(absl::StrCat("stream: LOST PENDING ENTRY: ", id, " was given to ", op->consumer,
                           ", never acknowledged, and at the end is ",
                           p == f.pending.end() ? std::string("not pending") : "pending for " + p->second, ":\n    ",
                           Describe(*op)));
    }
  }
  for (const auto& [id, consumer] : f.pending) {
    if (IdLess()(f.last_delivered, id)) {
      r->Fail(absl::StrCat("stream: ", id, " is pending beyond the group's last-delivered ID ", f.last_delivered));
    }
  }
}

// Redis measures idle time in whole milliseconds of its wall clock, the
// history in nanoseconds of a steady one.
constexpr int64_t kClockSlackNs = 2'000'000;

// (e) Claims: of entries the group had delivered, idle for the claim's
// minimum since their last delivery, read as pending or claim, not
// acknowledged before, none reported deleted (only entries acknowledged
// before are deleted, and those are pending for nobody).
void CheckClaims(const StreamOps& s, const StreamFinal& f, const std::map<std::string, std::string>& by_id,
                 const std::map<std::string, const Op*, IdLess>& delivered, CheckResult* r) {
  for (const Op* claim : s.ok_claims) {
    if (claim->result != 0) {
      r->Fail(absl::StrCat("stream: a claim reported ", claim->result, " deleted entries:\n    ", Describe(*claim)));
    }
    for (size_t i = 0; i < claim->ids.size(); ++i) {
      const std::string& id = claim->ids[i];
      if (i >= claim->elems.size() || !Holds(s, by_id, id, claim->elems[i])) {
        r->Fail(absl::StrCat("stream: a claim returned ", id, ", which the final stream does not hold so:\n    ",
                             Describe(*claim)));
      }
      if (IdLess()(f.last_delivered, id)) {
        r->Fail(absl::StrCat("stream: a claim returned ", id, ", which the group never delivered:\n    ",
                             Describe(*claim)));
      }
      if (auto d = delivered.find(id); d != delivered.end() && Noack(*d->second)) {
        r->Fail(absl::StrCat("stream: a claim returned ", id, ", which a read with NOACK delivered (never pending):\n    ",
                             Describe(*d->second), "\n    ", Describe(*claim)));
      }
      if (AckedBefore(s, id, claim->invoke_ns)) {
        r->Fail(absl::StrCat("stream: a claim returned ", id, ", acknowledged before it began:\n    ",
                             Describe(*claim)));
      }
      // Its deliveries, reads as a pending entry and other claims: each
      // resets its idle time (a claim may also come after this one).
      std::vector<const Op*> givers = OpsOf(s, id).shown;
      if (auto d = delivered.find(id); d != delivered.end()) givers.push_back(d->second);
      for (const Op* other : OpsOf(s, id).claims) {
        if (other != claim) givers.push_back(other);
      }
      for (const Op* g : givers) {
        const bool g_first = claim->complete_ns - g->invoke_ns + kClockSlackNs >= claim->value * 1000000;
        const bool claim_first =
            g->kind == OpKind::kXclaim && g->complete_ns - claim->invoke_ns + kClockSlackNs >= g->value * 1000000;
        if (!g_first && !claim_first) {
          r->Fail(absl::StrCat("stream: a claim of entries idle for ", claim->value, " ms returned ", id,
                               ", given out less than that before:\n    ", Describe(*g), "\n    ", Describe(*claim)));
        }
      }
    }
  }
}

// (g) An ok XDEL counts every ID it names: all of them, but those another
// XDEL may have removed first. (Each names entries just acknowledged, so
// none is gone for any other reason.)
void CheckDeletes(const StreamOps& s, CheckResult* r) {
  for (const Op* del : s.ok_deletes) {
    const int64_t named = static_cast<int64_t>(del->ids.size());
    const int64_t others = std::count_if(del->ids.begin(), del->ids.end(), [&](const std::string& id) {
      const auto& deletes = OpsOf(s, id).deletes;
      return std::any_of(deletes.begin(), deletes.end(),
                         [&](const Op* d) { return d != del && d->invoke_ns <= del->complete_ns; });
    });
    if (del->result > named || del->result < named - others) {
      r->Fail(absl::StrCat("stream: an XDEL of entries just acknowledged counted ", del->result, " of them (", others,
                           " may have been deleted by others first):\n    ", Describe(*del)));
    }
  }
}

// IDs that are not "<ms>-<seq>" (they would all compare equal).
void CheckIds(const std::vector<Op>& ops, const StreamFinal& f, CheckResult* r) {
  auto check = [&](const std::string& id, const std::string& where) {
    if (Parse(id) == StreamId{0, 0}) r->Fail(absl::StrCat("stream: a malformed entry ID \"", id, "\" in ", where));
  };
  for (const Op& op : ops) {
    if (op.outcome != Outcome::kOk) continue;
    for (const std::string& id : op.ids) check(id, Describe(op));
  }
  for (const auto& [id, payload] : f.entries) check(id, "the final stream");
  for (const auto& [id, consumer] : f.pending) check(id, "the final pending entries");
  if (!f.last_delivered.empty() && f.last_delivered != "0-0") check(f.last_delivered, "the group's last-delivered ID");
}

}  // namespace

CheckResult CheckStream(const std::vector<Op>& ops, const StreamFinal& final_state, int count_per_read,
                        int64_t grace_ns) {
  CheckResult r;
  CheckIds(ops, final_state, &r);
  const StreamOps s = Index(ops);
  const auto by_id = CheckEntries(s, final_state, &r);
  const auto delivered = CheckDeliveries(s, by_id, &r);
  CheckLastDelivered(s, final_state, delivered, count_per_read, grace_ns, &r);
  CheckPending(s, final_state, delivered, count_per_read, &r);
  CheckClaims(s, final_state, by_id, delivered, &r);
  CheckDeletes(s, &r);
  return r;
}

}  // namespace fault
