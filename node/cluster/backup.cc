#include "node/cluster/backup.h"


#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "node/cluster/snapshot_store.h"
#include "node/logged_state.h"

extern char** environ;

namespace node {
namespace {

// Runs `redis_server` as redis-check-rdb (Redis picks the tool by its argv[0])
// on `rdb`; its output, and whether the file checked out.
absl::Status CheckRdb(const std::string& rdb, const std::string& redis_server) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::string argv0 = "redis-check-rdb";
  std::string file = rdb;
  char* argv[] = {argv0.data(), file.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, redis_server.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return absl::InternalError(absl::StrCat("cannot run ", redis_server, ": ", strerror(rc)));
  }
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string why = "the RDB check failed";
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "[offset") && !absl::StrContains(line, "Checking RDB file")) why = std::string(line);
  }
  return absl::DataLossError(absl::StrCat(rdb, " is not a usable RDB file: ", why));
}

}  // namespace

std::string BackupMetaPath(const std::string& rdb) { return rdb + ".meta"; }

absl::Status WriteBackupMeta(const std::string& rdb, const pb::SnapshotMeta& meta) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(meta, &text)) return absl::InternalError("cannot print metadata");
  std::ofstream out(BackupMetaPath(rdb), std::ios::trunc);
  out << "# anarchoredis backup of " << std::filesystem::path(rdb).filename().string() << "\n" << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", BackupMetaPath(rdb)));
  return absl::OkStatus();
}

absl::StatusOr<ReplicatedLogOptions::Restore> OpenRestore(const std::string& rdb, const std::string& redis_server) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(rdb, ec)) return absl::NotFoundError(absl::StrCat("no file ", rdb));
  ReplicatedLogOptions::Restore restore{.rdb = std::filesystem::absolute(rdb).string()};
  if (auto s = SnapshotStore::Checksum(rdb, &restore.crc32, &restore.size); !s.ok()) return s;
  if (std::ifstream in(BackupMetaPath(rdb)); in) {
    std::stringstream text;
    text << in.rdbuf();
    pb::SnapshotMeta meta;
    if (!google::protobuf::TextFormat::ParseFromString(text.str(), &meta)) {
      return absl::DataLossError(absl::StrCat(BackupMetaPath(rdb), " is not a backup's metadata"));
    }
    if (restore.size != meta.size() || restore.crc32 != meta.crc32()) {
      return absl::DataLossError(absl::StrFormat("%s has %d bytes, crc32 %08x; its .meta says %d bytes, crc32 %08x",
                                                 rdb, restore.size, restore.crc32, meta.size(), meta.crc32()));
    }
    LoggedState::Copy(meta, &restore.carried);
  }
  if (auto s = CheckRdb(restore.rdb, redis_server); !s.ok()) return s;
  return restore;
}

}  // namespace node
