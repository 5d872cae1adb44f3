#include "node/front/client_session.h"

#include <climits>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace node {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadChunk = 16 * 1024 * 1024;
// Back-pressure: stop reading a client with this many requests whose replies
// did not arrive yet. Not on replies waiting to be written: a client that
// writes a whole pipeline before reading (as client libraries do) would never
// finish writing. As in Redis, client-output-buffer-limit bounds those
// (CheckOutputLimit).
constexpr size_t kMaxSlots = 64 * 1024;

// Replies from the child may nest as deep as a script's tables do.
resp::Limits UpstreamLimits() {
  resp::Limits l;
  l.max_reply_depth = INT_MAX;
  return l;
}

}  // namespace

ClientSession::ClientSession(Server& server, ByteStream stream, gate::SessionId id)
    : server_(server),
      id_(id),
      client_(std::move(stream)),
      upstream_(asio::generic::stream_protocol::socket(client_.get_executor())),
      no_leader_timer_(client_.get_executor()),
      retry_timer_(client_.get_executor()),
      parser_(server.options().limits),
      router_(server.commands()),
      scanner_(UpstreamLimits()) {
  asio::error_code ec;
  auto ep = client_.socket().remote_endpoint(ec);
  describe_ = ec ? "?" : absl::StrCat(ep.address().to_string(), ":", ep.port());
  auto local = client_.socket().local_endpoint(ec);
  local_addr_ = ec ? "?" : absl::StrCat(local.address().to_string(), ":", local.port());
  // A token no client can guess, so a client's own PING is never taken for the node's probe.
  std::random_device rd;
  const std::string token = absl::StrFormat("anarcho-probe-%08x%08x", rd(), rd());
  resp::AppendCommand(&probe_request_, {"PING", token});
  // Its reply while subscribed (RESP2), and once not subscribed any more.
  resp::AppendBulkString(&probe_unsubscribed_, token);
  resp::AppendArrayHeader(&probe_subscribed_, 2);
  resp::AppendBulkString(&probe_subscribed_, "pong");
  probe_subscribed_.append(probe_unsubscribed_);
  authenticated_ = server_.default_user_open();  // confirmed once connected (LearnAuthState)
}

ClientSession::~ClientSession() = default;

// An error reply the node makes itself, counted in the metrics `count` times.
std::string ClientSession::ErrorReply(std::string_view msg, uint64_t count) {
  server_.metrics().CountError(msg, Metrics::ErrorKind::kOther, count);
  std::string out;
  resp::AppendError(&out, msg);
  return out;
}

void ClientSession::Start() {
  ReadClient();
  // With no leader yet, requests wait this long before they get TRYAGAIN.
  no_leader_timer_.expires_after(std::chrono::milliseconds(server_.options().no_leader_wait_ms));
  no_leader_timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->no_leader_deadline_passed_ = true;
    if (self->upstream_state_ != UpstreamState::kWaiting) return;
    self->upstream_state_ = UpstreamState::kNoLeader;
    self->OnClientData();
  });
  TryConnectUpstream();
}

void ClientSession::TryConnectUpstream() {
  if (upstream_state_ != UpstreamState::kWaiting && upstream_state_ != UpstreamState::kNoLeader) return;
  if (!client_open_) return;
  Upstream up = server_.CurrentUpstream();
  if (up.kind == Upstream::Kind::kNone) return;
  upstream_state_ = UpstreamState::kConnecting;
  const bool forwarding = up.kind == Upstream::Kind::kLeader;
  ConnectUpstream(client_.get_executor(), up, &upstream_,
                  [self = shared_from_this(), forwarding](const asio::error_code& ec) {
                    if (self->upstream_state_ != UpstreamState::kConnecting) return;
                    if (!ec) return self->OnUpstreamConnected(forwarding);
                    self->UpstreamUnreachable(forwarding, ec);
                  });
}

// The leader just went away or is not serving yet, or it is known but
// refuses this node's connection (a TLS handshake either side fails, its port
// is filtered): its requests wait, and after --no_leader_wait_ms get
// TRYAGAIN (naming the failure when a leader is known). No leader change may
// come to say the next attempt would work (a certificate rotated on some
// nodes only), so a known leader is tried again every kRetryConnect while
// requests wait, and after the wait before each request's TRYAGAIN; before,
// the connection answered TRYAGAIN until the next leader change.
void ClientSession::UpstreamUnreachable(bool forwarding, const asio::error_code& ec) {
  if (forwarding) server_.NoteLeaderConnect(ec);
  connect_failed_at_ = std::chrono::steady_clock::now();
  upstream_state_ = no_leader_deadline_passed_ ? UpstreamState::kNoLeader : UpstreamState::kWaiting;
  if (upstream_state_ == UpstreamState::kWaiting) {
    retry_timer_.expires_after(kRetryConnect);
    retry_timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->TryConnectUpstream();
    });
  }
  OnClientData();
}

// A connection to the leader that failed before it carried any of the
// client's requests (with TLS 1.3 the leader refuses this node's certificate
// only after the handshake, at the first read): as if it never connected.
bool ClientSession::UpstreamFailedUnused(const asio::error_code& ec) {
  if (!forwarding_ || !AwaitsAuthState()) return false;
  upstream_open_ = false;
  upstream_.Close();
  expects_.clear();
  to_upstream_.Clear();
  stalled_ = false;
  UpstreamUnreachable(true, ec);
  return true;
}

void ClientSession::OnUpstreamConnected(bool forwarding) {
  // (The wait for an upstream is not cancelled: a connection to the leader
  // may still fail unused, UpstreamFailedUnused, and the wait goes on.)
  upstream_state_ = UpstreamState::kConnected;
  forwarding_ = forwarding;
  upstream_open_ = true;
  const bool users = server_.acl_in_use();
  if (!forwarding_) {
    if (users) {
      // CLIENT ID needs a permission the client's user may lack: the node's
      // own user asks it, then RESET makes the connection the client's
      // (Redis's default user, authenticated only if it has no password).
      to_upstream_.Append(server_.child_auth_request());
      expects_.push_back(Expect{Expect::Kind::kIgnore});
    }
    // The child's id for this connection: the node kills it if the client leaves.
    to_upstream_.Append("*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n");
    expects_.push_back(Expect{Expect::Kind::kClientId});
    if (users) {
      to_upstream_.Append("*1\r\n$5\r\nRESET\r\n");
      expects_.push_back(Expect{Expect::Kind::kIgnore});
    }
  }
  if (forwarding_) {
    // Tells the leader that this node relays on the connection (its reply,
    // or an earlier version's error, is dropped).
    to_upstream_.Append(server_.relay_preamble());
    expects_.push_back(Expect{Expect::Kind::kRelay});
  }
  LearnAuthState();
  ReadUpstream();
  OnClientData();
}

void ClientSession::UpstreamLost(std::string_view error) {
  if (upstream_state_ == UpstreamState::kConnected || upstream_state_ == UpstreamState::kConnecting) {
    Abort(error);
  } else {
    TryConnectUpstream();  // news: a leader may be there now
  }
}

// ---------------------------------------------------------------- client input

void ClientSession::ReadClient() {
  // Not while requests are being handled: their arguments point into in_.
  if (reading_client_ || handling_input_ || !client_open_ || input_closed_ || client_eof_ || stopped_reading_) return;
  if (slots_.size() > kMaxSlots) return;  // resumed by Flush()
  const size_t need = parser_.HintBytesNeeded();
  size_t chunk = std::clamp(need, kReadChunk, kMaxReadChunk);
  if (need > kReadChunk) in_.Reserve(need + chunk);
  reading_client_ = true;
  client_.async_read_some(in_.Prepare(chunk), [self = shared_from_this()](const asio::error_code& ec, size_t n) {
    self->reading_client_ = false;
    if (ec == asio::error::eof) return self->ClientEof();
    if (ec) return self->ClientGone();
    self->in_.Commit(n);
    self->partial_input_ = kNoPartialInput;
    self->OnClientData();
  });
}

// Requests wait for an upstream (up to the no-leader deadline), except those
// a node answers itself (AnsweredWithoutLeader) with nothing queued before
// them: health checks must answer at once on a node that has no leader, and
// SHUTDOWN must stop it. (PONG says the node is up, not that it serves data:
// tools wait for a data command's reply for that.) The same holds while a
// follower's new session waits for the leader to say how it is
// authenticated: a leader whose child hangs never says, and health checks on
// every follower hung with it.
void ClientSession::HandleWaitingInput() {
  std::vector<std::string_view> args;
  std::string error;
  bool need_more = false;
  handling_input_ = true;
  batch_arrived_ = std::chrono::steady_clock::now();
  while (slots_.empty() && !router_.in_multi() && !input_closed_ && !stopped_reading_ && !in_.empty()) {
    size_t consumed = 0;
    resp::ParseStatus st = parser_.Parse(in_.data(), &consumed, &args, &error);
    need_more = st == resp::ParseStatus::kNeedMore;
    if (need_more) partial_input_ = in_.size();
    if (st == resp::ParseStatus::kError) {
      RefuseInput(error);
      break;
    }
    // Anything else stays in the input (the parser starts afresh after a
    // complete request) and is handled in order once there is an upstream.
    if (st != resp::ParseStatus::kOk) break;
    if (args.empty()) {
      router_.TakeSilence();  // an empty request uses up CLIENT REPLY SKIP, as in Redis
    } else if (!RelayPreamble(args)) {
      const std::string name = absl::AsciiStrToLower(absl::string_view(args[0].data(), args[0].size()));
      // While the link to a known upstream is being made (a moment), only
      // what a health check needs does not wait for it.
      const bool no_leader = upstream_state_ == UpstreamState::kWaiting;
      if (no_leader ? AnsweredWithoutLeader(name) : (IsLocalNodeCommand(name) || name == "shutdown")) {
        AnswerNodeCommand(args, router_.TakeSilence());
      } else {
        break;
      }
    }
    in_.Consume(consumed);
  }
  handling_input_ = false;
  WriteUpstream();  // what the session queued for its upstream meanwhile (LearnAuthState's HELLO)
  Flush();
  if (need_more || in_.empty()) ReadClient();
}

// As Redis: reply with the protocol error (unless CLIENT REPLY OFF/SKIP
// silences it), then close the connection.
void ClientSession::RefuseInput(const std::string& error) {
  input_closed_ = true;
  AddClosingReply(ErrorReply(absl::StrCat("ERR ", error)), router_.TakeSilence());
}

// The reply after which the connection closes (QUIT's, a protocol error's).
// On a subscribed connection it follows the upstream's answers to the
// requests before it and the pushes still on their way, which have no slots
// to wait in: it waits for the end probe instead.
void ClientSession::AddClosingReply(std::string reply, bool silent) {
  if (subscribed() && !EndProbeAnswered()) {
    closing_reply_ = ClosingReply{std::move(reply), silent};
    return;
  }
  slots_.AddReady(std::move(reply), true, silent);
}

void ClientSession::OnClientData() {
  if (!client_open_ || aborted_) return;
  if (upstream_state_ == UpstreamState::kNoLeader && !in_.empty() &&
      std::chrono::steady_clock::now() - connect_failed_at_ >= kRetryConnect) {
    TryConnectUpstream();  // (a known leader: kConnecting, and the input waits)
  }
  parser_.SetQueryBufferLimit(server_.query_buffer_limit());  // (a logged setting: it may have changed)
  if (upstream_state_ == UpstreamState::kWaiting || upstream_state_ == UpstreamState::kConnecting ||
      AwaitsAuthState()) {
    return HandleWaitingInput();
  }
  std::vector<std::string_view> args;
  std::string error;
  handling_input_ = true;
  batch_arrived_ = std::chrono::steady_clock::now();  // one clock read for the whole batch
  forwarded_last_batch_ = std::exchange(forwarded_this_batch_, false);
  while (!input_closed_ && !stalled_ && !stopped_reading_ && !in_.empty()) {
    size_t consumed = 0;
    std::string_view data = in_.data();
    resp::ParseStatus st = parser_.Parse(data, &consumed, &args, &error);
    if (st == resp::ParseStatus::kNeedMore) {
      partial_input_ = in_.size();
      break;
    }
    if (st == resp::ParseStatus::kError) {
      RefuseInput(error);
      break;
    }
    if (args.empty()) {
      // An empty line or multibulk is no command, but Redis resets the
      // client after it as after one: it uses up a CLIENT REPLY SKIP.
      router_.TakeSilence();
    } else if (!HandleRequest(args, data.substr(0, consumed))) {
      break;
    }
    if (input_taken_) {
      input_taken_ = false;  // SendUpstream took the bytes out of the input
    } else {
      in_.Consume(consumed);
    }
  }
  handling_input_ = false;
  EndOfBatch();
  WriteUpstream();
  Flush();
}

bool ClientSession::RelayPreamble(std::span<const std::string_view> args) {
  if (!std::exchange(first_request_, false) || args.size() < 2 || args.size() > 4) return false;
  const auto arg = [&](size_t i) { return absl::string_view(args[i].data(), args[i].size()); };
  uint64_t member = 0;
  if (!absl::EqualsIgnoreCase(arg(0), "anarcho.relay") || !absl::SimpleAtoi(arg(1), &member) || member == 0) {
    return false;
  }
  uint64_t token = 0;
  if (args.size() == 2) {
    token = server_.AddRelaySession(member, shared_from_this());
    slots_.AddReady(absl::StrCat("+OK ", token, "\r\n"));
  } else if (args.size() == 4 && absl::EqualsIgnoreCase(arg(2), "end") && absl::SimpleAtoi(arg(3), &token)) {
    slots_.AddReady(server_.EndRelaySession(member, token) ? ":1\r\n" : ":0\r\n");
  } else {
    return false;
  }
  return true;
}

// A relay session's sign of life (RelaySessions::kAlivePush), sent while it
// holds anything of its follower: a request read in part or not yet run, a
// reply not yet written (a blocked BLPOP, a write awaiting its commit, a
// reply the gate holds). It goes straight to the output, which holds whole
// replies only: behind a held reply it would wait with it.
void ClientSession::RelayKeepAlive() {
  if (!client_open_ || aborted_ || !HoldsAnything()) return;
  out_.Append(RelaySessions::kAlivePush);
  WriteClient();
}

bool ClientSession::HoldsAnything() const {
  // (A RESP2 subscribed stream keeps a slot open for its messages.)
  return !in_.empty() || slots_.size() > (slots_.stream_open() ? 1u : 0u) || AwaitsUpstream();
}

bool ClientSession::AwaitsUpstream() const {
  for (const Expect& e : expects_) {
    if (e.kind != Expect::Kind::kStream) return true;
  }
  return false;
}

bool ClientSession::HandleRequest(std::span<const std::string_view> args, std::string_view raw) {
  if (RelayPreamble(args)) return true;
  const RouteContext ctx = MakeRouteContext();
  if (!shared_.expects.empty() && (raw.size() > kMaxSharedRequest || !router_.Shareable(args, ctx))) {
    // It would take the own link: it runs once this session's requests on
    // the shared link were answered (SharedDrained routes it then).
    shared_.resume_input = true;
    stalled_ = true;
    return false;
  }
  // A request held back by the gate (MayForward) was routed once: its route
  // is used again, not decided twice.
  const bool resumed = held_route_.has_value();
  Route r = resumed ? std::move(*held_route_) : router_.Decide(args, ctx);
  held_route_.reset();
  if (server_.has_monitors() && !resumed) ShowToMonitors(args, r);
  if (r.action != Route::Action::kForward) return HandleAnswer(r, args, raw);
  if (r.follower_read && ReadLocally(r, args, raw)) return true;
  return ForwardRequest(r, args, raw);
}

RouteContext ClientSession::MakeRouteContext() const {
  RouteContext ctx;
  ctx.forwarding = forwarding_;
  ctx.authenticated = authenticated_;
  ctx.users_in_use = UsersInUse();
  ctx.no_leader = upstream_state_ == UpstreamState::kNoLeader;
  if (ctx.no_leader) ctx.no_upstream_why = server_.NoUpstreamReason();
  ctx.databases = server_.options().databases;
  ctx.port = server_.options().port;
  ctx.bind = server_.options().bind;
  ctx.node_acl = &server_.node_acl();
  ctx.scan_epoch = server_.scan_epoch();
  ctx.logged_bytes = server_.logged_bytes();
  return ctx;
}

// Every route but a plain forward: answered here, or sent with a reply of
// its own kind (pushes, a stream, a probe first).
bool ClientSession::HandleAnswer(Route& r, std::span<const std::string_view> args, std::string_view raw) {
  if (r.DetailOrNone().uses_up_caching) {
    to_upstream_.Append("*1\r\n$4\r\nPING\r\n");
    expects_.push_back(Expect{Expect::Kind::kIgnore});
  }
  switch (r.action) {
    case Route::Action::kReply:
      if (r.reply.starts_with('-')) server_.metrics().CountError(r.reply, Metrics::ErrorKind::kRefused);
      if (r.close_after) {
        input_closed_ = true;
        AddClosingReply(std::move(r.reply), r.silent);  // QUIT
        return true;
      }
      slots_.AddReady(std::move(r.reply), false, r.silent);
      return true;
    case Route::Action::kNodeCommand:
      AnswerNodeCommand(args, r.silent);
      return true;
    case Route::Action::kWait:
      AnswerWait(r);
      return true;
    case Route::Action::kMonitor:
      StartMonitor(r.silent);
      return true;
    case Route::Action::kExecAbort:
      to_upstream_.Append("*1\r\n$7\r\nDISCARD\r\n");
      expects_.push_back(Expect{Expect::Kind::kIgnore});
      if (gated()) server_.gate().DropTransaction(id_);
      tx_ = {};
      slots_.AddReady(ErrorReply("EXECABORT Transaction discarded because of previous errors."), false, r.silent);
      return true;
    case Route::Action::kProbe: {
      // Still subscribed? The answer decides whether this request may run.
      to_upstream_.Append(probe_request_);
      Expect e{Expect::Kind::kProbe};
      e.unstall = true;
      expects_.push_back(std::move(e));
      stalled_ = true;
      return false;  // routed again once the probe answered
    }
    case Route::Action::kForwardStream:
      SendUpstream(args, raw);
      ProbeAfterSubscribing(r.silent);
      return true;
    case Route::Action::kForwardPushes: {
      // The child answers with as many pushes as it finds channels (an
      // UNSUBSCRIBE names none), or with an error; the PING after it marks
      // their end, and a slot their place among the replies.
      SendUpstream(args, raw);
      to_upstream_.Append(probe_request_);
      Expect e{Expect::Kind::kPushesEnd};
      e.slot = slots_.Add({}, r.silent);
      expects_.push_back(std::move(e));
      return true;
    }
    case Route::Action::kForwardStreamReply:
      SendUpstream(args, raw);
      stream_replies_.push_back(StreamReply{r.silent});
      return true;
    case Route::Action::kStartStream:
      // Once the connection is a stream, no reply tells when the writes
      // before it were answered: they are covered first.
      EndOfBatch();
      SendUpstream(args, raw);
      slots_.OpenStream();
      expects_.push_back(Expect{Expect::Kind::kStream});
      ProbeAfterSubscribing(r.silent);
      return true;
    case Route::Action::kForward:
      break;  // HandleRequest's
  }
  return true;
}

// (Un)subscribing on a RESP2 connection is answered with confirmations, or
// with an error (a channel the user may not use) that CLIENT REPLY OFF drops.
// The probe after it tells which, and whether the connection is subscribed
// now; nothing more is routed before its answer.
void ClientSession::ProbeAfterSubscribing(bool silent) {
  stream_replies_.push_back(StreamReply{silent, true});
  to_upstream_.Append(probe_request_);
  Expect e{Expect::Kind::kProbe};
  e.unstall = true;
  expects_.push_back(std::move(e));
  stalled_ = true;
}

bool ClientSession::AwaitsAuthState() const {
  if (!stalled_ || !slots_.empty()) return false;
  // (A follower's relay preamble goes before its HELLO.)
  const size_t i = !expects_.empty() && expects_[0].kind == Expect::Kind::kRelay ? 1 : 0;
  return i < expects_.size() && expects_[i].kind == Expect::Kind::kAuthState;
}

// A relay connection to the leader that told this session's token: watched
// for a stall (node/front/relay_watch.h).
void ClientSession::WatchRelay(std::string_view preamble_reply) {
  const std::optional<uint64_t> token = RelayToken(preamble_reply);
  if (!token) return;  // an earlier version's leader: no signs of life come
  std::weak_ptr<ClientSession> weak = shared_from_this();
  // The connection's (a new one, after one that failed unused, has a token
  // of its own; the earlier one's session is gone).
  relay_connection_ = std::make_shared<int>(0);
  RelayWatch::Link link;
  link.alive = relay_connection_;
  link.leader = server_.leader_id();
  link.token = *token;
  link.quiet_since = [weak]() -> std::optional<std::chrono::steady_clock::time_point> {
    auto self = weak.lock();
    // Requests waiting for this node's own child's reads are not sent yet.
    if (!self || !self->upstream_open_ || self->local_reads_ > 0 || !self->AwaitsUpstream()) return std::nullopt;
    return self->relay_progress_;
  };
  link.ended = [weak] {
    if (auto self = weak.lock()) {
      self->Abort("UNKNOWN the node's connection to the leader stalled; the outcome of this request is unknown");
    }
  };
  server_.WatchRelay(std::move(link));
}

bool ClientSession::UsersInUse() const { return server_.acl_in_use() || user_ != "default"; }

// A follower always asks: it learns of a new password or user when it
// applies the entry, and a client that connects within that lag would
// otherwise pass as Redis's open default user, its reads served here and its
// writes relayed (AclTest.AFollowerBehindOnAPasswordStillAsksForIt). Its
// upstream is a new connection of the leader's, which knows.
void ClientSession::LearnAuthState() {
  user_ = "default";
  authenticated_ = server_.default_user_open();
  if (!server_.acl_in_use() && !forwarding_) return;
  // HELLO without arguments needs no permission, and fails only if the
  // connection has not authenticated.
  to_upstream_.Append("*1\r\n$5\r\nHELLO\r\n");
  Expect e{Expect::Kind::kAuthState};
  e.unstall = true;
  expects_.push_back(std::move(e));
  stalled_ = true;
}

// ----------------------------------------------------------------- upstream

void ClientSession::WriteUpstream() {
  if (upstream_writing_busy_ || to_upstream_.empty() || !upstream_open_ || local_reads_ > 0) return;
  upstream_writing_.TakeFrom(to_upstream_);
  upstream_writing_busy_ = true;
  // (From the first request's write on, not its queueing: RelayWatch.)
  if (forwarding_) relay_progress_ = std::chrono::steady_clock::now();
  upstream_.async_write(upstream_writing_.buffers, [self = shared_from_this()](const asio::error_code& ec, size_t) {
    self->upstream_writing_busy_ = false;
    self->upstream_writing_.Clear();
    if (ec) return;  // the read side reports the failure
    self->WriteUpstream();
  });
}

void ClientSession::ReadUpstream() {
  if (!upstream_open_) return;
  if (const size_t need = scanner_.HintBytesNeeded(); need > kReadChunk) upstream_in_.Reserve(need + kReadChunk);
  upstream_.async_read_some(upstream_in_.Prepare(kReadChunk), [self = shared_from_this()](const asio::error_code& ec,
                                                                                            size_t n) {
    if (!self->upstream_open_) return;
    if (ec && self->UpstreamFailedUnused(ec)) return;
    if (ec) {
      return self->Abort(self->forwarding_
                             ? "UNKNOWN the node lost its link to the leader; the outcome of this request is unknown"
                             : "UNKNOWN the node lost its link to its redis-server; the outcome of this request is "
                               "unknown");
    }
    self->upstream_in_.Commit(n);
    if (self->forwarding_) self->relay_progress_ = std::chrono::steady_clock::now();
    self->OnUpstreamData();
  });
}

void ClientSession::OnUpstreamData() {
  std::string error;
  const bool was_stalled = stalled_;
  while (!upstream_in_.empty()) {
    size_t len = 0;
    char type = 0;
    resp::ParseStatus st = scanner_.Scan(upstream_in_.data(), &len, &type, &error);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      Log(LogComponent::kClient, LogLevel::kError, "session %s: unreadable reply from upstream: %s", describe_, error);
      return Abort("UNKNOWN the node could not read its upstream's reply; outcome unknown");
    }
    std::string_view bytes = upstream_in_.data().substr(0, len);
    ByteBlock big;
    if (len >= kTakeBytes) {
      big = upstream_in_.TakeFront(len);
    } else {
      upstream_in_.Consume(len);
    }
    OnUpstreamValue(bytes, type, std::move(big));
    if (!upstream_open_) return;
    CoverWhenDue();
  }
  WriteUpstream();
  Flush();
  if (was_stalled && !stalled_) OnClientData();  // requests waiting for this reply go on
  ReadUpstream();
}

}  // namespace node
