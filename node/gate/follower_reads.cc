#include "node/gate/follower_reads.h"

#include <algorithm>

namespace node::gate {

FollowerReadQueue::ReadId FollowerReadQueue::Arrive() {
  const ReadId id = next_id_++;
  reads_.push_back(Read{id, std::nullopt, std::nullopt});
  ++unsent_;
  return id;
}

FollowerReadQueue::ReadId FollowerReadQueue::ArriveEarly() {
  const ReadId id = next_id_++;
  reads_.push_back(Read{id, std::nullopt, applied_});
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

void FollowerReadQueue::Unsent(ReadId id) {
  for (Read& r : reads_) {
    if (r.id < id || !r.ran_at) continue;
    r.ran_at.reset();
    ++unsent_;
  }
}

void FollowerReadQueue::VoidEarlyFrom(std::deque<Read>::iterator from) {
  for (auto it = from; it != reads_.end(); ++it) {
    if (!it->ran_at) continue;
    voided_.push_back(it->id);
    it->ran_at.reset();
    ++unsent_;
  }
}

void FollowerReadQueue::Confirmed(uint64_t stamp, uint64_t index) {
  while (!in_flight_.empty() && in_flight_.front() <= stamp) in_flight_.pop_front();
  if (stamp <= confirmed_below_) return;  // a later round confirmed these already
  confirmed_below_ = stamp;
  auto first_void = reads_.end();
  bool stood = false;
  for (auto it = reads_.begin(); it != reads_.end() && it->id < stamp; ++it) {
    if (it->index) continue;
    it->index = index;
    if (first_void != reads_.end() || !it->ran_at) continue;
    if (*it->ran_at < index) {
      first_void = it;
    } else {
      stood = true;
    }
  }
  const bool voided = first_void != reads_.end();
  if (voided) VoidEarlyFrom(first_void);
  // Early runs pay off while the child keeps up with the leader's commits. A
  // void says writes are flowing: the next tries wait for more rounds that
  // find the child caught up, twice as many after each void in a row.
  if (voided) {
    early_backoff_ = std::min(std::max<size_t>(1, early_backoff_ * 2), kMaxEarlyBackoff);
    early_skip_ = early_backoff_;
  } else if (stood) {
    early_backoff_ = 0;
  }
  if (voided || index > applied_) {
    early_runs_ = false;
  } else if (early_skip_ > 0) {
    --early_skip_;
  } else {
    early_runs_ = true;
  }
}

std::vector<FollowerReadQueue::Ready> FollowerReadQueue::TakeReady() {
  std::vector<Ready> ready;
  while (!reads_.empty()) {
    const Read& r = reads_.front();
    const bool early = r.index && r.ran_at && *r.index <= *r.ran_at;
    if (!skip_wait_ && !early && !(r.index && *r.index <= applied_)) break;
    ready.push_back(Ready{r.id, r.index.value_or(0), early});
    if (!r.ran_at) --unsent_;
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
  voided_.clear();
  unsent_ = 0;
  confirmed_below_ = next_id_;
  return all;
}

std::vector<FollowerReadQueue::Dropped> FollowerReadQueue::DropBefore(ReadId id) {
  std::vector<Dropped> dropped;
  while (!reads_.empty() && reads_.front().id < id) {
    const Read& r = reads_.front();
    dropped.push_back(Dropped{r.id, r.index});
    if (!r.ran_at) --unsent_;
    reads_.pop_front();
  }
  return dropped;
}

}  // namespace node::gate
