// The @anarcho ACL category: who may run the node's own commands (ANARCHO.*).
//
// The child (Redis 7.0) knows neither these commands nor a category of its
// own making, so the node keeps this part of each user's rules itself. In
// ACL SETUSER it takes the rules that name them (`+@anarcho`, `-@anarcho`,
// `+anarcho.status`, `-anarcho.add`, ...) out of what the child runs, and
// folds them in order with the rules that reset a user's commands (`+@all`,
// `allcommands`, `-@all`, `nocommands`, `reset`), as Redis folds a
// category: `+@all -@anarcho` allows every command but the node's,
// `-@all +anarcho.status` that one only. A new user may run none of them;
// Redis's default user (`+@all`) all of them. The commands are in @anarcho
// (and @all) only, so `+@admin` does not grant them.
//
// The rules travel with the ACL SETUSER entry in the log (LoggedState), so
// every member folds the same ones, snapshots included.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace node {

class NodeAcl {
 public:
  // Every ANARCHO.* command, lowercase (ACL CAT anarcho).
  static const std::vector<std::string>& Commands();
  // A rule only the node knows: +@anarcho, -@anarcho, +anarcho.<cmd>, -anarcho.<cmd>.
  static bool IsNodeRule(std::string_view rule);
  // ACL SETUSER <user> <rule>...: Redis's error for the first node rule that
  // names no command of the node, if one does.
  static std::optional<std::string> Check(std::span<const std::string_view> setuser);
  // The same request without the node's rules: what the child runs.
  static std::vector<std::string> ForChild(std::span<const std::string_view> setuser);
  // The same request with its passwords as Redis's hashed rules (`>pw` as
  // `#<sha256>`, `<pw` as `!<sha256>`), which set the same user: what the log,
  // snapshots and backups keep, so none of them holds a password.
  static std::vector<std::string> WithPasswordsHashed(std::span<const std::string_view> setuser);

  // Folds in ACL SETUSER <user> <rule>... (every rule, in order) and
  // ACL DELUSER <user>...; Reset: Redis's initial users only.
  void SetUser(std::span<const std::string_view> setuser);
  void DelUser(std::span<const std::string_view> deluser);
  void Reset() { users_.clear(); }

  // Does the child have `user` (every user comes from a logged ACL SETUSER)?
  bool Exists(const std::string& user) const { return Find(user) != nullptr; }
  // May `user` run `command` (lowercase, an ANARCHO.* name)?
  bool Allowed(const std::string& user, std::string_view command) const;
  // The node's rules of `user`, to follow its rules as the child shows them
  // (`child_rules`: ACL GETUSER's "+@all -get", or an ACL LIST line): what
  // those leave out, e.g. " -@anarcho" or " +anarcho.status" ("" if nothing).
  std::string Describe(const std::string& user, std::string_view child_rules) const;

 private:
  // all: every node command but those in `except`; else only those in it.
  struct Rules {
    bool all = false;
    std::set<std::string> except;
  };
  const Rules* Find(const std::string& user) const;

  std::map<std::string, Rules> users_;  // a user not here: Redis's initial rules
};

}  // namespace node
