// The node's metrics and their HTTP endpoint (node/metrics.h, metrics_endpoint.h).
#include "node/metrics.h"

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

}  // namespace
}  // namespace node
