// Membership changes on real nodes: what a removed node does, and what the
// members left do without it.
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

// Whether node i's process ended within `timeout`.
bool Exits(Cluster& c, int i, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (c.node(i).process().Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// Regression (MembershipTest.RemovingTheLeaderOfTwoVotersLeavesTheOtherLeading):
// a leader that applied its own removal queued its exit ahead of the messages
// of that turn. Neither the news that the removal committed nor the handover
// to the other voter (TIMEOUT_NOW) left, and the other voter, not knowing the
// removal had committed, could only campaign under the old configuration,
// which still counted the departed node: of two voters, never a leader again.
TEST(MembershipTest, RemovingTheLeaderOfTwoVotersLeavesTheOtherLeading) {
  Cluster c(ClusterOptions{.nodes = 2});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int other = 1 - leader;
  Client l(c.port(leader));
  ASSERT_EQ(l.Call({"ANARCHO.REMOVE", absl::StrCat(c.id(leader))}).AsString(), "OK");
  ASSERT_EQ(c.WaitForLeader(10s, {other}), other) << "no leader after the leader's removal";
  auto w = c.Connect(other);
  EXPECT_EQ(w->Call({"SET", "after-removal", "1"}).AsString(), "OK");
  EXPECT_TRUE(Exits(c, leader, 5s)) << "the removed leader still runs";
  EXPECT_EQ(c.node(leader).process().ExitCode(), 0);
}

// Regression (MembershipTest.ARemovedFollowerOfAQuietClusterExits): the
// leader closed its link to a removed node as it applied the removal, which
// dropped the notice of that commit queued in the same turn. With no writes
// after it, the removed node never learnt it was removed and kept running.
TEST(MembershipTest, ARemovedFollowerOfAQuietClusterExits) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int removed = (leader + 1) % c.size();
  Client l(c.port(leader));
  ASSERT_EQ(l.Call({"ANARCHO.REMOVE", absl::StrCat(c.id(removed))}).AsString(), "OK");
  EXPECT_TRUE(Exits(c, removed, 5s)) << "the removed node still runs";
  EXPECT_EQ(c.node(removed).process().ExitCode(), 0);
}

// Regression (MembershipTest.ARemovedIdCannotBeAddedAgain): ANARCHO.ADD took
// the id of a node removed before, which cannot work: the members dropped its
// address with its removal, and a node started under it again replays its
// own removal and exits. It is refused, and says to use a new id.
TEST(MembershipTest, ARemovedIdCannotBeAddedAgain) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int removed = (leader + 1) % c.size();
  const std::string id = absl::StrCat(c.id(removed));
  Client l(c.port(leader));
  ASSERT_EQ(l.Call({"ANARCHO.REMOVE", id}).AsString(), "OK");
  ASSERT_TRUE(Exits(c, removed, 5s)) << "the removed node still runs";
  const std::string address = absl::StrCat("127.0.0.1:", c.port(removed), ":", c.raft_port(removed));
  const resp::Value again = l.Call({"ANARCHO.ADD", id, address});
  ASSERT_TRUE(again.IsError()) << again.AsString();
  EXPECT_EQ(again.str.rfind(absl::StrCat("ERR node ", id, " was removed from this cluster"), 0), 0u) << again.str;
  EXPECT_NE(again.str.find("under a new id"), std::string::npos) << again.str;
  EXPECT_EQ(c.Status(leader)["learners"], "") << "nothing was proposed";
}

}  // namespace
}  // namespace itest
