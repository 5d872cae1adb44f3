// Divergence checks with real nodes (issue 10): ANARCHO.DIGEST logs a check
// that every member compares at the same log index; a child changed behind
// the log's back is caught and counted; the periodic check runs by itself,
// also through snapshots and under writes.
#include <signal.h>

#include <functional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"
#include "node/child/child_digest.h"
#include "node/child/sync_client.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLibrary = "#!lua name=lib\nredis.register_function('f', function(keys, args) return 1 end)";

// A digest's parts: <data>:<streams>:<functions>.
std::vector<std::string> Parts(const std::string& digest) { return absl::StrSplit(digest, ':'); }

uint64_t Num(const std::string& s) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << "'" << s << "'";
  return v;
}

void Write(int port, const std::string& prefix, int n) {
  Client c(port);
  std::string req;
  for (int i = 0; i < n; ++i) resp::AppendCommand(&req, {"SET", absl::StrCat(prefix, i), absl::StrCat("v", i)});
  c.Send(req);
  for (int i = 0; i < n; ++i) ASSERT_EQ(c.Read(10s)->AsString(), "OK");
}

TEST(DigestTest, EveryMemberComparesAtTheSameIndex) {
  Cluster c({.nodes = 3});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Write(c.port(leader), "k", 500);
  Client cl(c.port(leader));
  resp::Value v = cl.Call({"ANARCHO.DIGEST"});
  ASSERT_EQ(v.elements.size(), 4u) << Str(v);
  const uint64_t index = static_cast<uint64_t>(v.elements[1].integer);
  const std::string digest = v.elements[3].AsString();
  // "<DEBUG DIGEST>:<streams>:<functions>:<users>" (no stream: the SHA1 of
  // nothing; no library: the SHA-256 of nothing; the users: the SHA-256 of
  // the one line clients see, its rules sorted, length first).
  ASSERT_EQ(Str(cl.Call({"ACL", "LIST"})), "[user default on nopass ~* &* +@all]");
  const std::string line = "user default &* +@all nopass on ~*";
  EXPECT_EQ(digest, absl::StrCat(cl.Call({"DEBUG", "DIGEST"}).AsString(), ":da39a3ee5e6b4b0d3255bfef95601890afd80709:",
                                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:",
                                 node::Sha256Hex(absl::StrCat(line.size(), ":", line))));
  // Followers compare once the check entry reaches them.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; i < 3; ++i) {
    std::map<std::string, std::string> st;
    while (std::chrono::steady_clock::now() < deadline) {
      st = c.Status(i);
      if (Num(st["last_digest_index"]) >= index) break;
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(Num(st["last_digest_index"]), index) << "node " << i + 1;
    EXPECT_EQ(st["last_digest"], digest) << "node " << i + 1;
    EXPECT_EQ(st["last_digest_outcome"], i == leader ? "leader" : "match") << "node " << i + 1;
    EXPECT_EQ(st["digest_mismatches"], "0");
  }
  // Through a follower, the command goes to the leader, like writes.
  Client f(c.port((leader + 1) % 3));
  resp::Value again = f.Call({"ANARCHO.DIGEST"});
  ASSERT_EQ(again.elements.size(), 4u) << Str(again);
  EXPECT_GT(again.elements[1].integer, static_cast<int64_t>(index));
  EXPECT_EQ(again.elements[3].AsString(), digest);
  EXPECT_TRUE(cl.Call({"ANARCHO.DIGEST", "extra"}).IsError());
  EXPECT_TRUE(c.WaitConverged());
}

// The check must bite: a key written into a follower's child behind the
// log's back is a divergence, logged and counted, and WaitConverged fails.
TEST(DigestTest, ChildChangedBehindTheLogIsCaught) {
  Cluster c({.nodes = 3});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Write(c.port(leader), "k", 100);
  ASSERT_TRUE(c.WaitConverged());
  const int victim = (leader + 1) % 3;
  ASSERT_TRUE(c.WriteBehindTheLog(victim, "intruder").ok());
  EXPECT_FALSE(c.WaitConverged(10s));
  auto st = c.Status(victim);
  EXPECT_EQ(st["digest_mismatches"], "1");
  EXPECT_EQ(st["last_digest_outcome"], "MISMATCH");
  EXPECT_NE(c.node(victim).LogTail().find("DIVERGENCE at log index"), std::string::npos);
  EXPECT_EQ(c.Status((victim + 1) % 3)["digest_mismatches"], "0");
}

// What DEBUG DIGEST does not see: a stream's consumer groups and metadata,
// the function libraries and the users. Each change below, made in one
// follower's child behind the log's back, leaves DEBUG DIGEST as it was and
// must still be caught.
TEST(DigestTest, StreamFunctionAndUserStateChangedBehindTheLogIsCaught) {
  Cluster c({.nodes = 3});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client cl(c.port(leader));
  ASSERT_EQ(cl.Call({"SELECT", "2"}).AsString(), "OK");
  ASSERT_EQ(cl.Call({"XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"}).AsString(), "OK");
  for (int i = 1; i <= 3; ++i) ASSERT_FALSE(cl.Call({"XADD", "s", absl::StrCat(i, "-1"), "f", "v"}).IsError());
  ASSERT_FALSE(cl.Call({"XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"}).IsError());
  ASSERT_FALSE(cl.Call({"FUNCTION", "LOAD", kLibrary}).IsError());
  ASSERT_TRUE(c.WaitConverged());
  using Change = std::function<absl::StatusOr<resp::Value>(node::SyncClient&)>;
  const std::vector<std::pair<std::string, Change>> changes = {
      {"a group's last-delivered-id", [](node::SyncClient& ch) { return ch.Call({"XGROUP", "SETID", "s", "g", "0"}); }},
      {"a pending entry", [](node::SyncClient& ch) { return ch.Call({"XACK", "s", "g", "1-1"}); }},
      {"a consumer", [](node::SyncClient& ch) { return ch.Call({"XGROUP", "CREATECONSUMER", "s", "g", "bob"}); }},
      {"the stream's last ID", [](node::SyncClient& ch) { return ch.Call({"XSETID", "s", "9-9"}); }},
      {"a function library", [](node::SyncClient& ch) { return ch.Call({"FUNCTION", "DELETE", "lib"}); }},
      {"a user", [](node::SyncClient& ch) { return ch.Call({"ACL", "SETUSER", "sneaky", "on", "nopass", "+@all"}); }},
  };
  const int victim = (leader + 1) % 3;
  for (const auto& [what, change] : changes) {
    {
      asio::io_context io;
      node::SyncClient child(io);
      ASSERT_TRUE(child.Connect(c.node(victim).dir() + "/child/redis.sock").ok());
      ASSERT_EQ(child.Call({"CONFIG", "SET", "replica-read-only", "no"})->AsString(), "OK");
      ASSERT_EQ(child.Call({"SELECT", "2"})->AsString(), "OK");
      const std::string before = child.Call({"DEBUG", "DIGEST"})->AsString();
      ASSERT_FALSE(change(child)->IsError()) << what;
      EXPECT_EQ(child.Call({"DEBUG", "DIGEST"})->AsString(), before) << what;
      ASSERT_EQ(child.Call({"CONFIG", "SET", "replica-read-only", "yes"})->AsString(), "OK");
    }
    EXPECT_FALSE(c.WaitConverged(10s)) << what << " changed behind the log and was not caught";
    EXPECT_EQ(c.Status(victim)["digest_mismatches"], "1") << what;
    // A restart rebuilds the victim's child from its snapshot and log.
    c.Kill9(victim);
    c.Restart(victim);
    ASSERT_TRUE(c.WaitConverged()) << "after " << what;
  }
}

// A stream with a time to live may be there for the leader's check and gone
// (expired, its DEL not applied yet) when a follower's child compares: such
// streams are left to DEBUG DIGEST, which sees the key either way. The
// follower is stopped while the leader checks, so its child's clock passes
// the expiry before it compares.
TEST(DigestTest, StreamThatExpiresBetweenTheChecksIsNoDivergence) {
  Cluster c({.nodes = 3});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client cl(c.port(leader));
  ASSERT_EQ(cl.Call({"XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"}).AsString(), "OK");
  ASSERT_FALSE(cl.Call({"XADD", "s", "1-1", "f", "v"}).IsError());
  ASSERT_TRUE(c.WaitConverged());
  ASSERT_EQ(cl.Call({"PEXPIRE", "s", "1500"}).integer, 1);
  const int late = (leader + 1) % 3;
  c.node(late).process().Signal(SIGSTOP);
  resp::Value v = cl.Call({"ANARCHO.DIGEST"});
  std::this_thread::sleep_for(2500ms);
  c.node(late).process().Signal(SIGCONT);
  ASSERT_EQ(v.elements.size(), 4u) << Str(v);
  const uint64_t index = static_cast<uint64_t>(v.elements[1].integer);
  std::map<std::string, std::string> st;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    st = c.Status(late);
    if (Num(st["last_digest_index"]) >= index) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(Num(st["last_digest_index"]), index);
  EXPECT_EQ(st["last_digest_outcome"], "match");
  EXPECT_EQ(st["digest_mismatches"], "0");
  EXPECT_TRUE(c.WaitConverged());
}

// The leader's own check may delete a key: its script's reads expire what is
// past its time to live (here active expiry is off, so only a read does), and
// the DEL goes to the log. The script runs before DEBUG DIGEST and ROLE, so
// the digest and the check's place in the log both come after that DEL.
TEST(DigestTest, KeyTheLeadersCheckExpiresIsNoDivergence) {
  Cluster c({.nodes = 3});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_EQ(c.ChildCall(leader, {"DEBUG", "SET-ACTIVE-EXPIRE", "0"})->AsString(), "OK");
  Client cl(c.port(leader));
  ASSERT_FALSE(cl.Call({"XADD", "s", "1-1", "f", "v"}).IsError());
  ASSERT_EQ(cl.Call({"PEXPIRE", "s", "100"}).integer, 1);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c.WaitConverged());
  EXPECT_EQ(cl.Call({"EXISTS", "s"}).integer, 0);
}

// The streams' part would outlast busy-reply-threshold on a big child (its
// SCAN reads every key, and it lists every consumer and pending entry): the
// leader leaves it out past 500 of those per millisecond of the threshold,
// and the followers then leave it out too.
TEST(DigestTest, ABigChildLeavesStreamsToDebugDigest) {
  Cluster c({.nodes = 3, .node_args = {"--busy-reply-threshold=1"}});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client cl(c.port(leader));
  auto streams_part = [&] {
    resp::Value v = cl.Call({"ANARCHO.DIGEST"});
    EXPECT_EQ(v.elements.size(), 4u) << Str(v);
    return v.elements.size() == 4 ? Parts(v.elements[3].AsString()).at(1) : "?";
  };
  ASSERT_EQ(cl.Call({"XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"}).AsString(), "OK");
  std::string req;
  for (int i = 1; i <= 600; ++i) resp::AppendCommand(&req, {"XADD", "s", absl::StrCat(i, "-1"), "f", "v"});
  cl.Send(req);
  for (int i = 0; i < 600; ++i) ASSERT_FALSE(cl.Read(10s)->IsError());
  EXPECT_NE(streams_part(), "-");
  ASSERT_FALSE(cl.Call({"XREADGROUP", "GROUP", "g", "a", "COUNT", "600", "STREAMS", "s", ">"}).IsError());
  EXPECT_EQ(streams_part(), "-") << "600 pending entries";
  ASSERT_EQ(cl.Call({"XGROUP", "DESTROY", "s", "g"}).integer, 1);
  EXPECT_NE(streams_part(), "-");
  Write(c.port(leader), "k", 500);
  EXPECT_EQ(streams_part(), "-") << "501 keys";
  EXPECT_TRUE(c.WaitConverged());
  for (int i = 0; i < 3; ++i) {
    auto st = c.Status(i);
    EXPECT_EQ(Parts(st["last_digest"]).at(1), "-") << "node " << i + 1 << ": " << st["last_digest"];
  }
}

// Writes whose effect on a master depends on randomness, the clock or the
// layout of its data: Redis replicates what they did, not what was asked, and
// every member must end up with the same data and stream state, also after a
// restart (its child rebuilt from a snapshot and the log) and under a new leader.
void NondeterministicWrites(Client& cl, const std::string& p) {
  auto ok = [&](const std::vector<std::string>& args) {
    resp::Value v = cl.Call(args);
    EXPECT_FALSE(v.IsError()) << absl::StrJoin(args, " ") << ": " << Str(v);
    return v;
  };
  const std::string set = p + "set", s = p + "stream";
  for (int i = 0; i < 40; ++i) ok({"SADD", set, absl::StrCat(i)});
  ok({"SPOP", set, "7"});
  ok({"SPOP", set});
  ok({"EVAL", "return redis.call('sadd', KEYS[2], redis.call('srandmember', KEYS[1]))", "2", set, p + "picked"});
  ok({"EVAL", "return redis.call('set', KEYS[1], tostring(math.random()) .. redis.call('time')[2])", "1", p + "rnd"});
  ok({"EVAL", "local k = redis.call('randomkey') if k then redis.call('set', KEYS[1], k) end return 1", "1", p + "rk"});
  for (int i = 0; i < 3; ++i) ok({"INCRBYFLOAT", p + "float", "0.1"});
  ok({"SET", p + "ttl", "v", "EX", "1000"});
  ok({"SET", p + "past", "v"});
  ok({"EXPIRE", p + "past", "-1"});
  ok({"GETEX", p + "ttl", "PX", "500000"});
  ok({"HSET", p + "h", "a", "1", "b", "2", "c", "3"});
  ok({"EVAL", "return redis.call('hdel', KEYS[1], redis.call('hrandfield', KEYS[1]))", "1", p + "h"});
  ok({"ZADD", p + "z", "1", "a", "2", "b", "3", "c"});
  ok({"EVAL", "return redis.call('zrem', KEYS[1], redis.call('zrandmember', KEYS[1]))", "1", p + "z"});
  // Streams: trims by whole radix-tree nodes (~), deletions, claims of
  // deleted entries, reads without acknowledgement.
  ok({"XGROUP", "CREATE", s, "g", "$", "MKSTREAM"});
  for (int i = 0; i < 350; ++i) ok({"XADD", s, "MAXLEN", "~", "120", "*", "f", absl::StrCat(i)});
  ok({"XREADGROUP", "GROUP", "g", "a", "COUNT", "30", "STREAMS", s, ">"});
  ok({"XREADGROUP", "GROUP", "g", "b", "COUNT", "10", "NOACK", "STREAMS", s, ">"});
  resp::Value first = ok({"XRANGE", s, "-", "+", "COUNT", "5"});
  for (size_t i = 0; i < first.elements.size(); i += 2) ok({"XDEL", s, first.elements[i].elements[0].AsString()});
  ok({"XAUTOCLAIM", s, "g", "c", "0", "0-0", "COUNT", "10"});
  resp::Value mid = ok({"XRANGE", s, "-", "+", "COUNT", "60"});
  if (!mid.elements.empty()) ok({"XTRIM", s, "MINID", "~", mid.elements.back().elements[0].AsString(), "LIMIT", "100"});
  ok({"XTRIM", s, "MAXLEN", "=", "50"});
  ok({"XADD", p + "nostream", "NOMKSTREAM", "*", "f", "v"});
  ok({"XGROUP", "CREATECONSUMER", s, "g", "idle"});
  // Function libraries (names without the prefix's ':'): loaded, replaced, one deleted.
  const std::string lib = p.substr(0, p.size() - 1);
  for (const char* name : {"one", "two"}) {
    ok({"FUNCTION", "LOAD", "REPLACE",
        absl::StrCat("#!lua name=", lib, name, "\nredis.register_function('", lib, name,
                     "', function(keys, args) return redis.call('incr', keys[1]) end)")});
  }
  ok({"FCALL", lib + "one", "1", p + "counted"});
  ok({"FUNCTION", "DELETE", lib + "two"});
}

TEST(DigestTest, NondeterministicWritesLeaveEveryMemberIdentical) {
  Cluster c({.nodes = 3, .node_args = {"--snapshot_log_bytes=30000", "--snapshot_keep_entries=5"}});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  {
    Client cl(c.port(leader));
    NondeterministicWrites(cl, "a:");
    Client via_follower(c.port((leader + 1) % 3));
    NondeterministicWrites(via_follower, "b:");
  }
  ASSERT_TRUE(c.WaitConverged());
  const int restarted = (leader + 2) % 3;
  c.Kill9(restarted);
  c.Restart(restarted);
  ASSERT_TRUE(c.WaitConverged());
  {
    Client admin(c.port(leader));
    ASSERT_FALSE(admin.Call({"ANARCHO.TRANSFER", absl::StrCat(c.id(restarted))}).IsError());
  }
  ASSERT_EQ(c.WaitForLeader(20s, {restarted}), restarted);
  Client cl(c.port(restarted));
  NondeterministicWrites(cl, "c:");
  EXPECT_TRUE(c.WaitConverged());
  for (int i = 0; i < 3; ++i) EXPECT_GE(Num(c.Status(i)["snapshots_taken"]), 1u) << "node " << i + 1;
}

// --digest_interval_s: the leader logs checks by itself, through writes and
// snapshots, and nobody diverges.
TEST(DigestTest, PeriodicChecksUnderWritesAndSnapshots) {
  Cluster c({.nodes = 3, .node_args = {"--digest_interval_s=1", "--snapshot_log_bytes=20000",
                                        "--snapshot_keep_entries=10"}});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int round = 0; round < 10; ++round) {
    Write(c.port(leader), absl::StrCat("r", round, "-"), 300);
    std::this_thread::sleep_for(300ms);
  }
  for (int i = 0; i < 3; ++i) {
    auto st = c.Status(i);
    EXPECT_GE(Num(st["digest_checks"]), 1u) << "node " << i + 1;
    EXPECT_EQ(st["digest_mismatches"], "0") << "node " << i + 1;
    EXPECT_GE(Num(st["snapshots_taken"]), 1u) << "node " << i + 1;
  }
  EXPECT_TRUE(c.WaitConverged());
}

// Regression: a divergence check pauses the leader's proposals until its
// child answers DEBUG DIGEST. A child lost before it answered ended the
// check but left proposals paused for good: the node served again after the
// rebuild, and every write hung (FaultLong saw whole fault windows without a
// reply). The child is kept busy by a script so the digest is surely pending
// when it dies.
TEST(DigestTest, ChildLostDuringACheckLeavesWritesFlowing) {
  Cluster c({.nodes = 1});
  ASSERT_EQ(c.WaitForLeader(), 0);
  Client busy(c.port(0));
  busy.Send(Req({"EVAL",
                 "local t = redis.call('TIME') local stop = t[1] + 3 "
                 "while tonumber(redis.call('TIME')[1]) < stop do end return 1",
                 "0"}));
  std::this_thread::sleep_for(300ms);
  Client check(c.port(0));
  check.Send(Req({"ANARCHO.DIGEST"}));
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(c.node(0).ChildPid(), SIGKILL), 0);
  auto lost = check.Read(10s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_TRUE(lost->IsError()) << Str(*lost);
  ASSERT_EQ(c.WaitForLeader(), 0);
  Client writer(c.port(0));
  writer.Send(Req({"SET", "after", "rebuild"}));
  auto ok = writer.Read(10s);
  ASSERT_TRUE(ok.has_value()) << "the write got no reply: proposals stayed paused ("
                               << c.Status(0)["proposals_paused"] << ")";
  EXPECT_EQ(ok->AsString(), "OK");
  EXPECT_EQ(c.Status(0)["proposals_paused"], "no");
  // And the next check is logged as usual.
  resp::Value again = writer.Call({"ANARCHO.DIGEST"});
  EXPECT_EQ(again.elements.size(), 4u) << Str(again);
}

}  // namespace
}  // namespace itest
