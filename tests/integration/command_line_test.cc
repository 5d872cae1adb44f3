// The node's and the tools' command lines as an operator meets them: help and
// version exit 0, flags take dashes or underscores, config files refuse
// testing flags, bad input is named with a non-zero exit, anarcho-admin's
// views answer as tables and as JSON.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "asio.hpp"
#include "cluster_harness.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace itest {
namespace {

using namespace std::chrono_literals;

struct Ran {
  int rc = -1;      // -1: still running after the timeout (then killed)
  std::string out;  // stdout and stderr
};

// Runs a program to its end (at most `timeout`), its output captured.
Ran RunTool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 30s) {
  const std::string dir = MakeTempDir("anarcho-tool");
  std::vector<std::string> sh = {"/bin/sh", "-c", "exec \"$@\" 1>&2", "sh"};
  sh.insert(sh.end(), argv.begin(), argv.end());
  Process p;
  p.Start(sh, dir + "/out.log");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (p.Running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  Ran r;
  r.rc = p.Running() ? -1 : p.ExitCode();
  std::ifstream in(dir + "/out.log");
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  RemoveDir(dir);
  return r;
}

std::string WriteConfig(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/node.conf";
  std::ofstream(path) << text;
  return path;
}

TEST(CommandLineTest, NodeHelpAndVersionExitZero) {
  for (const char* flag : {"--help", "-h"}) {
    const Ran help = RunTool({ANARCHO_NODE_BIN, flag});
    EXPECT_EQ(help.rc, 0) << help.out;
    EXPECT_NE(help.out.find("--raft-port VALUE"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("--metrics-port VALUE"), std::string::npos);
    EXPECT_EQ(help.out.find("test-break-gate"), std::string::npos) << "testing flags are hidden";
    EXPECT_EQ(help.out.find("test_break_gate"), std::string::npos);
    EXPECT_EQ(help.out.find(".cc"), std::string::npos) << "no source paths";
  }
  const Ran version = RunTool({ANARCHO_NODE_BIN, "--version"});
  EXPECT_EQ(version.rc, 0);
  EXPECT_EQ(version.out.rfind("anarchoredis 0.", 0), 0u) << version.out;
  EXPECT_NE(version.out.find("(git "), std::string::npos) << version.out;
}

TEST(CommandLineTest, DashedAndUnderscoredFlagsAreTheSame) {
  const std::string dir = MakeTempDir("anarcho-flags");
  for (const char* flag : {"--raft-port", "--raft_port"}) {
    const Ran r = RunTool({ANARCHO_NODE_BIN, "--dir", dir + "/n", flag, "70000"});
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find("--raft-port 70000 is not a port"), std::string::npos) << r.out;
  }
  const Ran bad = RunTool({ANARCHO_NODE_BIN, "--dir", dir + "/n", "--no-leader-wait-ms=soon"});
  EXPECT_NE(bad.rc, 0);
  EXPECT_NE(bad.out.find("no_leader_wait_ms"), std::string::npos) << bad.out;
  const Ran stray = RunTool({ANARCHO_NODE_BIN, "--dir", dir + "/n", "extra"});
  EXPECT_EQ(stray.rc, 2);
  EXPECT_NE(stray.out.find("unexpected argument 'extra'"), std::string::npos) << stray.out;
  RemoveDir(dir);
}

// Regression: a --pidfile in the --dir a first start makes was refused ("its
// directory does not exist").
TEST(CommandLineTest, APidFileMayBeInTheDirTheNodeMakes) {
  const std::string dir = MakeTempDir("anarcho-pidfile");
  Process p;
  p.Start({ANARCHO_NODE_BIN, "--dir", dir + "/n", "--pidfile", dir + "/n/pid", "--port", absl::StrCat(FreePort()),
           "--raft-port", absl::StrCat(FreePort())},
          dir + "/out.log");
  for (int i = 0; i < 200 && p.Running() && !std::filesystem::exists(dir + "/n/pid"); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/n/pid"));
  p.Kill(SIGTERM);
  RemoveDir(dir);
}

TEST(CommandLineTest, ConfigFilesTakeDashesAndRefuseTestingFlags) {
  const std::string dir = MakeTempDir("anarcho-config");
  // Read with dashes: the port it names is checked (and refused).
  const Ran dashed = RunTool({ANARCHO_NODE_BIN, "--config", WriteConfig(dir, "no-leader-wait-ms 100\nraft-port 99999\n"),
                              "--dir", dir + "/n"});
  EXPECT_EQ(dashed.rc, 2);
  EXPECT_NE(dashed.out.find("--raft-port 99999 is not a port"), std::string::npos) << dashed.out;
  const Ran testing = RunTool({ANARCHO_NODE_BIN, "--config", WriteConfig(dir, "test-sync-gate /tmp/x\n"), "--dir", dir + "/n"});
  EXPECT_EQ(testing.rc, 2);
  EXPECT_NE(testing.out.find("node.conf:1: 'test_sync_gate' is for tests only"), std::string::npos) << testing.out;
  RemoveDir(dir);
}

// Host names are taken where addresses are, resolved once at start.
TEST(CommandLineTest, HostNamesResolveAndUnknownOnesAreNamed) {
  const std::string dir = MakeTempDir("anarcho-hosts");
  Node n(dir + "/n", 0, {"--bind", "localhost"});
  n.Start();  // the harness connects to 127.0.0.1
  EXPECT_EQ(Client(n.port()).Call({"SET", "k", "v"}).AsString(), "OK");
  n.Stop();
  const Ran r = RunTool({ANARCHO_NODE_BIN, "--dir", dir + "/m", "--peers", "1=no-such-host.invalid:7001:7101"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("cannot resolve 'no-such-host.invalid'"), std::string::npos) << r.out;
  RemoveDir(dir);
}

TEST(CommandLineTest, AMissingRedisServerIsNamed) {
  const std::string dir = MakeTempDir("anarcho-noredis");
  const Ran r = RunTool({ANARCHO_NODE_BIN, "--dir", dir + "/n", "--redis-server", "/nonexistent/redis-server"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("/nonexistent/redis-server is missing or not executable"), std::string::npos) << r.out;
  RemoveDir(dir);
}

TEST(CommandLineTest, AdminHelpPerCommandAndBadInput) {
  const Ran general = RunTool({ANARCHO_ADMIN_BIN, "--help"});
  EXPECT_EQ(general.rc, 0);
  EXPECT_NE(general.out.find("anarcho-admin members"), std::string::npos) << general.out;
  const Ran start = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--help"});
  EXPECT_EQ(start.rc, 0);
  EXPECT_NE(start.out.find("--base-port"), std::string::npos) << start.out;
  EXPECT_EQ(start.out.find("--json"), std::string::npos) << "only the flags of cluster start";
  const std::string dir = MakeTempDir("anarcho-admin-bad");
  const Ran zero = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--nodes", "0"}, 5s);
  EXPECT_EQ(zero.rc, 2) << zero.out;
  EXPECT_NE(zero.out.find("--nodes 0 is out of range"), std::string::npos) << zero.out;
  const Ran high = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", "65500"}, 5s);
  EXPECT_EQ(high.rc, 2) << high.out;
  const Ran unknown = RunTool({ANARCHO_ADMIN_BIN, "frobnicate", "--port", "1"});
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_NE(unknown.out.find("unknown command"), std::string::npos) << unknown.out;
  // Regression: these said "--port of a node is required"; status cut the
  // port to 16 bits and showed another node under it; status --dir of no
  // cluster asked for --dir; backup renamed its file over a device.
  const Ran no_port = RunTool({ANARCHO_ADMIN_BIN, "frobnicate"});
  EXPECT_EQ(no_port.rc, 2);
  EXPECT_NE(no_port.out.find("unknown command 'frobnicate'"), std::string::npos) << no_port.out;
  const Ran cluster = RunTool({ANARCHO_ADMIN_BIN, "cluster", "restart", "--dir", dir});
  EXPECT_EQ(cluster.rc, 2);
  EXPECT_NE(cluster.out.find("unknown command 'cluster restart'"), std::string::npos) << cluster.out;
  const Ran wide = RunTool({ANARCHO_ADMIN_BIN, "status", "--port", "99537"});
  EXPECT_EQ(wide.rc, 2);
  EXPECT_NE(wide.out.find("--port 99537 is out of range (1..65535)"), std::string::npos) << wide.out;
  const Ran none = RunTool({ANARCHO_ADMIN_BIN, "status", "--dir", dir + "/none"});
  EXPECT_EQ(none.rc, 2);
  EXPECT_NE(none.out.find("holds no cluster started by anarcho-admin"), std::string::npos) << none.out;
  const Ran device = RunTool({ANARCHO_ADMIN_BIN, "backup", "--port", "1", "/dev/null"});
  EXPECT_EQ(device.rc, 1);
  EXPECT_NE(device.out.find("/dev/null exists and is not a regular file"), std::string::npos) << device.out;
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  RemoveDir(dir);
}

// Regression: after `anarcho-admin remove`, `cluster start` of that cluster
// failed for good: the removed member replays its removal and exits, and the
// start took that for a failure. It now drops the member from cluster.conf.
// And a failed start left cluster.conf naming the ports it had tried.
TEST(CommandLineTest, ClusterStartGoesOnWithoutARemovedMember) {
  const std::string dir = MakeTempDir("anarcho-admin-removed");
  const int base = FreeBasePort();
  const Ran first = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(base)});
  ASSERT_EQ(first.rc, 0) << first.out;
  int leader = 0;
  for (int i = 0; i < 3 && leader == 0; ++i) {
    if (first.out.find(absl::StrCat("redis-cli -p ", base + i, "   (leader)")) != std::string::npos) leader = base + i;
  }
  ASSERT_NE(leader, 0) << first.out;
  const int removed = leader == base + 1 ? 3 : 2;
  const Ran remove = RunTool({ANARCHO_ADMIN_BIN, "remove", "--port", absl::StrCat(leader), absl::StrCat(removed)});
  ASSERT_EQ(remove.rc, 0) << remove.out;
  // It exits once it applied its removal (`remove` answers once it is proposed).
  pid_t pid = 0;
  std::ifstream(absl::StrCat(dir, "/n", removed, "/pid")) >> pid;
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_NE(::kill(pid, 0), 0) << "the removed node still runs";
  ASSERT_EQ(RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir}).rc, 0);
  const Ran again = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(base)});
  EXPECT_EQ(again.rc, 0) << again.out;
  EXPECT_NE(again.out.find(absl::StrCat("node ", removed, " was removed from the cluster")), std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("cluster of 2 nodes is up"), std::string::npos) << again.out;
  ASSERT_EQ(RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir}).rc, 0);
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string conf = read(dir + "/cluster.conf");
  EXPECT_EQ(conf.find(absl::StrCat("\n", removed, " ")), std::string::npos) << conf;
  // The two members start again, under their own ids; a start that fails
  // (its Raft port taken) leaves cluster.conf as it was.
  const Ran third = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(base)});
  EXPECT_EQ(third.rc, 0) << third.out;
  EXPECT_NE(third.out.find("cluster of 2 nodes is up"), std::string::npos) << third.out;
  ASSERT_EQ(RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir}).rc, 0);
  {
    const int other = FreeBasePort();
    asio::io_context io;
    asio::ip::tcp::acceptor taken(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                              static_cast<uint16_t>(other + 100)));
    const Ran clash = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(other)});
    EXPECT_EQ(clash.rc, 1) << clash.out;
  }
  EXPECT_EQ(read(dir + "/cluster.conf"), conf);
  RemoveDir(dir);
}

// `cluster start` on a directory where some of the nodes run starts the
// others (a node killed by hand comes back), at cluster.conf's ports; one
// where all run reports the cluster. It once refused both ("stop them
// first"). A restore, or other ports, still needs the cluster stopped.
TEST(CommandLineTest, ClusterStartStartsTheNodesThatDoNotRun) {
  const std::string dir = MakeTempDir("anarcho-admin-inuse");
  const int base = FreeBasePort();
  const Ran first = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(base)});
  ASSERT_EQ(first.rc, 0) << first.out;
  const Ran all = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir});
  EXPECT_EQ(all.rc, 0) << all.out;
  EXPECT_NE(all.out.find("3 of the 3 nodes run"), std::string::npos) << all.out;
  pid_t second = 0;
  std::ifstream(dir + "/n2/pid") >> second;
  ASSERT_GT(second, 0);
  ASSERT_EQ(::kill(second, SIGKILL), 0);
  while (::kill(second, 0) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Client(base + 1).connected());
  const Ran moved = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(base + 5)});
  EXPECT_EQ(moved.rc, 2) << moved.out;
  EXPECT_NE(moved.out.find("leave --base-port out"), std::string::npos) << moved.out;
  const Ran restore = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--restore", dir + "/none.rdb"});
  EXPECT_EQ(restore.rc, 1) << restore.out;
  EXPECT_NE(restore.out.find("--restore needs the cluster stopped"), std::string::npos) << restore.out;
  const Ran rest = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", absl::StrCat(base)});
  EXPECT_EQ(rest.rc, 0) << rest.out;
  EXPECT_NE(rest.out.find("2 of the 3 nodes run; starting node(s) 2"), std::string::npos) << rest.out;
  EXPECT_TRUE(Client(base + 1).connected());
  const Ran status = RunTool({ANARCHO_ADMIN_BIN, "status", "--dir", dir});
  EXPECT_EQ(status.rc, 0) << status.out;
  const Ran stop = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir});
  EXPECT_EQ(stop.rc, 0) << stop.out;
  EXPECT_NE(stop.out.find("stopped 3 node(s)"), std::string::npos) << stop.out;
  RemoveDir(dir);
}

// Regression: `cluster start` took any leader on its ports for its own, so
// with another cluster already there, its own nodes all failed and it said
// the cluster was up; and it waited its whole --timeout-s for nodes that had
// exited at once. Now a started node that exits fails the start (with the
// end of its log), and a leader counts only with this cluster's id.
TEST(CommandLineTest, ClusterStartFailsWhenItsNodesFail) {
  const std::string dir = MakeTempDir("anarcho-admin-fail");
  const std::string base = absl::StrCat(FreeBasePort());
  const Ran first = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir + "/a", "--nodes", "1", "--base-port", base});
  ASSERT_EQ(first.rc, 0) << first.out;
  const auto start = std::chrono::steady_clock::now();
  const Ran second = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir + "/b", "--nodes", "1", "--base-port", base});
  EXPECT_EQ(second.rc, 1) << second.out;
  EXPECT_NE(second.out.find("node 1 exited with status"), std::string::npos) << second.out;
  const Ran bad = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir + "/c", "--nodes", "3", "--base-port",
                           absl::StrCat(FreeBasePort()), "--node-args=--maxclients=0"});
  EXPECT_EQ(bad.rc, 1) << bad.out;
  EXPECT_NE(bad.out.find("exited with status 2"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("--maxclients must be at least 1"), std::string::npos) << bad.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "not the 30 s wait for a leader";
  // Node 2's Raft port taken: nodes 1 and 3 may elect a leader before node 2
  // fails to bind it (a review saw a restore say the cluster was up). The
  // start succeeds only once every node answers.
  {
    const int base3 = FreeBasePort();
    asio::io_context io;
    asio::ip::tcp::acceptor taken(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                              static_cast<uint16_t>(base3 + 101)));
    const Ran clash = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir + "/d", "--nodes", "3",
                               "--base-port", absl::StrCat(base3)});
    EXPECT_EQ(clash.rc, 1) << clash.out;
    EXPECT_NE(clash.out.find("node 2 exited with status"), std::string::npos) << clash.out;
  }
  const Ran stop = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir + "/a"});
  EXPECT_EQ(stop.rc, 0) << stop.out;
  RemoveDir(dir);
}

// Regression: `digest --dir D` asked only node 1, and a node 1 that was down
// failed the check with exit status 1, as a divergence does. It now asks each
// member in turn, and a member that does not report the check (or a check
// that could not run) is exit status 3.
TEST(CommandLineTest, DigestAsksEachMemberAndTellsUnreachableFromMismatch) {
  const std::string dir = MakeTempDir("anarcho-admin-digest");
  const Ran start = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--nodes", "3", "--base-port",
                             absl::StrCat(FreeBasePort())});
  ASSERT_EQ(start.rc, 0) << start.out;
  std::ifstream pidfile(dir + "/n1/pid");
  pid_t pid = 0;
  ASSERT_TRUE(pidfile >> pid);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  Ran digest;
  for (int i = 0; i < 10; ++i) {  // node 1 may have led: until the others elect one
    digest = RunTool({ANARCHO_ADMIN_BIN, "digest", "--dir", dir});
    if (digest.out.find("leader's digest at log index") != std::string::npos) break;
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(digest.rc, 3) << digest.out;
  EXPECT_NE(digest.out.find("leader's digest at log index"), std::string::npos) << digest.out;
  EXPECT_NE(digest.out.find("node 1 (port"), std::string::npos) << digest.out;
  EXPECT_NE(digest.out.find("unreachable"), std::string::npos) << digest.out;
  EXPECT_NE(digest.out.find("node 2 (port"), std::string::npos) << digest.out;
  EXPECT_EQ(digest.out.find("DIVERGENCE"), std::string::npos) << digest.out;
  RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir});
  RemoveDir(dir);
}

// Regression: `digest --port N` (and --host) checked only node N, labelled
// it "node 0", and exited 0 while another member had diverged. Every member
// the node knows reports its outcome now, as `status --port` lists them all.
TEST(CommandLineTest, DigestThroughOneNodeReportsEveryMember) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_EQ(Client(c.port(leader)).Call({"SET", "k", "v"}).AsString(), "OK");
  ASSERT_TRUE(c.WaitConverged());
  const int victim = (leader + 1) % 3;
  ASSERT_TRUE(c.WriteBehindTheLog(victim, "intruder").ok());
  const Ran digest = RunTool({ANARCHO_ADMIN_BIN, "digest", "--port", absl::StrCat(c.port(leader))});
  EXPECT_EQ(digest.rc, 1) << digest.out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(digest.out.find(absl::StrCat("node ", c.id(i), " (port ", c.port(i), " on 127.0.0.1): ")),
              std::string::npos)
        << digest.out;
  }
  EXPECT_NE(digest.out.find(absl::StrCat("node ", c.id(victim), " (port ", c.port(victim), " on 127.0.0.1): MISMATCH")),
            std::string::npos)
      << digest.out;
  EXPECT_EQ(digest.out.find("node 0"), std::string::npos) << digest.out;
  EXPECT_NE(digest.out.find("DIVERGENCE"), std::string::npos) << digest.out;
}

// Regression (a review, 2026-12-07): `digest` gave each member 5 s to report
// its comparison, while a follower compares only after a DEBUG DIGEST of its
// own, as long as the leader's (about 26 s for a million keys here), so a
// healthy cluster got "not compared" and exit status 3. A follower's child
// that answers its DEBUG DIGEST after 7 s stands for that here.
TEST(CommandLineTest, DigestWaitsForAFollowerWhoseOwnDigestTakesLong) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_EQ(Client(c.port(leader)).Call({"SET", "k", "v"}).AsString(), "OK");
  ASSERT_TRUE(c.WaitConverged());
  const int slow = (leader + 1) % 3;
  const pid_t child = c.ChildPid(slow);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  std::thread resume([child] {
    std::this_thread::sleep_for(7s);
    ::kill(child, SIGCONT);
  });
  const Ran digest = RunTool({ANARCHO_ADMIN_BIN, "digest", "--port", absl::StrCat(c.port(leader))});
  resume.join();
  EXPECT_EQ(digest.rc, 0) << digest.out;
  EXPECT_NE(digest.out.find(absl::StrCat("node ", c.id(slow), " (port ", c.port(slow), " on 127.0.0.1): match")),
            std::string::npos)
      << digest.out;
}

// Regression: `cluster stop` and `cluster start` trusted the pid files. With
// a node killed with -9 and its pid taken since by an unrelated process,
// `cluster stop` sent that process SIGTERM (and SIGKILL after 65 s), and
// `cluster start` refused the directory as "in use". A pid counts now only if
// its command line names the node's --dir.
TEST(CommandLineTest, ClusterStopAndStartLeaveAStalePidFilesProcessAlone) {
  const std::string dir = MakeTempDir("anarcho-admin-stale");
  const std::string base = absl::StrCat(FreeBasePort());
  const Ran first = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--nodes", "1", "--base-port", base});
  ASSERT_EQ(first.rc, 0) << first.out;
  pid_t node = 0;
  ASSERT_TRUE(std::ifstream(dir + "/n1/pid") >> node);
  ASSERT_EQ(::kill(node, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(node, 0) == 0; ++i) std::this_thread::sleep_for(20ms);
  Process stranger;  // the pid the file names, reused
  stranger.Start({"/bin/sleep", "300"}, dir + "/stranger.log");
  std::ofstream(dir + "/n1/pid") << stranger.pid() << "\n";
  const Ran stop = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir});
  EXPECT_EQ(stop.rc, 0) << stop.out;
  EXPECT_NE(stop.out.find("stopped 0 node(s)"), std::string::npos) << stop.out;
  EXPECT_TRUE(stranger.Running()) << "cluster stop signalled a process that is no node";
  std::ofstream(dir + "/n1/pid") << stranger.pid() << "\n";
  const Ran start = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--nodes", "1", "--base-port", base});
  EXPECT_EQ(start.rc, 0) << start.out;
  const Ran again = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir});
  EXPECT_EQ(again.rc, 0) << again.out;
  EXPECT_NE(again.out.find("stopped 1 node(s)"), std::string::npos) << again.out;
  EXPECT_TRUE(stranger.Running());
  RemoveDir(dir);
}

// Regression: `cluster start --nodes 5` on a directory holding a 3-node
// cluster said "cluster of 5 nodes is up" and rewrote cluster.conf, but
// nodes 4 and 5 had bootstrapped a membership of their own and were no
// members. It is refused; without --nodes the cluster starts as it was.
TEST(CommandLineTest, ClusterStartKeepsTheSizeOfTheClusterInItsDirectory) {
  const std::string dir = MakeTempDir("anarcho-admin-size");
  const std::string base = absl::StrCat(FreeBasePort());
  const Ran first = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--nodes", "1", "--base-port", base});
  ASSERT_EQ(first.rc, 0) << first.out;
  ASSERT_EQ(RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir}).rc, 0);
  const Ran more = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--nodes", "3", "--base-port", base});
  EXPECT_EQ(more.rc, 2) << more.out;
  EXPECT_NE(more.out.find("holds a cluster of 1 nodes"), std::string::npos) << more.out;
  EXPECT_NE(more.out.find("anarcho-admin add"), std::string::npos) << more.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/n2")) << "no node was started";
  const Ran same = RunTool({ANARCHO_ADMIN_BIN, "cluster", "start", "--dir", dir, "--base-port", base});
  EXPECT_EQ(same.rc, 0) << same.out;
  EXPECT_NE(same.out.find("cluster of 1 nodes is up"), std::string::npos) << same.out;
  const Ran stop = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir});
  EXPECT_EQ(stop.rc, 0) << stop.out;
  RemoveDir(dir);
}

// Regression: `cluster stop` without --dir, or with one that holds no
// cluster, said "stopped 0 node(s)" and exited 0; and it killed a node still
// stopping after 5 s, though a graceful stop may take up to 60 s. Here a
// stand-in node takes 7 s to stop.
TEST(CommandLineTest, ClusterStopRefusesWhatIsNoClusterAndWaitsForAGracefulStop) {
  const Ran no_dir = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop"});
  EXPECT_EQ(no_dir.rc, 2) << no_dir.out;
  EXPECT_NE(no_dir.out.find("--dir is required"), std::string::npos) << no_dir.out;
  const std::string dir = MakeTempDir("anarcho-admin-stop");
  const Ran missing = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir + "/nothing"});
  EXPECT_EQ(missing.rc, 1) << missing.out;
  EXPECT_NE(missing.out.find("holds no cluster"), std::string::npos) << missing.out;
  std::ofstream(dir + "/cluster.conf") << "1 " << FreePort() << " " << FreePort() << "\n";
  std::filesystem::create_directories(dir + "/n1");
  Process slow;
  // It names the node's --dir, as a node does: `cluster stop` signals no
  // process that does not.
  slow.Start({"/bin/sh", "-c", "trap 'sleep 7; exit 0' TERM; while true; do sleep 0.1; done", "node", "--dir",
              dir + "/n1"},
             dir + "/slow.log");
  std::ofstream(dir + "/n1/pid") << slow.pid() << "\n";
  std::this_thread::sleep_for(200ms);  // the trap is set
  std::atomic<bool> ended{false};
  int exit_code = -2;
  std::thread reaper([&] {  // the stand-in is this test's child: reaped here, as init reaps a node
    while (slow.Running()) std::this_thread::sleep_for(20ms);
    exit_code = slow.ExitCode();
    ended = true;
  });
  const Ran stop = RunTool({ANARCHO_ADMIN_BIN, "cluster", "stop", "--dir", dir}, 90s);
  reaper.join();
  EXPECT_EQ(stop.rc, 0) << stop.out;
  EXPECT_NE(stop.out.find("stopped 1 node(s)"), std::string::npos) << stop.out;
  EXPECT_TRUE(ended);
  EXPECT_EQ(exit_code, 0) << "killed before its graceful stop ended";
  RemoveDir(dir);
}

// Regression (CommandLineTest.TransferWaitsForTheNewLeaderAndSaysWhenNoneCame):
// `transfer` printed the node's OK, given once the hand-over started, also
// when the target never took the leadership (here: a stopped node).
TEST(CommandLineTest, TransferWaitsForTheNewLeaderAndSaysWhenNoneCame) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int target = (leader + 1) % 3, stopped = (leader + 2) % 3;
  const std::string port = absl::StrCat(c.port(leader));
  const Ran moved = RunTool({ANARCHO_ADMIN_BIN, "transfer", "--port", port, absl::StrCat(c.id(target))}, 20s);
  EXPECT_EQ(moved.rc, 0) << moved.out;
  EXPECT_NE(moved.out.find(absl::StrCat("node ", c.id(target), " leads now")), std::string::npos) << moved.out;
  ASSERT_EQ(c.WaitForLeader(), target);
  c.node(stopped).process().Signal(SIGSTOP);
  const Ran refused = RunTool({ANARCHO_ADMIN_BIN, "transfer", "--port", absl::StrCat(c.port(target)),
                               absl::StrCat(c.id(stopped))}, 20s);
  c.node(stopped).process().Signal(SIGCONT);
  EXPECT_EQ(refused.rc, 1) << refused.out;
  EXPECT_NE(refused.out.find(absl::StrCat("node ", c.id(stopped), " did not take the leadership")), std::string::npos)
      << refused.out;
}

TEST(CommandLineTest, AdminMembersHealthAndStatusAsJson) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::string port = absl::StrCat(c.port((leader + 1) % 3));
  const Ran members = RunTool({ANARCHO_ADMIN_BIN, "members", "--port", port});
  EXPECT_EQ(members.rc, 0) << members.out;
  for (int i = 0; i < 3; ++i) EXPECT_NE(members.out.find(absl::StrCat(":", c.port(i), ":")), std::string::npos);
  const Ran health = RunTool({ANARCHO_ADMIN_BIN, "health", "--port", port});
  EXPECT_EQ(health.rc, 0) << health.out;
  EXPECT_NE(health.out.find(": ok"), std::string::npos) << health.out;
  const Ran status = RunTool({ANARCHO_ADMIN_BIN, "status", "--port", port, "--json"});
  EXPECT_EQ(status.rc, 0) << status.out;
  const nlohmann::json j = nlohmann::json::parse(status.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << status.out;
  EXPECT_EQ(j["healthy"], true);
  ASSERT_EQ(j["nodes"].size(), 3u);
  int leaders = 0;
  for (const auto& n : j["nodes"]) leaders += n["role"] == "leader";
  EXPECT_EQ(leaders, 1);
  // A node without a quorum: health says so, and exits 1.
  for (int i = 0; i < 3; ++i) {
    if (absl::StrCat(c.port(i)) != port) c.Kill9(i);
  }
  Ran degraded;
  for (int i = 0; i < 50; ++i) {
    degraded = RunTool({ANARCHO_ADMIN_BIN, "health", "--port", port, "--json"});
    if (degraded.rc == 1) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(degraded.rc, 1) << degraded.out;
  EXPECT_NE(degraded.out.find("\"status\": \"degraded\""), std::string::npos) << degraded.out;
  // Regression: an unreachable member's id was a JSON number, a reachable
  // one's (as every field a node gives) a string.
  const Ran down = RunTool({ANARCHO_ADMIN_BIN, "status", "--port", port, "--json"});
  const nlohmann::json d = nlohmann::json::parse(down.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(d.is_discarded()) << down.out;
  ASSERT_EQ(d["nodes"].size(), 3u) << down.out;
  for (const auto& n : d["nodes"]) EXPECT_TRUE(n["id"].is_string()) << n.dump();
}

// Regression: anarcho-admin waited forever for a stopped node (kill -STOP):
// the kernel still accepts connections, and nothing answers. Every connect
// and answer has a deadline (--timeout, 5 s by default): a clear error and
// exit status 1.
TEST(CommandLineTest, AdminGivesUpOnAStoppedNode) {
  const std::string dir = MakeTempDir("anarcho-admin-stopped");
  Node n(dir + "/n1");
  n.Start();
  const std::string port = absl::StrCat(n.port());
  std::ofstream(dir + "/cluster.conf") << "1 " << port << " " << FreePort() << "\n";
  n.process().Signal(SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  const Ran health = RunTool({ANARCHO_ADMIN_BIN, "health", "--port", port, "--timeout", "1"}, 20s);
  EXPECT_EQ(health.rc, 1) << health.out;
  EXPECT_NE(health.out.find(absl::StrCat("no answer from 127.0.0.1:", port, " within 1s")), std::string::npos)
      << health.out;
  const Ran status = RunTool({ANARCHO_ADMIN_BIN, "status", "--dir", dir}, 20s);  // the default: 5 s
  EXPECT_EQ(status.rc, 1) << status.out;
  EXPECT_NE(status.out.find("down"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(" within 5s"), std::string::npos) << status.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  n.process().Signal(SIGCONT);
  RemoveDir(dir);
}

TEST(CommandLineTest, BenchHelpExitsZero) {
  const Ran r = RunTool({ANARCHO_BENCH_BIN, "--help"});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("anarcho-bench compare"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--out-dir"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace itest
