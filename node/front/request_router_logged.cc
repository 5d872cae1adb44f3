// RequestRouter: requests that change state the child's replication stream
// does not carry, which the node logs as node entries once the leader's child
// took them (Server::LogAfterEffects): CONFIG SET, DEBUG switches, and XREADGROUP's reads of
// pending entries. (SCRIPT LOAD/FLUSH and ACL changes are logged as they are:
// PassThrough, request_router_users.cc.)
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/front/request_router.h"
#include "node/front/request_router_parts.h"
#include "node/logged_state.h"
#include "resp/writer.h"

namespace node {

using namespace routing;

// What the node logs whole is bounded: one request, and the requests of one
// transaction together (they are one log entry: past 4 MB it would stall the
// leader's loop long enough to cost an election, as a 30 MB SCRIPT LOAD and
// a MULTI of twenty 4 MB ones did); and the state such requests build
// (loaded scripts, users, settings), which every snapshot holds and every
// child rebuilt from one loads first: 80 MB of scripts stalled each node's
// loop for seconds at every snapshot, and a new member never received one.
// Requests that shrink that state (SCRIPT FLUSH, ACL DELUSER) always pass.
std::optional<std::string> RequestRouter::LoggedRefusal(std::string_view name, std::span<const std::string_view> args,
                                                        const RouteContext& ctx) {
  const size_t bytes = RequestBytes(args);
  if (bytes > kMaxLoggedRequestBytes) {
    return name == "script" ? "ERR SCRIPT LOAD of more than 4 MB is not supported by anarchoredis (the node logs it "
                              "whole, in one entry); use EVAL or FUNCTION LOAD"
                            : "ERR a request of more than 4 MB that the node logs whole (CONFIG SET, ACL SETUSER) is "
                              "not supported by anarchoredis";
  }
  if (in_multi_ && multi_logged_bytes_ + bytes > kMaxLoggedRequestBytes) {
    return "ERR a transaction whose requests the node logs whole (SCRIPT LOAD, CONFIG SET, ACL SETUSER) take more than "
           "4 MB in all is not supported by anarchoredis (they are one log entry)";
  }
  const std::string sub = args.size() > 1 ? Lower(args[1]) : "";
  const bool grows = (name == "script" && sub == "load") || (name == "acl" && sub == "setuser") ||
                     (name == "config" && sub == "set");
  if (grows && ctx.logged_bytes + multi_logged_bytes_ + bytes > kMaxLoggedStateBytes) {
    return "ERR anarchoredis keeps at most 32 MB of loaded scripts, users and settings (every snapshot holds them "
           "all); SCRIPT FLUSH or ACL DELUSER frees some";
  }
  if (in_multi_) multi_logged_bytes_ += bytes;
  return std::nullopt;
}

// CONFIG SET shapes every member's data and behaviour: once the leader's
// child took it, the node logs it (a node entry), so that every child runs it,
// it survives restarts and snapshots, and CONFIG GET reads it back the same
// from any node. Settings of the node's own (persistence, replication, the
// child's process) are refused the way Redis refuses an immutable one.
std::optional<Route> RequestRouter::NodeAddressSet(std::span<const std::string_view> args, const RouteContext& ctx) {
  if (args.size() < 4 || args.size() % 2 != 0 || Lower(args[1]) != "set") return std::nullopt;
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    const std::string name = Lower(args[i]);
    if (name != "port" && name != "bind") return std::nullopt;
  }
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    const std::string name = Lower(args[i]);
    if (args[i + 1] != (name == "port" ? absl::StrCat(ctx.port) : ctx.bind)) {
      return Refuse(absl::StrCat("ERR CONFIG SET failed (possibly related to argument '",
                                 absl::string_view(args[i].data(), args[i].size()),
                                 "') - clients connect to the node, not to its child (see the node's flags)"));
    }
  }
  return Answer("+OK\r\n");
}

Route RequestRouter::ConfigSet(std::span<const std::string_view> args, const RouteContext& ctx) {
  if (args.size() < 4 || args.size() % 2 != 0) return Forward({}, in_multi_);  // the child's own arity error
  if (!in_multi_) {
    if (std::optional<Route> r = NodeAddressSet(args, ctx)) return std::move(*r);
  }
  auto check = std::make_shared<SettingsCheck>();
  std::vector<std::string_view> get = {"CONFIG", "GET"};
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    const std::string name = Lower(args[i]);
    const absl::string_view arg(args[i].data(), args[i].size());
    if (ImmutableSetting(name)) {
      return Refuse(absl::StrCat("ERR CONFIG SET failed (possibly related to argument '", arg,
                                 "') - can't set immutable config"));
    }
    if (auto why = NodeOwnedSetting(name)) {
      check->wanted.emplace_back(name, std::string(args[i + 1]));
      check->refusals.push_back(absl::StrCat("ERR CONFIG SET failed (possibly related to argument '", arg, "') - ",
                                             absl::string_view(why->data(), why->size())));
      get.push_back(args[i]);
    }
  }
  if (!check->wanted.empty()) {
    // Only settings of the node's own, outside MULTI: OK if they already hold.
    if (in_multi_ || check->wanted.size() != (args.size() - 2) / 2) return Refuse(check->refusals.front());
    resp::AppendCommand(&check->request, get);
    Route r = Forward();
    r.Detail().settings_check = std::move(check);
    return r;
  }
  Route r = Forward({}, in_multi_);  // a bad value: the child's own error, and nothing logged
  r.tag = ReplyTag::kLog;            // inside MULTI: logged if EXEC ran it successfully
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    if (LoggedState::MayStartEvicting(Lower(args[i]), args[i + 1])) r.Detail().may_evict = true;
  }
  return r;
}

// XREADGROUP with an ID of its own (not ">") for a stream reads the
// consumer's pending entries: with any such ID it never blocks, and what that
// read changes (the consumer, made if it is new; each entry's delivery count
// and time) redis-server 7.0 does not propagate, so followers' children and a
// child rebuilt from the log would not have it. Such a request runs as a write
// of its keys (locked: nothing else changes them before it is logged), and
// once it succeeded the node logs the reads of pending entries, right after
// the request's own effects (Server::LogAfterEffects), for every member's
// child to run. Nullopt: an XREADGROUP with only ">" (or one Redis refuses),
// routed as any blocking command. (From a script, such a read is not logged:
// the README lists it among the differences.)
std::optional<Route> RequestRouter::XReadGroup(std::span<const std::string_view> args, const CommandSpec& spec) {
  auto is = [&](size_t i, absl::string_view word) {
    return absl::EqualsIgnoreCase(absl::string_view(args[i].data(), args[i].size()), word);
  };
  std::optional<std::string_view> group, consumer, count;
  size_t streams = 0;
  for (size_t i = 1; i < args.size() && streams == 0; ++i) {  // Redis's own order of parsing
    const size_t more = args.size() - i - 1;
    if (is(i, "streams")) {
      streams = i;
    } else if (is(i, "group") && more >= 2) {
      group = args[i + 1];
      consumer = args[i + 2];
      i += 2;
    } else if (is(i, "count") && more >= 1) {
      count = args[++i];
    } else if (is(i, "block") && more >= 1) {
      ++i;
    } else if (!is(i, "noack")) {
      return std::nullopt;  // a syntax error: the child's
    }
  }
  const size_t n = streams == 0 ? 0 : (args.size() - streams - 1) / 2;
  if (!group || n == 0 || (args.size() - streams - 1) % 2 != 0) return std::nullopt;
  std::span<const std::string_view> keys = args.subspan(streams + 1, n), ids = args.subspan(streams + 1 + n, n);
  std::vector<std::string> logged = {"XREADGROUP", "GROUP", std::string(*group), std::string(*consumer)};
  if (count) logged.insert(logged.end(), {"COUNT", std::string(*count)});
  logged.push_back("STREAMS");
  std::vector<std::string_view> history_ids;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] == ">") continue;
    // The new entries read with ">" are logged as the stream carries them,
    // before the reads of pending entries: a stream read both ways would read
    // them in the other order on followers.
    for (size_t j = 0; j < n; ++j) {
      if (ids[j] == ">" && keys[j] == keys[i]) {
        return Refuse(
            "ERR XREADGROUP reading one stream both with '>' and with an ID is not supported by anarchoredis");
      }
    }
    logged.emplace_back(keys[i]);
    history_ids.push_back(ids[i]);
  }
  if (history_ids.empty()) return std::nullopt;
  // Inside MULTI the node could log these reads only after the whole
  // transaction's effects, where the transaction's other commands on the same
  // stream may have run before them on followers.
  if (in_multi_) {
    return Refuse("ERR XREADGROUP with an ID other than '>' inside MULTI is not supported by anarchoredis");
  }
  logged.insert(logged.end(), history_ids.begin(), history_ids.end());
  Route r = Forward(GateRequest(CommandClass::kKeyedWrite, spec, args), in_multi_);
  r.tag = ReplyTag::kLog;
  r.Detail().logged = std::move(logged);
  return r;
}

// DEBUG subcommands that only look are forwarded as reads of the whole
// keyspace; those that change how the child behaves (not what it holds) are
// logged like CONFIG SET so that every child behaves alike; the rest (crashes,
// reloads, a new replication id, keys made outside the stream) are refused.
Route RequestRouter::Debug(std::string_view sub, std::span<const std::string_view> args, const CommandSpec& spec) {
  static const absl::flat_hash_set<std::string_view> kLooks = {
      "digest", "digest-value", "object", "help", "protocol", "htstats", "htstats-key", "listpack",
      "quicklist", "ziplist", "sdslen", "stringmatch-len", "jmap"};
  // MALLCTL looks with a name only; with a value it sets the allocator's option.
  const bool looks_at_allocator = (sub == "mallctl" || sub == "mallctl-str") && args.size() == 3;
  // (Not set-disable-deny-scripts: scripts could then run what the node
  // refuses, REPLICAOF or an unlogged CONFIG SET among them.)
  static const absl::flat_hash_set<std::string_view> kBehaviour = {
      "set-active-expire", "quicklist-packed-threshold", "set-skip-checksum-validation"};
  if (kLooks.contains(sub) || looks_at_allocator || (sub == "sleep" && args.size() == 3 && args[2] == "0")) {
    return Forward({gate::Kind::kRead, {}, true}, in_multi_);
  }
  if (kBehaviour.contains(sub) && args.size() == 3) {
    Route r = Forward({}, in_multi_);
    r.tag = ReplyTag::kLog;
    return r;
  }
  return Refuse(spec.refusal);
}

}  // namespace node
