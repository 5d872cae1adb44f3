#include "consensus/quorum.h"

#include <algorithm>
#include <functional>

#include "absl/container/inlined_vector.h"

namespace consensus {

uint64_t MajorityConfig::CommittedIndex(
    absl::FunctionRef<std::optional<uint64_t>(uint64_t)> acked) const {
  if (ids_.empty()) return 0;
  absl::InlinedVector<uint64_t, 7> idx;
  for (uint64_t id : ids_) idx.push_back(acked(id).value_or(0));
  // The (n/2+1)-th largest value is acknowledged by a majority.
  size_t q = ids_.size() / 2;
  std::nth_element(idx.begin(), idx.begin() + q, idx.end(), std::greater<uint64_t>());
  return idx[q];
}

VoteResult MajorityConfig::Vote(absl::FunctionRef<std::optional<bool>(uint64_t)> vote) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t granted = 0, missing = 0;
  for (uint64_t id : ids_) {
    std::optional<bool> v = vote(id);
    if (!v) {
      ++missing;
    } else if (*v) {
      ++granted;
    }
  }
  size_t q = ids_.size() / 2 + 1;
  if (granted >= q) return VoteResult::kWon;
  if (granted + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

}  // namespace consensus
