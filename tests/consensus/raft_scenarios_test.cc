// Scenarios from the Raft paper and thesis, played on a small cluster with a
// synchronous network. The invariants checker watches every step; a failing
// test prints the message transcript.
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/consensus/test_cluster.h"

namespace consensus::testing {
namespace {

// Bootstrap puts 3 (or 5) conf-change entries at term 1; a first leader's
// no-op follows them.
constexpr uint64_t kBoot3 = 3;

std::vector<std::string> Data(TestCluster& c, uint64_t id) { return c.host(id).applied_data(); }

// A message made by the test, stepped into a core directly.
pb::Message Made(pb::MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  pb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

pb::ConfChange Change(pb::ConfChangeType type, uint64_t id) {
  pb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  return cc;
}

// The leader, node 1, adds `id` (an empty node) as a learner, which then has
// two ticks to catch up.
void AddLearner(TestCluster& c, uint64_t id) {
  c.AddEmptyNode(id);
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_ADD_LEARNER, id)).ok());
  c.Stabilize();
  c.Tick(2);
}

TEST(Election, CampaignWinsAndCommitsNoOp) {
  TestCluster c(3);
  c.Campaign(1);
  ASSERT_EQ(c.Leader(), 1u);
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(c.raft(id).term(), 2u);
    EXPECT_EQ(c.raft(id).leader(), 1u);
    // The no-op of term 2 is committed everywhere.
    EXPECT_EQ(c.raft(id).log().committed(), kBoot3 + 1);
  }
  EXPECT_CLUSTER_OK(c);
}

TEST(Election, TimeoutElectsALeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.TickUntil([&] { return c.Leader() != 0; }, 50));
  uint64_t leader = c.Leader();
  c.Tick(30);
  EXPECT_EQ(c.Leader(), leader) << "a healthy leader must not be replaced";
  EXPECT_CLUSTER_OK(c);
}

TEST(Election, SplitVoteIsResolvedByRandomizedTimeouts) {
  Config cfg = TestCluster::DefaultConfig();
  cfg.pre_vote = false;
  TestCluster c(3, cfg);
  c.Isolate(3);
  // 1 and 2 campaign at once: each votes for itself and refuses the other.
  c.raft(1).Campaign();
  c.raft(2).Campaign();
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 0u);
  EXPECT_EQ(c.raft(1).role(), Role::kCandidate);
  EXPECT_EQ(c.raft(2).role(), Role::kCandidate);
  c.Heal();
  ASSERT_TRUE(c.TickUntil([&] { return c.Leader() != 0; }, 100));
  EXPECT_GE(c.raft(c.Leader()).term(), 3u);
  EXPECT_CLUSTER_OK(c);
}

TEST(Election, VoteRefusedToStaleLog) {
  TestCluster c(3, Unguarded());
  c.Campaign(1);
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  c.Heal();
  c.Isolate(1);
  // 3 lacks "a", which 2 has: 2 refuses, 3 cannot win.
  c.Campaign(3);
  EXPECT_NE(c.Leader(), 3u);
  c.Campaign(2);
  EXPECT_EQ(c.Leader(), 2u);
  EXPECT_CLUSTER_OK(c);
}

TEST(Replication, ProposalsCommitAndApplyEverywhere) {
  TestCluster c(3);
  c.Campaign(1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, "x" + std::to_string(i)).ok());
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_EQ(Data(c, id).size(), 10u);
    EXPECT_EQ(Data(c, id).back(), "x9");
  }
  EXPECT_FALSE(c.raft(2).Propose("no").ok()) << "followers refuse proposals";
  EXPECT_CLUSTER_OK(c);
}

// A follower back from an outage may answer many heartbeats at once (every
// ReadIndex round sends one): the leader probes it once a tick, not once per
// answer (each probe carries up to max_size_per_msg of entries). The node saw
// a leader stall for 1.5 s building 950 copies of one append this way.
TEST(Replication, ProbeSendsOneAppendPerTickHoweverManyHeartbeatAnswers) {
  TestCluster c(3);
  c.Campaign(1);
  c.Isolate(3);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose(1, absl::StrCat("v", i)).ok());
  c.raft(1).ReportUnreachable(3);  // back to probing
  c.Tick(1, {1});                  // the heartbeat tick sends the probe (lost)
  c.Heal();
  int appends = 0;
  c.drop = [&](const pb::Message& m) {
    if (m.type() == pb::MSG_APP && m.to() == 3) ++appends;
    return false;
  };
  pb::Message hb = Made(pb::MSG_HEARTBEAT_RESP, 3, 1, c.raft(1).term());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.raft(1).Step(hb).ok());
  c.Stabilize();
  EXPECT_GE(appends, 1);
  EXPECT_LE(appends, 3) << "one probe per heartbeat answer";
  c.drop = nullptr;
  c.Tick(3);
  EXPECT_EQ(c.raft(3).log().LastIndex(), c.raft(1).log().LastIndex());
  EXPECT_CLUSTER_OK(c);
}

// Regression (big values): the leader freed an append of a follower's full
// window on every heartbeat answer, so a follower still writing what it got
// was sent several windows for one write. Now only a window that went
// unanswered for an election timeout is freed (once per timeout), and the
// follower's rejection of the gap that leaves starts the repair.
TEST(Replication, AFullWindowIsFreedOnlyOnceItWentUnansweredForAnElectionTimeout) {
  Config cfg = TestCluster::DefaultConfig();
  cfg.max_inflight_msgs = 1;
  TestCluster c(3, cfg);
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "warm").ok());
  c.Stabilize();
  int appends = 0;
  c.drop = [&](const pb::Message& m) {  // every append to 3 is lost, answers to heartbeats are not
    if (m.type() != pb::MSG_APP || m.to() != 3) return false;
    ++appends;
    return true;
  };
  ASSERT_TRUE(c.Propose(1, "a").ok());
  c.Stabilize();
  ASSERT_EQ(appends, 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, absl::StrCat("b", i)).ok());
  c.Stabilize();
  ASSERT_EQ(appends, 1) << "a window of one append is full";
  pb::Message hb = Made(pb::MSG_HEARTBEAT_RESP, 3, 1, c.raft(1).term());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.raft(1).Step(hb).ok());
  c.Stabilize();
  EXPECT_EQ(appends, 1) << "heartbeat answers freed the window of a follower that may still be writing";
  c.Tick(12, {1});  // heartbeats, answered, past an election timeout
  EXPECT_GE(appends, 2) << "the unanswered window was never freed";
  EXPECT_LE(appends, 3) << "freed more than once in an election timeout";
  c.drop = nullptr;
  c.Tick(30);
  EXPECT_EQ(c.raft(3).log().LastIndex(), c.raft(1).log().LastIndex());
  EXPECT_CLUSTER_OK(c);
}

TEST(Replication, StaleLeaderRejoinsAndStepsDown) {
  Config cfg = TestCluster::DefaultConfig();
  cfg.check_quorum = false;  // so the old leader keeps believing it leads
  TestCluster c(3, cfg);
  c.Campaign(1);
  c.Isolate(1);
  c.Campaign(2);
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader) << "1 has not heard of term 3";
  ASSERT_TRUE(c.Propose(2, "new").ok());
  c.Heal();
  c.Tick(1);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_EQ(c.raft(1).term(), c.raft(2).term());
  EXPECT_EQ(Data(c, 1), std::vector<std::string>{"new"});
  EXPECT_CLUSTER_OK(c);
}

TEST(Replication, FollowerWithConflictingTailIsRepaired) {
  TestCluster c(3, NoLease());
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  // The isolated leader appends entries nobody else will ever have.
  c.Isolate(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.raft(1).Propose("lost" + std::to_string(i)).ok());
  c.Stabilize();
  c.Campaign(2);
  ASSERT_EQ(c.Leader(), 2u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(2, "b" + std::to_string(i)).ok());
  c.Heal();
  c.Tick(3);
  std::vector<std::string> want{"a", "b0", "b1", "b2"};
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(Data(c, id), want) << "node " << id;
  EXPECT_EQ(c.raft(1).log().LastIndex(), c.raft(2).log().LastIndex());
  EXPECT_CLUSTER_OK(c);
}

// Raft paper, Figure 8: an entry from an earlier term stored on a majority is
// not committed by counting replicas; only an entry of the leader's own term
// commits (and with it everything before).
class Figure8 : public ::testing::Test {
 protected:
  Figure8() : c_(5, Cfg()) {}
  static Config Cfg() {
    Config cfg = Unguarded();
    cfg.max_size_per_msg = 1;  // one entry per append, to stop between them
    return cfg;
  }
  void ElectUntil(uint64_t id) {
    for (int i = 0; i < 5 && c_.Leader() != id; ++i) c_.Campaign(id);
    ASSERT_EQ(c_.raft(id).role(), Role::kLeader);
  }
  // (a)-(c): returns the index of the term-2 entry that 1 re-replicated.
  uint64_t SetUp8() {
    c_.Campaign(1);  // term 2, no-op at 6
    c_.drop = [](const pb::Message& m) { return m.from() == 1 && m.to() != 2; };
    EXPECT_TRUE(c_.raft(1).Propose("x").ok());  // index 7, term 2: on 1 and 2 only
    c_.Stabilize();
    c_.Crash(1);
    c_.Isolate(2);
    c_.drop = [](const pb::Message& m) { return m.from() == 5 && m.type() == pb::MSG_APP; };
    ElectUntil(5);  // votes of 3, 4; its no-op (7, term 3) stays local
    c_.Crash(5);
    c_.Heal();
    c_.Restart(1);
    // 1 will replicate (7, term 2) but not its own no-op: its appends lose
    // their entries of its own term on the way.
    c_.drop = [](const pb::Message& m) { return m.to() == 4 || m.to() == 5; };
    c_.mutate = [](pb::Message& m) {
      if (m.from() != 1 || m.type() != pb::MSG_APP) return;
      while (m.entries_size() > 0 && m.entries(m.entries_size() - 1).term() == c_term_of_1) {
        m.mutable_entries()->RemoveLast();
      }
    };
    return 7;
  }
  static inline uint64_t c_term_of_1 = 0;
  TestCluster c_;
};

TEST_F(Figure8, OldTermEntryOnMajorityIsNotCommitted) {
  uint64_t idx = SetUp8();
  c_term_of_1 = 0;
  // Elect 1; learn its term so the filter can hold back its own entries.
  for (int i = 0; i < 5 && c_.Leader() != 1; ++i) {
    c_term_of_1 = c_.raft(1).term() + 1;
    c_.Campaign(1);
  }
  ASSERT_EQ(c_.Leader(), 1u);
  c_term_of_1 = c_.raft(1).term();
  c_.Tick(3);
  // (7, term 2) is on 1, 2 and 3: a majority of five.
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(c_.raft(id).log().MatchTerm(idx, 2)) << id;
  EXPECT_LT(c_.raft(1).log().committed(), idx) << "Figure 8: must not commit by counting";
  // (d): 1 crashes; 5, whose last entry is of term 3, wins with 2, 3, 4 and
  // overwrites index 7 everywhere, which is safe precisely because it was
  // never committed.
  c_.Crash(1);
  c_.drop = nullptr;
  c_.mutate = nullptr;
  c_.Restart(5);
  ElectUntil(5);
  c_.Tick(2);
  EXPECT_TRUE(c_.raft(2).log().MatchTerm(idx, 3));
  EXPECT_TRUE(c_.raft(3).log().MatchTerm(idx, 3));
  EXPECT_TRUE(c_.status().ok()) << c_.status();
}

TEST_F(Figure8, CurrentTermEntryCommitsThePrefix) {
  uint64_t idx = SetUp8();
  c_term_of_1 = 0;  // no hold-back: 1's no-op reaches 2 and 3
  for (int i = 0; i < 5 && c_.Leader() != 1; ++i) c_.Campaign(1);
  ASSERT_EQ(c_.Leader(), 1u);
  c_.Tick(3);
  EXPECT_GE(c_.raft(1).log().committed(), idx + 1);
  // (e): now 5 cannot win: 2 and 3 have a later last term.
  c_.Crash(1);
  c_.drop = nullptr;
  c_.mutate = nullptr;
  c_.Restart(5);
  for (int i = 0; i < 3; ++i) c_.Campaign(5);
  EXPECT_NE(c_.raft(5).role(), Role::kLeader);
  EXPECT_TRUE(c_.status().ok()) << c_.status();
}

TEST(PreVote, PartitionedNodeDoesNotDisruptOnRejoin) {
  Config cfg = TestCluster::DefaultConfig();
  cfg.check_quorum = false;  // pre-vote alone
  TestCluster c(3, cfg);
  c.Campaign(1);
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  uint64_t term = c.raft(1).term();
  c.Tick(50, {3});  // 3 times out again and again
  EXPECT_EQ(c.raft(3).term(), term) << "pre-vote rounds do not bump the term";
  c.Heal();
  c.Tick(30);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_EQ(Data(c, 3), std::vector<std::string>{"a"});
  EXPECT_CLUSTER_OK(c);
}

TEST(PreVote, WithoutItTheRejoiningNodeDeposesTheLeader) {
  TestCluster c(3, Unguarded());
  c.Campaign(1);
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  uint64_t term = c.raft(1).term();
  c.Tick(50, {3});
  EXPECT_GT(c.raft(3).term(), term);
  c.Heal();
  c.Tick(30);
  EXPECT_GT(c.raft(1).term(), term) << "the contrast to the pre-vote test";
  EXPECT_CLUSTER_OK(c);
}

TEST(CheckQuorum, LeaderWithoutMajorityStepsDown) {
  TestCluster c(3);
  c.Campaign(1);
  c.Isolate(1);
  c.Tick(2 * TestCluster::DefaultConfig().election_tick + 1, {1});
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_FALSE(c.raft(1).Propose("x").ok());
  EXPECT_CLUSTER_OK(c);
}

TEST(CheckQuorum, FollowersInLeaseIgnoreACandidate) {
  TestCluster c(3);
  c.Campaign(1);
  uint64_t term = c.raft(1).term();
  // 3 cannot hear the leader but can reach 2; 2 still hears the leader.
  c.Cut(1, 3);
  c.Tick(40);
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_CLUSTER_OK(c);
}

// A leader killed closes its links at once: followers told so campaign within
// a few ticks, not after a whole election timeout.
TEST(LeaderLoss, BrokenLinkToADeadLeaderElectsWithinAFewTicks) {
  TestCluster c(3);
  c.Campaign(1);
  c.Tick(3);  // a healthy cluster: both followers just heard the leader
  const uint64_t term = c.raft(1).term();
  c.Crash(1);
  c.raft(2).ReportPeerGone(1);
  c.raft(3).ReportPeerGone(1);
  int ticks = 0;
  ASSERT_TRUE(c.TickUntil([&] { return ++ticks, c.raft(2).leader() > 1 || c.raft(3).leader() > 1; }, 8))
      << "no leader within 8 ticks (the election timeout is 10-19)\n" << c.Transcript();
  EXPECT_LE(ticks, 6);
  const uint64_t leader = c.raft(2).leader() > 1 ? c.raft(2).leader() : c.raft(3).leader();
  EXPECT_EQ(c.raft(leader).term(), term + 1) << "one election, no split vote";
  EXPECT_CLUSTER_OK(c);
}

// Regression (LeaderLoss.UnderLeaseReadsABrokenLinkWaitsOutTheLease): under
// lease reads, followers told their links to the leader broke stopped
// honouring its lease two ticks later and elected another leader, while the
// leader, alive but cut off from everyone, still answered reads from its
// lease (which runs election_tick minus a margin from the last heartbeat
// acknowledged).
TEST(LeaderLoss, UnderLeaseReadsABrokenLinkWaitsOutTheLease) {
  const Config cfg = LeaseReads();
  TestCluster c(3, cfg);
  LeadWithLease(c);
  ASSERT_EQ(c.Leader(), 1u);
  c.Isolate(1);
  c.raft(2).ReportPeerGone(1);
  c.raft(3).ReportPeerGone(1);
  for (int t = 0; t < cfg.election_tick - 1; ++t) {
    c.Tick(1, {2, 3});
    ASSERT_EQ(c.raft(2).leader(), 1u) << "elected after " << t + 1 << " ticks, inside the lease\n" << c.Transcript();
    ASSERT_EQ(c.raft(3).leader(), 1u) << "elected after " << t + 1 << " ticks, inside the lease";
  }
  EXPECT_TRUE(c.TickUntil([&] { return c.raft(2).leader() > 1 || c.raft(3).leader() > 1; }, 30))
      << "a leader once the lease ran out";
  EXPECT_CLUSTER_OK(c);
}

// Without the report the same crash costs a whole election timeout: the
// contrast that shows the report is what made it fast.
TEST(LeaderLoss, WithoutTheReportTheElectionWaitsForTheTimeout) {
  TestCluster c(3);
  c.Campaign(1);
  c.Tick(3);
  c.Crash(1);
  c.Tick(9);
  EXPECT_EQ(c.raft(2).leader(), 1u);
  EXPECT_EQ(c.raft(3).leader(), 1u);
  EXPECT_CLUSTER_OK(c);
}

// A link that breaks while the leader lives (one follower cut off from it)
// deposes nobody: the other follower still hears the leader and refuses the
// pre-vote.
TEST(LeaderLoss, BrokenLinkToALiveLeaderDisruptsNothing) {
  TestCluster c(3);
  c.Campaign(1);
  const uint64_t term = c.raft(1).term();
  c.Cut(1, 2);
  for (int i = 0; i < 10; ++i) {
    c.raft(2).ReportPeerGone(1);
    c.Tick(3);
  }
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_EQ(c.raft(3).term(), term);
  c.Heal();
  c.Tick(5);
  EXPECT_EQ(c.raft(2).leader(), 1u);
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_CLUSTER_OK(c);
}

// The link report alone is not enough: a leader whose heartbeats still
// arrive (another connection broke, or the link came back) keeps its
// follower, which never even leaves it for a pre-vote.
TEST(LeaderLoss, ReportWhileTheLeaderStillSpeaksChangesNothing) {
  TestCluster c(3);
  c.Campaign(1);
  for (int i = 0; i < 30; ++i) {
    c.raft(2).ReportPeerGone(1);
    c.Tick(1);
    ASSERT_EQ(c.raft(2).leader(), 1u) << "tick " << i;
  }
  EXPECT_CLUSTER_OK(c);
}

TEST(Transfer, ToCaughtUpFollower) {
  TestCluster c(3);
  c.Campaign(1);
  ASSERT_TRUE(c.raft(1).TransferLeadership(2).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 2u);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  ASSERT_TRUE(c.Propose(2, "after").ok());
  EXPECT_EQ(Data(c, 1), std::vector<std::string>{"after"});
  EXPECT_CLUSTER_OK(c);
}

TEST(Transfer, ToLaggingFollowerCatchesItUpFirst) {
  TestCluster c(3);
  c.Campaign(1);
  c.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "x").ok());
  ASSERT_TRUE(c.raft(1).TransferLeadership(3).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_FALSE(c.raft(1).Propose("refused").ok()) << "no proposals during a transfer";
  c.Heal();
  c.Tick(1);
  EXPECT_EQ(c.Leader(), 3u);
  EXPECT_EQ(Data(c, 3).size(), 5u);
  EXPECT_CLUSTER_OK(c);
}

// Regression: a transfer to a node whose removal was on its way went ahead.
// Told to campaign before the others applied its removal, the node won their
// forced votes (then left, two elections later), or sat at a higher term
// than theirs, never told it was removed, its clients told of an election
// for ever. A transfer now waits until a membership change is applied.
TEST(Transfer, WaitsForAMembershipChangeOnItsWay) {
  TestCluster c(3);
  c.Campaign(1);
  const uint64_t term = c.raft(1).term();
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_REMOVE_NODE, 3)).ok());
  const absl::Status s = c.raft(1).TransferLeadership(3);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  ASSERT_TRUE(c.raft(2).TransferLeadership(3).ok());  // a follower passes the request on, which 1 drops
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_EQ(c.host(1).conf().voters_size(), 2);
  EXPECT_FALSE(c.raft(1).TransferLeadership(3).ok()) << "3 is no voter any more";
  EXPECT_TRUE(c.raft(1).TransferLeadership(2).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 2u);
  EXPECT_CLUSTER_OK(c);
}

TEST(Transfer, FollowerForwardsTheRequest) {
  TestCluster c(3);
  c.Campaign(1);
  ASSERT_TRUE(c.raft(3).TransferLeadership(3).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 3u);
  EXPECT_CLUSTER_OK(c);
}

TEST(Membership, LearnerCatchesUpThenIsPromoted) {
  TestCluster c(3);
  c.Campaign(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "d" + std::to_string(i)).ok());
  AddLearner(c, 4);
  EXPECT_EQ(Data(c, 4), Data(c, 1));
  EXPECT_EQ(c.host(1).conf().learners_size(), 1);
  // A learner never campaigns and does not count toward the quorum.
  c.Tick(40, {4});
  EXPECT_EQ(c.raft(4).role(), Role::kFollower);
  c.Isolate(2);
  c.Isolate(3);
  ASSERT_TRUE(c.raft(1).Propose("needs-a-voter").ok());
  c.Stabilize();
  EXPECT_EQ(Data(c, 1).size(), 3u) << "a learner's ack must not commit";
  c.Heal();
  c.Tick(2);
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_ADD_VOTER, 4)).ok());
  c.Stabilize();
  c.Tick(2);
  EXPECT_EQ(c.host(4).conf().voters_size(), 4);
  EXPECT_EQ(c.host(4).conf().learners_size(), 0);
  // Now 4 counts: 1 and 4 and one of 2, 3 are needed, so 1+4+2 commit.
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "with-4").ok());
  EXPECT_EQ(Data(c, 4).back(), "with-4");
  EXPECT_CLUSTER_OK(c);
}

// Regression (Membership.ASoleVoterSendsNoAppendBeforeItsTermIsWritten): a
// sole voter leads from the step that raised its term, and its appends to a
// learner left before that term was written. Had it crashed then, it would
// restart in the old term, win the new one again and append other entries at
// the same index and term as those the learner kept.
TEST(Membership, ASoleVoterSendsNoAppendBeforeItsTermIsWritten) {
  TestCluster c(1);
  c.Campaign(1);
  AddLearner(c, 2);
  ASSERT_EQ(c.host(2).conf().learners_size(), 1);
  c.Crash(1);
  c.Restart(1);
  c.Stabilize();  // applies the log again (a node with unapplied changes does not campaign)
  const uint64_t term = c.raft(1).term();
  c.raft(1).Campaign();  // wins at once
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);
  ASSERT_EQ(c.raft(1).term(), term + 1);
  auto early = c.host(1).BeginReady();
  ASSERT_TRUE(early.has_value());
  for (const pb::Message& m : *early) EXPECT_NE(m.type(), pb::MSG_APP) << "sent before term " << m.term() << " was written";
  // While the term is being written, a heartbeat tick's messages wait too.
  for (int i = 0; i < TestCluster::DefaultConfig().heartbeat_tick; ++i) c.raft(1).Tick();
  auto unblocked = c.host(1).TakeUnblocked();
  ASSERT_TRUE(unblocked.ok());
  for (const pb::Message& m : *unblocked) EXPECT_LE(m.term(), term) << "sent while term " << m.term() << " was written";
  auto rest = c.host(1).FinishReady();
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(std::any_of(rest->begin(), rest->end(), [](const pb::Message& m) { return m.type() == pb::MSG_APP; }))
      << "the appends leave once the term is written";
  c.Stabilize();
  c.Tick(2);
  EXPECT_EQ(Data(c, 2), Data(c, 1));
  EXPECT_CLUSTER_OK(c);
}

// Regression (a simulation seed without pre-vote and check-quorum stalled
// for good): a vote request moved a learner to a newer term; it ignored the
// leader's older-term appends, and as a learner it never campaigns, so the
// leader never learnt of the term and the learner never caught up. A
// stale leader's append is always answered with the newer term.
TEST(Membership, LearnerAtANewerTermDeposesTheStaleLeader) {
  TestCluster c(3, Unguarded());
  c.Campaign(1);
  AddLearner(c, 4);
  ASSERT_EQ(c.host(4).conf().learners_size(), 1);
  const uint64_t term = c.raft(1).term();
  // From a candidate whose other requests, and the answer, were lost.
  c.drop = [](const pb::Message& m) { return m.type() == pb::MSG_VOTE_RESP && m.to() == 2; };
  pb::Message vote = Made(pb::MSG_VOTE, 2, 4, term + 5);
  ASSERT_TRUE(c.raft(4).Step(vote).ok());
  c.Stabilize();
  ASSERT_EQ(c.raft(4).term(), term + 5);
  c.drop = nullptr;
  ASSERT_TRUE(c.TickUntil([&] { return c.Leader() != 0 && c.raft(c.Leader()).term() > term + 5; }, 100))
      << c.Transcript();
  const uint64_t leader = c.Leader();
  ASSERT_TRUE(c.Propose(leader, "after").ok());
  c.Tick(2);
  EXPECT_EQ(Data(c, 4).back(), "after");
  EXPECT_CLUSTER_OK(c);
}

TEST(Membership, OneChangeAtATime) {
  TestCluster c(3);
  c.Campaign(1);
  c.AddEmptyNode(4);
  c.AddEmptyNode(5);
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_ADD_LEARNER, 4)).ok());
  EXPECT_FALSE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_ADD_LEARNER, 5)).ok());
  c.Stabilize();
  EXPECT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_ADD_LEARNER, 5)).ok());
  c.Stabilize();
  EXPECT_EQ(c.host(2).conf().learners_size(), 2);
  EXPECT_CLUSTER_OK(c);
}

TEST(Membership, RemovingTheLeaderHandsOver) {
  TestCluster c(3);
  c.Campaign(1);
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_REMOVE_NODE, 1)).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  uint64_t leader = c.Leader();
  ASSERT_TRUE(leader == 2 || leader == 3) << "a caught-up voter was told to campaign\n"
                                          << c.Transcript(60);
  EXPECT_EQ(c.host(leader).conf().voters_size(), 2);
  // The removed node never campaigns again.
  c.Isolate(1);
  c.Tick(40, {1});
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  c.Heal();
  ASSERT_TRUE(c.Propose(leader, "two-node").ok());
  uint64_t other = leader == 2 ? 3 : 2;
  EXPECT_EQ(Data(c, other).back(), "two-node");
  EXPECT_CLUSTER_OK(c);
}

TEST(Membership, CannotRemoveTheLastVoter) {
  TestCluster c(1);
  c.Campaign(1);
  ASSERT_EQ(c.Leader(), 1u);
  EXPECT_FALSE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_REMOVE_NODE, 1)).ok());
  EXPECT_CLUSTER_OK(c);
}

// Regression (forged elections): one heartbeat claiming id 99 and a much
// higher term made the leader step down and follow a node that does not exist.
TEST(Membership, NonMembersNeitherDeposeALeaderNorWinVotes) {
  TestCluster c(3);
  c.Campaign(1);
  const uint64_t term = c.raft(1).term();
  pb::Message hb = Made(pb::MSG_HEARTBEAT, 99, 1, term + 100);
  ASSERT_TRUE(c.raft(1).Step(hb).ok());
  pb::Message vote = Made(pb::MSG_VOTE, 99, 2, term + 100);
  vote.set_index(1000);
  vote.set_log_term(term + 99);
  vote.set_force(true);  // even one that claims a transfer
  ASSERT_TRUE(c.raft(2).Step(vote).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 1u);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(c.raft(id).term(), term) << "node " << id;
  EXPECT_EQ(c.raft(2).Status().vote, 1u);
  EXPECT_EQ(c.raft(1).Status().ignored_non_members, 1u);
  EXPECT_EQ(c.raft(2).Status().ignored_non_members, 1u);
  ASSERT_TRUE(c.Propose(1, "still leader").ok());
  EXPECT_EQ(Data(c, 3).back(), "still leader");
  EXPECT_CLUSTER_OK(c);
}

// Regression (Membership.ARemovedNodeWhoseAcksWereLostLearnsItsRemovalCommitted):
// the leader's last message to a node it removes was a heartbeat, whose
// commit is capped at what the node is known to hold. Under load its
// acknowledgements lag, so the cap fell below the removal's own entry: the
// node held the entry, never learnt that it committed, and campaigned for
// ever (ignored by the members) instead of exiting.
TEST(Membership, ARemovedNodeWhoseAcksWereLostLearnsItsRemovalCommitted) {
  Config cfg = TestCluster::DefaultConfig();
  cfg.max_inflight_msgs = 2;
  TestCluster c(3, cfg);
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "before").ok());
  const uint64_t acked = c.raft(1).Status().progress.at(3).match;
  c.drop = [](const pb::Message& m) { return m.from() == 3; };  // its answers are lost
  // Its appends in flight fill up: the leader sends it nothing more, not
  // even the news of a commit.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "unacknowledged by 3").ok());
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_REMOVE_NODE, 3)).ok());
  c.Stabilize();
  const uint64_t removal = c.raft(1).log().LastIndex();
  ASSERT_EQ(c.host(1).conf().voters_size(), 2);
  EXPECT_LT(acked, removal);
  EXPECT_GE(c.raft(3).log().committed(), removal) << c.Transcript(30);
  EXPECT_EQ(c.host(3).conf().voters_size(), 2) << "node 3 did not apply its removal";
  c.drop = nullptr;
  EXPECT_CLUSTER_OK(c);
}

// A removed node that never learned of its removal, told to campaign (a
// transfer's TIMEOUT_NOW, delayed), cannot take the leadership or a vote.
TEST(Membership, RemovedNodeCannotDisruptTheCluster) {
  TestCluster c(3);
  c.Campaign(1);
  c.Isolate(3);  // 3 misses its own removal
  ASSERT_TRUE(c.raft(1).ProposeConfChange(Change(pb::CONF_CHANGE_REMOVE_NODE, 3)).ok());
  c.Stabilize();
  ASSERT_EQ(c.host(2).conf().voters_size(), 2);
  const uint64_t term = c.raft(1).term();
  c.Heal();
  pb::Message now = Made(pb::MSG_TIMEOUT_NOW, 1, 3, c.raft(3).term());
  ASSERT_TRUE(c.raft(3).Step(now).ok());
  c.Stabilize();  // 3 asks 1 and 2 for a forced vote at a higher term
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_GE(c.raft(1).Status().ignored_non_members + c.raft(2).Status().ignored_non_members, 2u);
  EXPECT_CLUSTER_OK(c);
}

TEST(Snapshot, LaggingFollowerGetsASnapshot) {
  TestCluster c(3);
  c.Campaign(1);
  c.Isolate(3);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose(1, "s" + std::to_string(i)).ok());
  ASSERT_TRUE(c.host(1).SnapshotAndCompact(2).ok());
  ASSERT_GT(c.host(1).storage().FirstIndex().value(), 10u);
  c.Heal();
  c.Tick(3);
  EXPECT_EQ(Data(c, 3), Data(c, 1));
  EXPECT_EQ(c.raft(3).log().committed(), c.raft(1).log().committed());
  // And replication continues normally afterwards.
  ASSERT_TRUE(c.Propose(1, "after").ok());
  EXPECT_EQ(Data(c, 3).back(), "after");
  EXPECT_CLUSTER_OK(c);
}

TEST(Snapshot, RestartReplaysFromSnapshot) {
  TestCluster c(3);
  c.Campaign(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "r" + std::to_string(i)).ok());
  ASSERT_TRUE(c.host(2).SnapshotAndCompact(1).ok());
  for (int i = 5; i < 8; ++i) ASSERT_TRUE(c.Propose(1, "r" + std::to_string(i)).ok());
  c.Crash(2);
  c.Restart(2);
  c.Stabilize();
  EXPECT_EQ(Data(c, 2), Data(c, 1));
  EXPECT_CLUSTER_OK(c);
}

TEST(Status, ReportsProgress) {
  TestCluster c(3);
  c.Campaign(1);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  RaftStatus st = c.raft(1).Status();
  EXPECT_EQ(st.role, Role::kLeader);
  EXPECT_EQ(st.leader, 1u);
  ASSERT_EQ(st.progress.size(), 3u);
  EXPECT_EQ(st.progress.at(2).match, st.last_index);
  EXPECT_EQ(st.progress.at(2).state, ProgressState::kReplicate);
  EXPECT_TRUE(c.raft(2).Status().progress.empty());
}

}  // namespace
}  // namespace consensus::testing
