// The command table built from a real redis-server 7.0 `COMMAND` reply
// (testdata/command_reply.resp, recorded from the Debian package).
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/front/command_table.h"
#include "node/front/request_router.h"
#include "node/front/scan_cursor.h"
#include "resp/value.h"

namespace node {
namespace {

const CommandTable& Table() {
  static const CommandTable* table = [] {
    std::ifstream in(std::string(ANARCHO_TESTDATA) + "/command_reply.resp", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string data = ss.str();
    resp::Value v;
    size_t consumed = 0;
    std::string error;
    EXPECT_EQ(resp::ParseValue(data, &consumed, &v, &error), resp::ParseStatus::kOk) << error;
    auto t = CommandTable::FromCommandReply(v);
    EXPECT_TRUE(t.ok()) << t.status();
    return new CommandTable(std::move(*t));
  }();
  return *table;
}

struct Case {
  std::vector<std::string_view> args;
  CommandClass cls;
  std::vector<std::pair<size_t, bool>> keys;  // (position, write)
  bool incomplete = false;
};

class ClassifyTest : public ::testing::TestWithParam<Case> {};

TEST_P(ClassifyTest, ClassAndKeys) {
  const Case& c = GetParam();
  const CommandSpec* spec = Table().Lookup(c.args);
  ASSERT_NE(spec, nullptr) << c.args[0];
  EXPECT_EQ(CommandClassName(spec->cls), CommandClassName(c.cls)) << spec->name;
  if (c.cls == CommandClass::kRefused) {
    EXPECT_TRUE(spec->refusal.starts_with("ERR ")) << spec->refusal;
    return;
  }
  Keys keys = CommandTable::GetKeys(*spec, c.args);
  EXPECT_EQ(keys.incomplete, c.incomplete) << spec->name;
  std::vector<std::pair<size_t, bool>> got;
  for (auto& k : keys.keys) got.emplace_back(k.pos, k.write);
  EXPECT_EQ(got, c.keys) << spec->name;
}

using C = CommandClass;
INSTANTIATE_TEST_SUITE_P(
    Commands, ClassifyTest,
    ::testing::Values(
        Case{{"SET", "k", "v"}, C::kKeyedWrite, {{1, true}}},
        Case{{"set", "k", "v", "EX", "10"}, C::kKeyedWrite, {{1, true}}},
        Case{{"GET", "k"}, C::kKeyedRead, {{1, false}}},
        Case{{"MSET", "a", "1", "b", "2"}, C::kKeyedWrite, {{1, true}, {3, true}}},
        Case{{"MGET", "a", "b", "c"}, C::kKeyedRead, {{1, false}, {2, false}, {3, false}}},
        Case{{"INCRBYFLOAT", "f", "1.5"}, C::kKeyedWrite, {{1, true}}},
        Case{{"SPOP", "s"}, C::kKeyedWrite, {{1, true}}},
        Case{{"SUNIONSTORE", "d", "a", "b"}, C::kKeyedWrite, {{1, true}, {2, false}, {3, false}}},
        Case{{"LMOVE", "a", "b", "LEFT", "RIGHT"}, C::kKeyedWrite, {{1, true}, {2, true}}},
        Case{{"ZUNIONSTORE", "d", "2", "a", "b"}, C::kKeyedWrite, {{1, true}, {3, false}, {4, false}}},
        Case{{"XADD", "s", "*", "f", "v"}, C::kKeyedWrite, {{1, true}}},
        Case{{"GEORADIUS", "g", "0", "0", "1", "km", "STORE", "d"}, C::kKeyedWrite, {{1, false}, {7, true}}},
        Case{{"BLPOP", "a", "b", "0"}, C::kBlocking, {{1, true}, {2, true}}},
        Case{{"BLMOVE", "a", "b", "LEFT", "LEFT", "0"}, C::kBlocking, {{1, true}, {2, true}}},
        Case{{"XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "$", "$"}, C::kBlocking, {{4, false}, {5, false}}},
        Case{{"EVAL", "return 1", "2", "a", "b"}, C::kKeyspaceWrite, {{3, true}, {4, true}}},
        Case{{"EVAL_RO", "return 1", "0"}, C::kKeyspaceRead, {}},
        Case{{"FCALL", "f", "1", "a"}, C::kKeyspaceWrite, {{3, true}}},
        Case{{"FLUSHALL"}, C::kKeyspaceWrite, {}},
        Case{{"SWAPDB", "0", "1"}, C::kKeyspaceWrite, {}},
        Case{{"MOVE", "k", "1"}, C::kKeyspaceWrite, {{1, true}}},
        Case{{"SORT", "k", "STORE", "d"}, C::kKeyspaceWrite, {{1, false}}, true},
        Case{{"KEYS", "*"}, C::kKeyspaceRead, {}},
        Case{{"SCAN", "0"}, C::kKeyspaceRead, {}},
        Case{{"DBSIZE"}, C::kKeyspaceRead, {}},
        Case{{"INFO"}, C::kPassThrough, {}},  // statistics: it waits for no write (see the router)
        Case{{"MULTI"}, C::kTransaction, {}},
        Case{{"WATCH", "a"}, C::kTransaction, {{1, false}}},
        Case{{"SUBSCRIBE", "ch"}, C::kSubscribe, {}},
        Case{{"PUBLISH", "ch", "m"}, C::kPassThrough, {}},
        Case{{"PING"}, C::kPassThrough, {}},
        Case{{"HELLO", "3"}, C::kPassThrough, {}},
        Case{{"SELECT", "1"}, C::kPassThrough, {}},
        Case{{"CONFIG", "GET", "maxmemory"}, C::kPassThrough, {}},
        Case{{"QUIT"}, C::kNodeLocal, {}},
        Case{{"WAIT", "1", "0"}, C::kNodeLocal, {}},
        Case{{"REPLICAOF", "127.0.0.1", "1"}, C::kRefused, {}},
        Case{{"SLAVEOF", "NO", "ONE"}, C::kRefused, {}},
        Case{{"SHUTDOWN"}, C::kNodeLocal, {}},  // stops the node it is sent to
        Case{{"config", "set", "maxmemory", "1mb"}, C::kPassThrough, {}},  // the router logs it
        Case{{"DEBUG", "SEGFAULT"}, C::kRefused, {}},
        Case{{"MONITOR"}, C::kPassThrough, {}},  // the router answers it (the node's own; in MULTI the child's)
        Case{{"SYNC"}, C::kRefused, {}},
        Case{{"CLIENT", "KILL", "ID", "1"}, C::kPassThrough, {}},  // the router gives it to the node
        Case{{"BGSAVE"}, C::kRefused, {}},
        Case{{"MIGRATE", "h", "1", "k", "0", "1"}, C::kRefused, {}}));

TEST(CommandTableTest, UnknownCommandsAndArity) {
  std::vector<std::string_view> unknown = {"NOSUCHCOMMAND", "x"};
  EXPECT_EQ(Table().Lookup(unknown), nullptr);
  std::vector<std::string_view> get = {"get"};
  const CommandSpec* spec = Table().Lookup(get);
  ASSERT_NE(spec, nullptr);
  EXPECT_FALSE(CommandTable::ArityOk(*spec, 1));
  EXPECT_TRUE(CommandTable::ArityOk(*spec, 2));
  std::vector<std::string_view> set = {"set"};
  spec = Table().Lookup(set);
  EXPECT_TRUE(CommandTable::ArityOk(*spec, 5));
  EXPECT_FALSE(CommandTable::ArityOk(*spec, 2));
  EXPECT_GT(Table().size(), 200u);
}

TEST(CommandTableTest, KeyExtractionNeverReadsPastTheArguments) {
  // Wrong arity must not make key extraction run off the end: the child replies
  // with the arity error, the node must just not crash.
  for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
           {"MSET", "a"}, {"EVAL", "s", "5", "a"}, {"EVAL", "s", "-1"}, {"EVAL", "s", "x"},
           {"ZUNIONSTORE", "d", "99"}, {"XREAD", "STREAMS"}, {"BLPOP"}, {"SET"}}) {
    const CommandSpec* spec = Table().Lookup(args);
    ASSERT_NE(spec, nullptr);
    Keys keys = CommandTable::GetKeys(*spec, args);
    for (auto& k : keys.keys) EXPECT_LT(k.pos, args.size()) << args[0];
  }
}

// Settings that belong to the node are refused (but for the value they have:
// ReplicatedConfigTest.NodeSettingsMaySetTheValueTheyHave); the rest shape
// data and behaviour and are replicated through the log.
// Which commands a follower's own child may serve: plain reads of keys or of
// the keyspace; not scripts, pub/sub, writes, PFCOUNT (it rewrites its
// cache, which would make the children differ), or what shows an encoding.
TEST(CommandTableTest, FollowerReads) {
  auto follower_read = [](std::vector<std::string_view> args) {
    const CommandSpec* spec = Table().Lookup(args);
    return spec != nullptr && spec->follower_read;
  };
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"GET", "k"}, {"MGET", "a", "b"}, {"HGETALL", "h"}, {"ZRANGE", "z", "0", "-1"}, {"EXISTS", "k"},
           {"TTL", "k"}, {"DBSIZE"}, {"KEYS", "*"}, {"OBJECT", "REFCOUNT", "k"},
           {"XRANGE", "s", "-", "+"}}) {
    EXPECT_TRUE(follower_read(args)) << args[0];
  }
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"SET", "k", "v"}, {"PFCOUNT", "h"}, {"EVAL_RO", "return 1", "0"}, {"FCALL_RO", "f", "0"},
           {"BLPOP", "l", "0"}, {"XREAD", "STREAMS", "s", "0"}, {"PUBSUB", "CHANNELS"}, {"PING"},
           {"INFO"}, {"CLIENT", "LIST"}, {"GETEX", "k"}, {"SORT", "l"}, {"XINFO", "STREAM", "s"},
           {"XINFO", "GROUPS", "s"}, {"OBJECT", "FREQ", "k"}, {"OBJECT", "IDLETIME", "k"},
           // A child loaded from an RDB may hold a value in another encoding.
           {"OBJECT", "ENCODING", "k"}, {"MEMORY", "USAGE", "k"}, {"DUMP", "k"},
           // A replica may return an expired key (a master never does).
           {"RANDOMKEY"},
           // A cursor is a position in the child that made it (scan_cursor.h).
           {"SCAN", "0"}, {"HSCAN", "h", "0"}, {"SSCAN", "s", "0"}, {"ZSCAN", "z", "0"}}) {
    EXPECT_FALSE(follower_read(args)) << args[0];
  }
}

// A leader sends a scan's cursor to its child without the epoch it handed it
// out with, and tags the reply's (scan_cursor.h); inside MULTI too. A
// follower forwards scans as they came: the leader translates them.
TEST(RequestRouterTest, ScanCursorsTravelWithoutTheEpoch) {
  constexpr uint32_t kEpoch = 5;
  const std::string ours = std::to_string((uint64_t{kEpoch} << scan_cursor::kChildBits) | 42);
  for (const bool forwarding : {false, true}) {
    RequestRouter r(Table());
    RouteContext ctx;
    ctx.forwarding = forwarding;
    ctx.scan_epoch = kEpoch;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    Route scan = route({"SCAN", ours, "COUNT", "5"});
    Route hscan = route({"HSCAN", "h", ours});
    Route fresh = route({"SSCAN", "s", "0"});
    if (forwarding) {
      for (const Route* x : {&scan, &hscan, &fresh}) {
        EXPECT_EQ(x->tag, ReplyTag::kNone);
        EXPECT_EQ(x->DetailOrNone().rewritten, "");
      }
      continue;
    }
    EXPECT_EQ(scan.tag, ReplyTag::kScan);
    EXPECT_EQ(scan.DetailOrNone().scan_epoch, kEpoch);
    EXPECT_EQ(scan.DetailOrNone().rewritten, "*4\r\n$4\r\nSCAN\r\n$2\r\n42\r\n$5\r\nCOUNT\r\n$1\r\n5\r\n");
    EXPECT_EQ(hscan.DetailOrNone().rewritten, "*3\r\n$5\r\nHSCAN\r\n$1\r\nh\r\n$2\r\n42\r\n");
    EXPECT_EQ(fresh.tag, ReplyTag::kScan);
    EXPECT_EQ(fresh.DetailOrNone().rewritten, "") << "a cursor without an epoch goes as it came";
    route({"MULTI"});
    Route queued = route({"ZSCAN", "z", ours});
    EXPECT_TRUE(queued.queued);
    EXPECT_EQ(queued.tag, ReplyTag::kScan);
    EXPECT_EQ(queued.DetailOrNone().rewritten, "*3\r\n$5\r\nZSCAN\r\n$1\r\nz\r\n$2\r\n42\r\n");
  }
}

// Which requests may block (and so hold back the requests after them, and
// get the gate's blocking path): every blocking write; XREAD only with BLOCK.
// Regression: DEBUG MALLCTL with a value (which sets an allocator option on
// the leader's child, never logged) was forwarded as a look.
TEST(RequestRouterTest, DebugMallctlOnlyLooks) {
  RequestRouter r(Table());
  RouteContext ctx;
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  for (std::string_view sub : {"MALLCTL", "mallctl-str"}) {
    const Route look = route({"DEBUG", sub, "arena.0.dirty_decay_ms"});
    EXPECT_EQ(look.action, Route::Action::kForward) << sub;
    EXPECT_EQ(look.request.kind, gate::Kind::kRead) << sub;
    const Route set = route({"DEBUG", sub, "arena.0.dirty_decay_ms", "-1"});
    EXPECT_EQ(set.action, Route::Action::kReply) << sub;
    EXPECT_TRUE(set.reply.starts_with('-')) << sub;
  }
}

// Regressions: scripts the node cannot keep in step. redis.set_repl kept a
// script's writes out of the stream (the leader's child alone had them);
// SCRIPT DEBUG held the leader's child (the whole cluster stopped answering);
// DEBUG SET-DISABLE-DENY-SCRIPTS let scripts run what the node refuses; a
// SCRIPT LOAD of 30 MB, logged whole, cost an election; FUNCTION STATS was
// answered with no leadership confirmation.
TEST(RequestRouterTest, ScriptsTheNodeCannotKeepInStepAreRefused) {
  const std::string hidden = "redis.set_repl(redis.REPL_NONE) redis.call('SET', 'k', 'v')";
  const std::string big(5 << 20, ' ');
  const std::string library = "#!lua name=x\n" + hidden;
  // FUNCTION DUMP's format: the opcode, the code's 14-bit length, the code, the RDB version and a CRC64.
  const std::string dumped = std::string("\xf5") + static_cast<char>(0x40 | (library.size() >> 8)) +
                             static_cast<char>(library.size() & 0xff) + library + std::string(10, '\x01');
  for (const bool in_multi : {false, true}) {
    RequestRouter r(Table());
    RouteContext ctx;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    if (in_multi) ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
    for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
             {"EVAL", hidden, "0"},
             {"eval_ro", hidden, "0"},
             {"SCRIPT", "LOAD", hidden},
             {"FUNCTION", "LOAD", "REPLACE", library},
             {"FUNCTION", "RESTORE", dumped},
             {"SCRIPT", "DEBUG", "SYNC"},
             {"script", "debug", "yes"},
             {"SCRIPT", "LOAD", big},
             {"DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"}}) {
      const Route refused = route(args);
      EXPECT_EQ(refused.action, Route::Action::kReply) << args[0] << " " << args[1].substr(0, 20);
      EXPECT_TRUE(refused.reply.starts_with("-ERR")) << refused.reply;
    }
    EXPECT_EQ(route({"EVAL", "return redis.call('GET', KEYS[1])", "1", "k"}).action, Route::Action::kForward);
    EXPECT_EQ(route({"SCRIPT", "LOAD", "return 1"}).action, Route::Action::kForward);
  }
  RequestRouter r(Table());
  RouteContext ctx;
  // FUNCTION STATS says what script runs while one keeps the child busy:
  // it waits for nothing (GateEdgesTest.FunctionStatsIsAnsweredWhileAFunctionKeepsTheChildBusy).
  std::vector<std::string_view> stats = {"FUNCTION", "STATS"};
  const Route route = r.Decide(stats, ctx);
  EXPECT_EQ(route.request.kind, gate::Kind::kStateless);
  EXPECT_FALSE(route.request.whole_keyspace);
  std::vector<std::string_view> list = {"FUNCTION", "LIST"};
  const Route listed = r.Decide(list, ctx);
  EXPECT_EQ(listed.request.kind, gate::Kind::kRead);
  EXPECT_TRUE(listed.request.whole_keyspace);
}

// Regression: a request the node logs whole is one Raft entry, and nothing
// bounded its size but proto-max-bulk-len (512 MB): a huge CONFIG SET value or
// ACL SETUSER rule stalled the leader's loop (a 30 MB SCRIPT LOAD cost an
// election), and past the peer frame limit (256 MB) no follower could ever
// receive the entry. Every such request over 4 MB is refused (inside MULTI
// too, which aborts EXEC); smaller ones are logged.
TEST(RequestRouterTest, RequestsTheNodeLogsWholeAreBounded) {
  const std::string big(5 << 20, 'x');
  const std::string fits(3 << 20, 'x');
  const std::string pattern = "~" + big;
  for (const bool in_multi : {false, true}) {
    RequestRouter r(Table());
    RouteContext ctx;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
             {"CONFIG", "SET", "requirepass", fits}, {"ACL", "SETUSER", "u", "on", fits}, {"SCRIPT", "LOAD", fits}}) {
      if (in_multi) ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
      const Route logged = route(args);
      EXPECT_EQ(logged.action, Route::Action::kForward) << args[0] << " " << args[1];
      EXPECT_EQ(logged.tag, ReplyTag::kLog) << args[0] << " " << args[1];
      if (in_multi) ASSERT_EQ(route({"DISCARD"}).action, Route::Action::kForward);
    }
    if (in_multi) ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
    for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
             {"CONFIG", "SET", "requirepass", big},
             {"ACL", "SETUSER", "u", "on", pattern},
             {"acl", "setuser", "u", fits, fits},
             {"SCRIPT", "LOAD", big}}) {
      const Route refused = route(args);
      EXPECT_EQ(refused.action, Route::Action::kReply) << args[0] << " " << args[1];
      EXPECT_TRUE(refused.reply.starts_with("-ERR")) << refused.reply;
      EXPECT_NE(refused.tag, ReplyTag::kLog);
    }
    if (in_multi) EXPECT_EQ(route({"EXEC"}).action, Route::Action::kExecAbort);
  }
}

// Regression: a transaction's logged requests were checked one by one, so a
// MULTI of twenty 3.9 MB SCRIPT LOADs made 78 MB of entries at once: the
// leader's loop stalled into an election, and the new leader kept nineteen
// of them. Together (one entry now) they are bounded as one request is, and
// the state they build (which every snapshot holds) is bounded in all;
// requests that shrink it always pass.
TEST(RequestRouterTest, ATransactionsLoggedRequestsAndTheLoggedStateAreBounded) {
  const std::string three(3 << 20, 'x');
  {
    RequestRouter r(Table());
    RouteContext ctx;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
    EXPECT_EQ(route({"SCRIPT", "LOAD", three}).tag, ReplyTag::kLog);
    const Route second = route({"SCRIPT", "LOAD", three + "y"});
    EXPECT_EQ(second.action, Route::Action::kReply);
    EXPECT_TRUE(second.reply.starts_with("-ERR a transaction")) << second.reply;
    EXPECT_EQ(route({"EXEC"}).action, Route::Action::kExecAbort);
    // A new transaction starts from nothing.
    ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
    EXPECT_EQ(route({"SCRIPT", "LOAD", three}).tag, ReplyTag::kLog);
    EXPECT_EQ(route({"EXEC"}).action, Route::Action::kForward);
  }
  RequestRouter r(Table());
  RouteContext ctx;
  ctx.logged_bytes = (32 << 20) - (1 << 20);
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  const std::string two(2 << 20, 'x');
  for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
           {"SCRIPT", "LOAD", two}, {"ACL", "SETUSER", "u", "on", two}, {"CONFIG", "SET", "requirepass", two}}) {
    const Route refused = route(args);
    EXPECT_EQ(refused.action, Route::Action::kReply) << args[0];
    EXPECT_TRUE(refused.reply.starts_with("-ERR anarchoredis keeps at most 32 MB")) << refused.reply;
  }
  EXPECT_EQ(route({"SCRIPT", "LOAD", "return 1"}).tag, ReplyTag::kLog);
  for (std::vector<std::string_view> args :
       std::vector<std::vector<std::string_view>>{{"SCRIPT", "FLUSH"}, {"ACL", "DELUSER", "u"}}) {
    EXPECT_EQ(route(args).action, Route::Action::kForward) << args[0];
  }
  // Inside MULTI, what the transaction queued counts too.
  ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
  EXPECT_EQ(route({"SCRIPT", "LOAD", std::string(600 << 10, 'a')}).tag, ReplyTag::kLog);
  EXPECT_EQ(route({"SCRIPT", "LOAD", std::string(600 << 10, 'b')}).action, Route::Action::kReply);
}

// Regression: ANARCHO.* ran at once inside MULTI (MULTI; ANARCHO.SNAPSHOT;
// DISCARD took a snapshot; MULTI; SET; ANARCHO.STATUS; EXEC answered the
// status where +QUEUED was due, and EXEC's array had one element for two
// commands). Refused where the transaction runs, which aborts EXEC.
TEST(RequestRouterTest, NodeCommandsInsideMultiAreRefused) {
  for (const bool forwarding : {false, true}) {
    RequestRouter r(Table());
    RouteContext ctx;
    ctx.forwarding = forwarding;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    ASSERT_EQ(route({"MULTI"}).action, Route::Action::kForward);
    for (std::string_view name : {"ANARCHO.SNAPSHOT", "anarcho.status", "ANARCHO.TRANSFER"}) {
      const Route in_multi = route({name});
      if (forwarding) {
        EXPECT_EQ(in_multi.action, Route::Action::kForward) << name << ": the leader refuses it";
      } else {
        EXPECT_EQ(in_multi.action, Route::Action::kReply) << name;
        EXPECT_TRUE(in_multi.reply.starts_with("-ERR")) << in_multi.reply;
      }
    }
    if (!forwarding) EXPECT_EQ(route({"EXEC"}).action, Route::Action::kExecAbort);
    if (forwarding) ASSERT_EQ(route({"EXEC"}).action, Route::Action::kForward);
    EXPECT_EQ(route({"ANARCHO.STATUS"}).action, Route::Action::kNodeCommand);
  }
}

// Regression: a CLIENT PAUSE queued inside MULTI held the shared link (or a
// follower's relay) as it was queued: after DISCARD for the whole pause, and
// after a late EXEC not at all by the time the child paused. It holds the link
// from EXEC on.
TEST(RequestRouterTest, AQueuedClientPauseHoldsTheLinkFromExec) {
  for (const bool forwarding : {false, true}) {
    RequestRouter r(Table());
    RouteContext ctx;
    ctx.forwarding = forwarding;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    auto pause = [](const Route& rt) { return rt.DetailOrNone().pause_ms; };
    EXPECT_EQ(pause(route({"CLIENT", "PAUSE", "100", "WRITE"})), 100);
    EXPECT_EQ(pause(route({"CLIENT", "UNPAUSE"})), 0);
    route({"MULTI"});
    EXPECT_FALSE(pause(route({"CLIENT", "PAUSE", "60000"})));
    EXPECT_FALSE(pause(route({"DISCARD"})));
    route({"MULTI"});
    EXPECT_FALSE(pause(route({"CLIENT", "PAUSE", "3000", "WRITE"})));
    EXPECT_FALSE(pause(route({"SET", "k", "v"})));
    EXPECT_EQ(pause(route({"EXEC"})), 3000);
    route({"MULTI"});
    EXPECT_FALSE(pause(route({"CLIENT", "UNPAUSE"})));
    EXPECT_EQ(pause(route({"EXEC"})), 0);
    route({"MULTI"});
    EXPECT_FALSE(pause(route({"EXEC"}))) << "no pause queued in this one";
  }
}

TEST(RequestRouterTest, BlockingAsSent) {
  for (const bool forwarding : {false, true}) {
    RequestRouter r(Table());
    RouteContext ctx;
    ctx.forwarding = forwarding;
    auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
    for (auto args : std::vector<std::vector<std::string_view>>{
             {"BLPOP", "l", "0"}, {"BLMOVE", "a", "b", "LEFT", "LEFT", "0"}, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"},
             {"xread", "COUNT", "1", "block", "10", "streams", "s", "0"}, {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"}}) {
      const Route rt = route(args);
      EXPECT_TRUE(rt.may_block && rt.stall) << args[0] << (forwarding ? " (forwarding)" : "");
      if (!forwarding) EXPECT_EQ(rt.request.kind, gate::Kind::kBlocking) << args[0];
    }
    // WAIT: the leader answers it (the session holds what follows), a follower forwards it.
    const Route wait = route({"WAIT", "1", "0"});
    if (forwarding) {
      EXPECT_TRUE(wait.may_block && wait.stall);
    } else {
      EXPECT_EQ(wait.action, Route::Action::kWait);
    }
    for (auto args : std::vector<std::vector<std::string_view>>{
             {"XREAD", "STREAMS", "s", "0"}, {"XREAD", "COUNT", "2", "STREAMS", "block", "0"}, {"GET", "k"}, {"SET", "k", "v"}}) {
      const Route rt = route(args);
      EXPECT_FALSE(rt.may_block || rt.stall) << args[0] << (forwarding ? " (forwarding)" : "");
      if (!forwarding && args[0] == "XREAD") EXPECT_EQ(rt.request.kind, gate::Kind::kRead);
    }
  }
}

// A follower's router: which requests its own child may serve, in which db.
TEST(RequestRouterTest, FollowerReadsFollowTheConnectionsState) {
  RequestRouter r(Table());
  RouteContext ctx;
  ctx.forwarding = true;
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  Route get = route({"GET", "k"});
  EXPECT_TRUE(get.follower_read);
  EXPECT_EQ(get.db, 0);
  EXPECT_FALSE(route({"SET", "k", "v"}).follower_read);
  EXPECT_FALSE(route({"GET"}).follower_read) << "an arity error is the leader's to count";
  EXPECT_FALSE(route({"GET", "a", "b"}).follower_read);
  Route select = route({"SELECT", "3"});
  EXPECT_TRUE(select.no_data) << "a read after a SELECT need not follow it to the leader";
  EXPECT_EQ(route({"GET", "k"}).db, 3);
  route({"SELECT", "03"});  // refused by Redis: the db stays
  EXPECT_EQ(route({"GET", "k"}).db, 3);
  // Inside MULTI reads are queued where the transaction runs.
  route({"MULTI"});
  EXPECT_FALSE(route({"GET", "k"}).follower_read);
  route({"SELECT", "5"});
  Route exec = route({"EXEC"});
  EXPECT_TRUE(exec.stall) << "the db after EXEC depends on whether it ran";
  r.ExecAnswered(true);
  EXPECT_EQ(route({"GET", "k"}).db, 5);
  // Client-side caching: the leader's child must see the reads it tracks.
  route({"CLIENT", "TRACKING", "ON"});
  EXPECT_FALSE(route({"GET", "k"}).follower_read);
  route({"CLIENT", "TRACKING", "OFF"});
  EXPECT_TRUE(route({"GET", "k"}).follower_read);
  route({"CLIENT", "TRACKING", "ON", "BCAST"});
  route({"RESET"});
  Route after_reset = route({"GET", "k"});
  EXPECT_TRUE(after_reset.follower_read);
  EXPECT_EQ(after_reset.db, 0);
}

// Regression (RequestRouterTest.ReadsAfterWatchGoToTheLeaderUntilItEnds): a
// follower served a watching client's reads from its own child, which holds
// only committed state: older than what WATCH saw on the leader, so a
// transaction built on such a read overwrote a write it never saw.
TEST(RequestRouterTest, ReadsAfterWatchGoToTheLeaderUntilItEnds) {
  RequestRouter r(Table());
  RouteContext ctx;
  ctx.forwarding = true;
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  for (auto end : std::vector<std::vector<std::string_view>>{{"EXEC"}, {"DISCARD"}, {"UNWATCH"}, {"RESET"}}) {
    SCOPED_TRACE(end[0]);
    route({"WATCH", "a", "b"});
    EXPECT_FALSE(route({"GET", "a"}).follower_read);
    EXPECT_FALSE(route({"GET", "b"}).follower_read);
    if (end[0] != "UNWATCH" && end[0] != "RESET") {
      route({"MULTI"});
      EXPECT_FALSE(route({"WATCH", "c"}).queued) << "Redis answers WATCH inside MULTI at once";
      EXPECT_TRUE(route({"UNWATCH"}).queued) << "and queues UNWATCH";
      EXPECT_FALSE(route({"GET", "a"}).follower_read);
    }
    route(end);
    if (end[0] == "EXEC") r.ExecAnswered(true);
    EXPECT_TRUE(route({"GET", "a"}).follower_read);
  }
}

// Regression (RequestRouterTest.FailedWritesAndSettingsReadsNameWhatTheyShow):
// a write's gate request named only the keys it writes, so its error (WRONGTYPE
// from a source key) did not wait for that key's uncommitted writes; CONFIG GET,
// SCRIPT EXISTS, ACL listings, FUNCTION LIST and INFO went through the gate as
// stateless, answered without a leadership confirmation.
TEST(RequestRouterTest, FailedWritesAndSettingsReadsNameWhatTheyShow) {
  RequestRouter r(Table());
  RouteContext ctx;
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  const Route store = route({"SINTERSTORE", "d", "k1", "k2"});
  EXPECT_EQ(store.request.kind, gate::Kind::kWrite);
  EXPECT_THAT(store.request.keys, ::testing::ElementsAre(gate::KeyOf(0, "d")));
  EXPECT_THAT(store.request.read_only_keys, ::testing::ElementsAre(gate::KeyOf(0, "k1"), gate::KeyOf(0, "k2")));
  EXPECT_TRUE(route({"SET", "k", "v"}).request.read_only_keys.empty());
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"CONFIG", "GET", "maxmemory"}, {"SCRIPT", "EXISTS", "abc"}, {"ACL", "LIST"}, {"ACL", "GETUSER", "u"}}) {
    const Route rt = route(args);
    EXPECT_EQ(rt.request.kind, gate::Kind::kRead) << args[0];
    EXPECT_TRUE(rt.request.settings) << args[0];
  }
  const Route functions = route({"FUNCTION", "LIST"});
  EXPECT_EQ(functions.request.kind, gate::Kind::kRead);
  EXPECT_TRUE(functions.request.whole_keyspace);
  const Route info = route({"INFO", "keyspace"});
  EXPECT_EQ(info.request.kind, gate::Kind::kRead);
  EXPECT_FALSE(info.request.whole_keyspace || info.request.settings) << "INFO waits for no write";
  route({"MULTI"});
  const Route load = route({"SCRIPT", "LOAD", "return 1"});
  EXPECT_TRUE(load.queued);
  EXPECT_EQ(load.tag, ReplyTag::kLog) << "SCRIPT LOAD inside MULTI reaches every member too";
  route({"CLIENT", "REPLY"});
  EXPECT_EQ(route({"EXEC"}).action, Route::Action::kExecAbort) << "an arity error aborts EXEC, as in Redis";
}

// Users: NOAUTH before authentication, AUTH tracked, ACL changes logged and
// listings filtered, and the node's own user out of every client's reach.
TEST(RequestRouterTest, UsersAsRedisHasThemAndTheNodesOwnUserHidden) {
  RequestRouter r(Table());
  RouteContext ctx;
  ctx.authenticated = false;
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
           {"GET", "k"}, {"PING"}, {"ANARCHO.STATUS"}, {"SHUTDOWN"}, {"CLIENT", "REPLY", "OFF"}, {"MULTI"}}) {
    Route denied = route(args);
    EXPECT_EQ(denied.action, Route::Action::kReply) << args[0];
    EXPECT_EQ(denied.reply, "-NOAUTH Authentication required.\r\n") << args[0];
  }
  Route auth = route({"AUTH", "alice", "pw"});
  EXPECT_EQ(auth.action, Route::Action::kForward);
  EXPECT_EQ(auth.tag, ReplyTag::kAuth);
  EXPECT_EQ(auth.DetailOrNone().auth_user, "alice");
  EXPECT_EQ(route({"AUTH", "pw"}).DetailOrNone().auth_user, "default");
  EXPECT_EQ(route({"HELLO", "3", "AUTH", "bob", "pw", "SETNAME", "x"}).DetailOrNone().auth_user, "bob");
  EXPECT_EQ(route({"QUIT"}).action, Route::Action::kReply);
  for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
           {"AUTH", "anarcho-node", "guess"}, {"HELLO", "3", "AUTH", "anarcho-node", "guess"}}) {
    EXPECT_EQ(route(args).reply, "-WRONGPASS invalid username-password pair or user is disabled.\r\n") << args[0];
  }
  ctx.authenticated = true;
  EXPECT_EQ(route({"GET", "k"}).action, Route::Action::kForward);
  EXPECT_EQ(route({"ACL", "SETUSER", "alice", "on"}).tag, ReplyTag::kLog);
  EXPECT_EQ(route({"ACL", "DELUSER", "alice"}).tag, ReplyTag::kLog);
  EXPECT_EQ(route({"ACL", "LIST"}).tag, ReplyTag::kAclUsers);
  EXPECT_EQ(route({"ACL", "USERS"}).tag, ReplyTag::kAclUsers);
  EXPECT_EQ(route({"CONFIG", "SET", "requirepass", "x"}).tag, ReplyTag::kLog);
  for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
           {"ACL", "SETUSER", "anarcho-node", "nopass"}, {"ACL", "DELUSER", "alice", "anarcho-node"},
           {"ACL", "GETUSER", "anarcho-node"}, {"ACL", "DRYRUN", "anarcho-node", "get", "k"}}) {
    Route refused = route(args);
    EXPECT_EQ(refused.action, Route::Action::kReply) << args[1];
    EXPECT_NE(refused.reply.find("reserved"), std::string::npos) << args[1];
  }
  // Inside MULTI the user would change only at EXEC: refused, and EXEC aborts.
  route({"MULTI"});
  EXPECT_NE(route({"AUTH", "pw"}).reply.find("inside MULTI"), std::string::npos);
  EXPECT_EQ(route({"EXEC"}).action, Route::Action::kExecAbort);
  // RESP2 subscribed: AUTH and ACL go the way the stream allows (a probe
  // first), never as a request whose reply would be taken from the stream.
  RequestRouter sub(Table());
  RouteContext sctx;
  sub.Decide(std::vector<std::string_view>{"SUBSCRIBE", "ch"}, sctx);
  EXPECT_EQ(sub.Decide(std::vector<std::string_view>{"AUTH", "pw"}, sctx).action, Route::Action::kProbe);
  EXPECT_EQ(sub.Decide(std::vector<std::string_view>{"ACL", "SETUSER", "a"}, sctx).action, Route::Action::kProbe);
  // A follower relays ACL requests; the leader logs and filters them.
  RequestRouter f(Table());
  RouteContext fctx;
  fctx.forwarding = true;
  EXPECT_EQ(f.Decide(std::vector<std::string_view>{"ACL", "SETUSER", "a"}, fctx).tag, ReplyTag::kNone);
  EXPECT_EQ(f.Decide(std::vector<std::string_view>{"AUTH", "a", "b"}, fctx).DetailOrNone().auth_user, "a");
}

// The @anarcho category: its rules checked and kept from the child, its
// commands listed, and ACL DRYRUN of them answered by the node.
TEST(RequestRouterTest, TheNodesAclCategory) {
  RequestRouter r(Table());
  NodeAcl acl;
  acl.SetUser(std::vector<std::string_view>{"ACL", "SETUSER", "mon", "on", "+info", "+anarcho.status"});
  RouteContext ctx;
  ctx.node_acl = &acl;
  auto route = [&](std::vector<std::string_view> args) { return r.Decide(args, ctx); };
  Route set = route({"ACL", "SETUSER", "ops", "on", "+@all", "-@anarcho", "+anarcho.status"});
  EXPECT_EQ(set.action, Route::Action::kForward);
  EXPECT_EQ(set.tag, ReplyTag::kLog);
  EXPECT_EQ(set.DetailOrNone().rewritten, "*5\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$3\r\nops\r\n$2\r\non\r\n$5\r\n+@all\r\n");
  EXPECT_EQ(route({"ACL", "SETUSER", "ops", "on"}).DetailOrNone().rewritten, "") << "nothing to take out: sent as it came";
  EXPECT_EQ(route({"ACL", "SETUSER", "ops", "+anarcho.nope"}).reply,
            "-ERR Error in ACL SETUSER modifier '+anarcho.nope': Unknown command or category name in ACL\r\n");
  EXPECT_EQ(route({"ACL", "GETUSER", "ops"}).tag, ReplyTag::kAclGetUser);
  EXPECT_EQ(route({"ACL", "GETUSER", "ops"}).DetailOrNone().acl_user, "ops");
  EXPECT_EQ(route({"ACL", "CAT"}).tag, ReplyTag::kAclCat);
  Route cat = route({"ACL", "CAT", "ANARCHO"});
  ASSERT_EQ(cat.action, Route::Action::kReply);
  EXPECT_NE(cat.reply.find("$14\r\nanarcho.status\r\n"), std::string::npos);
  EXPECT_EQ(route({"ACL", "DRYRUN", "mon", "ANARCHO.STATUS"}).reply, "+OK\r\n");
  EXPECT_EQ(route({"ACL", "DRYRUN", "mon", "anarcho.add", "4", "a:1:2"}).reply,
            "$61\r\nThis user has no permissions to run the 'anarcho.add' command\r\n");
  EXPECT_EQ(route({"ACL", "DRYRUN", "nobody", "anarcho.status"}).reply, "-ERR User 'nobody' not found\r\n");
  EXPECT_EQ(route({"ACL", "DRYRUN", "mon", "anarcho.nope"}).reply, "-ERR Command 'anarcho.nope' not found\r\n");
  EXPECT_EQ(route({"ACL", "DRYRUN", "mon", "get", "k"}).action, Route::Action::kForward) << "the child's";
}

// A router remembers the last command it found (RequestRouter::Spec): a
// request must still be routed exactly as a router that never saw the ones
// before it routes it, whatever came before (another command, the same one in
// another case, a subcommand of the same command, an unknown one).
TEST(RequestRouterTest, RememberedCommandNeverStandsForAnother) {
  const std::vector<std::vector<std::string_view>> requests = {
      {"SET", "k", "v"}, {"set", "k", "v"}, {"SETEX", "k", "1", "v"}, {"SETNX", "k", "v"}, {"GET", "k"},
      {"GET", "k", "extra"}, {"get", "k"}, {"GETDEL", "k"}, {"MSET", "a", "1", "b", "2"}, {"MGET", "a", "b"},
      {"CONFIG", "GET", "maxmemory"}, {"CONFIG", "SET", "maxmemory", "1"}, {"config", "resetstat"},
      {"OBJECT", "ENCODING", "k"}, {"OBJECT", "FREQ", "k"}, {"OBJECT", "NOSUCH", "k"}, {"CONFIG"}, {"BLPOP", "l", "0"}, {"XREAD", "STREAMS", "s", "0"},
      {"XREAD", "BLOCK", "0", "STREAMS", "s", "0"}, {"NOSUCH", "k"}, {"SE", "k"}, {"SETS", "k"},
      {"EVAL", "return 1", "1", "k"}, {"PING"}, {"INFO"}, {"DEL", "a", "b"}, {"SET", "k", "v", "EX", "5"}};
  RouteContext ctx;
  const auto same = [&](const Route& a, const Route& b, std::string_view what) {
    EXPECT_EQ(a.action, b.action) << what;
    EXPECT_EQ(a.request.kind, b.request.kind) << what;
    EXPECT_EQ(std::vector<uint64_t>(a.request.keys.begin(), a.request.keys.end()),
              std::vector<uint64_t>(b.request.keys.begin(), b.request.keys.end()))
        << what;
    EXPECT_EQ(a.request.whole_keyspace, b.request.whole_keyspace) << what;
    EXPECT_EQ(a.request.script, b.request.script) << what;
    EXPECT_EQ(a.tag, b.tag) << what;
    EXPECT_EQ(a.reply, b.reply) << what;
    EXPECT_EQ(a.may_block, b.may_block) << what;
    EXPECT_EQ(a.follower_read, b.follower_read) << what;
    EXPECT_EQ(a.shared, b.shared) << what;
    EXPECT_EQ(a.DetailOrNone().settings_check != nullptr, b.DetailOrNone().settings_check != nullptr) << what;
    EXPECT_EQ(a.DetailOrNone().rewritten, b.DetailOrNone().rewritten) << what;
    EXPECT_EQ(a.DetailOrNone().count, b.DetailOrNone().count) << what;
  };
  // Every request after every other one, on a router that just routed it.
  for (const auto& before : requests) {
    for (const auto& args : requests) {
      std::string what;
      for (std::string_view a : before) what.append(a).append(" ");
      what += "then";
      for (std::string_view a : args) what.append(" ").append(a);
      RequestRouter warm(Table());
      warm.Decide(before, ctx);
      RequestRouter fresh(Table());
      EXPECT_EQ(warm.Shareable(args, ctx), fresh.Shareable(args, ctx)) << what;
      same(warm.Decide(args, ctx), fresh.Decide(args, ctx), what);
    }
  }
}

TEST(NodeOwnedSettingTest, PersistenceReplicationNetworkAndProcessBelongToTheNode) {
  for (const char* name : {"save", "appendonly", "dir", "dbfilename", "aof-use-rdb-preamble", "replicaof",
                           "repl-backlog-size", "replica-read-only", "min-replicas-to-write", "port", "bind",
                           "timeout", "maxclients", "tls-port", "client-output-buffer-limit",
                           "loglevel", "cluster-enabled", "proto-max-bulk-len"}) {
    EXPECT_TRUE(NodeOwnedSetting(name).has_value()) << name;
  }
  for (const char* name : {"maxmemory", "maxmemory-policy", "hash-max-listpack-entries", "list-max-listpack-size",
                           "notify-keyspace-events", "busy-reply-threshold", "lua-time-limit",
                           "lazyfree-lazy-user-del", "slowlog-log-slower-than", "requirepass",
                           "no-such-setting"}) {
    EXPECT_FALSE(NodeOwnedSetting(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace node
