#include "bench/harness/systems.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/harness/procfs.h"
#include "resp/writer.h"

namespace bench {

namespace fs = std::filesystem;

namespace {

// Pids of spawned processes, readable from a signal handler.
constexpr int kMaxSpawned = 64;
std::atomic<pid_t> g_spawned[kMaxSpawned];

void Register(pid_t pid) {
  for (auto& slot : g_spawned) {
    pid_t zero = 0;
    if (slot.compare_exchange_strong(zero, pid)) return;
  }
}
void Unregister(pid_t pid) {
  for (auto& slot : g_spawned) {
    pid_t p = pid;
    if (slot.compare_exchange_strong(p, 0)) return;
  }
}

// Pidfiles of the nodes of running clusters (anarcho-admin starts them in
// their own sessions, so they outlive this process unless told), as fixed
// buffers a signal handler can read.
constexpr int kMaxPidfiles = 16;
char g_pidfiles[kMaxPidfiles][512];
std::atomic<bool> g_pidfile_set[kMaxPidfiles];

void RegisterPidfile(const std::string& path) {
  if (path.size() >= sizeof(g_pidfiles[0])) return;
  for (int i = 0; i < kMaxPidfiles; ++i) {
    if (!g_pidfile_set[i].load()) {
      memcpy(g_pidfiles[i], path.c_str(), path.size() + 1);
      g_pidfile_set[i].store(true);
      return;
    }
  }
}

void UnregisterPidfilesUnder(const std::string& dir) {
  for (int i = 0; i < kMaxPidfiles; ++i) {
    if (g_pidfile_set[i].load() && absl::StartsWith(g_pidfiles[i], dir + "/")) g_pidfile_set[i].store(false);
  }
}

// Async-signal-safe: open, read, kill.
void TermPidfile(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  pid_t pid = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid = pid * 10 + (buf[i] - '0');
  if (pid > 0) kill(pid, SIGTERM);
}

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string LastLines(const std::string& path, int n) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  size_t from = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0;
  std::vector<std::string> tail(lines.begin() + from, lines.end());
  return absl::StrJoin(tail, " | ");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void KillAllSpawned() {
  for (auto& slot : g_spawned) {
    pid_t p = slot.load();
    if (p > 0) kill(p, SIGTERM);
  }
  for (int i = 0; i < kMaxPidfiles; ++i) {
    if (g_pidfile_set[i].load()) TermPidfile(g_pidfiles[i]);
  }
}

absl::Status BlockingClient::Connect(const std::string& host, int port, double timeout_s) {
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto eps = resolver.resolve(host, std::to_string(port), ec);
  if (ec || eps.empty()) return absl::UnavailableError(absl::StrCat("resolve ", host, ": ", ec.message()));
  socket_.connect(asio::generic::stream_protocol::endpoint(eps.begin()->endpoint()), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", host, ":", port, ": ", ec.message()));
  timeout_ms_ = static_cast<int>(timeout_s * 1000);
  return absl::OkStatus();
}

absl::Status BlockingClient::ConnectUnix(const std::string& path, double timeout_s) {
  asio::error_code ec;
  socket_.connect(asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(path)), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", path, ": ", ec.message()));
  timeout_ms_ = static_cast<int>(timeout_s * 1000);
  return absl::OkStatus();
}

absl::StatusOr<resp::Value> BlockingClient::Call(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  std::string req;
  resp::AppendCommand(&req, std::span<const std::string_view>(views));
  asio::error_code ec;
  asio::write(socket_, asio::buffer(req), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  return ReadReply();
}

absl::StatusOr<uint64_t> BlockingClient::Pipeline(std::string_view requests, size_t count,
                                                  std::string* first_error) {
  asio::error_code ec;
  asio::write(socket_, asio::buffer(requests.data(), requests.size()), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  uint64_t errors = 0;
  for (size_t i = 0; i < count; ++i) {
    auto v = ReadReply();
    if (!v.ok()) return v.status();
    if (v->IsError()) {
      if (errors++ == 0 && first_error) *first_error = v->str;
    }
  }
  return errors;
}

absl::StatusOr<resp::Value> BlockingClient::ReadReply() {
  while (true) {
    if (!in_.empty()) {
      resp::Value v;
      size_t consumed = 0;
      std::string error;
      auto st = resp::ParseValue(in_, &consumed, &v, &error);
      if (st == resp::ParseStatus::kOk) {
        in_.erase(0, consumed);
        return v;
      }
      if (st == resp::ParseStatus::kError) return absl::DataLossError(absl::StrCat("bad reply: ", error));
    }
    // Asio's blocking read ignores SO_RCVTIMEO (it polls again forever), so
    // wait here: a server that never answers must not hang the benchmark.
    pollfd pfd{socket_.native_handle(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, timeout_ms_);
    if (ready == 0) return absl::DeadlineExceededError(absl::StrCat("no reply within ", timeout_ms_, " ms"));
    char buf[65536];
    asio::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
    in_.append(buf, n);
  }
}

int PickFreePortAt(int base, int span) {
  for (int p = base; p < base + span; ++p) {
    if (p == 6379 || p > 65535) return 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(p));
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (!ok) return 0;
  }
  return base;
}

int PickFreePort(int span) {
  static std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> dist(20000, 29000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = dist(rng);
    bool ok = true;
    for (int p = base; p < base + span && ok; ++p) {
      if (p == 6379) ok = false;
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(p));
      if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) ok = false;
      close(fd);
    }
    if (ok) return base;
  }
  return 0;
}

absl::Status WaitReady(const std::string& host, int port, double timeout_s) {
  double deadline = Seconds() + timeout_s;
  absl::Status last = absl::UnavailableError("not tried");
  while (Seconds() < deadline) {
    BlockingClient c;
    last = c.Connect(host, port, 2);
    if (last.ok()) {
      // A data command: an anarchoredis node answers PING without a leader too.
      auto v = c.Call({"EXISTS", "anarcho:ready?"});
      if (v.ok() && v->type == resp::Type::kInteger) return absl::OkStatus();
      last = v.ok() ? absl::UnavailableError(absl::StrCat("EXISTS answered ", v->str)) : v.status();
    }
    SleepMs(50);
  }
  return absl::DeadlineExceededError(absl::StrCat("not ready after ", timeout_s, " s: ", last.message()));
}

absl::StatusOr<std::map<std::string, std::string>> AnarchoStatus(const std::string& host, int port) {
  BlockingClient c;
  if (auto st = c.Connect(host, port, 2); !st.ok()) return st;
  auto v = c.Call({"ANARCHO.STATUS"});
  if (!v.ok()) return v.status();
  if (v->IsError()) return absl::UnavailableError(v->str);
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < v->elements.size(); i += 2) {
    m[absl::AsciiStrToLower(v->elements[i].AsString())] = v->elements[i + 1].AsString();
  }
  return m;
}

absl::Status WaitServing(const std::string& host, int port, double timeout_s) {
  double deadline = Seconds() + timeout_s;
  std::string last;
  while (Seconds() < deadline) {
    auto status = AnarchoStatus(host, port);
    if (!status.ok()) {
      if (absl::StrContains(status.status().message(), "unknown command")) return absl::OkStatus();
      last = std::string(status.status().message());
    } else {
      auto& m = *status;
      if (m["role"] == "leader" && (m["state"].empty() || m["state"] == "serving")) return absl::OkStatus();
      last = absl::StrCat("role ", m["role"], ", state ", m["state"]);
    }
    SleepMs(100);
  }
  return absl::DeadlineExceededError(absl::StrCat("not leading and serving after ", timeout_s, " s: ", last));
}

absl::Status Preload(const std::string& host, int port, const WorkloadSpec& w) {
  bool strings = w.Uses(Op::kGet);
  bool lists = w.Uses(Op::kLrange);
  if (!strings && !lists) return absl::OkStatus();
  BlockingClient c;
  if (auto st = c.Connect(host, port, 30); !st.ok()) return st;
  ValueSource values(w.value_size, w.random_values, 7);
  std::string req;
  size_t count = 0;
  auto flush = [&]() -> absl::Status {
    if (count == 0) return absl::OkStatus();
    std::string first_error;
    auto errors = c.Pipeline(req, count, &first_error);
    if (!errors.ok()) return errors.status();
    if (*errors > 0) return absl::InternalError(absl::StrCat("preload: ", *errors, " errors, first: ", first_error));
    req.clear();
    count = 0;
    return absl::OkStatus();
  };
  for (uint64_t k = 0; k < w.keyspace; ++k) {
    if (strings) {
      std::string key = KeyName('s', k);
      resp::AppendCommand(&req, {"SET", key, values.Next()});
      ++count;
    }
    if (lists) {
      std::string key = KeyName('l', k);
      resp::AppendCommand(&req, {"DEL", key});
      std::string_view v = values.Next();  // ten times the same value: LRANGE reads it, nothing measures its size
      resp::AppendCommand(&req, {"RPUSH", key, v, v, v, v, v, v, v, v, v, v});
      count += 2;
    }
    if (count >= 1000) {
      if (auto st = flush(); !st.ok()) return st;
    }
  }
  return flush();
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    close_range(3, ~0U, 0);  // the harness's sockets stay the harness's
    execvp(cargv[0], cargv.data());
    dprintf(2, "exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  Register(pid);
  return pid;
}

void Terminate(pid_t pid, double timeout_s) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  double deadline = Seconds() + timeout_s;
  while (true) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) break;
    if (Seconds() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    SleepMs(20);
  }
  Unregister(pid);
}

absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv, const std::string& log_path,
                               double timeout_s) {
  auto pid = Spawn(argv, log_path);
  if (!pid.ok()) return pid.status();
  double deadline = Seconds() + timeout_s;
  while (true) {
    int status;
    pid_t r = waitpid(*pid, &status, WNOHANG);
    if (r == *pid) {
      Unregister(*pid);
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (r < 0) {
      Unregister(*pid);
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    }
    if (Seconds() > deadline) {
      Terminate(*pid, 2);
      return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish within ", timeout_s, " s"));
    }
    SleepMs(20);
  }
}

void Aim(const Target& t, LoadOptions& o) {
  o.host = t.host;
  o.port = t.tls ? t.tls_port : t.port;
  o.tls = t.tls;
}

absl::StatusOr<std::string> Systems::TlsCerts() {
  const std::string dir = cfg_.tls_certs.empty() ? ANARCHO_TLS_TESTDATA : cfg_.tls_certs;
  for (const char* f : {"ca.crt", "server.crt", "server.key", "client.crt", "client.key"}) {
    if (!fs::exists(fs::path(dir) / f)) {
      return absl::NotFoundError(absl::StrCat("no ", f, " in ", dir, " (pass --tls_certs DIR)"));
    }
  }
  if (!client_tls_) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    asio::error_code ec;
    ctx->load_verify_file(dir + "/ca.crt", ec);
    if (!ec) ctx->use_certificate_chain_file(dir + "/client.crt", ec);
    if (!ec) ctx->use_private_key_file(dir + "/client.key", asio::ssl::context::pem, ec);
    if (!ec) ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS client files in ", dir, ": ", ec.message()));
    client_tls_ = std::move(ctx);
  }
  return dir;
}

std::string FindBinary(const std::string& flag, const std::string& rel, const std::string& name) {
  if (!flag.empty()) return access(flag.c_str(), X_OK) == 0 ? flag : "";
  std::error_code ec;
  // This binary lives in <build dir>/bench/harness/.
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path candidate = self.parent_path().parent_path().parent_path() / rel;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  const char* path = getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    fs::path candidate = fs::path(dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

absl::Status Systems::Start(const std::vector<std::string>& names) {
  std::string root = cfg_.tmp_root;
  if (root.empty()) root = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  std::string templ = (fs::path(root) / "anarcho-bench-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ, ": ", strerror(errno)));
  }
  tmp_dir_ = templ;
  const std::string node_bin = FindBinary(cfg_.anarchoredis, "node/anarchoredis", "anarchoredis");
  const std::string base_bin =
      cfg_.baseline_anarchoredis.empty() ? "" : FindBinary(cfg_.baseline_anarchoredis, "", "");
  for (const auto& n : names) {
    absl::Status st;
    bool base = n == "anarcho-base" || n == "cluster-base";
    const std::string& bin = base ? base_bin : node_bin;
    if (bin.empty() && (base || n == "anarcho" || n == "cluster" || n == "cluster-tls")) {
      st = absl::NotFoundError(base ? "no baseline binary (pass --baseline_anarchoredis PATH)"
                                    : "anarchoredis binary not found (pass --anarchoredis)");
    } else if (n == "redis") {
      st = StartRedis("redis", false);
    } else if (n == "redis-aof") {
      st = StartRedis("redis-aof", true);
    } else if (n == "redis-tls") {
      st = StartRedis("redis-tls", false, true);
    } else if (n == "cluster-tls") {
      st = StartCluster(bin, "anarcho-3", n, true);
    } else if (n == "anarcho" || n == "anarcho-base") {
      st = StartAnarcho(bin, base ? "base-1" : "anarcho-1");
    } else if (n == "cluster" || n == "cluster-base") {
      st = StartCluster(bin, base ? "base-3" : "anarcho-3", n);
    } else {
      st = absl::InvalidArgumentError(
          "unknown system (known: redis, redis-aof, anarcho, cluster, anarcho-base, cluster-base, redis-tls, "
          "cluster-tls)");
    }
    if (!st.ok()) notes_.push_back(absl::StrCat("skipped ", n, ": ", st.message()));
  }
  return absl::OkStatus();
}

absl::Status Systems::StartRedis(const std::string& name, bool aof, bool tls) {
  std::string dir = (fs::path(tmp_dir_) / name).string();
  fs::create_directories(dir);
  int port = PickFreePort(tls ? 2 : 1);
  if (port == 0) return absl::UnavailableError("no free port");
  std::vector<std::string> argv = {cfg_.redis_server, "--port", std::to_string(port), "--bind", "127.0.0.1",
                                   "--dir", dir, "--save", "", "--daemonize", "no", "--logfile", ""};
  std::string certs;
  if (tls) {
    auto c = TlsCerts();
    if (!c.ok()) return c.status();
    certs = *c;
    argv.insert(argv.end(), {"--tls-port", std::to_string(port + 1), "--tls-cert-file", certs + "/server.crt",
                             "--tls-key-file", certs + "/server.key", "--tls-ca-cert-file", certs + "/ca.crt"});
  }
  if (aof) {
    argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  } else {
    argv.insert(argv.end(), {"--appendonly", "no"});
  }
  std::string log = dir + "/server.log";
  auto pid = Spawn(argv, log);
  if (!pid.ok()) return pid.status();
  procs_.push_back({*pid, name});
  if (auto st = WaitReady("127.0.0.1", port, cfg_.ready_timeout_s); !st.ok()) {
    return absl::UnavailableError(absl::StrCat(st.message(), "; log: ", LastLines(log, 3)));
  }
  Target t;
  t.name = name;
  t.description = aof ? "redis-server --appendonly yes --appendfsync always"
                      : "redis-server --save \"\" --appendonly no";
  if (tls) t.description += " --tls-port (clients with a certificate)";
  t.port = port;
  if (tls) {
    t.tls_port = port + 1;
    t.tls = client_tls_;
  }
  t.pid = *pid;
  targets_.push_back(t);
  return absl::OkStatus();
}

absl::Status Systems::StartAnarcho(const std::string& bin, const std::string& label) {
  std::string dir = (fs::path(tmp_dir_) / label).string();
  fs::create_directories(dir);
  int port = PickFreePort();
  std::string log = dir + ".log";
  auto pid = Spawn({bin, "--port", std::to_string(port), "--dir", dir, "--redis_server", cfg_.redis_server}, log);
  if (!pid.ok()) return pid.status();
  procs_.push_back({*pid, label});
  if (auto st = WaitReady("127.0.0.1", port, cfg_.ready_timeout_s); !st.ok()) {
    return absl::UnavailableError(absl::StrCat(st.message(), "; log: ", LastLines(log, 3)));
  }
  // A Raft node answers PING before it has elected itself: wait until it leads
  // and serves (older nodes without ANARCHO.STATUS are taken as ready).
  if (auto st = WaitServing("127.0.0.1", port, cfg_.ready_timeout_s); !st.ok()) {
    return absl::UnavailableError(absl::StrCat(st.message(), "; log: ", LastLines(log, 3)));
  }
  Target t;
  t.name = label;
  t.description = "one anarchoredis node (" + bin + ")";
  t.port = port;
  t.pid = *pid;
  targets_.push_back(t);
  return absl::OkStatus();
}

std::string Systems::Admin() const {
  return FindBinary(cfg_.anarcho_admin, "tools/anarcho-admin", "anarcho-admin");
}

absl::Status Systems::StartCluster(const std::string& node_bin, const std::string& label,
                                   const std::string& dir_name, bool tls) {
  std::string certs;
  if (tls) {
    auto c = TlsCerts();
    if (!c.ok()) return c.status();
    certs = *c;
  }
  std::string admin = Admin();
  if (admin.empty()) return absl::NotFoundError("anarcho-admin not found (pass --anarcho_admin)");
  std::string dir = (fs::path(tmp_dir_) / dir_name).string();
  fs::create_directories(dir);
  std::string log = (fs::path(tmp_dir_) / (dir_name + "-admin.log")).string();
  // Node i serves clients on base+i-1 and Raft on base+100+i-1 (anarcho-admin's layout).
  int base = 0;
  for (int attempt = 0; attempt < 20 && base == 0; ++attempt) {
    base = PickFreePort(10);
    if (base != 0 && PickFreePortAt(base + 100, 10) == 0) base = 0;
    if (base != 0 && tls && PickFreePortAt(base + 200, 10) == 0) base = 0;  // TLS: base+200+i-1
  }
  if (base == 0) return absl::UnavailableError("no free port range for the cluster");
  std::vector<std::string> argv = {admin,   "cluster", "start",   "--dir", dir, "--nodes", "3", "--base_port",
                                   std::to_string(base), "--timeout_s", std::to_string(static_cast<int>(cfg_.ready_timeout_s)),
                                   "--node_bin", node_bin};
  // One argument: a value starting with "--" must not be taken for a flag.
  if (!cfg_.node_args.empty()) argv.push_back("--node_args=" + absl::StrJoin(cfg_.node_args, ","));
  if (tls) argv.insert(argv.end(), {"--tls_certs", certs});
  auto rc = RunCommand(argv, log, cfg_.ready_timeout_s + 30);
  if (!rc.ok()) return rc.status();
  if (*rc != 0) {
    // It may have started some nodes before failing.
    (void)RunCommand({admin, "cluster", "stop", "--dir", dir}, log + ".stop", 30);
    return absl::UnavailableError(absl::StrCat("`anarcho-admin cluster start` exited with ", *rc,
                                               " (no cluster command yet?): ", LastLines(log, 2)));
  }
  cluster_dirs_.push_back(dir);  // from here on, Stop() runs `cluster stop`
  for (int i = 1; i <= 3; ++i) RegisterPidfile(absl::StrCat(dir, "/n", i, "/pid"));  // and a signal kills them
  return WaitClusterTargets(dir, log, base, label, node_bin, tls);
}

// Finds the leader and a follower among the ports the admin tool printed
// ("127.0.0.1:PORT" or "port PORT") and the base port range.
absl::Status Systems::WaitClusterTargets(const std::string& dir, const std::string& log, int base,
                                         const std::string& label, const std::string& node_bin, bool tls) {
  std::set<int> candidates;
  std::string out = ReadAll(log);
  std::regex port_re(R"((?::|port[ =:]*|-p )(\d{2,5}))", std::regex::icase);
  for (auto it = std::sregex_iterator(out.begin(), out.end(), port_re); it != std::sregex_iterator(); ++it) {
    int p = std::atoi((*it)[1].str().c_str());
    if (p > 0 && p < 65536 && p != 6379) candidates.insert(p);
  }
  for (int p = base; p < base + 10; ++p) candidates.insert(p);
  double deadline = Seconds() + cfg_.ready_timeout_s;
  while (true) {
    int leader = 0;
    std::vector<int> followers;
    for (int p : candidates) {
      auto status = AnarchoStatus("127.0.0.1", p);
      if (!status.ok()) continue;
      const std::string& role = (*status)["role"];
      const std::string& state = (*status)["state"];
      if (role == "leader" && (state.empty() || state == "serving")) leader = p;
      if (role == "follower") followers.push_back(p);
    }
    if (leader != 0 && !followers.empty()) {
      const std::string suffix = tls ? "-tls" : "";
      const std::string with_tls = tls ? " over TLS; TLS Raft links and forwarding" : "";
      Target t;
      t.cluster_dir = dir;
      if (tls) t.tls = client_tls_;
      t.name = label + "-leader" + suffix;
      t.description =
          absl::StrCat("three-node anarchoredis cluster, clients on the leader", with_tls, " (", node_bin, ")");
      t.port = leader;
      if (tls) t.tls_port = leader + 200;  // anarcho-admin's layout
      targets_.push_back(t);
      t.name = label + "-follower" + suffix;
      t.description =
          absl::StrCat("three-node anarchoredis cluster, clients on a follower", with_tls, " (", node_bin, ")");
      t.port = followers.front();
      if (tls) t.tls_port = t.port + 200;
      targets_.push_back(t);
      return absl::OkStatus();
    }
    if (Seconds() > deadline) {
      return absl::UnavailableError(absl::StrCat("cluster started but no leader and follower answered ",
                                                 "ANARCHO.STATUS within ", cfg_.ready_timeout_s, " s"));
    }
    SleepMs(200);
  }
}

void Systems::Stop() {
  for (const std::string& dir : cluster_dirs_) {
    UnregisterPidfilesUnder(dir);
    auto rc = RunCommand({Admin(), "cluster", "stop", "--dir", dir}, dir + "-stop.log", 30);
    if (!rc.ok() || *rc != 0) {
      notes_.push_back("`anarcho-admin cluster stop` failed: its nodes may still run (dir " + dir + ")");
    }
  }
  cluster_dirs_.clear();
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) Terminate(it->pid);
  procs_.clear();
  targets_.clear();
  if (!tmp_dir_.empty() && !cfg_.keep_tmp) {
    std::error_code ec;
    fs::remove_all(tmp_dir_, ec);
  }
  tmp_dir_.clear();
}

std::vector<pid_t> SystemRoots(const Target& t) {
  std::vector<pid_t> roots;
  if (t.pid > 0) roots.push_back(t.pid);
  if (!t.cluster_dir.empty()) {
    for (pid_t p : PidsWithArgUnder(t.cluster_dir)) roots.push_back(p);
  }
  return roots;
}

}  // namespace bench
