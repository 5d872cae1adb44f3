// What each reply from the upstream (the child, or the leader) means to a
// session: a request's reply, passed on as the node shows it and handed to
// the gate; the node's own requests' answers (ROLE, CLIENT ID, the RESP2
// probe, the connection's authentication); the RESP2 subscribed stream and
// RESP3 pushes.
#include "node/front/client_session.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "node/front/scan_cursor.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/reply_scanner.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace node {
namespace {

// The kind of a pub/sub push (RESP2 '*', RESP3 '>'): a (un)subscribe
// confirmation ("subscribe", ...) or a message ("message", ...); "" for
// anything else. Nothing else in a subscribed connection's stream starts as
// these do (PING's reply there is ["pong", ...]).
std::string_view PubSubKind(std::string_view bytes) {
  if (bytes.size() < 5 || (bytes[0] != '*' && bytes[0] != '>') || (bytes[1] != '3' && bytes[1] != '4') ||
      bytes.substr(2, 3) != "\r\n$") {
    return {};
  }
  const size_t end = bytes.find("\r\n", 4);
  if (end == std::string_view::npos) return {};
  const size_t start = end + 2;
  const size_t stop = bytes.find("\r\n", start);
  if (stop == std::string_view::npos) return {};
  const std::string_view kind = bytes.substr(start, stop - start);
  for (std::string_view k : {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
                             "message", "pmessage", "smessage"}) {
    if (kind == k) return kind;
  }
  return {};
}

bool IsPubSubPush(std::string_view bytes) { return !PubSubKind(bytes).empty(); }

// The NOPERM of a user who may not PING (the node's probe and end marker).
bool IsPingRefusal(std::string_view bytes) {
  return bytes.starts_with("-NOPERM") && bytes.find("'ping'") != std::string_view::npos;
}

}  // namespace

void ClientSession::OnUpstreamValue(std::string_view bytes, char type, ByteBlock&& big) {
  if (type == '>' && forwarding_ && bytes == RelaySessions::kAlivePush) return;  // the leader's sign of life
  if (!expects_.empty() && expects_.front().kind == Expect::Kind::kStream && OnStreamValue(bytes)) return;
  if (type == '>') return OnPush(bytes);  // RESP3: out of band, never a request's reply
  if (!expects_.empty() && expects_.front().kind == Expect::Kind::kPushesEnd) return OnPushesEnd(bytes);
  if (expects_.empty()) {
    Log(LogComponent::kClient, LogLevel::kError, "session %s: reply from upstream with no request waiting", describe_);
    return Abort("UNKNOWN the node lost track of its upstream's replies; outcome unknown");
  }
  Expect e = std::move(expects_.front());
  expects_.pop_front();
  switch (e.kind) {
    case Expect::Kind::kReply:
      upstream_data_ -= e.data;
      OnReply(e, bytes, type, std::move(big));
      if (leave_gate_after_logged_ && !LoggedReplyDue()) {
        LeaveGate();
        MaybeClose();
      }
      return;
    case Expect::Kind::kClientId: {
      resp::Value v;
      size_t consumed;
      std::string error;
      if (resp::ParseValue(bytes, &consumed, &v, &error) == resp::ParseStatus::kOk) child_client_id_ = v.integer;
      if (kill_when_id_known_ && child_client_id_ >= 0) {
        server_.KillChildClient(child_client_id_, *kill_when_id_known_);
        kill_when_id_known_.reset();
        CloseUpstream();
        MaybeClose();
      }
      return;
    }
    case Expect::Kind::kProbe:  // answered outside the stream: no longer subscribed
    case Expect::Kind::kEndProbe:
      return ProbeAnswered(e.kind, false);
    case Expect::Kind::kAuthState:
      // Another error (a leader on its way out) says nothing: the node's
      // own view stands. A full leader closes the connection after its
      // error: the client gets that error, as from a full Redis (which says
      // it before any request: so also to a client that sent none yet).
      if (forwarding_) server_.NoteLeaderConnect({});  // the leader answered: it can be reached
      if (type != '-') {
        authenticated_ = true;
      } else if (bytes.starts_with("-NOAUTH")) {
        authenticated_ = false;
      } else if (bytes.starts_with(kMaxClientsError)) {
        return LeaderFull(bytes);
      }
      Unstall();
      return;
    case Expect::Kind::kRelay:
      // An earlier version's error is dropped; a full leader's is not.
      if (bytes.starts_with(kMaxClientsError)) return LeaderFull(bytes);
      WatchRelay(bytes);
      return;
    case Expect::Kind::kCover:  // never at the front when a reply arrives (CoverWhenDue)
    case Expect::Kind::kPushesEnd:  // OnPushesEnd
    case Expect::Kind::kIgnore:
    case Expect::Kind::kStream:
      return;
  }
}

void ClientSession::LeaderFull(std::string_view bytes) {
  if (slots_.empty()) slots_.AddReady(std::string(kMaxClientsError));
  std::string_view error = bytes.substr(1);
  if (error.ends_with("\r\n")) error.remove_suffix(2);
  Abort(error);
}

void ClientSession::OnSharedReply(std::string_view bytes, char type, ByteBlock&& big) {
  if (shared_.expects.empty()) return;
  Expect e = std::move(shared_.expects.front());
  shared_.expects.pop_front();
  if (aborted_) return;  // its slot got the error; the gate is left once all are answered
  upstream_data_ -= e.data;
  OnReply(e, bytes, type, std::move(big));
  CoverWhenDue();
}

void ClientSession::AfterSharedReplies() {
  Flush();
  if (shared_.expects.empty()) SharedDrained();
}

void ClientSession::SharedDrained() {
  if (std::exchange(shared_.leave_gate, false)) {
    LeaveGate();
    MaybeClose();
    return;
  }
  if (std::exchange(shared_.resume_input, false)) {
    Unstall();
    OnClientData();
  }
}

// A value while the RESP2 subscribed stream is open. Returns true if it
// belongs to the stream; false if the stream ended and the value is the
// reply of the request after it (RESET's, or the probe's).
bool ClientSession::OnStreamValue(std::string_view bytes) {
  const bool probed =
      expects_.size() > 1 && (expects_[1].kind == Expect::Kind::kProbe || expects_[1].kind == Expect::Kind::kEndProbe);
  // (Un)subscribing owes an error at most; the probe after it says it owes
  // nothing more.
  const bool subscribing = !stream_replies_.empty() && stream_replies_.front().subscribing;
  auto still_subscribed = [this, subscribing] {
    if (subscribing) stream_replies_.pop_front();
    const Expect::Kind kind = expects_[1].kind;
    expects_.erase_at(1);
    ProbeAnswered(kind, true);
    return true;
  };
  // The probe's NOPERM: the client's user may not PING, and Redis checks
  // that first. The confirmations before it tell whether any subscription
  // remains.
  const bool refused = probed && IsPingRefusal(bytes) && (stream_replies_.empty() || subscribing);
  if (probed && (bytes == probe_subscribed_ || (refused && subscriptions_.any()))) return still_subscribed();
  if (bytes == probe_unsubscribed_ || refused || bytes == "+RESET\r\n") {
    expects_.pop_front();
    slots_.EndStream();
    router_.StreamEnded();
    stream_replies_.clear();  // answered before the probe (or RESET) was
    return false;
  }
  // A request's reply, not a push (it comes before any later probe's), or a
  // subscribing request's error: Redis drops it under CLIENT REPLY OFF.
  if (!stream_replies_.empty() && !IsPubSubPush(bytes)) {
    const bool silent = stream_replies_.front().silent;
    stream_replies_.pop_front();
    if (!silent && slots_.stream_open()) slots_.PushBefore(slots_.stream_id(), bytes);
    return true;
  }
  NoteSubscriptions(bytes);
  // (The stream's slot may have ended already: the connection closes.)
  if (const std::optional<ReplySlots::Id> stream = slots_.stream_id()) {
    slots_.PushBefore(stream, bytes);
    HoldIfMessage(bytes, *stream);
  }
  return true;
}

void ClientSession::HoldIfMessage(std::string_view bytes, ReplySlots::Id slot) {
  if (!gated() || !PubSubKind(bytes).ends_with("message")) return;
  slots_.Hold(slot);
  gate::Request whole_keyspace;
  whole_keyspace.kind = gate::Kind::kRead;
  whole_keyspace.whole_keyspace = true;
  gate::ConsistencyGate& gate = server_.gate();
  const gate::Admission a = gate.Arrive(id_, std::move(whole_keyspace), kHeldTag | slot);
  if (auto cover = gate.ReplyArrived(a.slot)) server_.CoverFromNow(*cover);
  server_.GateChanged();
}

// A (un)subscribe confirmation ends with the subscriptions its kind leaves:
// shard channels for SSUBSCRIBE and SUNSUBSCRIBE, channels and patterns
// together for the others. Redis ends the subscribed state when both are 0.
void ClientSession::NoteSubscriptions(std::string_view bytes) {
  const std::string_view kind = PubSubKind(bytes);
  if (kind.empty() || kind.ends_with("message")) return;
  const size_t last = bytes.rfind("\r\n", bytes.size() - 3);
  int64_t count;
  if (last == std::string_view::npos || bytes[last + 2] != ':' ||
      !absl::SimpleAtoi(absl::string_view(bytes.data() + last + 3, bytes.size() - last - 5), &count)) {
    return;
  }
  (kind == "ssubscribe" || kind == "sunsubscribe" ? subscriptions_.shard : subscriptions_.channels) = count;
}

void ClientSession::ProbeAnswered(Expect::Kind kind, bool still_subscribed) {
  if (kind == Expect::Kind::kEndProbe) {
    end_probe_ = EndProbe::kAnswered;
    if (closing_reply_) slots_.AddReady(std::move(closing_reply_->reply), true, closing_reply_->silent);
    closing_reply_.reset();
    return;
  }
  router_.ProbeAnswered(still_subscribed);
  Unstall();
}

// One reason to read no further request ended. Another may hold: a request
// still waiting for its reply (a probe, the HELLO after RESET, a blocking
// command), or this session's requests on the shared link. Before, any one
// of them ending let the next requests be routed (a PUNSUBSCRIBE's probe
// still unanswered, a request took a route for a stream that was ending).
void ClientSession::Unstall() {
  for (const Expect& e : expects_) {
    if (e.unstall) return;
  }
  if (shared_.resume_input || waiting_to_forward_) return;
  stalled_ = false;
}

void ClientSession::OnReply(const Expect& e, std::string_view bytes, char type, ByteBlock&& big) {
  static const ExpectDetail kNoDetail;
  const ExpectDetail& d = e.detail ? *e.detail : kNoDetail;
  const bool ok = type != '-' && type != '!';
  if (!may_block_.empty()) may_block_.erase(e.slot);
  if (e.discards && bytes.starts_with("-NOPERM")) {
    // The user may run MULTI but not DISCARD: the child keeps the
    // transaction open where the node took it as ended. Rather than guess,
    // the connection ends. (A refused EXEC discards the transaction, as
    // EXECABORT says.)
    return Abort(absl::StrCat(std::string(bytes.substr(1, bytes.size() - 3)),
                              " (anarchoredis closes the connection: its transaction is still open)"));
  }
  if (ok && !d.auth_user.empty()) {
    authenticated_ = true;
    user_ = d.auth_user;
  }
  LearnFromReply(e.tag, ok, type, bytes, d.hello_proto);
  // A pause the child refused (or an EXEC aborted: WATCH, or a queued
  // request refused) holds nothing.
  if (d.pause && (!ok || bytes == "*-1\r\n")) server_.UndoPause(*d.pause);
  PlaceReply(e, d, bytes, type, std::move(big));
  if (e.tag == ReplyTag::kLog && ok && e.gate_slot != 0) {
    std::vector<LoggedRequest> logged = {*d.logged};
    for (LoggedRequest& claim : PendingReadClaims(*d.logged, bytes, absl::ToUnixMillis(absl::Now()))) {
      logged.push_back(std::move(claim));
    }
    LogForReply(e, std::move(logged));
  }
  if (d.exec_logged && type == '*' && e.gate_slot != 0) LogWhatExecRan(e, *d.exec_logged, bytes);
  if (e.gate_slot != 0) {
    if (auto cover = server_.gate().ReplyArrived(e.gate_slot, ReplyOutcome(ok, bytes))) server_.CoverFromNow(*cover);
    server_.GateChanged();
  } else {
    slots_.Release(e.slot);
  }
  if (e.unstall) Unstall();
}

// What a reply tells the router about the connection (its protocol, its
// database, its transaction) and the gate about a MULTI refused.
void ClientSession::LearnFromReply(ReplyTag tag, bool ok, char type, std::string_view bytes, int hello_proto) {
  switch (tag) {
    case ReplyTag::kHello:
      router_.HelloAnswered(ok, hello_proto);
      break;
    case ReplyTag::kExecSelect:
      router_.ExecAnswered(type == '*' && bytes != "*-1\r\n");
      break;
    case ReplyTag::kSelect:
      router_.SelectAnswered(ok);
      break;
    case ReplyTag::kMulti:
      router_.MultiAnswered(ok);
      if (!ok && gated()) {
        server_.gate().DropTransaction(id_);
        tx_ = {};
      }
      break;
    case ReplyTag::kReset:
      if (ok) subscriptions_ = {};
      break;
    default:
      break;
  }
}

// The reply as the client sees it: the child's, or rewritten where the
// node has its own part in the answer (INFO, CLIENT LIST, ACL, CONFIG, SCAN),
// also inside EXEC's.
void ClientSession::PlaceReply(const Expect& e, const ExpectDetail& d, std::string_view bytes, char type, ByteBlock&& big) {
  if (d.settings_check) {
    slots_.SetReply(e.slot, server_.CheckSettings(*d.settings_check, bytes));
  } else if (e.tag == ReplyTag::kClientUnblock && bytes == ":0\r\n" && server_.UnblockWait(d.count, d.unblock_error)) {
    slots_.SetReply(e.slot, ByteBlock(std::string(":1\r\n")));
  } else if (d.exec_rewrites && type == '*') {
    const std::vector<QueuedRewrite>& rewrites = *d.exec_rewrites;
    auto next = rewrites.begin();
    slots_.SetReply(e.slot, resp::WithElementsRewritten(bytes, [&](size_t i, std::string_view element, char t) {
      next = std::find_if(next, rewrites.end(), [i](const QueuedRewrite& q) { return q.at >= i; });
      return next != rewrites.end() && next->at == i ? Rewritten(next->tag, *next->detail, element, t) : std::nullopt;
    }));
  } else if (std::optional<std::string> rewritten = Rewritten(e.tag, d, bytes, type)) {
    slots_.SetReply(e.slot, std::move(*rewritten));
  } else if (!big.empty()) {
    slots_.SetReply(e.slot, std::move(big));
  } else {
    slots_.SetReply(e.slot, std::string(bytes));
  }
}

std::optional<std::string> ClientSession::Rewritten(ReplyTag tag, const ExpectDetail& d, std::string_view bytes,
                                                    char type) const {
  const bool text = type == '$' || type == '=', array = type == '*', map = array || type == '%';
  auto addresses = [this](int64_t id) { return server_.SessionAddresses(id); };
  switch (tag) {
    case ReplyTag::kInfo:
    case ReplyTag::kInfoSections:
      if (text) return WithNodeInfo(bytes, type, tag == ReplyTag::kInfo);
      break;
    case ReplyTag::kClientList:
      if (text) return RewriteText(bytes, type, [&](const std::string& t) { return ClientRowsForClients(t, addresses); });
      break;
    case ReplyTag::kSlowlog:
      if (array) return SlowlogForClients(bytes, d.count);
      break;
    case ReplyTag::kAclUsers:
      if (array) return AclUsersForClients(bytes, NodeRulesOf());
      break;
    case ReplyTag::kAclGetUser:
      if (map) return AclGetUserForClients(bytes, d.acl_user, NodeRulesOf());
      break;
    case ReplyTag::kAclCat:
      if (array) return WithCategory(bytes, "anarcho");
      break;
    case ReplyTag::kAclLog:
      if (array) return AclLogForClients(bytes, addresses);
      break;
    case ReplyTag::kConfigGet:
      // A map or an array as the child answered it: a RESET or HELLO pipelined
      // after it has already changed the router's protocol.
      if (map) return server_.WithNodeSettings(bytes, type == '%' ? 3 : 2);
      break;
    case ReplyTag::kScan:
      if (array) return scan_cursor::ForClient(bytes, d.scan_epoch);
      break;
    default:
      break;
  }
  return std::nullopt;
}

// EXEC ran: log what it ran successfully, in order.
void ClientSession::LogWhatExecRan(const Expect& e, const std::vector<std::pair<size_t, LoggedRequest>>& logged,
                                   std::string_view bytes) {
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(bytes, &consumed, &v, &error) != resp::ParseStatus::kOk) return;
  std::vector<LoggedRequest> ran;
  for (const auto& [pos, request] : logged) {
    if (pos < v.elements.size() && v.elements[pos].type != resp::Type::kError) ran.push_back(request);
  }
  if (!ran.empty()) LogForReply(e, std::move(ran));
}

NodeRules ClientSession::NodeRulesOf() const {
  return [this](std::string_view user, std::string_view child_rules) {
    return server_.node_acl().Describe(std::string(user), child_rules);
  };
}

// A RESP3 push leaves where the upstream put it: after every reply that came
// before it, before the reply of the first request still waiting (a slot of
// its own at the end if none is).
void ClientSession::OnPush(std::string_view bytes) {
  NoteSubscriptions(bytes);
  std::optional<ReplySlots::Id> anchor;
  for (const Expect& e : expects_) {
    if (e.kind == Expect::Kind::kReply || e.kind == Expect::Kind::kPushesEnd) {
      anchor = e.slot;
      break;
    }
  }
  // A WAIT the node holds is unanswered too: as in Redis, what is pushed while
  // it blocks leaves before its reply. Behind it, an invalidation waited for
  // the WAIT (for ever without a timeout), and a client's cache stayed stale.
  if (wait_ && (!anchor || wait_->slot < *anchor)) anchor = wait_->slot;
  if (!anchor) anchor = slots_.AddEmpty();
  slots_.PushBefore(anchor, bytes);
  HoldIfMessage(bytes, *anchor);
}

// A reply while RESP3 (un)subscribing's pushes are awaited: the PING's that
// marks their end (or its NOPERM: a user may not PING), or before it the
// request's own, an error (NOPERM for a channel).
void ClientSession::OnPushesEnd(std::string_view bytes) {
  Expect& e = expects_.front();
  const bool end = bytes == probe_unsubscribed_ || IsPingRefusal(bytes);
  slots_.SetReply(e.slot, end ? ByteBlock() : ByteBlock(std::string(bytes)));
  slots_.Release(e.slot);
  if (end) {
    expects_.pop_front();
  } else {
    e.kind = Expect::Kind::kIgnore;  // the PING's reply is still to come
  }
}

// BUSY (a script runs) and EXECABORT (errors while queueing) come before the
// request ran: they show nothing of the data. Matched by Redis's wording; a
// script's own error may say the same, so the gate never takes a script's
// reply as not run.
gate::Outcome ClientSession::ReplyOutcome(bool ok, std::string_view bytes) {
  if (ok) return gate::Outcome::kOk;
  const std::string_view text = bytes.substr(1);
  return text.starts_with("BUSY Redis is busy running") || text.starts_with("EXECABORT Transaction discarded")
             ? gate::Outcome::kNotRun
             : gate::Outcome::kError;
}

// Logged right after the effects the child propagated for the request (and
// the reply waits for that entry's commit), so that every member's child
// runs it where the leader's did.
void ClientSession::LogForReply(const Expect& e, std::vector<LoggedRequest> logged) {
  if (server_.LogAfterEffects(std::move(logged), e.gate_slot)) return;
  slots_.SetReply(e.slot, ErrorReply("TRYAGAIN leadership is moving; the change was not made durable, retry"));
}

}  // namespace node
