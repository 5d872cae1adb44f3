#include "node/front/client_view.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "node/child/child_redis.h"
#include "resp/reply_scanner.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace node {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(absl::string_view(s.data(), s.size())); }

// Redis's client types by name (CLIENT KILL TYPE), as the row's flags show them.
std::string TypeOf(const ClientRow& row) {
  const std::string* flags = row.Get("flags");
  const std::string f = flags ? *flags : "";
  if (f.find('M') != std::string::npos) return "master";
  if (f.find('S') != std::string::npos) return "replica";
  const std::string* sub = row.Get("sub");
  const std::string* psub = row.Get("psub");
  const std::string* ssub = row.Get("ssub");
  for (const std::string* n : {sub, psub, ssub}) {
    if (n != nullptr && *n != "0") return "pubsub";
  }
  return "normal";
}

}  // namespace

const std::string* ClientRow::Get(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

void ClientRow::Set(std::string_view key, std::string value) {
  for (auto& [k, v] : fields) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
}

int64_t ClientRow::id() const {
  int64_t id = -1;
  const std::string* v = Get("id");
  return v != nullptr && absl::SimpleAtoi(*v, &id) ? id : -1;
}

bool ClientRow::internal() const {
  const std::string* name = Get("name");
  return name != nullptr && name->starts_with(kInternalClientPrefix);
}

std::string ClientRow::ToString() const {
  std::string out;
  for (const auto& [k, v] : fields) absl::StrAppend(&out, out.empty() ? "" : " ", k, "=", v);
  return out;
}

std::vector<ClientRow> ParseClientRows(std::string_view text) {
  std::vector<ClientRow> rows;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    ClientRow row;
    for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      const size_t eq = field.find('=');
      if (eq == absl::string_view::npos) continue;
      row.fields.emplace_back(std::string(field.substr(0, eq)), std::string(field.substr(eq + 1)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<ClientRow> RowsForClients(std::string_view text, const AddressBook& book) {
  std::vector<ClientRow> rows;
  for (ClientRow& row : ParseClientRows(text)) {
    if (row.internal()) continue;
    if (std::optional<ClientAddresses> a = book(row.id())) {
      row.Set("addr", a->addr);
      row.Set("laddr", a->laddr);
    }
    if (const std::string* flags = row.Get("flags")) {
      std::string f = *flags;
      std::erase(f, 'U');
      row.Set("flags", f.empty() ? "N" : f);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string ClientRowsForClients(std::string_view text, const AddressBook& book) {
  std::string out;
  for (const ClientRow& row : RowsForClients(text, book)) absl::StrAppend(&out, row.ToString(), "\n");
  return out;
}

std::string WithInfoField(std::string_view info, std::string_view field, std::string_view value) {
  const std::string key = absl::StrCat("\r\n", absl::string_view(field.data(), field.size()), ":");
  const size_t at = info.find(key);
  if (at == std::string_view::npos) return std::string(info);
  const size_t start = at + key.size();
  const size_t end = info.find("\r\n", start);
  return absl::StrCat(absl::string_view(info.data(), start), absl::string_view(value.data(), value.size()),
                      end == std::string_view::npos ? "" : absl::string_view(info.data() + end, info.size() - end));
}

bool ClientKillFilter::Matches(const ClientRow& row, int64_t caller_id) const {
  if (row.internal()) return false;
  if (skipme && row.id() == caller_id) return false;
  if (id && row.id() != *id) return false;
  if (type && TypeOf(row) != *type) return false;
  auto equals = [&](const char* key, const std::optional<std::string>& want) {
    const std::string* v = row.Get(key);
    return !want || (v != nullptr && *v == *want);
  };
  return equals("addr", addr) && equals("laddr", laddr) && equals("user", user);
}

absl::StatusOr<ClientKillFilter> ClientKillFilterOf(std::span<const std::string_view> args) {
  ClientKillFilter f;
  if (args.size() == 3) {
    f.old_form = true;
    f.skipme = false;
    f.addr = std::string(args[2]);
    return f;
  }
  if (args.size() < 3) return absl::InvalidArgumentError("ERR wrong number of arguments for 'client|kill' command");
  for (size_t i = 2; i < args.size(); i += 2) {
    const std::string key = Lower(args[i]);
    if (i + 1 >= args.size()) return absl::InvalidArgumentError("ERR syntax error");
    const std::string_view value = args[i + 1];
    if (key == "id") {
      int64_t id = 0;
      if (!absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &id) || id <= 0) {
        return absl::InvalidArgumentError("ERR client-id should be greater than 0");
      }
      f.id = id;
    } else if (key == "type") {
      std::string type = Lower(value);
      if (type == "slave") type = "replica";
      if (type != "normal" && type != "replica" && type != "master" && type != "pubsub") {
        return absl::InvalidArgumentError(absl::StrCat("ERR Unknown client type '", absl::string_view(value.data(), value.size()), "'"));
      }
      f.type = type;
    } else if (key == "addr") {
      f.addr = std::string(value);
    } else if (key == "laddr") {
      f.laddr = std::string(value);
    } else if (key == "user") {
      f.user = std::string(value);
    } else if (key == "skipme") {
      const std::string yes_no = Lower(value);
      if (yes_no != "yes" && yes_no != "no") return absl::InvalidArgumentError("ERR syntax error");
      f.skipme = yes_no == "yes";
    } else {
      return absl::InvalidArgumentError("ERR syntax error");
    }
  }
  return f;
}

namespace {

// An aggregate's header line ("*3\r\n", "%7\r\n"): its element count (a
// map's pairs count twice), and the bytes it takes; nullopt if not one.
std::optional<std::pair<uint64_t, size_t>> AggregateHeader(std::string_view data) {
  const size_t eol = data.find("\r\n");
  uint64_t n = 0;
  if (data.empty() || (data[0] != '*' && data[0] != '%') || eol == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(data.data() + 1, eol - 1), &n)) {
    return std::nullopt;
  }
  return std::make_pair(data[0] == '%' ? 2 * n : n, eol + 2);
}

// The next complete value at the front of `*rest`, taken off it, and its type
// byte; nullopt if there is none.
std::optional<std::pair<std::string_view, char>> TakeValue(std::string_view* rest) {
  resp::ReplyScanner scanner;
  size_t len = 0;
  char type = 0;
  std::string error;
  if (scanner.Scan(*rest, &len, &type, &error) != resp::ParseStatus::kOk) return std::nullopt;
  const std::string_view value = rest->substr(0, len);
  rest->remove_prefix(len);
  return std::make_pair(value, type);
}

// Copies `count` values of a flat key/value aggregate (an ACL LOG entry, ACL
// GETUSER's reply) from the front of `*rest` to `out`, the bulk string that
// follows the bulk key `key` as `rewrite` makes it. False if the values end
// early or do not scan.
bool RewriteField(std::string_view* rest, uint64_t count, std::string_view key,
                  const std::function<std::string(const std::string&)>& rewrite, std::string* out) {
  bool next = false;
  for (uint64_t k = 0; k < count; ++k) {
    const auto element = TakeValue(rest);
    if (!element) return false;
    resp::Value v;
    size_t consumed = 0;
    std::string error;
    const bool bulk =
        element->second == '$' && resp::ParseValue(element->first, &consumed, &v, &error) == resp::ParseStatus::kOk;
    if (next && bulk) {
      resp::AppendBulkString(out, rewrite(v.str));
    } else {
      out->append(element->first);
    }
    next = k % 2 == 0 && bulk && v.str == key;
  }
  return true;
}

}  // namespace

std::string AclLogForClients(std::string_view reply, const AddressBook& book) {
  const auto top = AggregateHeader(reply);
  if (!top || reply[0] != '*') return std::string(reply);
  std::string out(reply.substr(0, top->second));
  std::string_view rest = reply.substr(top->second);
  for (uint64_t i = 0; i < top->first; ++i) {
    const auto entry = AggregateHeader(rest);
    if (!entry) return std::string(reply);
    out.append(rest.substr(0, entry->second));
    rest.remove_prefix(entry->second);
    const auto with_address = [&](const std::string& info) {
      std::string row = ClientRowsForClients(info, book);
      if (!row.empty()) row.pop_back();  // the "\n" after the row
      return row.empty() ? info : row;
    };
    if (!RewriteField(&rest, entry->first, "client-info", with_address, &out)) return std::string(reply);
  }
  return out;
}

std::string AclUsersForClients(std::string_view reply, const NodeRules& rules) {
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(reply, &consumed, &v, &error) != resp::ParseStatus::kOk || v.type != resp::Type::kArray) {
    return std::string(reply);
  }
  const std::string rule_prefix = absl::StrCat("user ", kInternalUser, " ");
  std::vector<std::string> kept;
  for (const resp::Value& e : v.elements) {
    std::string s = e.str;
    if (s == kInternalUser || s.starts_with(rule_prefix)) continue;
    if (s.starts_with("user ")) {
      // "user <name> <rules> [(<selector>) ...]": the root rules end where
      // the selectors begin.
      const std::string_view name = std::string_view(s).substr(5, s.find(' ', 5) - 5);
      const size_t root_end = std::min(s.find(" ("), s.size());
      s.insert(root_end, rules(name, std::string_view(s).substr(0, root_end)));
    }
    kept.push_back(std::move(s));
  }
  std::string out;
  resp::AppendArrayHeader(&out, kept.size());
  for (std::string_view s : kept) resp::AppendBulkString(&out, s);
  return out;
}

std::string WithCategory(std::string_view reply, std::string_view category) {
  const auto top = AggregateHeader(reply);
  if (!top || reply[0] != '*') return std::string(reply);
  std::string out;
  resp::AppendArrayHeader(&out, top->first + 1);
  out.append(reply.substr(top->second));
  resp::AppendBulkString(&out, category);
  return out;
}

std::string AclGetUserForClients(std::string_view reply, std::string_view user, const NodeRules& rules) {
  const auto top = AggregateHeader(reply);
  if (!top) return std::string(reply);
  std::string out(reply.substr(0, top->second));
  std::string_view rest = reply.substr(top->second);
  const auto with_node_rules = [&](const std::string& commands) { return commands + rules(user, commands); };
  if (!RewriteField(&rest, top->first, "commands", with_node_rules, &out)) return std::string(reply);
  return out;
}

std::string SlowlogForClients(std::string_view reply, int64_t count) {
  // "*N\r\n", then N entries: each an array whose 4th element is the call's arguments.
  const auto top = AggregateHeader(reply);
  if (!top || reply[0] != '*') return std::string(reply);
  std::string_view rest = reply.substr(top->second);
  // The shared link's entries end with its name.
  std::string named_shared;
  resp::AppendBulkString(&named_shared, absl::StrCat(kInternalClientPrefix, kSharedLinkName));
  std::vector<std::string> kept;
  for (uint64_t i = 0; i < top->first; ++i) {
    const auto entry = TakeValue(&rest);
    resp::Value v;
    size_t consumed = 0;
    std::string error;
    if (!entry || resp::ParseValue(entry->first, &consumed, &v, &error) != resp::ParseStatus::kOk) {
      return std::string(reply);
    }
    const bool node_role = v.elements.size() > 3 && v.elements[3].elements.size() == 1 &&
                           absl::EqualsIgnoreCase(v.elements[3].elements[0].AsString(), "role");
    // Entry element 5 is the client's name: the node's own links are named.
    // The shared link's commands are its clients' (which one is not known):
    // kept, with no name.
    const std::string name = v.elements.size() > 5 ? v.elements[5].AsString() : "";
    const bool shared = entry->first.ends_with(named_shared);
    if (node_role || (name.starts_with(kInternalClientPrefix) && !shared)) continue;
    if (count >= 0 && kept.size() >= static_cast<uint64_t>(count)) continue;
    std::string e(entry->first);
    if (shared) e.replace(e.size() - named_shared.size(), named_shared.size(), "$0\r\n\r\n");
    kept.push_back(std::move(e));
  }
  std::string out;
  resp::AppendArrayHeader(&out, kept.size());
  for (const std::string& e : kept) out.append(e);
  return out;
}

}  // namespace node
