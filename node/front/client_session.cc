#include "node/front/client_session.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace node {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadChunk = 16 * 1024 * 1024;
// Back-pressure: stop reading a client with this much unanswered or unsent.
constexpr size_t kMaxSlots = 64 * 1024;
constexpr size_t kMaxOutput = 64 * 1024 * 1024;
constexpr std::string_view kRole = "*1\r\n$4\r\nROLE\r\n";

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(absl::string_view(s.data(), s.size())); }

bool ParseInt(std::string_view s, int64_t* out) {
  return absl::SimpleAtoi(absl::string_view(s.data(), s.size()), out);
}

bool IsSubscribeFamily(const std::string& name) {
  return name == "subscribe" || name == "psubscribe" || name == "ssubscribe" ||
         name == "unsubscribe" || name == "punsubscribe" || name == "sunsubscribe";
}

}  // namespace

ClientSession::ClientSession(Server& server, asio::ip::tcp::socket socket)
    : server_(server),
      client_(std::move(socket)),
      child_(client_.get_executor()),
      no_leader_timer_(client_.get_executor()),
      parser_(server.options().limits) {
  asio::error_code ec;
  auto ep = client_.remote_endpoint(ec);
  describe_ = ec ? "?" : absl::StrCat(ep.address().to_string(), ":", ep.port());
}


ClientSession::~ClientSession() = default;

std::string ClientSession::ErrorReply(std::string_view msg) const {
  std::string out;
  resp::AppendError(&out, msg);
  return out;
}

std::string ClientSession::KeyName(std::string_view key) const {
  return absl::StrCat(db_, ":", absl::string_view(key.data(), key.size()));
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
  asio::generic::stream_protocol::endpoint ep =
      up.kind == Upstream::Kind::kChild
          ? asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(up.socket_path))
          : asio::generic::stream_protocol::endpoint(
                asio::ip::tcp::endpoint(asio::ip::make_address(up.host), static_cast<uint16_t>(up.port)));
  const bool forwarding = up.kind == Upstream::Kind::kLeader;
  child_ = asio::generic::stream_protocol::socket(client_.get_executor());
  child_.async_connect(ep, [self = shared_from_this(), forwarding](const asio::error_code& ec) {
    if (self->upstream_state_ != UpstreamState::kConnecting) return;
    if (ec) {
      // The leader just went away, or is not serving yet: wait for news.
      self->upstream_state_ =
          self->no_leader_deadline_passed_ ? UpstreamState::kNoLeader : UpstreamState::kWaiting;
      self->OnClientData();
      return;
    }
    self->OnUpstreamConnected(forwarding);
  });
}

void ClientSession::OnUpstreamConnected(bool forwarding) {
  no_leader_timer_.cancel();
  upstream_state_ = UpstreamState::kConnected;
  forwarding_ = forwarding;
  child_open_ = true;
  if (forwarding_) {
    asio::error_code ec;
    child_.set_option(asio::ip::tcp::no_delay(true), ec);
  } else {
    // The child's id for this connection, to unblock it if the client leaves.
    to_child_.append("*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n");
    expects_.emplace_back(Expect::Kind::kClientId);
  }
  ReadChild();
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
  if (reading_client_ || handling_input_ || !client_open_ || input_closed_) return;
  if (slots_.size() > kMaxSlots || out_.size() > kMaxOutput) return;  // resumed by Flush()
  size_t chunk = std::clamp(parser_.HintBytesNeeded(), kReadChunk, kMaxReadChunk);
  reading_client_ = true;
  client_.async_read_some(in_.Prepare(chunk), [self = shared_from_this()](const asio::error_code& ec, size_t n) {
    self->reading_client_ = false;
    if (ec) return self->ClientGone();
    self->in_.Commit(n);
    self->OnClientData();
  });
}

void ClientSession::OnClientData() {
  if (!client_open_ || aborted_) return;
  std::vector<std::string_view> args;
  std::string error;
  // Requests wait for an upstream (up to the no-leader deadline), except a
  // node-local command with nothing queued before it: ANARCHO.STATUS must
  // answer at once on a node that has no leader.
  if (upstream_state_ == UpstreamState::kWaiting || upstream_state_ == UpstreamState::kConnecting) {
    bool need_more = false;
    handling_input_ = true;
    while (slots_.empty() && !in_multi_ && !input_closed_ && !in_.empty()) {
      size_t consumed = 0;
      std::string_view data = in_.data();
      resp::ParseStatus st = parser_.Parse(data, &consumed, &args, &error);
      need_more = st == resp::ParseStatus::kNeedMore;
      if (st == resp::ParseStatus::kError) {
        ReadySlot(ErrorReply(absl::StrCat("ERR ", error))).close_after = true;
        input_closed_ = true;
        Flush();
        break;
      }
      // Anything else stays in the input (the parser starts afresh after a
      // complete request) and is handled in order once there is an upstream.
      if (st != resp::ParseStatus::kOk) break;
      if (!args.empty()) {
        const std::string name = Lower(args[0]);
        if (!IsNodeCommand(name) || !server_.IsLocalNodeCommand(name)) break;
        ReadySlot(server_.NodeCommand(args, proto_));
      }
      in_.Consume(consumed);
      Flush();
    }
    handling_input_ = false;
    if (need_more || in_.empty()) ReadClient();
    return;
  }
  handling_input_ = true;
  while (!input_closed_ && !in_.empty()) {
    size_t consumed = 0;
    std::string_view data = in_.data();
    resp::ParseStatus st = parser_.Parse(data, &consumed, &args, &error);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      // As Redis: reply with the protocol error, then close the connection.
      ReadySlot(ErrorReply(absl::StrCat("ERR ", error))).close_after = true;
      input_closed_ = true;
      break;
    }
    if (!args.empty()) HandleRequest(args, data.substr(0, consumed));
    in_.Consume(consumed);
  }
  handling_input_ = false;
  if (!uncovered_.empty() && !in_multi_) AddRole();
  WriteChild();
  Flush();
  ReadClient();
}

ClientSession::Slot& ClientSession::NewSlot() { return slots_.emplace_back(); }

ClientSession::Slot& ClientSession::ReadySlot(std::string reply) {
  if (pubsub_ && passthrough_slot_ != nullptr) {
    // The connection is a stream now: node replies join it.
    passthrough_slot_->reply.append(reply);
    return *passthrough_slot_;
  }
  Slot& s = NewSlot();
  s.reply = std::move(reply);
  s.have_reply = true;
  return s;
}

void ClientSession::Forward(std::span<const std::string_view> args, std::string_view raw) {
  if (!raw.empty() && raw[0] == '*') {
    to_child_.append(raw);
  } else {
    resp::AppendCommand(&to_child_, args);  // inline request: send it as multibulk
  }
}

void ClientSession::HandleRequest(std::span<const std::string_view> args, std::string_view raw) {
  const std::string name = Lower(args[0]);
  auto forward_with_slot = [&]() -> Slot& {
    Slot& s = NewSlot();
    expects_.emplace_back(Expect::Kind::kReply, &s);
    Forward(args, raw);
    return s;
  };

  if (IsNodeCommand(name) && (!forwarding_ || server_.IsLocalNodeCommand(name))) {
    ReadySlot(server_.NodeCommand(args, proto_));
    return;
  }
  if (upstream_state_ == UpstreamState::kNoLeader) {
    if (name == "quit") {
      ReadySlot("+OK\r\n").close_after = true;
      input_closed_ = true;
    } else {
      ReadySlot(ErrorReply("TRYAGAIN no leader: an election is under way; retry"));
    }
    return;
  }
  if (pubsub_) {
    // A subscribed connection is a stream of messages; only what Redis allows in
    // that state goes through, and its replies join the stream.
    if (IsSubscribeFamily(name) || name == "ping") {
      Forward(args, raw);
    } else if (name == "reset") {
      pubsub_ = false;
      in_multi_ = false;
      db_ = 0;
      forward_with_slot();  // its +RESET ends the stream (OnChildData)
    } else if (name == "quit") {
      if (passthrough_slot_) passthrough_slot_->passthrough_done = true;
      passthrough_slot_ = nullptr;
      pubsub_ = false;
      ReadySlot("+OK\r\n").close_after = true;
      input_closed_ = true;
    } else {
      ReadySlot(ErrorReply(absl::StrCat(
          "ERR Can't execute '", name,
          "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
          "context (anarchoredis keeps a connection that subscribed in that state until RESET)")));
    }
    return;
  }

  const CommandSpec* spec = server_.commands().Lookup(args);
  if (spec == nullptr) {
    forward_with_slot();  // the child answers with Redis's own unknown-command error
    return;
  }
  CommandClass cls = spec->cls;
  if (forwarding_) {
    // The leader does the real work; this node relays in order. Only QUIT and
    // the subscribed state (replies become a stream) matter here.
    if (cls != CommandClass::kSubscribe && name != "quit") {
      forward_with_slot();
      return;
    }
  }
  if (cls == CommandClass::kRefused) {
    std::string sub = args.size() > 1 ? Lower(args[1]) : "";
    if (name == "debug" && (sub == "digest" || sub == "digest-value" || sub == "object" || sub == "help")) {
      cls = CommandClass::kKeyspaceRead;
    } else if (name == "client" && sub == "reply" && args.size() > 2 && Lower(args[2]) == "on") {
      cls = CommandClass::kPassThrough;
    } else {
      if (in_multi_) multi_poisoned_ = true;
      ReadySlot(ErrorReply(spec->refusal));
      return;
    }
  }

  switch (cls) {
    case CommandClass::kNodeLocal:
      if (name == "quit") {
        ReadySlot("+OK\r\n").close_after = true;
        input_closed_ = true;
      } else if (name == "wait" && !in_multi_) {
        // Every acknowledged write is already durable on a majority of nodes.
        std::string reply;
        resp::AppendInteger(&reply, server_.ReplicaCountForWait());
        ReadySlot(std::move(reply));
      } else {
        forward_with_slot();
      }
      return;

    case CommandClass::kTransaction:
      if (name == "multi") {
        if (!in_multi_) {
          in_multi_ = true;
          multi_poisoned_ = false;
        }
        forward_with_slot();
      } else if ((name == "exec" || name == "discard") && in_multi_) {
        const bool abort = multi_poisoned_ || name == "discard";
        in_multi_ = false;
        multi_poisoned_ = false;
        if (abort) {
          DropMultiLocks();
          if (name == "discard") {
            forward_with_slot();
          } else {
            to_child_.append("*1\r\n$7\r\nDISCARD\r\n");
            expects_.emplace_back(Expect::Kind::kIgnore);
            ReadySlot(ErrorReply("EXECABORT Transaction discarded because of previous errors."));
          }
          return;
        }
        Slot& s = forward_with_slot();
        s.tickets = std::move(multi_tickets_);
        s.marked = std::move(multi_marked_);
        multi_tickets_.clear();
        multi_marked_.clear();
        s.hold = true;  // the ROLE after EXEC covers the transaction's effects and reads
        uncovered_.push_back(&s);
        ConfirmLeadership(&s);  // a transaction of reads only must not be stale either
      } else {
        forward_with_slot();
      }
      return;

    case CommandClass::kSubscribe: {
      Forward(args, raw);
      Slot& s = NewSlot();
      s.passthrough = true;
      passthrough_slot_ = &s;
      expects_.emplace_back(Expect::Kind::kPassthrough, &s);
      pubsub_ = true;
      return;
    }

    case CommandClass::kKeyedWrite:
    case CommandClass::kKeyspaceWrite:
    case CommandClass::kBlockingWrite: {
      Keys keys = CommandTable::GetKeys(*spec, args);
      Slot& s = forward_with_slot();
      KeyLockTable& locks = server_.locks();
      if (cls == CommandClass::kBlockingWrite && !in_multi_) {
        // No lock while it may wait in the child for a long time: its keys are
        // marked, and their readers take an offset barrier instead.
        for (const KeyRef& k : keys.keys) {
          s.marked.push_back(KeyName(args[k.pos]));
          locks.Mark(s.marked.back());
        }
        s.blocking = true;
        ++blocking_in_flight_;
        s.hold = true;
        uncovered_.push_back(&s);
        return;
      }
      KeyLockTable::Ticket t = locks.Begin();
      bool any_write_key = false;
      for (const KeyRef& k : keys.keys) any_write_key |= k.write;
      if (cls != CommandClass::kKeyedWrite || keys.incomplete || !any_write_key) {
        locks.LockAll(t);
      } else {
        for (const KeyRef& k : keys.keys) {
          if (k.write) locks.Lock(t, KeyName(args[k.pos]));
        }
      }
      if (in_multi_) {
        multi_tickets_.push_back(t);
        s.queued = true;
      } else {
        s.tickets.push_back(t);
        s.hold = true;
        uncovered_.push_back(&s);
      }
      return;
    }

    case CommandClass::kKeyedRead:
    case CommandClass::kKeyspaceRead: {
      Slot& s = forward_with_slot();
      s.info = name == "info";
      if (in_multi_) {
        s.queued = true;
        return;
      }
      ConfirmLeadership(&s);
      if (cls == CommandClass::kKeyspaceRead) {
        s.keyspace_read = true;
      } else {
        Keys keys = CommandTable::GetKeys(*spec, args);
        if (keys.incomplete) {
          s.keyspace_read = true;
        } else {
          for (const KeyRef& k : keys.keys) s.read_keys.push_back(KeyName(args[k.pos]));
        }
      }
      return;
    }

    case CommandClass::kPassThrough:
      if (name == "select") {
        int64_t db = -1;
        if (in_multi_) {
          // The queued SELECT would change the db only if EXEC runs; the node
          // could not tell which db later requests use.
          multi_poisoned_ = true;
          ReadySlot(ErrorReply("ERR SELECT inside MULTI is not supported by anarchoredis"));
          return;
        }
        if (args.size() == 2 && ParseInt(args[1], &db) && db >= 0 && db < server_.options().databases) {
          db_ = static_cast<int>(db);
        }
      } else if (name == "hello" && args.size() > 1) {
        int64_t proto = 0;
        Slot& s = forward_with_slot();
        if (ParseInt(args[1], &proto) && (proto == 2 || proto == 3)) s.hello_proto = static_cast<int>(proto);
        return;
      } else if (name == "reset") {
        DropMultiLocks();
        in_multi_ = false;
        multi_poisoned_ = false;
        db_ = 0;
        forward_with_slot().hello_proto = 2;
        return;
      }
      forward_with_slot();
      return;

    case CommandClass::kRefused:
      return;  // handled above
  }
}

// Nothing queued in the MULTI will run: its writes' locks can go now.
void ClientSession::DropMultiLocks() {
  for (auto t : multi_tickets_) server_.locks().Release(t);
  for (auto& k : multi_marked_) server_.locks().Unmark(k);
  multi_tickets_.clear();
  multi_marked_.clear();
}

void ClientSession::ConfirmLeadership(Slot* s) {
  ++s->waits;
  server_.ConfirmRead([weak = weak_from_this(), s] {
    if (auto self = weak.lock()) {
      --s->waits;
      self->Flush();
    }
  });
}

void ClientSession::AddRole() {
  to_child_.append(kRole);
  Expect e(Expect::Kind::kRole);
  e.covered = std::move(uncovered_);
  uncovered_.clear();
  expects_.push_back(std::move(e));
}

// ----------------------------------------------------------------- child link

void ClientSession::WriteChild() {
  if (child_writing_ || to_child_.empty() || !child_open_) return;
  std::swap(to_child_, child_writing_buf_);
  child_writing_ = true;
  asio::async_write(child_, asio::buffer(child_writing_buf_),
                    [self = shared_from_this()](const asio::error_code& ec, size_t) {
                      self->child_writing_ = false;
                      self->child_writing_buf_.clear();
                      if (ec) return;  // the read side reports the failure
                      self->WriteChild();
                    });
}

void ClientSession::ReadChild() {
  if (!child_open_) return;
  child_.async_read_some(child_in_.Prepare(kReadChunk), [self = shared_from_this()](const asio::error_code& ec, size_t n) {
    if (ec) {
      if (self->child_open_) {
        self->Abort("UNKNOWN the node lost its link to its redis-server; the outcome of this request is unknown");
      }
      return;
    }
    self->child_in_.Commit(n);
    self->OnChildData();
  });
}

void ClientSession::OnChildData() {
  std::string error;
  while (!child_in_.empty()) {
    size_t len = 0;
    char type = 0;
    std::string_view data = child_in_.data();
    resp::ParseStatus st = scanner_.Scan(data, &len, &type, &error);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      Log(LogLevel::kError, "session %s: unreadable reply from child: %s", describe_, error);
      return Abort("UNKNOWN the node could not read its redis-server's reply; outcome unknown");
    }
    std::string_view bytes = data.substr(0, len);
    child_in_.Consume(len);
    if (passthrough_active_) {
      if (bytes == "+RESET\r\n") {
        // RESET ends the subscribed state; this reply is the RESET's own.
        passthrough_active_ = false;
        if (passthrough_slot_) passthrough_slot_->passthrough_done = true;
        passthrough_slot_ = nullptr;
        OnChildReply(bytes, type);
      } else if (passthrough_slot_) {
        passthrough_slot_->reply.append(bytes);
      }
      continue;
    }
    OnChildReply(bytes, type);
    if (!child_open_) return;
  }
  WriteChild();
  Flush();
  MaybeFinish();
  ReadChild();
}

void ClientSession::OnChildReply(std::string_view bytes, char type) {
  if (expects_.empty() || (type == '>' && expects_.front().kind != Expect::Kind::kPassthrough)) {
    if (type == '>') {
      ReadySlot(std::string(bytes));  // out-of-band push
      return;
    }
    Log(LogLevel::kError, "session %s: reply from child with no request waiting", describe_);
    return Abort("UNKNOWN the node lost track of its redis-server's replies; outcome unknown");
  }
  Expect e = std::move(expects_.front());
  expects_.pop_front();
  switch (e.kind) {
    case Expect::Kind::kReply: {
      Slot* s = e.slot;
      s->reply.assign(bytes);
      s->have_reply = true;
      if (s->hello_proto != 0 && type != '-') proto_ = s->hello_proto;
      if (s->info && (type == '$' || type == '=')) {
        resp::Value v;
        size_t consumed;
        std::string error;
        if (resp::ParseValue(bytes, &consumed, &v, &error) == resp::ParseStatus::kOk) {
          std::string text = v.str;
          absl::StrAppend(&text, "\r\n", server_.InfoSection());
          s->reply.clear();
          if (type == '=') {
            resp::AppendVerbatim(&s->reply, text, 3);
          } else {
            resp::AppendBulkString(&s->reply, text);
          }
        }
      }
      if (s->blocking) --blocking_in_flight_;
      CheckRead(s);
      break;
    }
    case Expect::Kind::kRole:
    case Expect::Kind::kRoleForRead:
      OnRoleReply(e, bytes);
      break;
    case Expect::Kind::kClientId: {
      resp::Value v;
      size_t consumed;
      std::string error;
      if (resp::ParseValue(bytes, &consumed, &v, &error) == resp::ParseStatus::kOk) {
        child_client_id_ = v.integer;
      }
      break;
    }
    case Expect::Kind::kIgnore:
      break;
    case Expect::Kind::kPassthrough:
      passthrough_active_ = true;
      if (passthrough_slot_) passthrough_slot_->reply.append(bytes);
      break;
  }
}

void ClientSession::OnRoleReply(Expect& e, std::string_view bytes) {
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(bytes, &consumed, &v, &error) != resp::ParseStatus::kOk ||
      v.type != resp::Type::kArray || v.elements.size() < 2 || v.elements[0].AsString() != "master") {
    Log(LogLevel::kError, "session %s: unexpected ROLE reply", describe_);
    return Abort("UNKNOWN the node could not tell the replication offset of this write; outcome unknown");
  }
  const uint64_t offset = static_cast<uint64_t>(v.elements[1].integer);
  std::vector<KeyLockTable::Ticket> tickets;
  std::vector<std::string> marked;
  auto cover = [&](Slot* s) {
    s->offset = offset;
    s->offset_known = true;
    s->hold = true;
    tickets.insert(tickets.end(), s->tickets.begin(), s->tickets.end());
    s->tickets.clear();
    for (auto& k : s->marked) marked.push_back(std::move(k));
    s->marked.clear();
  };
  if (e.kind == Expect::Kind::kRoleForRead) {
    cover(e.slot);
  } else {
    for (Slot* s : e.covered) cover(s);
  }
  server_.AwaitCommit(offset, std::move(tickets), std::move(marked), weak_from_this());
}

void ClientSession::CheckRead(Slot* s) {
  if (s->queued || (s->read_keys.empty() && !s->keyspace_read)) return;
  KeyLockTable& locks = server_.locks();
  const bool marked = s->keyspace_read ? locks.AnyMarked() : locks.AnyMarked(s->read_keys);
  if (marked) {
    // A blocking write may have changed these keys at any moment: wait for the
    // stream offset of a ROLE that runs after this read.
    to_child_.append(kRole);
    expects_.emplace_back(Expect::Kind::kRoleForRead, s);
    s->hold = true;
    return;
  }
  bool clear = locks.WaitClear(s->read_keys, s->keyspace_read, [weak = weak_from_this(), s] {
    if (auto self = weak.lock()) {
      --s->waits;
      self->Flush();
    }
  });
  if (!clear) ++s->waits;
}

void ClientSession::OnCommitted() { Flush(); }

// --------------------------------------------------------------- client output

void ClientSession::Flush() {
  if (aborted_) return;
  const uint64_t committed = server_.committed_offset();
  bool close = false;
  while (!slots_.empty()) {
    Slot& s = slots_.front();
    if (s.passthrough) {
      out_.append(s.reply);
      s.reply.clear();
      if (!s.passthrough_done) break;
      slots_.pop_front();
      continue;
    }
    if (!s.have_reply || s.waits > 0) break;
    if (s.hold && (!s.offset_known || committed < s.offset) &&
        !server_.options().test_unsafe_ack_before_commit) {
      break;
    }
    out_.append(s.reply);
    close = s.close_after;
    slots_.pop_front();
    if (close) break;
  }
  if (close) close_after_write_ = true;
  WriteClient();
  ReadClient();
}

void ClientSession::WriteClient() {
  if (client_writing_ || !client_open_) return;
  if (out_.empty()) {
    if (close_after_write_) ClientGone();
    return;
  }
  std::swap(out_, out_writing_);
  client_writing_ = true;
  asio::async_write(client_, asio::buffer(out_writing_),
                    [self = shared_from_this()](const asio::error_code& ec, size_t) {
                      self->client_writing_ = false;
                      self->out_writing_.clear();
                      if (ec) return self->ClientGone();
                      self->WriteClient();
                      self->ReadClient();
                    });
}

// ------------------------------------------------------------------ endings

void ClientSession::ClientGone() {
  if (!client_open_) return;
  client_open_ = false;
  asio::error_code ec;
  client_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  client_.close(ec);
  passthrough_slot_ = nullptr;
  // Effects already sent to the child may still happen: let the child finish
  // them and learn their offset, so their locks are released only once durable.
  if (in_multi_) {
    to_child_.append("*1\r\n$7\r\nDISCARD\r\n");
    expects_.emplace_back(Expect::Kind::kIgnore);
    DropMultiLocks();
    in_multi_ = false;
  }
  if (blocking_in_flight_ > 0 && child_client_id_ >= 0) server_.UnblockChildClient(child_client_id_);
  if (!uncovered_.empty()) AddRole();
  // Slots are gone: expectations no longer point at them.
  for (Expect& e : expects_) {
    if (e.kind == Expect::Kind::kReply || e.kind == Expect::Kind::kPassthrough ||
        e.kind == Expect::Kind::kRoleForRead) {
      e.kind = Expect::Kind::kIgnore;
    }
    e.slot = nullptr;
  }
  WriteChild();
  MaybeFinish();
}

void ClientSession::MaybeFinish() {
  if (client_open_ || !expects_.empty()) return;
  Close();
}

void ClientSession::Close() {
  asio::error_code ec;
  if (child_open_) {
    child_open_ = false;
    child_.close(ec);
  }
  if (client_open_) {
    client_open_ = false;
    client_.close(ec);
  }
  server_.SessionClosed(this);
}

void ClientSession::Abort(std::string_view error) {
  // Replies already durable or already known leave first; everything else gets
  // the error (a write's effects may or may not be in the log).
  std::string err = ErrorReply(error);
  for (Slot& s : slots_) {
    if (s.passthrough) {
      out_.append(s.reply);
      continue;
    }
    const bool sendable = s.have_reply && s.waits == 0 &&
                          (!s.hold || (s.offset_known && server_.committed_offset() >= s.offset));
    out_.append(sendable ? s.reply : err);
  }
  // Slots stay until the session ends: lock-wait callbacks may still name them.
  aborted_ = true;
  upstream_state_ = UpstreamState::kGone;
  no_leader_timer_.cancel();
  expects_.clear();
  uncovered_.clear();
  passthrough_slot_ = nullptr;
  asio::error_code ec;
  if (child_open_) {
    child_open_ = false;
    child_.close(ec);
  }
  input_closed_ = true;
  close_after_write_ = true;
  WriteClient();
  if (!client_open_) server_.SessionClosed(this);
}

}  // namespace node
