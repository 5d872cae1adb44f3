// The log's rate limit of repeated lines and its level names (node/logging.h).
#include "node/logging.h"

#include "gtest/gtest.h"

namespace node {
namespace {

using Clock = RepeatFilter::Clock;

TEST(RepeatFilterTest, RepeatsWithinTheWindowAreCountedAndReportedWithTheNextLine) {
  RepeatFilter f;
  const Clock::time_point t0{};
  EXPECT_TRUE(f.Admit("link to 2 failed", t0).write);
  for (int i = 1; i <= 69; ++i) {
    EXPECT_FALSE(f.Admit("link to 2 failed", t0 + std::chrono::milliseconds(50 * i)).write) << i;
  }
  const RepeatFilter::Verdict v = f.Admit("link to 2 failed", t0 + kRepeatWindow);
  EXPECT_TRUE(v.write);
  EXPECT_EQ(v.suppressed, 69u);
  // The window starts again from the line written.
  EXPECT_FALSE(f.Admit("link to 2 failed", t0 + kRepeatWindow + std::chrono::seconds(1)).write);
}

TEST(RepeatFilterTest, DifferentLinesAreIndependent) {
  RepeatFilter f;
  const Clock::time_point t0{};
  EXPECT_TRUE(f.Admit("link to 2 failed", t0).write);
  EXPECT_TRUE(f.Admit("link to 3 failed", t0).write);
  EXPECT_FALSE(f.Admit("link to 2 failed", t0 + std::chrono::seconds(1)).write);
  EXPECT_FALSE(f.Admit("link to 3 failed", t0 + std::chrono::seconds(1)).write);
  const RepeatFilter::Verdict v = f.Admit("link to 3 failed", t0 + kRepeatWindow);
  EXPECT_TRUE(v.write);
  EXPECT_EQ(v.suppressed, 1u);
}

TEST(RepeatFilterTest, ManyDistinctLinesDoNotGrowWithoutBound) {
  RepeatFilter f;
  const Clock::time_point t0{};
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(f.Admit("line " + std::to_string(i), t0).write);
  // Forgotten lines are written again rather than suppressed forever.
  EXPECT_TRUE(f.Admit("line 0", t0).write);
}

TEST(LogLevelTest, RedisNamesAreTakenAndOthersRefused) {
  LogLevel l;
  ASSERT_TRUE(ParseLogLevel("verbose", &l));
  EXPECT_EQ(l, LogLevel::kDebug);
  ASSERT_TRUE(ParseLogLevel("notice", &l));
  EXPECT_EQ(l, LogLevel::kInfo);
  ASSERT_TRUE(ParseLogLevel("warning", &l));
  EXPECT_EQ(l, LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud", &l));
  EXPECT_FALSE(ParseLogLevel("INFO", &l));
}

}  // namespace
}  // namespace node
