// anarcho-admin's data commands: snapshot, backup, digest (docs/design.md,
// "Snapshots", "Backup and restore", "Divergence check").
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio.hpp"
#include "node/child/sync_client.h"
#include "node/cluster/backup.h"
#include "node/cluster/snapshot_store.h"
#include "tools/admin_util.h"

namespace admin {
namespace fs = std::filesystem;

absl::StatusOr<std::map<std::string, std::string>> StatusOf(const std::string& host, int port) {
  auto v = Call(host, port, {"ANARCHO.STATUS"});
  if (!v.ok()) return v.status();
  std::map<std::string, std::string> out;
  for (auto& [k, f] : Fields(*v)) out[k] = f.AsString();
  return out;
}

std::map<std::string, std::string> Status(const std::string& host, int port) {
  auto status = StatusOf(host, port);
  return status.ok() ? *std::move(status) : std::map<std::string, std::string>{};
}

namespace {
Credentials& TheCredentials() {
  static Credentials credentials;
  return credentials;
}

Timeouts& MutableTimeouts() {
  static Timeouts timeouts;
  return timeouts;
}

absl::StatusOr<resp::Value> CallWithin(absl::Duration timeout, const std::string& host, int port,
                                       std::initializer_list<std::string_view> args) {
  asio::io_context io;
  node::SyncClient c(io);
  if (auto s = Connect(c, host, port); !s.ok()) return s;
  c.set_timeout(timeout);
  auto v = c.Call(args);
  if (v.ok() && v->IsError()) return absl::FailedPreconditionError(v->str);
  return v;
}
}  // namespace

void SetCredentials(Credentials credentials) { TheCredentials() = std::move(credentials); }
void SetTimeouts(Timeouts timeouts) { MutableTimeouts() = timeouts; }
const Timeouts& TheTimeouts() { return MutableTimeouts(); }

absl::Status Connect(node::SyncClient& c, const std::string& host, int port) {
  c.set_timeout(TheTimeouts().answer);
  if (auto s = c.ConnectTcp(host, port); !s.ok()) return s;
  const Credentials& who = TheCredentials();
  if (who.password.empty()) return absl::OkStatus();
  if (who.user.empty()) {
    auto v = c.Call({"AUTH", who.password});
    if (!v.ok()) return v.status();
    return v->IsError() ? absl::PermissionDeniedError(v->str) : absl::OkStatus();
  }
  return c.Auth(who.user, who.password);
}

absl::StatusOr<resp::Value> Call(const std::string& host, int port, std::initializer_list<std::string_view> args) {
  return CallWithin(TheTimeouts().answer, host, port, args);
}

absl::StatusOr<resp::Value> CallForWork(const std::string& host, int port,
                                        std::initializer_list<std::string_view> args) {
  return CallWithin(TheTimeouts().work, host, port, args);
}

std::map<std::string, resp::Value> Fields(const resp::Value& v) {
  std::map<std::string, resp::Value> out;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) out[v.elements[i].AsString()] = v.elements[i + 1];
  return out;
}

int SnapshotCommand(const std::string& host, int port) {
  auto v = CallForWork(host, port, {"ANARCHO.SNAPSHOT"});
  if (!v.ok()) {
    std::cerr << "snapshot: " << v.status().message() << "\n";
    return 1;
  }
  auto f = Fields(*v);
  std::cout << "snapshot at log index " << f["index"].integer << " (term " << f["term"].integer << ", "
            << f["bytes"].integer << " bytes); the log below it is compacted\n";
  return 0;
}

namespace {

// The node at `port`, or the leader it names: backups are read from there.
absl::StatusOr<std::pair<std::string, int>> LeaderOf(const std::string& host, int port) {
  auto st = StatusOf(host, port);
  if (!st.ok()) return st.status();
  if ((*st)["role"] == "leader") return std::pair{host, port};
  std::vector<std::string> addr = absl::StrSplit((*st)["leader_addr"], ':');  // host:client_port:raft_port
  int p = 0;
  if (addr.size() == 3 && absl::SimpleAtoi(addr[1], &p)) return std::pair{addr[0], p};
  return std::pair{host, port};
}

// Whether an attempt that failed so may succeed if made again: the leader
// moved or was lost (TRYAGAIN, UNKNOWN, its backup gone with it), a link
// broke, or the bytes came wrong. Not: a refusal (credentials, permissions),
// a node that did not answer in time, or this host's own file errors.
bool WorthRetrying(const absl::Status& s) {
  const absl::string_view m = s.message();
  return absl::IsUnavailable(s) || absl::IsDataLoss(s) || absl::StartsWith(m, "TRYAGAIN") ||
         absl::StartsWith(m, "UNKNOWN") || absl::StrContains(m, "(leadership moved?)");
}

// Writes all of `data` at the end of `fd`; the error names `path` and errno.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ResourceExhaustedError(absl::StrCat("write ", path, ": ", strerror(errno)));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Whether FILE can be written, before the leader forks a snapshot for it:
// FILE.part is created (and left empty) in FILE's directory.
absl::Status CheckWritable(const std::string& file) {
  if (file.empty()) return absl::InvalidArgumentError("give the backup a file name");
  std::error_code ec;
  // The backup is renamed into place: it would replace whatever is there
  // (it replaced a device file). An earlier backup may be replaced.
  for (const std::string& path : {file, node::BackupMetaPath(file)}) {
    const fs::file_status st = fs::symlink_status(path, ec);
    if (fs::is_directory(st)) return absl::FailedPreconditionError(absl::StrCat(path, " is a directory"));
    if (fs::exists(st) && !fs::is_regular_file(st)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a regular file (a link, a device...): give another name"));
    }
  }
  const std::string part = file + ".part";
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot write ", part, ": ", strerror(errno)));
  ::close(fd);
  return absl::OkStatus();
}

absl::Status Download(const std::string& host, int port, const std::string& name, uint64_t bytes,
                      const std::string& path) {
  asio::io_context io;
  node::SyncClient c(io);
  if (auto s = Connect(c, host, port); !s.ok()) return s;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  absl::Status status;
  for (uint64_t offset = 0; status.ok() && offset < bytes;) {
    auto v = c.Call({"ANARCHO.BACKUP.READ", name, absl::StrCat(offset), "4194304"});
    if (!v.ok()) {
      status = v.status();
    } else if (v->IsError()) {
      status = absl::FailedPreconditionError(v->str);
    } else if (v->str.empty()) {
      status = absl::DataLossError(absl::StrCat("the backup ended at ", offset, " of ", bytes, " bytes"));
    } else {
      status = WriteAll(fd, v->str, path);
      offset += v->str.size();
    }
  }
  if (status.ok() && ::fsync(fd) != 0) status = absl::InternalError(absl::StrCat("fsync ", path, ": ", strerror(errno)));
  ::close(fd);
  return status;
}

// The downloaded FILE.part checked, FILE.meta written, FILE.part renamed to
// FILE, and the directory synced.
absl::Status Keep(const std::string& part, const std::string& file, const node::pb::SnapshotMeta& meta) {
  uint32_t crc = 0;
  uint64_t size = 0;
  if (auto s = node::SnapshotStore::Checksum(part, &crc, &size); !s.ok()) return s;
  if (crc != meta.crc32() || size != meta.size()) {
    return absl::DataLossError(absl::StrFormat("downloaded %d bytes, crc32 %08x; expected %d bytes, %08x", size, crc,
                                               meta.size(), meta.crc32()));
  }
  if (auto s = node::WriteBackupMeta(file, meta); !s.ok()) return s;
  if (::rename(part.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(node::BackupMetaPath(file).c_str());
    return absl::InternalError(absl::StrCat("rename ", part, " to ", file, ": ", strerror(err)));
  }
  const fs::path dir = fs::absolute(file).parent_path();
  return node::SnapshotStore::Fsync(dir.string());
}

absl::StatusOr<node::pb::SnapshotMeta> BackupOnce(const std::string& host, int port, const std::string& file) {
  auto leader = LeaderOf(host, port);
  if (!leader.ok()) return leader.status();
  const auto& [lhost, lport] = *leader;
  auto v = CallForWork(lhost, lport, {"ANARCHO.BACKUP"});
  if (!v.ok()) return v.status();
  auto f = Fields(*v);
  node::pb::SnapshotMeta meta;
  if (!meta.ParseFromString(f["meta"].str)) return absl::InternalError("the node sent no metadata");
  const std::string part = file + ".part";
  absl::Status s = Download(lhost, lport, f["name"].str, meta.size(), part);
  if (s.ok()) s = Keep(part, file, meta);
  // The leader's copy is read (or of no more use): it may go, also after a
  // failure.
  (void)Call(lhost, lport, {"ANARCHO.BACKUP.END", f["name"].str});
  if (!s.ok()) return s;
  return meta;
}

}  // namespace

int BackupCommand(const std::string& host, int port, const std::string& file) {
  if (auto s = CheckWritable(file); !s.ok()) {
    std::cerr << "backup: " << s.message() << "\n";
    return absl::IsInvalidArgument(s) ? 2 : 1;
  }
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto meta = BackupOnce(host, port, file);
    if (meta.ok()) {
      std::cout << absl::StrFormat("backup of log index %d (%d bytes, crc32 %08x, %d scripts) in %s and %s\n",
                                   meta->index(), meta->size(), meta->crc32(), meta->scripts_size(), file,
                                   node::BackupMetaPath(file));
      return 0;
    }
    std::cerr << "backup attempt " << attempt << ": " << meta.status().message() << "\n";
    if (!WorthRetrying(meta.status())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::error_code ec;
  fs::remove(file + ".part", ec);
  return 1;
}

namespace {

// Runs the check through the first of `ask` that answers: the leader's
// digest and log index.
absl::StatusOr<resp::Value> StartDigest(const std::vector<Target>& ask) {
  absl::Status last = absl::InvalidArgumentError("no node to ask");
  for (const Target& t : ask) {
    auto v = CallForWork(t.host, t.port, {"ANARCHO.DIGEST"});
    if (v.ok()) return v;
    last = absl::Status(v.status().code(), absl::StrCat(t.host, ":", t.port, ": ", v.status().message()));
    std::cerr << "digest: " << last.message() << "\n";
  }
  return last;
}

// A member's outcome of the check at `index` once it reports one, and its
// mismatch count since it started. A follower compares when its child
// reaches the entry: after catching up, then a whole DEBUG DIGEST of its own
// (about as long as the leader's, tens of seconds for millions of keys), so
// it is waited for as the cluster's work is. One whose child went past the
// entry without an outcome skipped it (its log says why: a full sync loading,
// a child far behind).
std::pair<std::string, std::string> OutcomeAt(const std::string& host, int port, uint64_t index) {
  const absl::Time deadline = absl::Now() + TheTimeouts().work;
  std::optional<absl::Time> passed;  // when its child was first seen past the entry
  while (true) {
    auto st = StatusOf(host, port);
    if (!st.ok()) return {absl::StrCat("unreachable (", st.status().message(), ")"), "?"};
    const std::string mismatches = (*st)["digest_mismatches"].empty() ? "?" : (*st)["digest_mismatches"];
    uint64_t at = 0, applied = 0;
    if (absl::SimpleAtoi((*st)["last_digest_index"], &at) && at >= index) {
      return {at == index ? (*st)["last_digest_outcome"] : "newer check", mismatches};
    }
    if (absl::SimpleAtoi((*st)["applied_index"], &applied) && applied >= index) {
      if (!passed) passed = absl::Now();
      if (absl::Now() - *passed > absl::Seconds(1)) return {"not compared (skipped, see its log)", mismatches};
    }
    if (absl::Now() >= deadline) return {"not compared (no outcome in time)", mismatches};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int DigestCommand(const std::vector<Target>& ask, const std::vector<Target>& nodes) {
  auto v = StartDigest(ask);
  if (!v.ok()) {
    std::cerr << "digest: no node ran the check\n";
    return 3;
  }
  auto f = Fields(*v);
  const uint64_t index = static_cast<uint64_t>(f["index"].integer);
  std::cout << "leader's digest at log index " << index << ": " << f["digest"].AsString() << "\n";
  int mismatches = 0, missing = 0;
  for (const Target& t : nodes) {
    const auto [outcome, count] = OutcomeAt(t.host, t.port, index);
    mismatches += outcome == "MISMATCH" || (count != "0" && count != "?");
    missing += absl::StartsWith(outcome, "not compared") || absl::StartsWith(outcome, "unreachable");
    absl::PrintF("node %s (port %d on %s): %s, %s mismatches since start\n", t.id ? absl::StrCat(t.id) : "?", t.port,
                 t.host, outcome, count);
  }
  if (mismatches > 0) std::cout << "DIVERGENCE: see the nodes' logs (\"DIVERGENCE at log index\")\n";
  return mismatches > 0 ? 1 : (missing > 0 ? 3 : 0);
}

}  // namespace admin
