// Users and authentication: AUTH, HELLO AUTH, requirepass and ACL users
// behave through a cluster's follower as on a plain redis-server (the same
// requests, compared reply by reply), reach every member, survive restarts
// and snapshots, guard the node's own commands, and never expose the node's
// own user.
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cluster_harness.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "node_fixture.h"
#include "resp/writer.h"

namespace itest {
namespace {

using namespace std::chrono_literals;

// A request on one of several named connections; connections open on first use.
struct Step {
  std::string who;
  std::vector<std::string> args;
  // kRules: ACL GETUSER, LIST and CAT, with each list sorted (Redis lists
  // commands in its command table's hash order, which a random seed makes
  // differ from one process to the next).
  enum class Compare { kRaw, kAclLog, kNotError, kRules } compare = Compare::kRaw;
};

class World {
 public:
  explicit World(int port) : port_(port) {}
  Client& operator[](const std::string& who) {
    auto& c = clients_[who];
    if (!c) c = std::make_unique<Client>(port_);
    return *c;
  }

 private:
  int port_;
  std::map<std::string, std::unique_ptr<Client>> clients_;
};

// ACL LOG entries without what differs between two servers by nature
// (timestamps, client ids and addresses).
std::string AclLogEntries(const resp::Value& v) {
  std::vector<std::string> out;
  for (const resp::Value& entry : v.elements) {
    std::string fields;
    for (size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
      const std::string name = entry.elements[i].AsString();
      if (name == "count" || name == "reason" || name == "context" || name == "object" || name == "username") {
        absl::StrAppend(&fields, name, "=", Str(entry.elements[i + 1]), " ");
      }
    }
    out.push_back(fields);
  }
  return absl::StrJoin(out, "\n");
}

std::string SortedRules(const resp::Value& v) {
  if (v.type == resp::Type::kArray || v.type == resp::Type::kMap) {
    std::vector<std::string> parts;
    for (const resp::Value& e : v.elements) parts.push_back(SortedRules(e));
    std::sort(parts.begin(), parts.end());
    return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
  }
  std::vector<std::string> words = absl::StrSplit(Str(v), ' ');
  std::sort(words.begin(), words.end());
  return absl::StrJoin(words, " ");
}

// Runs `steps` on both worlds; the first difference, or "".
std::string Difference(World& node, World& plain, const std::vector<Step>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    std::vector<std::string_view> views(s.args.begin(), s.args.end());
    std::string req;
    resp::AppendCommand(&req, views);
    const std::string what = absl::StrCat("step ", i, " (", s.who, ": ", absl::StrJoin(s.args, " "), ")");
    node[s.who].Send(req);
    plain[s.who].Send(req);
    if (s.compare == Step::Compare::kRaw) {
      auto a = node[s.who].ReadRaw(10s);
      auto b = plain[s.who].ReadRaw(10s);
      if (!a || !b) return absl::StrCat(what, ": no reply");
      if (*a != *b) return absl::StrCat(what, ": node ", *a, " redis ", *b);
      continue;
    }
    auto a = node[s.who].Read(10s);
    auto b = plain[s.who].Read(10s);
    if (!a || !b) return absl::StrCat(what, ": no reply");
    if (s.compare == Step::Compare::kNotError) {
      if (a->IsError() != b->IsError()) return absl::StrCat(what, ": node ", Str(*a), " redis ", Str(*b));
    } else if (s.compare == Step::Compare::kRules) {
      if (SortedRules(*a) != SortedRules(*b)) {
        return absl::StrCat(what, ": node ", SortedRules(*a), " redis ", SortedRules(*b));
      }
    } else if (AclLogEntries(*a) != AclLogEntries(*b)) {
      return absl::StrCat(what, ": node\n", AclLogEntries(*a), "\nredis\n", AclLogEntries(*b));
    }
  }
  return "";
}

int Follower(Cluster& c, int leader) { return (leader + 1) % c.size(); }

// Waits until node i applied `n` user changes.
bool WaitForAclChanges(Cluster& c, int i, const std::string& n) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    if (c.Status(i)["acl_changes"] == n) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(AclTest, UsersBehaveAsInRedisThroughAFollower) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  RedisServer ref({"--enable-debug-command", "yes"});
  World node(c.port(Follower(c, leader)));
  World plain(ref.port());
  using C = Step::Compare;
  const std::vector<Step> users = {
      {"admin", {"ACL", "SETUSER", "alice", "on", ">pw", "~cached:*", "&chan:*", "+get", "+set", "+ping",
                 "+acl|whoami", "+publish"}},
      {"admin", {"ACL", "SETUSER", "bob", "off", ">bobpw", "~*", "+@all"}},
      {"admin", {"ACL", "SETUSER", "carol", "on", ">c1", ">c2", "%R~ro:*", "%W~wo:*", "+@all", "-debug"}},
      {"admin", {"ACL", "SETUSER", "dave", "on", "nopass", "allkeys", "+@read", "-@dangerous"}},
      {"admin", {"ACL", "SETUSER", "alice", "badrule"}},
      {"admin", {"ACL", "GETUSER", "alice"}, C::kRules},
      {"admin", {"ACL", "GETUSER", "carol"}, C::kRules},
      {"admin", {"ACL", "GETUSER", "nobody"}},
      {"admin", {"ACL", "USERS"}},
      {"admin", {"ACL", "LIST"}, C::kRules},
      {"admin", {"ACL", "WHOAMI"}},
      {"admin", {"ACL", "CAT"}, C::kNotError},  // the node adds its category, anarcho (NodeCommandsNeedPermissions)
      {"admin", {"ACL", "CAT", "string"}, C::kRules},
      {"admin", {"ACL", "DRYRUN", "alice", "set", "cached:1", "x"}},
      {"admin", {"ACL", "DRYRUN", "alice", "set", "other", "x"}},
      {"admin", {"ACL", "DRYRUN", "alice", "del", "cached:1"}},
      {"admin", {"ACL", "DRYRUN", "nobody", "get", "x"}},
      {"admin", {"SET", "ro:1", "r"}},
      {"alice", {"AUTH", "alice", "wrong"}},
      {"alice", {"ACL", "WHOAMI"}},
      {"alice", {"AUTH", "alice", "pw"}},
      {"alice", {"ACL", "WHOAMI"}},
      {"alice", {"SET", "cached:1", "v"}},
      {"alice", {"GET", "cached:1"}},
      {"alice", {"SET", "other", "1"}},
      {"alice", {"GET", "other"}},
      {"alice", {"DEL", "cached:1"}},
      {"alice", {"PUBLISH", "chan:1", "hi"}},
      {"alice", {"PUBLISH", "secret", "hi"}},
      {"alice", {"MULTI"}},
      {"alice", {"SET", "cached:2", "v"}},
      {"alice", {"INCR", "cached:3"}},
      {"alice", {"EXEC"}},
      {"alice", {"SELECT", "1"}},
      {"alice", {"SET", "cached:9", "in-db-0"}},
      {"admin", {"GET", "cached:9"}},
      {"alice", {"EVAL", "return 1", "0"}},
      {"alice", {"PING"}},
      {"alice", {"CONFIG", "GET", "maxmemory"}},
      {"bob", {"AUTH", "bob", "bobpw"}},
      {"bob", {"HELLO", "3", "AUTH", "bob", "bobpw"}},
      {"carol", {"AUTH", "carol", "c2"}},
      {"carol", {"GET", "ro:1"}},
      {"carol", {"SET", "ro:1", "x"}},
      {"carol", {"SET", "wo:1", "x"}},
      {"carol", {"GET", "wo:1"}},
      {"carol", {"DEBUG", "SLEEP", "0"}},
      {"dave", {"AUTH", "dave", "anything"}},
      {"dave", {"GET", "ro:1"}},
      {"dave", {"SET", "x", "1"}},
      {"dave", {"KEYS", "*"}},
      {"admin", {"ACL", "LOG"}, C::kAclLog},
      {"admin", {"ACL", "LOG", "RESET"}},
      {"admin", {"ACL", "DELUSER", "bob", "nobody"}},
      {"admin", {"ACL", "DELUSER", "default"}},
      {"admin", {"ACL", "USERS"}},
      // The default user gets a password: connections made from now on
      // must authenticate; those already authenticated stay so.
      {"admin", {"CONFIG", "SET", "requirepass", "sekret"}},
      {"admin", {"CONFIG", "GET", "requirepass"}},
      {"admin", {"GET", "ro:1"}},
  };
  ASSERT_EQ(Difference(node, plain, users), "");
  // Every member applied the password before a new connection counts on it.
  c.UseAuth("default", "sekret");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "4")) << i;  // alice, carol, dave, requirepass
  const std::vector<Step> password = {
      {"anon", {"GET", "ro:1"}},
      {"anon", {"SET", "ro:1", "x"}},
      {"anon", {"PING"}},
      {"anon", {"NOSUCHCOMMAND"}},
      {"anon", {"GET"}},
      {"anon", {"AUTH", "wrong"}},
      {"anon", {"HELLO", "2"}},
      {"anon", {"AUTH", "sekret"}},
      {"anon", {"GET", "ro:1"}},
      {"anon", {"RESET"}},
      {"anon", {"GET", "ro:1"}},
      {"anon", {"HELLO", "2", "AUTH", "default", "sekret"}, C::kNotError},
      {"anon", {"ACL", "WHOAMI"}},
      {"anon", {"HELLO", "2", "AUTH", "carol", "c1"}, C::kNotError},
      {"anon", {"ACL", "WHOAMI"}},
      {"anon", {"SET", "ro:1", "x"}},
      {"admin", {"ACL", "LOG"}, C::kAclLog},
  };
  const std::string diff = Difference(node, plain, password);
  EXPECT_EQ(diff, "");
  EXPECT_TRUE(c.WaitConverged());
}

// The node's own commands act with the node's rights: a client's user needs
// them granted, by the @anarcho category or one by one (+@all holds them,
// +@admin does not), and its own permission for SHUTDOWN and CLIENT KILL.
TEST(AclTest, NodeCommandsNeedPermissions) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = Follower(c, leader);
  Client admin(c.port(follower));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "viewer", "on", ">v", "~*", "+get", "+info", "+anarcho.status",
                            "+ANARCHO.HEALTH"})),
            "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "operator", "on", ">o", "~*", "+@all"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "redis-admin", "on", ">r", "~*", "+@admin"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "app", "on", ">a", "~*", "+@all", "-@anarcho"})), "OK");
  EXPECT_EQ(Str(admin.Call({"ACL", "SETUSER", "app", "+anarcho.nope", "+get"})),
            "(error) ERR Error in ACL SETUSER modifier '+anarcho.nope': Unknown command or category name in ACL");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "4")) << i;
  // Shown as Redis shows a category's rules, on any node.
  EXPECT_EQ(Str(admin.Call({"ACL", "DRYRUN", "viewer", "ANARCHO.STATUS"})), "OK");
  EXPECT_EQ(Str(admin.Call({"ACL", "DRYRUN", "app", "anarcho.status"})),
            "This user has no permissions to run the 'anarcho.status' command");
  EXPECT_TRUE(absl::StrContains(Str(admin.Call({"ACL", "CAT"})), "anarcho"));
  EXPECT_TRUE(absl::StrContains(Str(admin.Call({"ACL", "CAT", "anarcho"})), "anarcho.transfer"));
  const std::string list = Str(admin.Call({"ACL", "LIST"}));
  EXPECT_TRUE(absl::StrContains(list, "+@all -@anarcho")) << list;
  EXPECT_TRUE(absl::StrContains(list, "+anarcho.health +anarcho.status")) << list;
  EXPECT_TRUE(absl::StrContains(Str(admin.Call({"ACL", "GETUSER", "redis-admin"})), "-@all +@admin"));
  for (int i = 0; i < c.size(); ++i) {
    auto child = c.ChildCall(i, {"ACL", "LIST"});
    ASSERT_TRUE(child.ok()) << i;
    for (const resp::Value& line : child->elements) {
      EXPECT_FALSE(absl::StrContains(line.AsString(), "anarcho.")) << "the child never sees them: " << line.AsString();
    }
  }
  for (int i : {leader, follower}) {
    Client viewer(c.port(i));
    ASSERT_EQ(Str(viewer.Call({"AUTH", "viewer", "v"})), "OK");
    EXPECT_FALSE(viewer.Call({"ANARCHO.STATUS"}).IsError());
    EXPECT_FALSE(viewer.Call({"ANARCHO.HEALTH"}).IsError());
    EXPECT_EQ(Str(viewer.Call({"ANARCHO.TRANSFER", "1"})),
              "(error) NOPERM this user has no permissions to run the 'anarcho.transfer' command");
    EXPECT_EQ(Str(viewer.Call({"ANARCHO.SNAPSHOT"})),
              "(error) NOPERM this user has no permissions to run the 'anarcho.snapshot' command");
    EXPECT_EQ(Str(viewer.Call({"CLIENT", "KILL", "ID", "1"})),
              "(error) NOPERM this user has no permissions to run the 'client|kill' command");
    EXPECT_EQ(Str(viewer.Call({"SHUTDOWN", "NOSAVE"})),
              "(error) NOPERM this user has no permissions to run the 'shutdown' command");
    EXPECT_EQ(Str(viewer.Call({"MONITOR"})),
              "(error) NOPERM this user has no permissions to run the 'monitor' command");
    EXPECT_EQ(Str(viewer.Call({"GET", "nothing"})), "(nil)") << "not a monitor";
    // WAIT is answered by the node, as the user's rules say.
    EXPECT_EQ(Str(viewer.Call({"WAIT", "0", "0"})),
              "(error) NOPERM this user has no permissions to run the 'wait' command");
    EXPECT_TRUE(c.node(i).process().Running());
    Client op(c.port(i));
    ASSERT_EQ(Str(op.Call({"AUTH", "operator", "o"})), "OK");
    EXPECT_FALSE(op.Call({"ANARCHO.SNAPSHOT"}).IsError());
    EXPECT_TRUE(absl::StartsWith(Str(op.Call({"WAIT", "1", "0"})), "(integer) "));
    for (auto [user, password] : {std::pair{"redis-admin", "r"}, std::pair{"app", "a"}}) {
      Client other(c.port(i));
      ASSERT_EQ(Str(other.Call({"AUTH", user, password})), "OK");
      EXPECT_EQ(Str(other.Call({"ANARCHO.STATUS"})),
                "(error) NOPERM this user has no permissions to run the 'anarcho.status' command")
          << user;
    }
  }
  // Restricted users' writes are acknowledged: their replication offsets are
  // learnt on the node's own link (they may not run ROLE), also for failed
  // writes and transactions.
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "writer", "on", ">w", "~w:*", "+set", "+get", "+lpush", "+multi",
                             "+exec"})),
            "OK");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "5")) << i;
  Client writer(c.port(leader));
  ASSERT_EQ(Str(writer.Call({"AUTH", "writer", "w"})), "OK");
  EXPECT_EQ(Str(writer.Call({"SET", "w:1", "v"})), "OK");
  EXPECT_TRUE(absl::StartsWith(Str(writer.Call({"LPUSH", "w:1", "x"})), "(error) WRONGTYPE"));
  writer.Call({"MULTI"});
  writer.Call({"SET", "w:2", "v"});
  EXPECT_EQ(Str(writer.Call({"EXEC"})), "[OK]");
  EXPECT_EQ(Str(writer.Call({"GET", "w:2"})), "v");
  EXPECT_TRUE(absl::StartsWith(Str(writer.Call({"ROLE"})), "(error) NOPERM"));
  // ACL LOG shows the client's address, not the child's socket.
  const std::string log = Str(admin.Call({"ACL", "LOG", "1"}));
  EXPECT_TRUE(absl::StrContains(log, "addr=127.0.0.1:")) << log;
  EXPECT_FALSE(absl::StrContains(log, "redis.sock")) << log;
  Client check(c.port(follower));
  EXPECT_EQ(Str(check.Call({"GET", "w:2"})), "v");
  // Unauthenticated, once the default user has a password: NOAUTH.
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "p"})), "OK");
  c.UseAuth("default", "p");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "6")) << i;
  for (int i : {leader, follower}) {
    Client anon(c.port(i));
    EXPECT_EQ(Str(anon.Call({"ANARCHO.STATUS"})), "(error) NOAUTH Authentication required.");
    EXPECT_EQ(Str(anon.Call({"SHUTDOWN"})), "(error) NOAUTH Authentication required.");
    EXPECT_TRUE(c.node(i).process().Running());
  }
  EXPECT_TRUE(c.WaitConverged());
}

// The router predicts MULTI and SELECT succeed; a user may be refused them.
// Refused, they change nothing: the writes after them are plain writes in
// the same db, acknowledged once durable. A user who may run MULTI but not
// DISCARD leaves the child's transaction open: the node closes the connection.
TEST(AclTest, RefusedTransactionsAndSelectsKeepTheNodeInStep) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client admin(c.port(leader));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "nomulti", "on", ">p", "~*", "+set", "+get"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "noexec", "on", ">p", "~*", "+set", "+multi"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "nodiscard", "on", ">p", "~*", "+set", "+multi", "+exec"})), "OK");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "3")) << i;
  for (int i : {leader, Follower(c, leader)}) {
    Client u(c.port(i));
    ASSERT_EQ(Str(u.Call({"AUTH", "nomulti", "p"})), "OK");
    u.Send(Req({"MULTI"}) + Req({"SET", "t", std::to_string(i)}) + Req({"SELECT", "2"}) + Req({"SET", "s", "x"}) +
           Req({"EXEC"}) + Req({"GET", "t"}));
    EXPECT_TRUE(absl::StartsWith(Str(*u.Read()), "(error) NOPERM"));
    EXPECT_EQ(Str(*u.Read()), "OK");
    EXPECT_TRUE(absl::StartsWith(Str(*u.Read()), "(error) NOPERM"));
    EXPECT_EQ(Str(*u.Read()), "OK");
    EXPECT_TRUE(absl::StartsWith(Str(*u.Read()), "(error) EXECABORT Transaction discarded because of: NOPERM"));
    EXPECT_EQ(Str(*u.Read()), std::to_string(i));
    EXPECT_EQ(Str(admin.Call({"GET", "s"})), "x") << "db 0: the SELECT was refused";
    Client v(c.port(i));
    ASSERT_EQ(Str(v.Call({"AUTH", "noexec", "p"})), "OK");
    v.Send(Req({"MULTI"}) + Req({"SET", "q", "1"}) + Req({"EXEC"}));
    EXPECT_EQ(Str(*v.Read()), "OK");
    EXPECT_EQ(Str(*v.Read()), "QUEUED");
    EXPECT_TRUE(absl::StartsWith(Str(*v.Read()), "(error) EXECABORT Transaction discarded because of: NOPERM"));
    EXPECT_EQ(Str(v.Call({"SET", "q", "2"})), "OK") << "EXECABORT ended the transaction";
    Client w(c.port(i));
    ASSERT_EQ(Str(w.Call({"AUTH", "nodiscard", "p"})), "OK");
    w.Send(Req({"MULTI"}) + Req({"SET", "r", "1"}) + Req({"DISCARD"}) + Req({"EXEC"}));
    EXPECT_EQ(Str(*w.Read()), "OK");
    std::string replies;
    while (auto r = w.Read(5s)) absl::StrAppend(&replies, Str(*r), "\n");
    EXPECT_TRUE(absl::StrContains(replies, "NOPERM this user has no permissions to run the 'discard' command"))
        << replies;
    EXPECT_TRUE(w.ClosedByPeer()) << "the child's transaction is still open";
    EXPECT_EQ(Str(admin.Call({"EXISTS", "r"})), "(integer) 0");
  }
  EXPECT_TRUE(c.WaitConverged());
}

// The node's own user in each child: never usable, changeable or listed.
TEST(AclTest, NodeUserIsHiddenAndOutOfReach) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int i : {leader, Follower(c, leader)}) {
    Client cl(c.port(i));
    EXPECT_EQ(Str(cl.Call({"AUTH", "anarcho-node", "guess"})),
              "(error) WRONGPASS invalid username-password pair or user is disabled.");
    EXPECT_TRUE(cl.Call({"HELLO", "3", "AUTH", "anarcho-node", "guess"}).IsError());
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"ACL", "SETUSER", "anarcho-node", "nopass"}, {"ACL", "DELUSER", "anarcho-node"},
             {"ACL", "GETUSER", "anarcho-node"}, {"ACL", "DRYRUN", "anarcho-node", "get", "k"}}) {
      EXPECT_TRUE(absl::StrContains(Str(cl.Call(args)), "reserved")) << args[1];
    }
    EXPECT_EQ(Str(cl.Call({"ACL", "USERS"})), "[default]");
    EXPECT_EQ(Str(cl.Call({"ACL", "LIST"})), "[user default on nopass ~* &* +@all]");
    EXPECT_FALSE(absl::StrContains(Str(cl.Call({"CLIENT", "LIST"})), "anarcho-node"));
  }
  // The child's config holds only the password's hash.
  auto list = c.ChildCall(leader, {"ACL", "LIST"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(absl::StrContains(Str(*list), "user anarcho-node on #")) << Str(*list);
}

// Regression (AclTest.AUserCannotHideBehindTheNodesLinkNames): a client
// named anarcho:... passed for one of the node's own links, hidden from
// CLIENT LIST, CLIENT KILL USER, MONITOR and SLOWLOG. Once users are in use
// (the relay, which needs the name, runs only before) such names are refused.
TEST(AclTest, AUserCannotHideBehindTheNodesLinkNames) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = Follower(c, leader);
  ASSERT_EQ(Str(Client(c.port(leader)).Call({"ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all"})), "OK");
  ASSERT_TRUE(WaitForAclChanges(c, follower, "1"));
  for (int i : {leader, follower}) {
    Client alice(c.port(i));
    ASSERT_EQ(Str(alice.Call({"AUTH", "alice", "pw"})), "OK");
    const std::string refused = "(error) ERR client names starting with 'anarcho:' are reserved for the node's own links";
    EXPECT_EQ(Str(alice.Call({"CLIENT", "SETNAME", "anarcho:shared"})), refused);
    EXPECT_EQ(Str(alice.Call({"HELLO", "2", "SETNAME", "anarcho:x"})), refused);
    EXPECT_EQ(Str(alice.Call({"HELLO", "2", "AUTH", "alice", "pw", "SETNAME", "anarcho:x"})), refused);
    EXPECT_EQ(Str(alice.Call({"CLIENT", "SETNAME", "anarchoish"})), "OK");
    EXPECT_EQ(Str(alice.Call({"CLIENT", "GETNAME"})), "anarchoish");
    Client admin(c.port(i));
    EXPECT_TRUE(absl::StrContains(Str(admin.Call({"CLIENT", "LIST"})), "name=anarchoish")) << i;
    EXPECT_EQ(Str(admin.Call({"CLIENT", "KILL", "USER", "alice"})), "(integer) 1") << i;
  }
}

// Users reach every member's child, and a restarted node, a node rebuilt
// from a snapshot and a node that joins empty all have them.
TEST(AclTest, UsersReachEveryMemberAndSurviveRestartsAndSnapshots) {
  Cluster c({.nodes = 3});
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client admin(c.port(leader));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "alice", "on", ">pw", "~a:*", "+get", "+set", "+anarcho.status"})),
            "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "gone", "on", ">x"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "DELUSER", "gone"})), "(integer) 1");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "p"})), "OK");
  c.UseAuth("default", "p");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "2")) << i;
  auto users_of = [&](int i) {
    auto v = c.ChildCall(i, {"ACL", "LIST"});
    std::string out;
    if (!v.ok()) return std::string("unreachable");
    for (const resp::Value& line : v->elements) {
      if (!absl::StartsWith(line.AsString(), "user anarcho-node ")) absl::StrAppend(&out, SortedRules(line), "\n");
    }
    return out;
  };
  const std::string expected = users_of(leader);
  ASSERT_TRUE(absl::StrContains(expected, "alice")) << expected;
  ASSERT_FALSE(absl::StrContains(expected, "gone"));
  for (int i = 0; i < c.size(); ++i) EXPECT_EQ(users_of(i), expected) << i;
  // A snapshot on every node, then a full restart.
  for (int i = 0; i < c.size(); ++i) {
    Client cl(c.port(i));
    ASSERT_EQ(Str(cl.Call({"AUTH", "p"})), "OK");
    ASSERT_FALSE(cl.Call({"ANARCHO.SNAPSHOT"}).IsError());
  }
  for (int i = 0; i < c.size(); ++i) c.Restart(i);
  leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int i = 0; i < c.size(); ++i) EXPECT_EQ(users_of(i), expected) << i;
  // A member replaced by an empty node (a new id) gets them with the snapshot.
  const int wiped = (leader + 2) % c.size();
  ASSERT_EQ(c.Replace(wiped), "");
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       users_of(wiped) != expected && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(users_of(wiped), expected);
  for (int i = 0; i < c.size(); ++i) {
    Client alice(c.port(i));
    EXPECT_EQ(Str(alice.Call({"AUTH", "alice", "pw"})), "OK") << i;
    EXPECT_EQ(Str(alice.Call({"SET", "a:1", std::to_string(i)})), "OK") << i;
    EXPECT_TRUE(absl::StartsWith(Str(alice.Call({"SET", "b:1", "x"})), "(error) NOPERM")) << i;
    EXPECT_FALSE(alice.Call({"ANARCHO.STATUS"}).IsError()) << i << ": her @anarcho rules came back too";
    EXPECT_TRUE(absl::StartsWith(Str(alice.Call({"ANARCHO.SNAPSHOT"})), "(error) NOPERM")) << i;
  }
  EXPECT_TRUE(c.WaitConverged());
}

class AclSnapshotTest : public SingleNodeFixture {
 protected:
  AclSnapshotTest() : SingleNodeFixture("anarcho-aclsnap") {}
  // A snapshot, then kill -9 and a start from it: the child is rebuilt from
  // the snapshot's RDB and the user changes it holds.
  void SnapshotAndRestart(const std::string& pass) {
    Client cl(node_->port());
    if (!pass.empty()) ASSERT_EQ(Str(cl.Call({"AUTH", pass})), "OK");
    ASSERT_FALSE(cl.Call({"ANARCHO.SNAPSHOT"}).IsError());
    Restart();
  }
};

// Regression: CONFIG SET requirepass of the value it already has does nothing
// in Redis, and an empty one after another resets the default user to nopass;
// a child rebuilt from a snapshot replayed the last requirepass as if it had
// reset the passwords (losing one set since), or as nothing (keeping a
// password the live child had dropped, so every client got NOAUTH).
TEST_F(AclSnapshotTest, RequirepassChangesReplayOnARebuiltChildAsTheyRan) {
  Client admin(node_->port());
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "old"})), "OK");
  ASSERT_EQ(Str(admin.Call({"AUTH", "old"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "default", ">new"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "old"})), "OK");  // the same value: no reset
  for (const char* pass : {"old", "new"}) EXPECT_EQ(Str(Client(node_->port()).Call({"AUTH", pass})), "OK") << pass;
  SnapshotAndRestart("old");
  for (const char* pass : {"old", "new"}) EXPECT_EQ(Str(Client(node_->port()).Call({"AUTH", pass})), "OK") << pass;

  Client again(node_->port());
  ASSERT_EQ(Str(again.Call({"AUTH", "new"})), "OK");
  ASSERT_EQ(Str(again.Call({"CONFIG", "SET", "requirepass", "rq1"})), "OK");
  ASSERT_EQ(Str(again.Call({"ACL", "SETUSER", "default", ">second"})), "OK");
  ASSERT_EQ(Str(again.Call({"CONFIG", "SET", "requirepass", ""})), "OK");  // resets to nopass
  EXPECT_EQ(Str(Client(node_->port()).Call({"SET", "open", "1"})), "OK");
  SnapshotAndRestart("");
  EXPECT_EQ(Str(Client(node_->port()).Call({"SET", "open", "2"})), "OK") << "no password after the restart either";
}

// Regression: the state kept only the last requirepass, so on a child
// rebuilt from a snapshot a SETUSER default that removed an earlier one
// (`<a`) failed, and the rule it carried (-flushall) was lost with it.
TEST_F(AclSnapshotTest, ARuleGivenWithAPasswordsRemovalSurvivesARebuild) {
  Client admin(node_->port());
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "admin", "on", ">adminpw", "+@all", "~*", "&*"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "a"})), "OK");
  ASSERT_EQ(Str(admin.Call({"AUTH", "admin", "adminpw"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "default", "<a", ">c", "-flushall"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "b"})), "OK");
  auto expect_as_set = [&](const std::string& when) {
    Client cl(node_->port());
    EXPECT_EQ(Str(cl.Call({"AUTH", "admin", "adminpw"})), "OK") << when;
    EXPECT_TRUE(absl::StartsWith(Str(cl.Call({"ACL", "DRYRUN", "default", "flushall"})), "This user has no permissions"))
        << when;
    EXPECT_EQ(Str(Client(node_->port()).Call({"AUTH", "b"})), "OK") << when;
    EXPECT_TRUE(absl::StartsWith(Str(Client(node_->port()).Call({"AUTH", "c"})), "(error) WRONGPASS")) << when;
  };
  expect_as_set("live");
  SnapshotAndRestart("b");
  expect_as_set("after a restart from the snapshot");
}

// Regression: Redis gives a new user (and a SETUSER's `reset`) the channels
// acl-pubsub-default names at that moment; a child rebuilt from a snapshot
// replayed every user change under the last value, so a user made without
// channels could SUBSCRIBE after a restart, and one made with them lost them.
TEST_F(AclSnapshotTest, UsersKeepTheChannelsTheyWereMadeWithAfterARebuild) {
  Client admin(node_->port());
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "acl-pubsub-default", "allchannels"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "open", "on", ">pw", "+@all", "~*"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "acl-pubsub-default", "resetchannels"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "closed", "on", ">pw", "+@all", "~*"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "acl-pubsub-default", "allchannels"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "wasreset", "reset", "on", ">pw", "+@all", "~*"})), "OK");
  auto channels = [&](const char* user) {
    Client cl(node_->port());
    EXPECT_EQ(Str(cl.Call({"AUTH", user, "pw"})), "OK") << user;
    return Str(cl.Call({"PUBLISH", "secret", "x"}));
  };
  auto expect_as_made = [&](const std::string& when) {
    EXPECT_EQ(channels("open"), "(integer) 0") << when;
    EXPECT_TRUE(absl::StartsWith(channels("closed"), "(error) NOPERM")) << when;
    EXPECT_EQ(channels("wasreset"), "(integer) 0") << when;
    EXPECT_EQ(Str(Client(node_->port()).Call({"CONFIG", "GET", "acl-pubsub-default"})),
              "[acl-pubsub-default, allchannels]")
        << when;
  };
  expect_as_made("live");
  SnapshotAndRestart("");
  expect_as_made("after a restart from the snapshot");
}

// With users in use, a follower sends every read to the leader: its own
// link to its child runs as the node's user, not the client's.
TEST(AclTest, FollowerReadsGoToTheLeaderOnceUsersAreInUse) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = Follower(c, leader);
  ASSERT_EQ(Str(Client(c.port(follower)).Call({"SET", "k", "v"})), "OK");
  Client cl(c.port(follower));
  const std::string before = c.Status(follower)["follower_reads_served"];
  // (Until its child applied an entry, a follower sends reads to the leader.)
  for (int i = 0; i < 100 && c.Status(follower)["follower_reads_served"] == before; ++i) {
    ASSERT_EQ(Str(cl.Call({"GET", "k"})), "v");
  }
  ASSERT_NE(c.Status(follower)["follower_reads_served"], before) << "served locally before users";
  ASSERT_EQ(Str(cl.Call({"ACL", "SETUSER", "alice", "on", ">pw", "~other:*", "+get"})), "OK");
  ASSERT_TRUE(WaitForAclChanges(c, follower, "1"));
  Client alice(c.port(follower));
  ASSERT_EQ(Str(alice.Call({"AUTH", "alice", "pw"})), "OK");
  const std::string served = c.Status(follower)["follower_reads_served"];
  EXPECT_TRUE(absl::StartsWith(Str(alice.Call({"GET", "k"})), "(error) NOPERM"));
  EXPECT_EQ(Str(cl.Call({"GET", "k"})), "v");
  EXPECT_EQ(c.Status(follower)["follower_reads_served"], served);
}

// A follower learns of a new user or password when it applies the entry.
// Its log writes held (so it applies nothing new) while the leader and the
// other follower acknowledge a password and a user: a client that connects
// to it is still asked for the password, and a user's rules still hold for
// what the follower relays (it had passed as the open default user, and
// alice's writes had run as the relay's default user).
TEST(AclTest, AFollowerBehindOnAPasswordStillAsksForIt) {
  const std::string dir = MakeTempDir("anarcho-acl-gate");
  ClusterOptions options{.nodes = 3};
  for (int i = 0; i < options.nodes; ++i) options.args_of[i] = {"--test_sync_gate", absl::StrCat(dir, "/gate", i)};
  Cluster c(options);
  // Declared after the cluster, so it runs first: an early return opens the
  // gate before the nodes stop.
  struct RemoveGates {
    std::string dir;
    ~RemoveGates() { RemoveDir(dir); }
  } remove_gates{dir};
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int f = Follower(c, leader);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Str(Client(c.port(f)).Call({"SET", "warm-up", "1"})), "OK");
  const std::string gate = absl::StrCat(dir, "/gate", f);
  std::ofstream(gate) << "closed";
  Client admin(c.port(leader));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "alice", "on", ">pw", "~a:*", "+get", "+set"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "secret"})), "OK");
  // The harness's own queries authenticate from here on: whether the follower
  // asks its new client for the password depends on whether its link to the
  // leader (which knows it) was made before the query came.
  c.UseAuth("default", "secret");
  ASSERT_EQ(c.Status(f)["acl_changes"], "0") << "the follower applied the changes: the test proves nothing";

  Client anonymous(c.port(f));
  EXPECT_TRUE(absl::StartsWith(Str(anonymous.Call({"SET", "k", "v"})), "(error) NOAUTH")) << "a write";
  EXPECT_TRUE(absl::StartsWith(Str(anonymous.Call({"GET", "warm-up"})), "(error) NOAUTH")) << "a read";
  EXPECT_EQ(Str(anonymous.Call({"AUTH", "secret"})), "OK");
  EXPECT_EQ(Str(anonymous.Call({"SET", "k", "v"})), "OK");

  Client alice(c.port(f));
  ASSERT_EQ(Str(alice.Call({"AUTH", "alice", "pw"})), "OK");
  EXPECT_EQ(Str(alice.Call({"SET", "a:1", "x"})), "OK");
  EXPECT_TRUE(absl::StartsWith(Str(alice.Call({"SET", "b:1", "x"})), "(error) NOPERM"));
  EXPECT_TRUE(absl::StartsWith(Str(alice.Call({"GET", "warm-up"})), "(error) NOPERM"));

  std::filesystem::remove(gate);
  EXPECT_TRUE(WaitForAclChanges(c, f, "2"));
  EXPECT_TRUE(c.WaitConverged());
}

// Regression: a request sent in the same write as the AUTH before it was
// routed while the connection was still unauthenticated (NOAUTH), where Redis
// runs it as the user AUTH gave; HELLO took the first of several AUTH pairs
// where Redis takes the last.
TEST(AclTest, RequestsPipelinedAfterAuthRunAsItsUser) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client admin(c.port(leader));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "alice", "on", ">pa", "~*", "+@all"})), "OK");
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "bob", "on", ">pb", "~*", "+@all", "-@anarcho"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "secret"})), "OK");
  c.UseAuth("default", "secret");
  for (int node : {leader, Follower(c, leader)}) {
    Client client(c.port(node));
    client.Send(Req({"AUTH", "alice", "pa"}) + Req({"ACL", "WHOAMI"}) + Req({"AUTH", "bob", "pb"}) +
                Req({"ACL", "WHOAMI"}) + Req({"ANARCHO.HEALTH"}));
    for (const char* want : {"OK", "alice", "OK", "bob", "(error) NOPERM"}) {
      auto v = client.Read(10s);
      ASSERT_TRUE(v.has_value());
      EXPECT_TRUE(absl::StartsWith(Str(*v), want)) << "node " << node << ": " << Str(*v) << ", want " << want;
    }
    Client hello(c.port(node));
    resp::Value h = hello.Call({"HELLO", "2", "AUTH", "alice", "pa", "AUTH", "bob", "pb"});
    EXPECT_FALSE(h.IsError()) << Str(h);
    EXPECT_EQ(Str(hello.Call({"ACL", "WHOAMI"})), "bob") << "node " << node;
    // The node checks its own commands as the user the child runs as.
    EXPECT_TRUE(absl::StartsWith(Str(hello.Call({"ANARCHO.STATUS"})), "(error) NOPERM")) << "node " << node;
  }
}

// Regression: ACL SETUSER's passwords were logged as given, so the log, every
// snapshot and a backup's metadata (ANARCHO.BACKUP, which a user allowed only
// backups may take) held them in clear. The log keeps their hashes; every
// member's child still takes the password, and `<pw` still removes it.
TEST(AclTest, PasswordsAreLoggedAsHashes) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int f = Follower(c, leader);
  Client admin(c.port(leader));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "alice", "on", ">s3cret-pw", "~*", "+@all"})), "OK");
  resp::Value backup = admin.Call({"ANARCHO.BACKUP"});
  ASSERT_FALSE(backup.IsError()) << Str(backup);
  std::string meta;
  for (size_t i = 0; i + 1 < backup.elements.size(); i += 2) {
    if (backup.elements[i].AsString() == "meta") meta = backup.elements[i + 1].AsString();
  }
  EXPECT_NE(meta.find("alice"), std::string::npos) << "the backup carries no users: the test proves nothing";
  EXPECT_EQ(meta.find("s3cret-pw"), std::string::npos) << "a password in clear in a backup";
  // Each child's view of alice's passwords (as hashes, as Redis shows them).
  auto passwords = [&](int node) {
    auto user = c.ChildCall(node, {"ACL", "GETUSER", "alice"});
    if (!user.ok()) return std::string("unreachable");
    for (size_t i = 0; i + 1 < user->elements.size(); i += 2) {
      if (user->elements[i].AsString() == "passwords") return Str(user->elements[i + 1]);
    }
    return std::string("no passwords field");
  };
  ASSERT_TRUE(c.WaitConverged());
  EXPECT_NE(passwords(leader), "[]");
  EXPECT_EQ(passwords(f), passwords(leader)) << "a follower's child took another password";
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "alice", "<s3cret-pw"})), "OK");
  ASSERT_TRUE(c.WaitConverged());
  EXPECT_EQ(passwords(f), passwords(leader));
  EXPECT_EQ(passwords(f), "[]") << "a follower's child kept the password <pw removed";
}

// anarcho-admin authenticates as redis-cli does: --user and --pass (or
// --pass_file, or REDISCLI_AUTH).
TEST(AclTest, AdminToolAuthenticates) {
  Cluster c({.nodes = 3});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  Client admin(c.port(leader));
  ASSERT_EQ(Str(admin.Call({"ACL", "SETUSER", "viewer", "on", ">v", "+anarcho.health"})), "OK");
  ASSERT_EQ(Str(admin.Call({"CONFIG", "SET", "requirepass", "p"})), "OK");
  c.UseAuth("default", "p");
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(WaitForAclChanges(c, i, "2")) << i;
  const std::string dir = MakeTempDir("anarcho-admin-auth");
  { std::ofstream(dir + "/pass") << "p\n"; }
  auto run = [&](const std::string& env, const std::string& flags) {
    const std::string cmd = absl::StrCat(env, " ", ANARCHO_ADMIN_BIN, " health --port ", c.port(leader), " ", flags,
                                         " >/dev/null 2>&1");
    return WEXITSTATUS(std::system(cmd.c_str()));
  };
  EXPECT_EQ(run("", ""), 1) << "NOAUTH";
  EXPECT_EQ(run("", "--pass p"), 0);
  EXPECT_EQ(run("", "--user viewer --pass v"), 0);
  EXPECT_EQ(run("", "--user viewer --pass wrong"), 1);
  EXPECT_EQ(run("REDISCLI_AUTH=p", ""), 0);
  EXPECT_EQ(run("", "--pass_file " + dir + "/pass"), 0);
  EXPECT_EQ(run("", "--user viewer"), 2) << "a user needs a password";
  const std::string transfer =
      absl::StrCat(ANARCHO_ADMIN_BIN, " transfer --port ", c.port(leader), " --user viewer --pass v ",
                   (leader + 1) % 3 + 1, " 2>&1");
  const ShellResult denied = RunShell(transfer);
  EXPECT_NE(denied.status, 0);
  EXPECT_TRUE(absl::StrContains(denied.out, "NOPERM")) << denied.out;
  RemoveDir(dir);
}

}  // namespace
}  // namespace itest
