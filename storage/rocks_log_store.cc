// RocksDB layout (one column family, key prefixes):
//   'e' + big-endian index (8 bytes)  -> big-endian term (8 bytes) + payload
//   'm' + name                        -> metadata record
//   'c'                               -> big-endian first index (after compaction)
// Fixed-width big-endian keys keep entries in index order for range scans.
#include <endian.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "storage/log_store.h"
#include "storage/wal_prewrite.h"

namespace storage {
namespace {

void StoreBe64(char* p, uint64_t v) {
  v = htobe64(v);
  std::memcpy(p, &v, 8);
}

uint64_t Be64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return be64toh(v);
}

std::string EntryKey(uint64_t index) {
  std::string key(9, 'e');
  StoreBe64(key.data() + 1, index);
  return key;
}

// Every write is synced, whatever LogWrite::sync says: the WAL files are
// prewritten with zeros (storage/wal_prewrite.h), which is safe only while no
// two records wait for a sync at once.
rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions o;
  o.sync = true;
  return o;
}

// RocksDB's own messages from warnings up, handed to the sink; the rest (and
// the version header it writes at open) dropped. In place of its LOG file:
// at open on a full disk, RocksDB's writer of that file failed an assertion
// on its second line, aborting the node before it could say why.
class SinkLogger : public rocksdb::Logger {
 public:
  explicit SinkLogger(StoreMessageSink sink)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), sink_(std::move(sink)) {}
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (!sink_ || level < GetInfoLogLevel() || level >= rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char text[1024];
    const int n = std::vsnprintf(text, sizeof text, format, ap);
    if (n < 0) return;
    sink_(level >= rocksdb::InfoLogLevel::ERROR_LEVEL,
          std::string_view(text, std::min<size_t>(static_cast<size_t>(n), sizeof text - 1)));
  }

 private:
  const StoreMessageSink sink_;
};

absl::Status ToStatus(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("rocksdb ", what, ": ", s.ToString()));
}

class RocksLogStore : public LogStore {
 public:
  RocksLogStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db)
      : env_(std::move(env)), db_(std::move(db)) {}

  absl::Status Load() {
    std::string first;
    auto s = db_->Get(rocksdb::ReadOptions(), "c", &first);
    if (s.ok() && first.size() == 8) {
      first_ = Be64(first.data());
    } else if (!s.IsNotFound()) {
      return ToStatus(s, "read compaction point");
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(EntryKey(UINT64_MAX));
    if (it->Valid() && it->key().size() == 9 && it->key()[0] == 'e') {
      last_ = Be64(it->key().data() + 1);
    } else {
      last_ = first_ - 1;
    }
    it->Seek(EntryKey(0));
    if (it->Valid() && it->key().size() == 9 && it->key()[0] == 'e') {
      first_ = std::max(first_, Be64(it->key().data() + 1));
    }
    return ToStatus(it->status(), "scan");
  }

  absl::Status Write(const LogWrite& w) override {
    uint64_t first = first_, last = last_;
    size_t bytes = 64;  // the batch's header and the compaction point
    for (const LogEntry& e : w.entries) bytes += e.data.size() + 32;  // + key, term, record overhead
    for (const auto& [key, value] : w.meta) bytes += key.size() + (value ? value->size() : 0) + 16;
    rocksdb::WriteBatch batch(bytes);  // grown in place, the entries would be copied again
    if (w.reset_to) {
      // Every entry, whatever the compaction point; the entries of this write
      // come later in the batch, so the range delete does not cover them.
      batch.DeleteRange(EntryKey(0), EntryKey(std::numeric_limits<uint64_t>::max()));
      first = *w.reset_to + 1;
      last = *w.reset_to;
    } else if (w.compact_to && *w.compact_to >= first_) {
      batch.DeleteRange(EntryKey(first_), EntryKey(*w.compact_to + 1));
      first = *w.compact_to + 1;
      last = std::max(last, *w.compact_to);
    }
    if (first != first_) {
      std::string c(8, '\0');
      StoreBe64(c.data(), first);
      batch.Put("c", c);
    }
    if (auto s = ValidateLogWrite(w, first, last); !s.ok()) return s;
    uint64_t new_last = last;
    if (!w.entries.empty()) {
      new_last = w.entries.back().index;
      // Raft truncation: entries past the new tail are replaced or removed.
      if (last > new_last) batch.DeleteRange(EntryKey(new_last + 1), EntryKey(last + 1));
      // The value is the term and the payload, given to the batch in two
      // parts: it copies the payload once, into its own buffer.
      char key[9] = {'e'};
      char term[8];
      for (const LogEntry& e : w.entries) {
        StoreBe64(key + 1, e.index);
        StoreBe64(term, e.term);
        const rocksdb::Slice key_part(key, sizeof key);
        const rocksdb::Slice value_parts[] = {rocksdb::Slice(term, sizeof term), rocksdb::Slice(e.data)};
        batch.Put(rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2));
      }
    }
    for (const auto& [key, value] : w.meta) {
      std::string k = absl::StrCat("m", key);
      if (value) {
        batch.Put(k, *value);
      } else {
        batch.Delete(k);
      }
    }
    if (auto s = ToStatus(db_->Write(Synced(), &batch), "write"); !s.ok()) return s;
    first_ = first;
    last_ = new_last;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<LogEntry>> Read(uint64_t lo, uint64_t hi,
                                             size_t max_bytes) const override {
    if (lo < first_) return absl::OutOfRangeError(absl::StrCat("entry ", lo, " is compacted"));
    if (hi > last_ + 1) return absl::OutOfRangeError(absl::StrCat("entry ", hi - 1, " does not exist"));
    std::vector<LogEntry> out;
    if (lo >= hi) return out;
    rocksdb::ReadOptions ro;
    std::string upper = EntryKey(hi);
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    size_t bytes = 0;
    uint64_t expect = lo;
    for (it->Seek(EntryKey(lo)); it->Valid(); it->Next()) {
      rocksdb::Slice v = it->value();
      if (v.size() < 8 || Be64(it->key().data() + 1) != expect) {
        return absl::DataLossError(absl::StrCat("log entry ", expect, " is missing or corrupt"));
      }
      if (!out.empty() && bytes + v.size() - 8 > max_bytes) break;
      bytes += v.size() - 8;
      out.push_back(LogEntry{expect, Be64(v.data()), std::string(v.data() + 8, v.size() - 8)});
      ++expect;
    }
    if (auto s = ToStatus(it->status(), "read"); !s.ok()) return s;
    if (out.empty()) return absl::DataLossError(absl::StrCat("log entry ", lo, " is missing"));
    return out;
  }

  uint64_t FirstIndex() const override { return first_; }
  uint64_t LastIndex() const override { return last_; }

  absl::Status CompactTo(uint64_t upto) override {
    if (upto < first_) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    batch.DeleteRange(EntryKey(first_), EntryKey(upto + 1));
    std::string first(8, '\0');
    StoreBe64(first.data(), upto + 1);
    batch.Put("c", first);
    if (auto s = ToStatus(db_->Write(Synced(), &batch), "compact"); !s.ok()) return s;
    first_ = upto + 1;
    last_ = std::max(last_, upto);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> GetMeta(const std::string& key) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), absl::StrCat("m", key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (auto st = ToStatus(s, "read meta"); !st.ok()) return st;
    return std::optional<std::string>(std::move(value));
  }

  absl::Status ReclaimSpace() override {
    // Range deletes leave tombstones; compacting the entries' key range drops
    // the files they cover.
    rocksdb::CompactRangeOptions o;
    o.exclusive_manual_compaction = false;
    const std::string begin = EntryKey(0);
    const std::string end = EntryKey(std::numeric_limits<uint64_t>::max());
    rocksdb::Slice b(begin), e(end);
    return ToStatus(db_->CompactRange(o, &b, &e), "reclaim");
  }

 private:
  std::unique_ptr<rocksdb::Env> env_;  // outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  uint64_t first_ = 1;
  uint64_t last_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LogStore>> OpenRocksLogStore(const std::string& dir, StoreMessageSink messages) {
  rocksdb::Options options;
  std::unique_ptr<rocksdb::Env> env =
      rocksdb::NewCompositeEnv(NewWalPrewriteFileSystem(rocksdb::FileSystem::Default()));
  options.env = env.get();  // storage/wal_prewrite.h: a synced append does not change the WAL's size
  options.create_if_missing = true;
  options.max_background_jobs = 1;  // 2-core machines: keep compaction out of the way
  options.max_open_files = kLogStoreMaxOpenFiles;
  options.table_cache_numshardbits = 0;  // one shard: its capacity is the bound (64 shards rounded it up to 64 files)
  options.write_buffer_size = kLogStoreMemtableBytes;
  options.max_write_buffer_number = kLogStoreMemtables;
  options.info_log = std::make_shared<SinkLogger>(std::move(messages));
  // The WAL is replayed into the memtables at open, not written out as a
  // table first: that took up to the two memtables' size in free disk, and a
  // node stopped on a nearly full disk could not start again.
  options.avoid_flush_during_recovery = true;
  // Compression stays on: without it each memtable flush wrote ~10x the
  // bytes (65 MB instead of 6.7 MB of SET entries with constant values), and
  // the flush's disk traffic delayed the log's fsyncs by up to ~150 ms (p99.9
  // of one-node SET P=16: 110-165 ms against 20 ms). LZ4 rather than snappy:
  // the flushes and the compaction after each snapshot (which rewrites the
  // live log) cost a follower ~2% less CPU per SET, with files as small.
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  if (std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()) {
    options.compression = rocksdb::kLZ4Compression;
  }
  rocksdb::DB* raw = nullptr;
  if (auto s = ToStatus(rocksdb::DB::Open(options, dir, &raw), "open"); !s.ok()) return s;
  auto store = std::make_unique<RocksLogStore>(std::move(env), std::unique_ptr<rocksdb::DB>(raw));
  if (auto s = store->Load(); !s.ok()) return s;
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace storage
