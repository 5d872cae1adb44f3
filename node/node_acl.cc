#include "node/node_acl.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/child/child_digest.h"

namespace node {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(absl::string_view(s.data(), s.size())); }

constexpr absl::string_view kCategory = "@anarcho";
constexpr absl::string_view kPrefix = "anarcho.";

// Whether each argument of ACL SETUSER is inside a selector. Redis joins the
// arguments from one that starts with '(' to the next that ends with ')'
// into one selector ("(~x" "+@all" ")"); its rules are the selector's, not
// the user's.
std::vector<bool> InSelector(std::span<const std::string_view> setuser) {
  std::vector<bool> in(setuser.size(), false);
  bool open = false;
  for (size_t i = 3; i < setuser.size(); ++i) {
    const std::string_view a = setuser[i];
    if (!open && a.starts_with('(')) open = true;
    in[i] = open;
    if (open && a.ends_with(')')) open = false;
  }
  return in;
}

}  // namespace

const std::vector<std::string>& NodeAcl::Commands() {
  static const std::vector<std::string> commands = {
      "anarcho.status",      "anarcho.health",     "anarcho.members", "anarcho.help",
      "anarcho.snapshot",    "anarcho.digest",     "anarcho.backup",  "anarcho.backup.read",
      "anarcho.backup.end",  "anarcho.add",        "anarcho.remove",  "anarcho.transfer"};
  return commands;
}

bool NodeAcl::IsNodeRule(std::string_view rule) {
  if (rule.size() < 2 || (rule[0] != '+' && rule[0] != '-')) return false;
  const std::string body = Lower(rule.substr(1));
  return body == kCategory || absl::StartsWith(body, kPrefix);
}

std::optional<std::string> NodeAcl::Check(std::span<const std::string_view> setuser) {
  const std::vector<bool> in_selector = InSelector(setuser);
  for (size_t i = 3; i < setuser.size(); ++i) {
    if (!IsNodeRule(setuser[i])) continue;
    if (in_selector[i]) {
      return absl::StrCat("ERR Error in ACL SETUSER modifier '", std::string(setuser[i]),
                          "': the node's own commands (@anarcho) are given to a user, not to a selector");
    }
    const std::string body = Lower(setuser[i].substr(1));
    if (body == kCategory || std::ranges::find(Commands(), body) != Commands().end()) continue;
    return absl::StrCat("ERR Error in ACL SETUSER modifier '", std::string(setuser[i]),
                        "': Unknown command or category name in ACL");
  }
  return std::nullopt;
}

std::vector<std::string> NodeAcl::ForChild(std::span<const std::string_view> setuser) {
  std::vector<std::string> out;
  for (size_t i = 0; i < setuser.size(); ++i) {
    if (i < 3 || !IsNodeRule(setuser[i])) out.emplace_back(setuser[i]);
  }
  return out;
}

std::vector<std::string> NodeAcl::WithPasswordsHashed(std::span<const std::string_view> setuser) {
  std::vector<std::string> out;
  for (size_t i = 0; i < setuser.size(); ++i) {
    const std::string_view rule = setuser[i];
    if (i >= 3 && (rule.starts_with('>') || rule.starts_with('<'))) {
      out.push_back(absl::StrCat(rule[0] == '>' ? "#" : "!", Sha256Hex(rule.substr(1))));
    } else {
      out.emplace_back(rule);
    }
  }
  return out;
}

void NodeAcl::SetUser(std::span<const std::string_view> setuser) {
  if (setuser.size() < 3) return;
  const std::string user(setuser[2]);
  // A user the child did not have yet starts with no commands; the default
  // user exists from the start, with +@all.
  auto [it, added] = users_.try_emplace(user);
  if (added) it->second.all = user == "default";
  Rules& r = it->second;
  const std::vector<bool> in_selector = InSelector(setuser);
  for (size_t i = 3; i < setuser.size(); ++i) {
    if (in_selector[i]) continue;  // a selector's rules (Check refused node rules there)
    const std::string rule = Lower(setuser[i]);
    if (rule == "+@all" || rule == "allcommands" || rule == absl::StrCat("+", kCategory)) {
      r = Rules{.all = true, .except = {}};
    } else if (rule == "-@all" || rule == "nocommands" || rule == "reset" || rule == absl::StrCat("-", kCategory)) {
      r = Rules{.all = false, .except = {}};
    } else if (IsNodeRule(rule)) {
      // +cmd under `all` takes it off the exceptions; under none, adds it.
      const bool allow = rule[0] == '+';
      const std::string command = rule.substr(1);
      if (allow == r.all) {
        r.except.erase(command);
      } else {
        r.except.insert(command);
      }
    }
  }
}

void NodeAcl::DelUser(std::span<const std::string_view> deluser) {
  for (size_t i = 2; i < deluser.size(); ++i) {
    // Redis refuses to delete the default user; it keeps its rules.
    if (deluser[i] != "default") users_.erase(std::string(deluser[i]));
  }
}

const NodeAcl::Rules* NodeAcl::Find(const std::string& user) const {
  static const Rules kInitialDefault{.all = true, .except = {}};
  auto it = users_.find(user);
  if (it != users_.end()) return &it->second;
  return user == "default" ? &kInitialDefault : nullptr;
}

bool NodeAcl::Allowed(const std::string& user, std::string_view command) const {
  const Rules* r = Find(user);
  if (r == nullptr) return false;
  return r->all != r->except.contains(std::string(command));
}

std::string NodeAcl::Describe(const std::string& user, std::string_view child_rules) const {
  const Rules* r = Find(user);
  if (r == nullptr) return "";
  const bool child_all = child_rules.starts_with("+@all") || child_rules.find(" +@all") != std::string_view::npos;
  std::string out;
  if (r->all != child_all) absl::StrAppend(&out, " ", r->all ? "+" : "-", kCategory);
  for (const std::string& c : r->except) absl::StrAppend(&out, " ", r->all ? "-" : "+", c);
  return out;
}

}  // namespace node
