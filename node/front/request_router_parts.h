// Small helpers RequestRouter's files share (request_router.cc and
// request_router_users.cc); not for use elsewhere.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "node/front/function_payload.h"
#include "node/front/request_router.h"
#include "resp/writer.h"

namespace node::routing {

inline std::string Lower(std::string_view s) { return absl::AsciiStrToLower(absl::string_view(s.data(), s.size())); }

inline std::string Error(std::string_view msg) {
  std::string out;
  resp::AppendError(&out, msg);
  return out;
}

inline bool IsSubscribeFamily(std::string_view name) {
  return name == "subscribe" || name == "psubscribe" || name == "ssubscribe" || name == "unsubscribe" ||
         name == "punsubscribe" || name == "sunsubscribe";
}

// A read of state no key holds: answered once this node's leadership is
// confirmed (a deposed leader's child may be behind). `settings`: the node's
// logged settings (CONFIG SET, SCRIPT LOAD, ACL changes), whose changes in
// flight it waits for too.
inline gate::Request KeylessRead(bool settings) {
  gate::Request q;
  q.kind = gate::Kind::kRead;
  q.settings = settings;
  return q;
}

// Redis's arity rule: exactly N arguments, or at least N for -N.
inline bool ArityHolds(const CommandSpec& spec, std::span<const std::string_view> args) {
  const size_t arity = static_cast<size_t>(std::abs(spec.arity));
  return spec.arity > 0 ? args.size() == arity : args.size() >= arity;
}

inline Route Forward(gate::Request request = {}, bool queued = false) {
  Route r;
  r.action = Route::Action::kForward;
  r.request = std::move(request);
  r.queued = queued;
  return r;
}

inline Route Answer(std::string reply, bool close_after = false) {
  Route r;
  r.action = Route::Action::kReply;
  r.reply = std::move(reply);
  r.close_after = close_after;
  return r;
}

// The user AUTH or HELLO ... AUTH names ("" if it names none).
// A request the node logs whole (ReplyTag::kLog: CONFIG SET, ACL SETUSER,
// SCRIPT LOAD...) is one node entry, one Raft entry: past this it would stall
// the leader's loop long enough to cost an election (a 30 MB SCRIPT LOAD did),
// and past the peer frame limit no follower could ever receive it.
inline constexpr size_t kMaxLoggedRequestBytes = 4 << 20;
// The state the node's logged requests build (LoggedState::bytes: loaded
// scripts, users, settings) is at most this: RequestRouter::LoggedRefusal.
inline constexpr size_t kMaxLoggedStateBytes = 32 << 20;

inline size_t RequestBytes(std::span<const std::string_view> args) {
  size_t n = 0;
  for (std::string_view a : args) n += a.size();
  return n;
}

// Requests that would bring a script the node cannot keep in step: its
// debugger, which holds the child's connection (and the child) waiting for
// the client's input; a body that calls redis.set_repl, whose writes never
// reach the stream and so never the log (a body that builds that name at run
// time passes: README, "What we do not give"). (A SCRIPT LOAD too big to log
// is refused as any logged request is: kMaxLoggedRequestBytes.)
using node::NamesSetRepl;

inline std::optional<std::string> ScriptRefusal(std::string_view name, std::span<const std::string_view> args) {
  std::vector<std::string_view> bodies;
  std::optional<FunctionPayload> restored;
  if ((name == "eval" || name == "eval_ro") && args.size() > 1) bodies.push_back(args[1]);
  if ((name == "script" || name == "function") && args.size() > 2) {
    const std::string sub = Lower(args[1]);
    if (name == "script" && sub == "debug") {
      return "ERR SCRIPT DEBUG is not supported by anarchoredis: the debugger would hold the leader's redis-server";
    }
    if (name == "script" && sub == "load") bodies.push_back(args[2]);
    if (name == "function" && sub == "load") bodies.push_back(args.back());
    // (A payload that is not one is Redis's to refuse.)
    if (name == "function" && sub == "restore") restored = ReadFunctionPayload(args[2]);
  }
  if (restored && restored->too_big) {
    return "ERR FUNCTION RESTORE of a library over 64 MB is not supported by anarchoredis: its code cannot be checked";
  }
  if (restored) bodies.insert(bodies.end(), restored->codes.begin(), restored->codes.end());
  if (std::any_of(bodies.begin(), bodies.end(), NamesSetRepl)) {
    return "ERR redis.set_repl is not supported by anarchoredis: writes kept out of replication would never "
           "reach the log";
  }
  return std::nullopt;
}

inline std::string AuthUser(std::string_view name, std::span<const std::string_view> args) {
  if (name == "auth") return args.size() == 2 ? "default" : args.size() == 3 ? std::string(args[1]) : "";
  // HELLO's options as Redis reads them, in turn: the last AUTH pair counts.
  std::string user;
  for (size_t i = 2; i < args.size();) {
    const std::string option = Lower(args[i]);
    if (option == "auth" && i + 2 < args.size()) {
      user = std::string(args[i + 1]);
      i += 3;
    } else if (option == "setname" && i + 1 < args.size()) {
      i += 2;
    } else {
      break;  // Redis refuses the HELLO: no user changes
    }
  }
  return user;
}

}  // namespace node::routing
