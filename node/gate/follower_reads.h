// Reads a follower serves from its own child, still linearizable
// (shared/DESIGN.md, "The read path"). A follower's child is a replica fed
// only committed entries, so it never shows an uncommitted effect; what it may
// show is an old state. A read therefore runs on it only once
//   1. a read index was confirmed by the leader for a round (ReadIndex,
//      forwarded by the Raft core) that started after the read arrived: the
//      leader's commit index at a moment it still led, which covers every
//      write acknowledged before the read arrived; and
//   2. the child applied that index.
// One round serves every read that arrived before it started.
//
// A read may also run early, as it arrives, before its round is confirmed
// (the leader's own reads run at once too, their replies held): while the
// child keeps up with the leader's commit index, the state it shows is
// usually already at the read index. The node notes the index the child had
// applied when it sent the read (its state when the read runs is at least
// that: the child acknowledged it before the read reached it); once the round
// confirms, the reply stands if that index reaches the read index. If not,
// the reply is void and the read runs again when the child holds its index,
// as do the early reads after it (so that reads still leave in arrival
// order). A void reply turns early runs off until rounds find the child
// caught up again, one round after the first void, then twice as many after
// each further void in a row (up to kMaxEarlyBackoff), so that a stream of
// writes, where the child trails the leader's commits by a message, costs
// few reads twice. Up to
// kMaxRounds rounds are in flight: a read that arrives while one is under way
// need not wait for it to end before its own starts (a round costs the leader
// little: with three voters it answers at once, the follower's request being
// the confirmation it needs; with more, every read index asked between two of
// its heartbeats shares one heartbeat round). Socket-free,
// like the consistency gate: the node feeds it events and sends the reads it
// hands back, in arrival order.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace node::gate {

class FollowerReadQueue {
 public:
  using ReadId = uint64_t;
  static constexpr size_t kMaxRounds = 2;
  static constexpr size_t kMaxEarlyBackoff = 64;

  // Tests only, and unsafe: reads run as soon as they arrive (no read index,
  // no wait for the child), to prove the fault checkers catch stale reads.
  void SkipWaitForTest() { skip_wait_ = true; }

  // A read arrived; it is sent once TakeReady() returns it.
  ReadId Arrive();
  // Whether a read that arrives now may run at once: early runs are on, and
  // every read before it was sent already (a read never overtakes one that
  // arrived before it).
  bool MaySendEarly() const { return !skip_wait_ && early_runs_ && applied_ > 0 && unsent_ == 0; }
  // A read arrived and is sent now, to a child that applied what Applied()
  // last said.
  ReadId ArriveEarly();
  // An early read's connection was lost before its reply: it waits like any
  // other read, and so do the early reads after it (sent after it on that
  // connection, lost as well).
  void Unsent(ReadId id);
  // Early reads whose replies became void (they are waited for and run
  // again like any other read). Drains the list.
  std::vector<ReadId> TakeVoided() { return std::exchange(voided_, {}); }
  // Whether a round should start now: reads wait that no round in flight
  // covers, and fewer than kMaxRounds are in flight.
  bool WantsRound() const;
  // A round starts; pass the stamp to Confirmed or Failed.
  uint64_t StartRound();
  // The round was lost (no leader, timed out): the reads it would have
  // served ask for the next one. A confirmation of it that arrives later
  // still counts.
  void Failed(uint64_t stamp);
  // The leader confirmed round `stamp` with read index `index`. The rounds
  // in flight that started before it are no longer needed (their reads have
  // this index); they end too.
  void Confirmed(uint64_t stamp, uint64_t index);
  // The child applied every entry up to `index`. Applied(0) after a child
  // rebuild (a fresh replica holds nothing until its sync completes).
  void Applied(uint64_t index) { applied_ = index; }
  // Reads that may run now, in arrival order (a read waits behind the ones
  // that arrived before it), each with the index its child must hold (0 when
  // the wait is skipped for a test); `early`: it ran already and its reply
  // stands.
  struct Ready {
    ReadId id = 0;
    uint64_t index = 0;
    bool early = false;
    bool operator==(const Ready&) const = default;
  };
  std::vector<Ready> TakeReady();
  // Forgets every read (this node leads now, or stops): returns them.
  std::vector<ReadId> Clear();
  // Gives up the reads that arrived before `id` and still wait: for their
  // read index (the leader cannot be reached), or for the child to apply it
  // (this node cannot catch up). Returns them, each with its read index if
  // it had one.
  struct Dropped {
    ReadId id = 0;
    std::optional<uint64_t> index;
    bool operator==(const Dropped&) const = default;
  };
  std::vector<Dropped> DropBefore(ReadId id);

  size_t waiting() const { return reads_.size(); }
  // The oldest read still waiting (next id if none).
  ReadId oldest() const { return reads_.empty() ? next_id_ : reads_.front().id; }
  // Every read with a lower id has its read index (or is gone).
  ReadId confirmed_below() const { return confirmed_below_; }
  size_t rounds_in_flight() const { return in_flight_.size(); }
  bool in_flight(uint64_t stamp) const;

 private:
  struct Read {
    ReadId id = 0;
    std::optional<uint64_t> index;  // the read index of the round that confirmed it
    std::optional<uint64_t> ran_at;  // sent early, to a child that had applied this
  };
  // Voids the replies of the early reads from `from` on.
  void VoidEarlyFrom(std::deque<Read>::iterator from);

  std::deque<Read> reads_;  // by arrival (= id order)
  ReadId next_id_ = 1;
  // A round started with stamp S covers the reads with id < S. Ascending.
  std::deque<uint64_t> in_flight_;
  uint64_t confirmed_below_ = 1;  // every read with a lower id has its read index
  uint64_t applied_ = 0;
  bool early_runs_ = true;
  size_t early_skip_ = 0;     // caught-up rounds to let pass before early runs resume
  size_t early_backoff_ = 0;  // what the next void sets early_skip_ to (doubled each time)
  size_t unsent_ = 0;  // reads in reads_ not sent early
  std::vector<ReadId> voided_;
  bool skip_wait_ = false;
};

}  // namespace node::gate
