#include "node/gate/follower_reads.h"

#include <algorithm>

namespace node::gate {

FollowerReadQueue::ReadId FollowerReadQueue::Arrive() {
  const ReadId id = next_id_++;
  reads_.push_back(Read{id, std::nullopt});
  return id;
}

bool FollowerReadQueue::WantsRound() const {
  if (skip_wait_ || in_flight_.size() >= kMaxRounds || reads_.empty()) return false;
  const ReadId newest = reads_.back().id;
  return newest >= confirmed_below_ && (in_flight_.empty() || newest >= in_flight_.back());
}

uint64_t FollowerReadQueue::StartRound() {
  in_flight_.push_back(next_id_);  // covers every read that arrived so far
  return next_id_;
}

bool FollowerReadQueue::in_flight(uint64_t stamp) const {
  return std::find(in_flight_.begin(), in_flight_.end(), stamp) != in_flight_.end();
}

void FollowerReadQueue::Failed(uint64_t stamp) { std::erase(in_flight_, stamp); }

void FollowerReadQueue::Confirmed(uint64_t stamp, uint64_t index) {
  while (!in_flight_.empty() && in_flight_.front() <= stamp) in_flight_.pop_front();
  if (stamp <= confirmed_below_) return;  // a later round confirmed these already
  confirmed_below_ = stamp;
  for (Read& r : reads_) {
    if (r.id >= stamp) break;
    if (!r.index) r.index = index;
  }
}

std::vector<std::pair<FollowerReadQueue::ReadId, uint64_t>> FollowerReadQueue::TakeReady() {
  std::vector<std::pair<ReadId, uint64_t>> ready;
  while (!reads_.empty()) {
    const Read& r = reads_.front();
    if (!skip_wait_ && !(r.index && *r.index <= applied_)) break;
    ready.emplace_back(r.id, r.index.value_or(0));
    reads_.pop_front();
  }
  return ready;
}

std::vector<FollowerReadQueue::ReadId> FollowerReadQueue::Clear() {
  std::vector<ReadId> all;
  all.reserve(reads_.size());
  for (const Read& r : reads_) all.push_back(r.id);
  reads_.clear();
  in_flight_.clear();
  confirmed_below_ = next_id_;
  return all;
}

std::vector<FollowerReadQueue::ReadId> FollowerReadQueue::DropUnconfirmedBefore(ReadId id) {
  std::vector<ReadId> dropped;
  std::erase_if(reads_, [&](const Read& r) {
    if (r.id >= id || r.index) return false;
    dropped.push_back(r.id);
    return true;
  });
  return dropped;
}

}  // namespace node::gate
