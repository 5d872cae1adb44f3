// Which relayed sessions the leader ends when a follower falls silent
// (node/front/relay_sessions.h), on a clock the test sets.
#include "node/front/relay_sessions.h"

#include <map>
#include <memory>
#include <set>

#include "gtest/gtest.h"

namespace node {
namespace {

using namespace std::chrono_literals;
using Clock = RelaySessions::Clock;

struct Fixture {
  asio::io_context io;  // never run: the test calls Check itself
  Clock::time_point t0 = Clock::now();
  std::map<uint64_t, Clock::time_point> heard;
  std::set<int> ended;
  std::vector<std::shared_ptr<int>> alive;
  RelaySessions sessions{io,
                         [this](uint64_t member) -> std::optional<Clock::time_point> {
                           auto it = heard.find(member);
                           if (it == heard.end()) return std::nullopt;
                           return it->second;
                         },
                         400ms, 50ms};
  // Session `n` announced at t0 + `at`, relayed through `member`.
  void Add(int n, uint64_t member, Clock::duration at) {
    alive.push_back(std::make_shared<int>(n));
    sessions.Add(member, t0 + at, alive.back(), [this, n] { ended.insert(n); });
  }
};

TEST(RelaySessionsTest, ASilentMembersSessionsEndAndOnlyTheirs) {
  Fixture f;
  f.heard[2] = f.t0;
  f.heard[3] = f.t0;
  f.Add(1, 2, 0ms);
  f.Add(2, 3, 0ms);
  EXPECT_EQ(f.sessions.Check(f.t0 + 399ms), 0u);  // not silent long enough
  f.heard[3] = f.t0 + 300ms;                      // member 3 still talks
  EXPECT_EQ(f.sessions.Check(f.t0 + 400ms), 1u);
  EXPECT_EQ(f.ended, (std::set<int>{1}));
  EXPECT_EQ(f.sessions.size(), 1u);
  EXPECT_EQ(f.sessions.Check(f.t0 + 699ms), 0u);
  EXPECT_EQ(f.sessions.Check(f.t0 + 700ms), 1u);
  EXPECT_EQ(f.ended, (std::set<int>{1, 2}));
  EXPECT_EQ(f.sessions.ended(), 2u);
}

// A session opened while the member was silent already (for a whole
// `silence`) shows its relay works: it stays. One opened just before or
// around the silence's start is the one a partition leaves behind: it ends.
TEST(RelaySessionsTest, ASessionOpenedWellIntoTheSilenceStays) {
  Fixture f;
  f.heard[2] = f.t0;
  f.Add(1, 2, -5s);    // long before
  f.Add(2, 2, 100ms);  // just after the last message
  f.Add(3, 2, 400ms);  // as the silence reached its limit
  f.Add(4, 2, 401ms);  // after: the follower saw a leader, and its relay worked
  EXPECT_EQ(f.sessions.Check(f.t0 + 2s), 3u);
  EXPECT_EQ(f.ended, (std::set<int>{1, 2, 3}));
  EXPECT_EQ(f.sessions.Check(f.t0 + 10s), 0u);
  EXPECT_EQ(f.sessions.size(), 1u);
}

// A member never heard from (a leader just elected has not yet heard from
// it) is not taken for silent; sessions that closed are forgotten.
TEST(RelaySessionsTest, UnheardMembersAndClosedSessions) {
  Fixture f;
  f.Add(1, 7, 0ms);
  EXPECT_EQ(f.sessions.Check(f.t0 + 10s), 0u);
  EXPECT_EQ(f.sessions.size(), 1u);
  f.heard[2] = f.t0;
  f.Add(2, 2, 0ms);
  f.alive.back().reset();  // that session closed on its own
  EXPECT_EQ(f.sessions.Check(f.t0 + 10s), 0u);
  EXPECT_TRUE(f.ended.empty());
  EXPECT_EQ(f.sessions.size(), 1u);
}

}  // namespace
}  // namespace node
