// Reads served by a follower's own child (--follower_reads, on by default):
// fresh (a read sees every write acknowledged before it was sent, on any
// node), in order with the client's own writes, in the client's db and
// protocol, and never stale when the follower cannot reach the leader or its
// child is replaced.
#include <signal.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"
#include "node/child/sync_client.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

uint64_t StatusCount(Cluster& c, int node, const std::string& field) {
  uint64_t n = 0;
  EXPECT_TRUE(absl::SimpleAtoi(c.Status(node)[field], &n)) << field;
  return n;
}

uint64_t Served(Cluster& c, int node) { return StatusCount(c, node, "follower_reads_served"); }

TEST(FollowerReadsTest, FollowerServesFreshReadsFromItsOwnChild) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  Client r(c.port(follower));
  // (Until its child applied an entry, a follower sends reads to the leader,
  // and a client's read after one that went there follows it: the test
  // starts once one was served here.)
  ASSERT_EQ(w.Call({"SET", "fresh", "first"}).AsString(), "OK");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (uint64_t served = Served(c, follower);; served = Served(c, follower)) {
    ASSERT_EQ(r.Call({"GET", "fresh"}).AsString(), "first");
    if (Served(c, follower) > served) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the follower serves no read";
  }
  const uint64_t before = Served(c, follower);
  // Each write acknowledged by the leader is seen by the next read on the
  // follower, at once: the read waits for a read index covering it.
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(w.Call({"SET", "fresh", absl::StrCat(i)}).AsString(), "OK");
    ASSERT_EQ(r.Call({"GET", "fresh"}).AsString(), absl::StrCat(i)) << "stale read on the follower";
  }
  EXPECT_GE(Served(c, follower) - before, 300u) << "the reads were not served by the follower";
}

// A read runs on the follower's child as it arrives, while its read index
// round is under way, when the child keeps up with the leader: a quiet
// follower answers from such early runs.
TEST(FollowerReadsTest, QuietFollowerAnswersFromEarlyRuns) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "quiet", "v"}).AsString(), "OK");
  Client r(c.port(follower));
  const uint64_t before = StatusCount(c, follower, "follower_reads_early");
  for (int i = 0; i < 200; ++i) ASSERT_EQ(r.Call({"GET", "quiet"}).AsString(), "v");
  EXPECT_GT(StatusCount(c, follower, "follower_reads_early") - before, 100u)
      << "reads on a quiet follower waited for their rounds before running";
}

// Regression for early runs: one that ran on a child behind a write
// acknowledged before the read arrived must not stand. The follower's child
// is stopped, so the read's early run cannot see the write; the round's
// read index covers it, the early reply is void, and the read runs again
// once the child holds the write.
TEST(FollowerReadsTest, EarlyRunBehindAnAcknowledgedWriteRunsAgain) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  Client r(c.port(follower));
  const pid_t child = c.node(follower).ChildPid();
  ASSERT_GT(child, 0);
  const uint64_t reruns = StatusCount(c, follower, "follower_reads_rerun");
  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(w.Call({"SET", "behind", absl::StrCat("old", i)}).AsString(), "OK");
    // Quiet reads: the follower catches up and early runs are on again.
    for (int q = 0; q < 10; ++q) ASSERT_EQ(r.Call({"GET", "behind"}).AsString(), absl::StrCat("old", i));
    ASSERT_EQ(::kill(child, SIGSTOP), 0);
    ASSERT_EQ(w.Call({"SET", "behind", absl::StrCat("new", i)}).AsString(), "OK");
    std::thread resume([child] {
      std::this_thread::sleep_for(200ms);
      ::kill(child, SIGCONT);
    });
    const resp::Value v = r.Call({"GET", "behind"});
    resume.join();
    ASSERT_EQ(v.AsString(), absl::StrCat("new", i)) << "a read missed a write acknowledged before it";
  }
  EXPECT_GE(StatusCount(c, follower, "follower_reads_rerun") - reruns, 5u)
      << "every read behind the stopped child ran early and again";
}

TEST(FollowerReadsTest, PipelinedReadsAndWritesKeepTheClientsOrder) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client f(c.port((leader + 1) % c.size()));
  std::string req;
  for (int i = 1; i <= 200; ++i) {
    resp::AppendCommand(&req, {"GET", "p"});            // the value before this round's write
    resp::AppendCommand(&req, {"SET", "p", absl::StrCat(i)});
    resp::AppendCommand(&req, {"GET", "p"});            // this round's write
  }
  f.Send(req);
  for (int i = 1; i <= 200; ++i) {
    auto before = f.Read();
    auto set = f.Read();
    auto after = f.Read();
    ASSERT_TRUE(before && set && after);
    if (i == 1) {
      EXPECT_EQ(before->type, resp::Type::kNull);
    } else {
      EXPECT_EQ(before->AsString(), absl::StrCat(i - 1)) << "a read overtook the write before it, or the reverse";
    }
    EXPECT_EQ(set->AsString(), "OK");
    EXPECT_EQ(after->AsString(), absl::StrCat(i));
  }
}

TEST(FollowerReadsTest, ReadsRunInTheClientsDbAndProtocol) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client f(c.port(follower));
  EXPECT_EQ(f.Call({"SET", "k", "db0"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"SELECT", "5"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"GET", "k"}).type, resp::Type::kNull);
  EXPECT_EQ(f.Call({"SET", "k", "db5"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"GET", "k"}).AsString(), "db5");
  // A SELECT Redis refuses changes nothing (it parses "05" as an error).
  EXPECT_TRUE(f.Call({"SELECT", "05"}).IsError());
  EXPECT_EQ(f.Call({"GET", "k"}).AsString(), "db5");
  // A transaction's SELECT counts once EXEC ran it.
  EXPECT_EQ(f.Call({"MULTI"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"SELECT", "0"}).AsString(), "QUEUED");
  EXPECT_EQ(f.Call({"EXEC"}).type, resp::Type::kArray);
  EXPECT_EQ(f.Call({"GET", "k"}).AsString(), "db0");
  // RESP3: a map comes back as a map.
  EXPECT_EQ(f.Call({"HSET", "h", "a", "1"}).integer, 1);
  Client other(c.port(follower));  // a RESP2 client on the same node at the same time
  f.Call({"HELLO", "3"});
  resp::Value m = f.Call({"HGETALL", "h"});
  EXPECT_EQ(m.type, resp::Type::kMap) << Str(m);
  resp::Value a = other.Call({"HGETALL", "h"});
  EXPECT_EQ(a.type, resp::Type::kArray) << Str(a);
  // RESET: db 0, RESP2.
  EXPECT_EQ(f.Call({"RESET"}).AsString(), "RESET");
  EXPECT_EQ(f.Call({"HGETALL", "h"}).type, resp::Type::kArray);
  EXPECT_GT(Served(c, follower), 0u);
}

// A read served locally holds the client's next write back until it is
// answered (a round trip); so a client that mixes writes into its pipelines
// keeps its reads on the leader, and a client that only reads is served by
// the follower.
TEST(FollowerReadsTest, MixedPipelinesStayOnTheLeaderReadOnlyClientsStayLocal) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client mixed(c.port(follower));
  const uint64_t before = Served(c, follower);
  for (int i = 0; i < 20; ++i) {
    mixed.Send(Req({"SET", "m", absl::StrCat(i)}) + Req({"GET", "m"}));
    ASSERT_EQ(mixed.Read()->AsString(), "OK");
    ASSERT_EQ(mixed.Read()->AsString(), absl::StrCat(i));
  }
  EXPECT_EQ(Served(c, follower), before) << "a client that writes in every batch keeps its reads on the leader";
  Client reader(c.port(follower));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(reader.Call({"GET", "m"}).AsString(), "19");
  EXPECT_GE(Served(c, follower) - before, 20u) << "a client that only reads is served by the follower";
}

// Cut off from the others, a follower cannot get a read index: its reads
// wait, then fail with TRYAGAIN; none answers the value the majority
// replaced.
TEST(FollowerReadsTest, FollowerCutOffFromTheLeaderServesNoStaleRead) {
  Cluster c({.node_args = {"--no_leader_wait_ms=1500"}});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "cut", "old"}).AsString(), "OK");
  Client f(c.port(follower));
  ASSERT_EQ(f.Call({"GET", "cut"}).AsString(), "old");
  std::set<int> others;
  for (int i = 0; i < c.size(); ++i) {
    if (i != follower) others.insert(i);
  }
  c.Partition({follower}, others);
  ASSERT_EQ(w.Call({"SET", "cut", "new"}).AsString(), "OK");  // the majority goes on
  const auto start = std::chrono::steady_clock::now();
  resp::Value v = f.Call({"GET", "cut"});
  EXPECT_NE(v.AsString(), "old") << "stale read from a cut-off follower";
  EXPECT_TRUE(v.IsError() || v.AsString() == "new") << Str(v);
  // TRYAGAIN once the wait for a read index is over; UNKNOWN if the follower
  // saw the leader go first (every request in flight gets it then).
  if (v.IsError()) EXPECT_TRUE(v.str.starts_with("TRYAGAIN") || v.str.starts_with("UNKNOWN")) << v.str;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  c.Heal();
  ASSERT_GE(c.WaitForLeader(), 0);
  Client again(c.port(follower));
  for (int i = 0; i < 100; ++i) {
    resp::Value g = again.Call({"GET", "cut"});
    if (g.AsString() == "new") break;
    ASSERT_TRUE(g.IsError()) << "stale after the heal: " << Str(g);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(again.Call({"GET", "cut"}).AsString(), "new");
}

// The follower's child is killed while reads run: reads wait for the rebuilt
// child to catch up (or fail), and none is stale.
TEST(FollowerReadsTest, ReadsSurviveAChildRebuildWithoutStaleValues) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::atomic<int> stale{0}, fresh{0};
  std::thread writer([&] {
    Client w(c.port(leader));
    for (int i = 1; !stop; ++i) {
      if (w.Call({"SET", "r", absl::StrCat(i)}).AsString() == "OK") acked = i;
    }
  });
  std::thread reader([&] {
    for (int attempt = 0; !stop && attempt < 1000; ++attempt) {
      Client r(c.port(follower));
      while (!stop) {
        const int floor = acked.load();  // acknowledged before this read was sent
        resp::Value v = r.Call({"GET", "r"});
        if (v.IsError()) break;  // the connection went with the rebuild: reconnect
        int got = 0;
        if (absl::SimpleAtoi(v.AsString(), &got)) {
          if (got < floor) ++stale;
          ++fresh;
        }
      }
    }
  });
  std::this_thread::sleep_for(700ms);
  ::kill(c.node(follower).ChildPid(), SIGKILL);
  std::this_thread::sleep_for(2s);
  stop = true;
  writer.join();
  reader.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_GT(fresh.load(), 100);
  EXPECT_TRUE(c.WaitConverged());
}

// Regression (FollowerReadsTest.ReadsSurviveTheChildsOwnResyncWithoutStaleValues):
// a follower's child that drops its link to the node and syncs again on its
// own (not rebuilt: CLIENT KILL TYPE master here) loads the node's snapshot,
// older than what it had applied, and then the log after it. The node took
// the child's applied index to be what it was before, sent reads to the
// child while it loaded (LOADING errors reached clients) and after (values
// older than acknowledged writes).
TEST(FollowerReadsTest, ReadsSurviveTheChildsOwnResyncWithoutStaleValues) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  for (int i = 0; i < 20000; i += 500) {  // a snapshot worth loading
    std::vector<std::string> mset = {"MSET"};
    for (int k = i; k < i + 500; ++k) {
      mset.push_back(absl::StrCat("bulk:", k));
      mset.push_back(std::string(200, 'v'));
    }
    ASSERT_EQ(w.Call(mset).AsString(), "OK");
  }
  ASSERT_EQ(w.Call({"SET", "r", "0"}).AsString(), "OK");
  ASSERT_FALSE(Client(c.port(follower)).Call({"ANARCHO.SNAPSHOT"}).IsError());
  // The log grows past the snapshot; then the reads' indexes stay below what
  // the child had applied before it synced again.
  int last = 0;
  for (const auto until = std::chrono::steady_clock::now() + 700ms; std::chrono::steady_clock::now() < until;) {
    ASSERT_EQ(w.Call({"SET", "r", absl::StrCat(++last)}).AsString(), "OK");
  }
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0}, fresh{0}, errors{0};
  std::string first_error;
  std::thread reader([&] {
    Client r(c.port(follower));
    while (!stop) {
      resp::Value v = r.Call({"GET", "r"});
      if (v.IsError()) {
        if (errors++ == 0) first_error = v.AsString();
        continue;
      }
      (v.AsString() == absl::StrCat(last) ? fresh : stale)++;
    }
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.ChildSyncsAgain(follower), "");
  std::this_thread::sleep_for(1500ms);
  stop = true;
  reader.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_GT(fresh.load(), 10);
  EXPECT_TRUE(c.WaitConverged());
}

// Regression (FollowerReadsTest.ReadsWhileTheChildLoadsAFullSyncAreTheLeaders):
// while a follower's child loaded a full sync (for as long as the data set
// takes), every read through that follower waited for it. Reads arriving
// then are now sent to the leader. The child is stopped mid-sync here, so a
// read that waited for it would not come back at all.
TEST(FollowerReadsTest, ReadsWhileTheChildLoadsAFullSyncAreTheLeaders) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  const std::string mb(1 << 20, 'v');
  for (int i = 0; i < 48; ++i) {  // a snapshot that takes a while to load
    ASSERT_EQ(w.Call({"SET", absl::StrCat("big:", i), mb}).AsString(), "OK");
  }
  ASSERT_FALSE(Client(c.port(follower)).Call({"ANARCHO.SNAPSHOT"}).IsError());
  ASSERT_EQ(w.Call({"SET", "r", "fresh"}).AsString(), "OK");
  ASSERT_EQ(Client(c.port(follower)).Call({"GET", "r"}).AsString(), "fresh");
  const uint64_t served = Served(c, follower);
  const pid_t child = c.ChildPid(follower);
  ASSERT_GT(child, 0);
  ASSERT_EQ(c.ChildSyncsAgain(follower), "");
  ::kill(child, SIGSTOP);
  ASSERT_EQ(w.Call({"SET", "r", "newer"}).AsString(), "OK");
  Client r(c.port(follower));
  r.Send("*2\r\n$3\r\nGET\r\n$1\r\nr\r\n");
  std::optional<resp::Value> got = r.Read(2s);
  ::kill(child, SIGCONT);
  ASSERT_TRUE(got.has_value()) << "the read waited for the syncing child";
  EXPECT_EQ(got->AsString(), "newer");
  EXPECT_EQ(Served(c, follower), served) << "the follower's own child answered";
  // Once the child caught up, it serves reads again.
  bool local = false;
  for (int i = 0; i < 100 && !local; ++i) {
    ASSERT_EQ(Client(c.port(follower)).Call({"GET", "r"}).AsString(), "newer");
    local = Served(c, follower) > served;
    if (!local) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(local) << "reads stayed on the leader after the sync";
  EXPECT_TRUE(c.WaitConverged());
}

// Regression: a read with its read index waited for the child to apply it
// for ever; a follower that could not catch up (a snapshot its disk could not
// hold, DiskFullTest.AFollowerThatCannotTakeASnapshotSaysWhyAndItsReadsGoOn;
// here a stopped child) never answered it. It now gets TRYAGAIN once it has
// waited as long as a read without a leader does, the reads after it go to
// the leader, and once the child caught up it serves them again.
TEST(FollowerReadsTest, AReadTheChildCannotReachIsGivenUpAndReadsGoToTheLeader) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "stuck", "old"}).AsString(), "OK");
  const uint64_t before = Served(c, follower);
  for (int i = 0; i < 100 && Served(c, follower) == before; ++i) {
    ASSERT_EQ(Client(c.port(follower)).Call({"GET", "stuck"}).AsString(), "old");
  }
  ASSERT_GT(Served(c, follower), before) << "the follower does not serve reads";
  const pid_t child = c.ChildPid(follower);
  ASSERT_GT(child, 0);
  ::kill(child, SIGSTOP);
  ASSERT_EQ(w.Call({"SET", "stuck", "new"}).AsString(), "OK");
  Client r(c.port(follower));
  r.Send("*2\r\n$3\r\nGET\r\n$5\r\nstuck\r\n");
  const std::optional<resp::Value> given_up = r.Read(10s);
  if (!given_up) ::kill(child, SIGCONT);
  ASSERT_TRUE(given_up.has_value()) << "the read waited for the stopped child";
  EXPECT_TRUE(given_up->str.starts_with("TRYAGAIN this node has not caught up")) << Str(*given_up);
  EXPECT_NE(Str(Client(c.port(follower)).Call({"ANARCHO.HEALTH"})).find("reads wait for the child to catch up"),
            std::string::npos);
  EXPECT_EQ(r.Call({"GET", "stuck"}).AsString(), "new") << "the next read is the leader's";
  ::kill(child, SIGCONT);
  const uint64_t served = Served(c, follower);
  bool local = false;
  for (int i = 0; i < 100 && !local; ++i) {
    ASSERT_EQ(Client(c.port(follower)).Call({"GET", "stuck"}).AsString(), "new");
    local = Served(c, follower) > served;
    if (!local) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(local) << "reads stayed on the leader after the child caught up";
}

// Regression: a rebuild of a follower's child (a crash, a snapshot from the
// leader) closed every client connection of that follower, with UNKNOWN for
// what they had in flight, although they all run on the leader. They now keep
// their connections, their writes and their reads.
TEST(FollowerReadsTest, AFollowersClientsKeepTheirConnectionsWhenItsChildIsRebuilt) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client cl(c.port(follower));
  ASSERT_EQ(cl.Call({"SET", "kept", "1"}).AsString(), "OK");
  ASSERT_EQ(cl.Call({"SUBSCRIBE", "news"}).type, resp::Type::kArray);
  Client w(c.port(follower));
  ASSERT_EQ(w.Call({"GET", "kept"}).AsString(), "1");
  const pid_t child = c.ChildPid(follower);
  ASSERT_GT(child, 0);
  ::kill(child, SIGKILL);
  for (int i = 0; i < 100 && c.ChildPid(follower) == child; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_NE(c.ChildPid(follower), child) << "the child was not rebuilt";
  for (int i = 2; i < 20; ++i) {
    const resp::Value set = w.Call({"SET", "kept", absl::StrCat(i)});
    ASSERT_EQ(set.AsString(), "OK") << Str(set);
    ASSERT_EQ(w.Call({"GET", "kept"}).AsString(), absl::StrCat(i));
  }
  ASSERT_EQ(Client(c.port(leader)).Call({"PUBLISH", "news", "still here"}).integer, 1);
  const std::optional<resp::Value> message = cl.Read(5s);
  ASSERT_TRUE(message.has_value()) << "the subscriber's connection was closed";
  EXPECT_NE(Str(*message).find("still here"), std::string::npos) << Str(*message);
  EXPECT_TRUE(c.WaitConverged());
}

// Regression (FollowerReadsTest.AWatchingClientsReadsAreTheLeaders): after
// WATCH (which runs on the leader) a follower served the client's reads from
// its own child, older than what WATCH saw: a transaction built on such a read
// overwrote a write it never saw (lost update). They go to the leader until
// the watch ends.
TEST(FollowerReadsTest, AWatchingClientsReadsAreTheLeaders) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  ASSERT_EQ(Client(c.port(leader)).Call({"SET", "a", "1"}).AsString(), "OK");
  Client r(c.port(follower));
  for (int i = 0; i < 100 && Served(c, follower) == 0; ++i) ASSERT_EQ(r.Call({"GET", "a"}).AsString(), "1");
  ASSERT_GT(Served(c, follower), 0u);
  ASSERT_EQ(r.Call({"WATCH", "a"}).AsString(), "OK");
  const uint64_t served = Served(c, follower);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(r.Call({"GET", "a"}).AsString(), "1");
  EXPECT_EQ(Served(c, follower), served) << "a watching client's read was served by the follower";
  ASSERT_EQ(r.Call({"MULTI"}).AsString(), "OK");
  ASSERT_EQ(r.Call({"SET", "a", "2"}).AsString(), "QUEUED");
  ASSERT_EQ(r.Call({"EXEC"}).elements.size(), 1u);
  bool local = false;
  for (int i = 0; i < 20 && !local; ++i) {
    ASSERT_EQ(r.Call({"GET", "a"}).AsString(), "2");
    local = Served(c, follower) > served;
  }
  EXPECT_TRUE(local) << "reads stayed on the leader after EXEC";
}

// Regression (FollowerReadsTest.AnotherNodesRelayIsNeverServedByAFollower):
// a node whose leader is not the real one yet (it has not heard of the new
// one) relays to the old leader, a follower now, which served the relayed
// reads from its own child. Through that relay come the reads of a client
// whose WATCH ran on the real leader (on the client's own connection): a
// transaction built on such a read could overwrite a write it never saw.
// Another node's relay (named anarcho:shared) reaching a follower is only
// forwarded. (Simulated here by a client that names itself so.)
TEST(FollowerReadsTest, AnotherNodesRelayIsNeverServedByAFollower) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  ASSERT_EQ(Client(c.port(leader)).Call({"SET", "a", "1"}).AsString(), "OK");
  Client plain(c.port(follower));
  for (int i = 0; i < 100 && Served(c, follower) == 0; ++i) ASSERT_EQ(plain.Call({"GET", "a"}).AsString(), "1");
  ASSERT_GT(Served(c, follower), 0u) << "the follower serves a plain client's reads";
  Client relay(c.port(follower));
  ASSERT_EQ(relay.Call({"CLIENT", "SETNAME", "anarcho:shared"}).AsString(), "OK");
  const uint64_t served = Served(c, follower);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(relay.Call({"GET", "a"}).AsString(), "1");
  EXPECT_EQ(Served(c, follower), served) << "a relay's read was served by a follower";
}

// Regression (FollowerReadsTest.AReadWhoseLinkCouldNotConnectIsAnsweredOnceItCan):
// a follower's reads go to its child over one link; when that link could not
// connect, nothing tried again until another read or entry came, and on an
// idle follower a confirmed read waited for ever.
TEST(FollowerReadsTest, AReadWhoseLinkCouldNotConnectIsAnsweredOnceItCan) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  ASSERT_EQ(Client(c.port(leader)).Call({"SET", "k", "v"}).AsString(), "OK");
  Client r(c.port(follower));
  // The reads link is up once the follower served a read (its child applied
  // an entry).
  for (int i = 0; i < 100 && Served(c, follower) == 0; ++i) ASSERT_EQ(r.Call({"GET", "k"}).AsString(), "v");
  ASSERT_GT(Served(c, follower), 0u);
  const std::string socket = c.node(follower).dir() + "/child/redis.sock";
  const std::string moved = socket + ".moved";
  ASSERT_EQ(::rename(socket.c_str(), moved.c_str()), 0);  // new connections to the child fail
  {
    asio::io_context io;
    node::SyncClient child(io);
    ASSERT_TRUE(child.Connect(moved).ok());
    std::string request;
    resp::AppendCommand(&request, {"CLIENT", "LIST"});
    resp::Value list;
    ASSERT_TRUE(child.Pipeline(request, 1, [&](const resp::Value& v) { list = v; }).ok());
    std::string id;
    for (absl::string_view line : absl::StrSplit(list.AsString(), '\n')) {
      if (absl::StrContains(line, "name=anarcho:reads ") && absl::ConsumePrefix(&line, "id=")) {
        id = std::string(line.substr(0, line.find(' ')));
      }
    }
    ASSERT_FALSE(id.empty()) << list.AsString();
    request.clear();
    resp::AppendCommand(&request, {"CLIENT", "KILL", "ID", id});
    ASSERT_TRUE(child.Pipeline(request, 1, [](const resp::Value&) {}).ok());
  }
  std::this_thread::sleep_for(100ms);  // the node saw its reads link go, and could not connect again
  std::string get;
  resp::AppendCommand(&get, {"GET", "k"});
  r.Send(get);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::rename(moved.c_str(), socket.c_str()), 0);
  std::optional<resp::Value> v = r.Read(3s);
  ASSERT_TRUE(v.has_value()) << "the read waited for ever";
  EXPECT_EQ(v->AsString(), "v");
}

// Regression: XREAD is a readonly command that may block; on the connection
// a follower's reads share it would hold every other read back.
TEST(FollowerReadsTest, BlockingReadThroughAFollowerHoldsOnlyItsClient) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client blocked(c.port(follower));
  blocked.Send(Req({"XREAD", "BLOCK", "5000", "STREAMS", "s", "$"}));
  std::this_thread::sleep_for(200ms);
  Client other(c.port(follower));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(other.Call({"GET", "k"}).type, resp::Type::kNull);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "a read waited behind XREAD BLOCK";
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"XADD", "s", "*", "f", "v"}).type, resp::Type::kBulkString);
  auto v = blocked.Read(5s);
  ASSERT_TRUE(v.has_value());
  EXPECT_NE(Str(*v).find("[f, v]"), std::string::npos) << Str(*v);
}

// Regression: PFCOUNT is flagged readonly but may rewrite the
// HyperLogLog's cached count; served by a follower's child it would make the
// children's data differ (the digest check ending the test would fail).
TEST(FollowerReadsTest, PfcountThroughAFollowerKeepsTheChildrenAlike) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client f(c.port(follower));
  ASSERT_EQ(f.Call({"PFADD", "hll", "a", "b", "c"}).integer, 1);
  EXPECT_EQ(f.Call({"PFCOUNT", "hll"}).integer, 3);
  ASSERT_EQ(f.Call({"PFADD", "hll", "d"}).integer, 1);
  EXPECT_EQ(f.Call({"PFCOUNT", "hll"}).integer, 4);
  EXPECT_TRUE(c.WaitConverged());
}

// Regression (Redis's "COPY basic usage for stream-cgroups" through a
// follower): a replica keeps a consumer group's entries-read and its
// consumers' seen-time by itself, so XINFO answered by a follower's child
// differed from the leader's.
TEST(FollowerReadsTest, XinfoThroughAFollowerIsTheLeaders) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client f(c.port(follower));
  for (const char* id : {"100", "101", "102"}) ASSERT_EQ(f.Call({"XADD", "x", id, "a", "1"}).AsString(), absl::StrCat(id, "-0"));
  ASSERT_EQ(f.Call({"XGROUP", "CREATE", "x", "g", "0"}).AsString(), "OK");
  ASSERT_EQ(f.Call({"XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "x", ">"}).type, resp::Type::kArray);
  std::this_thread::sleep_for(20ms);
  Client l(c.port(leader));
  const std::string on_leader = Str(l.Call({"XINFO", "STREAM", "x", "FULL"}));
  Client reader(c.port(follower));  // only reads: it would be served by the follower
  EXPECT_EQ(Str(reader.Call({"XINFO", "STREAM", "x", "FULL"})), on_leader);
}

// Regression: a child filled from an RDB (a rebuild from a snapshot, a
// restart, a new member) holds a value in the encoding loading picks, which
// need not be the one its writes left on the leader: a sorted set that grew
// past zset-max-listpack-entries and shrank again stays a skiplist on the
// leader and loads as a listpack. OBJECT ENCODING, MEMORY USAGE and DUMP
// answered by such a follower differed from the leader's for the same data.
TEST(FollowerReadsTest, EncodingReadsThroughARebuiltFollowerAreTheLeaders) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client l(c.port(leader));
  std::string req;
  for (int i = 0; i < 300; ++i) resp::AppendCommand(&req, {"ZADD", "z", absl::StrCat(i), absl::StrCat("m", i)});
  for (int i = 5; i < 300; ++i) resp::AppendCommand(&req, {"ZREM", "z", absl::StrCat("m", i)});
  l.Send(req);
  for (int i = 0; i < 595; ++i) ASSERT_TRUE(l.Read(10s).has_value());
  ASSERT_EQ(l.Call({"OBJECT", "ENCODING", "z"}).AsString(), "skiplist");
  // The follower's snapshot is of what its child applied: all of it, or the
  // replay after it (ZREMs on a skiplist) keeps the skiplist.
  ASSERT_TRUE(c.WaitConverged());
  Client admin(c.port(follower));
  ASSERT_FALSE(admin.Call({"ANARCHO.SNAPSHOT"}).IsError());
  const std::string rebuilds = c.Status(follower)["child_rebuilds"];
  ASSERT_EQ(::kill(c.ChildPid(follower), SIGKILL), 0);
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    const std::string now = c.Status(follower)["child_rebuilds"];  // empty while the node is busy
    if (!now.empty() && now != rebuilds) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(c.WaitConverged());
  auto child = c.ChildCall(follower, {"OBJECT", "ENCODING", "z"});
  ASSERT_TRUE(child.ok());
  ASSERT_EQ(child->AsString(), "listpack") << "the rebuilt child should hold the loaded encoding";
  Client reader(c.port(follower));  // only reads: they would be served by the follower
  EXPECT_EQ(reader.Call({"OBJECT", "ENCODING", "z"}).AsString(), "skiplist");
  EXPECT_EQ(Str(reader.Call({"MEMORY", "USAGE", "z"})), Str(l.Call({"MEMORY", "USAGE", "z"})));
  EXPECT_EQ(Str(reader.Call({"DUMP", "z"})), Str(l.Call({"DUMP", "z"})));
  EXPECT_EQ(reader.Call({"ZCARD", "z"}).integer, 5);
}

TEST(FollowerReadsTest, SwitchedOffTheFollowerForwardsReads) {
  Cluster c({.node_args = {"--follower_reads=false"}});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client f(c.port(follower));
  EXPECT_EQ(f.Call({"SET", "k", "v"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"GET", "k"}).AsString(), "v");
  EXPECT_EQ(c.Status(follower)["follower_reads"], "off");
  EXPECT_EQ(Served(c, follower), 0u);
}

}  // namespace
}  // namespace itest
