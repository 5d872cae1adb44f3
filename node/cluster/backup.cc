#include "node/cluster/backup.h"


#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "node/cluster/snapshot_store.h"
#include "node/front/function_payload.h"
#include "node/logged_state.h"
#include "node/logging.h"

extern char** environ;

namespace node {
namespace {

// The highest database redis-check-rdb's `output` saw selected ("[offset 82]
// Selecting DB ID 3"); -1 if none.
int HighestDatabase(const std::string& output) {
  constexpr absl::string_view kSelecting = "] Selecting DB ID ";
  int highest = -1;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    int db = 0;
    if (const size_t at = line.find(kSelecting); at != absl::string_view::npos &&
                                                   absl::SimpleAtoi(line.substr(at + kSelecting.size()), &db)) {
      highest = std::max(highest, db);
    }
  }
  return highest;
}

// Runs `redis_server` as redis-check-rdb (Redis picks the tool by its argv[0])
// on `rdb`: whether the file checked out, and the highest database it holds
// (-1 if none).
absl::StatusOr<int> CheckRdb(const std::string& rdb, const std::string& redis_server) {
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
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return HighestDatabase(text);
  std::string why = "the RDB check failed";
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "[offset") && !absl::StrContains(line, "Checking RDB file")) why = std::string(line);
  }
  return absl::DataLossError(absl::StrCat(rdb, " is not a usable RDB file: ", why));
}

// The last line of a .meta: the crc32 of everything before it. A file cut
// short (a partial copy) or edited lacks it or fails it, and is told from a
// complete one: the protobuf text before it parses either way.
constexpr absl::string_view kEndLine = "# end of metadata, crc32 ";

uint32_t Crc32Of(absl::string_view text) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
}

// The whole file, or why it cannot be read.
absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  }
  const int err = errno;
  ::close(fd);
  if (n < 0) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", strerror(err)));
  return text;
}

// The metadata text of a .meta file without its end line, if that line is
// there and its crc32 matches.
absl::StatusOr<std::string> CheckedMetaText(const std::string& path, const std::string& text) {
  absl::string_view last;
  size_t start = 0;
  if (text.size() >= 2 && text.back() == '\n') {
    const size_t newline = text.rfind('\n', text.size() - 2);
    start = newline == std::string::npos ? 0 : newline + 1;
    last = absl::string_view(text).substr(start, text.size() - 1 - start);
  }
  uint32_t crc = 0;
  if (!absl::ConsumePrefix(&last, kEndLine) || !absl::SimpleHexAtoi(last, &crc)) {
    return absl::DataLossError(absl::StrCat(path, " has no end line: it was cut short (or written before .meta files "
                                            "had one); refusing to restore without the users, passwords, "
                                            "settings and scripts it may have held: copy the whole file again, or "
                                            "move it away to restore the RDB's data alone"));
  }
  if (crc != Crc32Of(absl::string_view(text).substr(0, start))) {
    return absl::DataLossError(absl::StrCat(path, " does not match the crc32 of its end line: it was damaged or "
                                            "edited; copy it again from the backup"));
  }
  return text.substr(0, start);
}

// The scripts, settings and users a backup's .meta carries into the restored
// cluster; none (with a warning) for an RDB with no .meta, a plain Redis's.
absl::Status ReadCarriedState(const std::string& rdb, ReplicatedLogOptions::Restore* restore) {
  const std::string path = BackupMetaPath(rdb);
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    Log(LogComponent::kNode, LogLevel::kWarning,
        "--restore: %s has no %s beside it: restoring its data only, as a plain Redis RDB (no users, passwords, "
        "replicated settings or scripts of a backup)",
        rdb, std::filesystem::path(path).filename().string());
    return absl::OkStatus();
  }
  auto text = ReadWhole(path);
  if (!text.ok()) return text.status();
  auto checked = CheckedMetaText(path, *text);
  if (!checked.ok()) return checked.status();
  pb::SnapshotMeta meta;
  // Unknown fields are refused, not skipped: a newer version's would hold
  // state this one would silently drop. The parser's reason is named.
  struct FirstError : google::protobuf::io::ErrorCollector {
    std::string message;
    void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& what) override {
      if (!message.empty()) return;
      message = absl::StrFormat("line %d, column %d: %s", line + 1, column + 1, absl::StripSuffix(what, "."));
    }
  } errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*checked, &meta)) {
    return absl::DataLossError(absl::StrCat(path, " is not a backup's metadata this version can read (", errors.message,
                                            "; a backup of a newer anarchoredis?)"));
  }
  if (restore->size != meta.size() || restore->crc32 != meta.crc32()) {
    return absl::DataLossError(absl::StrFormat("%s has %d bytes, crc32 %08x; its .meta says %d bytes, crc32 %08x", rdb,
                                               restore->size, restore->crc32, meta.size(), meta.crc32()));
  }
  LoggedState::Copy(meta, &restore->carried);
  return absl::OkStatus();
}

// At most the first `bytes` of a file.
absl::StatusOr<std::string> ReadHead(const std::string& path, size_t bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  std::string head(bytes, '\0');
  size_t done = 0;
  ssize_t n = 0;
  while (done < bytes && ((n = ::pread(fd, head.data() + done, bytes - done, static_cast<off_t>(done))) > 0 ||
                          (n < 0 && errno == EINTR))) {
    if (n > 0) done += static_cast<size_t>(n);
  }
  const int err = errno;
  ::close(fd);
  if (n < 0) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": ", strerror(err)));
  head.resize(done);
  return head;
}

// A library's name, from its first line ("#!lua name=NAME ...").
std::string LibraryName(std::string_view code) {
  std::string_view first = code.substr(0, code.find('\n'));
  const size_t at = first.find("name=");
  if (at == std::string_view::npos) return "?";
  first.remove_prefix(at + 5);
  return std::string(first.substr(0, first.find_first_of(" \t\r")));
}

// A restored RDB's function libraries (a plain Redis's may hold any) get
// the check a FUNCTION LOAD gets (ScriptRefusal): a function that calls
// redis.set_repl writes what never reaches the log, and the members'
// children would part from its first call (a review's restore lost an
// acknowledged write that way). They lead the file: read a growing head.
absl::Status CheckRdbFunctions(const std::string& rdb, uint64_t size) {
  for (uint64_t bytes = uint64_t{1} << 20;; bytes *= 2) {
    bytes = std::min(bytes, size);
    auto head = ReadHead(rdb, bytes);
    if (!head.ok()) return head.status();
    const std::optional<FunctionPayload> libraries = ReadRdbFunctions(*head);
    if (!libraries && bytes < size) continue;
    if (!libraries) return absl::DataLossError(absl::StrCat(rdb, ": cannot read its function libraries"));
    if (libraries->too_big) {
      return absl::FailedPreconditionError(
          absl::StrCat(rdb, " holds a function library over 64 MB, whose code anarchoredis cannot check"));
    }
    for (const std::string& code : libraries->codes) {
      if (!NamesSetRepl(code)) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          rdb, " holds function library '", LibraryName(code),
          "', which calls redis.set_repl: anarchoredis does not support it (writes kept out of replication would "
          "never reach the log); delete it (FUNCTION DELETE) where the file comes from and save it again"));
    }
    return absl::OkStatus();
  }
}

}  // namespace

std::string BackupMetaPath(const std::string& rdb) { return rdb + ".meta"; }

std::string WithEndLine(std::string text) {
  absl::StrAppendFormat(&text, "%s%08x\n", kEndLine, Crc32Of(text));
  return text;
}

// Written as FILE.meta.part, synced, then renamed: a .meta is whole or
// absent. (Whoever renames the RDB next syncs the directory.)
absl::Status WriteBackupMeta(const std::string& rdb, const pb::SnapshotMeta& meta) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(meta, &text)) return absl::InternalError("cannot print metadata");
  text = WithEndLine(absl::StrCat("# anarchoredis backup of ", std::filesystem::path(rdb).filename().string(), "\n", text));
  const std::string path = BackupMetaPath(rdb);
  const std::string part = path + ".part";
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", part, ": ", strerror(errno)));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    done += static_cast<size_t>(n);
  }
  const bool written = done == text.size() && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written || ::rename(part.c_str(), path.c_str()) != 0) {
    const int why = written ? errno : err;
    ::unlink(part.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(why)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplicatedLogOptions::Restore> OpenRestore(const std::string& rdb, const std::string& redis_server,
                                                          int databases) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(rdb, ec)) return absl::NotFoundError(absl::StrCat("no file ", rdb));
  ReplicatedLogOptions::Restore restore{.rdb = std::filesystem::absolute(rdb).string()};
  if (auto s = SnapshotStore::Checksum(rdb, &restore.crc32, &restore.size); !s.ok()) return s;
  if (auto s = ReadCarriedState(rdb, &restore); !s.ok()) return s;
  auto highest = CheckRdb(restore.rdb, redis_server);
  if (!highest.ok()) return highest.status();
  if (auto s = CheckRdbFunctions(restore.rdb, restore.size); !s.ok()) return s;
  // The child would exit at its load ("FATAL: Data file was created with a
  // Redis server configured to handle more than N databases"), again and again.
  if (*highest >= databases) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s holds database %d, but --databases is %d (databases 0..%d): start every node with --databases %d or more",
        rdb, *highest, databases, databases - 1, *highest + 1));
  }
  return restore;
}

}  // namespace node
