#include "node/logged_state.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "resp/request_parser.h"
#include "resp/writer.h"

namespace node {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(absl::string_view(s.data(), s.size())); }

}  // namespace

void LoggedState::Apply(const pb::EffectBatch& node_entry) {
  resp::RequestParser parser(resp::Limits{.max_bulk_len = INT64_MAX});
  std::vector<std::string_view> args;
  std::string error;
  size_t consumed = 0;
  if (parser.Parse(node_entry.commands(), &consumed, &args, &error) != resp::ParseStatus::kOk || args.size() < 2) {
    return;
  }
  const std::string name = Lower(args[0]);
  const std::string sub = Lower(args[1]);
  if (name == "script" && sub == "load" && args.size() >= 3) scripts_.insert(std::string(args[2]));
  if (name == "script" && sub == "flush") scripts_.clear();
  if (name == "debug" && args.size() == 3) {
    // Kept beside the settings; the space keeps it apart from CONFIG names.
    std::string setting = "debug " + sub;
    std::erase_if(settings_, [&](const auto& s) { return s.first == setting; });
    settings_.emplace_back(std::move(setting), std::string(args[2]));
  }
  if (name == "config" && sub == "set") {
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      std::string setting = Lower(args[i]);
      std::erase_if(settings_, [&](const auto& s) { return s.first == setting; });
      settings_.emplace_back(std::move(setting), std::string(args[i + 1]));
    }
  }
}

void LoggedState::Load(const pb::SnapshotMeta& meta) {
  scripts_ = std::set<std::string>(meta.scripts().begin(), meta.scripts().end());
  settings_.clear();
  for (const pb::Setting& s : meta.settings()) settings_.emplace_back(s.name(), s.value());
}

void LoggedState::Save(pb::SnapshotMeta* meta) const {
  meta->clear_scripts();
  meta->clear_settings();
  for (const std::string& body : scripts_) meta->add_scripts(body);
  for (const auto& [name, value] : settings_) {
    pb::Setting* s = meta->add_settings();
    s->set_name(name);
    s->set_value(value);
  }
}

std::string LoggedState::Prelude(const pb::SnapshotMeta& meta) {
  std::string out;
  for (const pb::Setting& s : meta.settings()) {
    if (s.name().starts_with("debug ")) {
      resp::AppendCommand(&out, {"DEBUG", std::string_view(s.name()).substr(6), s.value()});
    } else {
      resp::AppendCommand(&out, {"CONFIG", "SET", s.name(), s.value()});
    }
  }
  for (const std::string& body : meta.scripts()) resp::AppendCommand(&out, {"SCRIPT", "LOAD", body});
  return out;
}

std::optional<std::string> LoggedState::Setting(std::initializer_list<std::string_view> names) const {
  for (auto it = settings_.rbegin(); it != settings_.rend(); ++it) {
    if (std::find(names.begin(), names.end(), it->first) != names.end()) return it->second;
  }
  return std::nullopt;
}

}  // namespace node
