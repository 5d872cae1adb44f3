// ReadIndex (thesis 6.4): a leader answers a read with its commit index once
// a majority confirmed it still leads, after it committed an entry of its
// term; a follower asks the leader; a lease may stand in for the round.
#include "gtest/gtest.h"
#include "tests/consensus/test_cluster.h"

namespace consensus::testing {
namespace {

TEST(ReadIndex, MinorityLeaderCannotServeReads) {
  TestCluster c(5, NoLease());
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  // {1, 2} | {3, 4, 5}
  for (uint64_t a : {1, 2}) {
    for (uint64_t b : {3, 4, 5}) c.Cut(a, b);
  }
  ASSERT_TRUE(c.host(1).ReadIndex().ok());
  c.Stabilize();
  EXPECT_TRUE(c.host(1).read_results().empty()) << "no majority confirmed leadership";
  c.Campaign(3);
  ASSERT_EQ(c.raft(3).role(), Role::kLeader);
  ASSERT_TRUE(c.Propose(3, "b").ok());
  uint64_t committed = c.raft(3).log().committed();
  ASSERT_TRUE(c.host(3).ReadIndex().ok());
  ASSERT_TRUE(c.host(4).ReadIndex().ok());  // forwarded to 3
  c.Stabilize();
  ASSERT_EQ(c.host(3).read_results().size(), 1u);
  ASSERT_EQ(c.host(4).read_results().size(), 1u);
  EXPECT_GE(c.host(3).read_results()[0].index, committed);
  EXPECT_GE(c.host(4).read_results()[0].index, committed);
  EXPECT_TRUE(c.host(1).read_results().empty());
  EXPECT_CLUSTER_OK(c);
}

// Node 1 leads with an entry of its term committed; from now on heartbeats
// are lost, so only what needs no heartbeat round answers a read.
void ElectOneWithoutHeartbeats(TestCluster& c) {
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  c.drop = [](const pb::Message& m) { return m.type() == pb::MSG_HEARTBEAT; };
}

// A follower's request, asked in the leader's term, is its acknowledgment of
// the leader after the read began: with three voters that and the leader's
// own are a majority, so no heartbeat round is needed (one round trip for a
// follower read instead of two).
TEST(ReadIndex, AFollowersRequestCompletesAQuorumOfThree) {
  TestCluster c(3, NoLease());
  ElectOneWithoutHeartbeats(c);
  const uint64_t committed = c.raft(1).log().committed();
  ASSERT_TRUE(c.host(2).ReadIndex().ok());
  c.Stabilize();
  ASSERT_EQ(c.host(2).read_results().size(), 1u);
  EXPECT_EQ(c.host(2).read_results()[0].index, committed);
  // The leader's own read still needs the round.
  ASSERT_TRUE(c.host(1).ReadIndex().ok());
  c.Stabilize();
  EXPECT_TRUE(c.host(1).read_results().empty());
  EXPECT_CLUSTER_OK(c);
}

TEST(ReadIndex, ARequestFromAnotherTermOrOfFiveIsNoQuorum) {
  {
    TestCluster c(3, NoLease());
    ElectOneWithoutHeartbeats(c);
    c.mutate = [](pb::Message& m) {  // asked before the follower knew this term, or by an older node
      if (m.type() == pb::MSG_READ_INDEX) m.set_log_term(m.log_term() - 1);
    };
    ASSERT_TRUE(c.host(2).ReadIndex().ok());
    c.Stabilize();
    EXPECT_TRUE(c.host(2).read_results().empty());
    c.drop = nullptr;
    c.Tick(2);
    EXPECT_EQ(c.host(2).read_results().size(), 1u) << "the heartbeat round answers it";
    EXPECT_CLUSTER_OK(c);
  }
  TestCluster c(5, NoLease());
  ElectOneWithoutHeartbeats(c);
  ASSERT_TRUE(c.host(2).ReadIndex().ok());
  c.Stabilize();
  EXPECT_TRUE(c.host(2).read_results().empty()) << "two of five voters are no majority";
  EXPECT_CLUSTER_OK(c);
}

TEST(ReadIndex, NewLeaderWaitsForItsNoOp) {
  TestCluster c(3, NoLease());
  c.Campaign(1);
  // Hold back appends so the new leader's no-op is not committed yet.
  c.drop = [](const pb::Message& m) { return m.type() == pb::MSG_APP; };
  c.Campaign(2);
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  ASSERT_TRUE(c.host(2).ReadIndex().ok());
  c.Stabilize();
  EXPECT_TRUE(c.host(2).read_results().empty());
  c.drop = nullptr;
  c.Tick(2);
  ASSERT_EQ(c.host(2).read_results().size(), 1u);
  EXPECT_EQ(c.host(2).read_results()[0].index, c.raft(2).log().committed());
  EXPECT_CLUSTER_OK(c);
}

// Regression (ReadIndex.ASoleVoterWaitsForItsNoOpToo): a sole voter answered
// reads with its commit index at once, also in a new term before its no-op
// committed; after a restart that index may be behind what it committed
// before (the record of a commit is written lazily), and a learner that asks
// then reads without it.
TEST(ReadIndex, ASoleVoterWaitsForItsNoOpToo) {
  TestCluster c(1);
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  c.Crash(1);
  c.Restart(1);
  c.Stabilize();  // applies the log again (a node with unapplied changes does not campaign)
  c.raft(1).Campaign();  // wins at once: its no-op is not written yet
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);
  const uint64_t noop = c.raft(1).log().LastIndex();
  ASSERT_GT(noop, c.raft(1).log().committed());
  ASSERT_TRUE(c.host(1).ReadIndex().ok());
  c.Stabilize();
  ASSERT_EQ(c.host(1).read_results().size(), 1u);
  EXPECT_GE(c.host(1).read_results()[0].index, noop) << "answered before an entry of its term committed";
  EXPECT_CLUSTER_OK(c);
}

TEST(ReadIndex, LeaseServesWithoutARoundTripAndExpires) {
  const Config cfg = LeaseReads();
  TestCluster c(3, cfg);
  LeadWithLease(c);
  ASSERT_EQ(c.Leader(), 1u);
  ASSERT_TRUE(c.host(1).ReadIndex().ok());
  Ready rd = c.raft(1).GetReady();
  ASSERT_EQ(rd.read_states.size(), 1u) << "answered from the lease at once";
  c.raft(1).Advance(rd);
  // Cut off, the lease runs out before anyone else can be elected.
  c.Isolate(1);
  c.Tick(cfg.election_tick - 1, {1});
  size_t before = c.host(1).read_results().size();
  if (c.raft(1).role() == Role::kLeader) {
    ASSERT_TRUE(c.host(1).ReadIndex().ok());
    c.Stabilize();
    EXPECT_EQ(c.host(1).read_results().size(), before) << "expired lease must not answer";
  }
  EXPECT_CLUSTER_OK(c);
}

// Regression (ReadIndex.ALeaseCountsOnlyPeersThatKeepItsPromise): a lease
// rests on every voter refusing votes for an election timeout after it heard
// from the leader, which only a node running with lease reads does. A leader
// counted the acks of every voter, so a cluster changing the setting one node
// at a time could answer a read from a lease nobody kept.
TEST(ReadIndex, ALeaseCountsOnlyPeersThatKeepItsPromise) {
  TestCluster c(3, LeaseReads());
  LeadWithLease(c);
  ASSERT_EQ(c.Leader(), 1u);
  // No heartbeat round can confirm a read: only the lease can answer one.
  c.drop = [](const pb::Message& m) { return m.type() == pb::MSG_HEARTBEAT_RESP; };
  auto answered_from_lease = [&] {
    const size_t before = c.host(1).read_results().size();
    EXPECT_TRUE(c.host(1).ReadIndex().ok());
    c.Stabilize();
    return c.host(1).read_results().size() == before + 1;
  };
  c.raft(1).SetLeasePromise(2, false);  // one of two: 1 and 3 still make a majority
  EXPECT_TRUE(answered_from_lease()) << "the lease of 1 and 3";
  c.raft(1).SetLeasePromise(3, false);
  EXPECT_FALSE(answered_from_lease()) << "answered from a lease no majority keeps";
  c.drop = nullptr;
  c.Tick(2);  // the heartbeat round confirms the read that waited
  EXPECT_EQ(c.host(1).read_results().size(), 2u);
  c.raft(1).SetLeasePromise(3, true);
  c.drop = [](const pb::Message& m) { return m.type() == pb::MSG_HEARTBEAT_RESP; };
  EXPECT_TRUE(answered_from_lease()) << "a peer that keeps it again counts again";
  c.drop = nullptr;
  EXPECT_CLUSTER_OK(c);
}

// Regression (ReadIndex.ALeaseCountsTheTicksALateLoopSkipped): the lease was
// counted in ticks that ran, and a busy leader's ticks run late (each timer is
// set when the last one ran), so its lease outlasted in real time the
// election timeout of followers whose ticks ran on time. Ticks the host's
// loop skipped count for the lease (ReplicatedLog::SyncClock).
TEST(ReadIndex, ALeaseCountsTheTicksALateLoopSkipped) {
  const Config cfg = LeaseReads();
  TestCluster c(3, cfg);
  LeadWithLease(c);
  ASSERT_EQ(c.Leader(), 1u);
  c.Isolate(1);
  c.raft(1).ClockSkipped(cfg.election_tick - cfg.lease_margin_ticks);
  ASSERT_EQ(c.raft(1).role(), Role::kLeader) << "skipped ticks start no election and end no leadership";
  ASSERT_TRUE(c.host(1).ReadIndex().ok());
  Ready rd = c.raft(1).GetReady();
  EXPECT_TRUE(rd.read_states.empty()) << "answered from a lease that ran out while its ticks were late";
  c.raft(1).Advance(rd);
  c.Stabilize();
  EXPECT_TRUE(c.host(1).read_results().empty()) << "cut off: no round trip can confirm it either";
  EXPECT_CLUSTER_OK(c);
}

// Regression (ReadIndex.AnAbandonedTransferLeavesNoLease): a transfer's
// TIMEOUT_NOW lets the transferee win forced votes, which break the promise
// behind the leader's lease. The lease was off only while the transfer ran;
// abandoned after an election timeout, the acks from before the forced votes
// counted again, and a leader that had not heard of its successor answered
// reads from its old commit index while the successor committed writes.
TEST(ReadIndex, AnAbandonedTransferLeavesNoLease) {
  const Config cfg = LeaseReads();
  TestCluster c(3, cfg);
  LeadWithLease(c);
  ASSERT_EQ(c.Leader(), 1u);
  const uint64_t term = c.raft(1).term();
  c.Isolate(3);  // 3 lags: the transfer first catches it up
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "x").ok());
  ASSERT_TRUE(c.raft(1).TransferLeadership(3).ok());
  c.Tick(5);  // 2 acknowledges 1's heartbeats meanwhile
  c.Heal();
  c.drop = [term](const pb::Message& m) { return m.to() == 1 && m.term() > term; };  // 1 never hears of term+1
  c.Tick(1);  // 3 catches up, gets TIMEOUT_NOW and wins with 2's forced vote
  ASSERT_EQ(c.raft(3).role(), Role::kLeader) << c.Transcript(30);
  ASSERT_TRUE(c.Propose(3, "new").ok());
  c.Stabilize();
  const uint64_t newer = c.raft(3).log().committed();
  c.Tick(cfg.election_tick - 6, {1});  // an election timeout after the transfer began: 1 abandons it
  ASSERT_EQ(c.raft(1).role(), Role::kLeader) << "the scenario needs 1 to stay leader";
  const size_t before = c.host(1).read_results().size();
  ASSERT_TRUE(c.host(1).ReadIndex().ok());
  c.Stabilize();
  for (size_t i = before; i < c.host(1).read_results().size(); ++i) {
    EXPECT_GE(c.host(1).read_results()[i].index, newer) << "a read answered from the lease before node 3's write";
  }
  c.drop = nullptr;
}

}  // namespace
}  // namespace consensus::testing
