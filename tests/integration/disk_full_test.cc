// A member whose disk fills up: it stops (a clear exit, never an abort), the
// others keep acknowledging writes, and once there is space again it comes
// back with every acknowledged write. The small disk is a tmpfs mounted over
// the member's dir, which needs root; the test is skipped without it.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"

namespace itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A tmpfs of a given size over a directory, holding a copy of what the
// directory held (sockets left out: a dead node's child left its socket);
// unmounted when this goes.
class SmallDisk {
 public:
  explicit SmallDisk(std::string dir) : dir_(std::move(dir)) {}
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  // Empty on success, else why not.
  std::string MountOver(int mib) {
    const fs::path saved = dir_ + ".before";
    CopyFiles(dir_, saved);
    std::string why;
    if (Mount(mib, 0)) {
      mounted_ = true;
      CopyFiles(saved, dir_);
    } else {
      why = absl::StrCat("mount tmpfs over ", dir_, ": ", std::strerror(errno));
    }
    std::error_code ec;
    fs::remove_all(saved, ec);
    return why;
  }
  bool Resize(int mib) { return Mount(mib, MS_REMOUNT); }

 private:
  bool Mount(int mib, unsigned long flags) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", flags, absl::StrCat("size=", mib, "m").c_str()) == 0;
  }
  static void CopyFiles(const fs::path& from, const fs::path& to) {
    fs::create_directories(to);
    for (const auto& e : fs::recursive_directory_iterator(from)) {
      const fs::path dst = to / fs::relative(e.path(), from);
      if (e.is_directory()) {
        fs::create_directories(dst);
      } else if (e.is_regular_file()) {
        fs::copy_file(e.path(), dst, fs::copy_options::overwrite_existing);
      }
    }
  }
  const std::string dir_;
  bool mounted_ = false;
};

// Waits until node i's process ended; its exit status, -1 for a signal, -2 if
// it still runs after `within`.
int WaitExit(Cluster& c, int i, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (c.node(i).process().Running()) {
    if (std::chrono::steady_clock::now() > deadline) return -2;
    std::this_thread::sleep_for(50ms);
  }
  return c.node(i).process().ExitCode();
}

TEST(DiskFullTest, AFullDiskStopsItsMemberCleanlyAndNoAcknowledgedWriteIsLost) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int full = (leader + 1) % c.size();
  SmallDisk disk(c.node(full).dir());
  c.Kill9(full);
  const std::string why = disk.MountOver(24);
  if (!why.empty()) GTEST_SKIP() << why;
  c.node(full).Launch();
  ASSERT_TRUE(WaitReady(c.port(full), 30s)) << c.node(full).LogTail();

  // 100 KB values until the member's log no longer fits: it exits (status 70,
  // a failed log write) while the other two acknowledge every write.
  auto client = c.Connect(c.WaitForLeader());
  const std::string value(100 * 1000, 'v');
  int acknowledged = 0;
  while (c.node(full).process().Running() && acknowledged < 2000) {
    resp::Value v = client->Call({"SET", absl::StrCat("k", acknowledged), value});
    ASSERT_EQ(v.AsString(), "OK") << "write " << acknowledged;
    ++acknowledged;
  }
  ASSERT_EQ(WaitExit(c, full, 10s), 70) << "the member with the full disk did not stop with a log write failure";
  for (int i = 0; i < 20; ++i, ++acknowledged) {
    ASSERT_EQ(client->Call({"SET", absl::StrCat("k", acknowledged), "small"}).AsString(), "OK");
  }

  // Started again on the still full disk, it stops with an error: 1, the
  // log store did not open (RocksDB's own log file used to fail an assertion
  // there: an abort), or 70 at its first log write.
  c.node(full).Launch();
  const int restarted = WaitExit(c, full, 30s);
  EXPECT_TRUE(restarted == 1 || restarted == 70) << "exit status " << restarted << " (-1: a signal, -2: still running)";

  // With space again it comes back with every acknowledged write.
  ASSERT_TRUE(disk.Resize(512));
  c.node(full).Kill9();
  c.node(full).Launch();
  ASSERT_TRUE(WaitReady(c.port(full), 30s)) << c.node(full).LogTail();
  EXPECT_TRUE(c.WaitConverged(60s));
  for (int i = 0; i < c.size(); ++i) {
    auto n = c.ChildCall(i, {"DBSIZE"});
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->integer, acknowledged) << "node " << i + 1;
  }
  auto last = c.ChildCall(full, {"STRLEN", absl::StrCat("k", acknowledged - 21)});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->integer, static_cast<int64_t>(value.size()));
}

// How often `text` occurs in node i's log file so far.
size_t LogCount(Cluster& c, int i, std::string_view text) {
  std::ifstream in(c.node(i).dir() + "/node.log");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t n = 0;
  for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
  return n;
}

std::string Health(Cluster& c, int i) { return Str(Client(c.port(i)).Call({"ANARCHO.HEALTH"})); }

// Regression: a follower whose disk could not hold the snapshot it needed
// was offered it again every heartbeat (the leader logged each offer), never
// said why it failed, kept the partial file (no room left for its own log),
// reported itself healthy, and never answered a read: its reads waited for
// an index its child could not reach.
TEST(DiskFullTest, AFollowerThatCannotTakeASnapshotSaysWhyAndItsReadsGoOn) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  Cluster c({.node_args = {"--snapshot_log_bytes", "0", "--snapshot_keep_entries", "20"}});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int full = (leader + 1) % c.size();
  SmallDisk disk(c.node(full).dir());
  c.Kill9(full);
  {
    Client w(c.port(leader));
    std::mt19937 random(7);
    std::string value(10000, ' ');
    for (int i = 0; i < 2000; ++i) {
      for (char& ch : value) ch = static_cast<char>(random());  // the snapshot compresses nothing
      ASSERT_EQ(w.Call({"SET", absl::StrCat("big", i), value}).AsString(), "OK");
    }
    ASSERT_FALSE(w.Call({"ANARCHO.SNAPSHOT"}).IsError());  // a 20 MB state; the log below it is gone
  }
  const std::string why = disk.MountOver(12);
  if (!why.empty()) GTEST_SKIP() << why;
  c.node(full).Launch();
  ASSERT_TRUE(WaitReady(c.port(full), 30s)) << c.node(full).LogTail();
  std::string health;
  for (int i = 0; i < 300 && health.find("No space left on device") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    health = Health(c, full);
  }
  EXPECT_NE(health.find("cannot take the leader's snapshot: cannot write the incoming snapshot file: No space left"),
            std::string::npos)
      << health;
  // A read is answered: TRYAGAIN once it waited too long, then the leader serves them.
  Client r(c.port(full));
  r.Send(Req({"GET", "big1999"}));
  const std::optional<resp::Value> first = r.Read(10s);
  ASSERT_TRUE(first.has_value()) << "a read through the follower got no answer";
  EXPECT_TRUE(first->AsString().size() == 10000 || first->str.starts_with("TRYAGAIN")) << first->str;
  EXPECT_EQ(r.Call({"STRLEN", "big1999"}).integer, 10000);
  if (first->IsError()) EXPECT_NE(Health(c, full).find("reads wait for the child to catch up"), std::string::npos);
  // The leader offers the snapshot again now and then, not every heartbeat.
  const size_t offers = LogCount(c, leader, "sending snapshot");
  std::this_thread::sleep_for(3s);
  EXPECT_LT(LogCount(c, leader, "sending snapshot") - offers, 10u);
  ASSERT_TRUE(c.node(full).process().Running()) << "the partial snapshot left its log no room";

  // With space again, it takes the snapshot and serves its reads itself.
  ASSERT_TRUE(disk.Resize(512));
  ASSERT_TRUE(c.WaitConverged(60s));
  for (int i = 0; i < 100 && Health(c, full).find("status, ok") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(Health(c, full).find("status, ok"), std::string::npos) << Health(c, full);
  const std::string served = c.Status(full)["follower_reads_served"];
  for (int i = 0; i < 100 && c.Status(full)["follower_reads_served"] == served; ++i) {
    EXPECT_EQ(r.Call({"STRLEN", "big5"}).integer, 10000);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(c.Status(full)["follower_reads_served"], served) << "its reads still go to the leader";
}

}  // namespace
}  // namespace itest
