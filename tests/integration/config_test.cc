// Replicated configuration (issue 13): CONFIG SET on any node reaches every
// member's child through the log, survives child rebuilds, snapshots and
// restarts, and reads back the same from any node; settings that belong to
// the node are refused the way Redis refuses an immutable one.
#include <signal.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

// CONFIG GET on node i's child itself (not through the node).
std::string ChildSetting(Cluster& c, int i, const std::string& name) {
  auto v = c.ChildCall(i, {"CONFIG", "GET", name});
  if (!v.ok() || v->elements.size() != 2) return "<none>";
  return v->elements[1].AsString();
}

// Followers apply committed entries shortly after the leader answered.
bool EveryChildHas(Cluster& c, const std::string& name, const std::string& value) {
  for (int tries = 0; tries < 250; ++tries) {
    bool all = true;
    for (int i = 0; i < c.size(); ++i) all = all && ChildSetting(c, i, name) == value;
    if (all) return true;
    std::this_thread::sleep_for(20ms);
  }
  for (int i = 0; i < c.size(); ++i) ADD_FAILURE() << "node " << i << ": " << name << " = " << ChildSetting(c, i, name);
  return false;
}

TEST(ReplicatedConfigTest, ConfigSetReachesEveryChildAndSurvivesRebuildsSnapshotsAndRestarts) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  Client f(c.port(follower));

  // Through a follower, two settings in one request (Redis 7 takes several).
  ASSERT_EQ(f.Call({"CONFIG", "SET", "hash-max-listpack-entries", "3", "zset-max-listpack-entries", "5"}).AsString(), "OK");
  ASSERT_TRUE(EveryChildHas(c, "hash-max-listpack-entries", "3"));
  ASSERT_TRUE(EveryChildHas(c, "zset-max-listpack-entries", "5"));
  for (int i = 0; i < c.size(); ++i) {
    auto v = Client(c.port(i)).Call({"CONFIG", "GET", "hash-max-listpack-entries"});
    ASSERT_EQ(v.elements.size(), 2u);
    EXPECT_EQ(v.elements[1].AsString(), "3") << "CONFIG GET through node " << i;
  }
  // The setting shapes data the same way on every child.
  ASSERT_EQ(f.Call({"HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"}).integer, 4);
  ASSERT_TRUE(c.WaitConverged());
  for (int i = 0; i < c.size(); ++i) {
    auto enc = c.ChildCall(i, {"OBJECT", "ENCODING", "h"});
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(enc->AsString(), "hashtable") << "node " << i;
  }

  // A bad value is the child's error, and nothing is logged.
  resp::Value bad = f.Call({"CONFIG", "SET", "hash-max-listpack-entries", "many"});
  EXPECT_EQ(bad.type, resp::Type::kError);
  EXPECT_TRUE(absl::StartsWith(bad.AsString(), "ERR CONFIG SET failed")) << bad.AsString();
  // Settings of the node's own are refused as Redis refuses immutable ones.
  for (const char* name : {"appendonly", "save", "port", "replicaof", "dir", "repl-backlog-size", "timeout"}) {
    resp::Value r = f.Call({"CONFIG", "SET", name, "1"});
    EXPECT_EQ(r.type, resp::Type::kError) << name;
    EXPECT_TRUE(absl::StartsWith(r.AsString(), absl::StrCat("ERR CONFIG SET failed (possibly related to argument '",
                                                               name, "')")))
        << r.AsString();
  }
  // DEBUG: switches of behaviour are logged like settings, looks are reads,
  // the rest is refused.
  EXPECT_EQ(f.Call({"DEBUG", "SET-ACTIVE-EXPIRE", "0"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1k"}).AsString(), "OK");
  EXPECT_EQ(f.Call({"DEBUG", "SLEEP", "0"}).AsString(), "OK");
  for (const char* sub : {"RELOAD", "CHANGE-REPL-ID", "SLEEP", "POPULATE", "SEGFAULT"}) {
    resp::Value r = f.Call({"DEBUG", sub, "1"});
    EXPECT_EQ(r.type, resp::Type::kError) << sub;
  }
  // Inside MULTI: queued, and logged once EXEC ran it successfully (a bad
  // value is an error inside EXEC's reply, as in Redis, and is not logged).
  for (int node : {leader, follower}) {
    Client m(c.port(node));
    ASSERT_EQ(m.Call({"MULTI"}).AsString(), "OK");
    ASSERT_EQ(m.Call({"SET", "foo", "bar"}).AsString(), "QUEUED");
    ASSERT_EQ(m.Call({"CONFIG", "SET", "maxmemory", "bla"}).AsString(), "QUEUED");
    ASSERT_EQ(m.Call({"CONFIG", "SET", "hash-max-listpack-value", absl::StrCat(20 + node)}).AsString(), "QUEUED");
    resp::Value exec = m.Call({"EXEC"});
    ASSERT_EQ(exec.elements.size(), 3u);
    EXPECT_EQ(exec.elements[1].type, resp::Type::kError);
    EXPECT_EQ(exec.elements[2].AsString(), "OK");
    EXPECT_TRUE(EveryChildHas(c, "hash-max-listpack-value", absl::StrCat(20 + node)));
    EXPECT_TRUE(EveryChildHas(c, "maxmemory", "0"));
  }

  // Snapshots carry the settings; the entries after a snapshot replay on top.
  for (int i = 0; i < c.size(); ++i) ASSERT_NE(Client(c.port(i)).Call({"ANARCHO.SNAPSHOT"}).type, resp::Type::kError);
  ASSERT_EQ(f.Call({"CONFIG", "SET", "hash-max-listpack-value", "33"}).AsString(), "OK");
  ASSERT_TRUE(EveryChildHas(c, "hash-max-listpack-value", "33"));
  c.Restart(follower);
  ASSERT_GE(c.WaitForLeader(), 0);
  EXPECT_TRUE(EveryChildHas(c, "hash-max-listpack-entries", "3")) << "after a follower restarted from a snapshot";
  EXPECT_TRUE(EveryChildHas(c, "hash-max-listpack-value", "33")) << "after a follower replayed its tail";

  // The leader's child, rebuilt from the log, gets them back too.
  const std::string rebuilds = c.Status(leader)["child_rebuilds"];
  kill(c.node(leader).ChildPid(), SIGKILL);
  for (int i = 0; i < 250 && c.Status(leader)["child_rebuilds"] == rebuilds; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_GE(c.WaitForLeader(), 0);
  EXPECT_TRUE(EveryChildHas(c, "zset-max-listpack-entries", "5")) << "after the leader's child was rebuilt";
  EXPECT_TRUE(c.WaitConverged());
}

// Redis's own error comes first: settings it never changes at run time get
// its "immutable" error, whoever owns them here.
TEST(ReplicatedConfigTest, ImmutableSettingsFailAsInRedis) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  EXPECT_EQ(DifferenceFromRedis(c.port((leader + 1) % 3),
                                {Req({"CONFIG", "SET", "daemonize", "no"}), Req({"CONFIG", "SET", "databases", "16"}),
                                 Req({"CONFIG", "SET", "replicaof", "no one"}), Req({"CONFIG", "SET", "logfile", ""}),
                                 Req({"CONFIG", "SET", "maxmemory", "0", "daemonize", "no"})}),
            "");
}

// As Redis accepts setting a value to itself (the suite's "CONFIG sanity"
// sets every setting to what CONFIG GET said), a setting of the node's own
// may be set to the value it has, from any node.
TEST(ReplicatedConfigTest, NodeSettingsMaySetTheValueTheyHave) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int i : {leader, (leader + 1) % 3}) {
    Client cl(c.port(i));
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "replica-read-only", "yes"}).AsString(), "OK");
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "port", absl::StrCat(c.port(i))}).AsString(), "OK");
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "repl-timeout", "60", "appendonly", "no", "save", ""}).AsString(), "OK");
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "save", "3600 1"}).type, resp::Type::kError);
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "replica-read-only", "no"}).AsString(),
              "ERR CONFIG SET failed (possibly related to argument 'replica-read-only') - the node owns its child's "
              "replication link");
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "port", "1"}).type, resp::Type::kError);
    // With a setting of the data's, or inside MULTI, it is refused as before.
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "replica-read-only", "yes", "maxmemory", "0"}).type, resp::Type::kError);
    ASSERT_EQ(cl.Call({"MULTI"}).AsString(), "OK");
    EXPECT_EQ(cl.Call({"CONFIG", "SET", "replica-read-only", "yes"}).type, resp::Type::kError);
    EXPECT_EQ(cl.Call({"EXEC"}).AsString().rfind("EXECABORT", 0), 0u);
  }
}

// Regression (ReplicatedConfigTest.AClientPastTheQueryBufferLimitIsClosedByItsNode):
// client-query-buffer-limit reached the children, and a bulk past it was
// forwarded: the child closed the link it came on (the shared link, with
// every session's requests) and the client got "UNKNOWN the node lost its
// link to its redis-server". Each node holds its clients to it first: the
// client is closed, as Redis closes it, with an error before.
TEST(ReplicatedConfigTest, AClientPastTheQueryBufferLimitIsClosedByItsNode) {
  Cluster c;
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % c.size();
  ASSERT_EQ(Client(c.port(leader)).Call({"CONFIG", "SET", "client-query-buffer-limit", "2mb"}).AsString(), "OK");
  ASSERT_TRUE(EveryChildHas(c, "client-query-buffer-limit", "2097152"));
  for (int i : {leader, follower}) {
    // (The child checks its buffer as it reads: a bulk fits up to the limit less its CRLF.)
    Client ok(c.port(i));
    EXPECT_EQ(ok.Call({"SET", "fits", std::string((2 << 20) - 2, 'f')}).AsString(), "OK") << i;
    Client big(c.port(i));
    std::string request;
    resp::AppendCommand(&request, {"SET", "big", std::string(3 << 20, 'b')});
    big.Send(request);
    const auto reply = big.ReadRaw(10s);
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(*reply, "-ERR Protocol error: a bulk longer than the client-query-buffer-limit (Redis closes the "
                      "connection)\r\n")
        << i;
    EXPECT_TRUE(big.ClosedByPeer()) << i;
    EXPECT_EQ(ok.Call({"GET", "big"}).type, resp::Type::kNull) << i;
    EXPECT_EQ(ok.Call({"SET", "after", "1"}).AsString(), "OK") << i;
  }
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c.node(i).LogTail().find("lost its link"), std::string::npos) << c.node(i).LogTail();
  }
  // Back to Redis's default, a big bulk passes again.
  ASSERT_EQ(Client(c.port(follower)).Call({"CONFIG", "SET", "client-query-buffer-limit", "1gb"}).AsString(), "OK");
  ASSERT_TRUE(EveryChildHas(c, "client-query-buffer-limit", "1073741824"));
  for (int tries = 0; tries < 100; ++tries) {
    if (Client(c.port(follower)).Call({"SET", "big", std::string(3 << 20, 'b')}).AsString() == "OK") break;
    std::this_thread::sleep_for(20ms);  // (the follower applies it just after its child took it)
  }
  EXPECT_EQ(Client(c.port(leader)).Call({"STRLEN", "big"}).integer, 3 << 20);
}

}  // namespace
}  // namespace itest
