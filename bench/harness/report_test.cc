// The compare report's CPU column and its "vs baseline" pairing.
#include "bench/harness/report.h"

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

TEST(Report, MedianTakesTheCpuMedian) {
  Summary m = Median({Row("redis", 1, 1, 10), Row("redis", 1, 1, 30), Row("redis", 1, 1, 20)});
  EXPECT_EQ(m.cpu_us_per_op, 20);
}

}  // namespace
}  // namespace bench
