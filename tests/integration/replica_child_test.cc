// Followers' children are Redis replicas of their node (issue 10): replaying
// the log to a replica keeps what clients saw, where replaying it to a master
// lost keys whose first expiry had passed although PERSIST or a longer EXPIRE
// had been acknowledged.
#include <signal.h>

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

void ExpectKeysKept(Cluster& c, int node, const std::string& when) {
  Client cl(c.port(node));
  EXPECT_EQ(cl.Call({"GET", "persisted"}).AsString(), "v") << when;
  EXPECT_EQ(cl.Call({"TTL", "persisted"}).integer, -1) << when;
  EXPECT_GT(cl.Call({"TTL", "extended"}).integer, 1000) << when;
  EXPECT_EQ(cl.Call({"GET", "expired"}).type, resp::Type::kNull) << when;
}

TEST(ReplicaChildTest, PersistAndLongerExpireSurviveRebuildsRestartsAndFailover) {
  Cluster c;
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "persisted", "v", "PX", "1500"}).AsString(), "OK");
  ASSERT_EQ(w.Call({"PERSIST", "persisted"}).integer, 1);
  ASSERT_EQ(w.Call({"SET", "extended", "v", "EX", "1"}).AsString(), "OK");
  ASSERT_EQ(w.Call({"EXPIRE", "extended", "100000"}).integer, 1);
  ASSERT_EQ(w.Call({"SET", "expired", "v", "PX", "500"}).AsString(), "OK");
  std::this_thread::sleep_for(2s);  // every first expiry has passed
  ExpectKeysKept(c, leader, "before any fault");

  // The leader's child is killed and rebuilt from the log.
  const std::string rebuilds = c.Status(leader)["child_rebuilds"];
  kill(c.node(leader).ChildPid(), SIGKILL);
  for (int i = 0; i < 200 && c.Status(leader)["child_rebuilds"] == rebuilds; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(c.WaitForLeader(), leader);
  ExpectKeysKept(c, leader, "after the leader's child was rebuilt");

  // A follower restarts, replays the log into its new child, and becomes leader.
  const int follower = (leader + 1) % c.size();
  c.Restart(follower);
  Client admin(c.port(leader));
  ASSERT_EQ(admin.Call({"ANARCHO.TRANSFER", absl::StrCat(c.id(follower))}).AsString(), "OK");
  ASSERT_EQ(c.WaitForLeader(20s, {follower}), follower);
  ExpectKeysKept(c, follower, "on a restarted follower made leader");
  EXPECT_TRUE(c.WaitConverged()) << "the children's digests differ";
}

}  // namespace
}  // namespace itest
