// A test host for one Raft core: MemoryStorage as its disk, a list of applied
// payloads as its state machine, and the host loop of raft.h done by the
// book, reporting everything to a shared InvariantChecker. Used by the
// scenario tests and the randomized simulation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "consensus/invariants.h"
#include "consensus/memory_storage.h"
#include "consensus/raft.h"

namespace consensus::testing {

class NodeHost {
 public:
  // `voters` non-empty: a founding member, bootstrapped with them. Empty: a
  // node that joins an existing cluster later.
  NodeHost(uint64_t id, const std::vector<uint64_t>& voters, const Config& base,
           InvariantChecker* checker);

  // (Re)creates the core from what storage holds; the state machine restarts
  // from the stored snapshot.
  absl::Status Start();
  // Loses everything not persisted (the core, a Ready in progress).
  void Crash();
  bool up() const { return raft_ != nullptr; }

  // Takes the next Ready if there is one and none is in progress. Returns the
  // messages that may leave before persisting (SendableBeforeWrite, and
  // snapshots); the rest leave with FinishReady.
  std::optional<std::vector<pb::Message>> BeginReady();
  // While a Ready is in progress: what the core lets go before it is
  // persisted (Raft::TakeUnblocked); committed entries are applied and read
  // states answered at once.
  absl::StatusOr<std::vector<pb::Message>> TakeUnblocked();
  bool ready_in_progress() const { return pending_.has_value(); }
  // Persists, applies and advances the Ready in progress; returns the
  // remaining messages.
  absl::StatusOr<std::vector<pb::Message>> FinishReady();
  // BeginReady + FinishReady until there is nothing left; all messages.
  absl::StatusOr<std::vector<pb::Message>> DrainReady();

  // Host-side snapshot of the state machine at the applied index, then
  // compaction that keeps the last `keep` entries.
  absl::Status SnapshotAndCompact(uint64_t keep);

  // Asks for a linearizable read; the answer lands in read_results().
  absl::Status ReadIndex();

  Raft& raft() { return *raft_; }
  const Raft& raft() const { return *raft_; }
  uint64_t id() const { return id_; }
  MemoryStorage& storage() { return *storage_; }
  const std::vector<std::string>& applied_data() const { return data_; }
  uint64_t applied() const { return applied_; }
  const pb::ConfState& conf() const { return conf_; }
  // (context, index) of every read answered.
  const std::vector<ReadState>& read_results() const { return read_results_; }
  Config& config() { return config_; }

 private:
  absl::Status Persist(const Ready& rd);
  absl::Status Apply(const Ready& rd);
  // Committed entries (durable here already), from a Ready or TakeUnblocked.
  absl::Status ApplyCommitted(const std::vector<pb::Entry>& entries);
  absl::Status ObserveReads(const std::vector<ReadState>& states);
  void RestoreStateMachine(const pb::Snapshot& snap);

  uint64_t id_;
  Config config_;
  InvariantChecker* checker_;
  std::unique_ptr<MemoryStorage> storage_;
  std::unique_ptr<Raft> raft_;
  std::optional<Ready> pending_;
  absl::Status applied_early_;  // of the pending Ready's committed entries

  // The state machine: every non-empty normal payload, in order.
  std::vector<std::string> data_;
  uint64_t applied_ = 0;
  pb::ConfState conf_;

  uint64_t next_read_ = 0;
  absl::flat_hash_map<std::string, uint64_t> read_floor_;
  std::vector<ReadState> read_results_;
};

}  // namespace consensus::testing
