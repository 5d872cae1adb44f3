// The leader's link to its child that sessions share (SharedLink):
// replies reach the request they answer whatever database and protocol each
// session uses; a session's requests run in the order it sent them when they
// move between its own connection and the shared one; many clients' plain
// commands travel on it by default (and none with --shared_child_link=false); a client
// that leaves with requests on it, or a child that dies under them, ends as
// with a connection of its own.
#include <signal.h>

#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "node/front/shared_link.h"
#include "node_fixture.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

int64_t StatusField(int port, const std::string& field) {
  const resp::Value v = Client(port).Call({"ANARCHO.STATUS"});
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    int64_t n = -1;
    if (v.elements[i].AsString() == field && absl::SimpleAtoi(v.elements[i + 1].AsString(), &n)) return n;
  }
  return -1;
}

// --- the link itself, against a plain redis-server ---------------------------

class LinkTest : public ::testing::Test {
 protected:
  LinkTest() : dir_(MakeTempDir("anarcho-link")), redis_({"--unixsocket", dir_ + "/r.sock"}) {}
  ~LinkTest() override { RemoveDir(dir_); }

  node::SharedLink::Hooks Hooks() {
    node::SharedLink::Hooks h;
    h.target = [this] { return node::Upstream{.kind = node::Upstream::Kind::kChild, .socket_path = dir_ + "/r.sock"}; };
    h.name = "test";
    h.reply = [this](node::SharedLink::Tag tag, std::string_view bytes, char, node::ByteBlock&&) {
      replies_.emplace_back(tag, std::string(bytes));
    };
    h.replies_done = [this] { ++batches_; };
    h.covered = [this](std::span<const uint64_t> covers, std::string_view bytes, char) {
      covered_.emplace_back(std::vector<uint64_t>(covers.begin(), covers.end()), replies_.size());
      role_replies_.emplace_back(bytes);
    };
    h.lost = [this](std::vector<node::SharedLink::Tag> unanswered, std::vector<uint64_t> covers) {
      lost_ = std::move(unanswered);
      lost_covers_ = std::move(covers);
    };
    return h;
  }
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(5ms);
      io_.restart();
    }
    return done();
  }
  static std::string Cmd(std::initializer_list<std::string_view> args) {
    std::string out;
    resp::AppendCommand(&out, args);
    return out;
  }

  std::string dir_;
  RedisServer redis_;
  asio::io_context io_;
  std::vector<std::pair<node::SharedLink::Tag, std::string>> replies_;
  int batches_ = 0;
  std::optional<std::vector<node::SharedLink::Tag>> lost_;
  std::vector<uint64_t> lost_covers_;
  // Each ROLE answered: its covers, and how many replies had arrived before it.
  std::vector<std::pair<std::vector<uint64_t>, size_t>> covered_;
  std::vector<std::string> role_replies_;
};

TEST_F(LinkTest, RepliesReachTheirTagsAcrossDatabasesAndProtocols) {
  node::SharedLink link(io_, Hooks());
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  link.Send(1, 0, 2, Cmd({"SET", "k", "db0"}));
  link.Send(2, 5, 2, Cmd({"SET", "k", "db5"}));
  link.Send(3, 0, 2, Cmd({"GET", "k"}));
  link.Send(4, 5, 3, Cmd({"HSET", "h", "f", "v"}));
  link.Send(5, 5, 3, Cmd({"HGETALL", "h"}));  // a RESP3 map
  link.Send(6, 5, 2, Cmd({"HGETALL", "h"}));  // a RESP2 array
  link.Send(7, 5, 2, Cmd({"GET", "k"}));
  EXPECT_EQ(link.in_flight(), 7u);
  ASSERT_TRUE(RunUntil([&] { return replies_.size() == 7; }));
  const std::vector<std::pair<node::SharedLink::Tag, std::string>> want = {
      {1, "+OK\r\n"}, {2, "+OK\r\n"}, {3, "$3\r\ndb0\r\n"}, {4, ":1\r\n"},
      {5, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"}, {6, "*2\r\n$1\r\nf\r\n$1\r\nv\r\n"}, {7, "$3\r\ndb5\r\n"}};
  EXPECT_EQ(replies_, want);
  EXPECT_EQ(link.sent(), 7u);
  EXPECT_EQ(link.in_flight(), 0u);
  // One write for the requests of a turn, and their replies read in few.
  EXPECT_LE(batches_, 3);
  EXPECT_FALSE(lost_.has_value());
}

TEST_F(LinkTest, ALostConnectionNamesTheUnansweredRequests) {
  node::SharedLink link(io_, Hooks());
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  link.Send(1, 0, 2, Cmd({"PING"}));
  ASSERT_TRUE(RunUntil([&] { return replies_.size() == 1; }));
  link.Send(2, 0, 2, Cmd({"BLPOP", "nothing", "0"}));  // holds the connection
  link.Send(3, 0, 2, Cmd({"PING"}));
  ASSERT_TRUE(RunUntil([&] { return link.in_flight() == 2 && batches_ == 1; }));
  io_.run_for(50ms);  // sent
  io_.restart();
  ASSERT_EQ(Client(redis_.port()).Call({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).integer, 1);
  ASSERT_TRUE(RunUntil([&] { return lost_.has_value(); }));
  EXPECT_EQ(*lost_, (std::vector<node::SharedLink::Tag>{2, 3}));
  EXPECT_FALSE(link.open());
  EXPECT_EQ(link.in_flight(), 0u);
  // Ready() connects again, in db 0 and RESP2.
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  link.Send(4, 0, 2, Cmd({"ECHO", "again"}));
  ASSERT_TRUE(RunUntil([&] { return replies_.size() == 2; }));
  EXPECT_EQ(replies_.back(), (std::pair<node::SharedLink::Tag, std::string>{4, "$5\r\nagain\r\n"}));
}

// The gate's covers: one ROLE for the turn's covers, behind every request of
// the turn (also one sent after the cover was asked for), before the next
// turn's; in the same write as the requests.
TEST_F(LinkTest, OneRoleBehindTheTurnsRequestsServesItsCovers) {
  node::SharedLink link(io_, Hooks());
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  Client admin(redis_.port());
  admin.Call({"CONFIG", "RESETSTAT"});
  link.Send(1, 0, 2, Cmd({"SET", "a", "1"}));
  link.CoverBehind(7);
  link.Send(2, 3, 2, Cmd({"SET", "b", "2"}));
  link.CoverBehind(8);
  ASSERT_TRUE(RunUntil([&] { return covered_.size() == 1; }));
  EXPECT_EQ(covered_[0].first, (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(covered_[0].second, 2u);  // after both replies
  EXPECT_TRUE(role_replies_[0].starts_with("*3\r\n$6\r\nmaster\r\n")) << role_replies_[0];
  link.Send(3, 0, 2, Cmd({"GET", "a"}));
  link.CoverBehind(9);
  ASSERT_TRUE(RunUntil([&] { return covered_.size() == 2; }));
  EXPECT_EQ(covered_[1].first, (std::vector<uint64_t>{9}));
  EXPECT_EQ(covered_[1].second, 3u);
  EXPECT_EQ(link.sent(), 3u);  // the link's own ROLEs are not counted
  EXPECT_EQ(link.in_flight(), 0u);
  EXPECT_NE(admin.Call({"INFO", "commandstats"}).AsString().find("cmdstat_role:calls=2,"), std::string::npos);
}

TEST_F(LinkTest, ALostConnectionNamesTheCoversItsRolesLeftUnanswered) {
  node::SharedLink link(io_, Hooks());
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  link.Send(1, 0, 2, Cmd({"BLPOP", "nothing", "0"}));  // holds the connection
  link.CoverBehind(4);
  ASSERT_TRUE(RunUntil([&] { return Client(redis_.port()).Call({"INFO", "clients"}).AsString().find("blocked_clients:1") !=
                                    std::string::npos; }));
  ASSERT_EQ(Client(redis_.port()).Call({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).integer, 1);
  ASSERT_TRUE(RunUntil([&] { return lost_.has_value(); }));
  EXPECT_EQ(*lost_, (std::vector<node::SharedLink::Tag>{1}));
  EXPECT_EQ(lost_covers_, (std::vector<uint64_t>{4}));
  EXPECT_TRUE(covered_.empty());
}

TEST_F(LinkTest, HeldAfterClientPauseUntilItEnds) {
  node::SharedLink link(io_, Hooks());
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  link.HoldFor(200ms);
  EXPECT_FALSE(link.Ready());
  std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(link.Ready());
  link.HoldFor(60s);
  EXPECT_FALSE(link.Ready());
  link.HoldFor(0ms);  // UNPAUSE
  EXPECT_TRUE(link.Ready());
}

// Regression: a shorter CLIENT PAUSE shortened the hold of a longer one
// (Redis keeps the later end), and a pause the child refused held the link
// for its whole timeout.
TEST_F(LinkTest, APauseNeverShortensAnotherAndARefusedOneIsUndone) {
  node::SharedLink link(io_, Hooks());
  ASSERT_TRUE(RunUntil([&] { return link.Ready(); }));
  link.HoldFor(60s);
  link.HoldFor(10ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(link.Ready()) << "the longer pause still runs";
  link.HoldFor(0ms);
  ASSERT_TRUE(link.Ready());
  const node::SharedLink::Hold refused = link.HoldFor(60s);
  EXPECT_FALSE(link.Ready());
  link.Undo(refused);
  EXPECT_TRUE(link.Ready());
  // Another pause since: the undo leaves it alone.
  const node::SharedLink::Hold refused_too = link.HoldFor(100ms);
  link.HoldFor(60s);
  link.Undo(refused_too);
  EXPECT_FALSE(link.Ready());
  // A refused UNPAUSE: the pause goes on.
  link.Undo(link.HoldFor(0ms));
  EXPECT_FALSE(link.Ready());
}

// --- sessions on a node --------------------------------------------------------

class SharedLinkTest : public SingleNodeFixture {
 protected:
  SharedLinkTest() : SingleNodeFixture("anarcho-shared") {}  // on by default
};

// Each pipeline moves between the client's own connection (SELECT, MULTI,
// HELLO, WATCH, CLIENT, big values, blocking commands) and the shared one:
// any request that overtook another would change a reply.
TEST_F(SharedLinkTest, PipelinesThatMoveBetweenLinksMatchRedis) {
  // The link connects when a request first wants it: open it first, or a
  // pipeline read in one go may all stay on the client's own connection.
  // (One client: a new connection's first request waits behind its CLIENT ID
  // on its own connection.)
  Client warm(node_->port());
  for (int i = 0; i < 100 && StatusField(node_->port(), "shared_link_requests") == 0; ++i) {
    warm.Call({"GET", "warm-up"});
  }
  const int64_t before = StatusField(node_->port(), "shared_link_requests");
  EXPECT_EQ(PipelineAcrossLinksDifference(node_->port()), "");
  EXPECT_GT(StatusField(node_->port(), "shared_link_requests"), before);
}

// Clients in different databases, on both protocols, at once: each sees its own.
TEST_F(SharedLinkTest, ManyClientsInManyDatabasesSeeTheirOwn) {
  constexpr int kClients = 8, kRounds = 50;
  ASSERT_EQ(Client(node_->port()).Call({"SET", "shared", "x"}).AsString(), "OK");
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kClients);
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client cl(node_->port());
      const std::string db = absl::StrCat(c % 4);
      if (cl.Call({"SELECT", db}).AsString() != "OK") return void(failures[c] = "SELECT");
      if (c % 2 == 1 && cl.Call({"HELLO", "3"}).type != resp::Type::kMap) return void(failures[c] = "HELLO");
      for (int i = 0; i < kRounds; ++i) {
        const std::string key = absl::StrCat("k", c), value = absl::StrCat(c, ":", i);
        std::string batch = Req({"SET", key, value}) + Req({"GET", key}) + Req({"HSET", "h" + key, "f", value}) +
                            Req({"HGETALL", "h" + key}) + Req({"GET", "shared"});
        cl.Send(batch);
        std::vector<resp::Value> got;
        for (int r = 0; r < 5; ++r) {
          auto v = cl.Read(10s);
          if (!v) return void(failures[c] = "no reply");
          got.push_back(*v);
        }
        const resp::Type want_hash = c % 2 == 1 ? resp::Type::kMap : resp::Type::kArray;
        if (got[1].AsString() != value || got[3].type != want_hash || Str(got[3]).find(value) == std::string::npos) {
          return void(failures[c] = absl::StrCat("round ", i, ": ", Str(got[1]), " ", Str(got[3])));
        }
        // "shared" is set in db 0 only: the other databases do not see it.
        if ((got[4].type == resp::Type::kNull) != (db != "0")) return void(failures[c] = "db 0 leaked");
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
  EXPECT_GE(StatusField(node_->port(), "shared_link_requests"), kClients * kRounds * 4);
}

// A client that leaves with writes in flight: they still run (as they would
// on a connection the node had to kill after the child read them), and the
// node serves the next client with none of its requests stuck.
TEST_F(SharedLinkTest, AClientThatLeavesMidPipelineLeavesNothingBehind) {
  for (int round = 0; round < 20; ++round) {
    {
      Client gone(node_->port());
      std::string batch;
      for (int i = 0; i < 200; ++i) batch += Req({"INCR", absl::StrCat("gone", round)});
      gone.Send(batch);
    }  // closed without reading
    Client next(node_->port());
    EXPECT_EQ(next.Call({"SET", "next", absl::StrCat(round)}).AsString(), "OK");
    EXPECT_EQ(next.Call({"GET", "next"}).AsString(), absl::StrCat(round));
  }
  // The sessions ended: the gate holds no lock or write of theirs.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((StatusField(node_->port(), "locked_keys") != 0 || StatusField(node_->port(), "clients") > 1) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(StatusField(node_->port(), "locked_keys"), 0);
  EXPECT_EQ(StatusField(node_->port(), "writes_in_flight"), 0);
  EXPECT_LE(StatusField(node_->port(), "clients"), 1);
}

// The child dies under requests on the shared link: their clients get an
// error (or a closed connection), never a reply that is not theirs, and the
// node serves again on a new link once its child is rebuilt.
TEST_F(SharedLinkTest, AChildThatDiesUnderTheLinkFailsItsRequests) {
  Client a(node_->port()), b(node_->port());
  ASSERT_EQ(a.Call({"SET", "k", "1"}).AsString(), "OK");
  ASSERT_EQ(b.Call({"SELECT", "3"}).AsString(), "OK");
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += Req({"INCR", "k"});
  a.Send(batch);
  b.Send(batch);
  ASSERT_EQ(::kill(node_->ChildPid(), SIGKILL), 0);
  for (Client* c : {&a, &b}) {
    int64_t last = 0;
    for (int i = 0; i < 500; ++i) {
      auto v = c->Read(10s);
      if (!v) break;  // closed
      if (v->type == resp::Type::kError) {
        EXPECT_EQ(v->AsString().rfind("UNKNOWN", 0), 0u) << v->AsString();
        break;
      }
      ASSERT_EQ(v->type, resp::Type::kInteger) << Str(*v);
      EXPECT_GT(v->integer, last) << "replies in order, each its own";
      last = v->integer;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  resp::Value v;
  while (std::chrono::steady_clock::now() < deadline) {
    v = Client(node_->port()).Call({"INCR", "after"});
    if (v.type == resp::Type::kInteger) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(v.type, resp::Type::kInteger) << Str(v);
}

// A big request waits in the client's input behind a request whose reply
// must come first (RESET: what follows is routed once +RESET is in), and the
// node reads ahead meanwhile; when the big request goes on, its bytes leave
// the input without a copy. The read in flight must not land in memory that
// left with them: the node crashed on the next request (found by the fault
// tests' 4 MB writes, 2026-12-05).
TEST_F(SharedLinkTest, BigRequestTakenWhileAReadIsPendingLeavesTheInputWhole) {
  const std::string value(2 << 20, 'v');
  for (int round = 0; round < 3; ++round) {
    Client c(node_->port());
    ASSERT_EQ(c.Call({"GET", "warm-up"}).type, resp::Type::kNull);
    // The child holds RESET back for 300 ms: the big SET is read whole meanwhile.
    ASSERT_EQ(Client(node_->port()).Call({"CLIENT", "PAUSE", "300"}).AsString(), "OK");
    const std::string key = absl::StrCat("big", round);
    c.Send(Req({"RESET"}) + Req({"SET", key, value}));
    auto reset = c.Read(10s), big = c.Read(10s);
    ASSERT_TRUE(reset && big) << "round " << round;
    EXPECT_EQ(reset->AsString(), "RESET");
    EXPECT_EQ(big->AsString(), "OK");
    // The read that was in flight while the big SET left completes now.
    const resp::Value got = c.Call({"STRLEN", key});
    EXPECT_EQ(got.type, resp::Type::kInteger) << Str(got);
    EXPECT_EQ(got.integer, static_cast<int64_t>(value.size()));
    EXPECT_EQ(c.Call({"GETRANGE", key, "0", "3"}).AsString(), "vvvv");
  }
}

// Regression: a CLIENT PAUSE the child refused (a bad mode, no permission,
// inside an aborted EXEC) held the shared link for its whole timeout: every
// session's requests took their own connections for a minute.
TEST_F(SharedLinkTest, ARefusedClientPauseLeavesTheLinkFree) {
  Client c(node_->port());
  for (int i = 0; i < 100 && StatusField(node_->port(), "shared_link_requests") == 0; ++i) {
    c.Call({"GET", "warm-up"});
  }
  const auto shared_after = [&](Client& client) {
    const int64_t before = StatusField(node_->port(), "shared_link_requests");
    client.Call({"GET", "k"});
    return StatusField(node_->port(), "shared_link_requests") > before;
  };
  ASSERT_TRUE(shared_after(c));
  EXPECT_EQ(c.Call({"CLIENT", "PAUSE", "60000", "SOMETIMES"}).type, resp::Type::kError);
  EXPECT_TRUE(shared_after(c)) << "a refused pause holds nothing";
  ASSERT_EQ(c.Call({"MULTI"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"CLIENT", "PAUSE", "60000"}).AsString(), "QUEUED");
  ASSERT_EQ(c.Call({"NOSUCHCOMMAND"}).type, resp::Type::kError);
  EXPECT_EQ(c.Call({"EXEC"}).type, resp::Type::kError);
  EXPECT_TRUE(shared_after(c)) << "nor one an aborted EXEC never ran";
  // One the child ran holds the link until UNPAUSE.
  ASSERT_EQ(c.Call({"CLIENT", "PAUSE", "60000", "WRITE"}).AsString(), "OK");
  EXPECT_FALSE(shared_after(c));
  ASSERT_EQ(c.Call({"CLIENT", "UNPAUSE"}).AsString(), "OK");
  EXPECT_TRUE(shared_after(c));
}

// Switched off, every session takes its own connection to the child.
class NoSharedLinkTest : public SingleNodeFixture {
 protected:
  NoSharedLinkTest() : SingleNodeFixture("anarcho-noshared", {"--shared_child_link=false"}) {}
};

TEST_F(NoSharedLinkTest, SwitchedOffEverySessionUsesItsOwnConnection) {
  Client c(node_->port());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.Call({"SET", "k", absl::StrCat(i)}).AsString(), "OK");
  EXPECT_EQ(c.Call({"GET", "k"}).AsString(), "19");
  EXPECT_EQ(StatusField(node_->port(), "shared_link_requests"), 0);
}

}  // namespace
}  // namespace itest
