// The failover benchmark's arithmetic on made-up write records (the stall and
// the time to the first write after the signal), its percentiles and
// per-kind summaries, and its CSV. No timing assertions: times are passed in.
#include "bench/harness/failover.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

// Acknowledged every 10 ms until 1.0 s; the signal at 1.005; errors at 1.1
// and 1.3; acknowledged again at 1.42 (sent at 1.31) and every 10 ms after.
std::vector<WriteRecord> Writes() {
  std::vector<WriteRecord> w;
  for (int i = 1; i <= 100; ++i) w.push_back({i * 0.01 - 0.001, i * 0.01, true});
  w.push_back({1.0, 1.1, false});   // in flight at the signal: UNKNOWN
  w.push_back({1.1, 1.3, false});   // TRYAGAIN
  w.push_back({1.31, 1.42, true});  // the first write after the signal
  for (int i = 1; i <= 10; ++i) w.push_back({1.42 + (i - 1) * 0.01, 1.42 + i * 0.01, true});
  return w;
}

TEST(ComputeStall, GapAroundTheSignalAndFirstWriteSentAfterIt) {
  StallFigures f = ComputeStall(Writes(), 1.005);
  ASSERT_TRUE(f.resumed);
  EXPECT_NEAR(f.stall_s, 0.42, 1e-9);  // last ack before the signal 1.0, next 1.42
  EXPECT_NEAR(f.stall_end_s, 0.415, 1e-9);
  EXPECT_NEAR(f.first_write_s, 0.415, 1e-9);
  EXPECT_NEAR(f.quiet_gap_s, 0.01, 1e-9);
}

TEST(ComputeStall, GapsBeforeTheSignalDoNotCount) {
  std::vector<WriteRecord> w = {{0, 0.1, true}, {0.1, 0.9, true}, {0.9, 0.95, true}, {1.0, 1.05, true}};
  StallFigures f = ComputeStall(w, 0.97);
  ASSERT_TRUE(f.resumed);
  EXPECT_NEAR(f.stall_s, 0.1, 1e-9);  // 0.95 -> 1.05, not 0.1 -> 0.9
  EXPECT_NEAR(f.first_write_s, 0.08, 1e-9);
  EXPECT_NEAR(f.quiet_gap_s, 0.8, 1e-9);  // that one is the quiet gap
}

TEST(ComputeStall, AWriteSentBeforeTheSignalIsNotTheFirstWriteAfterIt) {
  // Sent before the signal, acknowledged after it: ends the gap, but writes
  // have not resumed until one sent after the signal is acknowledged.
  std::vector<WriteRecord> w = {{0, 0.5, true}, {0.9, 1.2, true}, {1.2, 1.25, true}};
  StallFigures f = ComputeStall(w, 1.0);
  ASSERT_TRUE(f.resumed);
  EXPECT_NEAR(f.stall_s, 0.7, 1e-9);
  EXPECT_NEAR(f.first_write_s, 0.25, 1e-9);
}

TEST(ComputeStall, NoAcknowledgementBeforeTheSignalCountsFromTheSignal) {
  StallFigures f = ComputeStall({{2.0, 2.3, true}}, 2.0);
  ASSERT_TRUE(f.resumed);
  EXPECT_NEAR(f.stall_s, 0.3, 1e-9);
  EXPECT_EQ(f.quiet_gap_s, 0);
}

TEST(ComputeStall, TheLongestGapMayComeAfterWritesResumed) {
  std::vector<WriteRecord> w = {{0.9, 0.95, true}, {1.0, 1.02, true}, {1.02, 1.03, true}, {1.03, 1.09, true}};
  StallFigures f = ComputeStall(w, 1.0);
  EXPECT_NEAR(f.first_write_s, 0.02, 1e-9);
  EXPECT_NEAR(f.stall_s, 0.07, 1e-9);  // 0.95 -> 1.02 ...
  EXPECT_NEAR(f.stall_end_s, 0.02, 1e-9);
  w.push_back({1.09, 1.2, true});  // ... until a longer one, 1.09 -> 1.2
  f = ComputeStall(w, 1.0);
  EXPECT_NEAR(f.stall_s, 0.11, 1e-9);
  EXPECT_NEAR(f.stall_end_s, 0.2, 1e-9);
}

TEST(ComputeStall, NotResumedWithoutAnAcknowledgedWriteSentAfterTheSignal) {
  std::vector<WriteRecord> w = {{0, 0.1, true}, {0.9, 1.5, true}, {1.5, 3, false}};
  EXPECT_FALSE(ComputeStall(w, 1.0).resumed);
  EXPECT_FALSE(ComputeStall({}, 1.0).resumed);
}

TEST(Percentile, InterpolatesBetweenRanks) {
  std::vector<double> v = {50, 10, 40, 20, 30};
  EXPECT_DOUBLE_EQ(Percentile(v, 0.5), 30);
  EXPECT_DOUBLE_EQ(Percentile(v, 0.9), 46);  // rank 3.6 of 0..4
  EXPECT_DOUBLE_EQ(Percentile(v, 1), 50);
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 10);
  EXPECT_DOUBLE_EQ(Percentile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Percentile({7}, 0.9), 7);
  EXPECT_DOUBLE_EQ(Percentile({}, 0.5), 0);
}

FailoverTrial Trial(const std::string& kind, int n, double stall_ms, double first_ms, uint64_t errors) {
  FailoverTrial t;
  t.kind = kind;
  t.trial = n;
  t.stall.resumed = true;
  t.stall.stall_s = stall_ms / 1e3;
  t.stall.first_write_s = first_ms / 1e3;
  t.errors = errors;
  return t;
}

TEST(SummarizeFailover, PerKindInOrderOfAppearance) {
  std::vector<FailoverTrial> trials = {Trial("handover", 1, 40, 30, 1), Trial("handover", 2, 60, 50, 0),
                                       Trial("handover", 3, 50, 40, 2), Trial("kill", 1, 900, 800, 1)};
  FailoverTrial lost = Trial("kill", 2, 700, 600, 0);
  lost.lost = 3;
  lost.failure = "3 acknowledged writes lost";
  trials.push_back(lost);
  FailoverTrial stuck;
  stuck.kind = "kill";
  stuck.trial = 3;
  stuck.failure = "writes did not resume within 30 s";
  trials.push_back(stuck);

  std::vector<FailoverSummary> s = SummarizeFailover(trials);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].kind, "handover");
  EXPECT_EQ(s[0].trials, 3);
  EXPECT_EQ(s[0].failed, 0);
  EXPECT_DOUBLE_EQ(s[0].median_stall_ms, 50);
  EXPECT_DOUBLE_EQ(s[0].p90_stall_ms, 58);
  EXPECT_DOUBLE_EQ(s[0].max_stall_ms, 60);
  EXPECT_DOUBLE_EQ(s[0].median_first_write_ms, 40);
  EXPECT_EQ(s[0].errors, 3u);
  EXPECT_EQ(s[1].kind, "kill");
  EXPECT_EQ(s[1].trials, 3);
  EXPECT_EQ(s[1].failed, 2);
  EXPECT_DOUBLE_EQ(s[1].median_stall_ms, 800);  // the trial that never resumed is left out
  EXPECT_DOUBLE_EQ(s[1].max_stall_ms, 900);
  EXPECT_EQ(s[1].lost, 3u);
  EXPECT_TRUE(absl::StrContains(FormatFailoverTable(s), "handover"));
}

TEST(FormatFailoverCsv, HeaderAndOneRowPerTrialWithCommasQuoted) {
  FailoverTrial t = Trial("kill", 1, 900, 800, 2);
  t.error_kinds = "TRYAGAIN=1 UNKNOWN=1";
  t.failure = "n1 did not rejoin: exited, twice";
  std::vector<std::string> lines = absl::StrSplit(FormatFailoverCsv({Trial("handover", 1, 40, 30, 0), t}), '\n',
                                                  absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "kind,trial,"));
  EXPECT_TRUE(absl::StartsWith(lines[1], "handover,1,"));
  EXPECT_TRUE(absl::StrContains(lines[2], ",900.00,0.00,800.00,"));
  EXPECT_TRUE(absl::EndsWith(lines[2], ",\"n1 did not rejoin: exited, twice\""));
  const std::string md = FormatFailoverMarkdown({t}, "header");
  EXPECT_TRUE(absl::StrContains(md, "| kill | 1 |"));
}

}  // namespace
}  // namespace bench
