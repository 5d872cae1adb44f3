// The load generator against a tiny in-process server that answers +OK to
// every request and stalls once: open loop must charge the stall to every
// request that was due during it (no coordinated omission).
#include "bench/harness/load_generator.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "asio.hpp"
#include "gtest/gtest.h"
#include "resp/request_parser.h"

namespace bench {
namespace {

class StallingServer {
 public:
  // Answers every request with +OK; once, `stall_after` after the first
  // request, sleeps for `stall` before answering.
  StallingServer(std::chrono::milliseconds stall_after, std::chrono::milliseconds stall)
      : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, stall_after, stall] { Serve(stall_after, stall); });
  }
  ~StallingServer() {
    asio::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  int port() const { return port_; }
  uint64_t requests() const { return requests_; }

 private:
  void Serve(std::chrono::milliseconds stall_after, std::chrono::milliseconds stall) {
    asio::error_code ec;
    asio::ip::tcp::socket s(io_);
    acceptor_.accept(s, ec);
    if (ec) return;
    resp::RequestParser parser;
    std::string in;
    char buf[65536];
    bool stalled = false;
    auto first = std::chrono::steady_clock::time_point();
    while (true) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) return;
      in.append(buf, n);
      std::string out;
      size_t pos = 0;
      while (true) {
        size_t consumed = 0;
        std::vector<std::string_view> args;
        std::string error;
        if (parser.Parse(std::string_view(in).substr(pos), &consumed, &args, &error) != resp::ParseStatus::kOk) break;
        pos += consumed;
        out += "+OK\r\n";
        ++requests_;
      }
      in.erase(0, pos);
      auto now = std::chrono::steady_clock::now();
      if (first == std::chrono::steady_clock::time_point()) first = now;
      if (!stalled && now - first > stall_after) {
        stalled = true;
        std::this_thread::sleep_for(stall);
      }
      asio::write(s, asio::buffer(out), ec);
      if (ec) return;
    }
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  int port_;
  std::thread thread_;
  std::atomic<uint64_t> requests_{0};
};

TEST(LoadGenerator, OpenLoopChargesStallsToEveryDelayedRequest) {
  StallingServer server(std::chrono::milliseconds(500), std::chrono::milliseconds(300));
  auto w = ParseWorkload("set");
  ASSERT_TRUE(w.ok());
  LoadOptions o;
  o.port = server.port();
  o.connections = 1;
  o.rate = 1000;
  o.warmup_s = 0;
  o.duration_s = 1.5;
  LoadResult r = RunLoad(o, *w);
  EXPECT_EQ(r.error_count(), 0u);
  EXPECT_EQ(r.sent, r.completed);
  EXPECT_NEAR(static_cast<double>(r.measured), 1500, 20);
  // About 300 of 1500 requests were due during the 300 ms stall, waiting
  // 0..300 ms: a tenth waited over 150 ms. A generator that measured from the
  // actual send would see one slow request, and p90 near zero.
  EXPECT_GE(r.latency.max(), 250'000'000);
  EXPECT_GE(r.latency.ValueAtQuantile(0.9), 50'000'000);
}

TEST(LoadGenerator, ClosedLoopPipelinesAndCountsRequests) {
  StallingServer server(std::chrono::hours(1), std::chrono::milliseconds(0));
  auto w = ParseWorkload("mixed");
  ASSERT_TRUE(w.ok());
  LoadOptions o;
  o.port = server.port();
  o.connections = 1;
  o.pipeline = 16;
  o.warmup_s = 0.05;
  o.requests = 2000;
  LoadResult r = RunLoad(o, *w);
  // +OK is not what EXEC returns: every MULTI group counts as exec-aborted, and
  // nothing else is an error.
  uint64_t multis = r.ops_by_op[static_cast<int>(Op::kMulti)];
  EXPECT_GT(multis, 0u);
  EXPECT_GT(r.errors["exec-aborted"], 0u);
  EXPECT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.measured, 2000u);
  EXPECT_EQ(r.sent, r.completed);
  EXPECT_EQ(r.measured_ok + multis, 2000u);
}

// (The selftest runs new-connection loads against redis-server, plain and TLS,
// and checks that it accepted a connection for each operation.)
TEST(LoadGenerator, NewConnectionWorkloadsAreClosedLoopOnly) {
  auto w = ParseWorkload("connect");
  ASSERT_TRUE(w.ok());
  LoadOptions o;
  o.port = 1;
  o.rate = 1000;
  LoadResult r = RunLoad(o, *w);
  EXPECT_EQ(r.sent, 0u);
  EXPECT_EQ(r.errors["new-connection workloads run closed loop only"], 1u);
}

TEST(LoadGenerator, PublishesProgressWhileItRuns) {
  StallingServer server(std::chrono::hours(1), std::chrono::milliseconds(0));
  auto w = ParseWorkload("set");
  ASSERT_TRUE(w.ok());
  LoadProgress progress;
  LoadOptions o;
  o.port = server.port();
  o.connections = 1;  // the server takes one
  o.pipeline = 4;
  o.warmup_s = 0;
  o.duration_s = 1;
  o.progress = &progress;
  LoadResult r;
  std::thread load([&] { r = RunLoad(o, *w); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  uint64_t midway = progress.completed.load();
  load.join();
  EXPECT_GT(midway, 0u);
  EXPECT_LT(midway, r.completed);
  EXPECT_EQ(progress.completed.load(), r.completed);
  EXPECT_EQ(progress.errors.load(), r.error_count());
}

// Whatever the timing, the rows run from second 0 without a gap, and hold
// every answered operation and every error once.
void ExpectPerSecondAccountsForEverything(const LoadResult& r) {
  uint64_t ops = 0, errors = 0;
  for (size_t i = 0; i < r.per_second.size(); ++i) {
    EXPECT_EQ(r.per_second[i].second, static_cast<int64_t>(i));
    ops += r.per_second[i].ops;
    errors += r.per_second[i].errors;
  }
  EXPECT_EQ(ops, r.completed);
  EXPECT_EQ(errors, r.error_count());
}

TEST(LoadGenerator, PerSecondRowsHoldEveryOperationOnce) {
  StallingServer server(std::chrono::milliseconds(300), std::chrono::milliseconds(200));
  auto w = ParseWorkload("mixed");  // its MULTI groups count as errors (+OK is no EXEC reply)
  ASSERT_TRUE(w.ok());
  LoadOptions o;
  o.port = server.port();
  o.connections = 1;
  o.pipeline = 8;
  o.warmup_s = 0.2;
  o.duration_s = 1.2;
  LoadResult r = RunLoad(o, *w);
  EXPECT_GE(r.per_second.size(), 2u);  // the run lasts at least 1.4 s
  EXPECT_GT(r.error_count(), 0u);
  ExpectPerSecondAccountsForEverything(r);
}

TEST(LoadGenerator, CountsConnectionFailures) {
  // A port nobody listens on: bind one, close it.
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  int port = a.local_endpoint().port();
  a.close();
  auto w = ParseWorkload("get");
  LoadOptions o;
  o.port = port;
  o.connections = 3;
  o.warmup_s = 0;
  o.duration_s = 0.2;
  LoadResult r = RunLoad(o, *w);
  EXPECT_EQ(r.connections_failed, 3);
  EXPECT_EQ(r.error_count(), 3u);
  EXPECT_EQ(r.measured_ok, 0u);
  ExpectPerSecondAccountsForEverything(r);
}

}  // namespace
}  // namespace bench
