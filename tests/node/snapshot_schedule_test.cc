// node/snapshot_schedule.h: when a member snapshots on its own.
#include "node/snapshot_schedule.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace node {
namespace {

// Entry positions (1-based) at which a member of the given seed snapshots
// while committing `entries` entries of `bytes` each; snapshots stay at
// `last_snapshot_bytes`.
std::vector<int> SnapshotPoints(uint64_t seed, uint64_t log_bytes, int entries, uint64_t bytes,
                                uint64_t last_snapshot_bytes = 0) {
  SnapshotSchedule s(log_bytes, seed);
  std::vector<int> points;
  for (int i = 1; i <= entries; ++i) {
    s.Committed(bytes);
    if (s.Due(last_snapshot_bytes)) {
      points.push_back(i);
      s.Restart();
    }
  }
  return points;
}

TEST(SnapshotScheduleTest, DueBetweenThreeQuartersOfTheBoundAndTheBound) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SnapshotSchedule s(1000, seed);
    EXPECT_FALSE(s.Due(0));
    s.Committed(749);
    EXPECT_FALSE(s.Due(0)) << "seed " << seed;
    s.Committed(251);
    EXPECT_TRUE(s.Due(0)) << "seed " << seed;
    EXPECT_EQ(s.since(), 1000u);
    // A last snapshot bigger than --snapshot_log_bytes is the bound.
    EXPECT_FALSE(s.Due(1400)) << "seed " << seed;
    s.Committed(400);
    EXPECT_TRUE(s.Due(1400)) << "seed " << seed;
    s.Restart();
    EXPECT_EQ(s.since(), 0u);
    EXPECT_FALSE(s.Due(0));
  }
}

TEST(SnapshotScheduleTest, ZeroLogBytesIsNeverDue) {
  SnapshotSchedule s(0, 7);
  s.Committed(uint64_t{1} << 40);
  EXPECT_FALSE(s.Due(0));
  EXPECT_FALSE(s.Due(100));
}

// Members commit the same log. With one fixed bound they all snapshotted at
// the same entries; with their own draws their points differ, and no entry
// sees all three members snapshot at once more than now and then.
TEST(SnapshotScheduleTest, MembersWithTheSameLogDoNotAllSnapshotAtTheSameEntries) {
  const std::vector<int> a = SnapshotPoints(11, 64 << 10, 20000, 100);
  const std::vector<int> b = SnapshotPoints(22, 64 << 10, 20000, 100);
  const std::vector<int> c = SnapshotPoints(33, 64 << 10, 20000, 100);
  ASSERT_GE(a.size(), 29u);  // every 492-656 entries
  ASSERT_LE(a.size(), 41u);
  std::set<int> sb(b.begin(), b.end()), sc(c.begin(), c.end());
  int together = 0;
  for (int p : a) {
    // "At once": within the 10 entries a snapshot takes to run, say.
    bool in_b = false, in_c = false;
    for (int d = -10; d <= 10; ++d) {
      in_b = in_b || sb.count(p + d);
      in_c = in_c || sc.count(p + d);
    }
    together += in_b && in_c;
  }
  EXPECT_LE(together, static_cast<int>(a.size()) / 5) << "snapshots of all three members at once";
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace node
