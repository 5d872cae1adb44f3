#include "node/child/child_digest.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace node {
namespace {

// Read-only (no-writes: allowed on a replica child). ARGV[1]: StreamsBound,
// which counts keys, consumers and pending entries (the work it does).
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

absl::StatusOr<std::string> Combined(const resp::Value& streams, const resp::Value& data) {
  absl::StatusOr<std::string> s = Hex(streams, "the streams' digest script");
  if (!s.ok()) return s.status();
  absl::StatusOr<std::string> d = Hex(data, "DEBUG DIGEST");
  if (!d.ok()) return d.status();
  return absl::StrCat(*d, ":", *s);
}

}  // namespace

int64_t StreamsBound(int busy_reply_threshold_ms) { return std::max<int64_t>(1, int64_t{500} * busy_reply_threshold_ms); }

int64_t StreamsBoundToMatch(const std::string& leaders_digest) { return absl::EndsWith(leaders_digest, ":-") ? -1 : 0; }

std::string InThisForm(const std::string& leaders_digest) {
  return absl::StrContains(leaders_digest, ':') ? leaders_digest : absl::StrCat(leaders_digest, ":-");
}

void TakeChildDigest(ControlLink& link, int64_t streams_bound, std::vector<std::string> then,
                     std::function<void(absl::StatusOr<std::string> digest, const resp::Value& then_reply)> done) {
  struct Replies {
    resp::Value streams, data;
  };
  auto replies = std::make_shared<Replies>();
  std::vector<std::vector<std::string>> requests = {{"EVAL", kStreamsScript, "0", absl::StrCat(streams_bound)},
                                                    {"DEBUG", "DIGEST"}};
  std::vector<ControlLink::Callback> dones = {[replies](const resp::Value& v) { replies->streams = v; },
                                              [replies](const resp::Value& v) { replies->data = v; }};
  auto finish = [replies, done = std::move(done)](const resp::Value& then_reply) {
    done(Combined(replies->streams, replies->data), then_reply);
  };
  if (then.empty()) {
    dones.back() = [replies, finish](const resp::Value& v) {
      replies->data = v;
      finish(resp::Value());
    };
  } else {
    requests.push_back(std::move(then));
    dones.push_back(finish);
  }
  link.CallTogether(requests, std::move(dones));
}

}  // namespace node
