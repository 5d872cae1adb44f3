#include "node/gate/key_lock_table.h"

namespace node {

KeyLockTable::Ticket KeyLockTable::Begin() {
  Ticket t = next_++;
  tickets_[t];
  live_set_.tickets.insert(t);
  return t;
}

void KeyLockTable::Lock(Ticket t, std::string key) {
  Holders& h = keys_[key];
  if (h.tickets.insert(t).second) tickets_[t].keys.push_back(std::move(key));
}

void KeyLockTable::LockAll(Ticket t) {
  all_.tickets.insert(t);
  tickets_[t].all = true;
}

void KeyLockTable::Mark(std::string_view key) {
  ++marked_[std::string(key)];
  ++marked_total_;
}

void KeyLockTable::Unmark(std::string_view key) {
  auto it = marked_.find(std::string(key));
  if (it == marked_.end()) return;
  --marked_total_;
  if (--it->second == 0) marked_.erase(it);
}

bool KeyLockTable::AnyMarked(std::span<const std::string> keys) const {
  if (marked_total_ == 0) return false;
  for (const auto& k : keys) {
    if (marked_.contains(k)) return true;
  }
  return false;
}

void KeyLockTable::Wake(Holders& h, std::vector<std::function<void()>>* ready) {
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
  for (const std::string& k : state.keys) {
    auto kit = keys_.find(k);
    if (kit == keys_.end()) continue;
    kit->second.tickets.erase(t);
    Wake(kit->second, &ready);
    if (kit->second.tickets.empty() && kit->second.waits.empty()) keys_.erase(kit);
  }
  if (state.all) {
    all_.tickets.erase(t);
    Wake(all_, &ready);
  }
  live_set_.tickets.erase(t);
  Wake(live_set_, &ready);
  // Callbacks run last: they may call back into the table.
  for (auto& r : ready) r();
}

void KeyLockTable::WaitOn(Holders& h, const std::shared_ptr<Waiter>& w) {
  if (h.tickets.empty()) return;
  ++w->remaining;
  h.waits.push_back(Wait{*h.tickets.rbegin(), w});
}

bool KeyLockTable::WaitClear(std::span<const std::string> keys, bool barrier,
                             std::function<void()> ready) {
  auto w = std::make_shared<Waiter>();
  if (barrier) {
    WaitOn(live_set_, w);
  } else {
    WaitOn(all_, w);
    for (const auto& k : keys) {
      auto it = keys_.find(k);
      if (it != keys_.end()) WaitOn(it->second, w);
    }
  }
  if (w->remaining == 0) return true;
  w->ready = std::move(ready);
  return false;
}

}  // namespace node
