// Scans through a cluster (node/front/scan_cursor.h). Redis promises that a
// full iteration returns every element present from its start to its end;
// each child's cursors are positions in its own randomly seeded hash tables.
// These tests carry one scan across nodes, a leader change, a rebuilt child and
// a transaction, and check that nothing present throughout was missed.
#include <signal.h>

#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

constexpr int kKeys = 1500;
constexpr int kMembers = 1000;  // past every small encoding: hash tables, as keys are

// Keys k0.., a hash h, a set s and a sorted set z, through `c`.
void Fill(Client& c) {
  std::string pipeline;
  for (int i = 0; i < kKeys; ++i) pipeline += Req({"SET", absl::StrCat("k", i), "v"});
  for (int i = 0; i < kMembers; ++i) {
    const std::string m = absl::StrCat("m", i);
    pipeline += Req({"HSET", "h", m, "v"}) + Req({"SADD", "s", m}) + Req({"ZADD", "z", absl::StrCat(i), m});
  }
  c.Send(pipeline);
  for (int i = 0; i < kKeys + 3 * kMembers; ++i) ASSERT_TRUE(c.Read().has_value());
  ASSERT_EQ(c.Call({"OBJECT", "ENCODING", "h"}).AsString(), "hashtable");
  ASSERT_EQ(c.Call({"OBJECT", "ENCODING", "s"}).AsString(), "hashtable");
  ASSERT_EQ(c.Call({"OBJECT", "ENCODING", "z"}).AsString(), "skiplist");
}

// The leader, once the collections were written through it (-1 if none).
int FilledLeader(Cluster& c) {
  const int leader = c.WaitForLeader();
  if (leader >= 0) {
    Client w(c.port(leader));
    Fill(w);
  }
  return leader;
}

// One scan in progress: SCAN (no key) or HSCAN/SSCAN/ZSCAN of `key`.
struct Scan {
  std::string command;
  std::string key;
  std::string cursor = "0";
  std::set<std::string> seen;
  int calls = 0;

  bool done() const { return calls > 0 && cursor == "0"; }
  size_t expected() const { return key.empty() ? kKeys + 3 : kMembers; }
  // One call through `via`; false (with a failure) if it was refused.
  bool Step(Client& via) {
    std::vector<std::string> args = {command};
    if (!key.empty()) args.push_back(key);
    args.insert(args.end(), {cursor, "COUNT", "20"});
    resp::Value v = via.Call(args);
    EXPECT_EQ(v.elements.size(), 2u) << command << " " << cursor << ": " << Str(v);
    if (v.elements.size() != 2) return false;
    cursor = v.elements[0].AsString();
    uint64_t n = 0;
    EXPECT_TRUE(absl::SimpleAtoi(cursor, &n)) << cursor;
    EXPECT_LT(n, uint64_t{1} << 53) << "a cursor a JavaScript client would round";
    const bool pairs = command == "HSCAN" || command == "ZSCAN";
    const auto& elements = v.elements[1].elements;
    for (size_t i = 0; i < elements.size(); i += pairs ? 2 : 1) seen.insert(elements[i].AsString());
    ++calls;
    return true;
  }
  void Finish(Client& via) {
    while (!done() && calls < 10000 && Step(via)) {
    }
  }
};

std::vector<Scan> EveryScan() {
  return {{.command = "SCAN"}, {.command = "HSCAN", .key = "h"}, {.command = "SSCAN", .key = "s"},
          {.command = "ZSCAN", .key = "z"}};
}

void ExpectComplete(const Scan& s) {
  EXPECT_TRUE(s.done()) << s.command;
  EXPECT_EQ(s.seen.size(), s.expected()) << s.command << " missed elements present throughout, in " << s.calls
                                          << " calls";
}

// Every scan to its end through `via`, each complete.
void FinishEach(std::vector<Scan>& scans, Client& via) {
  for (Scan& s : scans) {
    s.Finish(via);
    ExpectComplete(s);
  }
}

// Makes node `i` the leader and returns true.
bool LeadWith(Cluster& c, int i) {
  const int leader = c.WaitForLeader();
  if (leader < 0) return false;
  if (leader != i) {
    Client admin(c.port(leader));
    if (admin.Call({"ANARCHO.TRANSFER", absl::StrCat(c.id(i))}).IsError()) return false;
  }
  return c.WaitForLeader(20s, {i}) == i;
}

// Each call of a scan through the next node in turn: followers' children are
// other processes, and serve no scan of their own.
TEST(ScanTest, ScanWhoseCallsGoToEveryNodeReturnsEveryElement) {
  Cluster c;
  ASSERT_GE(FilledLeader(c), 0);
  std::vector<std::unique_ptr<Client>> via;
  for (int i = 0; i < c.size(); ++i) via.push_back(std::make_unique<Client>(c.port(i)));
  for (Scan& s : EveryScan()) {
    for (int call = 0; !s.done() && call < 10000; ++call) {
      if (!s.Step(*via[call % c.size()])) break;
    }
    ExpectComplete(s);
  }
}

// A scan begun on one leader goes on through the next: the new leader's child
// does not know the old one's cursors, so the scan starts again there.
TEST(ScanTest, ScanGoesOnAcrossALeaderChange) {
  Cluster c;
  ASSERT_TRUE(LeadWith(c, 0));
  Client first(c.port(0));
  Fill(first);
  std::vector<Scan> scans = EveryScan();
  for (Scan& s : scans) {
    for (int call = 0; call < 3; ++call) ASSERT_TRUE(s.Step(first));
    ASSERT_FALSE(s.done());
  }
  ASSERT_TRUE(LeadWith(c, 1));
  Client next(c.port(2));  // a follower now: it forwards to node 1
  FinishEach(scans, next);
}

// The leader's child is killed mid-scan and rebuilt from the log: a new
// process, whose hash tables are seeded anew.
TEST(ScanTest, ScanGoesOnAcrossARebuiltChild) {
  Cluster c;
  const int leader = FilledLeader(c);
  ASSERT_GE(leader, 0);
  std::vector<Scan> scans = EveryScan();
  {
    Client before(c.port(leader));
    for (Scan& s : scans) {
      for (int call = 0; call < 3; ++call) ASSERT_TRUE(s.Step(before));
    }
  }
  const pid_t old_child = c.node(leader).ChildPid();
  ASSERT_GT(old_child, 0);
  ::kill(old_child, SIGKILL);
  // Whoever leads once a child answers again.
  resp::Value probe;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int now = c.WaitForLeader();
    if (now >= 0) {
      Client after(c.port(now));
      probe = after.Call({"GET", "k0"});
      if (probe.AsString() == "v" && c.node(now).ChildPid() != old_child) return FinishEach(scans, after);
    }
    std::this_thread::sleep_for(100ms);
  }
  FAIL() << "no child answered after the rebuild: " << Str(probe);
}

// Inside MULTI the scans' replies come inside EXEC's: their cursors carry the
// epoch there too, and so go on after a leader change.
TEST(ScanTest, ScansInsideMultiCarryTheEpoch) {
  Cluster c;
  ASSERT_TRUE(LeadWith(c, 0));
  Client first(c.port(0));
  Fill(first);
  std::vector<Scan> scans = EveryScan();
  ASSERT_EQ(first.Call({"MULTI"}).AsString(), "OK");
  ASSERT_EQ(first.Call({"PING"}).AsString(), "QUEUED");
  for (Scan& s : scans) {
    std::vector<std::string> args = {s.command};
    if (!s.key.empty()) args.push_back(s.key);
    args.insert(args.end(), {"0", "COUNT", "20"});
    ASSERT_EQ(first.Call(args).AsString(), "QUEUED");
  }
  resp::Value exec = first.Call({"EXEC"});
  ASSERT_EQ(exec.elements.size(), scans.size() + 1) << Str(exec);
  for (size_t i = 0; i < scans.size(); ++i) {
    const resp::Value& reply = exec.elements[i + 1];
    ASSERT_EQ(reply.elements.size(), 2u) << Str(reply);
    scans[i].cursor = reply.elements[0].AsString();
    scans[i].calls = 1;
    uint64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(scans[i].cursor, &n));
    EXPECT_GE(n, uint64_t{1} << 36) << "no epoch in " << scans[i].cursor;
    const bool pairs = scans[i].command == "HSCAN" || scans[i].command == "ZSCAN";
    for (size_t j = 0; j < reply.elements[1].elements.size(); j += pairs ? 2 : 1) {
      scans[i].seen.insert(reply.elements[1].elements[j].AsString());
    }
  }
  ASSERT_TRUE(LeadWith(c, 1));
  Client next(c.port(1));
  FinishEach(scans, next);
}

// Cursors the node did not hand out reach the child as the client sent them:
// Redis's own errors, and a script's cursor (which carries no epoch) going on
// in the same child.
TEST(ScanTest, CursorsTheNodeDidNotMakePassAsTheyAre) {
  Cluster c;
  const int leader = FilledLeader(c);
  ASSERT_GE(leader, 0);
  Client w(c.port(leader));
  for (const std::string& cursor : {std::string("x"), std::string(" 1"), std::string("18446744073709551616")}) {
    EXPECT_EQ(Str(w.Call({"SCAN", cursor})), "(error) ERR invalid cursor") << cursor;
    EXPECT_EQ(Str(w.Call({"HSCAN", "h", cursor})), "(error) ERR invalid cursor") << cursor;
  }
  resp::Value first = w.Call({"EVAL", "return redis.call('scan', '0', 'count', '20')", "0"});
  ASSERT_EQ(first.elements.size(), 2u) << Str(first);
  Scan s{.command = "SCAN", .cursor = first.elements[0].AsString(), .calls = 1};
  uint64_t n = 0;
  ASSERT_TRUE(absl::SimpleAtoi(s.cursor, &n));
  ASSERT_LT(n, uint64_t{1} << 36) << "a script's cursor is the child's own";
  for (const resp::Value& key : first.elements[1].elements) s.seen.insert(key.AsString());
  s.Finish(w);
  ExpectComplete(s);
}

}  // namespace
}  // namespace itest
