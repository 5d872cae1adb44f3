// Real processes for integration tests: anarchoredis nodes, plain redis-servers
// as a reference, and a blocking RESP client. Everything on loopback, in temp dirs.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asio.hpp"
#include "resp/value.h"

namespace itest {

// A port nobody listens on right now (bound to 0 and released).
int FreePort();
// A --base-port for `anarcho-admin cluster start` of up to `nodes` nodes:
// each node's client, Raft and TLS ports (base + i, + 100 + i, + 200 + i)
// free right now. (A free base alone let another test's port be a node's
// Raft port: "raft listen ...: Address already in use".)
int FreeBasePort(int nodes = 3);
std::string MakeTempDir(const std::string& prefix);
void RemoveDir(const std::string& dir);

// Blocking RESP client over TCP.
class Client {
 public:
  explicit Client(int port);
  bool connected() const { return connected_; }
  // Sends args as a multibulk request and reads one reply.
  resp::Value Call(std::vector<std::string> args);
  // Raw bytes out; decoded replies in.
  void Send(std::string_view bytes);
  // Reads one reply; nullopt on timeout or closed connection.
  std::optional<resp::Value> Read(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Reads one reply's raw bytes.
  std::optional<std::string> ReadRaw(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // True if the server closed the connection (read returns EOF) within timeout.
  bool ClosedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Shuts the sending side down (the server reads the end of the input).
  void ShutdownSend();
  // Closes with a reset (SO_LINGER 0): the server's next read fails, as when
  // a client's host goes away mid-request.
  void CloseAbruptly();
  // Every byte the server sends until it closes the connection (what was
  // read but not yet returned by Read included); nullopt if it did not close
  // within timeout.
  std::optional<std::string> ReadUntilClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  bool Fill(std::chrono::milliseconds timeout);

  asio::io_context io_;
  asio::ip::tcp::socket socket_{io_};
  bool connected_ = false;
  std::string in_;
};

std::string Str(const resp::Value& v);  // a compact rendering for assertions
// used_memory in a reply to INFO (memory); -1 if it has none.
int64_t UsedMemory(const resp::Value& info);

// Runs a shell command to its end: its standard output, and its exit status.
struct ShellResult {
  std::string out;
  int status = -1;
};
ShellResult RunShell(const std::string& command);

// A request as a client sends it (a multibulk).
std::string Req(std::initializer_list<std::string_view> args);

// Sends `setup` (after a FLUSHALL), then `requests` pipelined, to `port` and to
// a fresh plain redis-server, and compares the raw replies: the first
// difference, described, or empty if there is none.
std::string DifferenceFromRedis(int port, const std::vector<std::string>& requests,
                                const std::vector<std::string>& setup = {});

// Sends a pipeline whose requests move between a session's own connection and
// a shared link (SELECT, MULTI, WATCH, HELLO 3 and 2, a value over 64 KB, a
// blocking command, inline requests) to `port` and to a fresh plain
// redis-server: the first difference, described, or empty if there is none.
// HELLO's replies name the connection's id: only their types are compared.
std::string PipelineAcrossLinksDifference(int port);

// A process started by the test, killed with the test.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  ~Process() { Kill(); }
  // `open_files` > 0: the process's open-file limit (soft and hard).
  void Start(const std::vector<std::string>& argv, const std::string& log_path, rlim_t open_files = 0);
  void Kill(int sig = 9);   // and reap
  void Signal(int sig);     // without reaping (SIGSTOP/SIGCONT)
  bool Running();
  pid_t pid() const { return pid_; }
  // Once Running() saw it end: its exit status (-1 if a signal ended it).
  int ExitCode() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Waits until `port` answers PING (or anything); false on timeout.
bool WaitReady(int port, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// One anarchoredis node with its own dir.
class Node {
 public:
  explicit Node(std::string dir, int port = 0, std::vector<std::string> extra = {});
  ~Node();
  void Start();  // Launch() and WaitUntilReady()
  // Starts the process without waiting. Call from the thread that owns the
  // test: the process dies with the thread that started it (PR_SET_PDEATHSIG).
  void Launch();
  void WaitUntilReady();
  void Kill9();
  void Stop();   // SIGTERM
  // From the next launch on, the node may open at most `n` files.
  void LimitOpenFiles(rlim_t n) { open_files_ = n; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  Process& process() { return process_; }
  pid_t ChildPid();  // the node's redis-server
  std::string Status(const std::string& field);  // an ANARCHO.STATUS field ("" if absent)
  std::string LogTail();

 private:
  std::string dir_;
  int port_;
  std::vector<std::string> extra_;
  rlim_t open_files_ = 0;
  Process process_;
};

// A plain redis-server, the reference for Redis behaviour.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_;
  Process process_;
};

}  // namespace itest
