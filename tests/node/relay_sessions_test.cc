// Which relayed sessions the leader ends when a follower falls silent or
// gives a stalled connection up (node/front/relay_sessions.h), and which
// connections a follower gives up (node/front/relay_watch.h), on a clock the
// test sets.
#include "node/front/relay_sessions.h"

#include "node/front/relay_watch.h"

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
  std::vector<int> kept_alive;
  // Session `n` announced at t0 + `at`, relayed through `member`; its token.
  uint64_t Add(int n, uint64_t member, Clock::duration at) {
    alive.push_back(std::make_shared<int>(n));
    return sessions.Add(
        member, t0 + at, alive.back(), [this, n] { ended.insert(n); }, [this, n] { kept_alive.push_back(n); });
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

// Only the member's connection was told its session's token: ending takes
// both, once.
TEST(RelaySessionsTest, AFollowerEndsItsOwnSessionByItsToken) {
  Fixture f;
  const uint64_t one = f.Add(1, 2, 0ms), two = f.Add(2, 2, 0ms);
  EXPECT_NE(one, two);
  EXPECT_FALSE(f.sessions.End(3, one));  // another member
  EXPECT_FALSE(f.sessions.End(2, one ^ two));
  EXPECT_TRUE(f.ended.empty());
  EXPECT_TRUE(f.sessions.End(2, two));
  EXPECT_EQ(f.ended, (std::set<int>{2}));
  EXPECT_FALSE(f.sessions.End(2, two));  // ended already
  EXPECT_EQ(f.sessions.ended(), 1u);
  EXPECT_EQ(f.sessions.size(), 1u);
  f.alive[0].reset();  // closed on its own: nothing to end
  EXPECT_FALSE(f.sessions.End(2, one));
}

TEST(RelaySessionsTest, SessionsStillOpenAreKeptAlive) {
  Fixture f;
  f.Add(1, 2, 0ms);
  f.Add(2, 3, 0ms);
  f.Add(3, 2, 0ms);
  f.alive[2].reset();
  f.sessions.KeepAlive();
  EXPECT_EQ(f.kept_alive, (std::vector<int>{1, 2}));
}

TEST(RelayWatchTest, TheLeadersAnswerToTheRelayPreambleGivesTheToken) {
  EXPECT_EQ(RelayToken("+OK 12345\r\n"), 12345u);
  EXPECT_EQ(RelayToken("+OK\r\n"), std::nullopt);  // an earlier version's leader
  EXPECT_EQ(RelayToken("+OK 0\r\n"), std::nullopt);
  EXPECT_EQ(RelayToken("-ERR unknown command 'ANARCHO.RELAY'\r\n"), std::nullopt);
  EXPECT_EQ(RelayToken("+OK 12x\r\n"), std::nullopt);
}

struct WatchFixture {
  asio::io_context io;  // never run: the test calls Check itself
  Clock::time_point t0 = Clock::now();
  bool leader_heard = true;
  std::vector<std::pair<uint64_t, std::function<void(bool)>>> asked;  // end_session's calls
  RelayWatch watch{io,
                   RelayWatch::Hooks{
                       [this](Clock::time_point) -> uint64_t { return leader_heard ? 1 : 0; },
                       [this](uint64_t token, std::function<void(bool)> done) {
                         asked.emplace_back(token, std::move(done));
                       }},
                   2s, 250ms};
  std::shared_ptr<int> connection = std::make_shared<int>(0);
  std::optional<Clock::time_point> quiet;
  int ended = 0;
  void Add(uint64_t leader = 1) {
    RelayWatch::Link link;
    link.alive = connection;
    link.leader = leader;
    link.token = 77;
    link.quiet_since = [this] { return quiet; };
    link.ended = [this] { ++ended; };
    watch.Add(std::move(link));
  }
};

// A connection awaiting replies that heard nothing for the silence is given
// up, once the leader said it ended its session; not before.
TEST(RelayWatchTest, AQuietConnectionIsGivenUpOnceTheLeaderEndedItsSession) {
  WatchFixture f;
  f.Add();
  EXPECT_EQ(f.watch.Check(f.t0), 0u);  // the leader heard from now on
  EXPECT_EQ(f.watch.Check(f.t0 + 1h), 0u);  // it awaits nothing
  f.quiet = f.t0;
  EXPECT_EQ(f.watch.Check(f.t0 + 1999ms), 0u);
  EXPECT_EQ(f.watch.Check(f.t0 + 2s), 1u);
  ASSERT_EQ(f.asked.size(), 1u);
  EXPECT_EQ(f.asked[0].first, 77u);
  EXPECT_EQ(f.watch.Check(f.t0 + 3s), 0u);  // asked once at a time
  EXPECT_EQ(f.ended, 0);
  f.asked[0].second(false);  // the leader could not be asked: again at the next check
  EXPECT_EQ(f.ended, 0);
  EXPECT_EQ(f.watch.Check(f.t0 + 3s), 1u);
  ASSERT_EQ(f.asked.size(), 2u);
  f.asked[1].second(true);
  EXPECT_EQ(f.ended, 1);
  EXPECT_EQ(f.watch.given_up(), 1u);
  EXPECT_EQ(f.watch.Check(f.t0 + 4s), 0u);
  EXPECT_EQ(f.watch.size(), 0u);
}

// A leader whose Raft messages do not arrive is held up or cut off: the
// follower's loss of its leader answers then (after the leader's registry
// ended the sessions), and a stalled loop is no stalled connection. Only
// once the leader was heard at every check for kSteady would its signs of
// life have come. Nor is a connection to a leader that is not the leader any
// more given up.
TEST(RelayWatchTest, NothingIsGivenUpUntilTheLeaderIsHeardSteadily) {
  WatchFixture f;
  f.quiet = f.t0;
  f.Add();
  f.Add(/*leader=*/2);
  f.leader_heard = false;
  EXPECT_EQ(f.watch.Check(f.t0 + 1h), 0u);
  f.leader_heard = true;
  EXPECT_EQ(f.watch.Check(f.t0 + 1h + 250ms), 0u);  // heard again only now
  EXPECT_EQ(f.watch.Check(f.t0 + 1h + 999ms), 0u);
  // This node's own loop was held up: its hearing starts again.
  EXPECT_EQ(f.watch.Check(f.t0 + 1h + 1249ms, /*held_up=*/true), 0u);
  EXPECT_EQ(f.watch.Check(f.t0 + 1h + 1500ms), 0u);
  EXPECT_EQ(f.watch.Check(f.t0 + 1h + 2499ms), 0u);
  EXPECT_EQ(f.watch.Check(f.t0 + 1h + 2500ms), 1u);
  EXPECT_EQ(f.asked.size(), 1u);
}

// The connection closed while the leader was asked (it broke, or recovered
// and the link moved on): there is nothing left to fail.
TEST(RelayWatchTest, AConnectionClosedMeanwhileIsLeftAlone) {
  WatchFixture f;
  f.quiet = f.t0;
  f.Add();
  EXPECT_EQ(f.watch.Check(f.t0 + 1s), 0u);
  EXPECT_EQ(f.watch.Check(f.t0 + 2s), 1u);
  f.connection.reset();
  f.asked[0].second(true);
  EXPECT_EQ(f.ended, 0);
  EXPECT_EQ(f.watch.given_up(), 0u);
  EXPECT_EQ(f.watch.Check(f.t0 + 3s), 0u);
  EXPECT_EQ(f.watch.size(), 0u);
}

}  // namespace
}  // namespace node
