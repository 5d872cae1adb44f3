// One client connection: socket I/O and the bookkeeping that matches each
// upstream reply to its request. Policy lives elsewhere: RequestRouter decides
// how a request travels, the consistency gate (on the leader) when its reply
// may leave, ReplySlots keeps replies in request order.
//
// Each client has its own upstream connection: to the child on the leader (so
// SELECT, MULTI, WATCH, HELLO and blocking behave as in Redis), or to the
// leader's client port on a follower, which then relays in order. With no
// leader, requests wait a bounded time, then get TRYAGAIN errors. On the
// leader, plain data commands travel on a link to the child that all
// sessions share (SharedLink) instead: fewer system calls in the node
// and in the child for the same requests. A session's requests in flight are
// all on one of its two links, so they run in the order sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "asio.hpp"
#include "node/byte_stream.h"
#include "node/front/client_view.h"
#include "node/front/output_limit.h"
#include "node/front/reply_slots.h"
#include "node/front/request_router.h"
#include "node/front/shared_link.h"
#include "node/gate/consistency_gate.h"
#include "node/logged_state.h"
#include "node/output_queue.h"
#include "node/read_buffer.h"
#include "node/ring_queue.h"
#include "resp/reply_scanner.h"
#include "resp/request_parser.h"

namespace node {

class Server;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(Server& server, ByteStream stream, gate::SessionId id);
  ~ClientSession();

  gate::SessionId id() const { return id_; }
  void Start();
  // Connects to the upstream the server names, if not connected yet.
  void TryConnectUpstream();
  // The upstream is no longer valid (leader change, child rebuilt): if this
  // session uses one, its pending requests get `error` and the client is closed.
  void UpstreamLost(std::string_view error);
  // Pending requests get `error`, then the client is closed.
  void Abort(std::string_view error);
  // The gate released what `tag` (given to Arrive) names: a reply's slot, or
  // a held pub/sub message (kHeldTag). Returns true the first time since the
  // last FlushReleased(): the caller flushes each session once for many.
  bool MarkReleased(uint64_t tag);
  void FlushReleased();
  // This node's own child answered a read of `slot` (FollowerReads). Returns
  // true as MarkReleased does: the caller flushes once for many.
  bool LocalReadAnswered(ReplySlots::Id slot, std::string_view bytes, ByteBlock&& big);
  // The shared link to the leader's child answered this session's oldest
  // request on it; AfterSharedReplies once after many.
  void OnSharedReply(std::string_view bytes, char type, ByteBlock&& big);
  void AfterSharedReplies();
  // The shared link closed with requests of this session unanswered: they
  // get `error`, then the client is closed.
  void SharedLinkLost(std::string_view error);
  // The node is stopping: no request is read any more (nor handled, if read
  // already); those in flight are still answered.
  void StopReading();
  // This session's connection on the leader's child (-1: none, or not known yet).
  // MONITOR: one line for this monitoring client (ignored once it stopped).
  void Monitored(std::string line);
  bool monitoring() const { return router_.monitoring(); }
  int64_t child_client_id() const { return gated() && upstream_open_ && client_open_ ? child_client_id_ : -1; }
  // A node's own link (a follower's relay), not a client: INFO does not count it.
  bool internal_name() const { return router_.internal_name(); }
  ClientAddresses addresses() const;
  // CLIENT KILL: what was answered leaves, then the connection closes.
  void Kill();
  // The client's connection is gone: its read failed, or (RelaySessions) it
  // is a relay of a follower cut off from this node. Nothing more is read or
  // answered; its child connection is killed.
  void ClientGone();
  // On the leader, for a relay session (RelaySessions::KeepAlive).
  void RelayKeepAlive();
  // On a follower: the leader's answer to the relay preamble.
  void WatchRelay(std::string_view preamble_reply);
  // CLIENT UNBLOCK of this client: a WAIT it waits in is answered now, with
  // the count so far or (`error`) Redis's UNBLOCKED error. False if it waits
  // in none.
  bool UnblockWait(bool error);
  // Nothing in flight: every request read was answered and its reply sent.
  // (A subscribed connection's open stream does not count.)
  bool idle() const { return replies_answered() && out_.empty() && !client_writing_; }

 private:
  // An error reply of the node's own, counted in the metrics `count` times.
  std::string ErrorReply(std::string_view msg, uint64_t count = 1);
  // What a few replies need beyond the common fields: the state they change,
  // or how the node rewrites them. Kept apart so that an Expect, which every
  // request queues, stays small.
  struct ExpectDetail;
  // A request queued in a transaction whose reply, an element of EXEC's, the
  // node rewrites (INFO, CLIENT LIST, ACL, CONFIG GET, SLOWLOG, a scan).
  struct QueuedRewrite {
    size_t at = 0;  // its position in the transaction
    ReplyTag tag = ReplyTag::kNone;
    std::shared_ptr<const ExpectDetail> detail;
  };
  struct ExpectDetail {
    int hello_proto = 0;
    std::string auth_user;  // ReplyTag::kAuth or kHello: the user it authenticates as
    std::string acl_user;   // ReplyTag::kAclGetUser: the user asked about
    int64_t count = 0;      // ReplyTag::kSlowlog: the entries the client asked for; kClientUnblock: the id
    bool unblock_error = false;  // ReplyTag::kClientUnblock
    // ReplyTag::kLog: what to log once it succeeded.
    std::shared_ptr<const LoggedRequest> logged;
    // EXEC: what to log of the queued requests, by position in the
    // transaction, if EXEC ran them successfully.
    std::shared_ptr<const std::vector<std::pair<size_t, LoggedRequest>>> exec_logged;
    // EXEC: the queued requests whose replies the node rewrites (as
    // PlaceReply does outside a transaction), by position.
    std::shared_ptr<const std::vector<QueuedRewrite>> exec_rewrites;
    uint32_t scan_epoch = 0;  // ReplyTag::kScan: the child's epoch (scan_cursor.h)
    std::shared_ptr<const SettingsCheck> settings_check;  // the reply is CONFIG GET's: compared, then OK or refused
    std::optional<SharedLink::Hold> pause;  // CLIENT PAUSE or UNPAUSE (or an EXEC with one): undone if refused
  };
  // What an upstream reply answers.
  struct Expect {
    // The detail, made when first needed.
    ExpectDetail& Detail() {
      if (!detail) detail = std::make_unique<ExpectDetail>();
      return *detail;
    }
    enum class Kind {
      kReply,     // a request's reply, for `slot`
      kClientId,  // CLIENT ID at connect: the child's id for this connection
      kIgnore,    // the node's own request (DISCARD after an aborted EXEC)
      kStream,    // a RESP2 subscribe: from here on, replies are a stream
      kProbe,     // is the RESP2 connection still subscribed?
      // The client's end, on a subscribed connection: once this probe is
      // answered, every reply and push of the requests before it arrived.
      kEndProbe,
      kAuthState,  // HELLO after connecting or RESET (users in use, or a follower): did the connection authenticate?
      kRelay,      // ANARCHO.RELAY, a follower's first request to the leader: its reply is dropped
      kCover,  // no reply: once every reply before it arrived, a ROLE the node sends covers `cover`
      // RESP3 (un)subscribing (kForwardPushes): `slot` holds the place of its
      // pushes until the reply of the PING sent after it (probe_request_) arrives.
      kPushesEnd,
    };
    Kind kind = Kind::kReply;
    ReplySlots::Id slot = 0;
    gate::SlotId gate_slot = 0;
    gate::CoverId cover = 0;
    ReplyTag tag = ReplyTag::kNone;
    bool unstall = false;  // input waits for this reply
    bool data = false;     // kReply: a request whose reply may show data (not SELECT)
    bool discards = false;  // DISCARD inside MULTI
    std::unique_ptr<ExpectDetail> detail{};  // null for plain data commands
  };
  enum class UpstreamState { kWaiting, kConnecting, kConnected, kNoLeader, kGone };
  void UpstreamUnreachable(bool forwarding, const asio::error_code& ec);
  bool UpstreamFailedUnused(const asio::error_code& ec);

  // Client input.
  void ReadClient();
  void OnClientData();
  void HandleWaitingInput();
  // A follower's session waits for the leader to say how its connection is
  // authenticated (LearnAuthState), with nothing else in flight.
  bool AwaitsAuthState() const;
  // On the leader: anything of the client's still in hand (RelayKeepAlive).
  bool HoldsAnything() const;
  // A reply (not a subscribed stream's message) is awaited from the upstream.
  bool AwaitsUpstream() const;
  // The leader refused the connection for its maxclients (`bytes`, said
  // before any request): the client gets that error, then the connection closes.
  void LeaderFull(std::string_view bytes);
  void RefuseInput(const std::string& error);  // a protocol error: reply, then close
  void AddClosingReply(std::string reply, bool silent);
  // Returns false if the request must stay in the input (it is routed again
  // once the reply it waits for arrived).
  bool HandleRequest(std::span<const std::string_view> args, std::string_view raw);
  // ANARCHO.RELAY <member> as the connection's first request: a follower
  // relays on this session (Server::AddRelaySession), and takes its token
  // and signs of life. ANARCHO.RELAY <member> END <token>: the follower gave
  // up the connection of that session, which ends.
  // Answered here, before what a first request meets (authentication,
  // permissions): they only name a member and, to end one, the token only
  // that member's connection was told. True if it was one.
  bool RelayPreamble(std::span<const std::string_view> args);
  RouteContext MakeRouteContext() const;
  bool HandleAnswer(Route& route, std::span<const std::string_view> args, std::string_view raw);
  // False if the gate holds it back (held_route_): routed again once it may go.
  bool ForwardRequest(Route& route, std::span<const std::string_view> args, std::string_view raw);
  bool MayForward(Route& route);
  void EnterGate(Route& route, std::span<const std::string_view> args, Expect& e);
  // What handling a reply reads of its route's detail (OnReply, Rewritten).
  static void CopyReplyDetail(const RouteDetail& from, ReplyTag tag, ExpectDetail& to);
  void ForwardAllowed();
  // Whether a forwarded request travels on the shared link (else on this
  // session's own), keeping this session's requests in order.
  bool UsesSharedLink(const Route& route, std::string_view raw);
  // This session's requests on the shared link were all answered (or lost):
  // what waited for that goes on.
  void SharedDrained();
  // A follower's read, served by its own child if nothing this client sent
  // before is still on its way to the leader (else false: it goes there too).
  bool ReadLocally(const Route& route, std::span<const std::string_view> args, std::string_view raw);
  void AnswerWait(const Route& route);
  void ShowToMonitors(std::span<const std::string_view> args, const Route& r);
  void StartMonitor(bool silent);
  void ReplyToWait(ReplySlots::Id slot, int64_t replicas, int64_t timeout_ms);
  void WaitAnswered(ReplySlots::Id slot, std::string reply);
  // The WAIT this session waits in, if any: its slot, its reply so far, and
  // the timer of its timeout.
  struct PendingWait {
    ReplySlots::Id slot = 0;
    std::string reply;
    std::shared_ptr<asio::steady_timer> timer;
  };
  std::optional<PendingWait> wait_;
  void AnswerNodeCommand(std::span<const std::string_view> args, bool silent);
  void SendUpstream(std::span<const std::string_view> args, std::string_view raw);
  // The writes before this point are covered by the offset of a ROLE the
  // child runs after them: the shared link's, behind them when they are on
  // it, else one asked once their replies arrived (Server::CoverFromNow).
  void CoverWritesSoFar(gate::CoverId cover);
  // kCover expectations whose turn came: their offsets are learnt now.
  void CoverWhenDue();
  // The connection just became Redis's default user (connected, or RESET):
  // with users in use, or on a follower, ask whether that counts as
  // authenticated.
  void LearnAuthState();
  // Whether Redis's users decide what this session may do: users were
  // created (as far as this node applied), or the client authenticated as
  // one (a follower may not have applied its creation yet).
  bool UsersInUse() const;
  void EndOfBatch();
  bool gated() const { return !forwarding_; }

  // Upstream.
  void OnUpstreamConnected(bool forwarding);
  void ReadUpstream();
  void OnUpstreamData();
  // `big` owns `bytes` when the value was too big to copy (else empty).
  void OnUpstreamValue(std::string_view bytes, char type, ByteBlock&& big);
  bool OnStreamValue(std::string_view bytes);
  void OnReply(const Expect& e, std::string_view bytes, char type, ByteBlock&& big);
  void LearnFromReply(ReplyTag tag, bool ok, char type, std::string_view bytes, int hello_proto);
  void PlaceReply(const Expect& e, const ExpectDetail& d, std::string_view bytes, char type, ByteBlock&& big);
  // The reply as the client is to see it where the node has its part in it
  // (nullopt: the child's as it is).
  std::optional<std::string> Rewritten(ReplyTag tag, const ExpectDetail& d, std::string_view bytes, char type) const;
  void LogWhatExecRan(const Expect& e, const std::vector<std::pair<size_t, LoggedRequest>>& logged, std::string_view bytes);
  // The @anarcho rules of a user, for ACL LIST and GETUSER replies.
  NodeRules NodeRulesOf() const;
  void OnPush(std::string_view bytes);
  // A pub/sub message (`bytes`) was put before `slot`'s reply: if it came from
  // the leader's child, it waits in the gate.
  void HoldIfMessage(std::string_view bytes, ReplySlots::Id slot);
  void NoteSubscriptions(std::string_view bytes);
  void OnPushesEnd(std::string_view bytes);
  void ProbeAfterSubscribing(bool silent);
  // INFO as this node shows it (with its own section if `node_section`).
  std::string WithNodeInfo(std::string_view bytes, char type, bool node_section) const;
  // A bulk or verbatim string reply with its text rewritten.
  static std::string RewriteText(std::string_view bytes, char type,
                                 const std::function<std::string(const std::string&)>& rewrite);
  // What a kLog route logs: its RouteDetail's `logged`, or the request itself.
  LoggedRequest LoggedOf(Route& r, std::span<const std::string_view> args) const;
  // Logs `logged` (requests that succeeded and changed state the stream does
  // not carry); the reply of `e` waits for those entries, or is TRYAGAIN if
  // this node cannot log now.
  void LogForReply(const Expect& e, std::vector<LoggedRequest> logged);
  void Unstall();
  static gate::Outcome ReplyOutcome(bool ok, std::string_view bytes);
  void WriteUpstream();

  // Client output, endings.
  void Flush();
  void WriteClient();
  void CheckOutputLimit();
  void ClientEof();
  void CloseIfAnswered();
  // RESP2 stream or RESP3 pushes: replies that have no slots of their own.
  bool subscribed() const { return slots_.stream_open() || router_.pubsub_class(); }
  // No slot waits for a reply (an open subscribed stream does not count).
  bool replies_answered() const { return slots_.empty() || (slots_.size() == 1 && slots_.stream_open()); }
  // A subscribed connection's end (the client's, or QUIT): whether the end
  // probe was answered (it is sent on the first call).
  bool EndProbeAnswered();
  void ProbeAnswered(Expect::Kind kind, bool still_subscribed);
  void LeaveGate();
  void CloseUpstream();
  void MaybeClose();

  Server& server_;
  const gate::SessionId id_;
  ByteStream client_;
  UpstreamStream upstream_;  // the child, or the leader (TLS with --tls_peers)
  UpstreamState upstream_state_ = UpstreamState::kWaiting;
  bool forwarding_ = false;  // upstream is the leader node: relay only
  bool no_leader_deadline_passed_ = false;
  asio::steady_timer no_leader_timer_;
  asio::steady_timer retry_timer_;  // UpstreamUnreachable
  std::chrono::steady_clock::time_point connect_failed_at_{};
  static constexpr std::chrono::milliseconds kRetryConnect{100};
  std::string describe_;     // the client's address
  std::string local_addr_;   // the node's address the client connected to

  // Client input.
  ReadBuffer in_;
  resp::RequestParser parser_;
  RequestRouter router_;
  bool reading_client_ = false;
  bool handling_input_ = false;
  bool first_request_ = true;  // none was read yet (RelayPreamble)
  bool stopped_reading_ = false;
  std::chrono::steady_clock::time_point batch_arrived_{};  // when the requests being handled arrived
  bool client_open_ = true;
  bool input_closed_ = false;  // protocol error or QUIT: read no more
  bool client_eof_ = false;    // the client sent all it will: answer it, then close
  enum class EndProbe { kNotSent, kSent, kAnswered } end_probe_ = EndProbe::kNotSent;
  // RESP2 stream: what the requests sent into it still owe, oldest first:
  // one reply (kForwardStreamReply), or for (un)subscribing an error at most
  // (the probe after it, ProbeAfterSubscribing, ends that), and whether it is
  // dropped (CLIENT REPLY OFF/SKIP).
  struct StreamReply {
    bool silent = false;
    bool subscribing = false;
  };
  std::deque<StreamReply> stream_replies_;
  // The subscriptions the last (un)subscribe confirmations counted (RESP2
  // and RESP3 alike; RESET ends them all): what tells whether a connection is
  // still subscribed when the probe cannot, its user not allowed to PING.
  struct Subscriptions {
    int64_t channels = 0;  // channels and patterns
    int64_t shard = 0;
    bool any() const { return channels > 0 || shard > 0; }
  } subscriptions_;
  // The reply that ends a subscribed connection (QUIT's, a protocol
  // error's), once the end probe is answered (AddClosingReply).
  struct ClosingReply {
    std::string reply;
    bool silent = false;
  };
  std::optional<ClosingReply> closing_reply_;
  // The input's size when the last parse found only part of a request in it,
  // since the last read: while the size is that, no whole request waits.
  static constexpr size_t kNoPartialInput = SIZE_MAX;
  // A request or reply this big moves between sockets without a copy.
  static constexpr size_t kTakeBytes = 1 << 20;
  // Bigger requests take the client's own link: the other sessions' requests
  // on the shared link would wait while it is written.
  static constexpr size_t kMaxSharedRequest = 64 * 1024;
  size_t partial_input_ = kNoPartialInput;
  bool stalled_ = false;       // a request waits for an upstream reply (Route::stall)
  // A write the gate holds back until it may be forwarded (MayForward): its
  // route, decided once, used when the request is handled again.
  std::optional<Route> held_route_;
  bool waiting_to_forward_ = false;
  bool input_taken_ = false;   // the request just handled left the input without a copy

  // Upstream link.
  OutputQueue to_upstream_;
  WritingChunks upstream_writing_;
  bool upstream_writing_busy_ = false;
  ReadBuffer upstream_in_;
  resp::ReplyScanner scanner_;
  bool upstream_open_ = false;
  // To the leader: when its connection last read bytes or began a write (RelayWatch).
  std::chrono::steady_clock::time_point relay_progress_{};
  std::shared_ptr<const void> relay_connection_;  // the watched connection's (RelayWatch::Link)
  int64_t child_client_id_ = -1;
  std::optional<gate::CoverId> kill_when_id_known_;
  RingQueue<Expect> expects_;
  // Requests on the link to the leader's child that sessions share, in order.
  // Requests go there only while none are in flight on the own link, and a
  // request the shared link does not carry waits until these were answered.
  struct SharedRequests {
    RingQueue<Expect> expects;
    bool resume_input = false;  // a request waits for them to be answered
    // The client left: the gate is left once they were answered (the child
    // may still run them; killing the own connection does not stop them).
    bool leave_gate = false;
  } shared_;
  // The open transaction (leader only): how many requests were queued, and
  // those whose replies inside EXEC's the node acts on, by position: which to
  // log if EXEC runs them (ExpectDetail::exec_logged), and whose replies it
  // rewrites (exec_rewrites).
  struct QueuedTransaction {
    size_t queued = 0;
    std::vector<std::pair<size_t, LoggedRequest>> logged;
    std::vector<QueuedRewrite> rewrites;
  } tx_;
  // The RESP2 probe (PING <random token>) and its two possible replies; after
  // RESP3 (un)subscribing, the same PING marks the end of its pushes.
  std::string probe_request_, probe_subscribed_, probe_unsubscribed_;
  // The user the connection runs as, and whether it authenticated (as Redis
  // tracks them: a change of the user's password leaves both as they are).
  std::string user_ = "default";
  bool authenticated_ = true;

  // Client output.
  ReplySlots slots_;
  // A pub/sub message the leader's child sent this subscriber (a keyspace
  // notification, or a PUBLISH after a write) may tell of effects not durable
  // yet: it waits in the gate as a read of the whole keyspace would, holding
  // the slot it precedes (and all after it). Its gate tag is that slot's id
  // with kHeldTag set.
  static constexpr uint64_t kHeldTag = uint64_t{1} << 63;
  OutputQueue out_;
  WritingChunks out_writing_;
  bool client_writing_ = false;
  bool close_after_write_ = false;
  // The slots of requests that may wait on other clients (a blocking
  // command, WAIT), until answered: not waited for once the client sent all
  // it will (CloseIfAnswered).
  absl::flat_hash_set<ReplySlots::Id> may_block_;
  bool aborted_ = false;
  bool left_gate_ = false;
  // The client left with a request the node logs on its way: the gate is left
  // (and the child's connection killed) once its reply arrived and was logged.
  bool leave_gate_after_logged_ = false;
  bool LoggedReplyDue() const;
  bool closed_ = false;
  bool release_pending_ = false;  // MarkReleased since the last FlushReleased
  // Reads served by this node's child, not answered yet. While there are
  // any, nothing goes to the leader: a write sent after a read must not run
  // before it.
  int local_reads_ = 0;
  // Requests sent to the upstream whose replies may show data: while there
  // are any, a read follows them there (it must see what they did).
  int upstream_data_ = 0;
  // A write (or a read only the leader serves) went to the leader in the
  // batch of input being handled, or in the one before (see ReadLocally).
  bool forwarded_this_batch_ = false;
  bool forwarded_last_batch_ = false;
  OutputLimitCheck output_limit_;
};

}  // namespace node
