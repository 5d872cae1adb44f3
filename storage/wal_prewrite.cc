#include "storage/wal_prewrite.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace storage {
namespace {

using rocksdb::DataVerificationInfo;
using rocksdb::FileOptions;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// RocksDB names its write-ahead log files by number: 000012.log.
bool IsWalFile(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.size() <= 4 || name.substr(name.size() - 4) != ".log") return false;
  name.remove_suffix(4);
  return std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// `err`: the errno of the failed call, taken before anything else can change it.
IOStatus Errno(int err, const char* what, const std::string& path) {
  const std::string text = absl::StrCat("wal prewrite ", what, " ", path, ": ", std::strerror(err));
  return err == ENOSPC ? IOStatus::NoSpace(text) : IOStatus::IOError(text);
}

// Zeros are written ahead through a descriptor of its own, so the offset the
// wrapped file appends at never moves: RocksDB's bytes land where they would
// have, over the zeros.
class PrewrittenWalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PrewrittenWalFile(std::unique_ptr<FSWritableFile> file, std::string path, int fd, size_t chunk)
      : FSWritableFileOwnerWrapper(std::move(file)), path_(std::move(path)), fd_(fd), chunk_(chunk) {}
  ~PrewrittenWalFile() override { ::close(fd_); }

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    return Written(appended_ + data.size(), [&] { return target()->Append(data, options, dbg); });
  }
  IOStatus Append(const Slice& data, const IOOptions& options, const DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    return Written(appended_ + data.size(), [&] { return target()->Append(data, options, info, dbg); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    return Written(offset + data.size(), [&] { return target()->PositionedAppend(data, offset, options, dbg); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const DataVerificationInfo& info, IODebugContext* dbg) override {
    return Written(offset + data.size(),
                   [&] { return target()->PositionedAppend(data, offset, options, info, dbg); });
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) appended_ = prewritten_ = size;
    return s;
  }

 private:
  // Every write of the wrapped file, ending at `end`: zeros ahead of it
  // first, so that the write lands over them.
  template <typename Write>
  IOStatus Written(uint64_t end, Write&& write) {
    if (IOStatus s = PrewriteFor(end); !s.ok()) return s;
    IOStatus s = write();
    if (s.ok()) appended_ = std::max(appended_, end);
    return s;
  }
  // Zeros from the prewritten end up to a chunk boundary past `end`.
  IOStatus PrewriteFor(uint64_t end) {
    if (end <= prewritten_) return IOStatus::OK();
    static const std::string zeros(64 << 10, '\0');
    const uint64_t target = (end + chunk_) / chunk_ * chunk_;
    while (prewritten_ < target) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), target - prewritten_));
      const ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(prewritten_));
      if (w < 0 && errno == EINTR) continue;
      // A write of nothing at all is taken for a full device.
      if (w <= 0) return Errno(w < 0 ? errno : ENOSPC, "pwrite", path_);
      prewritten_ += static_cast<uint64_t>(w);
    }
    return IOStatus::OK();
  }

  const std::string path_;
  const int fd_;
  const size_t chunk_;
  uint64_t appended_ = 0;    // bytes the wrapped file wrote
  uint64_t prewritten_ = 0;  // the file's length: appended bytes, then zeros
};

class WalPrewriteFileSystem : public rocksdb::FileSystemWrapper {
 public:
  WalPrewriteFileSystem(std::shared_ptr<rocksdb::FileSystem> base, size_t chunk)
      : FileSystemWrapper(std::move(base)), chunk_(chunk) {}

  const char* Name() const override { return "AnarchoWalPrewriteFileSystem"; }

  IOStatus NewWritableFile(const std::string& path, const FileOptions& options,
                           std::unique_ptr<FSWritableFile>* result, IODebugContext* dbg) override {
    IOStatus s = target()->NewWritableFile(path, options, result, dbg);
    if (!s.ok() || !IsWalFile(path) || options.use_direct_writes) return s;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno(errno, "open", path);
    *result = std::make_unique<PrewrittenWalFile>(std::move(*result), path, fd, chunk_);
    return s;
  }

 private:
  const size_t chunk_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewWalPrewriteFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                              size_t chunk) {
  return std::make_shared<WalPrewriteFileSystem>(std::move(base), std::max<size_t>(chunk, 4096));
}

}  // namespace storage
