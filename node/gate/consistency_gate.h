// The consistency gate: the one place that decides when a reply may leave the
// leader and when a key lock drops (shared/DESIGN.md, "The consistency gate").
//
// Like the Raft core it is a deterministic state machine with no sockets,
// clocks or threads. The node feeds it events (a request classified and
// forwarded, its reply arrived, the stream offset that covers it, the stream
// committed further, a leadership confirmation, the state machine applied
// further, a client gone) and performs what it hands back: replies that may
// leave (TakeActions), ROLE requests to send on a connection (return values),
// leadership confirmations to start (WantsReadRound), child clients to kill.
//
// Its promises, checked by tests/node/gate_simulation_test.cc after every step:
//   1. No reply leaves before a leadership confirmation begun after its request
//      arrived: a ReadIndex round started after it, or the commit of an entry
//      proposed after it. Stateless replies (PING, +QUEUED, ...) are exempt:
//      they show no data.
//   2. A write's reply leaves only once the stream offset covering its effects
//      committed (a ROLE sent after it on its connection gives that offset).
//   3. A read's reply exposes no uncommitted effect: it waits for the writes
//      that held its keys when it arrived back (KeyLockTable); for keys a
//      blocking command may have changed, or reads in a transaction, for the
//      commit of an offset taken after it ran; while the child may evict
//      keys (SetEvictions), also for the commit of the deletions of its keys
//      the stream carried up to an offset taken after it ran.
//   4. Every lock is released when its slot ends, however it ends: commit,
//      client gone (the node kills the child client and learns a covering
//      offset on its own link), or Reset() (leadership lost, child rebuilt).
//   5. An idle client never delays another: a transaction locks its keys at
//      EXEC, not when commands are queued; a blocked command holds no lock.
//   6. State the stream does not carry, which the node logs as a node entry
//      (a logged write, HoldForEntry), shows in no reply before that entry
//      commits: the write's own waits for it, and every other reply that may
//      show its keys, a write's too, waits for the entry's lock.
//   7. A node entry takes the place in the log its request had among the
//      writes of its keys on the leader's child (MayForward): no other write
//      of those keys runs between the request and the offset that places its
//      entry, so every member's child runs them in the leader's order.
//
// Writes never wait for other writes' locks, only (before they are forwarded)
// for a logged request's entry; readers wait for writers (see KeyLockTable).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "node/gate/key_lock_table.h"
#include "node/gate/slab.h"
#include "node/gate/transaction.h"

namespace node::gate {

using SessionId = uint64_t;
using SlotId = uint64_t;   // unique for the gate's lifetime (across Reset)
using CoverId = uint64_t;  // a ROLE whose offset covers some slots' effects

// How a request touches the data (decided by the front end from the command
// table and the connection's state).
enum class Kind {
  kStateless,  // shows no data: PING, ECHO, SELECT, HELLO, MULTI, WATCH, queued commands
  kRead,       // reads `keys` (or the whole keyspace)
  kWrite,      // may write `keys` (or the whole keyspace); also any script
  kBlocking,   // a write that may wait in the child (BLPOP): holds no lock while it waits
  kExec,       // EXEC: runs the transaction recorded by Queue()
};

using KeyId = KeyLockTable::KeyId;
using KeyIds = absl::InlinedVector<KeyId, 2>;

struct Request {
  Kind kind = Kind::kStateless;
  KeyIds keys;                  // db-qualified (KeyOf)
  bool whole_keyspace = false;  // keys unknown or every key
  bool script = false;          // a script: it may have written before an error
  // A request the node logs as a node entry once it ran (HoldForEntry): a
  // write's keys (a keyless request's settings, an EXEC's everything) stay
  // locked against every reply, writes' too, until that entry commits.
  bool logged = false;
  // A write's keys it only reads (SINTERSTORE's sources): an error it gets
  // (WRONGTYPE) may show what they hold, so it waits for their writes as a
  // read's reply does.
  KeyIds read_only_keys;
  // It reads the node's logged settings (CONFIG GET, SCRIPT EXISTS, ACL
  // listings): its reply waits for the entries of their changes in flight.
  bool settings = false;
};

// The lock of `key` in database `db` (see KeyLockTable on collisions).
KeyId KeyOf(int db, std::string_view key);

// What the child's reply says about the request's run.
enum class Outcome {
  kOk,
  kError,   // refused when it ran: the error may show what its keys hold (WRONGTYPE)
  kNotRun,  // never ran, saw no data: BUSY (a script runs), EXECABORT
};

struct Admission {
  SlotId slot = 0;
  // Send a ROLE for this cover before forwarding the request (a blocking
  // command would otherwise hold back the offset of the writes before it).
  std::optional<CoverId> cover_first;
};

// Something for the node to do, in the order the gate decided it.
struct Action {
  enum class Type {
    kRelease,  // `slot`'s reply may leave now
  };
  Type type;
  SessionId session = 0;
  SlotId slot = 0;
  uint64_t tag = 0;  // the caller's, from Arrive or Queue
};

struct GateStats {
  size_t slots = 0;          // requests in flight
  size_t live_tickets = 0;   // writes whose locks are held
  size_t locked_keys = 0;
  size_t marked_keys = 0;
  size_t covers_waiting = 0;  // offsets waiting to commit
  uint64_t confirmed_stamp = 0;
  uint64_t committed_offset = 0;
};

// Tests only: breaks one rule, so that the simulation can show it would
// catch the bug (a check that cannot fail proves nothing).
enum class BrokenRule {
  kNone,
  kAckBeforeCommit,  // writes are answered as soon as the child ran them
  kNoConfirmation,   // replies leave without a leadership confirmation
  kNoReadLocks,      // reads do not wait for the writes holding their keys
  kNoMarks,          // reads ignore keys a blocked command may change
  kLocksAtQueue,     // MULTI locks its keys when queued, not at EXEC
  kForgetGoneLocks,  // a client gone with writes in flight leaves its locks behind
  kKeepGoneClients,  // a gone client's child connection stays (its blocked command may pop later)
  kNoEntryWait,      // a logged write's reply does not wait for its node entry
  kNoLoggedLocks,    // replies do not wait for the entries of logged writes that hold their keys
  kNoPlacementWait,  // requests are forwarded without MayForward's waits
  kNoEvictionWait,   // reads ignore the keys the child may evict (SetEvictions)
  kEvictionsUnread,  // reads under eviction look for deletions before the stream was read to their offset
  kNoSourceLocks,    // a write's error ignores the writes of the keys it only reads
};

// "ack-before-commit", "no-confirmation", ...: the rule's name in flags.
bool ParseBrokenRule(std::string_view name, BrokenRule* out);
std::string_view BrokenRuleName(BrokenRule rule);

class ConsistencyGate {
 public:
  ConsistencyGate() = default;
  void BreakForTest(BrokenRule rule) { broken_ = rule; }
  BrokenRule broken_rule() const { return broken_; }

  // Whether the child may delete keys of its own accord: under maxmemory
  // with an eviction policy it evicts before it runs any command, and
  // propagates the DELs, which no request locked. While on, every reply of a
  // read (or of a write that changed nothing) also waits for the deletions
  // of its keys the stream carried up to an offset taken after it ran
  // (StreamRead) to commit. The node turns it on before the child may start
  // evicting and off only once the child's committed settings say it no
  // longer may.
  void SetEvictions(bool on) { evictions_ = on; }
  bool evictions() const { return evictions_; }

  // ---- requests (in each session's order) ----

  // A request about to be forwarded to the child. Writes lock their keys here,
  // before the child can run them; blocking commands mark theirs.
  // `tag` is the caller's: released actions carry it back.
  Admission Arrive(SessionId session, Request request, uint64_t tag = 0);
  // Whether `request` may be forwarded now (promise 7); if not, `ready` runs
  // once it may, and the caller asks again then (a logged request that asked
  // once goes at once). A logged request reserves its lock when it first
  // asks, and waits for every write that holds its keys (until committed, a
  // logged one's entry too); a write of keys a logged request holds waits
  // for that entry. Keyless logged requests (SCRIPT LOAD, CONFIG SET) hold
  // one lock of their own, so they too are logged in the order they ran.
  // Reads never wait here.
  // (`ready` makes that callback, only when there is a wait.)
  bool MayForward(SessionId session, const Request& request, absl::FunctionRef<std::function<void()>()> ready);
  // A request inside MULTI: answered +QUEUED (a stateless slot); what it
  // would lock is recorded for EXEC.
  SlotId Queue(SessionId session, const Request& request, uint64_t tag = 0);
  // MULTI begins a transaction; DISCARD or an aborted EXEC ends it unrun.
  void BeginTransaction(SessionId session);
  void DropTransaction(SessionId session);
  // The client's input paused: if writes were forwarded since the last cover,
  // returns the cover to send a ROLE for (one ROLE covers them all).
  std::optional<CoverId> EndOfBatch(SessionId session);
  // The child answered `slot`. For a read of keys a blocking command may have
  // changed, returns a cover to send a ROLE for right away. A write (or EXEC)
  // that failed, other than a script, changed nothing: its locks drop and it
  // needs no commit; an error that ran is a read of its keys (WRONGTYPE shows
  // what they hold). A request that never ran (a read too) shows nothing and
  // waits for no lock.
  std::optional<CoverId> ReplyArrived(SlotId slot, Outcome outcome = Outcome::kOk);
  // The ROLE of `cover` answered: the effects it covers end at or before `offset`.
  void Covered(CoverId cover, uint64_t offset);
  // `slot` changed state the stream does not carry (SCRIPT LOAD): the node
  // will log it, and its reply waits (HoldForEntry) until the node logged it
  // as entry `index` (WaitForEntry) and that entry committed.
  void HoldForEntry(SlotId slot);
  void WaitForEntry(SlotId slot, uint64_t index);

  // ---- the stream ----

  // The node read the child's stream up to `end_offset`; `deleted` are the
  // keys the DEL and UNLINK commands it read since the last call deleted
  // (evictions are DELs or UNLINKs), taken as deleted at `end_offset`.
  void StreamRead(uint64_t end_offset, std::span<const KeyId> deleted);

  // ---- the log ----

  // The leader proposed the stream's effects up to `end_offset`.
  void Proposed(uint64_t end_offset);
  // The stream is committed up to `offset`.
  void Committed(uint64_t offset);
  // The log is committed up to entry `index`.
  void IndexCommitted(uint64_t index);
  // Whether a leadership confirmation (ReadIndex round) should start now.
  bool WantsReadRound() const;
  // A round starts; pass the returned stamp back to ReadConfirmed.
  uint64_t StartReadRound();
  // The round was refused (no leader): the reads wait for the next attempt.
  void ReadRoundFailed();
  // The round `stamp` confirmed leadership; reads may be served once the
  // state machine applied `index`.
  void ReadConfirmed(uint64_t stamp, uint64_t index);
  void Applied(uint64_t index);

  // ---- snapshots ----

  // While held, a logged request that has not reserved its place yet may not
  // be forwarded (MayForward says no; `ready` runs once the last hold is
  // released). A leader's snapshot holds them across its fork, and a
  // divergence check across its digest, so that none runs between the
  // child's state they catch and the log index they take. Holds count.
  void HoldLogged() { ++logged_holds_; }
  void ReleaseLogged();
  // Whether a logged request is in flight: reserved, forwarded, or waiting
  // for its entry to commit.
  bool LoggedInFlight() const { return logged_locks_.live_tickets() > 0; }

  // ---- endings ----

  // The client (or the node, on a protocol error) ended the session. Its
  // slots end now. If effects it sent may still be in flight, returns the
  // cover whose offset the node must learn after killing its child client.
  std::optional<CoverId> ClientGone(SessionId session);
  // Leadership lost or the child rebuilt: every slot, lock and wait ends (the
  // node fails the sessions' requests itself).
  void Reset();

  // The actions since the last call, in *out (its old contents dropped).
  // The gate keeps out's buffer for the next ones: a caller that passes the
  // same vector every time allocates nothing once both buffers have grown
  // (a commit releases a few hundred replies at once).
  void TakeActions(std::vector<Action>* out);
  bool HasActions() const { return !actions_.empty(); }
  GateStats Stats() const;

  // For tests: whether `slot` is still in flight.
  bool InFlight(SlotId slot) { return slots_.Find(slot) != nullptr; }

 private:
  struct Slot {
    SessionId session = 0;
    Kind kind = Kind::kStateless;
    uint64_t tag = 0;
    uint64_t arrival = 0;        // clock at arrival
    bool reply = false;          // the child answered
    bool needs_confirm = false;  // waits for a confirmation begun after arrival
    bool needs_commit = false;   // waits for its cover to commit
    bool committed = false;
    bool wants_round = false;    // asked for a ReadIndex round
    uint64_t entry = 0;          // waits for this log entry to commit (WaitForEntry)
    // A logged write's lock in logged_locks_, held until its entry commits
    // (handed to entry_locks_ once the entry is known).
    KeyLockTable::Ticket logged_ticket = 0;
    int lock_waits = 0;          // key-lock waits outstanding (reads; any reply: logged locks)
    bool whole_keyspace = false;
    bool script = false;
    KeyIds read_keys;            // reads; the keys a write may touch
    KeyLockTable::Ticket own_ticket = 0;  // its write locks (also in a cover once covered)
    absl::InlinedVector<KeyLockTable::Ticket, 1> tickets;
    absl::InlinedVector<KeyId, 1> marks;
  };
  struct Cover {
    SessionId session = 0;  // 0 once its session is gone
    // Inline up to a pipelined batch of 16 writes: no allocation per batch.
    absl::InlinedVector<SlotId, 16> slots;
    absl::InlinedVector<KeyLockTable::Ticket, 16> tickets;
    absl::InlinedVector<KeyId, 1> marks;
    // A read's under eviction: once the stream was read to its offset, it
    // waits only for the commit of the latest deletion of the read's keys.
    bool deletions = false;
  };
  struct Session {
    std::vector<SlotId> uncovered;      // writes forwarded since the last cover
    std::vector<CoverId> unanswered;    // covers sent, offset not known yet
    std::optional<Transaction> transaction;
    KeyLockTable::Ticket reserved = 0;  // a logged request's lock, taken by MayForward before Arrive
  };

  SlotId NewSlot(SessionId session, Kind kind, bool needs_confirm, uint64_t tag);
  CoverId NewCover(SessionId session, std::span<const SlotId> slots);
  void TakeLocks(Slot& s, std::span<const KeyId> keys, bool whole_keyspace);
  void FinishCover(CoverId id);
  void Confirm(uint64_t stamp);
  void WantRound(SlotId id, Slot& s);
  // The reply of a read (or of a write that changed nothing) arrived: it waits
  // for the writes that hold its keys, or for a cover if a blocked command may
  // have changed them.
  std::optional<CoverId> ReadReplyArrived(SlotId id, Slot& s);
  // Releases `id` if nothing holds it back any more.
  void Check(SlotId id);
  // An eviction cover whose offset the stream was read to: it waits for the
  // commit of the latest deletion of its read's keys, if one is uncommitted.
  void ResolveDeletions(CoverId id);
  uint64_t LatestDeletion(const Slot& s) const;

  KeyLockTable locks_;
  uint64_t clock_ = 0;          // ticks once per arrival
  CoverId next_cover_ = 1;
  Slab<Slot> slots_;
  absl::flat_hash_map<SessionId, Session> sessions_;
  absl::flat_hash_map<CoverId, Cover> covers_;
  absl::btree_multimap<uint64_t, CoverId> commit_waits_;  // offset -> cover
  uint64_t committed_ = 0;
  uint64_t committed_index_ = 0;
  absl::btree_multimap<uint64_t, SlotId> entry_waits_;  // log index -> slot
  // Logged writes' locks, taken at arrival and released when their entry
  // commits (or once it is known none will come). Every reply that ran waits
  // for those holding its keys, as reads wait for writes in locks_.
  KeyLockTable logged_locks_;
  // By the entry's index; those whose slot ended (its client left) before
  // the entry was proposed wait by slot.
  absl::btree_multimap<uint64_t, KeyLockTable::Ticket> entry_locks_;
  absl::flat_hash_map<SlotId, KeyLockTable::Ticket> orphan_locks_;
  void KeepUntilEntry(uint64_t index, KeyLockTable::Ticket t);
  // A reply that ran waits for the logged writes holding its keys.
  void WaitForLogged(SlotId id, Slot& s);
  bool WrittenKeys(SessionId session, const Request& request, std::span<const KeyId>* keys, bool* every_key) const;
  KeyLockTable::Ticket LockLogged(std::span<const KeyId> keys, bool every_key);
  KeyLockTable::Ticket TakeLoggedLock(SessionId session, Session& ss, const Request& request);
  int logged_holds_ = 0;
  std::vector<std::function<void()>> held_logged_;  // their `ready`s, run once no hold is left
  bool evictions_ = false;  // SetEvictions
  // The stream as the node read it; while evictions_, the keys its
  // deletions past committed_ deleted, by the offset of the latest one, and
  // the same by offset.
  uint64_t stream_read_ = 0;
  absl::flat_hash_map<KeyId, uint64_t> deleted_;
  absl::btree_multimap<uint64_t, KeyId> deletions_;
  absl::btree_multimap<uint64_t, CoverId> read_waits_;  // eviction covers, by offset: waiting for StreamRead

  // Leadership confirmations. A slot is confirmed once confirmed_stamp_ >= its arrival.
  uint64_t confirmed_stamp_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> proposals_;  // (end offset, stamp), oldest first
  std::deque<std::pair<uint64_t, SlotId>> unconfirmed_;  // (arrival, slot), by arrival
  bool round_in_flight_ = false;
  uint64_t round_stamp_ = 0;       // stamp of the last round started
  uint64_t round_stamp_before_ = 0;  // restored when that round is refused
  uint64_t round_wanted_after_ = 0;  // the latest arrival that asked for a round
  absl::btree_multimap<uint64_t, uint64_t> apply_waits_;  // index -> round stamp
  uint64_t applied_ = 0;

  std::vector<Action> actions_;
  absl::flat_hash_map<SessionId, Slot> queued_locks_;  // BrokenRule::kLocksAtQueue only
  BrokenRule broken_ = BrokenRule::kNone;
};

}  // namespace node::gate
