// The soak's arithmetic on made-up samples (snapshot dip, memory and disk
// bounds), and its readers: redis.log RDB loads, cluster.conf, directory sizes.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "bench/harness/soak.h"
#include "bench/harness/soak_report.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1 << 20;

NodeSample Node(int id, const std::string& role, uint64_t snaps) {
  NodeSample n;
  n.id = id;
  n.answered = true;
  n.role = role;
  n.snapshots_taken = snaps;
  return n;
}

// Three nodes; n1 leads. Snapshots finish on the leader in intervals 2 and 4,
// on n2 only in interval 3.
std::vector<SoakSample> Samples() {
  std::vector<SoakSample> v;
  uint64_t leader_snaps[] = {0, 0, 1, 1, 2, 2};
  uint64_t n2_snaps[] = {0, 0, 0, 1, 1, 1};
  double rates[] = {0, 1000, 600, 900, 400, 1100};
  for (int i = 0; i < 6; ++i) {
    SoakSample s;
    s.t_s = 5 * i;
    s.ops_per_s = rates[i];
    s.nodes = {Node(1, "leader", leader_snaps[i]), Node(2, "follower", n2_snaps[i]), Node(3, "follower", 0)};
    v.push_back(s);
  }
  return v;
}

TEST(Soak, SnapshotDipComparesIntervalsWithAndWithoutSnapshots) {
  SnapshotDip lead = ComputeSnapshotDip(Samples(), true);
  EXPECT_EQ(lead.snapshot_intervals, 2);
  EXPECT_EQ(lead.other_intervals, 3);
  EXPECT_DOUBLE_EQ(lead.snapshot_mean, 500);
  EXPECT_DOUBLE_EQ(lead.other_mean, 1000);
  EXPECT_DOUBLE_EQ(lead.dip, 0.5);
  SnapshotDip any = ComputeSnapshotDip(Samples(), false);
  EXPECT_EQ(any.snapshot_intervals, 3);
  EXPECT_DOUBLE_EQ(any.other_mean, 1050);
}

TEST(Soak, MemoryCountsOnlySamplesAfterTheFirstSnapshot) {
  auto samples = Samples();
  for (size_t i = 0; i < samples.size(); ++i) {
    NodeSample& n = samples[i].nodes[0];
    n.used_memory = 100 * kMiB;
    n.child_rss = 150 * kMiB;
    n.node_rss = (i < 2 ? 900 : 100 + 10 * i) * kMiB;  // huge before the first snapshot only
  }
  std::vector<NodeMemory> m = MemoryChecks(samples);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].samples, 4);
  EXPECT_EQ(m[0].max_total, (150 + 150) * kMiB);
  EXPECT_EQ(m[0].bound_at_max, 456 * kMiB);
  EXPECT_EQ(m[0].max_node_rss, 900 * kMiB);
  EXPECT_EQ(m[0].node_rss_first, 120 * kMiB);
  EXPECT_EQ(m[0].node_rss_last, 150 * kMiB);
  EXPECT_NEAR(m[0].worst_ratio, 300.0 / 456, 1e-9);
  EXPECT_NEAR(m[0].node_rss_trend, 10 * 12, 1e-9);  // 10 MiB per 5 s sample in the second half
  EXPECT_NEAR(m[0].child_rss_trend, 0, 1e-9);
  EXPECT_EQ(m[2].samples, 0);  // n3 never snapshotted
}

TEST(Soak, DiskBoundUsesTheMeanEntrySize) {
  auto samples = Samples();
  uint64_t index[] = {0, 0, 1000, 1000, 3048, 3048};
  for (size_t i = 0; i < samples.size(); ++i) {
    NodeSample& n = samples[i].nodes[0];
    n.snapshot_index = index[i];
    n.snapshot_bytes = index[i] ? 50 * kMiB : 0;
    n.disk = (i + 1) * 40 * kMiB;
    n.log_first_index = i < 4 ? 1 : 500;
  }
  // S = 64 MiB over 2048 entries: E = 32 KiB; keeping 10240 entries = 320 MiB > S.
  std::vector<NodeDisk> d = DiskChecks(samples, 64 * kMiB, 10240);
  EXPECT_DOUBLE_EQ(d[0].mean_entry_bytes, 32768);
  EXPECT_EQ(d[0].kept_tail, (320 + 64) * kMiB);
  EXPECT_EQ(d[0].bound, (150 + 384) * kMiB);
  EXPECT_EQ(d[0].max_disk, 240 * kMiB);
  EXPECT_EQ(d[0].first_log_first_index, 1u);
  EXPECT_EQ(d[0].last_log_first_index, 500u);
  EXPECT_EQ(d[1].mean_entry_bytes, 0);  // n2 took one snapshot: no distance
  EXPECT_EQ(d[1].kept_tail, 128 * kMiB);
}

TEST(Soak, ReportsAndPlotsEveryNode) {
  SoakResult r;
  r.samples = Samples();
  SoakSettings s;
  std::string md = FormatSoakMarkdown(r, s);
  for (const char* part : {"## Throughput", "### Snapshot dip", "## Memory", "## Disk", "## Restart", "| n3 |"}) {
    EXPECT_TRUE(absl::StrContains(md, part)) << part;
  }
  std::string csv = FormatSoakCsv(r);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 6 * 3);
  std::string gp = SoakPlotScript(r, "t");
  EXPECT_TRUE(absl::StrContains(gp, "multiplot layout 3,1"));
  EXPECT_TRUE(absl::StrContains(gp, "index 3 using 1:2"));  // throughput after the three node blocks
  EXPECT_TRUE(absl::StrContains(SoakPlotData(r), "\n10.0 600.0 1\n"));
}

TEST(Soak, FindsFlagValues) {
  std::vector<std::string> args = {"--snapshot_log_bytes=1000", "--snapshot_keep_entries", "20"};
  EXPECT_EQ(FlagValue(args, "snapshot_log_bytes", 7), 1000u);
  EXPECT_EQ(FlagValue(args, "snapshot_keep_entries", 7), 20u);
  EXPECT_EQ(FlagValue(args, "other", 7), 7u);
}

TEST(Soak, ParsesRdbLoadsFromRedisLog) {
  std::string log =
      "1:S 01 Dec 2026 16:39:24.608 * MASTER <-> REPLICA sync: Loading DB in memory\n"
      "1:S 01 Dec 2026 16:39:24.608 * RDB memory usage when created 160.08 Mb\n"
      "1:S 01 Dec 2026 16:39:25.199 * Done loading RDB, keys loaded: 568309, keys expired: 0.\n";
  RdbLoad r = ParseRdbLoad(log);
  EXPECT_TRUE(r.found);
  EXPECT_NEAR(r.seconds, 0.591, 1e-6);
  EXPECT_EQ(r.keys, 568309u);
  r = ParseRdbLoad("7:M 01 Dec 2026 10:00:00.000 * DB loaded from disk: 1.250 seconds\n");
  EXPECT_TRUE(r.found);
  EXPECT_DOUBLE_EQ(r.seconds, 1.25);
  EXPECT_FALSE(ParseRdbLoad("nothing here\n").found);
}

TEST(Soak, ReadsClusterLayoutAndSizes) {
  fs::path dir = fs::temp_directory_path() / ("soak-test-" + std::to_string(getpid()));
  fs::create_directories(dir / "n1" / "log");
  std::ofstream(dir / "cluster.conf") << "1 7001 7101\n2 7002 7102\n";
  std::ofstream(dir / "n1" / "a") << std::string(1000, 'x');
  std::ofstream(dir / "n1" / "log" / "b") << std::string(234, 'y');
  auto nodes = ReadClusterNodes(dir.string());
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[1].port, 7002);
  EXPECT_EQ((*nodes)[0].dir, (dir / "n1").string());
  EXPECT_EQ(DirBytes((dir / "n1").string()), 1234u);
  EXPECT_EQ(DirBytes((dir / "missing").string()), 0u);
  EXPECT_FALSE(ReadClusterNodes((dir / "n1").string()).ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bench
