// What leaves a session for its client (replies as the node shows them, the
// output buffer and its limit), and how a session ends.
#include "node/front/client_session.h"

#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace node {

namespace {

// Where a write's outcome is unknown, an unanswered read's is known: it did
// nothing and may simply be sent again, which is what TRYAGAIN tells a client
// (as it does when no leader is known).
std::string ReadErrorOf(std::string_view error) {
  constexpr std::string_view kUnknown = "UNKNOWN ";
  if (!error.starts_with(kUnknown)) return std::string(error);
  std::string_view cause = error.substr(kUnknown.size());
  cause = cause.substr(0, cause.find(';'));
  return absl::StrCat("TRYAGAIN ", absl::string_view(cause.data(), cause.size()),
                      "; the read was not answered, send it again");
}

}  // namespace

std::string ClientSession::RewriteText(std::string_view bytes, char type,
                                       const std::function<std::string(const std::string&)>& rewrite) {
  resp::Value v;
  size_t consumed;
  std::string error;
  if (resp::ParseValue(bytes, &consumed, &v, &error) != resp::ParseStatus::kOk) return std::string(bytes);
  const std::string text = rewrite(v.str);
  std::string out;
  if (type == '=') {
    resp::AppendVerbatim(&out, text, 3);
  } else {
    resp::AppendBulkString(&out, text);
  }
  return out;
}

std::string ClientSession::WithNodeInfo(std::string_view bytes, char type, bool node_section) const {
  return RewriteText(bytes, type, [this, node_section](const std::string& info) {
    std::string text = info;
    // Relayed from the leader: its node section gives way to this node's.
    if (const size_t at = text.find("\r\n# Anarchoredis\r\n"); at != std::string::npos) text.resize(at + 2);
    // The clients of the cluster, as the leader counts its sessions (the
    // node's own links to its child left out), and this node's maxclients
    // (its child takes the node's links besides).
    if (gated()) text = WithInfoField(text, "connected_clients", absl::StrCat(server_.ChildClientCount()));
    text = WithInfoField(text, "maxclients", absl::StrCat(server_.options().max_clients));
    if (!node_section) return text;
    return absl::StrCat(text, "\r\n", server_.InfoSection());
  });
}

ClientAddresses ClientSession::addresses() const { return {describe_, local_addr_}; }

void ClientSession::Kill() {
  input_closed_ = true;
  close_after_write_ = true;
  Flush();  // what was answered leaves, then the connection closes
}

bool ClientSession::MarkReleased(uint64_t tag) {
  if (tag & kHeldTag) {
    slots_.Unhold(tag & ~kHeldTag);
  } else {
    slots_.Release(tag);
  }
  return !std::exchange(release_pending_, true);
}

void ClientSession::FlushReleased() {
  release_pending_ = false;
  Flush();
  WriteUpstream();  // held while reads served here were answered
}

// --------------------------------------------------------------- client output

void ClientSession::Flush() {
  if (aborted_) return;
  if (slots_.Flush(&out_, &server_.metrics().requests())) {
    close_after_write_ = true;
    input_closed_ = true;
  }
  CloseIfAnswered();
  CheckOutputLimit();
  WriteClient();
  ReadClient();
}

void ClientSession::CheckOutputLimit() {
  if (!client_open_) return;
  const OutputBufferLimits& limits = server_.options().output_limits;
  // Monitors are held to the pubsub class's limits (Redis's replica class,
  // which the node does not have, is also bounded).
  const bool pubsub = router_.pubsub_class() || router_.monitoring();
  const uint64_t bytes = slots_.buffered_bytes() + out_.size() + out_writing_.bytes();
  const OutputBufferLimit& limit = pubsub ? limits.pubsub : limits.normal;
  // The clock only matters above the soft limit (how long it has been).
  const auto now = limit.soft > 0 && bytes >= limit.soft ? OutputLimitCheck::Clock::now() : OutputLimitCheck::Clock::time_point{};
  if (!output_limit_.Exceeded(bytes, limit, now)) return;
  Log(LogComponent::kClient, LogLevel::kWarning, "client %s closed for overcoming its output buffer limit (%s class, %d bytes)", describe_,
      pubsub ? "pubsub" : "normal", bytes);
  ClientGone();
}

void ClientSession::WriteClient() {
  if (client_writing_ || !client_open_) return;
  if (out_.empty()) {
    if (close_after_write_) ClientGone();
    return;
  }
  out_writing_.TakeFrom(out_);
  client_writing_ = true;
  client_.async_write(out_writing_.buffers, [self = shared_from_this()](const asio::error_code& ec, size_t) {
    self->client_writing_ = false;
    self->out_writing_.Clear();
    if (ec) return self->ClientGone();
    self->WriteClient();
    self->ReadClient();
  });
}

// ------------------------------------------------------------------ endings

void ClientSession::StopReading() {
  stopped_reading_ = true;
  // A read under way completes into the input, which is no longer handled.
}

// The client will send nothing more: it shut its sending side down, or left.
// Redis has run every request it read by the time it reads that end, and
// frees the client then: the replies it had go out first, a blocked command
// is dropped. So the requests read here are answered, then the connection
// closes (CloseIfAnswered).
void ClientSession::ClientEof() {
  client_eof_ = true;
  Flush();
}

// After the client's end: closes once every reply left, or once the next one
// to leave is a request that waits on other clients (a blocking command,
// WAIT; requests behind it wait too). Closing leaves the gate, which kills the
// child's connection for this client and so ends what waits there. A
// subscribed connection's last replies are the upstream's answers to its last
// requests, and pushes with no slot of their own: they have all arrived once
// a probe sent after them is answered.
void ClientSession::CloseIfAnswered() {
  if (!client_eof_ || close_after_write_ || !client_open_) return;
  const bool blocked = !slots_.empty() && may_block_.contains(slots_.front_id());
  if (!blocked) {
    // Whole requests still in the input are handled once what they wait
    // for (a reply, the link to the upstream) is there. A part of one is
    // dropped, as Redis drops it.
    const bool whole_requests_left = !in_.empty() && in_.size() != partial_input_;
    if (whole_requests_left && !input_closed_ && !stopped_reading_) return;
    if (subscribed() && !EndProbeAnswered()) return;
    if (!replies_answered()) return;
  }
  close_after_write_ = true;  // WriteClient closes once what left is written
}

bool ClientSession::EndProbeAnswered() {
  if (upstream_state_ == UpstreamState::kGone || upstream_state_ == UpstreamState::kNoLeader) {
    end_probe_ = EndProbe::kAnswered;  // nothing more will arrive
  }
  if (end_probe_ == EndProbe::kNotSent) {
    end_probe_ = EndProbe::kSent;
    to_upstream_.Append(probe_request_);
    expects_.push_back(Expect{Expect::Kind::kEndProbe});
    WriteUpstream();
  }
  return end_probe_ == EndProbe::kAnswered;
}

void ClientSession::ClientGone() {
  if (!client_open_) return;
  client_open_ = false;
  client_.Close();
  LeaveGate();
  MaybeClose();
}

// The client's requests end here. On the leader, effects it sent may still be
// in flight in the child: the child connection is killed, and the locks drop
// once an offset taken after the kill commits (the gate's kill cover).
void ClientSession::LeaveGate() {
  if (left_gate_) return;
  if (!shared_.expects.empty()) {
    // Requests on the shared link are not stopped by killing this client's
    // own connection: the locks hold until they were answered
    // (SharedDrained), then the kill cover comes after their effects.
    shared_.leave_gate = true;
    return;
  }
  if (gated() && upstream_open_ && !aborted_ && LoggedReplyDue()) {
    // A request the node logs is on its way (it never blocks): killing the
    // child's connection now could leave what it did on the leader's child
    // alone, with no entry for it (the node logs from its reply). The kill
    // waits for that reply.
    leave_gate_after_logged_ = true;
    return;
  }
  leave_gate_after_logged_ = false;
  left_gate_ = true;
  if (gated() && upstream_open_) {
    std::optional<gate::CoverId> kill = server_.gate().ClientGone(id_);
    server_.GateChanged();
    if (kill && child_client_id_ < 0) {
      // CLIENT ID was the first request on the link: its reply comes first.
      kill_when_id_known_ = kill;
      expects_.erase_if([](const Expect& e) { return e.kind != Expect::Kind::kClientId; });
      return;
    }
    if (server_.gate().broken_rule() == gate::BrokenRule::kKeepGoneClients) {
      // Test mode, the old bug: no kill; the child connection (and any command
      // blocked on it) stays. Only the locks are released.
      if (kill) server_.CoverFromNow(*kill);
      return;
    }
    if (kill) server_.KillChildClient(child_client_id_, *kill);
  }
  CloseUpstream();
}

// Whether a request the node logs from its reply is in flight on the own link.
// None waits behind one that may block (BLPOP, WAIT): such a request holds
// the session's later requests until it is answered (RequestRouter::MayBlock).
bool ClientSession::LoggedReplyDue() const {
  for (const Expect& e : expects_) {
    if (e.kind == Expect::Kind::kReply && (e.tag == ReplyTag::kLog || (e.detail && e.detail->exec_logged))) return true;
  }
  return false;
}

void ClientSession::CloseUpstream() {
  if (upstream_open_) {
    upstream_open_ = false;
    upstream_.Close();
  }
  expects_.clear();
  upstream_state_ = UpstreamState::kGone;
}

void ClientSession::MaybeClose() {
  if (client_open_ || upstream_open_ || closed_) return;
  closed_ = true;
  no_leader_timer_.cancel();
  server_.SessionClosed(id_);
}

void ClientSession::Abort(std::string_view error) {
  if (aborted_) return;
  aborted_ = true;
  no_leader_timer_.cancel();
  // Replies already released leave first; every other request gets the error
  // (a write's effects may or may not be in the log; a read changed nothing).
  const std::string read_error = ReadErrorOf(error);
  const ReplySlots::Aborted aborted = slots_.AbortAll(ErrorReply(error, 0), ErrorReply(read_error, 0), &out_);
  server_.metrics().CountError(error, Metrics::ErrorKind::kOther, aborted.errors);
  server_.metrics().CountError(read_error, Metrics::ErrorKind::kOther, aborted.read_errors);
  input_closed_ = true;
  close_after_write_ = true;
  // Covers behind its requests on the shared link would be asked for after
  // the gate was left: dropped, as the own link's are (CloseUpstream).
  shared_.expects.erase_if([](const Expect& e) { return e.kind == Expect::Kind::kCover; });
  LeaveGate();
  if (client_open_) {
    WriteClient();
  } else if (!shared_.leave_gate) {
    CloseUpstream();
    MaybeClose();
  }
}

void ClientSession::SharedLinkLost(std::string_view error) {
  shared_.expects.clear();
  shared_.resume_input = false;
  Abort(error);
  SharedDrained();  // a gate left while they were in flight is left now
}

}  // namespace node
