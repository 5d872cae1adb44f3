// Regression tests for the edges of Redis semantics the consistency gate
// closes (one test per finding of the consistency gate issue), on one real
// node with its real child, and checked against plain redis-server where
// Redis's own behaviour is the reference.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class GateEdgesTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void TearDown() override {
    node_.reset();
    if (HasFailure()) {
      std::cerr << "the node's directory (logs) is kept: " << dir_ << "\n";
    } else {
      RemoveDir(dir_);
    }
  }
  void Start(std::vector<std::string> extra) {
    node_.reset();
    if (dir_.empty()) dir_ = MakeTempDir("anarcho-edges");
    gate_ = dir_ + "/sync-gate";
    extra.insert(extra.end(), {"--test_sync_gate", gate_});
    node_ = std::make_unique<Node>(dir_, 0, extra);
    node_->Start();
  }
  // While closed, no log write becomes durable: no write can commit.
  void CloseSyncGate() { std::ofstream(gate_) << "closed"; }
  void OpenSyncGate() { fs::remove(gate_); }
  std::string Status(const std::string& field) { return node_->Status(field); }
  // Waits until the status field reads `want`.
  bool StatusBecomes(const std::string& field, const std::string& want, std::chrono::milliseconds timeout = 10s) {
    for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
      if (Status(field) == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // `write` runs while no log write can become durable; `read`, from another
  // client, shows what it changed: its reply must wait until the write is
  // durable. Returns that reply (nullopt, and a failure, if it came before).
  std::optional<resp::Value> HeldUntilDurable(const std::vector<std::string>& write,
                                              const std::vector<std::string>& read) {
    auto request = [](const std::vector<std::string>& args) {
      std::string out;
      resp::AppendCommand(&out, std::vector<std::string_view>(args.begin(), args.end()));
      return out;
    };
    Client writer(node_->port());
    Client reader(node_->port());
    CloseSyncGate();
    writer.Send(request(write));
    std::this_thread::sleep_for(100ms);
    reader.Send(request(read));
    const bool early = reader.Read(400ms).has_value();
    EXPECT_FALSE(early) << read[0] << " showed what " << write[0] << " changed before it was durable";
    OpenSyncGate();
    EXPECT_TRUE(writer.Read(10s).has_value());
    if (early) return std::nullopt;
    return reader.Read(10s);
  }
  // The same requests, pipelined, give the same bytes from the node and from
  // plain Redis. `setup` requests go first; their replies are not compared
  // (HELLO names the connection's id, which differs).
  void ExpectSameAsRedis(const std::vector<std::string>& requests, const std::string& what,
                         const std::vector<std::string>& setup = {}) {
    EXPECT_EQ(DifferenceFromRedis(node_->port(), requests, setup), "") << what;
  }

  std::string dir_, gate_;
  std::unique_ptr<Node> node_;
};

// Finding 1: SELECT with an index Redis refuses ("01", " 1", "+1", "-0")
// leaves the connection in db 0; the node must lock the key in db 0, or
// another client reads a write that is not durable.
TEST_F(GateEdgesTest, SelectRefusedByRedisKeepsTheWriteLockedInDbZero) {
  for (const char* index : {"01", " 1", "+1", "-0"}) {
    SCOPED_TRACE(index);
    Client writer(node_->port());
    Client reader(node_->port());
    EXPECT_EQ(writer.Call({"SELECT", index}).type, resp::Type::kError);
    CloseSyncGate();
    writer.Send(Req({"SET", "k", index}));
    std::this_thread::sleep_for(100ms);
    reader.Send(Req({"GET", "k"}));
    EXPECT_FALSE(reader.Read(400ms).has_value()) << "read a write that is not durable";
    OpenSyncGate();
    ASSERT_TRUE(writer.Read(10s).has_value());
    auto r = reader.Read(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->AsString(), index);
  }
  // A SELECT Redis accepts does move the lock: db 0 readers are not held.
  Client writer(node_->port());
  Client reader(node_->port());
  EXPECT_EQ(writer.Call({"SELECT", "1"}).AsString(), "OK");
  CloseSyncGate();
  writer.Send(Req({"SET", "k", "in-db-1"}));
  std::this_thread::sleep_for(100ms);
  reader.Send(Req({"GET", "k"}));
  auto clean = reader.Read(1s);
  ASSERT_TRUE(clean.has_value()) << "a db 0 read waited for a db 1 write";
  EXPECT_EQ(clean->AsString(), "-0");
  OpenSyncGate();
  ASSERT_TRUE(writer.Read(10s).has_value());
}

TEST_F(GateEdgesTest, SelectInsideMultiMatchesRedis) {
  ExpectSameAsRedis({Req({"MULTI"}), Req({"SELECT", "2"}), Req({"SET", "a", "1"}), Req({"EXEC"}), Req({"GET", "a"}),
                     Req({"SELECT", "0"}), Req({"GET", "a"}), Req({"MULTI"}), Req({"SELECT", "99"}),
                     Req({"SET", "b", "1"}), Req({"EXEC"}), Req({"GET", "b"})},
                    "SELECT inside MULTI");
}

// Regression (GateEdgesTest.FailedWriteWaitsForAnUncommittedWriteOfAKeyItReads):
// SINTERSTORE's WRONGTYPE, caused by an uncommitted SET of one of its source
// keys, was answered before that SET was durable (the write named only the
// key it writes); a failover could then undo the state the error showed.
TEST_F(GateEdgesTest, FailedWriteWaitsForAnUncommittedWriteOfAKeyItReads) {
  ASSERT_EQ(Client(node_->port()).Call({"SADD", "k1", "m"}).integer, 1);
  auto r = HeldUntilDurable({"SET", "k1", "now a string"}, {"SINTERSTORE", "d", "k1", "k2"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->str.rfind("WRONGTYPE", 0), 0u) << Str(*r);
}

// Regression (GateEdgesTest.ConfigGetWaitsForAnUncommittedConfigSet): CONFIG
// GET showed a CONFIG SET whose log entry was not durable yet.
TEST_F(GateEdgesTest, ConfigGetWaitsForAnUncommittedConfigSet) {
  auto r = HeldUntilDurable({"CONFIG", "SET", "hash-max-listpack-entries", "77"},
                            {"CONFIG", "GET", "hash-max-listpack-entries"});
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->elements.size(), 2u) << Str(*r);
  EXPECT_EQ(r->elements[1].AsString(), "77");
}

// Regression (GateEdgesTest.AuthWaitsForAnUncommittedUser): AUTH accepted a
// password an ACL SETUSER had set before that change was durable.
TEST_F(GateEdgesTest, AuthWaitsForAnUncommittedUser) {
  auto r = HeldUntilDurable({"ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all"}, {"AUTH", "alice", "pw"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->AsString(), "OK");
}

// Regression (GateEdgesTest.AScriptErrorThatStartsWithBusyWaitsLikeAnyRead):
// an error reply starting with "BUSY " was taken as Redis's refusal while a
// script runs (the request never ran), so a read-only script that returned
// such an error, built from a value it read, left before that value was
// durable.
TEST_F(GateEdgesTest, AScriptErrorThatStartsWithBusyWaitsLikeAnyRead) {
  auto r = HeldUntilDurable({"SET", "k", "v"},
                            {"EVAL_RO", "return redis.error_reply('BUSY ' .. redis.call('GET', KEYS[1]))", "1", "k"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->str, "BUSY v") << Str(*r);
}

// Regression (GateEdgesTest.WatchAndBadClientReplyInsideMultiMatchRedis):
// WATCH inside MULTI, which Redis answers at once, was counted among the
// queued commands, so the node rewrote the wrong reply of EXEC's (a SCAN
// cursor's place, and a logged request's); CLIENT REPLY with a wrong arity
// inside MULTI did not abort EXEC.
TEST_F(GateEdgesTest, WatchAndBadClientReplyInsideMultiMatchRedis) {
  ExpectSameAsRedis({Req({"SET", "a", "7"}), Req({"MULTI"}), Req({"WATCH", "x"}), Req({"SCAN", "0"}),
                     Req({"GET", "a"}), Req({"UNWATCH"}), Req({"EXEC"}), Req({"MULTI"}), Req({"SET", "b", "1"}),
                     Req({"CLIENT", "REPLY"}), Req({"EXEC"}), Req({"GET", "b"})},
                    "WATCH and CLIENT REPLY inside MULTI");
}

// Finding 3: a client that leaves while blocked must not pop later.
TEST_F(GateEdgesTest, ClientGoneWhileBlockedPopsNothingAndLeavesNoConnection) {
  Client probe(node_->port());
  auto connected = [&] {
    std::string info = probe.Call({"INFO", "clients"}).AsString();
    auto at = info.find("connected_clients:");
    return std::stoi(info.substr(at + 18));
  };
  const int before = connected();
  for (const char* cmd : {"BLPOP", "BLMOVE", "BZPOPMIN", "XREAD"}) {
    SCOPED_TRACE(cmd);
    for (int i = 0; i < 20; ++i) {
      Client blocked(node_->port());
      if (std::string_view(cmd) == "BLPOP") blocked.Send(Req({"BLPOP", "l", "0"}));
      if (std::string_view(cmd) == "BLMOVE") blocked.Send(Req({"BLMOVE", "l", "dst", "LEFT", "LEFT", "0"}));
      if (std::string_view(cmd) == "BZPOPMIN") blocked.Send(Req({"BZPOPMIN", "z", "0"}));
      if (std::string_view(cmd) == "XREAD") blocked.Send(Req({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}));
      if (i == 0) std::this_thread::sleep_for(50ms);
    }  // every one of them leaves while blocked
  }
  std::this_thread::sleep_for(200ms);
  Client c(node_->port());
  EXPECT_EQ(c.Call({"RPUSH", "l", "x"}).integer, 1);
  EXPECT_EQ(c.Call({"ZADD", "z", "1", "m"}).integer, 1);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(c.Call({"LLEN", "l"}).integer, 1) << "a gone client's BLPOP took the element";
  EXPECT_EQ(c.Call({"ZCARD", "z"}).integer, 1) << "a gone client's BZPOPMIN took the member";
  EXPECT_EQ(c.Call({"EXISTS", "dst"}).integer, 0);
  for (int i = 0; i < 100 && connected() > before + 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_LE(connected(), before + 1) << "child connections of gone clients leaked";
  EXPECT_TRUE(StatusBecomes("marked_keys", "0"));
}

// Finding 4: a session that ends with writes in flight leaves no lock behind.
TEST_F(GateEdgesTest, ClientGoneWithWritesInFlightLeavesNoLocks) {
  CloseSyncGate();
  {
    Client writer(node_->port());
    std::string req;
    for (int i = 0; i < 200; ++i) resp::AppendCommand(&req, {"SET", "hot", std::to_string(i)});
    writer.Send(req);
    std::this_thread::sleep_for(100ms);
  }  // gone before any of them committed
  Client reader(node_->port());
  reader.Send(Req({"GET", "hot"}));
  EXPECT_FALSE(reader.Read(300ms).has_value()) << "read a write that is not durable";
  OpenSyncGate();
  auto r = reader.Read(10s);
  ASSERT_TRUE(r.has_value()) << "the read hangs: the gone client's locks leaked";
  EXPECT_EQ(r->AsString(), "199");
  EXPECT_TRUE(StatusBecomes("writes_in_flight", "0"));
  EXPECT_TRUE(StatusBecomes("locked_keys", "0"));
  EXPECT_EQ(Client(node_->port()).Call({"DBSIZE"}).integer, 1);
}

// Finding 4's example: a script reply nested deeper than the old parser's 64.
TEST_F(GateEdgesTest, DeeplyNestedScriptReplyPassesThrough) {
  const std::string script =
      "local t = {} local cur = t for i = 1, 100 do local n = {} cur[1] = n cur = n end "
      "redis.call('set', KEYS[1], 'x') return t";
  ExpectSameAsRedis({Req({"EVAL", script, "1", "deep"}), Req({"GET", "deep"}), Req({"DBSIZE"})}, "nested reply");
}

// Finding 5: a transaction locks at EXEC; queued commands delay nobody.
TEST_F(GateEdgesTest, IdleMultiDelaysNoReader) {
  Client tx(node_->port());
  Client reader(node_->port());
  EXPECT_EQ(reader.Call({"SET", "hk", "before"}).AsString(), "OK");
  EXPECT_EQ(tx.Call({"MULTI"}).AsString(), "OK");
  EXPECT_EQ(tx.Call({"SET", "hk", "1"}).AsString(), "QUEUED");
  EXPECT_EQ(tx.Call({"FLUSHALL"}).AsString(), "QUEUED");
  reader.Send(Req({"GET", "hk"}));
  auto r = reader.Read(1s);
  ASSERT_TRUE(r.has_value()) << "an idle MULTI held a reader";
  EXPECT_EQ(r->AsString(), "before");
  reader.Send(Req({"DBSIZE"}));
  auto all = reader.Read(1s);
  ASSERT_TRUE(all.has_value()) << "an idle MULTI with FLUSHALL queued held a keyspace read";
  EXPECT_EQ(all->integer, 1);
  auto exec = tx.Call({"EXEC"});
  ASSERT_EQ(exec.elements.size(), 2u);
  EXPECT_EQ(reader.Call({"DBSIZE"}).integer, 0);
}

// Under maxmemory the leader's child deletes keys no request locked: before
// running any command it evicts, and propagates the DEL. A read that saw the
// key gone must wait for that DEL to commit: a leader lost before the commit
// leaves the key to the next one, and the key would come back. The read was
// answered after the leadership confirmation alone (regression).
class EvictionTest : public GateEdgesTest {
 protected:
  static int64_t UsedMemory(Client& c) { return itest::UsedMemory(c.Call({"INFO", "memory"})); }
  // With the child near maxmemory and "victim" the only key with a TTL
  // (volatile-ttl evicts it first): a write takes the child past maxmemory,
  // so the next command it runs evicts "victim", and nothing commits.
  void ExpectTheEvictionsReadToWaitForItsCommit() {
    Client writer(node_->port());
    Client reader(node_->port());
    CloseSyncGate();
    writer.Send(Req({"SET", "filler", std::string(200'000, 'x')}));
    std::this_thread::sleep_for(200ms);
    reader.Send(Req({"EXISTS", "victim"}));
    std::optional<resp::Value> early = reader.Read(700ms);
    EXPECT_FALSE(early.has_value()) << "a read saw an eviction that is not durable";
    OpenSyncGate();
    std::optional<resp::Value> r = early ? early : reader.Read(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->integer, 0) << "the key was not evicted: the test shows nothing";
    // With its argument in the child's query buffer the write itself is over
    // maxmemory: Redis refuses it once eviction freed too little.
    std::optional<resp::Value> w = writer.Read(10s);
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(w->type, resp::Type::kError) << w->AsString();
  }
};

// The CONFIG SET that starts the child evicting tells the gate before it runs.
TEST_F(EvictionTest, ReadOfAnEvictedKeyWaitsForTheEvictionToCommit) {
  Client c(node_->port());
  ASSERT_EQ(c.Call({"SET", "victim", "v", "EX", "100000"}).AsString(), "OK");
  EXPECT_EQ(Status("reads_wait_for_evictions"), "no");
  ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory-policy", "volatile-ttl"}).AsString(), "OK");
  const long long used = UsedMemory(c);
  ASSERT_GT(used, 0);
  ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory", std::to_string(used + 100'000)}).AsString(), "OK");
  EXPECT_EQ(Status("reads_wait_for_evictions"), "yes");
  ExpectTheEvictionsReadToWaitForItsCommit();
  // Eviction off again: the rule holds until the leader's stream starts anew,
  // from committed settings that no longer evict.
  ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory", "0"}).AsString(), "OK");
  EXPECT_EQ(Status("reads_wait_for_evictions"), "yes");
  Start({});
  EXPECT_EQ(Status("reads_wait_for_evictions"), "no");
}

// Under eviction a read waits only for the deletions of its keys in the
// stream before it: with nothing committing, a read of a key no DEL touched
// is answered, one of a key a pending DEL deleted is not.
TEST_F(EvictionTest, OnlyReadsOfDeletedKeysWaitForTheirCommit) {
  Client c(node_->port());
  ASSERT_EQ(c.Call({"MSET", "clean", "1", "gone", "2"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory", "4gb", "maxmemory-policy", "allkeys-lru"}).AsString(), "OK");
  ASSERT_EQ(Status("reads_wait_for_evictions"), "yes");
  CloseSyncGate();
  Client writer(node_->port());
  writer.Send(Req({"DEL", "gone"}));
  std::this_thread::sleep_for(200ms);
  Client reader(node_->port());
  reader.Send(Req({"GET", "clean"}));
  std::optional<resp::Value> clean = reader.Read(5s);
  ASSERT_TRUE(clean.has_value()) << "a read of a key no deletion touched waited for a commit";
  EXPECT_EQ(clean->AsString(), "1");
  Client other(node_->port());
  other.Send(Req({"EXISTS", "gone"}));
  EXPECT_FALSE(other.Read(700ms).has_value()) << "a read saw a deletion that is not durable";
  OpenSyncGate();
  EXPECT_EQ(writer.Read(10s)->integer, 1);
  EXPECT_EQ(other.Read(10s)->integer, 0);
}

// A leader whose child got maxmemory from the log (here after a restart)
// knows it from the committed settings, with no CONFIG SET of its own.
TEST_F(EvictionTest, ALeaderStartedWithMaxmemoryFromTheLogWaitsToo) {
  {
    Client c(node_->port());
    ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory-policy", "volatile-ttl"}).AsString(), "OK");
    ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory", std::to_string(UsedMemory(c) + 2'000'000)}).AsString(), "OK");
  }
  Start({});
  Client c(node_->port());
  ASSERT_EQ(c.Call({"SET", "victim", "v", "EX", "100000"}).AsString(), "OK");
  const long long max = std::stoll(c.Call({"CONFIG", "GET", "maxmemory"}).elements.at(1).AsString());
  for (int i = 0; UsedMemory(c) < max - 150'000; ++i) {
    ASSERT_LT(i, 100) << "maxmemory " << max << " not approached";
    ASSERT_EQ(c.Call({"SET", absl::StrCat("pad", i), std::string(50'000, 'p')}).AsString(), "OK");
  }
  ExpectTheEvictionsReadToWaitForItsCommit();
}

// Found by the fault run with real evictions: the child's replication backlog
// (the node is its replica) was 64 MB, and Redis counts a backlog in the
// memory maxmemory bounds. Once writes had filled it, a maxmemory below that
// evicted every key and then refused every write (OOM). Plain Redis with no
// replica keeps no backlog at all; the child's is Redis's default, 1 MB.
TEST_F(EvictionTest, TheChildsReplicationBacklogLeavesMaxmemoryToTheData) {
  Client c(node_->port());
  ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory-policy", "allkeys-random"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"CONFIG", "SET", "maxmemory", std::to_string(UsedMemory(c) + 4'000'000)}).AsString(), "OK");
  // 8 MB through the stream, on ten keys of 100 kB: 1 MB of data.
  for (int i = 0; i < 80; ++i) {
    ASSERT_EQ(c.Call({"SET", absl::StrCat("k", i % 10), std::string(100'000, static_cast<char>('a' + i % 26))}).AsString(),
              "OK")
        << "write " << i;
  }
  EXPECT_EQ(c.Call({"DBSIZE"}).integer, 10) << "keys evicted to make room for the node's own buffers";
}

// Finding 6: a looping script is stopped: killed if it only read, the child
// rebuilt (its writes discarded) if it wrote.
TEST_F(GateEdgesTest, LoopingScriptsAreStoppedAtTheBusyThreshold) {
  Start({"--busy_reply_threshold", "300", "--script_kill_after", "200"});
  Client c(node_->port());
  EXPECT_EQ(c.Call({"SET", "kept", "1"}).AsString(), "OK");
  resp::Value ro = c.Call({"EVAL", "while true do end", "0"});
  EXPECT_EQ(ro.type, resp::Type::kError);
  EXPECT_NE(ro.str.find("killed"), std::string::npos) << ro.str;
  EXPECT_EQ(Client(node_->port()).Call({"PING"}).AsString(), "PONG");

  resp::Value rw = Client(node_->port()).Call({"EVAL", "redis.call('set','busy','1') while true do end", "0"});
  EXPECT_EQ(rw.type, resp::Type::kError);
  EXPECT_NE(rw.str.find("discarded"), std::string::npos) << rw.str;
  Client after(node_->port());
  EXPECT_EQ(after.Call({"GET", "busy"}).type, resp::Type::kNull) << "a discarded script's write survived";
  EXPECT_EQ(after.Call({"GET", "kept"}).AsString(), "1");
  EXPECT_EQ(Status("scripts_killed"), "2");
}

// While a script runs past busy-reply-threshold, writes the child refuses with
// BUSY (and an EXEC that aborts) are answered at once, as by Redis, rather
// than after the script (their commit offsets need the child); a client may
// SCRIPT KILL it before the node's own watchdog would.
TEST_F(GateEdgesTest, BusyScriptRefusalsAreAnsweredAndClientsMayKillIt) {
  Start({"--script_kill_after", "20000"});
  Client c(node_->port());
  ASSERT_EQ(c.Call({"CONFIG", "SET", "busy-reply-threshold", "10"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"SET", "xx", "1"}).AsString(), "OK");
  Client tx(node_->port());
  ASSERT_EQ(tx.Call({"MULTI"}).AsString(), "OK");
  ASSERT_EQ(tx.Call({"INCR", "xx"}).AsString(), "QUEUED");
  Client looping(node_->port());
  looping.Send("*3\r\n$4\r\nEVAL\r\n$17\r\nwhile true do end\r\n$1\r\n0\r\n");
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(absl::StartsWith(c.Call({"SET", "yy", "1"}).AsString(), "BUSY"));
  EXPECT_TRUE(absl::StartsWith(c.Call({"GET", "xx"}).AsString(), "BUSY"));
  EXPECT_TRUE(absl::StartsWith(tx.Call({"INCR", "xx"}).AsString(), "BUSY"));
  EXPECT_TRUE(absl::StartsWith(tx.Call({"EXEC"}).AsString(), "EXECABORT"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "refusals waited for the script";
  EXPECT_EQ(c.Call({"SCRIPT", "KILL"}).AsString(), "OK");
  auto killed = looping.Read(5s);
  ASSERT_TRUE(killed.has_value());
  EXPECT_TRUE(killed->IsError());
  EXPECT_EQ(c.Call({"GET", "xx"}).AsString(), "1");
  EXPECT_EQ(tx.Call({"PING", "asdf"}).AsString(), "asdf");  // no longer in MULTI
}

// Regression (a review, 2026-12-07): FUNCTION STATS, which tells what script
// runs so that a client may kill it, waited for the running function (as a
// read of the whole keyspace, behind its lock) where Redis answers at once:
// the node's watchdog had killed the function by the time it answered.
TEST_F(GateEdgesTest, FunctionStatsIsAnsweredWhileAFunctionKeepsTheChildBusy) {
  Start({"--script_kill_after", "20000"});
  Client c(node_->port());
  ASSERT_EQ(c.Call({"CONFIG", "SET", "busy-reply-threshold", "10"}).AsString(), "OK");
  ASSERT_EQ(c.Call({"FUNCTION", "LOAD",
                    "#!lua name=loop\nredis.register_function{function_name='spin', callback=function() while true do "
                    "end end, flags={'no-writes'}}"})
                .AsString(),
            "loop");
  Client looping(node_->port());
  looping.Send(Req({"FCALL", "spin", "0"}));
  std::this_thread::sleep_for(200ms);
  const auto start = std::chrono::steady_clock::now();
  const resp::Value stats = c.Call({"FUNCTION", "STATS"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << "FUNCTION STATS waited for the function";
  EXPECT_TRUE(absl::StrContains(Str(stats), "spin")) << Str(stats);
  EXPECT_EQ(c.Call({"FUNCTION", "KILL"}).AsString(), "OK");
  ASSERT_TRUE(looping.Read(5s).has_value());
}

// Regression: pub/sub messages left as soon as the leader's child sent them,
// so a keyspace notification (or a message published right after a write)
// told subscribers of a write that was not durable yet, which a failover
// could undo. They now wait as a read of the whole keyspace does, in RESP2's
// subscribed stream and as RESP3 pushes, and keep their order.
TEST_F(GateEdgesTest, PubSubMessagesWaitForTheWritesTheyTellOf) {
  Client admin(node_->port());
  ASSERT_EQ(admin.Call({"CONFIG", "SET", "notify-keyspace-events", "K$"}).AsString(), "OK");
  for (const int proto : {2, 3}) {
    SCOPED_TRACE(proto);
    Client sub(node_->port());
    if (proto == 3) ASSERT_EQ(sub.Call({"HELLO", "3"}).type, resp::Type::kMap);
    ASSERT_EQ(sub.Call({"SUBSCRIBE", "__keyspace@0__:k"}).elements.size(), 3u);
    ASSERT_EQ(sub.Call({"SUBSCRIBE", "news"}).elements.size(), 3u);
    Client writer(node_->port());
    CloseSyncGate();
    writer.Send(Req({"SET", "k", absl::StrCat("v", proto)}) + Req({"PUBLISH", "news", "k changed"}));
    EXPECT_FALSE(sub.Read(400ms).has_value()) << "a subscriber heard of a write before it was durable";
    OpenSyncGate();
    for (const char* payload : {"set", "k changed"}) {
      auto m = sub.Read(10s);
      ASSERT_TRUE(m.has_value());
      ASSERT_EQ(m->elements.size(), 3u) << Str(*m);
      EXPECT_EQ(m->elements[0].AsString(), "message");
      EXPECT_EQ(m->elements[2].AsString(), payload);
    }
    auto set = writer.Read(10s);
    ASSERT_TRUE(set.has_value());
    EXPECT_EQ(set->AsString(), "OK");
    // Messages on a quiet node are not held for long.
    writer.Send(Req({"PUBLISH", "news", "quiet"}));
    auto quiet = sub.Read(5s);
    ASSERT_TRUE(quiet.has_value());
    EXPECT_EQ(quiet->elements.back().AsString(), "quiet");
  }
  // A held message keeps its place among the replies: before PUBLISH's own
  // (to a channel of the publisher's) and RESET's. (Found by the differential
  // test: the first version let replies overtake held messages.)
  for (const char* proto : {"2", "3"}) {
    ExpectSameAsRedis({Req({"SUBSCRIBE", "a"}), Req({"SET", "x", "1"}), Req({"PUBLISH", "a", "m"}), Req({"GET", "x"}),
                       Req({"PING"}), Req({"RESET"}), Req({"GET", "x"})},
                      absl::StrCat("publishing to one's own channel, RESP", proto), {Req({"HELLO", proto})});
  }
}

// A restricted user's admin requests the node answers itself (MONITOR,
// SHUTDOWN, CLIENT KILL) were allowed while a script kept the child busy:
// the permission check took ACL DRYRUN's BUSY for an unknown command's
// error. They are refused with BUSY, as Redis refuses MONITOR then.
TEST_F(GateEdgesTest, PermissionChecksFailClosedWhileAScriptIsBusy) {
  Start({"--script_kill_after", "20000"});
  Client admin(node_->port());
  ASSERT_EQ(admin.Call({"ACL", "SETUSER", "mal", "on", ">pw", "+get", "+eval", "~*"}).AsString(), "OK");
  ASSERT_EQ(admin.Call({"CONFIG", "SET", "busy-reply-threshold", "10"}).AsString(), "OK");
  Client looping(node_->port());
  ASSERT_EQ(looping.Call({"AUTH", "mal", "pw"}).AsString(), "OK");
  Client mal(node_->port());
  ASSERT_EQ(mal.Call({"AUTH", "mal", "pw"}).AsString(), "OK");
  looping.Send("*3\r\n$4\r\nEVAL\r\n$17\r\nwhile true do end\r\n$1\r\n0\r\n");
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(mal.Call({"MONITOR"}).IsError()) << "a restricted user monitors";
  EXPECT_TRUE(mal.Call({"CLIENT", "KILL", "USER", "default"}).IsError());
  EXPECT_TRUE(mal.Call({"SHUTDOWN", "NOSAVE"}).IsError()) << "a restricted user stopped the node";
  EXPECT_EQ(admin.Call({"SCRIPT", "KILL"}).AsString(), "OK");
  ASSERT_TRUE(looping.Read(5s).has_value());
  EXPECT_EQ(admin.Call({"PING"}).AsString(), "PONG");
  EXPECT_TRUE(absl::StartsWith(mal.Call({"MONITOR"}).AsString(), "NOPERM"));
}

// Finding 8: a subscriber that stops reading is disconnected at Redis's
// pubsub limit instead of growing the node's memory.
TEST_F(GateEdgesTest, SlowSubscriberIsDisconnectedAtItsOutputLimit) {
  Start({"--client_output_buffer_limit", "pubsub 4mb 1mb 1"});
  Client sub(node_->port());
  sub.Send(Req({"SUBSCRIBE", "news"}));
  ASSERT_TRUE(sub.Read(5s).has_value());
  const std::string payload(1 << 20, 'x');
  Client pub(node_->port());
  for (int i = 0; i < 60; ++i) pub.Call({"PUBLISH", "news", payload});
  EXPECT_TRUE(StatusBecomes("clients", "2")) << "the slow subscriber is still connected";
  EXPECT_EQ(pub.Call({"PUBLISH", "news", "x"}).integer, 0);
}

// Finding 9: WAIT checks its arguments as Redis does.
TEST_F(GateEdgesTest, WaitAnswersAsRedisDoes) {
  ExpectSameAsRedis({Req({"WAIT"}), Req({"WAIT", "1"}), Req({"WAIT", "x", "0"}), Req({"WAIT", "0", "x"}),
                     Req({"WAIT", "0", "-1"}), Req({"WAIT", "01", "0"}), Req({"WAIT", "1", "0.5"}),
                     Req({"WAIT", "0", "0"}), Req({"SET", "a", "1"}), Req({"WAIT", "1", "100"})},
                    "WAIT");
}

// A write pipelined before a blocking read is answered while the read
// waits, as Redis answers it. XREAD BLOCK was taken for a plain read: the
// write's cover queued behind it on the blocked connection, and its reply
// (and every later write's lock on its keys) waited until some XADD came.
TEST_F(GateEdgesTest, WriteBeforeXreadBlockIsAnsweredWhileItWaits) {
  Client c(node_->port());
  c.Send(Req({"SET", "a", "1"}) + Req({"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}) + Req({"SET", "b", "2"}));
  std::optional<resp::Value> set = c.Read(5s);
  ASSERT_TRUE(set.has_value()) << "the SET before XREAD BLOCK got no reply";
  EXPECT_EQ(Str(*set), "OK");
  EXPECT_EQ(Str(Client(node_->port()).Call({"GET", "a"})), "1");
  EXPECT_EQ(Str(Client(node_->port()).Call({"GET", "b"})), "(nil)");  // not run yet: behind the XREAD
  EXPECT_FALSE(Client(node_->port()).Call({"XADD", "s", "*", "f", "v"}).IsError());
  std::optional<resp::Value> read = c.Read(5s);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->type, resp::Type::kArray);
  EXPECT_EQ(Str(c.Read(5s).value_or(resp::Value{})), "OK");
  EXPECT_EQ(Str(Client(node_->port()).Call({"GET", "b"})), "2");
}

// Finding 9: UNSUBSCRIBE on a fresh connection does not leave it subscribed;
// RESP2 subscribed connections refuse other commands as Redis does, RESP3
// ones run them.
TEST_F(GateEdgesTest, SubscribedStatesMatchRedis) {
  ExpectSameAsRedis({Req({"UNSUBSCRIBE"}), Req({"SET", "a", "1"}), Req({"GET", "a"}), Req({"PUNSUBSCRIBE", "p*"}),
                     Req({"GET", "a"})},
                    "fresh UNSUBSCRIBE");
  ExpectSameAsRedis({Req({"SUBSCRIBE", "c1", "c2"}), Req({"GET", "a"}), Req({"PING", "x"}), Req({"GET", "a"}),
                     Req({"UNSUBSCRIBE", "c1"}), Req({"GET", "a"}), Req({"UNSUBSCRIBE"}), Req({"GET", "a"}),
                     Req({"SET", "a", "2"})},
                    "RESP2 subscribed");
  ExpectSameAsRedis({Req({"SUBSCRIBE", "c1"}), Req({"SET", "a", "3"}), Req({"GET", "a"}), Req({"PING", "x"}),
                     Req({"UNSUBSCRIBE"}), Req({"GET", "a"})},
                    "RESP3 subscribed", {Req({"HELLO", "3"})});
  ExpectSameAsRedis({Req({"SUBSCRIBE", "c1"}), Req({"RESET"}), Req({"GET", "a"})}, "RESET ends the subscription");
}

// A RESP2 subscribed connection's refusals as Redis gives them: an unknown
// command or subcommand and a wrong arity are said first, and the context's
// error names a subcommand in full ("client|reply"). The node answered every
// one with the context's error and the command's first word, and SHUTDOWN
// stopped it (regressions).
TEST_F(GateEdgesTest, SubscribedRefusalsMatchRedis) {
  ExpectSameAsRedis({Req({"SUBSCRIBE", "c1"}),         Req({"FOO", "a\r\nb"}),         Req({"GET"}),
                     Req({"GET", "a"}),                Req({"CLIENT"}),                 Req({"CLIENT", "NOSUCH\r\nx"}),
                     Req({"CLIENT", "REPLY"}),         Req({"CLIENT", "REPLY", "OFF"}), Req({"CONFIG", "GET", "x"}),
                     Req({"OBJECT", "ENCODING", "x"}), Req({"SET", "a"}),               Req({"config", std::string(200, 'x')}),
                     Req({"PING"}),                    Req({"BAR"}),                    Req({"CLIENT", "ID"}),
                     Req({"SHUTDOWN"}),                Req({"UNSUBSCRIBE"}),            Req({"CLIENT", "NOSUCH"}),
                     Req({"GET"})},
                    "RESP2 subscribed");
}

// Redis checks a user's permissions before the subscribed context: a command
// the user may not run is refused with NOPERM there too.
TEST_F(GateEdgesTest, SubscribedRefusalsOfAUserMatchRedis) {
  ExpectSameAsRedis({Req({"SUBSCRIBE", "c1"}), Req({"GET", "a"}), Req({"CLIENT", "ID"}), Req({"SET", "a"}),
                     Req({"SET", "a", "1"}), Req({"UNSUBSCRIBE"}), Req({"GET", "a"}), Req({"SET", "a", "1"})},
                    "a user without GET and CLIENT ID",
                    {Req({"ACL", "SETUSER", "sub", "on", ">pw", "~*", "&*", "+@all", "-get", "-client|id"}),
                     Req({"AUTH", "sub", "pw"})});
}

// CLIENT REPLY OFF (or SKIP) before SUBSCRIBE: Redis still sends the
// (un)subscribe confirmations, which are pushes, and drops every reply: PING's
// (in and out of the subscribed state), errors. The node passed PING's replies
// on (regression).
std::vector<std::string> SilencedWhileSubscribed(std::string_view mode) {
  return {Req({"CLIENT", "REPLY", mode}), Req({"SUBSCRIBE", "c1"}), Req({"PING", "a"}),    Req({"PING"}),
          Req({"GET", "x"}),              Req({"NOSUCH"}),           Req({"SUBSCRIBE"}),     Req({"PING", "a", "b"}),
          Req({"UNSUBSCRIBE"}),           Req({"PING", "b"}),        Req({"CLIENT", "REPLY", "ON"}),
          Req({"PING", "c"})};
}

// A (P|S)SUBSCRIBE Redis refuses for its arity subscribes nothing: its error
// is a plain reply (dropped under CLIENT REPLY OFF or SKIP, checked before
// MULTI queues it). The node took the connection for a stream (regression).
TEST_F(GateEdgesTest, WrongAritySubscribeIsAPlainReply) {
  ExpectSameAsRedis({Req({"CLIENT", "REPLY", "OFF"}), Req({"SUBSCRIBE"}), Req({"PING"}), Req({"CLIENT", "REPLY", "SKIP"}),
                     Req({"PSUBSCRIBE"}), Req({"PING", "a"}), Req({"CLIENT", "REPLY", "ON"}), Req({"SSUBSCRIBE"}),
                     Req({"PING", "b"}), Req({"MULTI"}), Req({"SUBSCRIBE"}), Req({"EXEC"}), Req({"PING", "c"})},
                    "RESP2");
  ExpectSameAsRedis({Req({"SUBSCRIBE"}), Req({"PING", "d"}), Req({"GET", "a"})}, "RESP3", {Req({"HELLO", "3"})});
}

// RESP3 (un)subscribing answers with pushes only (as many as there are
// channels; an UNSUBSCRIBE names none), or with an error. A reply the node
// made itself (CLIENT REPLY's) left before the pushes of the request before
// it, and a NOPERM for a channel, a reply no slot waited for, ended the
// connection with "lost track of its upstream's replies" (regressions). A
// user who may not PING (the node's end marker) gets Redis's replies too.
TEST_F(GateEdgesTest, Resp3SubscribePushesKeepTheirPlaceAmongReplies) {
  ExpectSameAsRedis({Req({"PUNSUBSCRIBE", "p*"}), Req({"CLIENT", "REPLY", "BAD"}), Req({"SUBSCRIBE", "a", "b"}),
                     Req({"CLIENT", "REPLY", "ON"}), Req({"UNSUBSCRIBE", "b"}), Req({"CLIENT", "REPLY", "SKIP"}),
                     Req({"SSUBSCRIBE", "s"}), Req({"CLIENT", "REPLY", "BAD"}), Req({"PUNSUBSCRIBE"}), Req({"ECHO", "e"})},
                    "RESP3", {Req({"HELLO", "3"})});
  const std::vector<std::string> requests = {Req({"SUBSCRIBE", "bad"}), Req({"GET", "k"}), Req({"SUBSCRIBE", "ok"}),
                                             Req({"CLIENT", "REPLY", "BAD"}), Req({"UNSUBSCRIBE", "ok"}),
                                             Req({"ECHO", "e"})};
  ExpectSameAsRedis(requests, "a user with one channel",
                    {Req({"ACL", "SETUSER", "one", "on", ">pw", "~*", "resetchannels", "&ok", "+@all"}),
                     Req({"HELLO", "3", "AUTH", "one", "pw"})});
  ExpectSameAsRedis(requests, "a user who may not PING",
                    {Req({"ACL", "SETUSER", "noping", "on", ">pw", "~*", "&*", "+@all", "-ping"}),
                     Req({"HELLO", "3", "AUTH", "noping", "pw"})});
}

// RESP2: a SUBSCRIBE refused for a channel the user may not use answers with
// an error instead of confirmations, and subscribes nothing. Under CLIENT
// REPLY OFF or SKIP the node sent that error (Redis drops it), or took it for
// a later PING's reply and sent PING's (regressions).
TEST_F(GateEdgesTest, SubscribeRefusedForAChannelIsAReplyClientReplyDrops) {
  const std::vector<std::string> setup = {
      Req({"ACL", "SETUSER", "one", "on", ">pw", "~*", "resetchannels", "&ok", "+@all"}), Req({"AUTH", "one", "pw"})};
  ExpectSameAsRedis({Req({"CLIENT", "REPLY", "OFF"}), Req({"SUBSCRIBE", "bad"}), Req({"PING", "x"}),
                     Req({"CLIENT", "REPLY", "ON"}), Req({"PING", "y"})},
                    "OFF, not subscribed", setup);
  ExpectSameAsRedis({Req({"CLIENT", "REPLY", "OFF"}), Req({"SUBSCRIBE", "ok"}), Req({"SUBSCRIBE", "bad"}),
                     Req({"PING", "x"}), Req({"CLIENT", "REPLY", "ON"}), Req({"PING", "y"}), Req({"UNSUBSCRIBE"}),
                     Req({"PING", "z"})},
                    "OFF, subscribed", setup);
  ExpectSameAsRedis({Req({"CLIENT", "REPLY", "SKIP"}), Req({"SUBSCRIBE", "bad"}), Req({"PING", "x"}),
                     Req({"SUBSCRIBE", "ok"}), Req({"PSUBSCRIBE", "p*"}), Req({"SUBSCRIBE", "bad", "ok"}),
                     Req({"PING", "y"}), Req({"UNSUBSCRIBE", "ok"}), Req({"GET", "k"}), Req({"PUNSUBSCRIBE"}),
                     Req({"GET", "k"})},
                    "SKIP", setup);
}

// HELLO 2 on a RESP3 connection that subscribed makes it a RESP2 subscribed
// one: Redis then refuses CLIENT REPLY (the node took it as its own and
// dropped the next reply), and messages arrive as replies do. Once its
// subscriptions ended, HELLO 2 leaves an ordinary RESP2 connection
// (regressions).
TEST_F(GateEdgesTest, Hello2WhileSubscribedInResp3IsARespTwoSubscription) {
  ExpectSameAsRedis({Req({"PSUBSCRIBE", "p*"}), Req({"HELLO", "2"}), Req({"CLIENT", "REPLY", "SKIP"}),
                     Req({"GET", "k"}), Req({"PING", "x"}), Req({"PUNSUBSCRIBE"}), Req({"CLIENT", "REPLY", "SKIP"}),
                     Req({"GET", "k"}), Req({"ECHO", "e"})},
                    "still subscribed", {Req({"HELLO", "3"})});
  ExpectSameAsRedis({Req({"SUBSCRIBE", "a"}), Req({"UNSUBSCRIBE", "a"}), Req({"HELLO", "2"}),
                     Req({"CLIENT", "REPLY", "SKIP"}), Req({"GET", "k"}), Req({"ECHO", "e"})},
                    "no longer subscribed", {Req({"HELLO", "3"})});
}

// A user who may not PING: the node's probe after (un)subscribing is refused,
// and the confirmations' counts tell whether any subscription remains. The
// node took such a connection as still subscribed after an UNSUBSCRIBE that
// ended it (or that found nothing to end), and the requests after it went out
// as in a stream, past the gate: a write was acknowledged before it was
// durable, and an UNSUBSCRIBE queued in a MULTI left the node waiting for
// replies that never came (regression, found by the protocol-aimed
// differential run, seed 62).
TEST_F(GateEdgesTest, UnsubscribeOfAUserWhoMayNotPingEndsTheSubscription) {
  const std::string user = Req({"ACL", "SETUSER", "noping", "on", ">pw", "~*", "&*", "+@all", "-ping"});
  {
    Client admin(node_->port());
    ASSERT_EQ(admin.Call({"ACL", "SETUSER", "noping", "on", ">pw", "~*", "&*", "+@all", "-ping"}).AsString(), "OK");
    Client c(node_->port());
    ASSERT_EQ(c.Call({"AUTH", "noping", "pw"}).AsString(), "OK");
    ASSERT_EQ(c.Call({"SUBSCRIBE", "a"}).elements.size(), 3u);
    ASSERT_EQ(c.Call({"UNSUBSCRIBE"}).elements.size(), 3u);
    CloseSyncGate();
    c.Send(Req({"SET", "k", "v"}));
    EXPECT_FALSE(c.Read(400ms).has_value()) << "acknowledged a write that is not durable";
    OpenSyncGate();
    auto r = c.Read(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->AsString(), "OK");
  }
  ExpectSameAsRedis({Req({"UNSUBSCRIBE", "a"}), Req({"GET", "k"}), Req({"MULTI"}), Req({"SET", "k", "1"}),
                     Req({"INCR", "n"}), Req({"EXEC"}), Req({"GET", "k"}), Req({"SUBSCRIBE", "c"}),
                     Req({"SSUBSCRIBE", "s"}), Req({"UNSUBSCRIBE"}), Req({"GET", "k"}), Req({"SUNSUBSCRIBE"}),
                     Req({"GET", "k"}), Req({"PSUBSCRIBE", "p*"}), Req({"PING", "x"}), Req({"PUNSUBSCRIBE", "p*"}),
                     Req({"ECHO", "e"})},
                    "RESP2", {user, Req({"AUTH", "noping", "pw"})});
  ExpectSameAsRedis({Req({"SUBSCRIBE", "a"}), Req({"UNSUBSCRIBE", "a"}), Req({"HELLO", "2"}), Req({"GET", "k"}),
                     Req({"SUBSCRIBE", "b"}), Req({"HELLO", "3"}), Req({"HELLO", "2"}), Req({"GET", "k"}),
                     Req({"UNSUBSCRIBE"}), Req({"GET", "k"})},
                    "RESP3, then HELLO 2", {user, Req({"HELLO", "3", "AUTH", "noping", "pw"})});
  ExpectSameAsRedis({Req({"SUBSCRIBE", "a"}), Req({"RESET"}), Req({"AUTH", "noping", "pw"}), Req({"UNSUBSCRIBE"}),
                     Req({"GET", "k"})},
                    "RESET ends every subscription", {user, Req({"AUTH", "noping", "pw"})});
}

// CLIENT REPLY SKIP skips the reply of the request after it, and is used up
// there: after SKIP then OFF, RESET (which turns OFF off) is answered. The
// node kept the SKIP for RESET (regression).
TEST_F(GateEdgesTest, SkipIsUsedUpByTheClientReplyAfterIt) {
  for (const char* proto : {"2", "3"}) {
    ExpectSameAsRedis({Req({"CLIENT", "REPLY", "SKIP"}), Req({"CLIENT", "REPLY", "OFF"}), Req({"PING"}),
                       Req({"RESET"}), Req({"ECHO", "e"})},
                      proto, {Req({"HELLO", proto})});
    ExpectSameAsRedis({Req({"CLIENT", "REPLY", "SKIP"}), Req({"CLIENT", "REPLY", "SKIP"}), Req({"PING", "a"}),
                       Req({"PING", "b"}), Req({"ECHO", "e"})},
                      proto, {Req({"HELLO", proto})});
  }
}

// CONFIG GET's reply (rewritten by the node for `port` and `bind`) is a map
// or an array as the connection's protocol was when it ran: a RESET or HELLO
// pipelined after it turned a RESP3 map into an array (regression).
TEST_F(GateEdgesTest, ConfigGetKeepsTheProtocolItRanIn) {
  ExpectSameAsRedis({Req({"CONFIG", "GET", "maxmemory"}), Req({"RESET"}), Req({"CONFIG", "GET", "maxmemory"})},
                    "RESP3, then RESET", {Req({"HELLO", "3"})});
}

// RESET ends a RESP2 stream when its reply arrives: what follows it is
// routed only then. A SUBSCRIBE pipelined right after it opened a second
// stream over the first, and the connection got no reply at all (a hang;
// regression). RESET also turns CLIENT REPLY OFF off and is answered, while a
// SKIP just before it skips its reply, as Redis does.
TEST_F(GateEdgesTest, ResetEndsTheStreamBeforeWhatFollowsIsRouted) {
  ExpectSameAsRedis({Req({"SUBSCRIBE", "s"}), Req({"RESET"}), Req({"SUBSCRIBE", "s"}), Req({"PING"}), Req({"RESET"}),
                     Req({"SSUBSCRIBE", "t"}), Req({"RESET"}), Req({"GET", "a"})},
                    "RESP2");
  ExpectSameAsRedis({Req({"CLIENT", "REPLY", "OFF"}), Req({"SUBSCRIBE", "s"}), Req({"PING"}), Req({"RESET"}),
                     Req({"PING", "a"}), Req({"CLIENT", "REPLY", "SKIP"}), Req({"RESET"}), Req({"PING", "b"})},
                    "CLIENT REPLY");
}

TEST_F(GateEdgesTest, ClientReplyOffWhileSubscribedDropsRepliesNotPushes) {
  ExpectSameAsRedis(SilencedWhileSubscribed("OFF"), "OFF");
  ExpectSameAsRedis(SilencedWhileSubscribed("SKIP"), "SKIP");
}

// A write and a SUBSCRIBE in one segment: the node must learn the write's
// replication offset before the connection becomes a stream, or the answer
// to its question is taken for a message and the write never replies.
TEST_F(GateEdgesTest, WriteJustBeforeSubscribeRepliesAsRedis) {
  ExpectSameAsRedis({Req({"SET", "a", "1"}) + Req({"SUBSCRIBE", "c1"}), Req({"UNSUBSCRIBE"}), Req({"GET", "a"})},
                    "RESP2");
  ExpectSameAsRedis({Req({"SET", "a", "2"}) + Req({"UNSUBSCRIBE"}), Req({"GET", "a"})}, "fresh UNSUBSCRIBE");
  ExpectSameAsRedis({Req({"SET", "a", "3"}) + Req({"SUBSCRIBE", "c1"}), Req({"UNSUBSCRIBE"}), Req({"GET", "a"})},
                    "RESP3", {Req({"HELLO", "3"})});
}

}  // namespace
}  // namespace itest
