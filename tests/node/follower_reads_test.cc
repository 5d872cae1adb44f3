// The follower read queue: scenarios, and a seeded randomized simulation that
// checks after every step that no read runs on a child that lacks a write
// acknowledged before the read arrived.
#include "node/gate/follower_reads.h"

#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace node::gate {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

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
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 10)));
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
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 5), Pair(b, 5)));
  EXPECT_TRUE(q.WantsRound());
  q.Confirmed(q.StartRound(), 7);
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(c, 7)));
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
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 9), Pair(b, 9)));
  EXPECT_TRUE(q.WantsRound()) << "c";
  q.Confirmed(first, 8);  // late, and older: changes nothing
  EXPECT_THAT(q.TakeReady(), IsEmpty());
  q.Confirmed(q.StartRound(), 10);
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(c, 10)));
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
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 3)));
  EXPECT_EQ(q.rounds_in_flight(), 1u);
  q.Confirmed(second, 4);
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(b, 4)));
}

TEST(FollowerReadQueueTest, ReadsLeaveInArrivalOrder) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const uint64_t first = q.StartRound();
  q.Failed(first);
  const auto b = q.Arrive();
  q.Confirmed(q.StartRound(), 20);  // covers a and b
  q.Applied(20);
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 20), Pair(b, 20)));
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
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 8)));
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

TEST(FollowerReadQueueTest, UnconfirmedReadsCanBeGivenUp) {
  FollowerReadQueue q;
  const auto a = q.Arrive();
  const auto b = q.Arrive();
  q.Confirmed(q.StartRound(), 4);  // a and b have their index; the child lags
  const auto c = q.Arrive();
  q.StartRound();  // never answered
  const auto d = q.Arrive();
  EXPECT_THAT(q.DropUnconfirmedBefore(d), ElementsAre(c)) << "only reads without a read index, before d";
  q.Applied(4);
  EXPECT_THAT(q.TakeReady(), ElementsAre(Pair(a, 4), Pair(b, 4)));
  EXPECT_EQ(q.waiting(), 1u);
}

// The model: a leader whose commit index grows; every write acknowledged
// before a read arrived has an index at most the commit index at that
// moment. A round's read index is the leader's commit index at some moment
// after the round started. The child applies up to the commit index, and may
// be rebuilt (it holds nothing until it caught up again).
struct SimResult {
  uint64_t steps = 0, released = 0;
  std::string violation;
};

SimResult Simulate(uint64_t seed, bool skip_wait) {
  std::mt19937_64 rng(seed);
  FollowerReadQueue q;
  if (skip_wait) q.SkipWaitForTest();
  uint64_t commit = 0, applied = 0;
  std::map<FollowerReadQueue::ReadId, uint64_t> needs;  // read -> commit index at its arrival
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
        needs[q.Arrive()] = commit;
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
          q.Applied(0);
        }
        break;
    }
    for (const auto& [id, index] : q.TakeReady()) {
      ++res.released;
      if (!skip_wait && index > applied) res.violation = "released before the child applied its read index";
      if (needs[id] > applied) {
        res.violation = "read " + std::to_string(id) + " ran on a child that applied " + std::to_string(applied) +
                        " but a write acknowledged before it arrived is at " + std::to_string(needs[id]);
      }
      needs.erase(id);
      if (!res.violation.empty()) return res;
    }
    ++res.steps;
  }
  return res;
}

TEST(FollowerReadSimulation, RandomSeedsKeepReadsFresh) {
  uint64_t released = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const SimResult r = Simulate(seed, false);
    ASSERT_EQ(r.violation, "") << "seed " << seed;
    released += r.released;
  }
  EXPECT_GT(released, 10000u) << "the simulation must serve reads to prove anything";
}

// The check bites: without the wait, stale reads are found.
TEST(FollowerReadSimulation, SkippedWaitIsCaught) {
  int caught = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) caught += !Simulate(seed, true).violation.empty();
  EXPECT_GT(caught, 15);
}

}  // namespace
}  // namespace node::gate
