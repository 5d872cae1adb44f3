// The log store's write-ahead log files are written ahead with zeros
// (storage/wal_prewrite.h): synced appends leave the file's size alone, and
// what a crash leaves (records, then zeros) recovers to the same entries.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/log_store.h"
#include "tests/storage/temp_dir.h"

namespace storage {
namespace {

namespace fs = std::filesystem;

// The newest write-ahead log file of the store in `dir`.
fs::path NewestWal(const fs::path& dir) {
  fs::path newest;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log" && (newest.empty() || e.path().filename() > newest.filename())) {
      newest = e.path();
    }
  }
  return newest;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Payload(uint64_t index, size_t size) {
  std::string s(size, static_cast<char>('a' + index % 26));
  s.replace(0, std::to_string(index).size(), std::to_string(index));
  return s;
}

// One synced write per entry, as the Raft log writes.
void WriteEach(LogStore& store, uint64_t first, uint64_t last, size_t size) {
  for (uint64_t i = first; i <= last; ++i) {
    LogWrite w;
    w.entries.push_back({i, 3, Payload(i, size)});
    w.sync = true;
    ASSERT_TRUE(store.Write(w).ok());
  }
}

void ExpectEntries(LogStore& store, uint64_t first, uint64_t last, size_t size) {
  ASSERT_EQ(store.LastIndex(), last);
  auto r = store.Read(first, last + 1);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), last - first + 1);
  for (const LogEntry& e : *r) {
    ASSERT_EQ(e.data, Payload(e.index, size)) << "entry " << e.index;
    ASSERT_EQ(e.term, 3u);
  }
}

std::unique_ptr<LogStore> Open(const fs::path& dir) {
  auto s = OpenRocksLogStore(dir.string());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// A store in a directory of its own, written one synced entry at a time.
class WalPrewriteTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(store_ = Open(dir_.path()), nullptr); }
  // What a crash leaves: the files as they are on disk while the store is
  // open, the WAL's records followed by zeros.
  void CopyAsCrashed() {
    fs::copy(dir_.path(), crashed_.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }

  TempDir dir_, crashed_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(WalPrewriteTest, SyncedWritesLeaveTheWalFilesSizeAlone) {
  WriteEach(*store_, 1, 1, 100);
  const fs::path wal = NewestWal(dir_.path());
  ASSERT_FALSE(wal.empty());
  const uintmax_t size = fs::file_size(wal);
  EXPECT_GE(size, 1u << 20) << "zeros ahead of the first record";
  WriteEach(*store_, 2, 200, 100);
  EXPECT_EQ(NewestWal(dir_.path()), wal);
  EXPECT_EQ(fs::file_size(wal), size) << "a synced append grew the file: its sync wrote the inode";
  ExpectEntries(*store_, 1, 200, 100);
}

// Over several prewritten chunks.
TEST_F(WalPrewriteTest, EntriesSurviveACrashThatLeavesZerosAfterThem) {
  WriteEach(*store_, 1, 300, 10 << 10);  // ~3 MB: three chunks
  CopyAsCrashed();
  const std::string wal = ReadFile(NewestWal(crashed_.path()));
  ASSERT_GT(wal.size(), 300u * (10 << 10));
  ASSERT_EQ(wal.back(), '\0');

  auto recovered = Open(crashed_.path());
  ASSERT_NE(recovered, nullptr);
  ExpectEntries(*recovered, 1, 300, 10 << 10);
  WriteEach(*recovered, 301, 320, 10 << 10);
  recovered.reset();
  recovered = Open(crashed_.path());
  ASSERT_NE(recovered, nullptr);
  ExpectEntries(*recovered, 1, 320, 10 << 10);
}

// A crash in the middle of the last write: its record is cut short and
// zeros follow. The log recovers to the writes before it.
TEST_F(WalPrewriteTest, ATornLastRecordBeforeTheZerosRecoversTheWritesBeforeIt) {
  WriteEach(*store_, 1, 40, 1000);
  CopyAsCrashed();
  const fs::path wal = NewestWal(crashed_.path());
  std::string bytes = ReadFile(wal);
  const size_t end = bytes.find_last_not_of('\0') + 1;
  ASSERT_LT(end, bytes.size());
  std::fill(bytes.begin() + static_cast<long>(end - 300), bytes.begin() + static_cast<long>(end), '\0');
  std::ofstream(wal, std::ios::binary | std::ios::trunc) << bytes;

  auto recovered = Open(crashed_.path());
  ASSERT_NE(recovered, nullptr);
  ExpectEntries(*recovered, 1, 39, 1000);
}

TEST_F(WalPrewriteTest, AClosedWalFileEndsWithItsLastRecord) {
  WriteEach(*store_, 1, 20, 100);
  const fs::path wal = NewestWal(dir_.path());
  store_.reset();
  const std::string bytes = ReadFile(wal);
  ASSERT_FALSE(bytes.empty());
  EXPECT_LT(bytes.size(), 20u * 200) << "the zeros after the records stayed";
  store_ = Open(dir_.path());
  ASSERT_NE(store_, nullptr);
  ExpectEntries(*store_, 1, 20, 100);
}

}  // namespace
}  // namespace storage
