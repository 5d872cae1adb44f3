#include "node/gate/key_lock_table.h"

#include <algorithm>

namespace node {

KeyLockTable::TicketState* KeyLockTable::Live(Ticket t) {
  if (t < first_ || t >= next_) return nullptr;
  TicketState& st = window_[t - first_];
  return st.live ? &st : nullptr;
}

KeyLockTable::Ticket KeyLockTable::Begin() {
  if (window_.empty()) first_ = next_;
  window_.emplace_back().live = true;
  ++live_count_;
  return next_++;
}

void KeyLockTable::Lock(Ticket t, KeyId key) {
  TicketState* st = Live(t);
  if (st == nullptr) return;
  auto& held = keys_[key].tickets;
  auto pos = std::lower_bound(held.begin(), held.end(), t);
  if (pos != held.end() && *pos == t) return;
  held.insert(pos, t);
  st->keys.push_back(key);
}

void KeyLockTable::LockAll(Ticket t) {
  TicketState* st = Live(t);
  if (st == nullptr) return;
  all_.tickets.insert(t);
  st->all = true;
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

void KeyLockTable::Wake(std::vector<Wait>& waits, Ticket min_held, std::vector<std::function<void()>>* ready) {
  for (size_t i = 0; i < waits.size();) {
    if (min_held == kNone || min_held > waits[i].threshold) {
      if (--waits[i].waiter->remaining == 0) ready->push_back(std::move(waits[i].waiter->ready));
      waits[i] = std::move(waits.back());
      waits.pop_back();
    } else {
      ++i;
    }
  }
}

void KeyLockTable::Release(Ticket t) {
  TicketState* st = Live(t);
  if (st == nullptr) return;
  TicketState state = std::move(*st);
  *st = TicketState{};  // ended: it leaves the window once the ones before it did
  --live_count_;
  std::vector<std::function<void()>> ready;
  for (KeyId k : state.keys) {
    auto kit = keys_.find(k);
    if (kit == keys_.end()) continue;
    auto& held = kit->second.tickets;
    held.erase(std::remove(held.begin(), held.end(), t), held.end());
    Wake(kit->second.waits, kit->second.min(), &ready);
    if (held.empty() && kit->second.waits.empty()) keys_.erase(kit);
  }
  if (state.all) {
    all_.tickets.erase(t);
    Wake(all_.waits, all_.min(), &ready);
  }
  while (!window_.empty() && !window_.front().live) {
    window_.pop_front();
    ++first_;
  }
  if (!barrier_waits_.empty()) Wake(barrier_waits_, window_.empty() ? kNone : first_, &ready);
  // Callbacks run last: they may call back into the table.
  for (auto& r : ready) r();
}

void KeyLockTable::WaitOn(std::vector<Wait>& waits, Ticket max_held, std::shared_ptr<Waiter>& w) {
  if (max_held == kNone) return;
  if (w == nullptr) w = std::make_shared<Waiter>();
  ++w->remaining;
  waits.push_back(Wait{max_held, w});
}

bool KeyLockTable::WaitClear(std::span<const KeyId> keys, bool barrier,
                             std::function<void()> ready) {
  std::shared_ptr<Waiter> w;  // made only if there is something to wait for
  if (barrier) {
    // Every ticket issued so far: those after the last live one have ended.
    WaitOn(barrier_waits_, live_count_ == 0 ? kNone : next_ - 1, w);
  } else {
    WaitOn(all_.waits, all_.max(), w);
    for (KeyId k : keys) {
      auto it = keys_.find(k);
      if (it != keys_.end()) WaitOn(it->second.waits, it->second.max(), w);
    }
  }
  if (w == nullptr) return true;
  w->ready = std::move(ready);
  return false;
}

}  // namespace node
