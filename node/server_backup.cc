// Backups (docs/design.md, "Backup and restore"): ANARCHO.BACKUP, sent to (or
// forwarded to) the leader, takes a fresh snapshot of the leader's child, then
// confirms the leadership with a read round begun after the fork: every write
// acknowledged before the request arrived is in it (a linearizable point).
// The snapshot file is hard-linked into <dir>/backups, out of compaction's
// reach, and read in chunks with ANARCHO.BACKUP.READ until ANARCHO.BACKUP.END.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/writer.h"

namespace node {
namespace fs = std::filesystem;

namespace {
constexpr int kBackupsKept = 2;
constexpr uint64_t kMaxBackupRead = 8 << 20;

bool ValidBackupName(std::string_view name) {
  static const std::regex re("backup-[0-9]+-[0-9]+\\.rdb");
  return std::regex_match(name.begin(), name.end(), re);
}
}  // namespace

std::string Server::BackupDir() const { return options_.dir + "/backups"; }

void Server::TakeFreshSnapshot(std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done) {
  if (!snap_) return TakeSnapshot(std::move(done));
  // The one under way forked before this request arrived: the next one, once
  // the end of this one is through (a rebuilt child ends it before the new
  // child is started).
  snap_->waiters.push_back([this, done = std::move(done)](const absl::StatusOr<pb::SnapshotMeta>&) mutable {
    asio::post(io_, [this, done = std::move(done)]() mutable { TakeSnapshot(std::move(done)); });
  });
}

void Server::ConfirmLeadership(std::function<void(bool)> done) {
  if (!is_leader_) return done(false);
  if (rlog_->sole_voter()) return done(true);
  const uint64_t n = ++leadership_checks_seq_;
  if (!rlog_->ReadIndex(absl::StrCat("h", n)).ok()) return done(false);
  leadership_checks_[n] = std::move(done);
}

void Server::EndLeadershipChecks() {
  auto checks = std::move(leadership_checks_);
  leadership_checks_.clear();
  for (auto& [_, done] : checks) done(false);
}

void Server::Backup(int proto, std::function<void(std::string)> reply) {
  if (!is_leader_ || !promoted_) return reply("-TRYAGAIN this node is not a serving leader; retry\r\n");
  TakeFreshSnapshot([this, proto, reply](absl::StatusOr<pb::SnapshotMeta> meta) {
    if (!meta.ok()) return reply(absl::StrCat("-ERR backup failed: ", meta.status().message(), "\r\n"));
    ConfirmLeadership([this, proto, reply, meta = *meta](bool leader) {
      if (!leader) return reply("-TRYAGAIN leadership changed during the backup; retry\r\n");
      auto name = LinkBackup(meta);
      if (!name.ok()) return reply(absl::StrCat("-ERR backup failed: ", name.status().message(), "\r\n"));
      std::string out;
      resp::AppendMapHeader(&out, 4, proto);
      resp::AppendBulkString(&out, "name");
      resp::AppendBulkString(&out, *name);
      resp::AppendBulkString(&out, "index");
      resp::AppendInteger(&out, static_cast<int64_t>(meta.index()));
      resp::AppendBulkString(&out, "bytes");
      resp::AppendInteger(&out, static_cast<int64_t>(meta.size()));
      resp::AppendBulkString(&out, "meta");
      resp::AppendBulkString(&out, meta.SerializeAsString());
      reply(std::move(out));
    });
  });
}

// A hard link: the snapshot file may be compacted away meanwhile, the backup
// stays until it is read (or two newer backups replace it).
absl::StatusOr<std::string> Server::LinkBackup(const pb::SnapshotMeta& meta) {
  std::error_code ec;
  fs::create_directories(BackupDir(), ec);
  const std::string name = absl::StrCat("backup-", meta.index(), "-", meta.term(), ".rdb");
  const fs::path target = fs::path(BackupDir()) / name;
  fs::remove(target, ec);
  fs::create_hard_link(rlog_->SnapshotPath(meta), target, ec);
  if (ec) return absl::InternalError(absl::StrCat("link ", target.string(), ": ", ec.message()));
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(BackupDir(), ec)) all.push_back(e.path());
  std::sort(all.begin(), all.end(), [&](const fs::path& a, const fs::path& b) {
    return fs::last_write_time(a, ec) > fs::last_write_time(b, ec);
  });
  for (size_t i = kBackupsKept; i < all.size(); ++i) {
    if (all[i] != target) fs::remove(all[i], ec);
  }
  Log(LogComponent::kNode, LogLevel::kInfo, "backup %s ready (snapshot %d, %d bytes)", name, meta.index(), meta.size());
  return name;
}

// ANARCHO.BACKUP.READ <name> <offset> <count>: bytes of a backup (empty at its end).
std::string Server::ReadBackup(std::span<const std::string_view> args) {
  std::string out;
  uint64_t offset = 0, count = 0;
  const std::string name = args.size() > 1 ? std::string(args[1]) : "";
  if (args.size() != 4 || !ValidBackupName(name) || !absl::SimpleAtoi(std::string(args[2]), &offset) ||
      !absl::SimpleAtoi(std::string(args[3]), &count)) {
    resp::AppendError(&out, "ERR usage: ANARCHO.BACKUP.READ <name> <offset> <count>");
    return out;
  }
  const std::string path = absl::StrCat(BackupDir(), "/", name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    resp::AppendError(&out, absl::StrCat("ERR no backup ", name, " on this node (leadership moved?); take a new one"));
    return out;
  }
  std::string data(std::min(count, kMaxBackupRead), '\0');
  const ssize_t n = ::pread(fd, data.data(), data.size(), static_cast<off_t>(offset));
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    resp::AppendError(&out, absl::StrCat("ERR read ", name, ": ", strerror(err)));
    return out;
  }
  data.resize(static_cast<size_t>(n));
  resp::AppendBulkString(&out, data);
  return out;
}

std::string Server::EndBackup(std::span<const std::string_view> args) {
  std::string out;
  const std::string name = args.size() > 1 ? std::string(args[1]) : "";
  if (args.size() != 2 || !ValidBackupName(name)) {
    resp::AppendError(&out, "ERR usage: ANARCHO.BACKUP.END <name>");
    return out;
  }
  std::error_code ec;
  const bool removed = fs::remove(absl::StrCat(BackupDir(), "/", name), ec);
  resp::AppendInteger(&out, removed ? 1 : 0);
  return out;
}

}  // namespace node
