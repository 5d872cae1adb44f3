// The compare report's CPU column and its "vs baseline" pairing.
#include "bench/harness/report.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

Summary Row(const std::string& system, double rps, double p99, double cpu) {
  Summary s;
  s.system = system;
  s.workload = "set P=16";
  s.rps = rps;
  s.p99_us = p99;
  s.cpu_us_per_op = cpu;
  return s;
}

// A target's median over rounds, each round given as {ops/s, p99 us, cpu us/op}.
Summary Rounds(const std::string& system, const std::vector<std::array<double, 3>>& rounds) {
  std::vector<Summary> runs;
  for (const auto& [rps, p99, cpu] : rounds) runs.push_back(Row(system, rps, p99, cpu));
  return Median(runs);
}

CompareReport Report() {
  CompareReport c;
  c.rows = {Row("redis", 100000, 1000, 5), Row("anarcho-1", 40000, 3000, 30), Row("base-1", 20000, 6000, 40),
            Row("anarcho-3-leader", 10000, 9000, 90)};
  return c;
}

TEST(Report, NamesBaselineCounterparts) {
  EXPECT_EQ(BaselineName("anarcho-1"), "base-1");
  EXPECT_EQ(BaselineName("anarcho-3-follower"), "base-3-follower");
  EXPECT_EQ(BaselineName("redis"), "");
  EXPECT_EQ(BaselineName("base-1"), "");
}

TEST(Report, MarkdownHasCpuColumnAndBaselineSection) {
  std::string md = FormatCompareMarkdown(Report());
  EXPECT_TRUE(absl::StrContains(md, "| cpu us/op | x redis |"));
  EXPECT_TRUE(absl::StrContains(md, "| set P=16 | anarcho-1 | 40000 | 0.40 |"));
  EXPECT_TRUE(absl::StrContains(md, "| 30.00 | 6.00 | 0 |"));  // cpu, x redis, errors
  ASSERT_TRUE(absl::StrContains(md, "### vs baseline"));
  std::string section = md.substr(md.find("### vs baseline"));
  // ops 2x the baseline's, p99 half, cpu 0.75; the cluster has no base row.
  EXPECT_TRUE(absl::StrContains(section, "| set P=16 | anarcho-1 | base-1 | 40000 | 20000 | 2.00 | 3000 | 6000 | 0.50 | "
                                         "30.00 | 40.00 | 0.75 |"))
      << section;
  EXPECT_FALSE(absl::StrContains(section, "anarcho-3-leader"));
}

TEST(Report, NoBaselineSectionWithoutBaseRows) {
  CompareReport c = Report();
  c.rows.erase(c.rows.begin() + 2);
  EXPECT_FALSE(absl::StrContains(FormatCompareMarkdown(c), "vs baseline"));
  EXPECT_FALSE(absl::StrContains(FormatCompareTable(c), "vs baseline"));
}

TEST(Report, CsvAndJsonCarryCpuAndBaselineRatios) {
  std::string csv = FormatCompareCsv(Report());
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(absl::EndsWith(lines[0], ",cpu_us_per_op,cpu_ratio_redis,baseline_system,ops_ratio_baseline,"
                                       "p99_ratio_baseline,cpu_ratio_baseline"));
  EXPECT_TRUE(absl::EndsWith(lines[2], ",30.000,6.0000,base-1,2.0000,0.5000,0.7500")) << lines[2];
  EXPECT_TRUE(absl::EndsWith(lines[4], ",90.000,18.0000,,,,")) << lines[4];
  std::string json = FormatCompareJson(Report());
  EXPECT_TRUE(absl::StrContains(json, "\"ratio_to_baseline\": {\"system\": \"base-1\", \"ops_per_s\": 2.0000, "
                                      "\"p50\": null, \"p99\": 0.5000, \"cpu\": 0.7500}"))
      << json;
  EXPECT_TRUE(absl::StrContains(json, "\"cpu_us_per_op\": 30.000"));
}

// The medians can hide that most rounds point the other way: each round is
// compared with the baseline's run in the same round.
TEST(Report, BaselineSectionCountsTheRoundsEachTargetWon) {
  CompareReport c;
  c.rows = {Rounds("anarcho-1", {{100, 50, 10}, {90, 70, 12}, {120, 40, 9}}),
            Rounds("base-1", {{95, 60, 11}, {110, 60, 11}, {100, 45, 11}})};
  const std::string md = FormatCompareMarkdown(c);
  EXPECT_TRUE(absl::StrContains(md, "| cpu us/op | base cpu us/op | x base | rounds ahead |")) << md;
  // ops: 100>95, 90<110, 120>100; p99: 50<60, 70>60, 40<45; cpu: 10<11, 12>11, 9<11.
  EXPECT_TRUE(absl::StrContains(md, "| ops 2/3 p99 2/3 cpu 2/3 |")) << md;
  EXPECT_TRUE(absl::StrContains(FormatCompareTable(c), "ops 2/3 p99 2/3 cpu 2/3")) << FormatCompareTable(c);
  // A single run has no rounds to compare.
  c.rows = {Row("anarcho-1", 1, 1, 1), Row("base-1", 1, 1, 1)};
  EXPECT_TRUE(absl::StrContains(FormatCompareMarkdown(c), "| 1.00 | - |"));
}

// A median hides how far apart its rounds were: they are listed, in round
// order, in the Markdown and the JSON.
TEST(Report, RoundsAreListedBesideTheMedian) {
  CompareReport c;
  c.rows = {Rounds("anarcho-3-leader", {{200, 900, 7}, {180, 1100, 8}, {210, 950, 7}}),
            Rounds("anarcho-3-follower", {{190, 1000, 8}, {205, 990, 7}, {150, 1300, 9}})};
  const std::string md = FormatCompareMarkdown(c);
  EXPECT_TRUE(absl::StrContains(md, "### Rounds")) << md;
  EXPECT_TRUE(absl::StrContains(md, "| anarcho-3-leader | 200 / 180 / 210 | 900 / 1100 / 950 |")) << md;
  EXPECT_TRUE(absl::StrContains(md, "| anarcho-3-follower | 190 / 205 / 150 | 1000 / 990 / 1300 |")) << md;
  const std::string json = FormatCompareJson(c);
  EXPECT_TRUE(absl::StrContains(json, "\"per_round\": [{\"ops_per_s\": 190.0, \"p99_us\": 1000.00, "
                                      "\"cpu_us_per_op\": 8.000}, {\"ops_per_s\": 205.0,"))
      << json;
  // A single run has no rounds to list.
  c.rows = {Row("anarcho-1", 1, 1, 1)};
  EXPECT_FALSE(absl::StrContains(FormatCompareMarkdown(c), "### Rounds"));
  EXPECT_TRUE(absl::StrContains(FormatCompareJson(c), "\"per_round\": []"));
}

TEST(Report, MedianTakesTheCpuMedian) {
  Summary m = Median({Row("redis", 1, 1, 10), Row("redis", 1, 1, 30), Row("redis", 1, 1, 20)});
  EXPECT_EQ(m.cpu_us_per_op, 20);
}

}  // namespace
}  // namespace bench
