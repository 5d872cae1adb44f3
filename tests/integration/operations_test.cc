// What an operator relies on: a node answers for itself (INFO, PING,
// ANARCHO.HEALTH, ANARCHO.MEMBERS), also without a quorum; membership
// commands refuse what makes no sense; the log file survives rotation;
// metrics move with the traffic; SHUTDOWN and SIGTERM stop gracefully.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string> Fields(const resp::Value& v) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) out[v.elements[i].AsString()] = v.elements[i + 1].AsString();
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Time a request takes; the bound checked is generous (the node used to wait
// its 3 s no-leader deadline), timing itself belongs in the benchmark.
// GET `path` on 127.0.0.1:port: the whole response (head and body).
std::string HttpGet(int port, const std::string& path) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  asio::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  if (ec) return "";
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  asio::write(s, asio::buffer(request), ec);
  std::string out;
  char buf[4096];
  for (size_t n; (n = s.read_some(asio::buffer(buf), ec)) > 0 || !ec;) out.append(buf, n);
  return out;
}

// A sample's value in a Prometheus text exposition (-1 if absent).
double Sample(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = text.find(key);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size()));
}

template <typename F>
std::chrono::milliseconds Took(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

TEST(OperationsTest, InfoOnAFollowerDescribesThatFollower) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "k", "v"}).AsString(), "OK");
  Client f(c.port(follower));
  const std::string info = f.Call({"INFO"}).AsString();
  EXPECT_NE(info.find(absl::StrCat("raft_id:", c.id(follower), "\r\n")), std::string::npos) << info;
  EXPECT_NE(info.find("raft_role:follower"), std::string::npos);
  EXPECT_NE(info.find("role:master\r\n"), std::string::npos) << "clients see a master on every member";
  EXPECT_EQ(info.find("role:slave"), std::string::npos);
  EXPECT_NE(info.find("# Keyspace"), std::string::npos);
  // One section, RESP3 too.
  ASSERT_EQ(f.Call({"HELLO", "3"}).type, resp::Type::kMap);
  const resp::Value server = f.Call({"INFO", "server"});
  EXPECT_NE(server.AsString().find("redis_version:"), std::string::npos);
  EXPECT_EQ(server.AsString().find("# Keyspace"), std::string::npos);
}

TEST(OperationsTest, HealthMembersAndMembershipErrors) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client l(c.port(leader));
  auto health = Fields(l.Call({"ANARCHO.HEALTH"}));
  EXPECT_EQ(health["status"], "ok") << health["problems"];
  EXPECT_EQ(health["role"], "leader");
  const resp::Value members = l.Call({"ANARCHO.MEMBERS"});
  ASSERT_EQ(members.elements.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto m = Fields(members.elements[i]);
    EXPECT_EQ(m["kind"], "voter");
    EXPECT_FALSE(m["address"].empty());
    EXPECT_FALSE(m["match"].empty()) << "the leader knows each member's match index";
  }
  EXPECT_EQ(l.Call({"ANARCHO.ADD", absl::StrCat(c.id(leader)), "127.0.0.1:1:2"}).AsString(),
            absl::StrCat("ERR node ", c.id(leader), " is already a member (voter)"));
  EXPECT_EQ(l.Call({"ANARCHO.REMOVE", "9"}).AsString(), "ERR node 9 is not a member");
  // Host names are not resolved, ports are 16 bits.
  for (const char* bad : {"localhost:7001:7101", "127.0.0.1:84537:7101", "127.0.0.1:7001:0"}) {
    EXPECT_EQ(l.Call({"ANARCHO.ADD", "9", bad}).AsString().rfind("ERR usage: ANARCHO.ADD", 0), 0u) << bad;
  }
  EXPECT_EQ(c.Status(leader)["voters"].size(), 5u) << "nothing changed";
}

// Without a quorum a health check must still answer, and say why it is not
// ok; PING answers too (as a Redis replica with its master down). The bound
// is loose (a request without a leader waits 3 s): it catches a wait, not
// a slow machine.
TEST(OperationsTest, HealthAndInfoAnswerWithoutAQuorum) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int survivor = (leader + 1) % 3;
  for (int i = 0; i < 3; ++i) {
    if (i != survivor) c.Kill9(i);
  }
  // Let the survivor notice: it has no leader once its election timeout passed.
  for (int i = 0; i < 100 && c.Status(survivor)["leader"] != "0"; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(c.Status(survivor)["leader"], "0");
  Client s(c.port(survivor));
  std::map<std::string, std::string> health;
  EXPECT_LT(Took([&] { health = Fields(s.Call({"ANARCHO.HEALTH"})); }), 1000ms);
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_NE(health["problems"].find("no leader known"), std::string::npos);
  Client i(c.port(survivor));
  std::string info;
  EXPECT_LT(Took([&] { info = i.Call({"INFO"}).AsString(); }), 1000ms);
  EXPECT_NE(info.find(absl::StrCat("raft_id:", c.id(survivor))), std::string::npos) << info;
  EXPECT_NE(info.find("role:master\r\n"), std::string::npos);
  EXPECT_NE(info.find("master_repl_offset:"), std::string::npos);
  Client p(c.port(survivor));
  EXPECT_LT(Took([&] { EXPECT_EQ(p.Call({"PING"}).AsString(), "PONG"); }), 1000ms);
  EXPECT_EQ(p.Call({"PING", "hi"}).AsString(), "hi");
  // Data still waits, then gets a clear error: past a few election timeouts
  // it says that no election can win, not that one is under way (a review
  // was misled by that).
  const std::string error = i.Call({"GET", "k"}).AsString();
  EXPECT_EQ(error.rfind("TRYAGAIN", 0), 0u) << error;
  EXPECT_NE(error.find("s: no election won a majority of the voters"), std::string::npos) << error;
  // Regression: AUTH and ACL went to a leader there was none of, and their
  // clients waited for ever (a health check that authenticates hung).
  for (std::vector<std::string> req : std::vector<std::vector<std::string>>{
           {"AUTH", "default", "x"}, {"ACL", "LIST"}, {"ACL", "SETUSER", "u"}}) {
    Client a(c.port(survivor));
    const std::string reply = a.Call(req).AsString();
    EXPECT_EQ(reply.rfind("TRYAGAIN", 0), 0u) << req[0] << " " << req[1] << ": " << reply;
  }
}

// A node started with --join that no leader added has no leader, and never
// will until ANARCHO.ADD: its clients are told so, AUTH's included (it hung,
// and a test harness asking every node for its status hung with it).
TEST(OperationsTest, ANodeNotAddedYetSaysSo) {
  const std::string dir = MakeTempDir("anarcho-joiner");
  const std::string log = dir + "/out.log";
  const int port = FreePort(), raft = FreePort();
  Process joiner;
  joiner.Start({ANARCHO_NODE_BIN, "--dir", dir + "/n", "--id", "7", "--join", "--port", absl::StrCat(port),
                "--raft-port", absl::StrCat(raft), "--no_leader_wait_ms", "300", "--peers",
                absl::StrCat("1=127.0.0.1:", FreePort(), ":", FreePort(), ",7=127.0.0.1:", port, ":", raft)},
               log);
  bool up = false;  // (PING: WaitReady waits for a data command's answer)
  for (int i = 0; i < 500 && !up; ++i) {
    Client p(port);
    up = p.connected() && p.Call({"PING"}).AsString() == "PONG";
    if (!up) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(up) << ReadFile(log);
  for (std::vector<std::string> req : std::vector<std::vector<std::string>>{
           {"GET", "k"}, {"AUTH", "default", "x"}, {"HELLO", "3", "AUTH", "u", "p"}, {"ACL", "USERS"}}) {
    Client a(port);
    const std::string reply = a.Call(req).AsString();
    EXPECT_EQ(reply.rfind("TRYAGAIN this node is not a member of a cluster yet", 0), 0u) << req[0] << ": " << reply;
  }
  Client h(port);
  EXPECT_NE(Fields(h.Call({"ANARCHO.HEALTH"}))["problems"].find("not a member"), std::string::npos);
  joiner.Kill(SIGTERM);
  RemoveDir(dir);
}

// A leader that is told to stop hands its leadership to a caught-up voter
// instead of leaving the others to time out; nothing acknowledged is lost.
TEST(OperationsTest, SigtermOnTheLeaderHandsOverAndLosesNothing) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int entry = (leader + 1) % 3;  // the writer's node: it outlives the leader
  std::atomic<bool> stop{false};
  std::vector<int> acked;
  std::thread writer([&] {
    auto client = std::make_unique<Client>(c.port(entry));
    for (int i = 0; !stop; ++i) {
      const resp::Value v = client->Call({"SET", absl::StrCat("w", i), "v"});
      if (v.type == resp::Type::kSimpleString && v.str == "OK") {
        acked.push_back(i);
      } else if (v.str == "TEST: no reply") {
        client = std::make_unique<Client>(c.port(entry));  // the follower closed it: the leader changed
      }
    }
  });
  std::this_thread::sleep_for(300ms);
  c.node(leader).Stop();
  const int next = c.WaitForLeader(20s, {entry, 3 - leader - entry});
  std::this_thread::sleep_for(300ms);
  stop = true;
  writer.join();
  ASSERT_GE(next, 0);
  ASSERT_NE(next, leader);
  EXPECT_NE(c.node(leader).LogTail().find(absl::StrCat("handing leadership to node ", c.id(next))), std::string::npos)
      << c.node(leader).LogTail();
  EXPECT_NE(c.node(leader).LogTail().find(absl::StrCat("node ", c.id(next), " leads now")), std::string::npos);
  ASSERT_GT(acked.size(), 10u);
  Client r(c.port(next));
  for (int i : acked) ASSERT_EQ(r.Call({"EXISTS", absl::StrCat("w", i)}).integer, 1) << "acknowledged w" << i << " lost";
}

// Log rotation: the file is moved away, SIGHUP makes the node write a new one.
TEST(OperationsTest, SighupReopensTheLogFile) {
  const std::string dir = MakeTempDir("anarcho-logfile");
  const std::string log = dir + "/node.log";
  Node n(dir + "/n", 0, {"--logfile", log});
  n.Start();
  ASSERT_TRUE(std::filesystem::exists(log));
  std::filesystem::rename(log, log + ".1");
  n.process().Signal(SIGHUP);
  std::string text;
  for (int i = 0; i < 100 && text.find("SIGHUP: log reopened") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    text = ReadFile(log);
  }
  EXPECT_NE(text.find("SIGHUP: log reopened"), std::string::npos);
  EXPECT_TRUE(n.process().Running());
  EXPECT_EQ(Client(n.port()).Call({"SET", "k", "v"}).AsString(), "OK");
  n.Stop();
  RemoveDir(dir);
}

// Regression: a SIGHUP whose log file could not be opened (its directory
// gone) closed stderr (freopen), so the node's log went nowhere from then on,
// the failure itself included. The new file is opened first: the old one
// keeps the log until a reopen succeeds.
TEST(OperationsTest, AFailedLogReopenKeepsTheLogGoing) {
  const std::string dir = MakeTempDir("anarcho-logfile-gone");
  const std::string logs = dir + "/logs";
  std::filesystem::create_directories(logs);
  Node n(dir + "/n", 0, {"--logfile", logs + "/node.log"});
  n.Start();
  std::filesystem::remove_all(logs);
  n.process().Signal(SIGHUP);
  const std::string fd2 = absl::StrCat("/proc/", n.process().pid(), "/fd/2");  // the deleted file, still open
  std::string text;
  for (int i = 0; i < 100 && text.find("SIGHUP: cannot reopen the log file") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    text = ReadFile(fd2);
  }
  EXPECT_NE(text.find("SIGHUP: cannot reopen the log file"), std::string::npos) << text;
  std::filesystem::create_directories(logs);
  n.process().Signal(SIGHUP);
  for (int i = 0; i < 100 && text.find("SIGHUP: log reopened") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    text = ReadFile(logs + "/node.log");
  }
  EXPECT_NE(text.find("SIGHUP: log reopened"), std::string::npos) << text;
  n.Stop();
  RemoveDir(dir);
}

// Regression: the node never removed its --pidfile, so a stopped node's
// file named a pid that might be another process's by then.
TEST(OperationsTest, AStoppedNodeRemovesItsPidFile) {
  const std::string dir = MakeTempDir("anarcho-pidfile");
  Node n(dir + "/n", 0, {"--pidfile", dir + "/node.pid"});
  n.Start();
  EXPECT_EQ(ReadFile(dir + "/node.pid"), absl::StrCat(n.process().pid(), "\n"));
  n.Stop();
  EXPECT_FALSE(std::filesystem::exists(dir + "/node.pid"));
  RemoveDir(dir);
}

// anarcho-admin status lists every member (a node added later too, learned
// from the node asked) and exits 1 unless all answer and a leader serves.
TEST(OperationsTest, AdminStatusListsMembersAndFailsWhenOneIsDown) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::string dir = MakeTempDir("anarcho-admin-status");
  auto status = [&](int port) {
    Process p;
    // Its table goes to stdout, which Process sends to /dev/null: into the log instead.
    p.Start({"/bin/sh", "-c", absl::StrCat("exec ", ANARCHO_ADMIN_BIN, " status --port ", port, " 1>&2")},
            dir + "/out.log");
    int rc = -1;
    for (int i = 0; i < 250 && p.Running(); ++i) std::this_thread::sleep_for(20ms);
    rc = p.Running() ? -1 : p.ExitCode();
    std::string out = ReadFile(dir + "/out.log");
    std::filesystem::remove(dir + "/out.log");
    return std::make_pair(rc, out);
  };
  auto [ok_rc, ok_out] = status(c.port(leader));
  EXPECT_EQ(ok_rc, 0) << ok_out;
  for (int i = 0; i < 3; ++i) EXPECT_NE(ok_out.find(absl::StrCat(":", c.port(i), " ")), std::string::npos) << ok_out;
  const int other = (leader + 1) % 3;
  c.Kill9(other);
  auto [down_rc, down_out] = status(c.port(leader));
  EXPECT_EQ(down_rc, 1) << down_out;
  EXPECT_NE(down_out.find("down"), std::string::npos);
  EXPECT_NE(down_out.find("not healthy: 1 node(s) down"), std::string::npos) << down_out;
  RemoveDir(dir);
}

// A node started with `flags` must stop at once, with status 2 and `error`
// in what it printed.
void ExpectRefusedAtStart(std::vector<std::string> flags, const std::string& error) {
  const std::string dir = MakeTempDir("anarcho-flags");
  std::vector<std::string> argv = {ANARCHO_NODE_BIN, "--dir", dir + "/n"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  Process p;
  p.Start(argv, dir + "/out.log");
  for (int i = 0; i < 100 && p.Running(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(p.Running());
  EXPECT_EQ(p.ExitCode(), 2);
  const std::string out = ReadFile(dir + "/out.log");
  EXPECT_NE(out.find(error), std::string::npos) << out;
  RemoveDir(dir);
}

TEST(OperationsTest, PortsOutOfRangeAreRefused) {
  ExpectRefusedAtStart({"--port", "84537"}, "--port 84537 is not a port");
}

// Regression: --maxclients 0 or below was taken as it came (a negative one as
// a huge count, its descriptors overflowing).
TEST(OperationsTest, MaxclientsBelowOneIsRefused) {
  ExpectRefusedAtStart({"--port", absl::StrCat(FreePort()), "--maxclients", "-1"}, "--maxclients must be at least 1");
}

// Regression: these configuration errors exited 1 (Abseil's own parser's
// status, or a failed start), or started a node whose child crash-looped
// (--databases 0), or were taken as given (negative waits); systemd's unit
// restarts a node after any status but 2.
TEST(OperationsTest, ConfigurationErrorsExitTwo) {
  const std::string port = absl::StrCat(FreePort());
  ExpectRefusedAtStart({"--port", port, "--bogus", "1"}, "unknown flag --bogus");
  ExpectRefusedAtStart({"--port", "abc"}, "--port: ");
  ExpectRefusedAtStart({"--port", port, "--join", "--restore", "/nonexistent.rdb"}, "--restore starts a new cluster");
  ExpectRefusedAtStart({"--port", port, "--raft_port", port}, "--port and --raft-port are both " + port);
  ExpectRefusedAtStart({"--port", port, "--raft_port", absl::StrCat(FreePort()), "--metrics-port", port},
                       "--port and --metrics-port are both");
  ExpectRefusedAtStart({"--port", port, "--databases", "0"}, "--databases must be at least 1");
  ExpectRefusedAtStart({"--port", port, "--databases", "-3"}, "--databases must be at least 1");
  const std::string not_negative = "--no-leader-wait-ms, --digest-interval-s and --child-timeout must be 0 or more";
  ExpectRefusedAtStart({"--port", port, "--no_leader_wait_ms", "-5"}, not_negative);
  ExpectRefusedAtStart({"--port", port, "--digest_interval_s", "-1"}, not_negative);
  ExpectRefusedAtStart({"--port", port, "--child_timeout", "-1"}, not_negative);
}

// A node started with `argv` (after the binary) must stop at once, with
// status `code` and `error` in what it printed.
void ExpectExit(const std::vector<std::string>& args, int code, const std::string& error, const std::string& log) {
  std::vector<std::string> argv = {ANARCHO_NODE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p;
  p.Start(argv, log);
  for (int i = 0; i < 250 && p.Running(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(p.Running()) << error;
  EXPECT_EQ(p.ExitCode(), code) << error;
  const std::string out = ReadFile(log);
  EXPECT_NE(out.find(error), std::string::npos) << out;
  std::filesystem::remove(log);
}

// Regression: these exited 1 (the start failed after the flags were taken),
// which systemd's unit (RestartPreventExitStatus=2) restarted every 2 s
// forever: a --dir that is a file, a --cluster-id other than the one the
// --dir holds, a --restore into a --dir holding another node's state (in
// BackupTest.UnusableRestoresAreRefusedClearly), bad TLS files (in
// TlsTest.BadSettingsStopTheStart). And a --pidfile in a directory that does
// not exist was not written, without a word; a --config that is a directory
// was read as an empty file; a second node on a running node's --dir stopped
// with RocksDB's lock message. The --dir in use stays exit status 1, as a
// port in use: the other process may end. Later: a --dir of another --id,
// and flags past what the node can take.
TEST(OperationsTest, StartFailuresFromTheSettingsExitTwo) {
  const std::string dir = MakeTempDir("anarcho-start-failures");
  const std::string log = dir + "/out.log";
  const std::string port = absl::StrCat(FreePort());
  std::ofstream(dir + "/file") << "not a directory\n";
  ExpectExit({"--port", port, "--dir", dir + "/file"}, 2, "--dir " + dir + "/file is not a directory", log);
  ExpectExit({"--port", port, "--dir", dir + "/n", "--pidfile", dir + "/nonexistent/pid"}, 2,
             "--pidfile " + dir + "/nonexistent/pid: its directory", log);
  std::filesystem::create_directories(dir + "/conf.d");
  ExpectExit({"--config", dir + "/conf.d", "--dir", dir + "/n"}, 2, "config file " + dir + "/conf.d is a directory",
             log);
  {
    Node n(dir + "/id", 0, {"--cluster_id", "first"});
    n.Start();
    ExpectExit({"--port", port, "--dir", n.dir()}, 1,
               absl::StrCat("--dir ", n.dir(), " is in use by another anarchoredis (pid ", n.process().pid(), ")"),
               log);
    n.Stop();
  }
  ExpectExit({"--port", port, "--dir", dir + "/id", "--cluster_id", "second"}, 2,
             "this node belongs to cluster first, not to the --cluster_id given (second)", log);
  // Regression: a --dir started under another --id served as that id (with
  // its vote and log), or waited for an election for ever.
  ExpectExit({"--port", port, "--dir", dir + "/id", "--id", "2"}, 2,
             "this --dir holds node 1's state, not node 2's: start it with --id 1", log);
  // A start that wrote no state yet (a joiner that never reached a leader)
  // pins no id: the dir may be started again under the right one.
  for (const char* id : {"5", "6"}) {
    Process joiner;
    const std::string raft_port = absl::StrCat(FreePort());
    joiner.Start({ANARCHO_NODE_BIN, "--dir", dir + "/joiner", "--id", id, "--join", "--port", port, "--raft-port",
                  raft_port, "--peers",
                  absl::StrCat("1=127.0.0.1:", FreePort(), ":", FreePort(), ",", id, "=127.0.0.1:", port, ":",
                               raft_port)},
                 log);
    std::this_thread::sleep_for(1s);
    EXPECT_TRUE(joiner.Running()) << id << ": " << ReadFile(log);
    joiner.Kill(SIGTERM);
  }
  // Regression: an election timeout past INT_MAX / 2 overflowed (elections
  // for ever), and 10^8 databases kept the child allocating for minutes.
  ExpectExit({"--port", port, "--dir", dir + "/n", "--election-ticks", "2147483647"}, 2,
             "--election-ticks in 3..100000", log);
  ExpectExit({"--port", port, "--dir", dir + "/n", "--databases", "100000000"}, 2, "--databases at most 1000000",
             log);
  RemoveDir(dir);
}

// Regression: --peers was not checked against the node's own flags. A node
// missing from it was added with its --bind (a membership the others did not
// have); its own entry's client port could differ from --port (the others
// forwarded to a port it did not serve) and its Raft port from --raft-port
// (it listened on the entry's and ignored the flag); two ids could share an
// address. Each is a configuration error now.
TEST(OperationsTest, PeersThatContradictTheNodesFlagsAreRefused) {
  const int port = FreePort(), raft = FreePort(), other = FreePort(), other_raft = FreePort();
  const std::string self = absl::StrCat("1=127.0.0.1:", port, ":", raft);
  const std::string two = absl::StrCat("2=127.0.0.1:", other, ":", other_raft);
  auto flags = [&](const std::string& id, const std::string& peers) {
    return std::vector<std::string>{"--port", absl::StrCat(port), "--raft_port", absl::StrCat(raft), "--id", id,
                                    "--peers", peers};
  };
  ExpectRefusedAtStart(flags("4", absl::StrCat(self, ",", two)), "--id 4 is not in --peers");
  ExpectRefusedAtStart(flags("1", absl::StrCat("1=127.0.0.1:", other, ":", raft, ",", two)),
                       absl::StrCat("--peers gives node 1 (this node) client port ", other, ", but --port is ", port));
  ExpectRefusedAtStart(flags("1", absl::StrCat("1=127.0.0.1:", port, ":", other_raft)),
                       absl::StrCat("--peers gives node 1 (this node) Raft port ", other_raft, ", but --raft-port is ",
                                    raft));
  ExpectRefusedAtStart(flags("1", absl::StrCat(self, ",2=127.0.0.1:", other, ":", raft)),
                       absl::StrCat("--peers gives nodes 1 and 2 the same Raft port on 127.0.0.1 (", raft, ")"));
  ExpectRefusedAtStart(flags("1", absl::StrCat(self, ",2=127.0.0.1:", other, ":", other_raft, ",3=127.0.0.1:", other,
                                               ":", FreePort())),
                       absl::StrCat("--peers gives nodes 2 and 3 the same client port on 127.0.0.1 (", other, ")"));
}

TEST(OperationsTest, UnknownLogLevelIsRefused) {
  ExpectRefusedAtStart({"--port", absl::StrCat(FreePort()), "--loglevel", "loud"}, "--loglevel must be");
}

// A three-node cluster's options where node i serves metrics on (*ports)[i].
ClusterOptions WithMetricsPorts(std::vector<int>* ports) {
  ClusterOptions options;
  for (int i = 0; i < 3; ++i) {
    ports->push_back(FreePort());
    options.args_of[i] = {"--metrics-port", absl::StrCat(ports->back())};
  }
  return options;
}

// The metrics endpoint answers on the node's address and its figures move
// with the traffic.
TEST(OperationsTest, MetricsAreServedAndMoveWithTraffic) {
  const std::string dir = MakeTempDir("anarcho-metrics");
  const int metrics_port = FreePort();
  Node n(dir + "/n", 0, {"--metrics-port", absl::StrCat(metrics_port)});
  n.Start();
  const std::string before = HttpGet(metrics_port, "/metrics");
  ASSERT_EQ(before.rfind("HTTP/1.1 200 OK", 0), 0u) << before;
  EXPECT_EQ(Sample(before, "anarcho_raft_role{role=\"leader\"}"), 1) << before;
  EXPECT_EQ(Sample(before, "anarcho_child_healthy"), 1);
  Client c(n.port());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.Call({"SET", absl::StrCat("k", i), "v"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"SAVE"}).type, resp::Type::kError);  // refused by the node
  const std::string after = HttpGet(metrics_port, "/metrics");
  EXPECT_GE(Sample(after, "anarcho_log_entries_total"), Sample(before, "anarcho_log_entries_total") + 1) << after;
  EXPECT_GE(Sample(after, "anarcho_request_duration_seconds_count{class=\"write\"}"), 20) << after;
  EXPECT_GT(Sample(after, "anarcho_raft_commit_index"), Sample(before, "anarcho_raft_commit_index"));
  EXPECT_GE(Sample(after, "anarcho_log_fsync_duration_seconds_count"), 1);
  EXPECT_EQ(Sample(after, "anarcho_client_errors_total{kind=\"refused\"}"), 1);
  EXPECT_EQ(Sample(after, "anarcho_clients_connected"), 1);
  EXPECT_EQ(HttpGet(metrics_port, "/nothing").rfind("HTTP/1.1 404", 0), 0u);
  n.Stop();
  RemoveDir(dir);
}

// Regression: a follower relays its clients' requests without its gate, whose
// kind it leaves stateless: the writes it relayed were counted as class
// "other". The class comes from the command table there.
TEST(OperationsTest, WritesThroughAFollowerAreCountedAsWrites) {
  std::vector<int> metrics_ports;
  Cluster c(WithMetricsPorts(&metrics_ports));
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  Client cl(c.port(follower));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(cl.Call({"SET", absl::StrCat("k", i), "v"}).AsString(), "OK");
  ASSERT_EQ(cl.Call({"MULTI"}).AsString(), "OK");
  ASSERT_EQ(cl.Call({"INCR", "n"}).AsString(), "QUEUED");
  ASSERT_EQ(cl.Call({"EXEC"}).elements.size(), 1u);
  const std::string text = HttpGet(metrics_ports[follower], "/metrics");
  EXPECT_GE(Sample(text, "anarcho_request_duration_seconds_count{class=\"write\"}"), 21) << text;
  EXPECT_LT(Sample(text, "anarcho_request_duration_seconds_count{class=\"other\"}"), 20) << text;
}

// Regression (OperationsTest.AStoppedPeerShowsAsInactiveWhileItsLinkIsUp): a
// stopped follower's link stays up (nothing closes it), so the leader's
// anarcho_peer_connected said 1 and nothing showed that it answered nothing.
// anarcho_peer_active says whether it answered within an election timeout.
TEST(OperationsTest, AStoppedPeerShowsAsInactiveWhileItsLinkIsUp) {
  std::vector<int> metrics_ports;
  Cluster c(WithMetricsPorts(&metrics_ports));
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int stopped = (leader + 1) % 3, other = (leader + 2) % 3;
  const std::string active = absl::StrCat("anarcho_peer_active{peer=\"", c.id(stopped), "\"}");
  const std::string connected = absl::StrCat("anarcho_peer_connected{peer=\"", c.id(stopped), "\"}");
  EXPECT_EQ(Sample(HttpGet(metrics_ports[leader], "/metrics"), active), 1);
  c.node(stopped).process().Signal(SIGSTOP);
  std::string text;
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(100ms);
    text = HttpGet(metrics_ports[leader], "/metrics");
    if (Sample(text, active) == 0) break;
  }
  c.node(stopped).process().Signal(SIGCONT);
  EXPECT_EQ(Sample(text, active), 0) << text;
  EXPECT_EQ(Sample(text, connected), 1) << text;
  EXPECT_EQ(Sample(text, absl::StrCat("anarcho_peer_active{peer=\"", c.id(other), "\"}")), 1) << text;
}

// Regression: a child that exits at every start (here: its node's snapshot
// holds database 10, and the node now runs with --databases 4) was started
// again as fast as it died, 155 times in 6 s, and the node's log said only
// "control link lost". Now the node says what the child's log says, and
// waits longer before each start of a child that keeps ending by itself.
TEST(OperationsTest, AChildThatKeepsExitingIsStartedAgainSlowlyAndSaysWhy) {
  const std::string dir = MakeTempDir("anarcho-crashing-child");
  {
    Node n(dir + "/n");
    n.Start();
    Client c(n.port());
    c.Call({"SELECT", "10"});
    ASSERT_EQ(c.Call({"SET", "k", "v"}).AsString(), "OK");
    ASSERT_FALSE(c.Call({"ANARCHO.SNAPSHOT"}).IsError());
    n.Stop();
  }
  Node n(dir + "/n", 0, {"--databases", "4"});
  n.Launch();
  std::this_thread::sleep_for(4s);
  ASSERT_TRUE(n.process().Running()) << n.LogTail();
  int rebuilds = -1;
  ASSERT_TRUE(absl::SimpleAtoi(n.Status("child_rebuilds"), &rebuilds)) << n.LogTail();
  EXPECT_LT(rebuilds, 20) << n.LogTail();
  EXPECT_NE(n.LogTail().find("its log says: FATAL: Data file was created with a Redis server configured to handle "
                             "more than 4 databases"),
            std::string::npos)
      << n.LogTail();
  EXPECT_NE(n.LogTail().find("in a row; the next starts in"), std::string::npos) << n.LogTail();
  n.Kill9();
  RemoveDir(dir);
}

// SHUTDOWN stops the node it is sent to (never forwarded), gracefully: the
// client's connection closes without a reply, as with Redis, and the data is
// there after a restart.
TEST(OperationsTest, ShutdownStopsTheNodeAndKeepsItsData) {
  const std::string dir = MakeTempDir("anarcho-shutdown");
  Node n(dir + "/n");
  n.Start();
  Client c(n.port());
  ASSERT_EQ(c.Call({"SET", "k", "v"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"MULTI"}).AsString(), "OK");
  EXPECT_EQ(c.Call({"SHUTDOWN"}).AsString(), "ERR Command not allowed inside a transaction");
  EXPECT_EQ(c.Call({"DISCARD"}).AsString(), "OK");
  EXPECT_EQ(c.Call({"SHUTDOWN", "ABORT"}).AsString(), "ERR No shutdown in progress.");
  EXPECT_EQ(c.Call({"SHUTDOWN", "SAVE", "NOSAVE"}).AsString(), "ERR syntax error");
  c.Send("*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n");
  EXPECT_TRUE(c.ClosedByPeer(10s));
  for (int i = 0; i < 500 && n.process().Running(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(n.process().Running());
  EXPECT_EQ(n.process().ExitCode(), 0);
  EXPECT_NE(n.LogTail().find("snapshot first"), std::string::npos) << "SAVE: the tail is snapshotted";
  n.Start();
  EXPECT_EQ(Client(n.port()).Call({"GET", "k"}).AsString(), "v");
  n.Stop();
  RemoveDir(dir);
}

// CPU time (user + system) the process has used, in clock ticks.
long CpuTicks(pid_t pid) {
  std::istringstream in(ReadFile(absl::StrCat("/proc/", pid, "/stat")));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 1; in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// The CPU ticks the process uses over the next `span`.
long CpuTicksDuring(pid_t pid, std::chrono::milliseconds span) {
  const long before = CpuTicks(pid);
  std::this_thread::sleep_for(span);
  return CpuTicks(pid) - before;
}

// Regression: a graceful stop closed the listening socket, and the accept
// that failed with it was started again at once, failing again: the event
// loop spun for the whole drain (a full core for its 2 s while a blocked
// client kept the drain going).
TEST(OperationsTest, AGracefulStopDoesNotSpinWhileItDrains) {
  const std::string dir = MakeTempDir("anarcho-drain");
  Node n(dir + "/n");
  n.Start();
  Client blocked(n.port());
  blocked.Send("*3\r\n$5\r\nBLPOP\r\n$7\r\nnothing\r\n$1\r\n0\r\n");
  std::this_thread::sleep_for(200ms);
  n.process().Signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  const long used = CpuTicksDuring(n.process().pid(), 1000ms);
  ASSERT_TRUE(n.process().Running()) << "the drain (2 s) ended early: nothing was measured";
  EXPECT_LT(used, sysconf(_SC_CLK_TCK) * 2 / 10) << "CPU ticks in 1 s of draining";
  for (int i = 0; i < 500 && n.process().Running(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(n.process().ExitCode(), 0);
  RemoveDir(dir);
}

// With fewer open files allowed than maxclients needs, the node lowers
// maxclients (as Redis does) and says so: a client past it gets Redis's
// error at once. Before, the node accepted until it ran out of descriptors;
// the clients after that got no answer, and the node spun on the failing
// accept.
TEST(OperationsTest, ClientsPastTheOpenFileLimitGetRedisError) {
  const std::string dir = MakeTempDir("anarcho-files");
  Node n(dir + "/n");
  n.LimitOpenFiles(212);  // (212 - 96 - 16) / 2: room for 50 clients
  n.Launch();
  n.WaitUntilReady();
  EXPECT_NE(n.LogTail().find("maxclients lowered from 10000 to 50"), std::string::npos) << n.LogTail();
  resp::Value setting = Client(n.port()).Call({"CONFIG", "GET", "maxclients"});
  ASSERT_EQ(setting.elements.size(), 2u);
  EXPECT_EQ(setting.elements[1].AsString(), "50");
  const std::string info = Client(n.port()).Call({"INFO", "clients"}).AsString();
  EXPECT_NE(info.find("\r\nmaxclients:50\r\n"), std::string::npos) << info;
  std::vector<std::unique_ptr<Client>> clients;
  int served = 0, refused = 0;
  for (int i = 0; i < 70; ++i) {
    auto c = std::make_unique<Client>(n.port());
    c->Send("*1\r\n$4\r\nPING\r\n");
    std::optional<resp::Value> v = c->Read(5s);
    ASSERT_TRUE(v.has_value()) << "client " << i << " got no answer";
    if (v->AsString() == "PONG") ++served;
    if (v->IsError()) {
      EXPECT_EQ(v->str, "ERR max number of clients reached");
      ++refused;
    }
    clients.push_back(std::move(c));
  }
  EXPECT_EQ(served, 50);  // the readiness probes' connections are gone
  EXPECT_EQ(refused, 20);
  n.Stop();
  RemoveDir(dir);
}

// The descriptors `pid` has open now.
size_t OpenFiles(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"))) ++n;
  return n;
}

// Out of descriptors, a listening socket keeps its connection queued and
// stays readable: accepting again at once spun the event loop. Here the
// node's limit is lowered to what it has open (the ports that need no
// authentication hold at most their caps, so connections to them no longer
// exhaust it: see the next test); the node waits between tries, and serves
// the queued clients once it may open files again.
TEST(OperationsTest, AnAcceptOutOfDescriptorsWaitsInsteadOfSpinning) {
  const std::string dir = MakeTempDir("anarcho-emfile");
  Node n(dir + "/n");
  n.LimitOpenFiles(180);
  n.Launch();
  n.WaitUntilReady();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<Client>(n.port()));
    ASSERT_EQ(clients.back()->Call({"PING"}).AsString(), "PONG") << "client " << i;
  }
  const rlimit lowered{static_cast<rlim_t>(OpenFiles(n.process().pid())), 180};
  ASSERT_EQ(prlimit(n.process().pid(), RLIMIT_NOFILE, &lowered, nullptr), 0) << strerror(errno);
  std::vector<std::unique_ptr<Client>> queued;
  for (int i = 0; i < 5; ++i) {
    queued.push_back(std::make_unique<Client>(n.port()));
    queued.back()->Send("*1\r\n$4\r\nPING\r\n");
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(CpuTicksDuring(n.process().pid(), 1500ms), sysconf(_SC_CLK_TCK) * 3 / 10) << "CPU ticks in 1.5 s";
  EXPECT_NE(n.LogTail().find("trying again in 100 ms"), std::string::npos) << "no accept ran out of descriptors";
  const rlimit restored{180, 180};
  ASSERT_EQ(prlimit(n.process().pid(), RLIMIT_NOFILE, &restored, nullptr), 0) << strerror(errno);
  for (size_t i = 0; i < queued.size(); ++i) {
    std::optional<resp::Value> pong = queued[i]->Read(10s);
    ASSERT_TRUE(pong.has_value()) << "queued client " << i << " got no answer";
    EXPECT_EQ(pong->AsString(), "PONG");
  }
  EXPECT_EQ(clients.front()->Call({"PING"}).AsString(), "PONG");
  n.Stop();
  RemoveDir(dir);
}

// Regression: the metrics endpoint and the Raft port, which take
// connections before any authentication, kept every one they accepted (for
// up to 5 s each), outside the node's open-file budget. A flood of idle
// connections to either took every descriptor: clients got no answer, and
// ANARCHO.SNAPSHOT failed. They now hold at most 32 and 16 (closing the
// others as they accept them), and maxclients leaves room for them.
TEST(OperationsTest, IdleConnectionsToTheMetricsAndRaftPortsLeaveTheClientsTheirDescriptors) {
  const std::string dir = MakeTempDir("anarcho-metrics-flood");
  const int metrics_port = FreePort(), raft_port = FreePort();
  Node n(dir + "/n", 0, {"--metrics-port", absl::StrCat(metrics_port), "--raft_port", absl::StrCat(raft_port)});
  n.LimitOpenFiles(212);  // (212 - 96 - 16 - 32) / 2: room for 34 clients
  n.Launch();
  n.WaitUntilReady();
  EXPECT_NE(n.LogTail().find("maxclients lowered from 10000 to 34"), std::string::npos) << n.LogTail();
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> flood;
  for (const int port : {metrics_port, raft_port}) {
    for (int i = 0; i < 200; ++i) {
      flood.emplace_back(io);
      asio::error_code ec;
      flood.back().connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
      ASSERT_FALSE(ec) << ec.message();
    }
  }
  std::this_thread::sleep_for(300ms);  // the node accepts them all (and closes all but 32 and 16)
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 34; ++i) {
    auto c = std::make_unique<Client>(n.port());
    c->Send("*1\r\n$4\r\nPING\r\n");
    std::optional<resp::Value> v = c->Read(3s);
    ASSERT_TRUE(v.has_value()) << "client " << i << " got no answer";
    ASSERT_EQ(v->AsString(), "PONG") << "client " << i;
    clients.push_back(std::move(c));
  }
  const resp::Value snapshot = clients.front()->Call({"ANARCHO.SNAPSHOT"});
  EXPECT_FALSE(snapshot.IsError()) << snapshot.str;
  EXPECT_EQ(clients.back()->Call({"SET", "k", "v"}).AsString(), "OK");
  n.Stop();
  RemoveDir(dir);
}

// SIGTERM on a follower answers what its clients sent before it stops: a
// pipelined writer sees replies, then the connection close, never an error
// for a request the node had read.
TEST(OperationsTest, SigtermOnAFollowerDrainsItsClients) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  std::atomic<bool> stop{false};
  std::vector<std::string> errors;
  std::vector<int> acked;
  std::thread writer([&] {
    Client w(c.port(follower));
    for (int batch = 0; !stop; ++batch) {
      std::string req;
      for (int j = 0; j < 20; ++j) {
        const std::string key = absl::StrCat("f", batch * 20 + j);
        req += absl::StrCat("*3\r\n$3\r\nSET\r\n$", key.size(), "\r\n", key, "\r\n$1\r\nv\r\n");
      }
      w.Send(req);
      for (int j = 0; j < 20; ++j) {
        std::optional<resp::Value> v = w.Read(10s);
        if (!v) return;  // closed: the rest of the batch was never read by the node
        if (v->IsError()) errors.push_back(v->str);
        if (v->AsString() == "OK") acked.push_back(batch * 20 + j);
      }
    }
  });
  std::this_thread::sleep_for(300ms);
  c.node(follower).Stop();
  for (int i = 0; i < 500 && c.node(follower).process().Running(); ++i) std::this_thread::sleep_for(20ms);
  stop = true;
  writer.join();
  EXPECT_FALSE(c.node(follower).process().Running());
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: " << errors.front();
  ASSERT_GT(acked.size(), 20u);
  Client r(c.port(leader));
  for (int i : acked) ASSERT_EQ(r.Call({"EXISTS", absl::StrCat("f", i)}).integer, 1) << "acknowledged f" << i << " lost";
}

}  // namespace
}  // namespace itest
