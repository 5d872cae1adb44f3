#include "node/logged_state.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/child/child_digest.h"
#include "resp/value.h"
#include "resp/request_parser.h"
#include "resp/writer.h"

namespace node {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(absl::string_view(s.data(), s.size())); }

std::string Encode(const std::vector<std::string_view>& args) {
  std::string out;
  resp::AppendCommand(&out, args);
  return out;
}

// One encoded request's arguments (views into `encoded`); empty if it is not one.
std::vector<std::string_view> Decode(std::string_view encoded) {
  resp::RequestParser parser(resp::Limits{.max_bulk_len = INT64_MAX, .query_buffer_limit = INT64_MAX});
  std::vector<std::string_view> args;
  std::string error;
  size_t consumed = 0;
  if (parser.Parse(encoded, &consumed, &args, &error) != resp::ParseStatus::kOk) return {};
  return args;
}

// An encoded change's command and first argument ("setuser", "alice"), or
// its setting and value ("requirepass", "<the password>").
std::pair<std::string, std::string> AclChangeOf(std::string_view encoded) {
  const std::vector<std::string_view> args = Decode(encoded);
  if (args.size() < 3) return {};
  if (Lower(args[0]) == "config") return {Lower(args[2]), args.size() > 3 ? std::string(args[3]) : ""};
  return {Lower(args[1]), std::string(args[2])};
}

constexpr std::string_view kPubsubDefault = "acl-pubsub-default";
// What a child starts with (Redis 7.0's default; the node does not set it).
constexpr std::string_view kInitialPubsubDefault = "resetchannels";

bool IsPubsubDefault(const std::string& change) { return AclChangeOf(change).first == kPubsubDefault; }

}  // namespace

bool LoggedState::Apply(const pb::EffectBatch& node_entry) {
  // One request, or those of one transaction (LogAfterEffects), in order.
  std::string_view requests = node_entry.node_request().empty() ? node_entry.commands() : node_entry.node_request();
  resp::RequestParser parser(resp::Limits{.max_bulk_len = INT64_MAX, .query_buffer_limit = INT64_MAX});
  bool changed = false;
  while (!requests.empty()) {
    std::vector<std::string_view> args;
    std::string error;
    size_t consumed = 0;
    if (parser.Parse(requests, &consumed, &args, &error) != resp::ParseStatus::kOk) break;
    requests.remove_prefix(consumed);
    changed |= ApplyRequest(args);
  }
  return changed;
}

bool LoggedState::ApplyRequest(const std::vector<std::string_view>& args) {
  if (args.size() < 2) return false;
  const std::string name = Lower(args[0]);
  const std::string sub = Lower(args[1]);
  if (name == "script" && sub == "load" && args.size() >= 3) {
    if (scripts_.insert(std::string(args[2])).second) bytes_ += args[2].size();
  }
  if (name == "script" && sub == "flush") {
    for (const std::string& body : scripts_) bytes_ -= body.size();
    scripts_.clear();
  }
  if (name == "debug" && args.size() == 3) SetSetting("debug " + sub, args[2]);  // the space keeps it apart from CONFIG names
  if (name == "acl" || (name == "config" && sub == "set")) ++acl_generation_;
  if (name == "acl" && sub == "setuser" && args.size() >= 3) {
    AddAclChange(Encode(args));
    node_acl_.SetUser(args);
  }
  if (name == "acl" && sub == "deluser") {
    node_acl_.DelUser(args);
    const std::set<std::string_view> gone(args.begin() + 2, args.end());
    EraseAclChanges([&](const std::string& c) {
      auto [what, user] = AclChangeOf(c);
      return what == "setuser" && gone.contains(user);
    });
    // An acl-pubsub-default change that no user change follows any more
    // before the next one has nothing left to shape.
    for (size_t i = 0; i + 1 < acl_.size();) {
      if (IsPubsubDefault(acl_[i]) && IsPubsubDefault(acl_[i + 1])) {
        RemoveAclChange(i);
      } else {
        ++i;
      }
    }
  }
  if (name == "config" && sub == "set") {
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      std::string setting = Lower(args[i]);
      if (setting == "requirepass") {
        SetRequirepass(args[i + 1]);
        continue;
      }
      if (setting == kPubsubDefault) AddPubsubDefault(args[i + 1]);
      SetSetting(std::move(setting), args[i + 1]);
    }
  }
  return (name == "script" && (sub == "load" || sub == "flush")) || (name == "debug" && args.size() == 3) ||
         name == "acl" || (name == "config" && sub == "set");
}

// Redis resets the default user's passwords to a new requirepass (or to
// nopass for an empty one) only when the setting changes: the same value
// again does nothing, not even to passwords set since. Each change is kept in
// its place among the user changes (Prelude replays it as the reset it was):
// an ACL SETUSER default after it may build on its password (`<old` fails,
// and with it the whole SETUSER, where that password is gone). A change
// replaces the one before it only if no SETUSER default came between.
// Replayed otherwise, a rebuilt child, a new member or a restored backup got
// other passwords, or other rules, than the live children.
void LoggedState::SetRequirepass(std::string_view value) {
  // The children's setting as the last change left it (a child starts with none).
  std::optional<size_t> last;
  for (size_t i = 0; i < acl_.size(); ++i) {
    if (AclChangeOf(acl_[i]).first == "requirepass") last = i;
  }
  if (value == (last ? AclChangeOf(acl_[*last]).second : "")) return;
  if (last && std::none_of(acl_.begin() + static_cast<std::ptrdiff_t>(*last) + 1, acl_.end(), [](const std::string& c) {
        return AclChangeOf(c) == std::pair<std::string, std::string>("setuser", "default");
      })) {
    RemoveAclChange(*last);
  }
  AddAclChange(Encode({"CONFIG", "SET", "requirepass", value}));
}

void LoggedState::SetSetting(std::string name, std::string_view value) {
  EraseSettings([&](const auto& s) { return s.first == name; });
  bytes_ += name.size() + value.size();
  settings_.emplace_back(std::move(name), std::string(value));
}

template <typename Pred>
void LoggedState::EraseSettings(Pred pred) {
  std::erase_if(settings_, [&](const std::pair<std::string, std::string>& s) {
    if (!pred(s)) return false;
    bytes_ -= s.first.size() + s.second.size();
    return true;
  });
}

// acl-pubsub-default is a setting, but Redis reads it when a user (or a
// selector) is made and at a SETUSER's `reset`: the channels a user has
// depend on its value at that moment, not on the last one. It is kept among
// the user changes, where it was set, so that a child rebuilt from a
// snapshot makes each user under the value the live children made it under.
// A change right after another replaces it: no user change is between.
void LoggedState::AddPubsubDefault(std::string_view value) {
  if (!acl_.empty() && IsPubsubDefault(acl_.back())) RemoveAclChange(acl_.size() - 1);
  AddAclChange(Encode({"CONFIG", "SET", kPubsubDefault, value}));
}

void LoggedState::AddAclChange(std::string change) {
  bytes_ += change.size();
  if (IsPubsubDefault(change)) ++pubsub_defaults_;
  acl_.push_back(std::move(change));
}

void LoggedState::RemoveAclChange(size_t i) {
  bytes_ -= acl_[i].size();
  if (IsPubsubDefault(acl_[i])) --pubsub_defaults_;
  acl_.erase(acl_.begin() + static_cast<std::ptrdiff_t>(i));
}

template <typename Pred>
void LoggedState::EraseAclChanges(Pred pred) {
  std::erase_if(acl_, [&](const std::string& c) {
    if (!pred(c)) return false;
    bytes_ -= c.size();
    if (IsPubsubDefault(c)) --pubsub_defaults_;
    return true;
  });
}

void LoggedState::Load(const pb::SnapshotMeta& meta) {
  scripts_ = std::set<std::string>(meta.scripts().begin(), meta.scripts().end());
  settings_.clear();
  for (const pb::Setting& s : meta.settings()) settings_.emplace_back(s.name(), s.value());
  acl_.assign(meta.acl().begin(), meta.acl().end());
  pubsub_defaults_ = static_cast<size_t>(std::count_if(acl_.begin(), acl_.end(), IsPubsubDefault));
  bytes_ = 0;
  for (const std::string& body : scripts_) bytes_ += body.size();
  for (const auto& [name, value] : settings_) bytes_ += name.size() + value.size();
  for (const std::string& change : acl_) bytes_ += change.size();
  ++acl_generation_;
  node_acl_.Reset();
  for (const std::string& change : acl_) {
    const std::vector<std::string_view> args = Decode(change);
    if (args.size() >= 3 && Lower(args[0]) == "acl") node_acl_.SetUser(args);
  }
}

void LoggedState::Save(pb::SnapshotMeta* meta) const {
  meta->clear_scripts();
  meta->clear_settings();
  meta->clear_acl();
  for (const std::string& change : acl_) meta->add_acl(change);
  for (const std::string& body : scripts_) meta->add_scripts(body);
  for (const auto& [name, value] : settings_) {
    pb::Setting* s = meta->add_settings();
    s->set_name(name);
    s->set_value(value);
  }
}

void LoggedState::Copy(const pb::SnapshotMeta& from, pb::SnapshotMeta* to) {
  to->mutable_scripts()->CopyFrom(from.scripts());
  to->mutable_settings()->CopyFrom(from.settings());
  to->mutable_acl()->CopyFrom(from.acl());
}

std::vector<std::vector<std::string>> LoggedState::SettingRequests(const pb::SnapshotMeta& meta) {
  std::vector<std::vector<std::string>> out;
  for (const pb::Setting& s : meta.settings()) {
    if (s.name().starts_with("debug ")) {
      out.push_back({"DEBUG", s.name().substr(6), s.value()});
    } else {
      out.push_back({"CONFIG", "SET", s.name(), s.value()});
    }
  }
  return out;
}

std::string LoggedState::Prelude(const pb::SnapshotMeta& meta) {
  std::string out;
  for (const std::vector<std::string>& r : SettingRequests(meta)) {
    resp::AppendCommand(&out, std::vector<std::string_view>(r.begin(), r.end()));
  }
  const pb::Setting* pubsub_default = nullptr;
  for (const pb::Setting& s : meta.settings()) {
    if (s.name() == kPubsubDefault) pubsub_default = &s;
  }
  // The user changes run under the acl-pubsub-default each ran under (see
  // AddPubsubDefault): the first ones under the value a child starts with.
  const bool pubsub_changed = !meta.acl().empty() && pubsub_default != nullptr;
  if (pubsub_changed) resp::AppendCommand(&out, {"CONFIG", "SET", kPubsubDefault, kInitialPubsubDefault});
  // requirepass: the setting takes its last value first (on a fresh child that
  // resets the default user's passwords, which the changes then redo); each
  // change replays as what it did to the default user (SetRequirepass), in
  // its place. (As CONFIG SET, a change to the value the child already had
  // would do nothing: an empty one on a fresh child, or the last value.)
  std::string requirepass;
  for (const std::string& change : meta.acl()) {
    if (auto [what, value] = AclChangeOf(change); what == "requirepass") requirepass = std::move(value);
  }
  if (!requirepass.empty()) resp::AppendCommand(&out, {"CONFIG", "SET", "requirepass", requirepass});
  for (const std::string& change : meta.acl()) {
    if (auto [what, value] = AclChangeOf(change); what == "requirepass") {
      const std::string password = value.empty() ? "nopass" : absl::StrCat("#", Sha256Hex(value));
      resp::AppendCommand(&out, {"ACL", "SETUSER", "default", "resetpass", password});
      continue;
    }
    const std::vector<std::string> for_child = ForChild(Decode(change));
    resp::AppendCommand(&out, std::vector<std::string_view>(for_child.begin(), for_child.end()));
  }
  // The value in force now (a snapshot from before the changes kept it only
  // among the settings).
  if (pubsub_changed) {
    resp::AppendCommand(&out, {"CONFIG", "SET", kPubsubDefault, pubsub_default->value()});
  }
  for (const std::string& body : meta.scripts()) resp::AppendCommand(&out, {"SCRIPT", "LOAD", body});
  return out;
}

std::vector<LoggedRequest> PendingReadClaims(const LoggedRequest& read, std::string_view reply, int64_t now_ms) {
  const std::vector<std::string>& a = read.args;
  if (a.size() < 4 || !absl::EqualsIgnoreCase(a[0], "xreadgroup") || !absl::EqualsIgnoreCase(a[1], "group")) return {};
  const auto streams = std::find_if(a.begin(), a.end(), [](const std::string& w) { return absl::EqualsIgnoreCase(w, "streams"); });
  if (streams == a.end()) return {};
  const std::span<const std::string> keys(streams + 1, (a.end() - streams - 1) / 2);
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(reply, &consumed, &v, &error) != resp::ParseStatus::kOk) return {};
  // RESP2: [[stream, entries], ...]; RESP3: {stream: entries, ...}.
  std::vector<std::pair<std::string, const resp::Value*>> read_from;
  if (v.type == resp::Type::kMap) {
    for (size_t i = 0; i + 1 < v.elements.size(); i += 2) read_from.emplace_back(v.elements[i].AsString(), &v.elements[i + 1]);
  } else if (v.type == resp::Type::kArray) {
    for (const resp::Value& s : v.elements) {
      if (s.elements.size() == 2) read_from.emplace_back(s.elements[0].AsString(), &s.elements[1]);
    }
  }
  std::vector<LoggedRequest> claims;
  for (const auto& [key, entries] : read_from) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) continue;  // read with ">": propagated as XCLAIM
    LoggedRequest claim{.args = {"XCLAIM", key, a[2], a[3], "0"}, .db = read.db};
    for (const resp::Value& e : entries->elements) {
      if (e.elements.size() == 2 && e.elements[1].type != resp::Type::kNull) claim.args.push_back(e.elements[0].AsString());
    }
    if (claim.args.size() == 5) continue;
    claim.args.insert(claim.args.end(), {"TIME", absl::StrCat(now_ms), "JUSTID"});
    claims.push_back(std::move(claim));
  }
  return claims;
}

std::vector<std::string> LoggedState::ForChild(std::span<const std::string_view> request) {
  if (request.size() >= 3 && Lower(request[0]) == "acl" && Lower(request[1]) == "setuser") {
    return NodeAcl::ForChild(request);
  }
  return std::vector<std::string>(request.begin(), request.end());
}

std::optional<std::string> LoggedState::Setting(std::initializer_list<std::string_view> names) const {
  for (auto it = settings_.rbegin(); it != settings_.rend(); ++it) {
    if (std::find(names.begin(), names.end(), it->first) != names.end()) return it->second;
  }
  return std::nullopt;
}

bool LoggedState::MayStartEvicting(std::string_view name, std::string_view value) {
  if (name == "maxmemory") {
    // Redis reads a size as digits and a unit ("0", "0mb" are 0).
    const std::string_view digits = value.substr(0, value.find_first_not_of("0123456789"));
    return digits.empty() || digits.find_first_not_of('0') != std::string_view::npos;
  }
  return name == "maxmemory-policy" && Lower(value) != "noeviction";
}

bool LoggedState::MayEvict() const {
  const std::optional<std::string> memory = Setting({"maxmemory"});
  const std::optional<std::string> policy = Setting({"maxmemory-policy"});
  return memory && policy && MayStartEvicting("maxmemory", *memory) && MayStartEvicting("maxmemory-policy", *policy);
}

void LoggedHistory::Reset(const pb::SnapshotMeta& meta) {
  base_.Load(meta);
  since_.clear();
}

void LoggedHistory::Add(uint64_t index, const pb::EffectBatch& node_entry) { since_.emplace_back(index, node_entry); }

void LoggedHistory::Save(uint64_t index, pb::SnapshotMeta* meta) const {
  LoggedState at = base_;
  for (const auto& [i, entry] : since_) {
    if (i > index) break;
    at.Apply(entry);
  }
  at.Save(meta);
}

void LoggedHistory::Advance(uint64_t index) {
  while (!since_.empty() && since_.front().first <= index) {
    base_.Apply(since_.front().second);
    since_.pop_front();
  }
}

}  // namespace node
