#include "harness.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "resp/writer.h"

namespace itest {
namespace fs = std::filesystem;

// A port below the kernel's ephemeral range (ip_local_port_range starts at
// 32768): nodes open listeners on ports the system picks (their children's
// master links), which could otherwise take a port handed out here before the
// node meant to use it binds it. Random, so parallel test binaries rarely meet.
int FreePort() {
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  static std::set<int> given;  // never the same port twice in one test binary
  static std::mutex mu;
  std::lock_guard lock(mu);
  asio::io_context io;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 12000);
    if (given.contains(port)) continue;
    asio::ip::tcp::acceptor a(io);
    asio::error_code ec;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    a.open(ep.protocol(), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) {
      given.insert(port);
      return port;
    }
  }
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

int FreeBasePort(int nodes) {
  asio::io_context io;
  auto bindable = [&io](int port) {
    asio::ip::tcp::acceptor a(io);
    asio::error_code ec;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    a.open(ep.protocol(), ec);
    if (!ec) a.bind(ep, ec);
    return !ec;
  };
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int base = FreePort();
    if (base + 200 + nodes > 65535) continue;
    bool free = true;
    for (int i = 0; i < nodes && free; ++i) {
      for (int offset : {0, 100, 200}) {
        if (i + offset > 0 && !bindable(base + offset + i)) free = false;
      }
    }
    if (free) return base;
  }
  return FreePort();
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

Client::Client(int port) {
  asio::error_code ec;
  socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  connected_ = !ec;
  if (connected_) socket_.set_option(asio::ip::tcp::no_delay(true));
}

void Client::Send(std::string_view bytes) {
  asio::error_code ec;
  asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
}

resp::Value Client::Call(std::vector<std::string> args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  std::string req;
  resp::AppendCommand(&req, views);
  Send(req);
  auto v = Read();
  if (!v) {
    resp::Value err;
    err.type = resp::Type::kError;
    err.str = "TEST: no reply";
    return err;
  }
  return *v;
}

bool Client::Fill(std::chrono::milliseconds timeout) {
  // Wait for readability with a deadline, then read what is there.
  pollfd p{socket_.native_handle(), POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  char buf[65536];
  asio::error_code ec;
  size_t n = socket_.read_some(asio::buffer(buf), ec);
  if (ec || n == 0) return false;
  in_.append(buf, n);
  return true;
}

std::optional<std::string> Client::ReadRaw(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (!in_.empty()) {
      resp::Value v;
      size_t consumed = 0;
      std::string error;
      if (resp::ParseValue(in_, &consumed, &v, &error) == resp::ParseStatus::kOk) {
        std::string raw = in_.substr(0, consumed);
        in_.erase(0, consumed);
        return raw;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !Fill(left)) return std::nullopt;
  }
}

std::optional<resp::Value> Client::Read(std::chrono::milliseconds timeout) {
  auto raw = ReadRaw(timeout);
  if (!raw) return std::nullopt;
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  resp::ParseValue(*raw, &consumed, &v, &error);
  return v;
}

bool Client::ClosedByPeer(std::chrono::milliseconds timeout) { return ReadUntilClosed(timeout).has_value(); }

void Client::ShutdownSend() {
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

void Client::CloseAbruptly() {
  asio::error_code ec;
  socket_.set_option(asio::socket_base::linger(true, 0), ec);
  socket_.close(ec);
  connected_ = false;
}

std::optional<std::string> Client::ReadUntilClosed(std::chrono::milliseconds timeout) {
  std::string out = std::exchange(in_, std::string());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    asio::error_code ec;
    const size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) return out;
    out.append(buf, n);
  }
  return std::nullopt;
}

ShellResult RunShell(const std::string& command) {
  ShellResult r;
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, f)) r.out.append(buf, n);
  const int status = pclose(f);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

int64_t UsedMemory(const resp::Value& info) {
  for (absl::string_view line : absl::StrSplit(info.AsString(), "\r\n")) {
    int64_t n = 0;
    if (absl::ConsumePrefix(&line, "used_memory:") && absl::SimpleAtoi(line, &n)) return n;
  }
  return -1;
}

std::string Str(const resp::Value& v) {
  switch (v.type) {
    case resp::Type::kError: return "(error) " + v.str;
    case resp::Type::kNull: return "(nil)";
    case resp::Type::kInteger: return absl::StrCat("(integer) ", v.integer);
    case resp::Type::kArray:
    case resp::Type::kMap: {
      std::vector<std::string> parts;
      for (const auto& e : v.elements) parts.push_back(Str(e));
      return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
    }
    default: return v.AsString();
  }
}

void Process::Start(const std::vector<std::string>& argv, const std::string& log_path, rlim_t open_files) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    FILE* f = freopen(log_path.c_str(), "a", stderr);
    (void)f;
    int fd = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    // Not the test's sockets: a node holding a copy of a fault proxy's
    // connection keeps it open after the proxy closes it, and the node on the
    // far side never learns that its peer went away.
    close_range(3, ~0U, 0);
    if (open_files > 0) {
      const rlimit limit{open_files, open_files};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
}

void Process::Kill(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, sig);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }
  return true;
}

bool WaitReady(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    Client c(port);
    if (c.connected()) {
      // A data command: PING is answered by a node without a leader too.
      // (NOAUTH comes once it could forward it: a password is set.)
      c.Send("*2\r\n$6\r\nEXISTS\r\n$14\r\nanarcho:ready?\r\n");
      auto v = c.Read(std::chrono::seconds(2));
      if (v && (v->type == resp::Type::kInteger || (v->IsError() && v->str.starts_with("NOAUTH")))) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Node::Node(std::string dir, int port, std::vector<std::string> extra)
    : dir_(std::move(dir)), port_(port ? port : FreePort()), extra_(std::move(extra)) {}

Node::~Node() { process_.Kill(); }

void Node::Start() {
  Launch();
  WaitUntilReady();
}

void Node::Launch() {
  std::vector<std::string> argv = {ANARCHO_NODE_BIN, "--port", absl::StrCat(port_), "--dir", dir_};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  fs::create_directories(dir_);
  process_.Start(argv, dir_ + "/node.log", open_files_);
}

void Node::WaitUntilReady() {
  if (!WaitReady(port_)) {
    fprintf(stderr, "node on port %d did not start:\n%s\n", port_, LogTail().c_str());
    std::abort();
  }
}

void Node::Kill9() { process_.Kill(SIGKILL); }
void Node::Stop() { process_.Kill(SIGTERM); }

pid_t Node::ChildPid() {
  int pid = -1;
  return absl::SimpleAtoi(Status("child_pid"), &pid) ? pid : -1;
}

std::string Node::Status(const std::string& field) {
  Client c(port_);
  resp::Value v = c.Call({"ANARCHO.STATUS"});
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    if (v.elements[i].AsString() == field) return v.elements[i + 1].AsString();
  }
  return "";
}

std::string Node::LogTail() {
  std::ifstream in(dir_ + "/node.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

RedisServer::RedisServer(std::vector<std::string> extra)
    : dir_(MakeTempDir("anarcho-ref")), port_(FreePort()) {
  std::vector<std::string> argv = {"redis-server", "--port", absl::StrCat(port_), "--bind", "127.0.0.1",
                                   "--dir", dir_, "--save", "", "--appendonly", "no", "--daemonize", "no"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  process_.Start(argv, dir_ + "/redis.log");
  if (!WaitReady(port_)) std::abort();
}

RedisServer::~RedisServer() {
  process_.Kill();
  RemoveDir(dir_);
}

std::string Req(std::initializer_list<std::string_view> args) {
  std::string out;
  resp::AppendCommand(&out, args);
  return out;
}

namespace {

// HELLO's reply names the connection's id, which differs between servers.
std::string WithoutHelloId(std::string reply) {
  constexpr std::string_view kId = "$2\r\nid\r\n:";
  if (size_t at = reply.find(kId); at != std::string::npos) {
    const size_t from = at + kId.size();
    reply.replace(from, reply.find('\r', from) - from, "_");
  }
  return reply;
}

}  // namespace

std::string DifferenceFromRedis(int port, const std::vector<std::string>& requests,
                                const std::vector<std::string>& setup) {
  using namespace std::chrono_literals;
  RedisServer ref;
  Client node(port);
  Client plain(ref.port());
  std::vector<std::string> all_setup = {Req({"FLUSHALL"})};
  all_setup.insert(all_setup.end(), setup.begin(), setup.end());
  for (const std::string& r : all_setup) {
    node.Send(r);
    plain.Send(r);
    if (!node.ReadRaw(5s) || !plain.ReadRaw(5s)) return "setup: no reply";
  }
  for (const std::string& r : requests) {
    node.Send(r);
    plain.Send(r);
  }
  std::vector<std::string> want;
  while (auto b = plain.ReadRaw(300ms)) want.push_back(*b);
  for (size_t i = 0;; ++i) {
    std::optional<std::string> a = node.ReadRaw(i < want.size() ? 5s : 200ms);
    if (i == want.size()) {
      if (!a) return "";
      // The node said more than the reference did within 300 ms: unless the
      // reference, paused on a loaded machine, says it too a little later.
      auto late = plain.ReadRaw(2s);
      if (!late) return absl::StrCat("the node said more: ", *a);
      want.push_back(*late);
    }
    if (!a) return absl::StrCat("the node gave no reply ", i, " (redis: ", want[i], ")");
    if (WithoutHelloId(*a) != WithoutHelloId(want[i])) {
      return absl::StrCat("reply ", i, ": the node's ", *a, " redis's ", want[i]);
    }
  }
}

std::string PipelineAcrossLinksDifference(int port) {
  using namespace std::chrono_literals;
  const std::string big(100 * 1024, 'x');
  const std::vector<std::string> requests = {
      Req({"SET", "a", "0"}),        Req({"INCR", "a"}),         Req({"SELECT", "2"}),
      Req({"GET", "a"}),             Req({"SET", "a", "two"}),   Req({"MULTI"}),
      Req({"INCR", "n"}),            Req({"GET", "a"}),          Req({"EXEC"}),
      Req({"INCR", "n"}),            Req({"SELECT", "0"}),       Req({"GET", "a"}),
      Req({"HSET", "h", "f", "v"}),  Req({"HELLO", "3"}),        Req({"HGETALL", "h"}),
      Req({"INCR", "a"}),            Req({"HELLO", "2"}),        Req({"HGETALL", "h"}),
      Req({"WATCH", "a"}),           Req({"SET", "a", "mine"}),  Req({"MULTI"}),
      Req({"GET", "a"}),             Req({"EXEC"}),              Req({"SET", "big", big}),
      Req({"STRLEN", "big"}),        Req({"APPEND", "big", "y"}), Req({"CLIENT", "SETNAME", "c"}),
      Req({"STRLEN", "big"}),        Req({"RPUSH", "l", "1"}),   Req({"BLPOP", "l", "1"}),
      Req({"LLEN", "l"}),            Req({"DEL", "a", "h", "l"}), Req({"EXISTS", "a", "h", "l", "big"}),
      "GET big\r\n",                 "SET inline 1\r\n",         Req({"GET", "inline"})};
  RedisServer ref;
  Client node(port), plain(ref.port());
  for (const std::string& r : requests) {
    node.Send(r);
    plain.Send(r);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    std::optional<std::string> got = node.ReadRaw(10s), want = plain.ReadRaw(10s);
    if (!got || !want) return absl::StrCat("reply ", i, ": none from ", got ? "redis" : "the node");
    const bool hello = requests[i].find("HELLO") != std::string::npos;
    if (hello ? got->substr(0, 2) != want->substr(0, 2) : *got != *want) {
      return absl::StrCat("reply ", i, ": the node's ", *got, " redis's ", *want);
    }
  }
  return "";
}

}  // namespace itest
