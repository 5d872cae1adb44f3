// Key locks that make reads wait for uncommitted writes (shared/DESIGN.md, "The
// write path"). A write takes a ticket and locks its keys before it is forwarded
// to the child; the locks drop when its effects commit. Writes never wait for a
// lock. A read, once its reply arrived, waits only for the writes that held its
// keys at that moment (later writes cannot have been observed by it), so a hot
// key cannot starve its readers.
//
// Keys are namespaced by the caller (db number + key). Single-threaded: all calls
// come from the node's event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"

namespace node {

class KeyLockTable {
 public:
  using Ticket = uint64_t;

  // A new ticket, larger than every earlier one. A ticket that holds no lock
  // still counts for Barrier() until Release().
  Ticket Begin();
  void Lock(Ticket t, std::string key);
  // Locks every key (scripts, FLUSHALL, keyless writes).
  void LockAll(Ticket t);
  // A blocking write may take effect at any moment while it waits in the child;
  // its keys are marked until Unmark() (after its effects commit), and readers
  // of a marked key must use an offset barrier instead of these locks.
  void Mark(std::string_view key);
  void Unmark(std::string_view key);
  bool AnyMarked(std::span<const std::string> keys) const;
  bool AnyMarked() const { return marked_total_ > 0; }

  // Drops every lock of `t`, waking readers whose wait is over.
  void Release(Ticket t);

  // Calls `ready` once no write that holds one of `keys`, or the whole keyspace,
  // at this moment still holds it; with `barrier`, once no ticket issued so far
  // is still live. Returns true (and does not keep `ready`) if that is already so.
  bool WaitClear(std::span<const std::string> keys, bool barrier, std::function<void()> ready);

  size_t live_tickets() const { return live_set_.tickets.size(); }
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
  struct Holders {
    absl::btree_set<Ticket> tickets;
    std::vector<Wait> waits;
  };
  struct TicketState {
    std::vector<std::string> keys;
    bool all = false;
  };

  // Registers a wait on `h` if a holder <= its current maximum exists.
  void WaitOn(Holders& h, const std::shared_ptr<Waiter>& w);
  // Wakes the waits of `h` that are now satisfied; appends ready callbacks.
  static void Wake(Holders& h, std::vector<std::function<void()>>* ready);

  Ticket next_ = 1;
  absl::flat_hash_map<Ticket, TicketState> tickets_;
  absl::flat_hash_map<std::string, Holders> keys_;
  Holders all_;   // holders of the whole keyspace
  Holders live_set_;  // every live ticket, for barriers
  absl::flat_hash_map<std::string, int> marked_;
  int marked_total_ = 0;
};

}  // namespace node
