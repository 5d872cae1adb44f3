// The follower read queue: scenarios, and a seeded randomized simulation that
// checks after every step that no read runs on a child that lacks a write
// acknowledged before the read arrived.
#include "node/gate/follower_reads.h"

#include <algorithm>
#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace node::gate {

void PrintTo(const FollowerReadQueue::Ready& r, std::ostream* os) {
  *os << "{read " << r.id << ", index " << r.index << (r.early ? ", early}" : "}");
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

FollowerReadQueue::Ready R(FollowerReadQueue::ReadId id, uint64_t index, bool early = false) {
  return FollowerReadQueue::Ready{id, index, early};
}

TEST(FollowerReadQueueTest, ReadWaitsForARoundThenForTheChild) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  EXPECT_TRUE(q.WantsRound());
  const uint64_t stamp = q.StartRound();
  EXPECT_FALSE(q.WantsRound()) << "the round covers every read there is";
  q.Applied(9);
  EXPECT_THAT(q.TakeReady(), IsEmpty()) << "no read index yet";
  q.Confirmed(stamp, 10);
  EXPECT_THAT(q.TakeReady(), IsEmpty()) << "the child holds only entry 9";
  q.Applied(10);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 10)));
  EXPECT_EQ(q.waiting(), 0u);
}

TEST(FollowerReadQueueTest, OneRoundServesEveryReadBeforeIt) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const auto b = q.Arrive();
  const uint64_t stamp = q.StartRound();
  const auto c = q.Arrive();  // after the round started: it needs the next one
  q.Applied(100);
  q.Confirmed(stamp, 5);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 5), R(b, 5)));
  EXPECT_TRUE(q.WantsRound());
  q.Confirmed(q.StartRound(), 7);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(c, 7)));
}

// A read that arrives during a round starts its own (up to kMaxRounds in
// flight); a later round's answer ends the earlier ones.
TEST(FollowerReadQueueTest, RoundsOverlapUpToALimit) {
  static_assert(FollowerReadQueue::kMaxRounds == 2);
  FollowerReadQueue q;
  q.Applied(100);
  const auto a = q.Arrive();
  const uint64_t first = q.StartRound();
  const auto b = q.Arrive();
  EXPECT_TRUE(q.WantsRound()) << "b is not covered by the round in flight";
  const uint64_t second = q.StartRound();
  const auto c = q.Arrive();
  EXPECT_FALSE(q.WantsRound()) << "two in flight already";
  q.Confirmed(second, 9);  // answered first: a and b have index 9
  EXPECT_EQ(q.rounds_in_flight(), 0u) << "the first round is no longer needed";
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 9), R(b, 9)));
  EXPECT_TRUE(q.WantsRound()) << "c";
  q.Confirmed(first, 8);  // late, and older: changes nothing
  EXPECT_THAT(q.TakeReady(), IsEmpty());
  q.Confirmed(q.StartRound(), 10);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(c, 10)));
}

TEST(FollowerReadQueueTest, LostRoundIsAskedAgainAndALateAnswerStillCounts) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const uint64_t first = q.StartRound();
  q.Failed(first);
  EXPECT_TRUE(q.WantsRound());
  const auto b = q.Arrive();
  const uint64_t second = q.StartRound();
  q.Applied(50);
  q.Confirmed(first, 3);  // the lost round's answer, late: it covers a only
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 3)));
  EXPECT_EQ(q.rounds_in_flight(), 1u);
  q.Confirmed(second, 4);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(b, 4)));
}

TEST(FollowerReadQueueTest, ReadsLeaveInArrivalOrder) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const uint64_t first = q.StartRound();
  q.Failed(first);
  const auto b = q.Arrive();
  q.Confirmed(q.StartRound(), 20);  // covers a and b
  q.Applied(20);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 20), R(b, 20)));
  q.Confirmed(first, 1);  // too late to matter
  EXPECT_THAT(q.TakeReady(), IsEmpty());
}

TEST(FollowerReadQueueTest, RebuiltChildHoldsNothingUntilItCaughtUp) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  q.Confirmed(q.StartRound(), 8);
  q.Applied(0);  // the child is being rebuilt
  EXPECT_THAT(q.TakeReady(), IsEmpty());
  q.Applied(8);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 8)));
}

TEST(FollowerReadQueueTest, ClearForgetsEverything) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const uint64_t stamp = q.StartRound();
  EXPECT_THAT(q.Clear(), ElementsAre(a));
  q.Confirmed(stamp, 3);
  q.Applied(3);
  EXPECT_THAT(q.TakeReady(), IsEmpty());
  EXPECT_FALSE(q.WantsRound());
}

// Regression: reads that had their read index waited for the child to apply
// it for ever; on a follower that could not catch up (its snapshot could not
// be written: a full disk) they never got an answer. Reads that wait too
// long are given up whatever they wait for.
TEST(FollowerReadQueueTest, WaitingReadsCanBeGivenUp) {
  using Dropped = FollowerReadQueue::Dropped;
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const auto b = q.Arrive();
  q.Confirmed(q.StartRound(), 4);  // a and b have their index; the child lags
  const auto c = q.Arrive();
  q.StartRound();  // never answered
  const auto d = q.Arrive();
  EXPECT_EQ(q.oldest(), a);
  EXPECT_THAT(q.DropBefore(b), ElementsAre(Dropped{a, 4}));
  EXPECT_THAT(q.DropBefore(d), ElementsAre(Dropped{b, 4}, Dropped{c, std::nullopt}));
  EXPECT_EQ(q.oldest(), d);
  q.Applied(4);
  EXPECT_THAT(q.TakeReady(), IsEmpty());
  EXPECT_EQ(q.waiting(), 1u);
  q.Confirmed(q.StartRound(), 5);
  q.Applied(5);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(d, 5)));
}

TEST(FollowerReadQueueTest, EarlyReadStandsWhenTheChildHeldItsIndex) {
  FollowerReadQueue q;
  EXPECT_FALSE(q.MaySendEarly()) << "the child holds nothing known yet";
  q.Applied(10);
  ASSERT_TRUE(q.MaySendEarly());
  const auto a = q.ArriveEarly();  // ran on a child at entry 10
  const uint64_t stamp = q.StartRound();
  EXPECT_THAT(q.TakeReady(), IsEmpty()) << "not confirmed yet: its reply waits";
  q.Applied(0);  // whatever happens to the child since, the read ran on one at 10
  q.Confirmed(stamp, 10);
  EXPECT_THAT(q.TakeVoided(), IsEmpty());
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 10, true)));
}

// The child was behind the leader when the read ran: its reply is void, and
// so are the early replies after it, which ran before its second run would.
TEST(FollowerReadQueueTest, EarlyReadOnAChildBehindRunsAgain) {
  FollowerReadQueue q;
  q.Applied(5);
  const auto a = q.ArriveEarly();
  const uint64_t stamp = q.StartRound();
  q.Applied(7);
  ASSERT_TRUE(q.MaySendEarly());
  const auto b = q.ArriveEarly();  // ran at 7
  q.Confirmed(stamp, 7);           // covers a only
  EXPECT_THAT(q.TakeVoided(), ElementsAre(a, b));
  EXPECT_FALSE(q.MaySendEarly()) << "no early runs while the child lags the leader";
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 7))) << "a runs again, the child holds 7 now";
  q.Confirmed(q.StartRound(), 7);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(b, 7))) << "b waited for a round of its own";
  EXPECT_FALSE(q.MaySendEarly()) << "one round that finds the child caught up is let pass";
  q.Arrive();
  q.Confirmed(q.StartRound(), 7);
  q.TakeReady();
  EXPECT_TRUE(q.MaySendEarly()) << "the next one turns early runs on again";
}

// Voids in a row: each makes the next try wait for twice as many rounds
// that find the child caught up; an early read that stands ends that.
TEST(FollowerReadQueueTest, VoidsInARowBackOffUntilAnEarlyReadStands) {
  FollowerReadQueue q;
  uint64_t applied = 10;
  q.Applied(applied);
  // Rounds until early runs are on again, after a void.
  auto rounds_until_early = [&] {
    int rounds = 0;
    while (!q.MaySendEarly() && rounds < 1000) {
      q.Arrive();
      q.Confirmed(q.StartRound(), applied);
      q.TakeReady();
      ++rounds;
    }
    return rounds;
  };
  auto void_one = [&] {
    q.ArriveEarly();
    applied += 2;
    q.Applied(applied);
    q.Confirmed(q.StartRound(), applied);  // the read ran 2 entries behind
    ASSERT_THAT(q.TakeVoided(), ::testing::SizeIs(1));
    q.TakeReady();
  };
  void_one();
  EXPECT_EQ(rounds_until_early(), 2);
  void_one();
  EXPECT_EQ(rounds_until_early(), 3);
  void_one();
  EXPECT_EQ(rounds_until_early(), 5);
  for (int i = 0; i < 10; ++i) void_one(), rounds_until_early();
  EXPECT_EQ(rounds_until_early(), 0);
  void_one();
  EXPECT_EQ(rounds_until_early(), FollowerReadQueue::kMaxEarlyBackoff + 1) << "the wait has a bound";
  q.ArriveEarly();  // stands: the child held the read index
  q.Confirmed(q.StartRound(), applied);
  ASSERT_THAT(q.TakeReady(), ::testing::SizeIs(1));
  void_one();
  EXPECT_EQ(rounds_until_early(), 2) << "a read that stood ends the backoff";
}

TEST(FollowerReadQueueTest, NoEarlyRunOvertakesAWaitingRead) {
  FollowerReadQueue q;
  q.Applied(3);
  const auto a = q.Arrive();  // not sent early (its connection was not open)
  EXPECT_FALSE(q.MaySendEarly()) << "a later read would run before a";
  q.Confirmed(q.StartRound(), 3);
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 3)));
  EXPECT_TRUE(q.MaySendEarly());
}

TEST(FollowerReadQueueTest, EarlyReadWhoseConnectionWasLostWaitsLikeAnyOther) {
  FollowerReadQueue q;
  q.Applied(4);
  const auto a = q.ArriveEarly();
  q.Unsent(a);
  EXPECT_FALSE(q.MaySendEarly());
  q.Confirmed(q.StartRound(), 4);
  EXPECT_THAT(q.TakeVoided(), IsEmpty()) << "nothing of it to drop";
  EXPECT_THAT(q.TakeReady(), ElementsAre(R(a, 4))) << "to be sent again";
}

// The model: a leader whose commit index grows; every write acknowledged
// before a read arrived has an index at most the commit index at that
// moment. A round's read index is the leader's commit index at some moment
// after the round started. The child applies up to the commit index, and may
// be rebuilt (it holds nothing until it caught up again).
struct SimResult {
  uint64_t steps = 0, released = 0, early = 0;
  std::string violation;
};

SimResult Simulate(uint64_t seed, bool skip_wait, bool early_runs = true) {
  std::mt19937_64 rng(seed);
  FollowerReadQueue q;
  if (skip_wait) q.SkipWaitForTest();
  uint64_t commit = 0, applied = 0;
  std::map<FollowerReadQueue::ReadId, uint64_t> needs;  // read -> commit index at its arrival
  std::map<FollowerReadQueue::ReadId, uint64_t> ran_at;  // early reads -> the child's state when they ran
  uint64_t last_state = 0;  // the state the last released read saw (since the child was last rebuilt)
  // Rounds in flight or lost: stamp -> the commit index when it started.
  std::map<uint64_t, uint64_t> rounds;
  SimResult res;
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  for (int step = 0; step < 2000; ++step) {
    switch (pick(8)) {
      case 0:
        commit += 1 + pick(3);
        break;
      case 1:
      case 2:
        if (early_runs && q.MaySendEarly()) {
          const auto id = q.ArriveEarly();
          needs[id] = commit;
          ran_at[id] = applied;
        } else {
          needs[q.Arrive()] = commit;
        }
        break;
      case 3:
        if (q.WantsRound()) rounds[q.StartRound()] = commit;
        break;
      case 4:
        if (!rounds.empty()) {
          // Some round is answered, with the commit index at a moment after it started.
          auto it = std::next(rounds.begin(), pick(static_cast<int>(rounds.size())));
          const uint64_t index = it->second + static_cast<uint64_t>(pick(static_cast<int>(commit - it->second + 1)));
          q.Confirmed(it->first, index);
          rounds.erase(it);
        }
        break;
      case 5:
        if (!rounds.empty()) {
          // A round in flight is lost; it may still be answered later.
          auto it = std::next(rounds.begin(), pick(static_cast<int>(rounds.size())));
          if (q.in_flight(it->first)) q.Failed(it->first);
        }
        break;
      case 6:
        if (applied < commit) applied += 1 + static_cast<uint64_t>(pick(static_cast<int>(commit - applied)));
        q.Applied(applied);
        break;
      case 7:
        if (pick(20) == 0) {
          applied = 0;  // a rebuilt child
          last_state = 0;
          q.Applied(0);
        } else if (!ran_at.empty() && pick(4) == 0) {
          // The connection is lost before an early read's reply (and the
          // replies of those sent after it).
          auto it = std::next(ran_at.begin(), pick(static_cast<int>(ran_at.size())));
          q.Unsent(it->first);
          ran_at.erase(it, ran_at.end());
        }
        break;
    }
    for (const auto id : q.TakeVoided()) ran_at.erase(id);
    for (const auto& r : q.TakeReady()) {
      ++res.released;
      res.early += r.early;
      const auto ran = ran_at.find(r.id);
      if (r.early && ran == ran_at.end()) res.violation = "an early reply stands for a read that did not run early";
      const uint64_t state = r.early ? ran->second : applied;
      if (!skip_wait && !r.early && r.index > applied) res.violation = "released before the child applied its read index";
      if (needs[r.id] > state) {
        res.violation = "read " + std::to_string(r.id) + " ran on a child that applied " + std::to_string(state) +
                        " but a write acknowledged before it arrived is at " + std::to_string(needs[r.id]);
      }
      if (!skip_wait && state < last_state) res.violation = "read " + std::to_string(r.id) + " saw an older state than a read before it";
      last_state = std::max(last_state, state);
      needs.erase(r.id);
      ran_at.erase(r.id);
      if (!res.violation.empty()) return res;
    }
    ++res.steps;
  }
  return res;
}

TEST(FollowerReadSimulation, RandomSeedsKeepReadsFresh) {
  uint64_t released = 0, early = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const SimResult r = Simulate(seed, false);
    ASSERT_EQ(r.violation, "") << "seed " << seed;
    released += r.released;
    early += r.early;
  }
  EXPECT_GT(released, 10000u) << "the simulation must serve reads to prove anything";
  EXPECT_GT(early, 300u) << "and early runs among them";
}

// The check bites: without the wait, stale reads are found.
TEST(FollowerReadSimulation, SkippedWaitIsCaught) {
  int caught = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) caught += !Simulate(seed, true).violation.empty();
  EXPECT_GT(caught, 15);
}

}  // namespace
}  // namespace node::gate
