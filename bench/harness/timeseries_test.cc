// The per-second aggregation on made-up event times (every operation in
// exactly one second, seconds without events kept), the CPU joined from
// samples, and the CSV and plot script.
#include "bench/harness/timeseries.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

constexpr int64_t kStart = 5'000'000'123;  // an arbitrary steady-clock origin
constexpr int64_t kSec = 1'000'000'000;

std::vector<int64_t> Seconds(const std::vector<SecondRow>& rows) {
  std::vector<int64_t> v;
  for (const auto& r : rows) v.push_back(r.second);
  return v;
}

std::vector<uint64_t> Ops(const std::vector<SecondRow>& rows) {
  std::vector<uint64_t> v;
  for (const auto& r : rows) v.push_back(r.ops);
  return v;
}

std::vector<uint64_t> Errors(const std::vector<SecondRow>& rows) {
  std::vector<uint64_t> v;
  for (const auto& r : rows) v.push_back(r.errors);
  return v;
}

TEST(PerSecond, EveryEventLandsInExactlyOneSecondAndEmptySecondsAreKept) {
  PerSecond p;
  p.Errors(0, 2);  // a connection refused before the load began: second 0
  p.Start(kStart);
  p.Answered(kStart, true, 1500);                  // below 2048 ns the histogram is exact
  p.Answered(kStart + kSec - 1, true, 1700);       // the last nanosecond of second 0
  p.Answered(kStart + kSec, true, 100);            // the first of second 1, not also of second 0
  p.Answered(kStart + kSec + kSec / 2, false, 1);  // an error reply: counted, its latency not
  p.Errors(kStart + kSec + kSec / 2, 1);
  p.Errors(kStart + 2 * kSec + 7, 3);            // nothing answered in second 2
  p.Answered(kStart + 4 * kSec + 1, true, 300);  // nor anything at all in second 3
  std::vector<SecondRow> rows = p.Finish(kStart + 4 * kSec + kSec / 3);

  EXPECT_EQ(Seconds(rows), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Ops(rows), (std::vector<uint64_t>{2, 2, 0, 0, 1}));
  EXPECT_EQ(Errors(rows), (std::vector<uint64_t>{2, 1, 3, 0, 0}));
  // Each second's latency is its own: the histogram is cleared between them.
  EXPECT_EQ(rows[0].max_ns, 1700);
  EXPECT_EQ(rows[0].p50_ns, 1500);
  EXPECT_EQ(rows[1].max_ns, 100);
  EXPECT_EQ(rows[1].p99_ns, 100);
  EXPECT_EQ(rows[2].max_ns, 0);
  EXPECT_EQ(rows[4].p50_ns, 300);
  for (const auto& r : rows) EXPECT_LT(r.cpu_pct, 0);
}

TEST(PerSecond, FinishCarriesTheRowsOnToTheEndThroughASilentStall) {
  PerSecond p;
  p.Start(kStart);
  p.Answered(kStart + 10, true, 1000);
  std::vector<SecondRow> rows = p.Finish(kStart + 3 * kSec + 5);
  EXPECT_EQ(Seconds(rows), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(Ops(rows), (std::vector<uint64_t>{1, 0, 0, 0}));
}

TEST(PerSecond, AnEventStampedBeforeTheCurrentSecondCountsInIt) {
  PerSecond p;
  p.Start(kStart);
  p.Answered(kStart + kSec + 10, true, 1000);
  p.Answered(kStart + kSec - 10, true, 1000);  // read from the clock a little earlier
  std::vector<SecondRow> rows = p.Finish(kStart + kSec + 20);
  EXPECT_EQ(Ops(rows), (std::vector<uint64_t>{0, 2}));
}

TEST(PerSecond, EventsBeforeStartGoToSecondZero) {
  PerSecond p;
  p.Errors(123, 4);
  std::vector<SecondRow> rows = p.Finish(456);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].second, 0);
  EXPECT_EQ(rows[0].errors, 4u);
}

TEST(AttachCpu, InterpolatesBetweenSamplesAndLeavesUncoveredSecondsUnmeasured) {
  std::vector<SecondRow> rows(4);
  for (int i = 0; i < 4; ++i) rows[i].second = i;
  // A tick at 2 s was missed; the last sample is at 3.05 s, so second 3 is not covered.
  AttachCpu({{0.05, 0.0}, {1.0, 0.5}, {3.05, 2.55}}, &rows);
  EXPECT_NEAR(rows[0].cpu_pct, 50, 1e-9);
  EXPECT_NEAR(rows[1].cpu_pct, 100, 1e-9);
  EXPECT_NEAR(rows[2].cpu_pct, 100, 1e-9);
  EXPECT_LT(rows[3].cpu_pct, 0);
}

TEST(AttachCpu, NoSamplesNoCpu) {
  std::vector<SecondRow> rows(2);
  AttachCpu({}, &rows);
  EXPECT_LT(rows[0].cpu_pct, 0);
  EXPECT_LT(rows[1].cpu_pct, 0);
}

TEST(TimeSeriesCsv, FormatsOneLinePerSecondInMicroseconds) {
  SecondRow a{.second = 0,
              .ops = 12345,
              .errors = 0,
              .p50_ns = 310'200,
              .p99_ns = 1'200'500,
              .max_ns = 3'000'100,
              .cpu_pct = 85.25};
  SecondRow b{.second = 1, .ops = 0, .errors = 7};
  EXPECT_EQ(FormatTimeSeriesCsv({a, b}),
            "t_s,ops,errors,p50_us,p99_us,max_us,server_cpu_pct\n"
            "0,12345,0,310.2,1200.5,3000.1,85.2\n"
            "1,0,7,0.0,0.0,0.0,\n");
}

TEST(TimeSeriesCsv, ParsesWhatItFormats) {
  SecondRow a{
      .second = 0, .ops = 9, .errors = 1, .p50_ns = 100'100, .p99_ns = 200'200, .max_ns = 300'300, .cpu_pct = 12.5};
  SecondRow b{.second = 1, .ops = 3};
  auto rows = ParseTimeSeriesCsv(FormatTimeSeriesCsv({a, b}));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  const SecondRow& x = (*rows)[0];
  EXPECT_EQ(x.second, 0);
  EXPECT_EQ(x.ops, 9u);
  EXPECT_EQ(x.errors, 1u);
  EXPECT_EQ(x.p50_ns, 100'100);
  EXPECT_EQ(x.p99_ns, 200'200);
  EXPECT_EQ(x.max_ns, 300'300);
  EXPECT_DOUBLE_EQ(x.cpu_pct, 12.5);
  EXPECT_EQ((*rows)[1].second, 1);
  EXPECT_EQ((*rows)[1].ops, 3u);
  EXPECT_LT((*rows)[1].cpu_pct, 0);
}

TEST(TimeSeriesCsv, RejectsOtherFiles) {
  EXPECT_FALSE(ParseTimeSeriesCsv("system,workload\nredis,set\n").ok());
  EXPECT_FALSE(ParseTimeSeriesCsv("").ok());
  EXPECT_FALSE(ParseTimeSeriesCsv("t_s,ops,errors,p50_us,p99_us,max_us,server_cpu_pct\n0,1,2\n").ok());
}

TEST(TimeSeriesPlot, DrawsThroughputAndLatencyAndCpuOnlyWhenMeasured) {
  std::string with = TimeSeriesPlotScript("/tmp/it's.csv", "/tmp/a.png", "run \"x\"\nline 2", true);
  EXPECT_TRUE(absl::StrContains(with, "set output '/tmp/a.png'"));
  EXPECT_TRUE(absl::StrContains(with, "plot '/tmp/it''s.csv' skip 1 using 1:2"));
  EXPECT_TRUE(absl::StrContains(with, "title 'p99'"));
  EXPECT_TRUE(absl::StrContains(with, "axes x1y2"));
  EXPECT_TRUE(absl::StrContains(with, "title \"run \\\"x\\\"\\nline 2\" noenhanced"));
  std::string without = TimeSeriesPlotScript("a.csv", "a.png", "t", false);
  EXPECT_FALSE(absl::StrContains(without, "axes x1y2"));
  EXPECT_FALSE(absl::StrContains(without, "\nset y2tics"));
}

}  // namespace
}  // namespace bench
