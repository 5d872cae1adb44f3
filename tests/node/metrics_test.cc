// The node's metrics and their HTTP endpoint (node/metrics.h, metrics_endpoint.h).
#include "node/metrics.h"

#include <sys/socket.h>

#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "node/front/reply_slots.h"
#include "node/metrics_endpoint.h"

namespace node {
namespace {

// The value of the sample `series` (name with labels) in a text exposition.
double Sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  ADD_FAILURE() << "no sample " << series << " in\n" << text;
  return -1;
}

TEST(MetricsTest, GaugesComeFromTheViewAtRenderTime) {
  Metrics m;
  MetricsView v;
  v.role = "leader";
  v.term = 7;
  v.commit = 100;
  v.applied = 90;
  v.match = {{2, 95}, {3, 80}};
  v.connected = {{2, true}, {3, false}};
  const std::string text = m.Render(v);
  EXPECT_EQ(Sample(text, "anarcho_raft_term"), 7);
  EXPECT_EQ(Sample(text, "anarcho_raft_apply_lag_entries"), 10);
  EXPECT_EQ(Sample(text, "anarcho_raft_role{role=\"leader\"}"), 1);
  EXPECT_EQ(Sample(text, "anarcho_raft_role{role=\"follower\"}"), 0);
  EXPECT_EQ(Sample(text, "anarcho_peer_match_index{peer=\"3\"}"), 80);
  EXPECT_EQ(Sample(text, "anarcho_peer_connected{peer=\"3\"}"), 0);
  EXPECT_EQ(Sample(text, "anarcho_follower_reads_total"), 0);
  // A removed peer's series go away.
  v.role = "follower";
  v.match = {{2, 96}};
  v.connected = {{2, true}};
  v.follower_reads = 42;
  v.follower_reads_waiting = 3;
  const std::string after = m.Render(v);
  EXPECT_EQ(Sample(after, "anarcho_follower_reads_total"), 42) << "the node's count, as a counter";
  EXPECT_EQ(Sample(after, "anarcho_follower_reads_waiting"), 3);
  v.follower_reads = 50;
  EXPECT_EQ(Sample(m.Render(v), "anarcho_follower_reads_total"), 50);
  // The node's other counts, followed the same way.
  v.tls_handshakes = 7;
  v.tls_handshakes_failed = 2;
  v.peer_handshakes_refused = 3;
  v.peer_links_silent = 4;
  v.relay_sessions_ended = 6;
  v.relay_links_stalled = 8;
  const std::string counted = m.Render(v);
  EXPECT_EQ(Sample(counted, "anarcho_tls_handshakes_total"), 7);
  EXPECT_EQ(Sample(counted, "anarcho_tls_handshakes_failed_total"), 2);
  EXPECT_EQ(Sample(counted, "anarcho_peer_handshakes_refused_total"), 3);
  EXPECT_EQ(Sample(counted, "anarcho_peer_links_silent_total"), 4);
  EXPECT_EQ(Sample(counted, "anarcho_relay_sessions_ended_total"), 6);
  EXPECT_EQ(Sample(counted, "anarcho_relay_links_stalled_total"), 8);
  v.tls_handshakes_failed = 5;
  EXPECT_EQ(Sample(m.Render(v), "anarcho_tls_handshakes_failed_total"), 5);
  EXPECT_EQ(after.find("peer=\"3\""), std::string::npos) << after;
  EXPECT_EQ(Sample(after, "anarcho_raft_role{role=\"leader\"}"), 0);
}

TEST(MetricsTest, CountersAndHistogramsMove) {
  Metrics m;
  m.CountError("-TRYAGAIN no leader\r\n", Metrics::ErrorKind::kRefused);
  m.CountError("UNKNOWN outcome", Metrics::ErrorKind::kOther, 3);
  m.CountError("-ERR SAVE is not allowed", Metrics::ErrorKind::kRefused);
  m.CountError("EXECABORT", Metrics::ErrorKind::kOther);
  m.OnLogWrite(std::chrono::milliseconds(2), 5, 500, true);
  m.OnLogWrite(std::chrono::milliseconds(1), 1, 50, false);
  m.OnLeaderChange();
  m.OnElection();
  const std::string text = m.Render({});
  EXPECT_EQ(Sample(text, "anarcho_client_errors_total{kind=\"tryagain\"}"), 1);
  EXPECT_EQ(Sample(text, "anarcho_client_errors_total{kind=\"unknown\"}"), 3);
  EXPECT_EQ(Sample(text, "anarcho_client_errors_total{kind=\"refused\"}"), 1);
  EXPECT_EQ(Sample(text, "anarcho_client_errors_total{kind=\"other\"}"), 1);
  EXPECT_EQ(Sample(text, "anarcho_log_entries_total"), 6);
  EXPECT_EQ(Sample(text, "anarcho_log_entry_bytes_total"), 550);
  EXPECT_EQ(Sample(text, "anarcho_log_fsync_duration_seconds_count"), 1);  // only synced writes
  EXPECT_EQ(Sample(text, "anarcho_log_sync_batch_entries_sum"), 5);
  EXPECT_EQ(Sample(text, "anarcho_raft_leader_changes_total"), 1);
  EXPECT_EQ(Sample(text, "anarcho_raft_elections_started_total"), 1);
}

TEST(MetricsTest, RequestLatencyBucketsAreCumulative) {
  Metrics m;
  m.requests().Observe(RequestClass::kWrite, std::chrono::microseconds(40));
  m.requests().Observe(RequestClass::kWrite, std::chrono::microseconds(700));
  m.requests().Observe(RequestClass::kWrite, std::chrono::seconds(10));
  m.requests().Observe(RequestClass::kRead, std::chrono::microseconds(100));
  const std::string text = m.Render({});
  const std::string w = "anarcho_request_duration_seconds_bucket{class=\"write\",le=";
  EXPECT_EQ(Sample(text, w + "\"5e-05\"}"), 1);
  EXPECT_EQ(Sample(text, w + "\"0.001\"}"), 2);
  EXPECT_EQ(Sample(text, w + "\"5\"}"), 2);
  EXPECT_EQ(Sample(text, w + "\"+Inf\"}"), 3);
  EXPECT_EQ(Sample(text, "anarcho_request_duration_seconds_count{class=\"write\"}"), 3);
  EXPECT_EQ(Sample(text, "anarcho_request_duration_seconds_bucket{class=\"read\",le=\"0.0001\"}"), 1);
}

TEST(MetricsTest, RepliesLeavingSlotsAreTimedOnce) {
  RequestLatency latency;
  ReplySlots slots;
  OutputQueue out;
  const auto arrived = std::chrono::steady_clock::now();
  const ReplySlots::Id a = slots.Add(RequestTiming{arrived, RequestClass::kRead});
  const ReplySlots::Id b = slots.Add(RequestTiming{arrived, RequestClass::kWrite});
  slots.Add();  // not timed
  slots.SetReply(a, ByteBlock(std::string("+a\r\n")));
  slots.Release(a);
  slots.Flush(&out, &latency);
  EXPECT_EQ(latency.of(RequestClass::kRead).count, 1u);
  EXPECT_EQ(latency.of(RequestClass::kWrite).count, 0u);  // its reply has not left
  slots.SetReply(b, ByteBlock(std::string("+b\r\n")));
  slots.Release(b);
  slots.Flush(&out, &latency);
  slots.Flush(&out, &latency);
  EXPECT_EQ(latency.of(RequestClass::kRead).count, 1u);
  EXPECT_EQ(latency.of(RequestClass::kWrite).count, 1u);
}

TEST(MetricsEndpointTest, AnswersGetMetricsAndRefusesTheRest) {
  auto render = [] { return std::string("anarcho_up 1\n"); };
  const std::string ok = MetricsEndpoint::Respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", render);
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Length: 13\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\r\n\r\nanarcho_up 1\n"), std::string::npos) << ok;
  const std::string head = MetricsEndpoint::Respond("HEAD /metrics HTTP/1.0\r\n\r\n", render);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_EQ(MetricsEndpoint::Respond("GET /other HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(MetricsEndpoint::Respond("POST /metrics HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(MetricsEndpoint::Respond("*1\r\n$4\r\nPING\r\n\r\n", render).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(MetricsEndpoint::Respond("", render).rfind("HTTP/1.1 400", 0), 0u);
}

// An endpoint on a loop of its own thread, and raw connections to it.
class LiveEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(endpoint_.Listen("127.0.0.1", 0));
    loop_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { endpoint_.Stop(); });
    work_.reset();
    io_.stop();
    loop_.join();
  }
  std::unique_ptr<asio::ip::tcp::socket> Connect() {
    auto s = std::make_unique<asio::ip::tcp::socket>(client_io_);
    asio::error_code ec;
    s->connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(endpoint_.port())}, ec);
    EXPECT_FALSE(ec) << ec.message();
    return s;
  }
  // What the endpoint sent on `s` until it closed it, or until 3 s passed.
  static std::string ReadAll(asio::ip::tcp::socket& s) {
    timeval tv{3, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    char buf[4096];
    asio::error_code ec;
    for (size_t n; (n = s.read_some(asio::buffer(buf), ec)) > 0 || !ec;) out.append(buf, n);
    return out;
  }
  size_t OpenOnTheLoop() {
    std::promise<size_t> open;
    asio::post(io_, [&] { open.set_value(endpoint_.open_connections()); });
    return open.get_future().get();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{asio::make_work_guard(io_)};
  MetricsEndpoint endpoint_{io_, [] { return std::string("anarcho_up 1\n"); }};
  std::thread loop_;
  asio::io_context client_io_;
};

// Regression: a request whose lines end in a bare LF (printf 'GET /metrics
// HTTP/1.1\n\n' | nc) was never answered: the endpoint waited for CRLF CRLF
// until its deadline closed the connection. HTTP servers accept bare LFs.
TEST_F(LiveEndpointTest, ARequestWithBareLineFeedsIsAnswered) {
  EXPECT_TRUE(MetricsEndpoint::HeadComplete("GET /metrics HTTP/1.1\n\n"));
  EXPECT_TRUE(MetricsEndpoint::HeadComplete("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(MetricsEndpoint::HeadComplete("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  auto render = [] { return std::string("anarcho_up 1\n"); };
  EXPECT_EQ(MetricsEndpoint::Respond("GET /metrics HTTP/1.1\nHost: x\n\n", render).rfind("HTTP/1.1 200 OK", 0), 0u);
  auto s = Connect();
  asio::write(*s, asio::buffer(std::string("GET /metrics HTTP/1.1\n\n")));
  const auto start = std::chrono::steady_clock::now();
  const std::string response = ReadAll(*s);
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("anarcho_up 1"), std::string::npos) << response;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "answered only at the deadline";
}

// Regression: the endpoint kept every connection it accepted (until its 5 s
// deadline), with no authentication: idle connections from anyone who
// reached the port took every descriptor the node had. Past
// kMaxConnections, a connection is closed as it is accepted; once one of the
// others ends, a scrape is served again.
TEST_F(LiveEndpointTest, ConnectionsPastTheCapAreClosedAtOnce) {
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> idle;
  for (size_t i = 0; i < MetricsEndpoint::kMaxConnections; ++i) idle.push_back(Connect());
  for (int i = 0; i < 200 && OpenOnTheLoop() < MetricsEndpoint::kMaxConnections; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(OpenOnTheLoop(), MetricsEndpoint::kMaxConnections);
  auto extra = Connect();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadAll(*extra), "") << "a connection past the cap";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "not closed at once";
  EXPECT_EQ(OpenOnTheLoop(), MetricsEndpoint::kMaxConnections);
  idle.front()->close();
  idle.erase(idle.begin());
  for (int i = 0; i < 200 && OpenOnTheLoop() >= MetricsEndpoint::kMaxConnections; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto scrape = Connect();
  asio::write(*scrape, asio::buffer(std::string("GET /metrics HTTP/1.1\r\n\r\n")));
  EXPECT_EQ(ReadAll(*scrape).rfind("HTTP/1.1 200 OK", 0), 0u);
}

}  // namespace
}  // namespace node
