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
#include <memory>
#include <span>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"

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

  size_t live_tickets() const { return live_.tickets.size(); }
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
  // The tickets holding one lock, in ascending order, and the reads waiting
  // for some of them. A key is rarely held by more than a couple of writes at
  // once, so its holders live inline; the keyspace-wide sets use a btree.
  template <typename TicketSet>
  struct Holders {
    TicketSet tickets;
    std::vector<Wait> waits;
  };
  using KeyHolders = Holders<absl::InlinedVector<Ticket, 2>>;
  using SetHolders = Holders<absl::btree_set<Ticket>>;
  struct TicketState {
    absl::InlinedVector<KeyId, 2> keys;
    bool all = false;
  };

  // Registers a wait on `h` if a holder <= its current maximum exists.
  template <typename H>
  static void WaitOn(H& h, std::shared_ptr<Waiter>& w);
  // Wakes the waits of `h` that are now satisfied; appends ready callbacks.
  template <typename H>
  static void Wake(H& h, std::vector<std::function<void()>>* ready);

  Ticket next_ = 1;
  absl::flat_hash_map<Ticket, TicketState> tickets_;
  absl::flat_hash_map<KeyId, KeyHolders> keys_;
  SetHolders all_;   // holders of the whole keyspace
  SetHolders live_;  // every live ticket, for barriers
  absl::flat_hash_map<KeyId, int> marked_;
  int marked_total_ = 0;
};

}  // namespace node
