#include "node/front/request_router.h"

#include <climits>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/child/child_redis.h"
#include "node/front/request_router_parts.h"
#include "node/front/scan_cursor.h"
#include "node/node_acl.h"
#include "resp/writer.h"

namespace node {

using namespace routing;

namespace {

// Whether this request of a command flagged blocking may block: a write
// (BLPOP, XREADGROUP) always; a read (XREAD) only with BLOCK among its
// options, which come before STREAMS. Without it, it is a plain read.
bool BlocksAsSent(const CommandSpec& spec, std::span<const std::string_view> args) {
  if (!spec.blocking) return false;
  if (spec.write) return true;
  for (size_t i = 1; i < args.size(); ++i) {
    const absl::string_view arg(args[i].data(), args[i].size());
    if (absl::EqualsIgnoreCase(arg, "streams")) return false;
    if (absl::EqualsIgnoreCase(arg, "block")) return true;
  }
  return true;  // no STREAMS: Redis refuses it; nothing is lost by taking it as blocking
}

}  // namespace

bool ParseRedisInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool InfoShowsNodeSection(std::span<const std::string_view> args) {
  if (args.size() < 2) return true;
  for (std::string_view a : args.subspan(1)) {
    const std::string section = absl::AsciiStrToLower(absl::string_view(a.data(), a.size()));
    if (section == "default" || section == "all" || section == "everything" || section == "anarchoredis") return true;
  }
  return false;
}

namespace {

ReplyTag InfoTag(std::span<const std::string_view> args) {
  return InfoShowsNodeSection(args) ? ReplyTag::kInfo : ReplyTag::kInfoSections;
}

}  // namespace

Route RequestRouter::Decide(std::span<const std::string_view> args, const RouteContext& ctx) {
  const LowerName lower(args[0]);
  const std::string_view name = lower.view();
  std::optional<Route> users = Users(name, args, ctx);
  // (A RESP2 subscribed connection gets Redis's "only (P|S)SUBSCRIBE ..." error for it.)
  if (!users && !stream_ && args.size() >= 2 && name == "client" && Lower(args[1]) == "reply") {
    return ctx.forwarding && in_multi_ ? Forward() : ClientReply(args);  // refused by the leader, which aborts EXEC
  }
  const bool was_in_multi = in_multi_;
  Route r = users ? std::move(*users) : DecideRoute(name, args, ctx);
  if (tracking_ || caching_next_) NoteCaching(name, args, was_in_multi, &r);
  if (r.tag == ReplyTag::kLog) {
    if (std::optional<std::string> refusal = LoggedRefusal(name, args, ctx)) r = Refuse(*refusal);
  }
  // A probe is the node's own: the request is routed again once it is answered.
  if (r.action != Route::Action::kProbe) r.silent = TakeSilence();
  return r;
}

// Redis applies CLIENT CACHING yes/no to the next command the connection
// runs, unless a CLIENT command (or a transaction) comes between: each other
// command uses the flag up. A command the node answers itself (WAIT, a
// refusal, ANARCHO.*) never reaches the child, which would apply the flag to
// the command after it instead: in OPTOUT mode, a read meant to be tracked
// was not, and its invalidation never came. Such a command uses the flag up
// with a PING in its place.
void RequestRouter::NoteCaching(std::string_view name, std::span<const std::string_view> args, bool was_in_multi,
                                Route* r) {
  if (was_in_multi || in_multi_) return;  // Redis keeps the flag inside a transaction
  const bool flag = std::exchange(caching_next_, false);
  if (name == "client") {
    caching_next_ = flag || (args.size() >= 2 && Lower(args[1]) == "caching");
  } else if (flag && (r->action == Route::Action::kReply || r->action == Route::Action::kNodeCommand ||
                      r->action == Route::Action::kWait || r->action == Route::Action::kMonitor)) {
    r->Detail().uses_up_caching = true;  // (kExecAbort's DISCARD uses it up, as a forward does)
  }
}

// As Redis: OFF and SKIP are not answered, ON is; an error is answered unless
// replies are off.
Route RequestRouter::ClientReply(std::span<const std::string_view> args) {
  Route r;
  if (args.size() != 3) {
    r = Refuse("ERR wrong number of arguments for 'client|reply' command");  // inside MULTI: EXEC aborts
  } else if (in_multi_) {
    r = Refuse("ERR CLIENT REPLY inside MULTI is not supported by anarchoredis");
  } else if (const std::string mode = Lower(args[2]); mode == "on") {
    reply_off_ = skip_next_ = false;
    return Answer("+OK\r\n");
  } else if (mode == "off" || mode == "skip") {
    // A SKIP before it skipped this one's reply: it is used up here.
    skip_next_ = false;
    if (mode == "off") reply_off_ = true;
    if (mode == "skip" && !reply_off_) skip_next_ = true;
    r = Answer("+OK\r\n");
    r.silent = true;
    return r;
  } else {
    r = Answer(Error("ERR syntax error"));
  }
  r.silent = TakeSilence();
  return r;
}

Route RequestRouter::DecideRoute(std::string_view name, std::span<const std::string_view> args,
                                 const RouteContext& ctx) {
  if (name == "monitor" && !in_multi_ && !stream_) {
    // This node's own: it shows the requests of this node's clients (inside
    // MULTI the child queues it, and EXEC refuses it as Redis does).
    if (args.size() != 1) return Answer(Error("ERR wrong number of arguments for 'monitor' command"));
    monitoring_ = true;
    Route r;
    r.action = Route::Action::kMonitor;
    return r;
  }
  if (monitoring_) {
    // As Redis: a monitor is a kind of replica, which reads and writes no keys.
    const CommandSpec* spec = Spec(args);
    if (spec != nullptr && ArityHolds(*spec, args) && (spec->write || spec->readonly || spec->may_replicate)) {
      return Answer(Error("ERR Replica can't interact with the keyspace"));
    }
  }
  if (name == "shutdown" && !stream_) {
    // Stops the node the client is connected to (never forwarded). Inside
    // MULTI it is refused where the transaction runs, which EXEC then aborts.
    // (A RESP2 subscribed connection gets Redis's refusal: Stream().)
    if (in_multi_) return ctx.forwarding ? Forward() : Refuse("ERR Command not allowed inside a transaction");
    Route r;
    r.action = Route::Action::kNodeCommand;
    return r;
  }
  if (IsNodeCommand(name)) {
    // Inside MULTI: refused where the transaction runs (the leader, which
    // EXEC then aborts), never run at once in place of being queued.
    if (in_multi_) {
      return ctx.forwarding ? Forward() : Refuse("ERR ANARCHO.* commands inside MULTI are not supported by anarchoredis");
    }
    if (ctx.forwarding && !RunsOnThisNode(name)) return Forward();
    Route r;
    r.action = Route::Action::kNodeCommand;
    return r;
  }
  if (ctx.no_leader) {
    if (name == "quit") return Answer("+OK\r\n", true);
    return Answer(Error(absl::StrCat("TRYAGAIN ", ctx.no_upstream_why, "; retry")));
  }
  if (stream_) return Stream(name, args, ctx);
  const CommandSpec* spec = Spec(args);
  if (ctx.forwarding) return Forwarding(name, args, spec, ctx);
  if (spec == nullptr) return Forward({}, in_multi_);  // the child's own unknown-command error
  if (std::optional<std::string> refusal = ScriptRefusal(name, args)) return Refuse(*refusal);
  CommandClass cls = spec->cls;
  if (cls == CommandClass::kRefused) {
    // Redis's own errors come first, in its order: a client sees the error
    // Redis would give in the same situation before the node's refusal.
    if (!ArityHolds(*spec, args)) {
      return Refuse(absl::StrCat("ERR wrong number of arguments for '", spec->name, "' command"));
    }
    if (in_multi_ && spec->no_multi) return Refuse("ERR Command not allowed inside a transaction");
    const std::string sub = args.size() > 1 ? Lower(args[1]) : "";
    if (name == "debug") return Debug(sub, args, *spec);
    return Refuse(spec->refusal);
  }
  switch (cls) {
    case CommandClass::kNodeLocal:
      if (name == "quit") return Answer("+OK\r\n", true);
      if (in_multi_) {
        // The child would count the node's own replica link.
        return Refuse("ERR WAIT inside MULTI is not supported by anarchoredis");
      }
      return Wait(args);
    case CommandClass::kTransaction:
      return Transaction(name, ctx);
    case CommandClass::kSubscribe: {
      // Refused for its arity (before anything else, as Redis does): the
      // connection does not subscribe, and the error is a plain reply.
      if (!ArityHolds(*spec, args)) return Forward({}, in_multi_);
      if (in_multi_) {
        // (Its confirmations would come inside EXEC's reply, past CLIENT REPLY OFF.)
        return Refuse(absl::StrCat("ERR ", absl::AsciiStrToUpper(absl::string_view(name.data(), name.size())),
                                   " inside MULTI is not supported by anarchoredis"));
      }
      return Subscribe();
    }
    case CommandClass::kPassThrough:
      return PassThrough(name, args, ctx);
    default: {
      Route r = DataCommand(args, *spec);
      r.shared = Shares(*spec, args, ctx);
      if (const size_t at = spec->scan_cursor_arg; at != 0 && at < args.size() && ctx.scan_epoch != 0) {
        ScanCursor(at, args, ctx.scan_epoch, &r);
      }
      return r;
    }
  }
}

// CLIENT TRACKING: the connection's reads must run on it (the child tracks
// the keys a connection read), neither on a follower's child nor on the
// shared link. OFF alone always succeeds, anything else may turn it on;
// inside MULTI it takes effect at EXEC, which may not run: only ever on.
void RequestRouter::NoteTracking(std::span<const std::string_view> args) {
  const bool on = !(args.size() == 3 && Lower(args[2]) == "off");
  if (on || !in_multi_) tracking_ = on;
}

const CommandSpec* RequestRouter::Spec(std::span<const std::string_view> args) const {
  if (last_spec_ != nullptr && !args.empty() &&
      absl::EqualsIgnoreCase(absl::string_view(args[0].data(), args[0].size()), last_spec_->name)) {
    return last_spec_;
  }
  const CommandSpec* spec = commands_.Lookup(args);
  if (spec != nullptr && spec->subcommands.empty()) last_spec_ = spec;
  return spec;
}

bool RequestRouter::Shareable(std::span<const std::string_view> args, const RouteContext& ctx) const {
  const CommandSpec* spec = Spec(args);
  return spec != nullptr && Shares(*spec, args, ctx);
}

// Every route Decide takes before the data commands is excluded here (a
// connection that is not authenticated, streams, monitors or has no leader),
// so Shareable and Decide agree. A follower's relay to the leader is shared
// on the same terms: it runs as Redis's default user, and the leader routes
// what arrives on it as its own sessions' requests.
bool RequestRouter::Shares(const CommandSpec& spec, std::span<const std::string_view> args,
                           const RouteContext& ctx) const {
  return spec.shared_link && ArityHolds(spec, args) && !ctx.no_leader && ctx.authenticated && !ctx.users_in_use &&
         !in_multi_ && !stream_ && !subscribed3_ && !tracking_ && !monitoring_;
}

// A follower relays; the leader applies the rules. It only follows what
// changes how replies come back: the protocol, and the subscribed state.
Route RequestRouter::Forwarding(std::string_view name, std::span<const std::string_view> args,
                                const CommandSpec* spec, const RouteContext& ctx) {
  if (name == "config" && !in_multi_) {
    if (std::optional<Route> r = NodeAddressSet(args, ctx)) return std::move(*r);
  }
  if (name == "quit") return Answer("+OK\r\n", true);
  if (spec != nullptr && spec->cls == CommandClass::kSubscribe && !in_multi_ && ArityHolds(*spec, args)) {
    return Subscribe();
  }
  if (name == "hello") return Hello(args);
  if (name == "reset") return Reset();
  if (name == "info") {
    // The leader's sections (its child runs this node's clients' commands:
    // their blocked clients, stats and errors are there), this node's
    // # Anarchoredis in place of the leader's.
    Route r = Forward();
    r.tag = InfoTag(args);
    return r;
  }
  if (name == "config") {
    Route r = Forward();
    r.tag = ReplyTag::kConfigGet;  // this node's port, not the leader's
    return r;
  }
  // The db and MULTI matter here for SUBSCRIBE (the leader refuses it inside
  // MULTI) and for the reads this node's own child may serve.
  if (name == "select") return Select(args, ctx);
  if (spec != nullptr && spec->cls == CommandClass::kTransaction) return Transaction(name, ctx);
  if (name == "client" && args.size() >= 3 && Lower(args[1]) == "tracking") NoteTracking(args);
  // (A call with the wrong arity goes to the leader, whose error statistics
  // count it, as INFO errorstats shows them.)
  if (spec != nullptr && spec->follower_read && !in_multi_ && !tracking_ && !watching_ && ArityHolds(*spec, args)) {
    Route r = DataCommand(args, *spec);
    r.follower_read = true;
    r.db = db_;
    r.shared = Shares(*spec, args, ctx);  // if the leader serves it after all
    return r;
  }
  Route r = Forward();
  if (name == "client" && args.size() >= 2) NoteClient(Lower(args[1]), args, &r);
  r.shared = spec != nullptr && Shares(*spec, args, ctx);
  // WAIT waits on the leader for replicas (the leader answers it).
  MayBlock(name == "wait" || (spec != nullptr && BlocksAsSent(*spec, args)), &r);
  return r;
}

// (P|S)SUBSCRIBE or an UNSUBSCRIBE outside a RESP2 stream.
Route RequestRouter::Subscribe() {
  Route r = Forward();
  if (proto_ == 3) {
    subscribed3_ = true;
    r.action = Route::Action::kForwardPushes;  // RESP3: replies are pushes, out of band
  } else {
    stream_ = true;
    r.action = Route::Action::kStartStream;
  }
  return r;
}

// HELLO: the protocol changes once the child accepted it (HelloAnswered). A
// follower refuses it inside MULTI as the leader would: it must not take a
// HELLO 2 there for the end of a RESP3 subscription.
// `HELLO 2` on a RESP3 connection that subscribed makes it a RESP2 subscribed
// one if any subscription remains, where Redis accepts only (un)subscribing,
// PING, QUIT and RESET, and messages arrive as replies do: as for a RESP2
// SUBSCRIBE, the stream opens, and the probe after it tells whether the
// connection is still subscribed. (It cannot fail: no option that could.)
Route RequestRouter::Hello(std::span<const std::string_view> args) {
  // Inside MULTI it would change the protocol only at EXEC.
  if (in_multi_ && args.size() > 1) return Refuse("ERR HELLO inside MULTI is not supported by anarchoredis");
  Route r = Forward();
  if (subscribed3_ && args.size() == 2 && args[1] == "2") {
    proto_ = 2;
    subscribed3_ = false;
    stream_ = true;
    known_subscribed_ = false;
    r.action = Route::Action::kStartStream;
    return r;
  }
  r.tag = ReplyTag::kHello;
  r.stall = true;
  r.Detail().auth_user = AuthUser("hello", args);
  return r;
}

// RESP2, subscribed: Redis accepts only these; for anything else the node must
// first learn whether the connection is still subscribed (an UNSUBSCRIBE may
// have ended it), because that decides whether the command runs at all.
Route RequestRouter::Stream(std::string_view name, std::span<const std::string_view> args, const RouteContext&) {
  if (name == "reset") return Reset();
  if (name == "quit") return Answer("+OK\r\n", true);
  const CommandSpec* spec = Spec(args);
  const bool subscribing = IsSubscribeFamily(name);
  if (!subscribing && name != "ping" && spec != nullptr && !known_subscribed_) {
    // Whether it runs or is refused depends on whether an UNSUBSCRIBE ended
    // the subscription: ask first, then route it again.
    Route r;
    r.action = Route::Action::kProbe;
    r.stall = true;
    return r;
  }
  // The upstream answers, in the stream: (un)subscribing and PING, which
  // Redis runs there; an unknown command (unknown in either state); and,
  // the connection known to be subscribed, anything else, which Redis then
  // refuses before it runs (after its own checks: arity, subcommand, ACL),
  // so nothing runs outside the gate. (The state (un)subscribing leaves is
  // what the probe the session sends after it says.)
  Route r = Forward();
  // (Un)subscribing answers with pushes, which Redis sends even under
  // CLIENT REPLY OFF; the rest, or a wrong arity, with one reply.
  const bool pushes = subscribing && spec != nullptr && ArityHolds(*spec, args);
  r.action = pushes ? Route::Action::kForwardStream : Route::Action::kForwardStreamReply;
  return r;
}

Route RequestRouter::Transaction(std::string_view name, const RouteContext& ctx) {
  if (name == "multi") {
    if (in_multi_) return Forward();  // "MULTI calls can not be nested": the transaction goes on
    in_multi_ = true;
    multi_poisoned_ = false;
    multi_db_ = db_;
    multi_selects_ = false;
    multi_pause_ms_.reset();
    multi_logged_bytes_ = 0;
    Route r = Forward();
    r.begins_transaction = true;
    if (ctx.users_in_use) {
      r.tag = ReplyTag::kMulti;
      r.stall = true;
    }
    return r;
  }
  if (name == "exec" || name == "discard") {
    if (!in_multi_) return Forward();  // the child's "without MULTI" error
    in_multi_ = false;
    watching_ = false;
    Route r;
    if (name == "discard") {
      r = Forward();
      r.drops_transaction = true;
    } else if (multi_poisoned_) {
      r.action = Route::Action::kExecAbort;
      r.drops_transaction = true;
    } else {
      r = Forward({gate::Kind::kExec, {}, false});
      if (multi_pause_ms_) r.Detail().pause_ms = *multi_pause_ms_;
      if (multi_selects_) {
        // The db after EXEC depends on whether it ran (WATCH may abort it).
        r.tag = ReplyTag::kExecSelect;
        r.stall = true;
      }
    }
    return r;
  }
  // Inside MULTI, Redis refuses WATCH at once (the transaction goes on) and
  // queues UNWATCH.
  if (in_multi_) return Forward({}, name == "unwatch");
  watching_ = name == "watch";
  return Forward();
}

void RequestRouter::ExecAnswered(bool ran) {
  if (ran) db_ = multi_db_;
}

void RequestRouter::MultiAnswered(bool ok) {
  if (!ok) in_multi_ = false;
}

void RequestRouter::SelectAnswered(bool ok) {
  if (ok && selecting_ >= 0) db_ = selecting_;
  selecting_ = -1;
}

void RequestRouter::HelloAnswered(bool ok, int requested_proto) {
  if (ok && (requested_proto == 2 || requested_proto == 3)) proto_ = requested_proto;
}

Route RequestRouter::PassThrough(std::string_view name, std::span<const std::string_view> args,
                                 const RouteContext& ctx) {
  if (name == "select") return Select(args, ctx);
  if (name == "reset") return Reset();
  if (name == "script" && args.size() > 1) {
    // Redis 7 does not replicate its script cache: the node logs LOAD and
    // FLUSH, so EVALSHA works after a failover or a child rebuild (inside
    // MULTI: logged if EXEC ran it successfully).
    const std::string sub = Lower(args[1]);
    if (sub == "load" || sub == "flush") {
      Route r = Forward({}, in_multi_);
      r.tag = ReplyTag::kLog;
      return r;
    }
    if (sub == "exists") return Forward(KeylessRead(true), in_multi_);
  }
  if (name == "function" && args.size() > 1) {
    // The libraries are data (FUNCTION LOAD is a write of the whole keyspace).
    // STATS tells what script runs, so that a client may kill it: as in Redis
    // it is answered while a script keeps the child busy, which holds every
    // read's confirmation (its ROLE waits for the script). It is answered at
    // once, as a command that shows no data: its library counts may include
    // one not yet acknowledged, or (on a deposed leader) be a moment old.
    const std::string sub = Lower(args[1]);
    if (sub == "list" || sub == "dump") {
      gate::Request q = KeylessRead(false);
      q.whole_keyspace = true;
      return Forward(std::move(q), in_multi_);
    }
    if (sub == "stats") return Forward({}, in_multi_);
  }
  if (name == "config" && args.size() > 1 && Lower(args[1]) == "set") return ConfigSet(args, ctx);
  if (name == "info") {
    // Statistics, not data: INFO waits for no write in flight (a write held
    // by CLIENT PAUSE must not hold it back), so its keyspace counts may
    // include writes not yet acknowledged. Its reply still leaves only once
    // this node's leadership is confirmed.
    Route r = Forward(KeylessRead(false), in_multi_);
    r.tag = InfoTag(args);
    return r;
  }
  // The other statistics of the data and of the commands run, as INFO: the
  // key counts of MEMORY STATS, the slow commands' arguments of SLOWLOG GET
  // (below). A deposed leader answered them at once from its child, which
  // may hold writes the cluster never acknowledged.
  if (name == "memory" && args.size() > 1) {
    const std::string sub = Lower(args[1]);
    if (sub == "stats" || sub == "doctor" || sub == "malloc-stats") return Forward(KeylessRead(false), in_multi_);
  }
  if (name == "latency") return Forward(KeylessRead(false), in_multi_);
  if (name == "config" && args.size() > 1 && Lower(args[1]) == "get") {
    Route r = Forward(KeylessRead(true), in_multi_);
    r.tag = ReplyTag::kConfigGet;
    return r;
  }
  if (name == "client" && args.size() > 1) return Client(Lower(args[1]), args);
  if (name == "slowlog" && (args.size() == 2 || args.size() == 3) && !in_multi_ && Lower(args[1]) == "get") {
    // Every entry, so that the newest `count` are there once the node's own
    // ROLE calls are dropped. A bad count gets the child's own error.
    int64_t count = 10;
    if (args.size() == 3 && (!ParseRedisInt(args[2], &count) || count < -1)) return Forward();
    Route r = Forward(KeylessRead(false));
    r.tag = ReplyTag::kSlowlog;
    r.Detail().count = count;
    resp::AppendCommand(&r.Detail().rewritten, {"SLOWLOG", "GET", "-1"});
    return r;
  }
  if (name == "hello" && args.size() > 1) return Hello(args);
  return Forward({}, in_multi_);
}

// CLIENT LIST and INFO show the clients as a client of the cluster sees them
// (see client_view.h); CLIENT KILL is the node's (its own links are spared).
Route RequestRouter::Client(std::string_view sub, std::span<const std::string_view> args) {
  if (sub == "kill") {
    if (in_multi_) return Refuse("ERR CLIENT KILL inside MULTI is not supported by anarchoredis");
    Route r;
    r.action = Route::Action::kNodeCommand;
    return r;
  }
  Route r = Forward({}, in_multi_);
  if (sub == "list" || sub == "info") r.tag = ReplyTag::kClientList;
  if (int64_t id = 0; sub == "unblock" && !in_multi_ && (args.size() == 3 || args.size() == 4) &&
                      ParseRedisInt(args[2], &id) && id > 0) {
    r.tag = ReplyTag::kClientUnblock;
    r.Detail().count = id;
    r.Detail().unblock_error = args.size() == 4 && Lower(args[3]) == "error";
  }
  if (sub == "tracking" && args.size() >= 3) NoteTracking(args);
  NoteClient(sub, args, &r);
  return r;
}

// What CLIENT changes that the node follows: the name (one of a node's own
// links?), and PAUSE/UNPAUSE.
void RequestRouter::NoteClient(std::string_view sub, std::span<const std::string_view> args, Route* r) {
  if (sub == "setname" && args.size() == 3 && !in_multi_) internal_name_ = args[2].starts_with(kInternalClientPrefix);
  NotePause(sub, args, r);
}

// CLIENT PAUSE and UNPAUSE: the shared link is held meanwhile (on a
// follower, the relay: the leader holds its requests too). Queued inside
// MULTI, they hold it once EXEC is sent (held as they were queued, a DISCARD
// left the link held for the whole pause, and a late EXEC paused the child
// after the hold had run out).
void RequestRouter::NotePause(std::string_view sub, std::span<const std::string_view> args, Route* r) {
  int64_t ms = 0;
  std::optional<int64_t> pause;
  if (sub == "pause" && args.size() >= 3 && ParseRedisInt(args[2], &ms) && ms >= 0) pause = ms;
  if (sub == "unpause") pause = 0;
  if (!pause) return;
  if (in_multi_) {
    multi_pause_ms_ = pause;
  } else {
    r->Detail().pause_ms = pause;
  }
}

Route RequestRouter::Select(std::span<const std::string_view> args, const RouteContext& ctx) {
  int64_t db = -1;
  const bool valid = args.size() == 2 && ParseRedisInt(args[1], &db) && db >= 0 && db < ctx.databases;
  if (in_multi_) {
    if (valid) {
      multi_db_ = static_cast<int>(db);
      multi_selects_ = true;
    }
    return Forward({}, true);
  }
  Route r = Forward();
  r.no_data = true;
  if (valid && ctx.users_in_use) {
    selecting_ = static_cast<int>(db);
    r.tag = ReplyTag::kSelect;
    r.stall = true;
  } else if (valid) {
    db_ = static_cast<int>(db);
  }
  return r;
}

Route RequestRouter::Reset() {
  db_ = 0;
  monitoring_ = false;
  tracking_ = false;
  watching_ = false;
  proto_ = 2;
  in_multi_ = false;
  multi_poisoned_ = false;
  stream_ = known_subscribed_ = false;
  subscribed3_ = false;
  // As Redis: RESET turns CLIENT REPLY OFF off (and is answered), while a
  // SKIP just before it still skips its reply (TakeSilence).
  reply_off_ = false;
  Route r = Forward();
  r.drops_transaction = true;
  r.tag = ReplyTag::kReset;
  // What follows is routed once +RESET is in: on a RESP2 stream it is what
  // ends the stream, and a SUBSCRIBE after it starts a new one.
  r.stall = true;
  return r;
}

Route RequestRouter::Refuse(std::string_view error) {
  if (in_multi_) multi_poisoned_ = true;  // as Redis: a rejected command aborts EXEC
  return Answer(Error(error));
}

Route RequestRouter::Wait(std::span<const std::string_view> args) {
  if (args.size() != 3) return Answer(Error("ERR wrong number of arguments for 'wait' command"));
  Route r;
  r.action = Route::Action::kWait;
  if (!ParseRedisInt(args[1], &r.Detail().wait_replicas)) return Answer(Error("ERR value is not an integer or out of range"));
  if (!ParseRedisInt(args[2], &r.Detail().wait_timeout_ms)) {
    return Answer(Error("ERR timeout is not an integer or out of range"));
  }
  if (r.DetailOrNone().wait_timeout_ms < 0) return Answer(Error("ERR timeout is negative"));
  return r;
}

// A command that may wait on other clients (a queued one never does): the
// requests after it wait for its reply, as Redis reads no further request
// from a blocked client. Admitted at once, a write behind it would hold its
// keys' locks for as long as it waits, and readers of them with it.
void RequestRouter::MayBlock(bool blocking, Route* r) const {
  r->may_block = blocking && !in_multi_;
  r->stall = r->stall || r->may_block;
}

Route RequestRouter::DataCommand(std::span<const std::string_view> args,
                                 const CommandSpec& spec) {
  if (spec.blocking && spec.write && spec.name == "xreadgroup") {
    if (std::optional<Route> r = XReadGroup(args, spec)) return std::move(*r);
  }
  const bool blocks = BlocksAsSent(spec, args);
  const CommandClass cls = spec.cls == CommandClass::kBlocking && !blocks ? CommandClass::kKeyedRead : spec.cls;
  Route r = Forward(GateRequest(cls, spec, args), in_multi_);
  MayBlock(blocks, &r);
  return r;
}

void RequestRouter::ScanCursor(size_t at, std::span<const std::string_view> args, uint32_t epoch, Route* r) {
  r->tag = ReplyTag::kScan;
  RouteDetail& detail = r->Detail();
  detail.scan_epoch = epoch;
  if (std::optional<std::string> cursor = scan_cursor::ForChild(args[at], epoch)) {
    std::vector<std::string_view> sent(args.begin(), args.end());
    sent[at] = *cursor;
    resp::AppendCommand(&detail.rewritten, sent);
  }
}

gate::Request RequestRouter::GateRequest(CommandClass cls, const CommandSpec& spec,
                                         std::span<const std::string_view> args) const {
  const int db = in_multi_ ? multi_db_ : db_;
  gate::Request req;
  const Keys keys = CommandTable::GetKeys(spec, args);
  req.script = spec.scripting;
  auto name_keys = [&](bool only_written) {
    for (const KeyRef& k : keys.keys) {
      if (!only_written || k.write) {
        req.keys.push_back(gate::KeyOf(db, args[k.pos]));
      } else {
        req.read_only_keys.push_back(gate::KeyOf(db, args[k.pos]));
      }
    }
  };
  switch (cls) {
    case CommandClass::kKeyedWrite:
      req.kind = gate::Kind::kWrite;
      name_keys(true);
      req.whole_keyspace = keys.incomplete || req.keys.empty();
      break;
    case CommandClass::kBlocking:
      // Marked, not locked, while it waits: every key it may touch.
      req.kind = gate::Kind::kBlocking;
      name_keys(false);
      req.whole_keyspace = keys.incomplete || req.keys.empty();
      break;
    case CommandClass::kKeyedRead:
      req.kind = gate::Kind::kRead;
      name_keys(false);
      req.whole_keyspace = keys.incomplete;
      break;
    case CommandClass::kKeyspaceRead:
      req.kind = gate::Kind::kRead;
      req.whole_keyspace = true;
      break;
    default:  // kKeyspaceWrite: scripts, FLUSHALL, MOVE, SWAPDB, ...
      req.kind = gate::Kind::kWrite;
      req.whole_keyspace = true;
      break;
  }
  if (req.whole_keyspace) {
    req.keys.clear();
    req.read_only_keys.clear();
  }
  return req;
}

}  // namespace node
