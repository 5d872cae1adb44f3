// Clients as a client of the cluster sees them (node/front/client_view.h).
#include "node/front/client_view.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/child/child_redis.h"
#include "resp/writer.h"

namespace node {
namespace {

constexpr std::string_view kRows =
    "id=5 addr=/d/redis.sock:0 laddr=/d/redis.sock:0 fd=9 name=anarcho:control age=1 idle=0 flags=U db=0 sub=0 "
    "psub=0 ssub=0 multi=-1 cmd=ping user=default\n"
    "id=7 addr=/d/redis.sock:0 laddr=/d/redis.sock:0 fd=7 name=anarcho:stream age=0 idle=0 flags=SU db=0 sub=0 "
    "psub=0 ssub=0 multi=-1 cmd=replconf user=default\n"
    "id=11 addr=/d/redis.sock:0 laddr=/d/redis.sock:0 fd=8 name= age=0 idle=0 flags=U db=9 sub=0 psub=0 ssub=0 "
    "multi=-1 cmd=client|list user=default\n"
    "id=12 addr=/d/redis.sock:0 laddr=/d/redis.sock:0 fd=10 name=worker age=3 idle=3 flags=PU db=0 sub=1 psub=0 "
    "ssub=0 multi=-1 cmd=subscribe user=alice\n";

std::optional<ClientAddresses> Book(int64_t id) {
  if (id == 11) return ClientAddresses{"10.0.0.9:51000", "10.0.0.1:6380"};
  return std::nullopt;
}

std::vector<std::string_view> Args(std::initializer_list<std::string_view> a) { return a; }

TEST(ClientViewTest, RowsLeaveOutTheNodesLinksAndShowRealAddresses) {
  const std::string out = ClientRowsForClients(kRows, Book);
  EXPECT_EQ(out,
            "id=11 addr=10.0.0.9:51000 laddr=10.0.0.1:6380 fd=8 name= age=0 idle=0 flags=N db=9 sub=0 psub=0 ssub=0 "
            "multi=-1 cmd=client|list user=default\n"
            "id=12 addr=/d/redis.sock:0 laddr=/d/redis.sock:0 fd=10 name=worker age=3 idle=3 flags=P db=0 sub=1 psub=0 "
            "ssub=0 multi=-1 cmd=subscribe user=alice\n");
}

TEST(ClientViewTest, InfoFieldsAreReplaced) {
  const std::string clients = "# Clients\r\nconnected_clients:7\r\ncluster_connections:0\r\nmaxclients:10064\r\n";
  EXPECT_EQ(WithInfoField(clients, "connected_clients", "3"),
            "# Clients\r\nconnected_clients:3\r\ncluster_connections:0\r\nmaxclients:10064\r\n");
  EXPECT_EQ(WithInfoField(clients, "maxclients", "10000"),
            "# Clients\r\nconnected_clients:7\r\ncluster_connections:0\r\nmaxclients:10000\r\n");
  EXPECT_EQ(WithInfoField("# Server\r\nredis_version:7.0.15\r\n", "connected_clients", "3"),
            "# Server\r\nredis_version:7.0.15\r\n");
}

// The errors Redis 7.0.15 gives for the same arguments.
TEST(ClientViewTest, KillArgumentsFailAsInRedis) {
  auto error = [](std::vector<std::string_view> args) {
    auto f = ClientKillFilterOf(args);
    return f.ok() ? std::string("ok") : std::string(f.status().message());
  };
  EXPECT_EQ(error(Args({"client", "kill"})), "ERR wrong number of arguments for 'client|kill' command");
  EXPECT_EQ(error(Args({"client", "kill", "id", "10", "wrong_arg"})), "ERR syntax error");
  for (std::string_view id : {"str", "-1", "0"}) {
    EXPECT_EQ(error(Args({"client", "kill", "id", id})), "ERR client-id should be greater than 0");
  }
  EXPECT_EQ(error(Args({"client", "kill", "type", "wrong_type"})), "ERR Unknown client type 'wrong_type'");
  EXPECT_EQ(error(Args({"client", "kill", "skipme", "yes_or_no"})), "ERR syntax error");
  EXPECT_EQ(error(Args({"client", "kill", "maxage", "1"})), "ERR syntax error");  // not in 7.0
  EXPECT_EQ(error(Args({"client", "kill", "TYPE", "slave", "SKIPME", "no"})), "ok");
}

TEST(ClientViewTest, KillFiltersMatchAllTheirConditions) {
  const std::vector<ClientRow> rows = ParseClientRows(ClientRowsForClients(kRows, Book));
  ASSERT_EQ(rows.size(), 2u);
  auto matches = [&](std::vector<std::string_view> args, int64_t caller) {
    std::vector<int64_t> ids;
    const ClientKillFilter f = *ClientKillFilterOf(args);
    for (const ClientRow& r : rows) {
      if (f.Matches(r, caller)) ids.push_back(r.id());
    }
    return ids;
  };
  EXPECT_EQ(matches(Args({"client", "kill", "skipme", "yes"}), 11), (std::vector<int64_t>{12}));
  EXPECT_EQ(matches(Args({"client", "kill", "skipme", "no"}), 11), (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(matches(Args({"client", "kill", "type", "pubsub"}), 0), (std::vector<int64_t>{12}));
  EXPECT_EQ(matches(Args({"client", "kill", "type", "normal"}), 0), (std::vector<int64_t>{11}));
  EXPECT_EQ(matches(Args({"client", "kill", "type", "replica"}), 0), (std::vector<int64_t>{}));  // the node's link
  EXPECT_EQ(matches(Args({"client", "kill", "user", "alice", "id", "12"}), 0), (std::vector<int64_t>{12}));
  EXPECT_EQ(matches(Args({"client", "kill", "user", "alice", "id", "11"}), 0), (std::vector<int64_t>{}));
  EXPECT_EQ(matches(Args({"client", "kill", "addr", "10.0.0.9:51000"}), 0), (std::vector<int64_t>{11}));
  EXPECT_EQ(matches(Args({"client", "kill", "laddr", "10.0.0.1:6380"}), 0), (std::vector<int64_t>{11}));
  // The old form kills the caller too.
  EXPECT_EQ(matches(Args({"client", "kill", "10.0.0.9:51000"}), 11), (std::vector<int64_t>{11}));
  // The node's own links are never matched, whatever the filter.
  for (const ClientRow& r : ParseClientRows(kRows)) {
    if (r.internal()) EXPECT_FALSE(ClientKillFilterOf(Args({"client", "kill", "skipme", "no"}))->Matches(r, 0));
  }
}

std::string SlowlogEntry(int id, std::initializer_list<std::string_view> args, std::string_view name = "") {
  std::string out;
  resp::AppendArrayHeader(&out, 6);
  resp::AppendInteger(&out, id);
  resp::AppendInteger(&out, 1700000000 + id);
  resp::AppendInteger(&out, 3);
  resp::AppendArrayHeader(&out, args.size());
  for (std::string_view a : args) resp::AppendBulkString(&out, a);
  resp::AppendBulkString(&out, "unix:/tmp/redis.sock:0");
  resp::AppendBulkString(&out, name);
  return out;
}

// Regression (Redis's "SLOWLOG - Rewritten commands are logged as their
// original command"): the newest entry was the node's own ROLE after the
// client's SPOP.
TEST(ClientViewTest, SlowlogLeavesOutTheNodesRoleCalls) {
  const std::string reply = "*4\r\n" + SlowlogEntry(4, {"ROLE"}) + SlowlogEntry(3, {"spop", "set", "10"}) +
                            SlowlogEntry(2, {"role"}) + SlowlogEntry(1, {"sadd", "set", "a"});
  EXPECT_EQ(SlowlogForClients(reply, -1),
            "*2\r\n" + SlowlogEntry(3, {"spop", "set", "10"}) + SlowlogEntry(1, {"sadd", "set", "a"}));
  EXPECT_EQ(SlowlogForClients(reply, 1), "*1\r\n" + SlowlogEntry(3, {"spop", "set", "10"}));
  EXPECT_EQ(SlowlogForClients(reply, 0), "*0\r\n");
  // ROLE with an argument is no call of the node's; an unreadable reply stays as it is.
  const std::string other = "*1\r\n" + SlowlogEntry(7, {"ROLE", "x"});
  EXPECT_EQ(SlowlogForClients(other, 10), other);
  EXPECT_EQ(SlowlogForClients("*2\r\n:1\r\n", 10), "*2\r\n:1\r\n");
  EXPECT_EQ(SlowlogForClients("-ERR nope\r\n", 10), "-ERR nope\r\n");
}

// Regression (the same suite test, through a follower): the newest entry was
// the busy watchdog's PING on the node's control link.
TEST(ClientViewTest, SlowlogLeavesOutTheNodesOwnLinks) {
  const std::string control = absl::StrCat(kInternalClientPrefix, "control");
  const std::string reply = "*3\r\n" + SlowlogEntry(3, {"PING"}, control) + SlowlogEntry(2, {"blpop", "l", "0"}) +
                            SlowlogEntry(1, {"PING"}, "app");
  EXPECT_EQ(SlowlogForClients(reply, -1),
            "*2\r\n" + SlowlogEntry(2, {"blpop", "l", "0"}) + SlowlogEntry(1, {"PING"}, "app"));
}

// The shared link carries clients' commands: its entries stay, with no name
// (which client sent one is not known).
TEST(ClientViewTest, SlowlogKeepsTheSharedLinksEntriesUnnamed) {
  const std::string shared = absl::StrCat(kInternalClientPrefix, kSharedLinkName);
  const std::string control = absl::StrCat(kInternalClientPrefix, "control");
  const std::string reply = "*3\r\n" + SlowlogEntry(3, {"PING"}, control) + SlowlogEntry(2, {"SORT", "l"}, shared) +
                            SlowlogEntry(1, {"GET", "k"}, "app");
  EXPECT_EQ(SlowlogForClients(reply, -1),
            "*2\r\n" + SlowlogEntry(2, {"SORT", "l"}, "") + SlowlogEntry(1, {"GET", "k"}, "app"));
  EXPECT_EQ(SlowlogForClients(reply, 1), "*1\r\n" + SlowlogEntry(2, {"SORT", "l"}, ""));
}

// ACL LOG's client-info shows the client's own address (RESP2 pairs and
// RESP3 maps), like CLIENT LIST; the other fields are left as they were.
TEST(ClientViewTest, AclLogShowsTheClientsAddress) {
  const std::string info =
      "id=11 addr=/d/redis.sock:0 laddr=/d/redis.sock:0 fd=8 name= age=0 idle=0 flags=U db=0 cmd=get user=alice";
  for (int proto : {2, 3}) {
    // One ACL LOG entry with this client-info.
    auto log = [proto](std::string_view client_info) {
      std::string out;
      resp::AppendArrayHeader(&out, 1);
      resp::AppendMapHeader(&out, 3, proto);
      resp::AppendBulkString(&out, "count");
      resp::AppendInteger(&out, 2);
      resp::AppendBulkString(&out, "client-info");
      resp::AppendBulkString(&out, client_info);
      resp::AppendBulkString(&out, "age-seconds");
      resp::AppendDouble(&out, 0.5, proto);
      return out;
    };
    const std::string reply = log(info);
    const std::string want = log(
        "id=11 addr=10.0.0.9:51000 laddr=10.0.0.1:6380 fd=8 name= age=0 idle=0 flags=N db=0 cmd=get user=alice");
    EXPECT_EQ(AclLogForClients(reply, Book), want) << "RESP" << proto;
  }
  EXPECT_EQ(AclLogForClients("+OK\r\n", Book), "+OK\r\n");
  EXPECT_EQ(AclLogForClients("*1\r\n:5\r\n", Book), "*1\r\n:5\r\n") << "not ACL LOG's shape";
}

std::string Strings(std::vector<std::string_view> items) {
  std::string out;
  resp::AppendArrayHeader(&out, items.size());
  for (std::string_view s : items) resp::AppendBulkString(&out, s);
  return out;
}

// A stand-in for NodeAcl::Describe: "ops" may not run ANARCHO.ADD.
std::string OpsRules(std::string_view user, std::string_view child_rules) {
  return user == "ops" ? " -anarcho.add" : "";
}

TEST(ClientViewTest, AclListShowsTheNodeRulesAndHidesTheNodesUser) {
  const std::string reply = Strings({"user anarcho-node on #ab ~* &* +@all", "user default on nopass ~* &* +@all",
                                     "user ops on #cd ~* resetchannels +@all (~x* +get)"});
  EXPECT_EQ(AclUsersForClients(reply, OpsRules),
            Strings({"user default on nopass ~* &* +@all",
                     "user ops on #cd ~* resetchannels +@all -anarcho.add (~x* +get)"}));
  EXPECT_EQ(AclUsersForClients(Strings({"anarcho-node", "default", "ops"}), OpsRules),
            Strings({"default", "ops"}))
      << "ACL USERS";
}

TEST(ClientViewTest, AclGetUserShowsTheNodeRules) {
  for (int proto : {2, 3}) {
    auto getuser = [proto](std::string_view commands) {
      std::string out;
      resp::AppendMapHeader(&out, 3, proto);
      resp::AppendBulkString(&out, "flags");
      resp::AppendArrayHeader(&out, 1);
      resp::AppendBulkString(&out, "on");
      resp::AppendBulkString(&out, "commands");
      resp::AppendBulkString(&out, commands);
      resp::AppendBulkString(&out, "keys");
      resp::AppendBulkString(&out, "~*");
      return out;
    };
    EXPECT_EQ(AclGetUserForClients(getuser("+@all"), "ops", OpsRules), getuser("+@all -anarcho.add"))
        << "RESP" << proto;
    EXPECT_EQ(AclGetUserForClients(getuser("+@all"), "default", OpsRules), getuser("+@all")) << "RESP" << proto;
  }
  EXPECT_EQ(AclGetUserForClients("*-1\r\n", "ops", OpsRules), "*-1\r\n") << "no such user";
}

TEST(ClientViewTest, AclCatGainsTheNodesCategory) {
  EXPECT_EQ(WithCategory(Strings({"keyspace", "read"}), "anarcho"), Strings({"keyspace", "read", "anarcho"}));
  EXPECT_EQ(WithCategory("-ERR x\r\n", "anarcho"), "-ERR x\r\n");
}

}  // namespace
}  // namespace node
