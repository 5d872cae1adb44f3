// node::CommandTable on the front end's hot path: Lookup and GetKeys for every
// request. The table is built from a recorded `COMMAND` reply
// (tests/node/testdata/command_reply.resp) if present, otherwise from a
// redis-server started on a temporary unix socket.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "asio.hpp"
#include "benchmark/benchmark.h"
#include "node/front/command_table.h"
#include "node/front/request_router.h"
#include "node/child/sync_client.h"
#include "resp/value.h"

namespace {

std::optional<node::CommandTable> g_table;

absl::StatusOr<resp::Value> RecordedReply() {
  std::ifstream in(ANARCHO_COMMAND_REPLY, std::ios::binary);
  if (!in) return absl::NotFoundError("no recorded COMMAND reply");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(data, &consumed, &v, &error) != resp::ParseStatus::kOk) {
    return absl::DataLossError("bad recorded reply: " + error);
  }
  return v;
}

// Starts redis-server on a unix socket in a temporary directory and asks it.
absl::StatusOr<resp::Value> LiveReply() {
  std::string dir = "/tmp/anarcho-commands-bench-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp");
  std::string sock = dir + "/redis.sock";
  pid_t pid = fork();
  if (pid == 0) {
    close_range(3, ~0U, 0);
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock.c_str(), "--save", "",
           "--appendonly", "no", "--dir", dir.c_str(), "--logfile", (dir + "/log").c_str(), nullptr);
    _exit(127);
  }
  absl::StatusOr<resp::Value> reply = absl::UnavailableError("redis-server did not answer");
  for (int i = 0; i < 100; ++i) {
    asio::io_context io;
    node::SyncClient c(io);
    if (c.Connect(sock).ok()) {
      reply = c.Call({"COMMAND"});
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return reply;
}

const node::CommandTable& Table() {
  if (!g_table) {
    auto reply = RecordedReply();
    if (!reply.ok()) reply = LiveReply();
    if (!reply.ok()) {
      std::cerr << "no COMMAND reply: " << reply.status().message() << "\n";
      std::exit(1);
    }
    auto t = node::CommandTable::FromCommandReply(*reply);
    if (!t.ok()) {
      std::cerr << "CommandTable: " << t.status().message() << "\n";
      std::exit(1);
    }
    g_table.emplace(std::move(*t));
  }
  return *g_table;
}

// Requests on the hot path, and a few with harder key specs.
const std::vector<std::vector<std::string_view>>& Requests() {
  static const std::vector<std::vector<std::string_view>> r = {
      {"GET", "key:1"},
      {"set", "key:1", "value"},
      {"MSET", "k1", "v", "k2", "v", "k3", "v", "k4", "v", "k5", "v"},
      {"ZUNIONSTORE", "dst", "3", "a", "b", "c", "WEIGHTS", "1", "2", "3"},
      {"XREAD", "COUNT", "10", "STREAMS", "s1", "s2", "0", "0"},
      {"CONFIG", "GET", "maxmemory"},
      {"EVAL", "return 1", "2", "k1", "k2"},
  };
  return r;
}

void BM_Lookup(benchmark::State& state) {
  const auto& table = Table();
  const auto& args = Requests()[state.range(0)];
  state.SetLabel(std::string(args[0]));
  for (auto _ : state) {
    const node::CommandSpec* spec = table.Lookup(args);
    benchmark::DoNotOptimize(spec);
  }
}
BENCHMARK(BM_Lookup)->DenseRange(0, 6);

void BM_LookupUnknown(benchmark::State& state) {
  const auto& table = Table();
  std::vector<std::string_view> args = {"NOSUCHCOMMAND", "x"};
  for (auto _ : state) benchmark::DoNotOptimize(table.Lookup(args));
}
BENCHMARK(BM_LookupUnknown);

void BM_LookupAndGetKeys(benchmark::State& state) {
  const auto& table = Table();
  const auto& args = Requests()[state.range(0)];
  state.SetLabel(std::string(args[0]));
  const node::CommandSpec* spec = table.Lookup(args);
  if (spec == nullptr) {
    state.SkipWithError("unknown command");
    return;
  }
  for (auto _ : state) {
    const node::CommandSpec* s = table.Lookup(args);
    node::Keys keys = node::CommandTable::GetKeys(*s, args);
    benchmark::DoNotOptimize(keys);
  }
}
BENCHMARK(BM_LookupAndGetKeys)->DenseRange(0, 6);

// A session's routing of one request, as ClientSession does it on the leader:
// whether it may take the shared link, then the route.
void BM_Route(benchmark::State& state) {
  node::RequestRouter router(Table());
  const auto& args = Requests()[state.range(0)];
  state.SetLabel(std::string(args[0]));
  node::RouteContext ctx;
  ctx.bind = "127.0.0.1";
  ctx.port = 6379;
  for (auto _ : state) {
    benchmark::DoNotOptimize(router.Shareable(args, ctx));
    node::Route r = router.Decide(args, ctx);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Route)->DenseRange(0, 2);

void BM_BuildTable(benchmark::State& state) {
  auto reply = RecordedReply();
  if (!reply.ok()) reply = LiveReply();
  if (!reply.ok()) {
    state.SkipWithError("no COMMAND reply");
    return;
  }
  for (auto _ : state) {
    auto t = node::CommandTable::FromCommandReply(*reply);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_BuildTable)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
