// Decides how each client request travels through the node, and keeps the
// state of the client's upstream connection as the child (or the leader) will
// see it once the requests forwarded so far have run: the selected db, the
// protocol, an open MULTI, the RESP2 subscribed state. Socket-free: the
// session performs the Route it returns.
//
// Where the outcome depends on the upstream's reply (HELLO, EXEC of a
// transaction that SELECTs, whether a RESP2 connection is still subscribed),
// the route says `stall`: the session reads no further request until that
// reply arrived and was passed back here. Everything else is predicted exactly
// as Redis 7.0 decides it (SELECT parses its index with Redis's own rules).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/front/command_table.h"
#include "node/gate/consistency_gate.h"
#include "node/node_acl.h"

namespace node {

// Redis's string2ll: an optional '-', then digits with no leading zero (or
// just "0"); no spaces, no '+', no "-0"; fits in int64.
bool ParseRedisInt(std::string_view s, int64_t* out);
// Whether INFO with these arguments shows the node's own section: with no
// section named, "default", "all", "everything" or "anarchoredis" (as Redis
// shows a section only when it is asked for).
bool InfoShowsNodeSection(std::span<const std::string_view> args);

// What the node does with an upstream reply besides passing it on.
enum class ReplyTag {
  kNone,
  kHello,       // a successful HELLO sets the protocol
  kInfo,        // INFO gains the node's section
  kInfoSections,  // INFO of sections other than the node's: only the node's view of the clients
  kExecSelect,  // EXEC of a transaction with a SELECT: the db changes only if it ran
  kReset,       // +RESET ends the RESP2 subscribed stream
  kLog,         // SCRIPT LOAD / FLUSH, CONFIG SET: state the stream does not carry; the node logs
                // it once it succeeded (queued in MULTI: once EXEC ran it successfully)
  kClientList,  // CLIENT LIST / INFO: the rows a client is shown (node/front/client_view.h)
  kConfigGet,   // CONFIG GET: the node's own view of the settings it owns (port, bind)
  kSlowlog,     // SLOWLOG GET: without the node's own ROLE calls (client_view.h)
  kAuth,        // AUTH: once it succeeded, the connection runs as `auth_user`
  kAclUsers,    // ACL LIST / ACL USERS: without the node's own user, with the @anarcho rules
  kAclGetUser,  // ACL GETUSER `acl_user`: its commands with the @anarcho rules (NodeAcl)
  kAclCat,      // ACL CAT: with the node's category, anarcho
  kAclLog,      // ACL LOG: client-info as CLIENT LIST shows the client
  kScan,        // SCAN, HSCAN, SSCAN, ZSCAN: the cursor carries the child's epoch (scan_cursor.h)
  // With users in use, the client's user may be refused what the router
  // otherwise predicts succeeds: MULTI and SELECT wait for their replies.
  kMulti,   // MULTI: refused, the connection is not in a transaction
  kSelect,  // SELECT: the db changes only if it succeeded
  // CLIENT UNBLOCK of client `count`: a client waiting in WAIT waits on the
  // node, not in the child, which answers 0; the node then ends that wait.
  kClientUnblock,
};

// CONFIG SET of settings the node owns, each to the value it already has (as
// Redis accepts setting a value to itself): the child is asked CONFIG GET
// instead, and the client gets OK if every value holds, else the refusal.
struct SettingsCheck {
  std::vector<std::pair<std::string, std::string>> wanted;  // name (lowercase), value
  std::vector<std::string> refusals;                        // per wanted: the error if it does not hold
  std::string request;                                      // the CONFIG GET sent in its place
};

// The parts of a route that only a few commands have.
struct RouteDetail {
  std::shared_ptr<const SettingsCheck> settings_check;  // kForward: CONFIG GET in place of CONFIG SET
  int64_t wait_replicas = 0;                            // kWait
  int64_t wait_timeout_ms = 0;
  // CLIENT PAUSE (its timeout, ms) or UNPAUSE (0): the child holds writes,
  // or everything, for that long.
  std::optional<int64_t> pause_ms;
  // kForward: sent in place of the request (SLOWLOG GET -1 for SLOWLOG GET);
  // `count` is what the client asked for.
  std::string rewritten;
  int64_t count = 0;
  // AUTH, or HELLO ... AUTH: the user the connection runs as if it succeeds.
  std::string auth_user;
  std::string acl_user;  // kAclGetUser: the user asked about
  // kLog: what the node logs once the request succeeded, when not the request
  // itself (XREADGROUP's reads of pending entries, RequestRouter::XReadGroup).
  std::vector<std::string> logged;
  uint32_t scan_epoch = 0;  // ReplyTag::kScan: the epoch of the child it runs in
  bool unblock_error = false;  // kClientUnblock: ERROR, not TIMEOUT
  // CONFIG SET that may start the child evicting keys (maxmemory): the gate
  // must know before the child runs it (ConsistencyGate::SetEvictions).
  bool may_evict = false;
  // Answered by the node right after CLIENT CACHING: the session sends the
  // child a PING in its place, which uses the flag up as this command does in
  // Redis (RequestRouter::NoteCaching).
  bool uses_up_caching = false;
};

struct Route {
  enum class Action {
    kForward,        // to the upstream; its reply takes a slot (kept in order)
    // RESP2 (un)subscribing in the stream: to the upstream; its confirmations
    // (or error) arrive in the stream, and the session probes after it.
    kForwardStream,
    // RESP3 (un)subscribing: to the upstream; answered with pushes (or an
    // error), whose end the session marks so that no later reply overtakes them.
    kForwardPushes,
    // RESP2 stream: to the upstream; its one reply (not a push) arrives in the
    // stream, and is dropped there when `silent`.
    kForwardStreamReply,
    kStartStream,    // RESP2 (P|S)SUBSCRIBE: forward; from its reply on, the connection is a stream
    kReply,          // the node answers with `reply`
    kNodeCommand,    // ANARCHO.*: the server answers
    kExecAbort,      // a refused command was queued: DISCARD upstream, EXECABORT to the client
    kProbe,          // RESP2 stream: learn whether the connection is still subscribed, then route again
    kWait,           // WAIT: answered by the node (RouteDetail's `wait_replicas` and `wait_timeout_ms`)
    kMonitor,        // MONITOR: +OK, then this node's clients' requests (node/front/monitor.h)
  };
  Action action = Action::kForward;
  gate::Request request;  // kForward: what the gate needs to know
  bool queued = false;    // inside MULTI: recorded for EXEC, answered +QUEUED
  bool begins_transaction = false;
  bool drops_transaction = false;
  ReplyTag tag = ReplyTag::kNone;
  bool stall = false;     // read no further request before this reply
  std::string reply;      // kReply (a complete RESP value)
  bool close_after = false;
  bool silent = false;    // CLIENT REPLY OFF / SKIP: the reply is not sent
  // kForward on a follower: a read its own child may serve (FollowerReads),
  // in database `db`.
  bool follower_read = false;
  bool may_block = false;  // kForward: a blocking command (BLPOP, XREAD, ...) outside MULTI: stalls
  int db = 0;
  // Its reply shows no data (SELECT): a follower read after it need not
  // follow it to the leader.
  bool no_data = false;
  // kForward on the leader: it may travel on the link to the child that
  // sessions share (RequestRouter::Shareable).
  bool shared = false;
  // What a few commands need beyond these (RouteDetail); null for the rest,
  // so that a route, made and moved for every request, stays small.
  std::unique_ptr<RouteDetail> detail;
  RouteDetail& Detail() {
    if (!detail) detail = std::make_unique<RouteDetail>();
    return *detail;
  }
  const RouteDetail& DetailOrNone() const {
    static const RouteDetail kNone;
    return detail ? *detail : kNone;
  }
};

struct RouteContext {
  bool forwarding = false;  // this node relays to the leader, which applies the rules
  // The connection authenticated (or needs not: the default user has no
  // password). If not, only AUTH, HELLO, QUIT and RESET run, as in Redis.
  bool authenticated = true;
  // Users are in use: the user may be refused any command (see kMulti).
  bool users_in_use = false;
  bool no_leader = false;   // no upstream to forward to (after the bounded wait)
  // With no_leader: why there is no upstream (Server::NoUpstreamReason).
  std::string no_upstream_why;
  int databases = 16;
  // The node's own client address (CONFIG SET of port or bind to these holds).
  int port = 0;
  std::string_view bind;
  const NodeAcl* node_acl = nullptr;  // who may run ANARCHO.* (ACL DRYRUN of them)
  // The epoch of the child's scan cursors (node/front/scan_cursor.h); 0
  // passes cursors as they are.
  uint32_t scan_epoch = 0;
  size_t logged_bytes = 0;  // the state the node's logged requests built (LoggedState::bytes)
};

class RequestRouter {
 public:
  explicit RequestRouter(const CommandTable& commands) : commands_(commands) {}

  // Also applies CLIENT REPLY: a route's `silent` says its reply is dropped.
  Route Decide(std::span<const std::string_view> args, const RouteContext& ctx);
  // Whether Decide would let this request travel on the shared link to the
  // leader's child (Route::shared): a plain data command (CommandSpec::
  // shared_link) of a connection with no state the child must keep for it
  // (a transaction, a subscription, tracking, MONITOR, a user of its own).
  // It changes nothing: a session asks before Decide whether a request must
  // wait for its requests on the shared link to be answered.
  bool Shareable(std::span<const std::string_view> args, const RouteContext& ctx) const;

  // Replies the state depends on (see ReplyTag).
  void HelloAnswered(bool ok, int requested_proto);
  void ExecAnswered(bool ran);
  void MultiAnswered(bool ok);
  void SelectAnswered(bool ok);
  // The RESP2 stream ended (+RESET, or a probe found the connection unsubscribed).
  void StreamEnded() { stream_ = false; }
  // The probe's answer: the request that waited for it is routed again.
  void ProbeAnswered(bool subscribed) {
    if (subscribed) {
      known_subscribed_ = true;
    } else {
      stream_ = known_subscribed_ = false;
    }
  }

  // Whether the reply of a request the node answers without routing it is
  // dropped (CLIENT REPLY OFF, or SKIP for this one).
  bool TakeSilence() { return reply_off_ || std::exchange(skip_next_, false); }

  int db() const { return db_; }
  // The database a request routed now reads and writes (inside MULTI, the
  // one its queued SELECTs chose).
  int request_db() const { return in_multi_ ? multi_db_ : db_; }
  bool monitoring() const { return monitoring_; }
  void MonitorRefused() { monitoring_ = false; }  // the user may not run MONITOR
  int proto() const { return proto_; }
  bool in_multi() const { return in_multi_; }
  // The connection named itself as a node's own link (a follower's relay).
  bool internal_name() const { return internal_name_; }
  bool streaming() const { return stream_; }
  // The client counts as a subscriber (Redis's pubsub output buffer class).
  bool pubsub_class() const { return stream_ || subscribed3_; }

 private:
  // `name`: the command's name in lowercase.
  Route DecideRoute(std::string_view name, std::span<const std::string_view> args, const RouteContext& ctx);
  // NOAUTH before authentication; AUTH; ACL changes (logged, like CONFIG SET)
  // and listings; the node's own user, which no client may use or change.
  std::optional<Route> NodeAclRequest(std::string_view sub, std::span<const std::string_view> args,
                                      const RouteContext& ctx);
  std::optional<Route> ReservedClientName(std::string_view name, std::span<const std::string_view> args,
                                         const RouteContext& ctx);
  std::optional<Route> Users(std::string_view name, std::span<const std::string_view> args,
                             const RouteContext& ctx);
  // CLIENT REPLY ON|OFF|SKIP: the client-facing node drops the replies (never forwarded).
  Route ClientReply(std::span<const std::string_view> args);
  Route Client(std::string_view sub, std::span<const std::string_view> args);
  Route Transaction(std::string_view name, const RouteContext& ctx);
  Route Subscribe();
  Route Stream(std::string_view name, std::span<const std::string_view> args, const RouteContext& ctx);
  Route Forwarding(std::string_view name, std::span<const std::string_view> args, const CommandSpec* spec,
                   const RouteContext& ctx);
  // CONFIG SET of only `port` and `bind`, answered by the node they belong to
  // (OK if they already hold); nullopt for any other CONFIG SET.
  std::optional<Route> NodeAddressSet(std::span<const std::string_view> args, const RouteContext& ctx);
  void MayBlock(bool blocking, Route* r) const;
  Route DataCommand(std::span<const std::string_view> args, const CommandSpec& spec);
  // SCAN and the key scans: the cursor at `at` goes to the child without its
  // epoch, and the reply's gets it (scan_cursor.h).
  static void ScanCursor(size_t at, std::span<const std::string_view> args, uint32_t epoch, Route* r);
  std::optional<Route> XReadGroup(std::span<const std::string_view> args, const CommandSpec& spec);
  Route Hello(std::span<const std::string_view> args);
  bool Shares(const CommandSpec& spec, std::span<const std::string_view> args, const RouteContext& ctx) const;
  void NoteTracking(std::span<const std::string_view> args);
  void NoteClient(std::string_view sub, std::span<const std::string_view> args, Route* r);
  void NotePause(std::string_view sub, std::span<const std::string_view> args, Route* r);
  Route PassThrough(std::string_view name, std::span<const std::string_view> args, const RouteContext& ctx);
  Route Select(std::span<const std::string_view> args, const RouteContext& ctx);
  Route ConfigSet(std::span<const std::string_view> args, const RouteContext& ctx);
  Route Debug(std::string_view sub, std::span<const std::string_view> args, const CommandSpec& spec);
  Route Wait(std::span<const std::string_view> args);
  Route Refuse(std::string_view error);
  // Follows CLIENT CACHING's flag for the command after it (see RouteDetail::uses_up_caching).
  void NoteCaching(std::string_view name, std::span<const std::string_view> args, bool was_in_multi, Route* r);
  // Why a request the node logs whole (ReplyTag::kLog) is refused, if it is.
  std::optional<std::string> LoggedRefusal(std::string_view name, std::span<const std::string_view> args,
                                           const RouteContext& ctx);
  Route Reset();
  // The command table's entry for the request. A client mostly sends the same
  // commands over and over: the last top-level command found is kept and
  // compared first (the table lives as long as the node).
  const CommandSpec* Spec(std::span<const std::string_view> args) const;
  // The request, with its keys named in the db it will run in.
  gate::Request GateRequest(CommandClass cls, const CommandSpec& spec, std::span<const std::string_view> args) const;

  const CommandTable& commands_;
  mutable const CommandSpec* last_spec_ = nullptr;  // Spec()'s last find without subcommands
  int db_ = 0;
  bool monitoring_ = false;  // MONITOR ran (RESET ends it)
  int proto_ = 2;
  bool in_multi_ = false;
  bool multi_poisoned_ = false;  // a refused command was queued: EXEC aborts
  int multi_db_ = 0;             // the db inside the transaction, after its queued SELECTs
  bool multi_selects_ = false;
  std::optional<int64_t> multi_pause_ms_;  // a queued CLIENT PAUSE (0: UNPAUSE): EXEC's, if it runs
  size_t multi_logged_bytes_ = 0;          // the queued requests the node logs whole (LoggedRefusal)
  int selecting_ = -1;           // kSelect: the db once SELECT succeeded
  bool stream_ = false;          // RESP2: the connection subscribed; replies are a stream
  bool known_subscribed_ = false;  // a probe said so (one follows each (un)subscribe, answered before more is routed)
  bool subscribed3_ = false;     // RESP3: subscribed (pushes), commands still allowed
  bool reply_off_ = false;       // CLIENT REPLY OFF
  bool skip_next_ = false;       // CLIENT REPLY SKIP: the next command's reply is dropped
  // CLIENT TRACKING asked (follower): reads go to the leader, whose child
  // tracks the keys they read. Cleared by CLIENT TRACKING OFF and RESET.
  bool tracking_ = false;
  // CLIENT CACHING ran and no command but CLIENT's since (outside MULTI):
  // the child applies it to the next command it runs.
  bool caching_next_ = false;
  // WATCH ran (follower): reads go to the leader, whose child watches the
  // keys, until EXEC, DISCARD, UNWATCH or RESET. A read served here could be
  // older than the state WATCH saw there, and a transaction built on it would
  // overwrite a write it never saw.
  bool watching_ = false;
  bool internal_name_ = false;  // CLIENT SETNAME anarcho:...
};

}  // namespace node
