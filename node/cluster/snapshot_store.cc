#include "node/cluster/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace node {
namespace fs = std::filesystem;

absl::Status SnapshotStore::Open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("snapshot dir ", dir_, ": ", ec.message()));
  // Saves that a stop interrupted before they were adopted.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().filename().string().starts_with("taking-")) fs::remove(entry.path(), ec);
  }
  return absl::OkStatus();
}

std::string SnapshotStore::FileName(uint64_t index, uint64_t term, uint32_t crc32) {
  return absl::StrFormat("snap-%020d-%d-%08x.rdb", index, term, crc32);
}

std::string SnapshotStore::IncomingName(const pb::SnapshotMeta& meta) {
  return absl::StrFormat("incoming-%020d-%d-%08x.rdb", meta.index(), meta.term(), meta.crc32());
}

absl::Status SnapshotStore::Fsync(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return absl::InternalError(absl::StrCat("fsync ", path, ": ", strerror(errno)));
  return absl::OkStatus();
}

absl::Status SnapshotStore::Checksum(const std::string& path, uint32_t* crc, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("open ", path, ": ", strerror(errno)));
  std::vector<char> buf(1 << 20);
  uLong c = crc32(0L, Z_NULL, 0);
  uint64_t n = 0;
  while (true) {
    const ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return absl::DataLossError(absl::StrCat("read ", path, ": ", strerror(errno)));
    }
    if (r == 0) break;
    c = crc32(c, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(r));
    n += static_cast<uint64_t>(r);
  }
  ::close(fd);
  *crc = static_cast<uint32_t>(c);
  *size = n;
  return absl::OkStatus();
}

absl::StatusOr<pb::SnapshotMeta> SnapshotStore::Adopt(const std::string& from, uint64_t index, uint64_t term) {
  pb::SnapshotMeta meta;
  meta.set_index(index);
  meta.set_term(term);
  uint32_t crc = 0;
  uint64_t size = 0;
  if (auto s = Checksum(from, &crc, &size); !s.ok()) return s;
  meta.set_file(FileName(index, term, crc));
  meta.set_crc32(crc);
  meta.set_size(size);
  if (auto s = Fsync(from); !s.ok()) return s;
  std::error_code ec;
  fs::rename(from, Path(meta.file()), ec);
  if (ec) return absl::InternalError(absl::StrCat("rename ", from, ": ", ec.message()));
  if (auto s = Fsync(dir_); !s.ok()) return s;  // the rename itself is durable
  return meta;
}

bool SnapshotStore::WellNamed(const pb::SnapshotMeta& meta) {
  return meta.file() == FileName(meta.index(), meta.term(), meta.crc32());
}

absl::Status SnapshotStore::Verify(const pb::SnapshotMeta& meta) const {
  if (!WellNamed(meta)) return absl::InvalidArgumentError(absl::StrCat("snapshot file name ", meta.file(), " is not the store's"));
  uint32_t crc = 0;
  uint64_t size = 0;
  if (auto s = Checksum(Path(meta.file()), &crc, &size); !s.ok()) return s;
  if (size != meta.size()) {
    return absl::DataLossError(absl::StrCat("snapshot ", meta.file(), " has ", size, " bytes, expected ", meta.size()));
  }
  if (crc != meta.crc32()) {
    return absl::DataLossError(absl::StrFormat("snapshot %s has checksum %08x, expected %08x", meta.file(), crc,
                                               meta.crc32()));
  }
  return absl::OkStatus();
}

std::optional<uint64_t> SnapshotStore::IndexOf(std::string_view name) {
  for (std::string_view prefix : {"snap-", "incoming-"}) {
    if (!name.starts_with(prefix)) continue;
    const std::string_view digits = name.substr(prefix.size(), name.find('-', prefix.size()) - prefix.size());
    uint64_t index = 0;
    if (!absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &index)) return std::nullopt;
    return index;
  }
  return std::nullopt;
}

void SnapshotStore::RemoveOlder(const pb::SnapshotMeta& keep, const std::string& keep_also) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == keep.file() || name == keep_also) continue;
    if (auto index = IndexOf(name); index && *index <= keep.index()) fs::remove(entry.path(), ec);
  }
}

}  // namespace node
