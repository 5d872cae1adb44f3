// Majority arithmetic over a set of voters: which index a majority has
// acknowledged, and whether a vote is won, lost or still open.
//
// One configuration at a time is enough: membership changes one voter at a
// time (see raft.h), so any two consecutive configurations have overlapping
// majorities and no joint quorum is ever needed.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/container/btree_set.h"
#include "absl/functional/function_ref.h"

namespace consensus {

enum class VoteResult { kPending, kLost, kWon };

class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(absl::btree_set<uint64_t> ids) : ids_(std::move(ids)) {}

  // The largest index that a majority has acknowledged, given each voter's
  // acknowledged index (nullopt counts as 0). 0 for an empty config.
  uint64_t CommittedIndex(absl::FunctionRef<std::optional<uint64_t>(uint64_t)> acked) const;

  // Outcome of a vote given each voter's answer (nullopt = no answer yet).
  // An empty config wins (there is nobody to ask).
  VoteResult Vote(absl::FunctionRef<std::optional<bool>(uint64_t)> vote) const;

  const absl::btree_set<uint64_t>& ids() const { return ids_; }
  absl::btree_set<uint64_t>& mutable_ids() { return ids_; }
  bool Contains(uint64_t id) const { return ids_.contains(id); }
  size_t size() const { return ids_.size(); }

 private:
  absl::btree_set<uint64_t> ids_;
};

}  // namespace consensus
