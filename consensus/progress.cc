#include "consensus/progress.h"

#include <algorithm>

namespace consensus {

const char* ProgressStateName(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "?";
}

void Inflights::FreeLE(uint64_t index) {
  while (!window_.empty() && window_.front().first <= index) FreeFirstOne();
}

void Inflights::FreeFirstOne() {
  if (window_.empty()) return;
  bytes_ -= window_.front().second;
  window_.pop_front();
}

void Progress::BecomeProbe() {
  // After a snapshot the follower has at least the snapshot; start past it.
  if (state == ProgressState::kSnapshot) {
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t hint) {
  if (state == ProgressState::kReplicate) {
    // Appends at or below match were accepted before: this answer is stale.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe only the answer to the latest probe counts.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::SentEntries(size_t count, uint64_t last_index, uint64_t bytes, uint64_t now) {
  switch (state) {
    case ProgressState::kReplicate:
      if (count > 0) {
        next = last_index + 1;
        if (inflights.Count() == 0) unanswered_since = now;
        inflights.Add(last_index, bytes);
      }
      break;
    case ProgressState::kProbe:
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      break;
  }
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflights.Full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

void ProgressTracker::Reset(const pb::ConfState& cs, uint64_t next_index) {
  voters_ = MajorityConfig();
  learners_.clear();
  absl::btree_map<uint64_t, Progress> old = std::move(progress_);
  progress_.clear();
  auto keep = [&](uint64_t id, bool learner) {
    auto it = old.find(id);
    if (it != old.end()) {
      it->second.is_learner = learner;
      progress_.emplace(id, std::move(it->second));
    } else {
      Progress pr(max_inflight_);
      pr.next = next_index;
      pr.is_learner = learner;
      progress_.emplace(id, std::move(pr));
    }
  };
  for (uint64_t id : cs.voters()) {
    voters_.mutable_ids().insert(id);
    keep(id, false);
  }
  for (uint64_t id : cs.learners()) {
    if (voters_.Contains(id)) continue;
    learners_.insert(id);
    keep(id, true);
  }
}

void ProgressTracker::AddVoter(uint64_t id, uint64_t next_index) {
  learners_.erase(id);
  voters_.mutable_ids().insert(id);
  auto it = progress_.find(id);
  if (it != progress_.end()) {
    it->second.is_learner = false;
    return;
  }
  Progress pr(max_inflight_);
  pr.next = next_index;
  // A new member may need a snapshot at once.
  pr.recent_active = true;
  progress_.emplace(id, std::move(pr));
}

void ProgressTracker::AddLearner(uint64_t id, uint64_t next_index) {
  voters_.mutable_ids().erase(id);
  learners_.insert(id);
  auto it = progress_.find(id);
  if (it != progress_.end()) {
    it->second.is_learner = true;
    return;
  }
  Progress pr(max_inflight_);
  pr.next = next_index;
  pr.is_learner = true;
  pr.recent_active = true;
  progress_.emplace(id, std::move(pr));
}

void ProgressTracker::Remove(uint64_t id) {
  voters_.mutable_ids().erase(id);
  learners_.erase(id);
  progress_.erase(id);
}

Progress* ProgressTracker::Get(uint64_t id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::Get(uint64_t id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

pb::ConfState ProgressTracker::ConfState() const {
  pb::ConfState cs;
  for (uint64_t id : voters_.ids()) cs.add_voters(id);
  for (uint64_t id : learners_) cs.add_learners(id);
  return cs;
}

uint64_t ProgressTracker::Committed() const {
  return voters_.CommittedIndex([this](uint64_t id) -> std::optional<uint64_t> {
    const Progress* pr = Get(id);
    if (pr == nullptr) return std::nullopt;
    return pr->match;
  });
}

uint64_t ProgressTracker::QuorumLeaseAck(uint64_t self, uint64_t now, const absl::btree_set<uint64_t>& not_counted) const {
  return voters_.CommittedIndex([&](uint64_t id) -> std::optional<uint64_t> {
    if (id == self) return now;
    const Progress* pr = Get(id);
    if (pr == nullptr) return std::nullopt;
    return not_counted.contains(id) ? 0 : pr->lease_ack;
  });
}

bool ProgressTracker::QuorumActive(uint64_t self) const {
  return voters_.Vote([&](uint64_t id) -> std::optional<bool> {
           if (id == self) return true;
           const Progress* pr = Get(id);
           return pr != nullptr && pr->recent_active;
         }) == VoteResult::kWon;
}

VoteResult ProgressTracker::TallyVotes() const {
  return voters_.Vote([this](uint64_t id) -> std::optional<bool> {
    auto it = votes_.find(id);
    if (it == votes_.end()) return std::nullopt;
    return it->second;
  });
}

}  // namespace consensus
