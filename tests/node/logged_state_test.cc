#include "node/logged_state.h"

#include "absl/strings/str_cat.h"
#include "node/child/child_digest.h"

#include "gtest/gtest.h"
#include "resp/writer.h"

namespace node {
namespace {

pb::EffectBatch Entry(std::vector<std::string_view> args) {
  pb::EffectBatch b;
  std::string commands;
  resp::AppendCommand(&commands, args);
  b.set_commands(commands);
  b.set_command_count(1);
  return b;
}

// Requests, RESP-encoded one after another (as a prelude holds them).
std::string Commands(std::vector<std::vector<std::string_view>> requests) {
  std::string out;
  for (const auto& r : requests) resp::AppendCommand(&out, r);
  return out;
}

TEST(LoggedStateTest, FoldsScriptsAndSettings) {
  LoggedState s;
  s.Apply(Entry({"SCRIPT", "LOAD", "return 1"}));
  s.Apply(Entry({"script", "load", "return 2"}));
  EXPECT_EQ(s.scripts(), 2u);
  s.Apply(Entry({"SCRIPT", "FLUSH"}));
  EXPECT_EQ(s.scripts(), 0u);
  s.Apply(Entry({"CONFIG", "SET", "Hash-Max-Listpack-Entries", "3", "maxmemory", "10mb"}));
  EXPECT_EQ(s.Setting({"hash-max-listpack-entries"}), "3");
  EXPECT_EQ(s.settings(), 2u);
  s.Apply(Entry({"CONFIG", "SET", "maxmemory", "20mb"}));
  EXPECT_EQ(s.settings(), 2u);
  EXPECT_EQ(s.Setting({"maxmemory"}), "20mb");
  s.Apply(Entry({"SET", "k", "v"}));
  EXPECT_EQ(s.settings(), 2u);
  EXPECT_FALSE(s.Setting({"notify-keyspace-events"}).has_value());
}

// Regression: a transaction's logged requests were one Raft entry each, and a
// leadership change could keep some of them and drop the rest (a MULTI of
// twenty SCRIPT LOADs left nineteen). They are now one entry, which every
// node folds in whole, in order, SELECTs between them included.
TEST(LoggedStateTest, AnEntryOfATransactionFoldsEveryRequestInOrder) {
  pb::EffectBatch b;
  std::string commands;
  resp::AppendCommand(&commands, {"SCRIPT", "LOAD", "return 1"});
  resp::AppendCommand(&commands, {"CONFIG", "SET", "maxmemory", "10mb"});
  resp::AppendCommand(&commands, {"SELECT", "3"});
  resp::AppendCommand(&commands, {"CONFIG", "SET", "maxmemory", "20mb"});
  resp::AppendCommand(&commands, {"SCRIPT", "LOAD", "return 2"});
  b.set_commands(commands);
  b.set_command_count(5);
  LoggedState s;
  EXPECT_TRUE(s.Apply(b));
  EXPECT_EQ(s.scripts(), 2u);
  EXPECT_EQ(s.Setting({"maxmemory"}), "20mb");
  EXPECT_EQ(s.settings(), 1u);
}

// What the state takes (the node bounds it: every snapshot holds it) follows
// every change, and a snapshot's load.
TEST(LoggedStateTest, BytesFollowEveryChange) {
  LoggedState s;
  EXPECT_EQ(s.bytes(), 0u);
  s.Apply(Entry({"SCRIPT", "LOAD", "return 1"}));
  s.Apply(Entry({"SCRIPT", "LOAD", "return 1"}));  // the same script: kept once
  EXPECT_EQ(s.bytes(), 8u);
  s.Apply(Entry({"CONFIG", "SET", "maxmemory", "10mb"}));
  EXPECT_EQ(s.bytes(), 8u + 9 + 4);
  s.Apply(Entry({"CONFIG", "SET", "maxmemory", "2gb"}));  // replaces the value
  EXPECT_EQ(s.bytes(), 8u + 9 + 3);
  const size_t before_users = s.bytes();
  s.Apply(Entry({"ACL", "SETUSER", "alice", "on"}));
  s.Apply(Entry({"CONFIG", "SET", "requirepass", "one"}));
  s.Apply(Entry({"CONFIG", "SET", "requirepass", "two"}));  // replaces the first
  EXPECT_GT(s.bytes(), before_users);
  pb::SnapshotMeta meta;
  s.Save(&meta);
  LoggedState loaded;
  loaded.Load(meta);
  EXPECT_EQ(loaded.bytes(), s.bytes());
  s.Apply(Entry({"ACL", "DELUSER", "alice"}));
  s.Apply(Entry({"SCRIPT", "FLUSH"}));
  std::string requirepass;
  resp::AppendCommand(&requirepass, {"CONFIG", "SET", "requirepass", "two"});
  EXPECT_EQ(s.bytes(), 9u + 3 + requirepass.size());
}

// A snapshot carries the state as of its own index (the entries after it run
// again on a child rebuilt from it); only entries that change the state are
// kept, and a newer snapshot moves the base forward.
// The gate must know when the child may evict (ConsistencyGate::SetEvictions):
// it takes a maxmemory above 0 and a policy other than noeviction, whatever
// the order or the case they were set in.
TEST(LoggedStateTest, MayEvictNeedsAMaxmemoryAndAnEvictionPolicy) {
  LoggedState s;
  EXPECT_FALSE(s.MayEvict());
  s.Apply(Entry({"CONFIG", "SET", "maxmemory", "10mb"}));
  EXPECT_FALSE(s.MayEvict()) << "noeviction is Redis's default policy";
  s.Apply(Entry({"CONFIG", "SET", "MaxMemory-Policy", "ALLKEYS-LRU"}));
  EXPECT_TRUE(s.MayEvict());
  s.Apply(Entry({"CONFIG", "SET", "maxmemory", "0mb"}));
  EXPECT_FALSE(s.MayEvict());
  s.Apply(Entry({"CONFIG", "SET", "maxmemory", "1", "maxmemory-policy", "noeviction"}));
  EXPECT_FALSE(s.MayEvict());

  EXPECT_FALSE(LoggedState::MayStartEvicting("maxmemory", "0"));
  EXPECT_FALSE(LoggedState::MayStartEvicting("maxmemory", "00GB"));
  EXPECT_TRUE(LoggedState::MayStartEvicting("maxmemory", "100"));
  EXPECT_TRUE(LoggedState::MayStartEvicting("maxmemory", "2gb"));
  EXPECT_TRUE(LoggedState::MayStartEvicting("maxmemory-policy", "volatile-ttl"));
  EXPECT_FALSE(LoggedState::MayStartEvicting("maxmemory-policy", "NoEviction"));
  EXPECT_FALSE(LoggedState::MayStartEvicting("maxmemory-samples", "10"));
}

TEST(LoggedHistoryTest, TheStateAsOfAnIndex) {
  LoggedState now;
  LoggedHistory history;
  pb::SnapshotMeta base;
  base.set_index(10);
  base.add_scripts("return 0");
  now.Load(base);
  history.Reset(base);
  const std::vector<std::pair<uint64_t, pb::EffectBatch>> entries = {
      {11, Entry({"SCRIPT", "LOAD", "return 1"})},
      {12, Entry({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"})},
      {13, Entry({"ACL", "SETUSER", "u", "on", "(~x +get)"})},
      {14, Entry({"CONFIG", "SET", "maxmemory", "10mb"})}};
  for (const auto& [index, entry] : entries) {
    if (now.Apply(entry)) history.Add(index, entry);
  }
  EXPECT_FALSE(now.Apply(entries[1].second)) << "XREADGROUP is no logged state";
  auto at = [&](uint64_t index) {
    pb::SnapshotMeta m;
    history.Save(index, &m);
    return m;
  };
  EXPECT_EQ(at(10).scripts_size(), 1);
  EXPECT_EQ(at(12).scripts_size(), 2);
  EXPECT_EQ(at(12).acl_size(), 0);
  EXPECT_EQ(at(13).acl_size(), 1);
  EXPECT_EQ(at(13).settings_size(), 0);
  pb::SnapshotMeta all;
  now.Save(&all);
  EXPECT_EQ(at(14).SerializeAsString(), all.SerializeAsString());
  history.Advance(13);
  EXPECT_EQ(at(13).acl_size(), 1);
  EXPECT_EQ(at(14).SerializeAsString(), all.SerializeAsString());
}

TEST(LoggedStateTest, AliasesKeepTheOrderTheyWereSetIn) {
  LoggedState s;
  s.Apply(Entry({"CONFIG", "SET", "lua-time-limit", "100"}));
  s.Apply(Entry({"CONFIG", "SET", "busy-reply-threshold", "200"}));
  EXPECT_EQ(s.Setting({"busy-reply-threshold", "lua-time-limit"}), "200");
  s.Apply(Entry({"CONFIG", "SET", "lua-time-limit", "300"}));
  EXPECT_EQ(s.Setting({"busy-reply-threshold", "lua-time-limit"}), "300");
  // Replayed in this order, a child ends with the last value set.
  pb::SnapshotMeta meta;
  s.Save(&meta);
  const std::string prelude = LoggedState::Prelude(meta);
  EXPECT_LT(prelude.find("busy-reply-threshold"), prelude.find("lua-time-limit"));
}

TEST(LoggedStateTest, SnapshotRoundTripAndPrelude) {
  LoggedState s;
  s.Apply(Entry({"SCRIPT", "LOAD", "return 1"}));
  s.Apply(Entry({"CONFIG", "SET", "notify-keyspace-events", "KEA"}));
  s.Apply(Entry({"DEBUG", "SET-ACTIVE-EXPIRE", "0"}));
  pb::SnapshotMeta meta;
  s.Save(&meta);
  LoggedState t;
  t.Load(meta);
  EXPECT_EQ(t.scripts(), 1u);
  EXPECT_EQ(t.Setting({"notify-keyspace-events"}), "KEA");
  std::string expected;
  resp::AppendCommand(&expected, {"CONFIG", "SET", "notify-keyspace-events", "KEA"});
  resp::AppendCommand(&expected, {"DEBUG", "set-active-expire", "0"});
  resp::AppendCommand(&expected, {"SCRIPT", "LOAD", "return 1"});
  EXPECT_EQ(LoggedState::Prelude(meta), expected);
}

// Users: every change replayed in order on a rebuilt child; a DELUSER
// leaves no trace of the user, a requirepass replaces the earlier one.
TEST(LoggedStateTest, UsersReplayInOrder) {
  LoggedState s;
  EXPECT_EQ(s.acl_changes(), 0u);
  s.Apply(Entry({"ACL", "SETUSER", "alice", "on", ">pw", "~a*", "+get"}));
  s.Apply(Entry({"CONFIG", "SET", "requirepass", "one", "maxmemory", "1mb"}));
  s.Apply(Entry({"acl", "setuser", "bob", "on", ">b"}));
  s.Apply(Entry({"ACL", "SETUSER", "alice", "+set"}));
  s.Apply(Entry({"CONFIG", "SET", "requirepass", "two"}));
  EXPECT_EQ(s.acl_changes(), 4u);
  EXPECT_EQ(s.settings(), 1u) << "requirepass is a user change, not a setting";
  s.Apply(Entry({"ACL", "DELUSER", "bob", "nobody"}));
  EXPECT_EQ(s.acl_changes(), 3u);
  pb::SnapshotMeta meta;
  s.Save(&meta);
  LoggedState t;
  t.Load(meta);
  EXPECT_EQ(t.acl_changes(), 3u);
  const std::string prelude = LoggedState::Prelude(meta);
  EXPECT_EQ(prelude.find("bob"), std::string::npos);
  EXPECT_EQ(prelude.find("one"), std::string::npos);
  const size_t first = prelude.find("+get"), second = prelude.find("+set"),
               pass = prelude.find(node::Sha256Hex("two"));
  ASSERT_NE(pass, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_LT(second, pass);
  EXPECT_LT(prelude.find("maxmemory"), first) << "settings first, then users, in the order made";
  s.Apply(Entry({"ACL", "DELUSER", "alice"}));
  EXPECT_EQ(s.acl_changes(), 1u);
}

// Regression: CONFIG SET requirepass of the value it already has does nothing
// in Redis, not even reset passwords set since, and an empty one after another
// value resets the default user to nopass. The state kept the last
// requirepass at the end of the changes, whatever it had done: a child
// rebuilt from a snapshot lost a password the live children took
// (requirepass old, SETUSER default >new, requirepass old), or asked for one
// where they had none (requirepass rq1, SETUSER default >second, requirepass '').
// Then it kept only the last requirepass, so a SETUSER default that removed
// an earlier one (`<a`, logged as `!<hash>`) failed on a rebuilt child, and
// every rule it carried with it was lost (a default user allowed FLUSHALL
// again). Each change now replays as the reset it was, in its place, and the
// setting takes its last value first.
TEST(LoggedStateTest, RequirepassReplaysWhatRedisDidWithIt) {
  auto prelude_of = [](const LoggedState& s) {
    pb::SnapshotMeta meta;
    s.Save(&meta);
    return LoggedState::Prelude(meta);
  };
  auto reset_to = [](std::string_view password) {
    const std::string hashed = absl::StrCat("#", node::Sha256Hex(password));
    return std::vector<std::string>{"ACL", "SETUSER", "default", "resetpass",
                                    password.empty() ? std::string("nopass") : hashed};
  };
  auto commands = [](std::vector<std::vector<std::string>> requests) {
    std::string out;
    for (const auto& r : requests) resp::AppendCommand(&out, std::vector<std::string_view>(r.begin(), r.end()));
    return out;
  };
  using R = std::vector<std::string>;
  LoggedState same;
  same.Apply(Entry({"CONFIG", "SET", "requirepass", "old"}));
  same.Apply(Entry({"ACL", "SETUSER", "default", ">new"}));
  same.Apply(Entry({"CONFIG", "SET", "requirepass", "old"}));
  EXPECT_EQ(prelude_of(same), commands({R{"CONFIG", "SET", "requirepass", "old"}, reset_to("old"),
                                        R{"ACL", "SETUSER", "default", ">new"}}));
  // A state loaded from a snapshot knows the setting too.
  pb::SnapshotMeta meta;
  same.Save(&meta);
  LoggedState loaded;
  loaded.Load(meta);
  loaded.Apply(Entry({"CONFIG", "SET", "requirepass", "old"}));
  EXPECT_EQ(prelude_of(loaded), prelude_of(same));
  loaded.Apply(Entry({"CONFIG", "SET", "requirepass", "other"}));
  EXPECT_EQ(prelude_of(loaded), commands({R{"CONFIG", "SET", "requirepass", "other"}, reset_to("old"),
                                          R{"ACL", "SETUSER", "default", ">new"}, reset_to("other")}));

  LoggedState emptied;
  emptied.Apply(Entry({"CONFIG", "SET", "requirepass", "rq1"}));
  emptied.Apply(Entry({"ACL", "SETUSER", "default", ">second"}));
  emptied.Apply(Entry({"CONFIG", "SET", "requirepass", ""}));
  EXPECT_EQ(prelude_of(emptied), commands({reset_to("rq1"), R{"ACL", "SETUSER", "default", ">second"}, reset_to("")}))
      << "a child starts with no requirepass: none is set";
  emptied.Apply(Entry({"CONFIG", "SET", "requirepass", ""}));
  EXPECT_EQ(emptied.acl_changes(), 3u) << "the same empty value again changes nothing";
  emptied.Apply(Entry({"CONFIG", "SET", "requirepass", "p"}));
  EXPECT_EQ(prelude_of(emptied), commands({R{"CONFIG", "SET", "requirepass", "p"}, reset_to("rq1"),
                                           R{"ACL", "SETUSER", "default", ">second"}, reset_to("p")}))
      << "a change right after another (no SETUSER default between) replaces it";

  LoggedState opened;
  opened.Apply(Entry({"CONFIG", "SET", "requirepass", "A"}));
  opened.Apply(Entry({"ACL", "SETUSER", "default", "resetpass", "nopass"}));
  opened.Apply(Entry({"CONFIG", "SET", "requirepass", "A"}));
  EXPECT_EQ(prelude_of(opened), commands({R{"CONFIG", "SET", "requirepass", "A"}, reset_to("A"),
                                          R{"ACL", "SETUSER", "default", "resetpass", "nopass"}}));

  // The review's case: the SETUSER that removes password a (and takes
  // FLUSHALL away) replays after a's reset, not after b's.
  const std::string hash_a = absl::StrCat("!", node::Sha256Hex("a"));
  LoggedState removed;
  removed.Apply(Entry({"CONFIG", "SET", "requirepass", "a"}));
  removed.Apply(Entry({"ACL", "SETUSER", "default", hash_a, ">c", "-flushall"}));
  removed.Apply(Entry({"CONFIG", "SET", "requirepass", "b"}));
  EXPECT_EQ(prelude_of(removed), commands({R{"CONFIG", "SET", "requirepass", "b"}, reset_to("a"),
                                           R{"ACL", "SETUSER", "default", hash_a, ">c", "-flushall"}, reset_to("b")}));
}

// Regression: acl-pubsub-default is read when a user is made: the prelude
// replays each user change under the value it ran under (the first ones
// under Redis's initial value), then sets the value in force. Changes with no
// user change between them keep only the last.
TEST(LoggedStateTest, UsersReplayUnderThePubsubDefaultTheyWereMadeUnder) {
  LoggedState s;
  s.Apply(Entry({"ACL", "SETUSER", "first", "on"}));
  s.Apply(Entry({"CONFIG", "SET", "acl-pubsub-default", "resetchannels"}));
  s.Apply(Entry({"CONFIG", "SET", "ACL-PUBSUB-DEFAULT", "allchannels"}));
  s.Apply(Entry({"ACL", "SETUSER", "second", "on"}));
  s.Apply(Entry({"CONFIG", "SET", "acl-pubsub-default", "resetchannels"}));
  s.Apply(Entry({"ACL", "SETUSER", "third", "on"}));
  s.Apply(Entry({"CONFIG", "SET", "acl-pubsub-default", "allchannels"}));
  EXPECT_EQ(s.acl_changes(), 3u) << "the setting's changes are no user changes";
  EXPECT_EQ(s.Setting({"acl-pubsub-default"}), "allchannels");
  pb::SnapshotMeta meta;
  s.Save(&meta);
  const std::string pubsub = "acl-pubsub-default";
  EXPECT_EQ(LoggedState::Prelude(meta), Commands({{"CONFIG", "SET", pubsub, "allchannels"},
                                                  {"CONFIG", "SET", pubsub, "resetchannels"},
                                                  {"ACL", "SETUSER", "first", "on"},
                                                  {"CONFIG", "SET", pubsub, "allchannels"},
                                                  {"ACL", "SETUSER", "second", "on"},
                                                  {"CONFIG", "SET", pubsub, "resetchannels"},
                                                  {"ACL", "SETUSER", "third", "on"},
                                                  {"CONFIG", "SET", pubsub, "allchannels"},
                                                  {"CONFIG", "SET", pubsub, "allchannels"}}));
  // A deleted user's changes go, and the settings' changes it separated merge.
  s.Apply(Entry({"ACL", "DELUSER", "second"}));
  LoggedState loaded;
  pb::SnapshotMeta after;
  s.Save(&after);
  loaded.Load(after);
  EXPECT_EQ(loaded.acl_changes(), 2u);
  EXPECT_EQ(loaded.bytes(), s.bytes());
  EXPECT_EQ(LoggedState::Prelude(after), Commands({{"CONFIG", "SET", pubsub, "allchannels"},
                                                   {"CONFIG", "SET", pubsub, "resetchannels"},
                                                   {"ACL", "SETUSER", "first", "on"},
                                                   {"CONFIG", "SET", pubsub, "resetchannels"},
                                                   {"ACL", "SETUSER", "third", "on"},
                                                   {"CONFIG", "SET", pubsub, "allchannels"},
                                                   {"CONFIG", "SET", pubsub, "allchannels"}}));
  // Without users nothing is replayed under another value.
  LoggedState settings_only;
  settings_only.Apply(Entry({"CONFIG", "SET", "acl-pubsub-default", "allchannels"}));
  EXPECT_EQ(settings_only.acl_changes(), 0u);
}

// An ACL SETUSER with @anarcho rules: children run it without them (the
// entry's commands, and a snapshot's prelude), every node folds them in
// (node_request), and a node loaded from a snapshot has them too.
TEST(LoggedStateTest, NodeRulesStayWithTheNodes) {
  const std::vector<std::string_view> request = {"ACL", "SETUSER", "ops", "on", ">pw", "+@all", "-@anarcho",
                                                 "+anarcho.status"};
  const std::vector<std::string> for_child = LoggedState::ForChild(request);
  EXPECT_EQ(for_child, (std::vector<std::string>{"ACL", "SETUSER", "ops", "on", ">pw", "+@all"}));
  EXPECT_EQ(LoggedState::ForChild(std::vector<std::string_view>{"CONFIG", "SET", "x", "+anarcho.status"}).size(), 4u)
      << "only ACL SETUSER has node rules";
  pb::EffectBatch entry = Entry(std::vector<std::string_view>(for_child.begin(), for_child.end()));
  resp::AppendCommand(entry.mutable_node_request(), request);
  LoggedState s;
  s.Apply(entry);
  EXPECT_TRUE(s.node_acl().Allowed("ops", "anarcho.status"));
  EXPECT_FALSE(s.node_acl().Allowed("ops", "anarcho.add"));
  pb::SnapshotMeta meta;
  s.Save(&meta);
  LoggedState t;
  t.Load(meta);
  EXPECT_TRUE(t.node_acl().Allowed("ops", "anarcho.status"));
  EXPECT_FALSE(t.node_acl().Allowed("ops", "anarcho.add"));
  const std::string prelude = LoggedState::Prelude(meta);
  EXPECT_NE(prelude.find("+@all"), std::string::npos);
  EXPECT_EQ(prelude.find("anarcho"), std::string::npos) << prelude;
  t.Apply(Entry({"ACL", "DELUSER", "ops"}));
  EXPECT_FALSE(t.node_acl().Exists("ops"));
}

// Regression (PendingReadClaimsTest.EachEntryReadKeepsTheLeadersTime): a
// logged read of pending entries gave each entry the time each child ran it,
// so a child rebuilt from the log took them for just delivered (XPENDING's
// idle times, XAUTOCLAIM's min-idle after a failover). XCLAIM ... TIME
// follows it, for the streams read so (not those read with ">", which Redis
// propagates with their time), without entries found deleted.
TEST(PendingReadClaimsTest, EachEntryReadKeepsTheLeadersTime) {
  const LoggedRequest read{.args = {"XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", "s", "t", "0", "0"}, .db = 3};
  const std::string entry = "*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
  const std::string deleted = "*2\r\n$3\r\n1-2\r\n*-1\r\n";
  const std::string entry3 = "*2\r\n$3\r\n1-3\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
  const std::string resp2 = "*3\r\n*2\r\n$1\r\ns\r\n*3\r\n" + entry + deleted + entry3 +
                            "*2\r\n$1\r\nt\r\n*0\r\n*2\r\n$1\r\nu\r\n*1\r\n" + entry + "";
  const std::vector<std::string> want = {"XCLAIM", "s", "g", "c", "0", "1-1", "1-3", "TIME", "1700000000123", "JUSTID"};
  std::vector<LoggedRequest> claims = PendingReadClaims(read, resp2, 1700000000123);
  ASSERT_EQ(claims.size(), 1u) << "t returned nothing; u was not read for its pending entries";
  EXPECT_EQ(claims[0].args, want);
  EXPECT_EQ(claims[0].db, 3);
  const std::string resp3 = "%1\r\n$1\r\ns\r\n*3\r\n" + entry + deleted + entry3;
  claims = PendingReadClaims(read, resp3, 1700000000123);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].args, want);
  EXPECT_TRUE(PendingReadClaims(read, "*-1\r\n", 1).empty());
  EXPECT_TRUE(PendingReadClaims(read, "_\r\n", 1).empty());
  EXPECT_TRUE(PendingReadClaims(read, "*2\r\n$1", 1).empty());
  EXPECT_TRUE(PendingReadClaims({.args = {"CONFIG", "SET", "x", "y"}}, resp2, 1).empty());
}

}  // namespace
}  // namespace node
