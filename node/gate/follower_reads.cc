#include "node/gate/follower_reads.h"

namespace node::gate {

FollowerReadQueue::ReadId FollowerReadQueue::Arrive() {
  const ReadId id = next_id_++;
  reads_.push_back(Read{id, std::nullopt});
  return id;
}

bool FollowerReadQueue::WantsRound() const {
  return !skip_wait_ && !round_in_flight_ && !reads_.empty() && reads_.back().id >= confirmed_below_;
}

uint64_t FollowerReadQueue::StartRound() {
  round_in_flight_ = true;
  round_stamp_ = next_id_;  // covers every read that arrived so far
  return round_stamp_;
}

void FollowerReadQueue::Failed(uint64_t stamp) {
  if (stamp == round_stamp_) round_in_flight_ = false;
}

void FollowerReadQueue::Confirmed(uint64_t stamp, uint64_t index) {
  if (stamp == round_stamp_) round_in_flight_ = false;
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
  round_in_flight_ = false;
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
