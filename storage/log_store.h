// The durable log: entries by index (each with its term and opaque payload) and a
// few named metadata records (hard state, membership, snapshot metadata), all
// written together in one atomic, optionally synced, batch.
//
// Two implementations keep the same contract: RocksLogStore (RocksDB, for the
// node) and MemoryLogStore (for unit tests). The store knows nothing of Raft or
// Redis; consensus/ and node/ give the payloads and metadata their meaning.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace storage {

struct LogEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string data;
};

// One atomic update: entries to append (contiguous indexes; any stored entry at
// or after the first one is replaced, as Raft's log truncation requires) and
// metadata records to set (an empty optional deletes the record).
struct LogWrite {
  // Applied first, in the same atomic write: drop entries <= compact_to (a
  // snapshot covers them), as CompactTo. The snapshot's metadata goes in the
  // same write, so a crash never leaves a compacted log without it.
  std::optional<uint64_t> compact_to;
  // Applied first as well, instead of compact_to: every entry is dropped,
  // and the log continues after reset_to (a snapshot that replaces the whole
  // log, as one from the leader does: the entries after it belong to a
  // history it does not continue). Entries of this write start at reset_to + 1.
  std::optional<uint64_t> reset_to;
  std::vector<LogEntry> entries;
  std::map<std::string, std::optional<std::string>> meta;
  // fsync before Write() returns. Only MemoryLogStore heeds false (its sync
  // hook does not run); the RocksDB store syncs every write.
  bool sync = true;
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Applies `w` atomically. When w.sync (always, for RocksDB), the data is on
  // disk when this returns.
  virtual absl::Status Write(const LogWrite& w) = 0;

  // Entries [lo, hi), stopping early once max_bytes of payload were returned
  // (at least one entry is returned when lo < hi). Fails if lo is compacted away
  // or hi > LastIndex()+1.
  virtual absl::StatusOr<std::vector<LogEntry>> Read(uint64_t lo, uint64_t hi,
                                                     size_t max_bytes = SIZE_MAX) const = 0;

  // Index of the first stored entry (LastIndex()+1 when empty), and of the last
  // (the compaction point when empty, 0 for a new store).
  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;

  // Drops entries with index <= upto (after a snapshot covers them); synced
  // by the RocksDB store like every write. `upto` may lie past the last entry
  // (a snapshot newer than the whole log): the log is then empty and
  // continues after `upto`.
  virtual absl::Status CompactTo(uint64_t upto) = 0;
  // Gives the disk space of dropped entries back (may take a while: call it
  // off the write path). Safe to call concurrently with everything else.
  virtual absl::Status ReclaimSpace() = 0;

  // The record, nullopt if it does not exist; an error if it cannot be read
  // (never taken for "absent").
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(const std::string& key) const = 0;
};

// A store in memory. The sync hook, when set, runs inside every synced Write()
// before it returns: tests use it to delay or observe fsyncs.
class MemoryLogStore : public LogStore {
 public:
  absl::Status Write(const LogWrite& w) override;
  absl::StatusOr<std::vector<LogEntry>> Read(uint64_t lo, uint64_t hi,
                                             size_t max_bytes) const override;
  uint64_t FirstIndex() const override { return first_; }
  uint64_t LastIndex() const override { return first_ + entries_.size() - 1; }
  absl::Status CompactTo(uint64_t upto) override;
  absl::Status ReclaimSpace() override { return absl::OkStatus(); }
  absl::StatusOr<std::optional<std::string>> GetMeta(const std::string& key) const override;

  void SetSyncHook(std::function<void()> hook) { sync_hook_ = std::move(hook); }

 private:
  uint64_t first_ = 1;
  std::vector<LogEntry> entries_;  // entries_[i].index == first_ + i
  std::map<std::string, std::string> meta_;
  std::function<void()> sync_hook_;
};

// What RocksDB itself reports at warning level and above (a failed write of a
// background flush, a full disk): `error` for its errors, false for warnings.
// Called from RocksDB's threads too. RocksDB then keeps no LOG file of its
// own, so nothing it says needs a disk that may be full.
using StoreMessageSink = std::function<void(bool error, std::string_view message)>;

// The descriptors the RocksDB store keeps open at most (its table files, its
// WAL and MANIFEST). Unbounded (RocksDB's default), it kept every table file
// open, their number grew with the log, and a node whose descriptors its
// clients had taken up to the limit exited on a log write ("Too many open
// files"). The node counts these in its own budget (kNodeFiles).
inline constexpr int kLogStoreMaxOpenFiles = 40;

// The memory the store's memtables take at most (two of 64 MiB, RocksDB's
// defaults, set explicitly), allocated again each time one fills: freed
// memory the node keeps for reuse (ReplicatedLogOptions::keep_free_bytes).
inline constexpr uint64_t kLogStoreMemtableBytes = 64ULL << 20;
inline constexpr int kLogStoreMemtables = 2;

// Opens (creating if needed) the RocksDB store in `dir`; RocksDB's messages go
// to `messages` (none are kept when it is empty).
absl::StatusOr<std::unique_ptr<LogStore>> OpenRocksLogStore(const std::string& dir, StoreMessageSink messages = {});

// Applies the common checks of LogWrite (contiguous entries, within the log
// as the write's compaction or reset leaves it) for both stores.
absl::Status ValidateLogWrite(const LogWrite& w, uint64_t first_index, uint64_t last_index);

}  // namespace storage
