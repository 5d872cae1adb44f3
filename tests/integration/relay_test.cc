// A follower's relay: its clients' plain data commands that go to the leader
// share one connection to the leader's client port (SharedLink with the
// leader as its target). Replies reach the client they answer whatever its
// database and protocol; a session's requests keep their order when they move
// between the relay and its own connection; a leader lost under the relay
// fails what was in flight there, as a connection of the client's own would,
// and the relay follows the next leader; --shared_relay=false leaves every
// client on its own connection.
#include <signal.h>

#include <algorithm>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

int64_t RelayRequests(Cluster& c, int i) {
  int64_t n = -1;
  const auto status = c.Status(i);
  auto it = status.find("shared_link_requests");
  if (it == status.end() || !absl::SimpleAtoi(it->second, &n)) return -1;
  return n;
}

// A follower of a cluster with a leader, whose relay carried a request.
int WarmFollower(Cluster& c) {
  const int leader = c.WaitForLeader();
  if (leader < 0) return -1;
  const int f = (leader + 1) % c.size();
  for (int i = 0; i < 100 && RelayRequests(c, f) <= 0; ++i) Client(c.port(f)).Call({"SET", "warm-up", "1"});
  return RelayRequests(c, f) > 0 ? f : -1;
}

// Regression (RelayTest.ARelayIsNoClientOfTheLeader): a follower's relay
// (the connection its clients' plain commands share to the leader) showed in
// the leader's CLIENT LIST and INFO connected_clients as a client, and a
// CLIENT KILL filter such as SKIPME yes ended it, failing every request the
// follower's clients had on it.
TEST(RelayTest, ARelayIsNoClientOfTheLeader) {
  Cluster c;
  const int f = WarmFollower(c);
  ASSERT_GE(f, 0);
  const int leader = c.WaitForLeader();
  Client admin(c.port(leader));
  // (Connections the warm-up's clients had of their own are gone a moment
  // after those clients; the relay stays.)
  std::string list, info;
  auto alone = [&] {
    list = admin.Call({"CLIENT", "LIST"}).AsString();
    info = admin.Call({"INFO", "clients"}).AsString();
    return std::count(list.begin(), list.end(), '\n') == 1 &&
           info.find("connected_clients:1\r\n") != std::string::npos;
  };
  for (int i = 0; i < 100 && !alone(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 1) << list;
  EXPECT_NE(info.find("connected_clients:1\r\n"), std::string::npos) << info;
  EXPECT_EQ(admin.Call({"CLIENT", "KILL", "SKIPME", "yes"}).integer, 0);
  const int64_t before = RelayRequests(c, f);
  Client user(c.port(f));
  EXPECT_EQ(user.Call({"SET", "after", "1"}).AsString(), "OK");
  EXPECT_GT(RelayRequests(c, f), before) << "the relay was ended";
}

// Regression (RelayTest.RelaysTakeNoClientSlotAndAFullLeaderSaysSo): a
// follower's relay took one of the leader's --maxclients slots while INFO
// did not count it; a client of a follower that the full leader turned away
// got "UNKNOWN the node lost its link to the leader" for a PING instead of
// Redis's error; and the leader's MONITOR showed the relay's requests (the
// follower shows its clients' own).
TEST(RelayTest, RelaysTakeNoClientSlotAndAFullLeaderSaysSo) {
  Cluster c({.node_args = {"--maxclients", "3"}});
  const int f = WarmFollower(c);
  ASSERT_GE(f, 0);
  const int leader = c.WaitForLeader();
  // The warm-up's clients had connections of their own to the leader, gone a
  // moment after those clients: until then they may hold every slot, and
  // this client is refused (its next request then has no reply).
  auto connect = [&] { return std::make_unique<Client>(c.port(leader)); };
  std::unique_ptr<Client> admin_owner = connect();
  std::string info;
  for (int i = 0; i < 100; ++i) {
    info = admin_owner->Call({"INFO", "clients"}).AsString();
    if (info.find("connected_clients:1\r\n") != std::string::npos) break;
    if (info.find("max number of clients") != std::string::npos || info.find("no reply") != std::string::npos) {
      admin_owner = connect();
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(info.find("connected_clients:1\r\n"), std::string::npos) << info;
  Client& admin = *admin_owner;
  {
    // Two more clients fill the leader's three slots.
    Client second(c.port(leader)), third(c.port(leader));
    EXPECT_EQ(Str(second.Call({"PING"})), "PONG");
    EXPECT_EQ(Str(third.Call({"PING"})), "PONG");
    Client fourth(c.port(leader));
    EXPECT_EQ(Str(fourth.Call({"PING"})), "(error) ERR max number of clients reached");
    Client through_follower(c.port(f));
    EXPECT_EQ(Str(through_follower.Call({"PING"})), "(error) ERR max number of clients reached");
  }
  for (int i = 0; i < 100; ++i) {
    info = admin.Call({"INFO", "clients"}).AsString();
    if (info.find("connected_clients:1\r\n") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(Str(admin.Call({"MONITOR"})), "OK");
  Client relayed(c.port(f));
  const int64_t before = RelayRequests(c, f);
  EXPECT_EQ(Str(relayed.Call({"SET", "by-relay", "1"})), "OK");
  EXPECT_GT(RelayRequests(c, f), before);
  while (auto line = admin.Read(300ms)) {
    EXPECT_EQ(line->AsString().find("by-relay"), std::string::npos) << "the relay's request shown: " << line->AsString();
  }
}

TEST(RelayTest, PipelinesThroughAFollowerMatchRedis) {
  Cluster c;
  const int f = WarmFollower(c);
  ASSERT_GE(f, 0);
  const int64_t before = RelayRequests(c, f);
  EXPECT_EQ(PipelineAcrossLinksDifference(c.port(f)), "");
  EXPECT_GT(RelayRequests(c, f), before);
}

// Clients of one follower in different databases, on both protocols, at
// once: each sees its own writes and reads.
TEST(RelayTest, ManyClientsOfAFollowerSeeTheirOwn) {
  Cluster c;
  const int f = WarmFollower(c);
  ASSERT_GE(f, 0);
  constexpr int kClients = 8, kRounds = 40;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kClients);
  for (int n = 0; n < kClients; ++n) {
    threads.emplace_back([&, n] {
      Client cl(c.port(f));
      if (cl.Call({"SELECT", absl::StrCat(n % 4)}).AsString() != "OK") return void(failures[n] = "SELECT");
      if (n % 2 == 1 && cl.Call({"HELLO", "3"}).type != resp::Type::kMap) return void(failures[n] = "HELLO");
      const std::string key = absl::StrCat("k", n);
      for (int i = 1; i <= kRounds; ++i) {
        cl.Send(Req({"INCR", key}) + Req({"HSET", "h" + key, "f", absl::StrCat(i)}) + Req({"GET", key}) +
                Req({"HGETALL", "h" + key}));
        std::vector<resp::Value> got;
        for (int r = 0; r < 4; ++r) {
          auto v = cl.Read(10s);
          if (!v) return void(failures[n] = "no reply");
          got.push_back(*v);
        }
        const resp::Type want_hash = n % 2 == 1 ? resp::Type::kMap : resp::Type::kArray;
        if (got[0].integer != i || got[2].AsString() != absl::StrCat(i) || got[3].type != want_hash ||
            Str(got[3]).find(absl::StrCat(i)) == std::string::npos) {
          return void(failures[n] = absl::StrCat("round ", i, ": ", Str(got[0]), " ", Str(got[2]), " ", Str(got[3])));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n = 0; n < kClients; ++n) EXPECT_EQ(failures[n], "") << "client " << n;
}

// The leader dies under pipelines on the relay: every reply a client gets is
// its own, in order, then an error or a closed connection; never a hang. The
// relay then carries the clients' writes to the next leader.
TEST(RelayTest, ALeaderLostUnderTheRelayFailsItsRequestsAndTheNextLeaderGetsThem) {
  Cluster c;
  const int f = WarmFollower(c);
  ASSERT_GE(f, 0);
  const int leader = c.WaitForLeader();
  Client a(c.port(f)), b(c.port(f));
  ASSERT_EQ(b.Call({"SELECT", "3"}).AsString(), "OK");
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += Req({"INCR", "k"});
  a.Send(batch);
  b.Send(batch);
  c.Kill9(leader);
  for (Client* cl : {&a, &b}) {
    int64_t last = 0;
    for (int i = 0; i < 500; ++i) {
      auto v = cl->Read(20s);
      if (!v) break;  // closed
      if (v->type == resp::Type::kError) {
        EXPECT_TRUE(v->AsString().starts_with("UNKNOWN") || v->AsString().starts_with("TRYAGAIN")) << v->AsString();
        break;
      }
      ASSERT_EQ(v->type, resp::Type::kInteger) << Str(*v);
      EXPECT_GT(v->integer, last) << "replies in order, each its own";
      last = v->integer;
    }
  }
  // The relay of the same follower follows the next leader (made another
  // node if the follower won the election).
  const int other = 3 - leader - f;
  int next = c.WaitForLeader(20s, {f, other});
  ASSERT_GE(next, 0);
  if (next == f) {
    ASSERT_FALSE(Client(c.port(f)).Call({"ANARCHO.TRANSFER", absl::StrCat(c.id(other))}).IsError());
    ASSERT_EQ(c.WaitForLeader(20s, {other}), other);
  }
  const int64_t before = RelayRequests(c, f);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool written = false;
  while (!written && std::chrono::steady_clock::now() < deadline) {
    Client cl(c.port(f));
    written = cl.Call({"SET", "after", "1"}).AsString() == "OK" && cl.Call({"SET", "after", "2"}).AsString() == "OK";
    if (!written) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(written);
  EXPECT_GT(RelayRequests(c, f), before);
}

// A write after a read this follower serves from its own child waits for
// that read: sent on the relay at once, it could commit and reach the child
// before the read ran, which would then show the write's value. (The read
// usually wins that race anyway: its read index takes one round trip, the
// write a commit and an apply; this checks the order, and catches a reorder
// only when the race goes the other way.)
TEST(RelayTest, AWriteWaitsForTheLocalReadBeforeIt) {
  Cluster c;
  const int f = WarmFollower(c);
  ASSERT_GE(f, 0);
  Client cl(c.port(f));
  for (int round = 0; round < 30; ++round) {
    const std::string before = absl::StrCat("v", round), after = absl::StrCat("w", round);
    ASSERT_EQ(cl.Call({"SET", "k", before}).AsString(), "OK");
    // Reads served here once the batch before was the leader's.
    std::this_thread::sleep_for(5ms);
    ASSERT_EQ(cl.Call({"GET", "k"}).AsString(), before);
    cl.Send(Req({"GET", "k"}) + Req({"SET", "k", after}) + Req({"GET", "k"}));
    std::vector<std::string> got;
    for (int r = 0; r < 3; ++r) {
      auto v = cl.Read(10s);
      ASSERT_TRUE(v.has_value());
      got.push_back(v->AsString());
    }
    EXPECT_EQ(got, (std::vector<std::string>{before, "OK", after})) << "round " << round;
  }
}

TEST(RelayTest, SwitchedOffEveryClientUsesItsOwnConnection) {
  ClusterOptions o;
  o.node_args = {"--shared_relay=false"};
  Cluster c(o);
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int f = (leader + 1) % c.size();
  Client cl(c.port(f));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(cl.Call({"INCR", "n"}).integer, i + 1);
  EXPECT_EQ(RelayRequests(c, f), 0);
}

}  // namespace
}  // namespace itest
