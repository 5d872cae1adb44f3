// The @anarcho category (node/node_acl.h): which rules are the node's, how
// they fold with the rules that reset a user's commands, and how they show.
#include "node/node_acl.h"

#include "gtest/gtest.h"

namespace node {
namespace {

using V = std::vector<std::string_view>;

TEST(NodeAclTest, TheNodesRulesAreTakenOutOfWhatTheChildRuns) {
  EXPECT_TRUE(NodeAcl::IsNodeRule("+@anarcho"));
  EXPECT_TRUE(NodeAcl::IsNodeRule("-@ANARCHO"));
  EXPECT_TRUE(NodeAcl::IsNodeRule("+anarcho.status"));
  EXPECT_TRUE(NodeAcl::IsNodeRule("-Anarcho.Add"));
  EXPECT_FALSE(NodeAcl::IsNodeRule("+@admin"));
  EXPECT_FALSE(NodeAcl::IsNodeRule("~anarcho.*"));  // a key pattern
  EXPECT_FALSE(NodeAcl::IsNodeRule(">anarcho.pw"));  // a password
  EXPECT_EQ(NodeAcl::ForChild(V{"ACL", "SETUSER", "-anarcho.x", "on", "+@anarcho", ">pw", "-anarcho.add", "+get"}),
            (std::vector<std::string>{"ACL", "SETUSER", "-anarcho.x", "on", ">pw", "+get"}))
      << "the user's name is never a rule";
}

TEST(NodeAclTest, UnknownNodeCommandsAreRefusedInRedisWords) {
  EXPECT_EQ(NodeAcl::Check(V{"ACL", "SETUSER", "bob", "+@anarcho", "+anarcho.status", "-ANARCHO.BACKUP.READ"}),
            std::nullopt);
  EXPECT_EQ(NodeAcl::Check(V{"ACL", "SETUSER", "bob", "on", "+anarcho.bogus"}),
            "ERR Error in ACL SETUSER modifier '+anarcho.bogus': Unknown command or category name in ACL");
  EXPECT_TRUE(NodeAcl::Check(V{"ACL", "SETUSER", "bob", "+anarcho.status|x"}).has_value());
}

// Regression: Redis joins "(~x" "+@all" ")" into one selector; the node took
// the +@all for the user's own and gave it every ANARCHO command (review).
// Node rules inside a selector are refused (the child would never see them).
TEST(NodeAclTest, ASelectorsRulesAreNotTheUsers) {
  NodeAcl acl;
  acl.SetUser(V{"ACL", "SETUSER", "sel", "on", "(~x", "+@all", ")", "+get"});
  EXPECT_FALSE(acl.Allowed("sel", "anarcho.status"));
  acl.SetUser(V{"ACL", "SETUSER", "sel", "(~y +@all)", "+@anarcho", "(", "-@all", ")"});
  EXPECT_TRUE(acl.Allowed("sel", "anarcho.status")) << "a user-level rule after selectors still counts";
  EXPECT_EQ(NodeAcl::Check(V{"ACL", "SETUSER", "sel", "(~x", "+@anarcho", ")"}),
            "ERR Error in ACL SETUSER modifier '+@anarcho': the node's own commands (@anarcho) are given to a user, "
            "not to a selector");
  EXPECT_EQ(NodeAcl::Check(V{"ACL", "SETUSER", "sel", "(~x", "+@all", ")", "+anarcho.status"}), std::nullopt);
}

TEST(NodeAclTest, RulesFoldInOrderLikeACategory) {
  NodeAcl acl;
  // Redis's default user may run everything; a user nobody created, nothing.
  EXPECT_TRUE(acl.Allowed("default", "anarcho.add"));
  EXPECT_FALSE(acl.Exists("bob"));
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.status"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "on", ">pw", "+@admin"});
  EXPECT_TRUE(acl.Exists("bob"));
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.add")) << "a new user has no commands; @admin does not hold them";
  acl.SetUser(V{"ACL", "SETUSER", "bob", "+anarcho.status"});
  EXPECT_TRUE(acl.Allowed("bob", "anarcho.status"));
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.health"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "+@all", "-anarcho.add"});
  EXPECT_TRUE(acl.Allowed("bob", "anarcho.health"));
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.add"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "+ANARCHO.ADD"});
  EXPECT_TRUE(acl.Allowed("bob", "anarcho.add"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "-@anarcho", "+anarcho.members"});
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.add"));
  EXPECT_TRUE(acl.Allowed("bob", "anarcho.members"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "reset"});
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.members"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "allcommands"});
  EXPECT_TRUE(acl.Allowed("bob", "anarcho.transfer"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "nocommands"});
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.transfer"));
  acl.SetUser(V{"ACL", "SETUSER", "default", "-@anarcho"});
  EXPECT_FALSE(acl.Allowed("default", "anarcho.status"));
  // A deleted user is gone; created again, it starts from nothing. Redis
  // does not delete the default user.
  acl.SetUser(V{"ACL", "SETUSER", "bob", "+@all"});
  acl.DelUser(V{"ACL", "DELUSER", "bob", "default"});
  EXPECT_FALSE(acl.Exists("bob"));
  EXPECT_FALSE(acl.Allowed("default", "anarcho.status"));
  acl.SetUser(V{"ACL", "SETUSER", "bob", "on"});
  EXPECT_FALSE(acl.Allowed("bob", "anarcho.status"));
}

TEST(NodeAclTest, DescribeSaysWhatTheChildsRulesLeaveOut) {
  NodeAcl acl;
  EXPECT_EQ(acl.Describe("default", "+@all"), "");
  acl.SetUser(V{"ACL", "SETUSER", "ops", "+@all", "-anarcho.add", "-anarcho.remove"});
  EXPECT_EQ(acl.Describe("ops", "+@all"), " -anarcho.add -anarcho.remove");
  acl.SetUser(V{"ACL", "SETUSER", "mon", "+info", "+anarcho.status"});
  EXPECT_EQ(acl.Describe("mon", "-@all +info"), " +anarcho.status");
  acl.SetUser(V{"ACL", "SETUSER", "admin", "+@admin", "+@anarcho"});
  EXPECT_EQ(acl.Describe("admin", "-@all +@admin"), " +@anarcho");
  acl.SetUser(V{"ACL", "SETUSER", "app", "+@all", "-@anarcho"});
  EXPECT_EQ(acl.Describe("app", "user app on nopass ~* resetchannels +@all"), " -@anarcho");
  EXPECT_EQ(acl.Describe("nobody", "+@all"), "");
}

TEST(NodeAclTest, PasswordsAreHashedAsRedisRules) {
  // sha256("pw"), as `echo -n pw | sha256sum` gives it.
  const std::string hash = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";
  EXPECT_EQ(NodeAcl::WithPasswordsHashed(V{"ACL", "SETUSER", "a", "on", ">pw", "<pw", "~*", "+@all"}),
            (std::vector<std::string>{"ACL", "SETUSER", "a", "on", "#" + hash, "!" + hash, "~*", "+@all"}));
  // A user may be called ">x": only rules are passwords.
  EXPECT_EQ(NodeAcl::WithPasswordsHashed(V{"ACL", "SETUSER", ">x", "nopass"}),
            (std::vector<std::string>{"ACL", "SETUSER", ">x", "nopass"}));
}

}  // namespace
}  // namespace node
