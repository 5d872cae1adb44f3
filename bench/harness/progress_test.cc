// The ETA arithmetic on made-up clock readings, the progress line's text on a
// terminal and elsewhere, and the watcher thread's CPU samples. No timing
// assertions: times are passed in, or only their order is checked.
#include "bench/harness/progress.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

TEST(EtaEstimator, PlansUntilARunFinishesThenAddsTheMeanOverhead) {
  EtaEstimator eta({10, 10, 10});
  EXPECT_DOUBLE_EQ(eta.Remaining(0), 30);
  eta.Start(0);
  EXPECT_DOUBLE_EQ(eta.Remaining(4), 26);
  eta.Finish(12);  // 2 s over its plan
  EXPECT_DOUBLE_EQ(eta.Remaining(12), 24);
  eta.Start(12.5);  // the half second between runs is the next run's overhead
  EXPECT_DOUBLE_EQ(eta.Remaining(13), 11 + 12);
  eta.Finish(28);  // 6 s over: mean overhead 4 s
  EXPECT_DOUBLE_EQ(eta.Remaining(28), 14);
  eta.Start(28);
  EXPECT_DOUBLE_EQ(eta.Remaining(30), 12);
  EXPECT_DOUBLE_EQ(eta.Remaining(60), 0);  // overran its estimate: never negative
  eta.Finish(60);
  EXPECT_DOUBLE_EQ(eta.Remaining(60), 0);
  EXPECT_EQ(eta.started(), 3u);
  EXPECT_EQ(eta.runs(), 3u);
}

TEST(EtaEstimator, TimeBeforeTheFirstRunIsNoRunsOverhead) {
  EtaEstimator eta({5, 5});
  eta.Start(100);  // systems took 100 s to start
  eta.Finish(105);
  EXPECT_DOUBLE_EQ(eta.Remaining(105), 5);
}

TEST(EtaEstimator, SkippedRunsAreNotWaitedFor) {
  EtaEstimator eta({5, 7, 9});
  eta.Start(0);
  eta.Finish(5);
  eta.Skip();
  EXPECT_EQ(eta.started(), 2u);
  EXPECT_DOUBLE_EQ(eta.Remaining(5), 9);
}

TEST(EtaEstimator, UnplannedRunsAreEstimatedFromTheirMeasuredLength) {
  EtaEstimator eta({0, 0, 0});  // --requests: no duration planned
  eta.Start(0);
  EXPECT_DOUBLE_EQ(eta.Remaining(1), 0);
  eta.Finish(4);
  EXPECT_DOUBLE_EQ(eta.Remaining(4), 8);
}

TEST(EtaEstimator, RunsBeyondThePlanCountAsUnplanned) {
  EtaEstimator eta({2});
  eta.Start(0);
  eta.Finish(3);
  eta.Start(3);
  EXPECT_DOUBLE_EQ(eta.Remaining(3), 1);  // plan 0 + mean overhead 1
  EXPECT_EQ(eta.started(), 2u);
}

TEST(FormatDuration, SecondsMinutesHours) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(-3), "0s");
  EXPECT_EQ(FormatDuration(59.4), "59s");
  EXPECT_EQ(FormatDuration(65), "1m05s");
  EXPECT_EQ(FormatDuration(3725), "1h02m");
}

TEST(ProgressLine, CountElapsedEtaRateLabel) {
  EXPECT_EQ(ProgressLine(3, 40, "round 1/2 set P=16 on redis", 12345.4, 65, 200),
            "[3/40] elapsed 1m05s  ETA 3m20s  12345 ops/s  round 1/2 set P=16 on redis");
  EXPECT_EQ(ProgressLine(1, 1, "x", -1, 0, 4), "[1/1] elapsed 0s  ETA 4s  x");
}

std::vector<std::string> Lines(const std::string& text) { return absl::StrSplit(text, '\n', absl::SkipEmpty()); }

TEST(Progress, ElsewhereOneLinePerRunAndLoggedLinesBetween) {
  std::ostringstream out;
  Progress p(true, 0, out);
  p.Plan({1, 1});
  p.Start("first");
  p.Tick(1000);  // not a terminal: nothing
  p.Log("first: 1000 ops/s");
  p.Finish();
  p.Start("second");
  p.Finish();
  p.Done();
  std::vector<std::string> lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 3u) << out.str();
  EXPECT_TRUE(absl::StartsWith(lines[0], "[1/2] elapsed ")) << lines[0];
  EXPECT_TRUE(absl::EndsWith(lines[0], "  first")) << lines[0];
  EXPECT_EQ(lines[1], "first: 1000 ops/s");
  EXPECT_TRUE(absl::StartsWith(lines[2], "[2/2] elapsed ")) << lines[2];
  EXPECT_FALSE(absl::StrContains(out.str(), "\r"));
}

TEST(Progress, OnATerminalRedrawsOneLineCutToItsWidth) {
  std::ostringstream out;
  Progress p(true, 30, out);
  p.Plan({1});
  p.Start("a label long enough to be cut off at thirty columns");
  p.Tick(500);
  p.Log("result");
  p.Finish();
  p.Done();
  const std::string text = out.str();
  EXPECT_TRUE(absl::StrContains(text, "\r\033[Kresult\n\r\033[K[1/1]")) << text;  // logged above, then redrawn
  EXPECT_TRUE(absl::EndsWith(text, "\r\033[K"));                                  // cleared at the end
  for (absl::string_view drawn : absl::StrSplit(text, "\r\033[K")) {
    if (!absl::StartsWith(drawn, "[")) continue;
    EXPECT_LE(drawn.size(), 29u) << drawn;
  }
}

TEST(Progress, DisabledPrintsOnlyLoggedLines) {
  std::ostringstream out;
  Progress p(false, 80, out);
  p.Plan({1});
  p.Start("run");
  p.Tick(10);
  p.Log("result");
  p.Finish();
  p.Done();
  EXPECT_EQ(out.str(), "result\n");
}

TEST(RunWatcher, SamplesCpuAtTheSecondsOfTheLoadAndTicks) {
  LoadProgress live;
  // The load began 3 s ago: the watcher's first wake-up is due at once.
  live.start_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count() -
      3'000'000'000;
  std::atomic<int> ticks{0};
  RunWatcher w(live, {getpid()}, [&] { ++ticks; });
  while (ticks.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::vector<CpuSample> samples = w.Stop();
  ASSERT_GE(samples.size(), 1u);
  EXPECT_GE(samples[0].t_s, 3);
  for (size_t i = 1; i < samples.size(); ++i) EXPECT_GT(samples[i].t_s, samples[i - 1].t_s);
}

}  // namespace
}  // namespace bench
