// anarcho-admin's views of a cluster: status, members, health; as tables, or
// as JSON with --json (nlohmann-json) for scripts and monitoring.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tools/admin_util.h"

namespace admin {
namespace {

using Json = nlohmann::ordered_json;

std::map<std::string, std::string> Strings(const resp::Value& v) {
  std::map<std::string, std::string> out;
  for (auto& [k, f] : Fields(v)) out[k] = f.AsString();
  return out;
}

}  // namespace

std::vector<Target> MembersOf(std::vector<Target> given) {
  for (size_t i = 0; i < given.size(); ++i) {
    const Target asked = given[i];
    auto members = Call(asked.host, asked.port, {"ANARCHO.MEMBERS"});
    if (!members.ok()) continue;
    // The node asked may be listed under another address than the one it was
    // asked at (a member's address, not 127.0.0.1): matched by its id, it
    // shows once.
    if (asked.id == 0) {
      auto status = StatusOf(asked.host, asked.port);
      if (status.ok()) (void)absl::SimpleAtoi((*status)["id"], &given[i].id);
    }
    for (const resp::Value& m : members->elements) {
      auto f = Strings(m);
      int id = 0;
      std::vector<std::string> addr = absl::StrSplit(f["address"], ':');
      Target member;
      if (!absl::SimpleAtoi(f["id"], &id) || addr.size() != 3 || !absl::SimpleAtoi(addr[1], &member.port)) continue;
      member.id = id;
      member.host = addr[0];
      bool known = false;
      for (Target& g : given) {
        if (g.id == id || (g.port == member.port && g.host == member.host)) {
          g.id = id;
          known = true;
        }
      }
      if (!known) given.push_back(member);
    }
    break;
  }
  return given;
}

int StatusCommand(std::vector<Target> targets, bool json) {
  int down = 0;
  bool serving_leader = false;
  Json nodes = Json::array();
  if (!json) {
    absl::PrintF("%-4s %-22s %-14s %-6s %-7s %-8s %-8s %-6s %s\n", "id", "address", "role", "term", "leader",
                 "commit", "applied", "lag", "child");
  }
  for (const Target& t : MembersOf(std::move(targets))) {
    const std::string where = absl::StrCat(t.host, ":", t.port);
    auto status = StatusOf(t.host, t.port);
    if (!status.ok()) {
      ++down;
      const std::string why(status.status().message());
      // Its id as a reachable node's fields are: the string its STATUS would give.
      if (json) nodes.push_back({{"id", t.id ? absl::StrCat(t.id) : ""}, {"address", where}, {"reachable", false}, {"error", why}});
      if (!json) absl::PrintF("%-4s %-22s %-14s %s\n", t.id ? absl::StrCat(t.id) : "?", where, "down", why);
      continue;
    }
    auto& s = *status;
    serving_leader |= s["role"] == "leader" && s["state"] == "serving";
    if (json) {
      Json node = {{"address", where}, {"reachable", true}};
      for (const auto& [k, v] : s) node[k] = v;
      nodes.push_back(std::move(node));
      continue;
    }
    absl::PrintF("%-4s %-22s %-14s %-6s %-7s %-8s %-8s %-6s %s (pid %s)\n", s["id"], where, s["role"], s["term"],
                 s["leader"], s["commit_index"], s["applied_index"], s["apply_lag"],
                 s["child_healthy"] == "yes" ? "healthy" : "unhealthy", s["child_pid"]);
  }
  const bool healthy = down == 0 && serving_leader;
  if (json) {
    std::cout << Json{{"healthy", healthy}, {"down", down}, {"serving_leader", serving_leader}, {"nodes", nodes}}.dump(2)
              << "\n";
  } else if (!healthy) {
    absl::PrintF("not healthy: %d node(s) down%s\n", down, serving_leader ? "" : ", no serving leader");
  }
  return healthy ? 0 : 1;
}

int MembersCommand(const Target& node, bool json) {
  auto members = Call(node.host, node.port, {"ANARCHO.MEMBERS"});
  if (!members.ok()) {
    std::cerr << "members: " << node.host << ":" << node.port << ": " << members.status().message() << "\n";
    return 1;
  }
  Json out = Json::array();
  if (!json) absl::PrintF("%-4s %-30s %-8s %-7s %-9s %s\n", "id", "address", "kind", "leader", "match", "state");
  for (const resp::Value& m : members->elements) {
    auto f = Strings(m);
    if (json) {
      Json member;
      for (const auto& [k, v] : f) member[k] = v;
      out.push_back(std::move(member));
    } else {
      absl::PrintF("%-4s %-30s %-8s %-7s %-9s %s\n", f["id"], f["address"], f["kind"], f["leader"], f["match"],
                   f["state"]);
    }
  }
  if (json) std::cout << out.dump(2) << "\n";
  return 0;
}

int HealthCommand(const Target& node, bool json) {
  auto health = Call(node.host, node.port, {"ANARCHO.HEALTH"});
  if (!health.ok()) {
    std::cerr << "health: " << node.host << ":" << node.port << ": " << health.status().message() << "\n";
    return 1;
  }
  auto f = Strings(*health);
  if (json) {
    Json out;
    for (const auto& [k, v] : f) out[k] = v;
    std::cout << out.dump(2) << "\n";
  } else {
    absl::PrintF("%s: %s%s (node %s, %s, leader %s, term %s, apply lag %s, child %s)\n",
                 absl::StrCat(node.host, ":", node.port), f["status"], f["problems"].empty() ? "" : ": " + f["problems"],
                 f["id"], f["role"], f["leader"], f["term"], f["apply_lag"],
                 f["child_healthy"] == "yes" ? "healthy" : "not running");
  }
  return f["status"] == "ok" ? 0 : 1;
}

}  // namespace admin
