// Small helpers RequestRouter's files share (request_router.cc and
// request_router_users.cc); not for use elsewhere.
#pragma once

#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
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
inline std::string AuthUser(std::string_view name, std::span<const std::string_view> args) {
  if (name == "auth") return args.size() == 2 ? "default" : args.size() == 3 ? std::string(args[1]) : "";
  for (size_t i = 2; i + 2 < args.size(); ++i) {
    if (Lower(args[i]) == "auth") return std::string(args[i + 1]);
  }
  return "";
}

}  // namespace node::routing
