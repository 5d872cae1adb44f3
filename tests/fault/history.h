// A recorded history of client operations against a cluster, and the checkers
// that judge it (issue 6). Nothing here needs a cluster: the checkers are unit
// tested on hand-written histories with known anomalies (checker_test.cc).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fault {

// ok: the reply says it happened. fail: it certainly did not happen (TRYAGAIN,
// EXECABORT). unknown: no reply, UNKNOWN, or anything else we cannot be sure of:
// it may take effect at any point after its invocation, or never.
enum class Outcome { kOk, kFail, kUnknown };
const char* OutcomeName(Outcome o);

inline constexpr int64_t kNil = std::numeric_limits<int64_t>::min();  // absent key
inline constexpr int64_t kInf = std::numeric_limits<int64_t>::max();  // never returned

enum class OpKind {
  kRead,      // register GET, GETEX or read-only EVAL (via): result = value or kNil
  kWrite,     // register SET key value
  kIncr,      // register INCR: result = new value
  kAppend,    // list RPUSH key elem (elems: the element)
  kListRead,  // list LRANGE key 0 -1 (elems: the list seen)
  kTxn,       // list MULTI/EXEC with appends (appends) and one LRANGE (elems)
  kTransfer,  // bank transfer of `value` from `from` to `to` (via: multi, watch or eval)
  kBalances,  // bank MGET of every account (balances)
  kPush,      // queue RPUSH key elem (elems: the element)
  kPop,       // queue BLPOP key, or BLMOVE key `to` LEFT RIGHT when `to` is set
              // (the consumer's own taken list): elems: the element; empty: nil.
              // Unknown: the consumer closed while blocked at complete_ns (or got no reply)
  kTakenRemove,  // LREM `key` (a taken list) 1 elem, of an element an ok BLMOVE
                 // moved there (elems: {elem}); result: the count removed
  kTakenRead,    // LRANGE of a taken list (elems: the list seen)
  kTtl,       // SET key value with a TTL, then PERSIST or EXPIRE (via); ok: the
              // second reply was 1, so the key must exist for good
  kXadd,      // stream XADD key * with a unique payload (elems: {payload}; ids: the ID returned)
  kXread,     // XREADGROUP of new entries (">"; via "waits"/"leaves" as for kPop):
              // ids and elems the entries delivered, in order; none: nil;
              // value 1: with NOACK (what it delivers never becomes pending)
  kXack,      // XACK of ids (delivered to the same consumer); result: the count acknowledged
  kXreadPending,  // XREADGROUP of the consumer's own pending entries (ID 0, not the
                  // XPENDING command): ids returned
  kXclaim,    // XAUTOCLAIM of entries idle for `value` ms or more: ids and elems the
              // entries claimed; result: how many deleted IDs it reported
  kXdel,      // XDEL of ids its consumer's ok XACK acknowledged just before; result: the count deleted
};
const char* OpKindName(OpKind k);

struct Op {
  int64_t id = 0;
  int client = 0;   // the client thread
  int node = 0;     // the node it talked to
  OpKind kind = OpKind::kRead;
  std::string key;     // registers: "db<n>:<name>"
  std::string via;     // which command did it, when several can (kRead, kTransfer, kTtl)
  int64_t value = 0;   // kWrite, kTtl: the value written; kTransfer: amount
  int64_t result = kNil;  // kRead/kIncr: value returned
  std::vector<std::string> elems;  // kAppend: {elem}; kListRead/kTxn: the list read
  std::vector<std::pair<std::string, std::string>> appends;  // kTxn: (key, elem) appended
  std::string from, to;            // kTransfer; kPop by BLMOVE: to = its destination
  std::vector<int64_t> balances;   // kBalances (kNil for a missing account); kTransfer via watch: {from, to} read
  std::vector<std::string> ids;    // kXadd, kXread, kXack, kXreadPending, kXdel: stream entry IDs
  std::string consumer;            // kXread, kXack, kXreadPending, kXclaim, kXdel: the group's consumer
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;  // checkers treat unknown ops as never returning
  Outcome outcome = Outcome::kUnknown;
  std::string error;  // the error text or "no reply", for the report
};

std::string Describe(const Op& op);

// Thread-safe recorder: ops are added when they complete.
class History {
 public:
  void Add(Op op);
  std::vector<Op> ops() const;  // sorted by invocation
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<Op> ops_;
};

struct CheckResult {
  bool valid = true;
  bool search_exhausted = false;  // the search ran out of budget: no verdict
  std::vector<std::string> anomalies;  // each with a history excerpt
  int64_t lost_writes = 0;             // acknowledged writes missing at the end
  void Fail(std::string what) {
    valid = false;
    anomalies.push_back(std::move(what));
  }
  void Merge(const CheckResult& o);
  std::string Summary(size_t max_anomalies = 10) const;
};

// Registers (kRead/kWrite/kIncr): linearizability per key (Wing & Gong search
// with Lowe's memoization of (linearized set, register value)). Every register
// starts absent (kNil). Budget per key in ms. With `evictions`, the server may
// delete any key of its own accord (maxmemory with an allkeys policy): a read
// that finds a key absent is explained by an eviction just before it, and
// from then on the key is absent until a write; an evicted key that comes
// back with its old value is an anomaly. INCR is not modeled with evictions.
CheckResult CheckRegisters(const std::vector<Op>& ops, int64_t budget_ms = 20000, bool evictions = false);

// Lists (kAppend/kListRead/kTxn): `final_lists` maps every key to a final read
// taken after the run (when every fault is healed). Checks: every acknowledged
// append is in the final list exactly once; no element of a failed append is
// ever seen; no read has duplicates or unknown elements; every read is a
// prefix of the final list; a read sees every append acknowledged before it
// was invoked, and is at least as long as any read that completed before it
// was invoked (no stale reads).
CheckResult CheckLists(const std::vector<Op>& ops,
                       const std::vector<std::pair<std::string, std::vector<std::string>>>& final_lists);

// Bank (kTransfer/kBalances): every read of all balances sums to `total` and
// sees every account; the final balances equal the initial ones plus every
// acknowledged transfer plus some subset of unknown ones (searched when there
// are few enough unknown transfers), never a failed one.
CheckResult CheckBank(const std::vector<Op>& ops, const std::vector<std::string>& accounts,
                      const std::vector<int64_t>& initial, const std::vector<int64_t>& final_balances);

// How long after an unknown pop's close (or its lost reply) it may still take
// an element. Longer than any nemesis hold: a follower paused (or cut off)
// while its client left cannot pass the close on to the leader until it runs
// again, and the pop stays blocked in the leader's child until then.
inline constexpr int64_t kUnknownPopGraceNs = 8'000'000'000;

// Queue (kPush/kPop, kTakenRemove/kTakenRead): `final_queue` is the whole
// list read after the run, `final_taken` every consumer's taken list (the
// destination of its BLMOVEs). (a) no element is delivered twice (two ok
// pops, an ok pop and the final queue, or either and a taken list it was not
// moved to), and nothing appears that was never pushed by an ok or unknown
// push (nor popped before its push began); (b) an element an ok BLMOVE moved
// stays in its taken list until an LREM (ok and counting 1, or unknown)
// removes it, and an ok LREM counts it; an element in a taken list that no ok
// BLMOVE moved there was moved by one of that consumer's unknown BLMOVEs,
// each taking at most one element pushed no later than the end of its window
// [invocation, close + grace]; (c) every read of a taken list holds each
// element an ok BLMOVE moved there before the read began and no LREM of it
// had begun by the read's end, no element an ok LREM removed before it
// began, and only elements a BLMOVE to it had begun to move; (d) every
// acknowledged push is in the final queue, was returned by an ok pop, is in
// a taken list, or may have been taken by an unknown BLPOP (an unknown
// BLMOVE leaves its element in the taken list), with the same windows.
// Elements left over are lost (counted in lost_writes).
CheckResult CheckQueue(const std::vector<Op>& ops, const std::vector<std::string>& final_queue,
                       const std::map<std::string, std::vector<std::string>>& final_taken = {},
                       int64_t grace_ns = kUnknownPopGraceNs);

// TTL keys (kTtl): every op acknowledged (its PERSIST or EXPIRE returned 1)
// made its key permanent: `final_values` (key -> value read after the run,
// kNil if absent) must still hold the value it set. Missing ones are lost
// writes.
CheckResult CheckTtl(const std::vector<Op>& ops, const std::map<std::string, int64_t>& final_values);

// Streams (kXadd/kXread/kXack/kXreadPending), one stream and one consumer group,
// judged against the state read after the run: the stream's entries in order,
// the group's last-delivered ID and its pending entries (ID -> consumer).
struct StreamFinal {
  std::vector<std::pair<std::string, std::string>> entries;  // (ID, payload)
  std::string last_delivered;
  std::map<std::string, std::string> pending;
};

// (a) Every acknowledged XADD is in the final stream once, under the ID it
// returned; nothing there that no ok or unknown XADD added. (b) Ok reads of
// new entries deliver existing entries with their payloads, each to one read
// only, none before its XADD began, and after any ok read that completed
// before they began, only newer entries. (c) The group's last-delivered ID
// covers every ok delivery; an entry it covers that no ok read delivered was
// taken by an unknown read, so (consumers acknowledge only what ok reads gave
// them, claimers what their ok claims gave them) it is still pending, for a
// consumer whose unknown reads can have taken it (at most `count_per_read`
// each, added no later than the read's close plus `grace_ns`) or a claimer,
// or a claimer acknowledged it. (d) What an ok read or claim gave stays
// pending, for its consumer or one that can have claimed it since, until an
// XACK: an ok one counts every ID it names but those another consumer may have
// acknowledged first. Each read of a consumer's own pending entries holds what
// its earlier ok reads delivered and no XACK or claim can have taken, nothing
// an ok XACK acknowledged or an ok claim took away before it began, nothing
// another consumer got, and no more entries no ok read delivered than its
// earlier unknown reads can have taken. (e) An ok claim (XAUTOCLAIM) returns
// entries the group delivered, idle for its minimum since their last delivery,
// read as a pending entry or claim, not acknowledged before it began, and reports none deleted.
// (f) What a read with NOACK delivered is never pending: no read of pending
// entries, no claim and not the final state holds it; an entry covered by the
// last-delivered ID that is not pending and was never acknowledged was taken
// by an unknown NOACK read (as in (c), by count and window).
// Malformed IDs are anomalies too.
CheckResult CheckStream(const std::vector<Op>& ops, const StreamFinal& final_state, int count_per_read,
                        int64_t grace_ns = kUnknownPopGraceNs);

}  // namespace fault
