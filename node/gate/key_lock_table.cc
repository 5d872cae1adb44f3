#include "node/gate/key_lock_table.h"

#include <algorithm>

namespace node {

KeyLockTable::Ticket KeyLockTable::Begin() {
  Ticket t = next_++;
  tickets_[t];
  live_.tickets.insert(live_.tickets.end(), t);
  return t;
}

void KeyLockTable::Lock(Ticket t, KeyId key) {
  auto& held = keys_[key].tickets;
  auto pos = std::lower_bound(held.begin(), held.end(), t);
  if (pos != held.end() && *pos == t) return;
  held.insert(pos, t);
  tickets_[t].keys.push_back(key);
}

void KeyLockTable::LockAll(Ticket t) {
  all_.tickets.insert(t);
  tickets_[t].all = true;
}

void KeyLockTable::Mark(KeyId key) {
  ++marked_[key];
  ++marked_total_;
}

void KeyLockTable::Unmark(KeyId key) {
  auto it = marked_.find(key);
  if (it == marked_.end()) return;
  --marked_total_;
  if (--it->second == 0) marked_.erase(it);
}

bool KeyLockTable::AnyMarked(std::span<const KeyId> keys) const {
  if (marked_total_ == 0) return false;
  for (KeyId k : keys) {
    if (marked_.contains(k)) return true;
  }
  return false;
}

template <typename H>
void KeyLockTable::Wake(H& h, std::vector<std::function<void()>>* ready) {
  auto& waits = h.waits;
  for (size_t i = 0; i < waits.size();) {
    if (h.tickets.empty() || *h.tickets.begin() > waits[i].threshold) {
      if (--waits[i].waiter->remaining == 0) ready->push_back(std::move(waits[i].waiter->ready));
      waits[i] = std::move(waits.back());
      waits.pop_back();
    } else {
      ++i;
    }
  }
}

void KeyLockTable::Release(Ticket t) {
  auto it = tickets_.find(t);
  if (it == tickets_.end()) return;
  TicketState state = std::move(it->second);
  tickets_.erase(it);
  std::vector<std::function<void()>> ready;
  for (KeyId k : state.keys) {
    auto kit = keys_.find(k);
    if (kit == keys_.end()) continue;
    auto& held = kit->second.tickets;
    held.erase(std::remove(held.begin(), held.end(), t), held.end());
    Wake(kit->second, &ready);
    if (held.empty() && kit->second.waits.empty()) keys_.erase(kit);
  }
  if (state.all) {
    all_.tickets.erase(t);
    Wake(all_, &ready);
  }
  live_.tickets.erase(t);
  Wake(live_, &ready);
  // Callbacks run last: they may call back into the table.
  for (auto& r : ready) r();
}

template <typename H>
void KeyLockTable::WaitOn(H& h, std::shared_ptr<Waiter>& w) {
  if (h.tickets.empty()) return;
  if (w == nullptr) w = std::make_shared<Waiter>();
  ++w->remaining;
  h.waits.push_back(Wait{*h.tickets.rbegin(), w});
}

bool KeyLockTable::WaitClear(std::span<const KeyId> keys, bool barrier,
                             std::function<void()> ready) {
  std::shared_ptr<Waiter> w;  // made only if there is something to wait for
  if (barrier) {
    WaitOn(live_, w);
  } else {
    WaitOn(all_, w);
    for (KeyId k : keys) {
      auto it = keys_.find(k);
      if (it != keys_.end()) WaitOn(it->second, w);
    }
  }
  if (w == nullptr) return true;
  w->ready = std::move(ready);
  return false;
}

}  // namespace node
