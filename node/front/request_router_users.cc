// RequestRouter: authentication and users (AUTH, HELLO ... AUTH, ACL), and
// the node's own user and command category, which no client may use or change.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "node/child/child_redis.h"
#include "node/front/request_router.h"
#include "node/front/request_router_parts.h"
#include "node/node_acl.h"

namespace node {

using namespace routing;

// What only the node knows of its own commands' category (NodeAcl): ACL CAT
// anarcho and ACL DRYRUN of an ANARCHO.* command, answered as Redis answers
// them for its own (inside MULTI, the child queues them and answers its way).
std::optional<Route> RequestRouter::NodeAclRequest(std::string_view sub, std::span<const std::string_view> args,
                                                   const RouteContext& ctx) {
  if (in_multi_ || ctx.node_acl == nullptr) return std::nullopt;
  if (sub == "cat" && args.size() == 3 && Lower(args[2]) == "anarcho") {
    std::string out;
    resp::AppendArrayHeader(&out, NodeAcl::Commands().size());
    for (const std::string& c : NodeAcl::Commands()) resp::AppendBulkString(&out, c);
    return Answer(std::move(out));
  }
  if (sub != "dryrun" || args.size() < 4 || !IsNodeCommand(Lower(args[3]))) return std::nullopt;
  const std::string user(args[2]);
  const std::string command = Lower(args[3]);
  if (!ctx.node_acl->Exists(user)) return Answer(Error(absl::StrCat("ERR User '", user, "' not found")));
  if (std::ranges::find(NodeAcl::Commands(), command) == NodeAcl::Commands().end()) {
    return Answer(Error(absl::StrCat("ERR Command '", command, "' not found")));
  }
  if (ctx.node_acl->Allowed(user, command)) return Answer("+OK\r\n");
  std::string out;
  resp::AppendBulkString(&out, absl::StrCat("This user has no permissions to run the '", command, "' command"));
  return Answer(std::move(out));
}

// The node's own links are named kInternalClientPrefix...: no client sees
// them in CLIENT LIST or INFO, CLIENT KILL filters, MONITOR or SLOWLOG, and a
// follower never serves another node's relay from its child. Once users are
// in use a client may not take such a name (it would hide from all of these);
// before, every client is Redis's all-powerful default user, and a follower's
// relay, which runs as that user, names itself so on the leader.
std::optional<Route> RequestRouter::ReservedClientName(std::string_view name, std::span<const std::string_view> args,
                                                       const RouteContext& ctx) {
  if (!ctx.users_in_use) return std::nullopt;
  std::optional<std::string_view> client_name;
  if (name == "client" && args.size() == 3 && Lower(args[1]) == "setname") client_name = args[2];
  if (name == "hello") {
    for (size_t i = 2; i < args.size(); ++i) {
      const std::string option = Lower(args[i]);
      if (option == "auth") {
        i += 2;
      } else if (option == "setname" && i + 1 < args.size()) {
        client_name = args[++i];
      }
    }
  }
  if (!client_name || !client_name->starts_with(kInternalClientPrefix)) return std::nullopt;
  return Refuse(absl::StrCat("ERR client names starting with '", kInternalClientPrefix,
                             "' are reserved for the node's own links"));
}

std::optional<Route> RequestRouter::Users(std::string_view name, std::span<const std::string_view> args,
                                          const RouteContext& ctx) {
  // Redis's commands flagged no_auth.
  const bool no_auth = name == "auth" || name == "hello" || name == "quit" || name == "reset";
  if (!ctx.authenticated && !no_auth) {
    // As Redis: an unknown command or a wrong arity is said first (the
    // child says it); the node's own commands need authentication.
    const CommandSpec* spec = Spec(args);
    if (IsNodeCommand(name) || (spec != nullptr && ArityHolds(*spec, args))) {
      return Answer(Error("NOAUTH Authentication required."));
    }
    return std::nullopt;
  }
  // A RESP2 subscribed connection: routed as the stream allows (Stream()).
  // Without a leader, AUTH and ACL get DecideRoute's TRYAGAIN like any request
  // that needs the leader: forwarded with nowhere to go, they hung for ever.
  if (stream_ || ctx.no_leader) return std::nullopt;
  if (std::optional<Route> r = ReservedClientName(name, args, ctx)) return r;
  if (name == "auth" || name == "hello") {
    const std::string user = AuthUser(name, args);
    if (user == kInternalUser) return Answer(Error("WRONGPASS invalid username-password pair or user is disabled."));
    if (name == "hello" || user.empty()) return std::nullopt;  // HELLO is routed below; AUTH's arity error
    // Inside MULTI the user would change only at EXEC.
    if (in_multi_) return Refuse("ERR AUTH inside MULTI is not supported by anarchoredis");
    Route r = Forward(KeylessRead(true));  // the user and password it checks are logged settings
    r.tag = ReplyTag::kAuth;
    r.Detail().auth_user = user;
    r.stall = true;  // what follows is routed (and checked) as the user it leaves
    return r;
  }
  if (name != "acl" || args.size() < 2) return std::nullopt;
  const std::string sub = Lower(args[1]);
  if (sub == "setuser" || sub == "deluser" || sub == "getuser" || sub == "dryrun") {
    const size_t named = sub == "deluser" ? args.size() : std::min<size_t>(args.size(), 3);
    for (size_t i = 2; i < named; ++i) {
      if (args[i] == kInternalUser) {
        return Refuse(absl::StrCat("ERR the user name '", kInternalUser, "' is reserved for the node's own links"));
      }
    }
  }
  if (ctx.forwarding) return std::nullopt;  // the leader logs and filters
  if (auto local = NodeAclRequest(sub, args, ctx)) return local;
  Route r = Forward({}, in_multi_);
  if (sub == "setuser" || sub == "deluser") {
    r.tag = ReplyTag::kLog;  // every member's child gets the change (LoggedState)
    if (sub == "setuser") {
      // The @anarcho rules are the node's (NodeAcl): checked here, kept in
      // the log entry, and left out of what the child runs.
      if (auto error = NodeAcl::Check(args)) return Refuse(*error);
      const std::vector<std::string> for_child = NodeAcl::ForChild(args);
      if (for_child.size() != args.size()) {
        resp::AppendCommand(&r.Detail().rewritten, std::vector<std::string_view>(for_child.begin(), for_child.end()));
      }
      // The leader's child runs the passwords as given (its errors name
      // them as Redis's do); the log keeps only their hashes.
      std::vector<std::string> hashed = NodeAcl::WithPasswordsHashed(args);
      if (!std::ranges::equal(hashed, args)) r.Detail().logged = std::move(hashed);
    }
  } else if (sub == "list" || sub == "users") {
    r.request = KeylessRead(true);
    r.tag = ReplyTag::kAclUsers;
  } else if (sub == "getuser" && args.size() == 3) {
    r.request = KeylessRead(true);
    r.tag = ReplyTag::kAclGetUser;
    r.Detail().acl_user = std::string(args[2]);
  } else if (sub == "cat" && args.size() == 2) {
    r.tag = ReplyTag::kAclCat;
  } else if (sub == "log") {
    r.tag = ReplyTag::kAclLog;
  } else {
    return std::nullopt;
  }
  return r;
}

}  // namespace node
