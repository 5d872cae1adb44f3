#include "node/child/child_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "node/child/child_redis.h"

namespace node {
namespace {

// Read-only (no-writes: allowed on a replica child). ARGV[1]: the streams'
// bound (DigestParts), which counts keys, consumers and pending entries (the
// work it does).
// Every database in turn until SELECT refuses; in each, the streams without a
// time to live in name order (SCAN may return a key twice and in any order),
// one line per stream, group, consumer and pending entry; the SHA1 of the
// lines.
constexpr const char* kStreamsScript = R"lua(#!lua flags=no-writes
local bound, work = tonumber(ARGV[1]), 0
if bound < 0 then return '-' end
if bound > 0 then
  local db = 0
  while not redis.pcall('SELECT', db).err do
    work = work + redis.call('DBSIZE')
    db = db + 1
  end
  if work > bound then return '-' end
end
local function fields(reply)
  local m = {}
  for i = 1, #reply, 2 do m[reply[i]] = reply[i + 1] end
  return m
end
local function line(reply, names)
  local m, out = fields(reply), {}
  for _, n in ipairs(names) do out[#out + 1] = n .. '=' .. tostring(m[n]) end
  return table.concat(out, ' ')
end
local lines, db = {}, 0
while not redis.pcall('SELECT', db).err do
  local seen, keys, cursor = {}, {}, '0'
  repeat
    local r = redis.call('SCAN', cursor, 'COUNT', 1000, 'TYPE', 'stream')
    cursor = r[1]
    for _, k in ipairs(r[2]) do
      if not seen[k] and redis.call('PTTL', k) == -1 then
        seen[k] = true
        keys[#keys + 1] = k
      end
    end
  until cursor == '0'
  table.sort(keys)
  for _, k in ipairs(keys) do
    lines[#lines + 1] = db .. ' ' .. k .. ' ' .. line(redis.call('XINFO', 'STREAM', k),
      {'length', 'last-generated-id', 'max-deleted-entry-id', 'entries-added', 'recorded-first-entry-id'})
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', k)) do
      local group = fields(g)
      work = work + group['consumers'] + group['pending']
      if bound > 0 and work > bound then return '-' end
      lines[#lines + 1] = line(g, {'name', 'consumers', 'pending', 'last-delivered-id'})
      for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', k, group['name'])) do
        lines[#lines + 1] = line(c, {'name', 'pending'})
      end
      if group['pending'] > 0 then
        for _, p in ipairs(redis.call('XPENDING', k, group['name'], '-', '+', group['pending'])) do
          lines[#lines + 1] = p[1] .. ' ' .. p[2] .. ' ' .. p[4]
        end
      end
    end
  end
  db = db + 1
end
return redis.sha1hex(table.concat(lines, '\n'))
)lua";

absl::StatusOr<std::string> Hex(const resp::Value& v, const char* what) {
  if (v.type == resp::Type::kBulkString || v.type == resp::Type::kSimpleString) return v.AsString();
  return absl::InternalError(absl::StrCat(what, ": ", v.AsString()));
}

// FUNCTION LIST WITHCODE's libraries (RESP2: flat name/value arrays) by name.
absl::StatusOr<std::string> Functions(const resp::Value& list) {
  if (list.type != resp::Type::kArray) return absl::InternalError(absl::StrCat("FUNCTION LIST: ", list.AsString()));
  std::vector<std::string> libraries;
  for (const resp::Value& library : list.elements) {
    std::map<std::string, std::string> f;
    for (size_t i = 0; i + 1 < library.elements.size(); i += 2) {
      if (library.elements[i + 1].type != resp::Type::kArray)
        f[library.elements[i].AsString()] = library.elements[i + 1].AsString();
    }
    libraries.push_back(absl::StrCat(f["library_name"], "\n", f["engine"], "\n", f["library_code"]));
  }
  std::sort(libraries.begin(), libraries.end());
  std::string all;
  for (const std::string& l : libraries) absl::StrAppend(&all, l.size(), ":", l);  // lengths: no separator to forge
  return Sha256Hex(all);
}

// `rules` (space-separated, a selector's in parentheses) with each
// selector's rules and then the whole in sorted order. Redis 7.0 describes a
// user's single commands in its command table's hash order, which differs
// between processes ("+get +set" in one child, "+set +get" in another);
// which rules a user has does not.
std::string SortedRules(std::string_view rules) {
  std::vector<std::string> tokens;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= rules.size(); ++i) {
    const char c = i < rules.size() ? rules[i] : ' ';
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c != ' ' || depth > 0) continue;
    std::string_view token = rules.substr(start, i - start);
    start = i + 1;
    if (token.empty()) continue;
    if (token.size() >= 2 && token.front() == '(' && token.back() == ')') {
      tokens.push_back(absl::StrCat("(", SortedRules(token.substr(1, token.size() - 2)), ")"));
    } else {
      tokens.emplace_back(token);
    }
  }
  std::sort(tokens.begin(), tokens.end());
  return absl::StrJoin(tokens, " ");
}

// ACL LIST's users but the node's own (each child has its own password for
// it), each "user <name> " and its rules in sorted order, in name order, each
// line's length before it.
absl::StatusOr<std::string> Users(const resp::Value& list) {
  if (list.type != resp::Type::kArray) return absl::InternalError(absl::StrCat("ACL LIST: ", list.AsString()));
  const std::string own = absl::StrCat("user ", kInternalUser, " ");
  std::vector<std::string> users;
  for (const resp::Value& v : list.elements) {
    const std::string line = v.AsString();
    if (absl::StartsWith(line, own)) continue;
    const size_t name_end = line.find(' ', line.find(' ') + 1);  // after "user <name>"
    if (name_end == std::string::npos) {
      users.push_back(line);
    } else {
      users.push_back(absl::StrCat(line.substr(0, name_end + 1), SortedRules(std::string_view(line).substr(name_end + 1))));
    }
  }
  std::sort(users.begin(), users.end());
  std::string all;
  for (const std::string& u : users) absl::StrAppend(&all, u.size(), ":", u);
  return Sha256Hex(all);
}

struct Replies {
  resp::Value role_before, streams, data, functions, users;
};

absl::StatusOr<std::string> Combined(const Replies& r, const DigestParts& parts) {
  absl::StatusOr<std::string> d = Hex(r.data, "DEBUG DIGEST");
  if (!d.ok()) return d.status();
  absl::StatusOr<std::string> s = Hex(r.streams, "the streams' digest script");
  if (!s.ok()) return s.status();
  absl::StatusOr<std::string> f = parts.functions ? Functions(r.functions) : "-";
  if (!f.ok()) return f.status();
  absl::StatusOr<std::string> u = parts.users ? Users(r.users) : "-";
  if (!u.ok()) return u.status();
  return absl::StrCat(*d, ":", *s, ":", *f, ":", *u);
}

}  // namespace

DigestParts LeaderParts(int busy_reply_threshold_ms) {
  return {.streams_bound = std::max<int64_t>(1, int64_t{500} * busy_reply_threshold_ms), .functions = true, .users = true};
}

std::string InThisForm(const std::string& leaders_digest) {
  std::string out = leaders_digest;
  for (auto parts = std::count(out.begin(), out.end(), ':') + 1; parts < 4; ++parts) out += ":-";
  return out;
}

DigestParts PartsToMatch(const std::string& leaders_digest) {
  std::vector<std::string> parts = absl::StrSplit(InThisForm(leaders_digest), ':');
  return {.streams_bound = parts[1] == "-" ? -1 : 0, .functions = parts[2] != "-", .users = parts[3] != "-"};
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

void TakeChildDigest(
    ControlLink& link, DigestParts parts, bool offsets,
    std::function<void(absl::StatusOr<std::string> digest, const resp::Value& role_before, const resp::Value& role_after)>
        done) {
  auto replies = std::make_shared<Replies>();
  std::vector<std::vector<std::string>> requests = {{"EVAL", kStreamsScript, "0", absl::StrCat(parts.streams_bound)},
                                                    {"DEBUG", "DIGEST"},
                                                    {"FUNCTION", "LIST", "WITHCODE"},
                                                    {"ACL", "LIST"}};
  std::vector<ControlLink::Callback> dones = {[replies](const resp::Value& v) { replies->streams = v; },
                                              [replies](const resp::Value& v) { replies->data = v; },
                                              [replies](const resp::Value& v) { replies->functions = v; },
                                              [replies](const resp::Value& v) { replies->users = v; }};
  auto finish = [replies, parts, done = std::move(done)](const resp::Value& role_after) {
    done(Combined(*replies, parts), replies->role_before, role_after);
  };
  if (offsets) {
    requests.insert(requests.begin(), {"ROLE"});
    dones.insert(dones.begin(), [replies](const resp::Value& v) { replies->role_before = v; });
    requests.push_back({"ROLE"});
    dones.push_back(finish);
  } else {
    dones.back() = [replies, finish](const resp::Value& v) {
      replies->users = v;
      finish(resp::Value());
    };
  }
  link.CallTogether(requests, std::move(dones));
}

}  // namespace node
