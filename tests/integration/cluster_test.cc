// Three real nodes with three real children on loopback, with the network
// between them under the test's control.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

// Writers on every node: each write has its own key, and only acknowledged
// ones are remembered.
class WriteLoad {
 public:
  WriteLoad(Cluster& c, int threads_per_node = 2) {
    for (int n = 0; n < c.size(); ++n) {
      for (int t = 0; t < threads_per_node; ++t) {
        threads_.emplace_back([this, &c, n, t] {
          for (int i = 0; !stop_; ++i) {
            Client client(c.port(n));
            if (!client.connected()) {
              std::this_thread::sleep_for(50ms);
              continue;
            }
            for (; !stop_; ++i) {
              std::string key = absl::StrCat("w", n, "-", t, "-", i);
              resp::Value v = client.Call({"SET", key, "v"});
              if (v.IsError() && v.str == "TEST: no reply") break;  // connection lost
              if (v.AsString() == "OK") {
                std::lock_guard l(mu_);
                acked_.push_back(key);
              }
            }
          }
        });
      }
    }
  }
  ~WriteLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::vector<std::string> acked() {
    std::lock_guard l(mu_);
    return acked_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> acked_;
  std::vector<std::thread> threads_;
};

size_t MissingOn(Cluster& c, int node, const std::vector<std::string>& keys) {
  Client client(c.port(node));
  size_t missing = 0;
  for (size_t i = 0; i < keys.size(); i += 500) {
    std::vector<std::string> args = {"MGET"};
    for (size_t j = i; j < std::min(keys.size(), i + 500); ++j) args.push_back(keys[j]);
    resp::Value v = client.Call(args);
    for (const auto& e : v.elements) missing += e.type == resp::Type::kNull;
    if (v.type != resp::Type::kArray) missing += args.size() - 1;
  }
  return missing;
}

TEST(ClusterTest, AnyNodeServesReadsAndWritesConsistently) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int n = 0; n < c.size(); ++n) {
    Client w(c.port(n));
    EXPECT_EQ(w.Call({"SET", "k", absl::StrCat("from", n)}).AsString(), "OK");
    // Read-your-write from every node, at once.
    for (int m = 0; m < c.size(); ++m) {
      Client r(c.port(m));
      EXPECT_EQ(r.Call({"GET", "k"}).AsString(), absl::StrCat("from", n)) << "written on " << n << ", read on " << m;
    }
  }
  // Pipelining and order through a follower.
  int follower = (leader + 1) % c.size();
  Client f(c.port(follower));
  std::string req;
  for (int i = 0; i < 2000; ++i) resp::AppendCommand(&req, {"INCR", "ctr"});
  f.Send(req);
  for (int i = 1; i <= 2000; ++i) {
    auto v = f.Read();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(v->integer, i);
  }
  EXPECT_EQ(f.Call({"MULTI"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"INCR", "ctr"}).AsString(), "QUEUED");
  EXPECT_EQ(f.Call({"EXEC"}).elements.at(0).integer, 2001);
  // INFO carries the node's Raft section.
  std::string info = f.Call({"INFO"}).AsString();
  EXPECT_NE(info.find("raft_role:"), std::string::npos);
  EXPECT_TRUE(c.WaitConverged());
}

TEST(ClusterTest, LeaderKilledUnderLoadLosesNoAcknowledgedWrite) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  WriteLoad load(c);
  std::this_thread::sleep_for(1500ms);
  c.Kill9(leader);
  std::set<int> rest;
  for (int i = 0; i < c.size(); ++i) {
    if (i != leader) rest.insert(i);
  }
  int next = c.WaitForLeader(20s, rest);
  ASSERT_GE(next, 0) << "no new leader";
  std::this_thread::sleep_for(1500ms);
  load.Stop();
  auto acked = load.acked();
  ASSERT_GT(acked.size(), 100u);
  for (int n : rest) EXPECT_EQ(MissingOn(c, n, acked), 0u) << "node " << n;
  // The old leader comes back, catches up, and its child converges.
  c.Restart(leader);
  EXPECT_EQ(MissingOn(c, leader, acked), 0u);
  EXPECT_TRUE(c.WaitConverged());
}

// A transfer to a node that cannot take over stays in progress until it is
// abandoned, and meanwhile the core refuses proposals. Writes that ran on the
// leader's child in that window must still reach the log before they are
// acknowledged (the fault run caught acknowledged appends lost this way: their
// effects were dropped, and a later entry's commit acknowledged them).
TEST(ClusterTest, WritesDuringAnAbandonedTransferAreNotLost) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int target = (leader + 1) % c.size(), other = (leader + 2) % c.size();
  WriteLoad load(c);
  std::this_thread::sleep_for(500ms);
  c.Partition({target}, {leader, other});
  for (int i = 0; i < 4; ++i) {
    Client admin(c.port(leader));
    resp::Value v = admin.Call({"ANARCHO.TRANSFER", absl::StrCat(target + 1)});
    EXPECT_FALSE(v.IsError()) << Str(v);
    std::this_thread::sleep_for(1500ms);  // abandoned after an election timeout
  }
  c.Heal();
  std::this_thread::sleep_for(500ms);
  load.Stop();
  auto acked = load.acked();
  ASSERT_GT(acked.size(), 100u);
  // The other follower's child holds exactly what the log holds.
  ASSERT_GE(c.WaitForLeader(), 0);
  EXPECT_TRUE(c.WaitConverged());
  EXPECT_EQ(MissingOn(c, other, acked), 0u) << "acknowledged writes missing from the log";
  // And after the leader hands over, the new leader serves them too.
  int now = c.WaitForLeader();
  int next = (now + 1) % c.size();
  Client admin(c.port(now));
  EXPECT_EQ(admin.Call({"ANARCHO.TRANSFER", absl::StrCat(next + 1)}).AsString(), "OK");
  ASSERT_EQ(c.WaitForLeader(20s, {next}), next);
  EXPECT_EQ(MissingOn(c, next, acked), 0u);
}

// Killed while entries are being applied to it: the rebuilt child must get the
// log from the start and nothing of what was in flight to the dead one (an
// append re-sent to the new child would show up twice).
TEST(ClusterTest, FollowerChildKilledUnderLoadIsRebuiltExactly) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % c.size();
  std::atomic<bool> stop{false};
  std::thread pusher([&] {
    Client w(c.port(leader));
    std::string req;
    for (int i = 0; !stop; ++i) {
      req.clear();
      for (int j = 0; j < 50; ++j) resp::AppendCommand(&req, {"RPUSH", "list", absl::StrCat(i, "-", j)});
      w.Send(req);
      for (int j = 0; j < 50; ++j) {
        if (!w.Read(5s)) return;
      }
    }
  });
  std::this_thread::sleep_for(1s);
  pid_t child = c.node(follower).ChildPid();
  ::kill(child, SIGKILL);
  std::this_thread::sleep_for(1s);
  stop = true;
  pusher.join();
  EXPECT_TRUE(c.WaitConverged());
  EXPECT_NE(c.node(follower).ChildPid(), child);
}

// Regression (ClusterTest.ALeadersStuckChildIsRebuiltAndHealthSaysSo): a
// leader whose child hung (stopped here) kept its leadership, its Raft side
// heartbeating on: every request of the cluster waited for minutes, and
// ANARCHO.HEALTH, STATUS and the metrics all said the child was healthy.
TEST(ClusterTest, ALeadersStuckChildIsRebuiltAndHealthSaysSo) {
  Cluster c({.node_args = {"--child_timeout", "4000"}});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client cl(c.port(leader));
  ASSERT_EQ(Str(cl.Call({"SET", "before", "1"})), "OK");
  const pid_t child = c.node(leader).ChildPid();
  ASSERT_GT(child, 0);
  ::kill(child, SIGSTOP);
  std::string health;
  for (int i = 0; i < 35 && health.find("child answered nothing") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    health = Str(Client(c.port(leader)).Call({"ANARCHO.HEALTH"}));
  }
  EXPECT_NE(health.find("child answered nothing"), std::string::npos) << health;
  EXPECT_EQ(c.Status(leader)["child_healthy"], "no");
  // Rebuilt from the log: the cluster serves again, and nothing is lost.
  std::string reply;
  for (int i = 0; i < 100 && reply != "OK"; ++i) {
    const int now = c.WaitForLeader();
    reply = now < 0 ? "no leader" : Str(Client(c.port(now)).Call({"SET", "after", "1"}));
    if (reply != "OK") std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(reply, "OK");
  EXPECT_NE(::kill(child, 0), 0) << "the stuck child is still there";
  EXPECT_EQ(Str(Client(c.port(c.WaitForLeader())).Call({"GET", "before"})), "1");
  EXPECT_NE(c.Status(leader)["child_rebuilds"], "0");
  EXPECT_TRUE(c.WaitConverged());
}

// Regression (ClusterTest.AFollowersChildThatStopsReadingHoldsUpABoundedFeed):
// a follower fed its child every committed entry as it came: a child that
// stopped reading had all of them queued for it in the node's memory, and a
// full sync fed the whole log after the snapshot in one turn of the event
// loop (seconds with big values: elections followed). The child is now fed
// from the log, a turn's worth at a time, while it has less than 32 MB it
// has not applied.
TEST(ClusterTest, AFollowersChildThatStopsReadingHoldsUpABoundedFeed) {
  Cluster c({.node_args = {"--snapshot_log_bytes", "1000000000"}});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  const pid_t child = c.node(follower).ChildPid();
  ASSERT_GT(child, 0);
  ::kill(child, SIGSTOP);
  Client cl(c.port(leader));
  const std::string value(1 << 20, 'v');
  for (int i = 0; i < 96; ++i) ASSERT_EQ(Str(cl.Call({"SET", absl::StrCat("big", i % 8), value})), "OK");
  uint64_t backlog = 0;
  ASSERT_TRUE(absl::SimpleAtoi(c.Status(follower)["child_backlog_bytes"], &backlog));
  EXPECT_GT(backlog, 0u);
  EXPECT_LT(backlog, 40u << 20) << "the feed is not bounded";
  ::kill(child, SIGCONT);
  EXPECT_TRUE(c.WaitConverged());
  // And a full sync of that log, fed a turn at a time, gives the same data.
  ::kill(c.node(follower).ChildPid(), SIGKILL);
  EXPECT_TRUE(c.WaitConverged());
}

// Regression (ClusterTest.AFollowerAnswersHealthWhileTheLeaderCannotSayHowItsClientsAuthenticate):
// a follower's new session first asks the leader how its connection is
// authenticated, and waited for the answer before anything else: with the
// leader's child hung, a health check on every follower hung too.
TEST(ClusterTest, AFollowerAnswersHealthWhileTheLeaderCannotSayHowItsClientsAuthenticate) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  const pid_t child = c.node(leader).ChildPid();
  ASSERT_GT(child, 0);
  ::kill(child, SIGSTOP);
  Client f(c.port(follower));
  std::this_thread::sleep_for(300ms);  // its link to the leader is up, the leader's answer is not
  f.Send(Req({"ANARCHO.HEALTH"}));
  const std::optional<resp::Value> health = f.Read(3s);
  ::kill(child, SIGCONT);
  ASSERT_TRUE(health.has_value()) << "no answer";
  EXPECT_NE(Str(*health).find("status"), std::string::npos) << Str(*health);
  // The data request behind it waits for that answer, and goes on.
  EXPECT_EQ(Str(f.Call({"SET", "after", "1"})), "OK");
}

// A child that answers nothing while it runs one long command is working,
// not stuck: it is left to finish, however short --child_timeout is.
TEST(ClusterTest, AChildBusyWithALongCommandIsNotRebuilt) {
  Cluster c({.nodes = 1, .node_args = {"--child_timeout", "300"}});
  ASSERT_GE(c.WaitForLeader(), 0);
  Client cl(c.port(0));
  const auto start = std::chrono::steady_clock::now();
  // About a second or two of the child's CPU, under busy-reply-threshold.
  const resp::Value v = cl.Call({"EVAL", "local i = 0 while i < 200000000 do i = i + 1 end return i", "0"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(v.integer, 200000000) << Str(v);
  EXPECT_GT(took, 600ms) << "too short a run to tell";
  EXPECT_EQ(c.Status(0)["child_rebuilds"], "0");
}

TEST(ClusterTest, IsolatedLeaderStopsAcknowledgingAndItsDivergentChildIsRebuilt) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  std::set<int> others;
  for (int i = 0; i < c.size(); ++i) {
    if (i != leader) others.insert(i);
  }
  Client before(c.port(leader));
  EXPECT_EQ(before.Call({"SET", "stable", "1"}).AsString(), "OK");
  c.Partition({leader}, others);
  // A write on the isolated leader runs on its child but must never be
  // acknowledged: it cannot commit.
  Client w(c.port(leader));
  w.Send("*3\r\n$3\r\nSET\r\n$9\r\ndivergent\r\n$1\r\nx\r\n");
  auto reply = w.Read(6s);
  EXPECT_TRUE(!reply.has_value() || reply->IsError()) << Str(*reply);
  // The majority elects a new leader and goes on.
  int next = c.WaitForLeader(20s, others);
  ASSERT_GE(next, 0);
  Client m(c.port(next));
  EXPECT_EQ(m.Call({"SET", "majority", "yes"}).AsString(), "OK");
  c.Heal();
  // The old leader's child dropped the divergent write and has the majority's.
  EXPECT_TRUE(c.WaitConverged());
  Client old(c.port(leader));
  EXPECT_EQ(old.Call({"GET", "majority"}).AsString(), "yes");
  EXPECT_EQ(old.Call({"EXISTS", "divergent"}).integer, 0);
  EXPECT_EQ(old.Call({"GET", "stable"}).AsString(), "1");
}

TEST(ClusterTest, NoMajorityMeansClearRetryableErrors) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int survivor = (leader + 1) % c.size();
  for (int i = 0; i < c.size(); ++i) {
    if (i != survivor) c.Kill9(i);
  }
  Client cl(c.port(survivor));
  auto start = std::chrono::steady_clock::now();
  resp::Value v = cl.Call({"SET", "x", "1"});
  // An error that says to retry (or that the outcome is unknown), never OK and
  // never a hang.
  EXPECT_TRUE(v.IsError()) << Str(v);
  EXPECT_TRUE(v.str.starts_with("TRYAGAIN") || v.str.starts_with("UNKNOWN")) << v.str;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 25s);
  Client again(c.port(survivor));
  resp::Value g = again.Call({"GET", "x"});
  EXPECT_TRUE(g.IsError()) << Str(g);
}

// A follower cut off from a leader that goes on leading tells its blocked
// clients what it saw: it lost its leader, not that leadership changed.
TEST(ClusterTest, AFollowerCutOffSaysItLostItsLeaderNotThatLeadershipChanged) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int cut = (leader + 1) % c.size();
  Client blocked(c.port(cut));
  blocked.Send("*3\r\n$5\r\nBLPOP\r\n$4\r\nnone\r\n$1\r\n0\r\n");
  std::this_thread::sleep_for(300ms);
  std::set<int> rest;
  for (int i = 0; i < c.size(); ++i) {
    if (i != cut) rest.insert(i);
  }
  c.Partition({cut}, rest);
  auto reply = blocked.Read(15s);
  c.Heal();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->str, "UNKNOWN this node lost contact with its leader; the outcome of this request is unknown");
  EXPECT_EQ(c.WaitForLeader(), leader);
}

// A BLPOP blocked through a follower that is then cut off, its relay to the
// leader included: the follower answers UNKNOWN, and by then the leader has
// ended the session the BLPOP blocks in. Before, the leader kept it until
// the network healed, and it took the next element pushed on the majority's
// side, which its client, told UNKNOWN, never received.
TEST(ClusterTest, ABlockedPopThroughACutOffFollowerTakesNothingAfterItsUnknown) {
  Cluster c({.relay_proxies = true});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int cut = (leader + 1) % c.size(), other = (leader + 2) % c.size();
  Client blocked(c.port(cut));
  blocked.Send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n");
  Client w(c.port(leader));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!absl::StrContains(w.Call({"INFO", "clients"}).AsString(), "blocked_clients:1")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the BLPOP did not block on the leader";
    std::this_thread::sleep_for(20ms);
  }
  c.Partition({cut}, {leader, other}, /*silently=*/true);
  auto reply = blocked.Read(15s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->str, "UNKNOWN this node lost contact with its leader; the outcome of this request is unknown");
  EXPECT_EQ(w.Call({"RPUSH", "q", "x"}).integer, 1);
  EXPECT_EQ(w.Call({"LLEN", "q"}).integer, 1) << "a session of the cut-off follower took the element";
  EXPECT_TRUE(absl::StrContains(w.Call({"INFO", "clients"}).AsString(), "blocked_clients:0"));
  EXPECT_NE(c.Status(leader)["relay_sessions_ended"], "0");
  c.Heal();
  EXPECT_EQ(c.WaitForLeader(), leader);
  Client after(c.port(cut));
  EXPECT_EQ(after.Call({"LPOP", "q"}).AsString(), "x");
}

// A follower's connections to the leader's client port that stall while the
// Raft links work: its clients' requests hung without an error for as long
// as the connections stayed so, and a BLPOP blocked through one stayed on
// the leader. Now the follower, hearing nothing while it awaits replies (the
// leader's signs of life stop), has the leader end those sessions, then
// answers UNKNOWN: the element pushed after that answer stays in the list.
TEST(ClusterTest, AStalledRelayEndsItsSessionOnTheLeaderBeforeItsUnknown) {
  Cluster c({.relay_proxies = true});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int via = (leader + 1) % c.size();
  Client blocked(c.port(via));
  blocked.Send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n");
  Client s(c.port(via));
  ASSERT_EQ(s.Call({"SET", "k", "before"}).AsString(), "OK");  // (the shared relay is open)
  Client w(c.port(leader));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!absl::StrContains(w.Call({"INFO", "clients"}).AsString(), "blocked_clients:1")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the BLPOP did not block on the leader";
    std::this_thread::sleep_for(20ms);
  }
  c.StallRelay(via, leader);
  s.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nstuck!\r\n");
  const std::string unknown = "UNKNOWN";
  auto popped = blocked.Read(15s);
  ASSERT_TRUE(popped.has_value()) << "the blocked BLPOP hung";
  EXPECT_EQ(popped->str.rfind(unknown, 0), 0u) << popped->str;
  auto set = s.Read(15s);
  ASSERT_TRUE(set.has_value()) << "the SET on the shared relay hung";
  EXPECT_EQ(set->str.rfind(unknown, 0), 0u) << set->str;
  EXPECT_EQ(w.Call({"RPUSH", "q", "x"}).integer, 1);
  EXPECT_EQ(w.Call({"LLEN", "q"}).integer, 1) << "the stalled relay's session took the element";
  EXPECT_TRUE(absl::StrContains(w.Call({"INFO", "clients"}).AsString(), "blocked_clients:0"));
  EXPECT_NE(c.Status(leader)["relay_sessions_ended"], "0");
  EXPECT_EQ(c.Status(via)["relay_links_stalled"], "2");
  // New connections pass: the follower serves again.
  EXPECT_EQ(c.WaitForLeader(), leader);
  Client after(c.port(via));
  EXPECT_EQ(after.Call({"LPOP", "q"}).AsString(), "x");
  EXPECT_EQ(after.Call({"SET", "k", "after"}).AsString(), "OK");
}

// What the leader holds for seconds while its loop turns is no stall: its
// signs of life keep the follower's shared relay, which awaits the paused
// write, from being given up.
TEST(ClusterTest, ARelayedWriteTheLeaderHoldsForSecondsIsNoStall) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int via = (leader + 1) % c.size();
  Client s(c.port(via));
  ASSERT_EQ(s.Call({"SET", "k", "before"}).AsString(), "OK");  // (the shared relay is open)
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"CLIENT", "PAUSE", "3500", "WRITE"}).AsString(), "OK");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(s.Call({"SET", "k", "after"}).AsString(), "OK");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3s) << "the pause did not hold the write";
  EXPECT_EQ(c.Status(via)["relay_links_stalled"], "0");
}

// A request that waits on the follower behind a read its own child serves is
// not sent yet: the leader owes it nothing, and a child that takes seconds
// is no stalled connection. (It was counted: the session's connection was
// given up, the read got TRYAGAIN and the BLPOP UNKNOWN.)
TEST(ClusterTest, ARequestWaitingBehindAFollowersOwnReadIsNoStall) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int via = (leader + 1) % c.size();
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "k", "v"}).AsString(), "OK");
  ASSERT_TRUE(c.WaitConverged());
  Client s(c.port(via));
  auto served = [&] { return c.Status(via)["follower_reads_served"]; };
  const std::string none = served();
  for (int i = 0; i < 100 && served() == none; ++i) ASSERT_EQ(s.Call({"GET", "k"}).AsString(), "v");
  ASSERT_NE(served(), none) << "no read was served by the follower";
  std::this_thread::sleep_for(2500ms);  // the session's own connection to the leader idles
  std::thread sleeper([&] { (void)c.ChildCall(via, {"DEBUG", "SLEEP", "3"}); });
  std::this_thread::sleep_for(200ms);
  s.Send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n1\r\n");
  auto get = s.Read(15s), pop = s.Read(15s);
  sleeper.join();
  ASSERT_TRUE(get.has_value() && pop.has_value());
  EXPECT_EQ(get->AsString(), "v");
  EXPECT_EQ(pop->type, resp::Type::kNull) << pop->str;
  EXPECT_EQ(c.Status(via)["relay_links_stalled"], "0");
}

// Connections that stall without closing (a middlebox that lost their state)
// must not cut a follower off for good. Its leader's writes on them still
// complete into the socket, so only the missing acknowledgements tell: each
// side dials again, and the follower's child gets the writes made since.
// Before, the follower stayed leaderless until the stalled connections were
// released.
TEST(ClusterTest, AFollowerWhoseLinksStallWithoutClosingCatchesUp) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int cut = (leader + 1) % c.size();
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "k", "before"}).AsString(), "OK");
  ASSERT_TRUE(c.WaitConverged());
  c.StallLinks({cut}, {leader});
  ASSERT_EQ(w.Call({"SET", "k", "after"}).AsString(), "OK");
  // The follower's child holds only what its node applied from the log.
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  std::string held;
  while (std::chrono::steady_clock::now() < deadline) {
    auto v = c.ChildCall(cut, {"GET", "k"});
    held = v.ok() ? v->AsString() : v.status().ToString();
    if (held == "after") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(held, "after") << "the follower did not catch up over new links";
  Client r(c.port(cut));
  EXPECT_EQ(r.Call({"GET", "k"}).AsString(), "after");
  EXPECT_EQ(c.WaitForLeader(), leader);
  // Each side closed the stalled link the other dialled anew (or it would
  // hold a descriptor for ever).
  auto replaced = [&](int at, int from) {
    std::ifstream in(c.node(at).dir() + "/node.log");
    const std::string link = absl::StrCat("raft link from node ", c.id(from), " (");
    for (std::string line; std::getline(in, line);) {
      if (absl::StrContains(line, link) && absl::StrContains(line, "replaced by a newer one")) return true;
    }
    return false;
  };
  EXPECT_TRUE(replaced(cut, leader));
  EXPECT_TRUE(replaced(leader, cut));
  for (int i : {cut, leader}) EXPECT_NE(c.Status(i)["peer_links_silent"], "0") << "node " << i + 1;
}

// Node-local commands do not wait for a leader: an operator asks a node that
// cannot find one what it knows. (With a minute's wait for a leader, a reply
// within 20 s can only come from a node that does not wait.)
TEST(ClusterTest, StatusAnswersWithoutALeader) {
  Cluster c({.node_args = {"--no_leader_wait_ms", "60000"}});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int survivor = (leader + 1) % c.size();
  for (int i = 0; i < c.size(); ++i) {
    if (i != survivor) c.Kill9(i);
  }
  Client waiting(c.port(survivor));
  waiting.Send("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");  // waits for a leader
  Client cl(c.port(survivor));
  cl.Send("*1\r\n$14\r\nANARCHO.STATUS\r\n*1\r\n$12\r\nANARCHO.HELP\r\n");
  auto status = cl.Read(20s);
  ASSERT_TRUE(status.has_value()) << "ANARCHO.STATUS waited for a leader";
  std::map<std::string, std::string> fields;
  for (size_t k = 0; k + 1 < status->elements.size(); k += 2) {
    fields[status->elements[k].AsString()] = status->elements[k + 1].AsString();
  }
  EXPECT_NE(fields["role"], "leader");
  EXPECT_EQ(fields["id"], absl::StrCat(survivor + 1));
  auto help = cl.Read(20s);
  ASSERT_TRUE(help.has_value());
  EXPECT_EQ(help->type, resp::Type::kArray);
  // A request that needs the leader still waits behind it.
  cl.Send("*2\r\n$3\r\nGET\r\n$1\r\nx\r\n");
  EXPECT_FALSE(cl.Read(1s).has_value());
  EXPECT_FALSE(waiting.Read(1s).has_value());
}

// A node with an empty data dir joins a running cluster (as a learner, then a
// voter) and catches up by replaying the log. (A voter must never come back
// under its old id with an empty dir: it could have been part of the majority
// of an entry it no longer has. The core fail-stops if asked to.)
TEST(ClusterTest, NodeWithEmptyDataDirJoinsAndCatchesUp) {
  Cluster c({.nodes = 3, .node_args = {}, .proxies = false});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client w(c.port(leader));
  for (int i = 0; i < 300; ++i) w.Call({"HSET", "h", absl::StrCat("f", i), "v"});
  std::string dir = MakeTempDir("anarcho-joiner");
  int port = FreePort(), raft = FreePort();
  // It knows where the members are; they learn its address from ANARCHO.ADD.
  std::vector<std::string> peers;
  for (int i = 0; i < c.size(); ++i) peers.push_back(absl::StrCat(i + 1, "=127.0.0.1:", c.port(i), ":", c.raft_port(i)));
  peers.push_back(absl::StrCat("4=127.0.0.1:", port, ":", raft));
  std::vector<std::string> args = {"--id", "4", "--join", "--raft_port", absl::StrCat(raft), "--peers",
                                   absl::StrJoin(peers, ",")};
  for (const std::string& a : c.SecretArgs()) args.push_back(a);  // it adopts the cluster's id
  Node joiner(dir, port, args);
  joiner.Launch();
  EXPECT_EQ(w.Call({"ANARCHO.ADD", "4", absl::StrCat("127.0.0.1:", port, ":", raft)}).AsString(),
            "OK added as a learner; it becomes a voter once caught up");
  joiner.WaitUntilReady();
  Client r(port);
  EXPECT_EQ(r.Call({"HLEN", "h"}).integer, 300);
  // Promoted once caught up.
  bool voter = false;
  for (int i = 0; i < 100 && !voter; ++i) {
    auto st = c.Status(leader);
    voter = st["voters"].find('4') != std::string::npos;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(voter);
  EXPECT_EQ(w.Call({"SET", "with-four", "1"}).AsString(), "OK");
  EXPECT_EQ(r.Call({"GET", "with-four"}).AsString(), "1");
  joiner.Kill9();
  RemoveDir(dir);
}

TEST(ClusterTest, LeadershipTransferAndMembershipChanges) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  int target = (leader + 1) % c.size();
  Client a(c.port(leader));
  EXPECT_EQ(a.Call({"ANARCHO.TRANSFER", absl::StrCat(target + 1)}).AsString(), "OK");
  EXPECT_EQ(c.WaitForLeader(10s, {target}), target);
  // Remove a follower: the two that remain still commit.
  int removed = (target + 1) % c.size();
  Client t(c.port(target));
  EXPECT_EQ(t.Call({"ANARCHO.REMOVE", absl::StrCat(removed + 1)}).AsString(), "OK");
  std::this_thread::sleep_for(500ms);
  auto st = c.Status(target);
  EXPECT_EQ(st["voters"].find(absl::StrCat(removed + 1)), std::string::npos) << st["voters"];
  Client t2(c.port(target));
  EXPECT_EQ(t2.Call({"SET", "after-remove", "1"}).AsString(), "OK");
}

}  // namespace
}  // namespace itest
