#include "node/child/child_redis.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asio.hpp"
#include "node/child/child_digest.h"
#include "node/child/sync_client.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {
namespace {

// The child's config file, readable by the node's user only: the node's own
// user, by its password's hash (the password itself is never on disk or in a
// process's arguments), and the password of the node's replication link (out
// of the child's arguments, which any local user may read).
absl::Status WriteChildConfig(const std::string& path, std::string_view password, std::string_view master_password) {
  std::error_code fec;
  std::filesystem::remove(path, fec);
  std::ofstream out(path, std::ios::trunc);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, fec);
  out << "user " << kInternalUser << " on #" << Sha256Hex(password) << " ~* &* +@all\n";
  if (!master_password.empty()) out << "masterauth " << master_password << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write the child's config file ", path));
  return absl::OkStatus();
}

}  // namespace

std::string InternalAuthRequest(std::string_view password) {
  std::string out;
  resp::AppendCommand(&out, {"AUTH", kInternalUser, password});
  return out;
}

absl::Status ChildRedis::Start() {
  Kill();
  std::error_code fec;
  std::filesystem::create_directories(options_.dir, fec);
  std::filesystem::remove(options_.socket_path, fec);
  // RDB files an earlier child left: a save or a sync cut short leaves its
  // temp-*.rdb (each the data set's size, never removed), and Redis would load
  // a dump.rdb at start (time lost: the node gives every child its state;
  // and a damaged one stopped the child from starting at all).
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, fec)) {
    const std::string name = entry.path().filename().string();
    if (name == "dump.rdb" || (name.starts_with("temp-") && name.ends_with(".rdb"))) {
      std::filesystem::remove(entry.path(), fec);
    }
  }
  const std::string config = absl::StrCat(options_.dir, "/node-user.conf");
  if (auto s = WriteChildConfig(config, options_.internal_password, options_.master_password); !s.ok()) return s;
  std::vector<std::string> args = {
      options_.redis_server,
      config,
      "--port", "0",
      "--unixsocket", options_.socket_path,
      "--unixsocketperm", "700",
      "--dir", options_.dir,
      "--logfile", absl::StrCat(options_.dir, "/redis.log"),
      "--daemonize", "no",
      "--save", "",
      "--appendonly", "no",
      "--databases", absl::StrCat(options_.databases),
      // The node reads a leading child's stream as its replica and never
      // takes a full sync (ReplicationReader): one started anyway is diskless.
      "--repl-diskless-sync", "yes",
      "--repl-diskless-sync-delay", "0",
      "--repl-backlog-size", kChildBacklog,
      "--client-output-buffer-limit", "replica 0 0 0",
      "--maxclients", absl::StrCat(options_.max_clients),
      "--enable-debug-command", "local",
      "--protected-mode", "no",
  };
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    // The child dies with the node, whatever kills the node.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    setpgid(0, 0);  // not in the node's process group: a ^C reaches the node only
    // Asio opens sockets without close-on-exec. A child holding copies of the
    // node's client and Raft sockets would keep them open after the node closes
    // them, so their peers would never see the close.
    close_range(3, ~0U, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;

  // Ready when it answers PING on its socket.
  absl::Time deadline = absl::Now() + options_.ready_timeout;
  absl::Status last = absl::UnavailableError("not started");
  while (absl::Now() < deadline) {
    if (Reap()) return absl::InternalError(absl::StrCat("redis-server exited at start; see ", options_.dir, "/redis.log"));
    asio::io_context io;
    SyncClient c(io);
    last = c.Connect(options_.socket_path);
    if (last.ok()) last = c.Auth(kInternalUser, options_.internal_password);
    if (last.ok()) {
      auto pong = c.Call({"PING"});
      if (pong.ok() && pong->AsString() == "PONG") {
        Log(LogComponent::kChild, LogLevel::kInfo, "child redis-server pid %d ready on %s", pid_, options_.socket_path);
        return absl::OkStatus();
      }
      last = pong.ok() ? absl::UnavailableError(pong->AsString()) : pong.status();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("child redis-server not ready: ", last.message()));
}

void ChildRedis::Kill() {
  if (pid_ <= 0) return;
  // The whole process group: a background save forked by the child dies too,
  // instead of finishing later and renaming its file over a new one.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  ended_by_itself_ = !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL;  // it had exited already
  pid_ = -1;
}

bool ChildRedis::Reap() {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    ended_by_itself_ = true;
    return true;
  }
  return false;
}

std::optional<uint64_t> ChildRedis::MainThreadTicks() const {
  if (pid_ <= 0) return std::nullopt;
  std::ifstream in(absl::StrCat("/proc/", pid_, "/task/", pid_, "/stat"));
  std::string stat;
  std::getline(in, stat);
  // "pid (comm) state ppid ...": utime and stime are the 12th and 13th
  // fields after the comm's closing parenthesis (which the comm may hold).
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string skip;
  for (int i = 0; i < 11 && fields >> skip; ++i) {
  }
  uint64_t utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return utime + stime;
}

std::string ChildRedis::LastLoggedWarning() const {
  std::ifstream in(absl::StrCat(options_.dir, "/redis.log"));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - (64 << 10)));
  std::string line, last;
  while (std::getline(in, line)) {
    // "pid:role 01 Jan 2026 00:00:00.000 # message"
    if (const size_t at = line.find(" # "); at != std::string::npos) last = line.substr(at + 3);
  }
  return last;
}

}  // namespace node
