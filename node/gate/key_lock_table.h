// Key locks that make reads wait for uncommitted writes (shared/DESIGN.md, "The
// write path"). A write takes a ticket and locks its keys before it is forwarded
// to the child; the locks drop when its effects commit. Writes never wait for a
// lock. A read, once its reply arrived, waits only for the writes that held its
// keys at that moment (later writes cannot have been observed by it), so a hot
// key cannot starve its readers.
//
// A key is named by a 64-bit hash of its database and name (gate::KeyOf). Two
// keys with the same hash share one lock: a reader may then wait for a write
// it did not need to, never the other way round, so a collision costs time,
// not safety. Single-threaded: all calls come from the node's event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "node/ring_queue.h"

namespace node {

class KeyLockTable {
 public:
  using Ticket = uint64_t;
  using KeyId = uint64_t;

  // A new ticket, larger than every earlier one. A ticket that holds no lock
  // still counts for Barrier() until Release().
  Ticket Begin();
  void Lock(Ticket t, KeyId key);
  // Locks every key (scripts, FLUSHALL, keyless writes).
  void LockAll(Ticket t);
  // A blocking write may take effect at any moment while it waits in the child;
  // its keys are marked until Unmark() (after its effects commit), and readers
  // of a marked key must use an offset barrier instead of these locks.
  void Mark(KeyId key);
  void Unmark(KeyId key);
  bool AnyMarked(std::span<const KeyId> keys) const;
  bool AnyMarked() const { return marked_total_ > 0; }

  // Drops every lock of `t`, waking readers whose wait is over.
  void Release(Ticket t);

  // Calls `ready` once no write that holds one of `keys`, or the whole keyspace,
  // at this moment still holds it; with `barrier`, once no ticket issued so far
  // is still live. Returns true (and does not keep `ready`) if that is already so.
  bool WaitClear(std::span<const KeyId> keys, bool barrier, std::function<void()> ready);

  size_t live_tickets() const { return live_count_; }
  size_t locked_keys() const { return keys_.size(); }
  size_t marked_keys() const { return marked_.size(); }

 private:
  struct Waiter {
    int remaining = 0;
    std::function<void()> ready;
  };
  struct Wait {
    Ticket threshold;  // satisfied once no holder <= threshold remains
    std::shared_ptr<Waiter> waiter;
  };
  static constexpr Ticket kNone = std::numeric_limits<Ticket>::max();
  // Registers a wait for the holders up to `max_held` (kNone: nothing held).
  static void WaitOn(std::vector<Wait>& waits, Ticket max_held, std::shared_ptr<Waiter>& w);
  // Wakes the waits now satisfied, the oldest holder left being `min_held`
  // (kNone: none); appends their ready callbacks.
  static void Wake(std::vector<Wait>& waits, Ticket min_held, std::vector<std::function<void()>>* ready);

  // The tickets holding one lock, in ascending order, and the reads waiting
  // for some of them. A key is rarely held by more than a couple of writes at
  // once, so its holders live inline; the keyspace-wide set uses a btree.
  template <typename TicketSet>
  struct Holders {
    TicketSet tickets;
    std::vector<Wait> waits;
    Ticket min() const { return tickets.empty() ? kNone : *tickets.begin(); }
    Ticket max() const { return tickets.empty() ? kNone : *tickets.rbegin(); }
  };
  struct TicketState {
    absl::InlinedVector<KeyId, 2> keys;
    bool all = false;
    bool live = false;
  };
  // Ticket `t`'s state while it is live, else nullptr.
  TicketState* Live(Ticket t);

  // Tickets are issued in order and mostly end in order: every ticket from
  // first_ to next_ - 1 has a cell here, the front one is live (or the
  // window is empty), and ended ones behind a live one wait for it. This
  // replaces a map of tickets and a set of the live ones: the oldest live
  // ticket, which barriers wait for, is first_.
  RingQueue<TicketState> window_;
  Ticket first_ = 1;
  Ticket next_ = 1;
  size_t live_count_ = 0;
  std::vector<Wait> barrier_waits_;
  absl::flat_hash_map<KeyId, Holders<absl::InlinedVector<Ticket, 2>>> keys_;
  Holders<absl::btree_set<Ticket>> all_;  // holders of the whole keyspace
  absl::flat_hash_map<KeyId, int> marked_;
  int marked_total_ = 0;
};

}  // namespace node
