// The node's clients: accepting them, their sessions and upstreams, and
// clients as a client of the cluster sees them: CLIENT KILL, the sessions'
// addresses for CLIENT LIST, INFO's client count, CONFIG GET of the settings
// the node owns (node/front/client_view.h).
#include <sys/resource.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/accept_again.h"
#include "node/cluster/peer_transport.h"
#include "node/front/client_session.h"
#include "node/logging.h"
#include "node/server.h"
#include "node/tcp_keepalive.h"
#include "resp/writer.h"

namespace node {

// ------------------------------------------------------------------ sessions

absl::StatusOr<std::unique_ptr<asio::ip::tcp::acceptor>> Server::Listen(int port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(options_.bind, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad --bind address ", options_.bind));
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
  asio::ip::tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("listen on ", options_.bind, ":", port, ": ", ec.message()));
  return acceptor;
}

absl::Status Server::ListenForClients() {
  auto plain = Listen(options_.port);
  if (!plain.ok()) return plain.status();
  acceptor_ = std::move(*plain);
  if (options_.tls.port == 0) return absl::OkStatus();
  if (auto s = ReloadTls(); !s.ok()) return s;
  auto tls = Listen(options_.tls.port);
  if (!tls.ok()) return tls.status();
  tls_acceptor_ = std::move(*tls);
  return absl::OkStatus();
}

// Both contexts are built before either replaces its predecessor: files
// that fail for one role leave the node with the contexts it had, for its
// clients and its peers alike (not a new client side and an old peer side).
// The peer context serves the Raft links made from now on and the
// follower's next hops to the leader (CurrentUpstream); open links and
// sessions keep the context they were made with.
absl::Status Server::ReloadTls() {
  if (options_.tls.port == 0) return absl::OkStatus();
  auto context = MakeTlsServerContext(options_.tls);
  if (!context.ok()) return context.status();
  std::shared_ptr<asio::ssl::context> peer_context;
  if (peer_tls_context_) {
    auto peer = MakeTlsPeerContext(options_.tls);
    if (!peer.ok()) return peer.status();
    peer_context = std::move(*peer);
  }
  tls_context_ = std::move(*context);
  if (peer_context) {
    peer_tls_context_ = peer_context;
    rlog_->SetPeerTls(std::move(peer_context));
  }
  return absl::OkStatus();
}

// A follower answers its relayed requests UNKNOWN (E - 1) ticks at the
// earliest after it last heard from the leader (E: the election ticks, which
// members share): its sessions here end before, with a tick for the check's
// period and one for the way back, though only after two missed heartbeats
// at least.
void Server::StartRelaySessions() {
  const int tick = options_.raft.tick_ms;
  const int silent_ticks = std::max(options_.raft.election_ticks - 3, 2 * options_.raft.heartbeat_ticks + 1);
  relay_sessions_ = std::make_unique<RelaySessions>(
      io_, [this](uint64_t member) { return rlog_->LastHeard(member); },
      std::chrono::milliseconds(tick * silent_ticks), std::chrono::milliseconds(tick));
  RelayWatch::Hooks hooks;
  // Within half an election timeout: the leader's loop turns (a heartbeat
  // comes every heartbeat ticks).
  const auto heard_within = std::chrono::milliseconds(tick * std::max(options_.raft.election_ticks / 2,
                                                                       2 * options_.raft.heartbeat_ticks));
  hooks.heard_leader = [this, heard_within](std::chrono::steady_clock::time_point now) -> uint64_t {
    if (is_leader_ || leader_id_ == 0) return 0;
    const auto heard = rlog_->LastHeard(leader_id_);
    return heard && now - *heard < heard_within ? leader_id_ : 0;
  };
  hooks.end_session = [this](uint64_t token, std::function<void(bool)> done) {
    EndRelayedSession(io_.get_executor(), CurrentUpstream(), options_.raft.id, token, kRelayEndTimeout,
                      std::move(done));
  };
  relay_watch_ = std::make_unique<RelayWatch>(io_, std::move(hooks), kRelaySilence, RelaySessions::kAliveEvery);
}

void Server::WatchRelay(RelayWatch::Link link) {
  if (relay_watch_) relay_watch_->Add(std::move(link));
}

uint64_t Server::AddRelaySession(uint64_t member, const std::shared_ptr<ClientSession>& session) {
  if (!relay_sessions_) return 0;
  std::weak_ptr<ClientSession> weak = session;
  return relay_sessions_->Add(
      member, std::chrono::steady_clock::now(), weak,
      [weak] {
        if (auto s = weak.lock()) s->ClientGone();
      },
      [weak] {
        if (auto s = weak.lock()) s->RelayKeepAlive();
      });
}

bool Server::EndRelaySession(uint64_t member, uint64_t token) {
  return relay_sessions_ && relay_sessions_->End(member, token);
}

Upstream Server::CurrentUpstream() const {
  Upstream up;
  if (state_ != State::kRunning) return up;
  if (is_leader_) {
    if (leader_ready_) {
      up.kind = Upstream::Kind::kChild;
      up.socket_path = child_options_.socket_path;
    }
    return up;
  }
  auto it = rlog_->peers().find(leader_id_);
  if (leader_id_ != 0 && it != rlog_->peers().end() && it->second.client_port > 0) {
    up.kind = Upstream::Kind::kLeader;
    up.host = it->second.host;
    up.port = it->second.client_port;
    if (peer_tls_context_) {
      // With --tls_peers, clients' requests travel to the leader's TLS port.
      // The leader announced it when its link to this node authenticated,
      // before any of its messages named it leader; a leader without one
      // (a mixed configuration) gets no forwarded requests.
      up.port = rlog_->peer_tls_port(leader_id_);
      if (up.port == 0) up.kind = Upstream::Kind::kNone;
      up.tls = peer_tls_context_;
    }
  }
  return up;
}

void Server::AddMonitor(const std::shared_ptr<ClientSession>& session) {
  // Once per session, however often it runs MONITOR.
  std::erase_if(monitors_, [&](const std::weak_ptr<ClientSession>& w) { return w.lock() == session; });
  monitors_.push_back(session);
}

void Server::FeedMonitors(std::string line) {
  asio::post(io_, [this, line = std::move(line)] {
    std::erase_if(monitors_, [&](const std::weak_ptr<ClientSession>& w) {
      auto s = w.lock();
      if (!s || !s->monitoring()) return true;  // gone, or RESET
      s->Monitored(line);
      return false;
    });
  });
}

void Server::AbortSessions(const std::string& error) {
  std::vector<std::shared_ptr<ClientSession>> all;
  for (auto& [_, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->UpstreamLost(error);
}

// Every request in flight gets an error (a write's outcome is unknown, a
// read changed nothing): the clients' connections closed with no reply.
void Server::LeaveCluster() {
  AbortSessions("UNKNOWN this node was removed from the cluster; the outcome of this request is unknown");
  rlog_->Leave([] { std::_Exit(0); });
}

void Server::StartSharedLink() {
  SharedLink::Hooks hooks;
  // On the leader, to its child; on a follower, to the leader (the relay).
  hooks.target = [this] { return CurrentUpstream(); };
  hooks.auth = child_auth_request_;
  hooks.name = kSharedLinkName;
  hooks.to_leader = relay_preamble_;
  hooks.watch = [this](uint64_t token) {
    RelayWatch::Link link;
    link.alive = shared_link_->connection();
    link.leader = leader_id_;
    link.token = token;
    link.quiet_since = [this] { return shared_link_->QuietSince(); };
    link.ended = [this] { shared_link_->GiveUp(); };
    WatchRelay(std::move(link));
  };
  hooks.reply = [this](SharedLink::Tag session, std::string_view bytes, char type, ByteBlock&& big) {
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;  // closed (a session with requests there stays until answered)
    it->second->OnSharedReply(bytes, type, std::move(big));
    if (shared_touched_.empty() || shared_touched_.back() != it->second) shared_touched_.push_back(it->second);
  };
  hooks.replies_done = [this] {
    std::vector<std::shared_ptr<ClientSession>> touched = std::move(shared_touched_);
    shared_touched_.clear();
    for (auto& s : touched) s->AfterSharedReplies();
  };
  hooks.covered = [this](std::span<const uint64_t> covers, std::string_view bytes, char type) {
    SharedLinkCovered(covers, bytes, type);
  };
  hooks.lost = [this](std::vector<SharedLink::Tag> unanswered, std::vector<uint64_t> covers) {
    LoseSharedRequests(unanswered, is_leader_ ? "UNKNOWN the node lost its link to its redis-server; the outcome of "
                                                "this request is unknown"
                                              : "UNKNOWN the node lost its link to the leader; the outcome of this "
                                                "request is unknown");
    // The sessions whose requests were on the link left the gate (their
    // covers with them); the others' covers had every reply arrived.
    for (const gate::CoverId c : covers) CoverOnControl(c);
  };
  shared_link_ = std::make_unique<SharedLink>(io_, std::move(hooks));
}

void Server::LoseSharedRequests(const std::vector<SharedLink::Tag>& unanswered, const std::string& error) {
  std::vector<std::shared_ptr<ClientSession>> lost;
  for (const SharedLink::Tag session : unanswered) {
    auto it = sessions_.find(session);
    if (it != sessions_.end() && (lost.empty() || lost.back() != it->second)) lost.push_back(it->second);
  }
  for (auto& s : lost) s->SharedLinkLost(error);  // (again for a session seen twice: a no-op)
}

void Server::SharedLinkCovered(std::span<const uint64_t> covers, std::string_view bytes, char type) {
  if (type == '-') {
    // Refused (BUSY while a script runs): the control link asks until it is answered.
    for (const gate::CoverId c : covers) CoverOnControl(c);
    return;
  }
  resp::Value role;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(bytes, &consumed, &role, &error) != resp::ParseStatus::kOk) return;
  absl::StatusOr<uint64_t> offset = MasterOffset(role);
  if (!offset.ok()) return;  // no longer the master: the gate was reset with the leadership
  for (const gate::CoverId c : covers) gate_.Covered(c, *offset);
  GateChanged();
}

std::optional<SharedLink::Hold> Server::PauseSharedLink(int64_t ms) {
  if (!shared_link_) return std::nullopt;
  return shared_link_->HoldFor(std::chrono::milliseconds(ms));
}

void Server::UndoPause(const SharedLink::Hold& hold) {
  if (shared_link_) shared_link_->Undo(hold);
}

std::string Server::NoUpstreamReason() const {
  if (state_ != State::kRunning) return "this node is not serving (starting or stopping)";
  if (is_leader_ && !leader_ready_) {
    return "this node leads, but its redis-server is not serving yet (it is being rebuilt, or applies the log)";
  }
  if (!is_leader_ && leader_id_ != 0 && !leader_unreachable_.empty()) {
    return absl::StrCat("this node cannot connect to the leader (", leader_unreachable_, ")");
  }
  if (leader_id_ == 0 && !IsMember()) {
    // A joiner that no leader added yet waits for no election: it holds none.
    return "this node is not a member of a cluster yet (a node started with --join waits for the leader to add it: "
           "ANARCHO.ADD)";
  }
  // Elections take a few election timeouts at most while a majority of the
  // voters reach each other: past that, they do not.
  const auto without = std::chrono::steady_clock::now() - no_leader_since_;
  const auto timeout = std::chrono::milliseconds(options_.raft.tick_ms * options_.raft.election_ticks);
  if (leader_id_ == 0 && without > 4 * timeout) {
    return absl::StrCat("no leader for ", std::chrono::duration_cast<std::chrono::seconds>(without).count(),
                        " s: no election won a majority of the voters (are most of them down or cut off from this "
                        "node?)");
  }
  return "no leader: an election is under way";
}

void Server::NoteLeaderConnect(const asio::error_code& ec) {
  if (!ec) return leader_unreachable_.clear();
  if (leader_unreachable_.empty()) {
    Log(LogComponent::kClient, LogLevel::kWarning, "cannot connect to the leader's client port for clients: %s",
        ec.message());
  }
  leader_unreachable_ = ec.message();
}

void Server::NotifySessions() {
  std::vector<std::shared_ptr<ClientSession>> all;
  for (auto& [_, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->TryConnectUpstream();
}

void Server::SessionClosed(gate::SessionId session) {
  // Not from inside the session's own call chain: it may still be running.
  asio::post(io_, [this, session] { sessions_.erase(session); });
}

size_t NodeFiles(const ServerOptions& options) {
  return kNodeFiles + PeerTransport::kMaxHandshakes + (options.metrics_port != 0 ? MetricsEndpoint::kMaxConnections : 0);
}

// Each client holds two descriptors (its socket and its own link to the
// child); the node needs `node_files` more (Raft links and those in their
// handshake, the log's files, the child's links, snapshots, the metrics
// endpoint's connections). As Redis
// does, the soft limit is raised as far as the hard one allows, and
// maxclients lowered to what fits: a client past it gets Redis's error, where
// one past the descriptors would get nothing.
size_t ClientsTheFileLimitAllows(size_t wanted, size_t node_files) {
  const rlim_t need = static_cast<rlim_t>(wanted) * 2 + node_files;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  if (limit.rlim_cur < need) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? need : std::min(need, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur >= need) return wanted;
  const size_t fit = limit.rlim_cur > node_files + 2 ? static_cast<size_t>((limit.rlim_cur - node_files) / 2) : 1;
  Log(LogComponent::kNode, LogLevel::kWarning,
      "maxclients lowered from %d to %d: the open-file limit is %d (each client needs 2, the node %d more); raise it "
      "(ulimit -n, LimitNOFILE=)",
      wanted, fit, static_cast<uint64_t>(limit.rlim_cur), node_files);
  return fit;
}

void Server::Accept() {
  acceptor_->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) return AcceptFailed(ec, *acceptor_, [this] { Accept(); });
    socket.set_option(asio::ip::tcp::no_delay(true));
    SetTcpKeepAlive(socket.native_handle());
    AddSession(ByteStream(std::move(socket)));
    Accept();
  });
}

// A closed listener (a stop began, also while a retry waited) accepts no more.
void Server::AcceptFailed(const asio::error_code& ec, asio::ip::tcp::acceptor& acceptor, std::function<void()> again) {
  if (state_ == State::kStopped || !acceptor.is_open()) return;
  AcceptAgain(io_, ec, LogComponent::kClient, [this, &acceptor, again = std::move(again)] {
    if (state_ != State::kStopped && acceptor.is_open()) again();
  });
}

// The TLS handshake comes first, bounded in time; a client that fails it
// (no certificate, one from another CA, plain text) is dropped and counted.
void Server::AcceptTls() {
  tls_acceptor_->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) return AcceptFailed(ec, *tls_acceptor_, [this] { AcceptTls(); });
    asio::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    SetTcpKeepAlive(socket.native_handle());
    struct Pending {
      std::shared_ptr<asio::ssl::context> context;
      std::unique_ptr<ByteStream::TlsStream> stream;
      asio::steady_timer deadline;
    };
    auto p = std::make_shared<Pending>(Pending{tls_context_, nullptr, asio::steady_timer(io_)});
    p->stream = std::make_unique<ByteStream::TlsStream>(std::move(socket), *p->context);
    p->deadline.expires_after(std::chrono::seconds(10));
    p->deadline.async_wait([weak = std::weak_ptr<Pending>(p)](const asio::error_code& e) {
      auto pending = weak.lock();
      if (e || !pending || !pending->stream) return;
      asio::error_code ignored;
      pending->stream->next_layer().close(ignored);
    });
    p->stream->async_handshake(asio::ssl::stream_base::server, [this, p](const asio::error_code& e) {
      p->deadline.cancel();
      if (e) {
        ++tls_handshakes_failed_;
        Log(LogComponent::kClient, LogLevel::kDebug, "TLS handshake failed: %s", e.message());
        return;
      }
      ++tls_handshakes_;
      AddSession(ByteStream(std::move(p->stream), std::move(p->context)));
    });
    AcceptTls();
  });
}

// Clients count against --maxclients; followers' relays (named as the node's
// own links, which INFO and CLIENT LIST leave out too) do not, up to one per
// other member, so a client that names itself so gains no slot.
size_t Server::ClientConnections() const {
  size_t internal = 0;
  for (const auto& [_, s] : sessions_) internal += s->internal_name();
  return sessions_.size() - std::min(internal, rlog_->peers().size());
}

void Server::AddSession(ByteStream stream) {
  if (ClientConnections() >= options_.max_clients) {
    auto msg = std::make_shared<std::string>(kMaxClientsError);
    auto s = std::make_shared<ByteStream>(std::move(stream));
    s->async_write(asio::buffer(*msg), [msg, s](const asio::error_code&, size_t) { s->Close(); });
    return;
  }
  const gate::SessionId id = next_session_++;
  auto session = std::make_shared<ClientSession>(*this, std::move(stream), id);
  sessions_.emplace(id, session);
  session->Start();
}

// ------------------------------------------------------------------ as clients see them

ClientSession* Server::SessionOfChildClient(int64_t child_client_id) const {
  for (const auto& [_, s] : sessions_) {
    if (s->child_client_id() == child_client_id) return s.get();
  }
  return nullptr;
}

std::optional<ClientAddresses> Server::SessionAddresses(int64_t child_client_id) const {
  const ClientSession* s = SessionOfChildClient(child_client_id);
  return s != nullptr ? std::optional(s->addresses()) : std::nullopt;
}

bool Server::UnblockWait(int64_t child_client_id, bool error) {
  ClientSession* s = SessionOfChildClient(child_client_id);
  return s != nullptr && s->UnblockWait(error);
}

uint64_t Server::ChildClientCount() const {
  uint64_t n = 0;
  for (const auto& [_, s] : sessions_) n += s->child_client_id() >= 0 && !s->internal_name();
  return n;
}

// CONFIG GET answers `port`, `bind` and `maxclients` as the node serves
// them (the child listens on no port and no address, and takes the node's
// own links besides its clients').
std::string Server::WithNodeSettings(std::string_view reply, int proto) const {
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  if (resp::ParseValue(reply, &consumed, &v, &error) != resp::ParseStatus::kOk || v.elements.size() % 2 != 0) {
    return std::string(reply);
  }
  // The node's own: its client ports and TLS (the child has neither), and
  // its link to its child (whose secret stays the node's).
  const TlsOptions& tls = options_.tls;
  const std::map<std::string_view, std::string> node = {
      {"port", absl::StrCat(options_.port)},
      {"bind", options_.bind},
      {"maxclients", absl::StrCat(options_.max_clients)},
      {"masterauth", ""},
      {"masteruser", ""},
      {"tls-port", absl::StrCat(tls.port)},
      {"tls-cert-file", tls.cert_file},
      {"tls-key-file", tls.key_file},
      {"tls-ca-cert-file", tls.ca_cert_file},
      {"tls-ca-cert-dir", tls.ca_cert_dir},
      {"tls-auth-clients", tls.auth_clients},
      {"tls-protocols", tls.protocols},
      {"tls-ciphers", tls.ciphers},
      {"tls-ciphersuites", tls.ciphersuites},
      {"tls-replication", tls.peers ? "yes" : "no"},
  };
  std::string out;
  resp::AppendMapHeader(&out, v.elements.size() / 2, proto);
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    const resp::Value& key = v.elements[i];
    const resp::Value& value = v.elements[i + 1];
    if (key.type != resp::Type::kBulkString || value.type != resp::Type::kBulkString) return std::string(reply);
    resp::AppendBulkString(&out, key.str);
    const auto it = node.find(key.str);
    resp::AppendBulkString(&out, it != node.end() ? it->second : value.str);
  }
  return out;
}

// The filters are matched against the leader child's CLIENT LIST as clients
// see it (real addresses); a match is a session of this node, closed as
// Redis closes a killed client (the caller after its reply). USER names a
// user of the child's ACL or is an error, as in Redis; the node's own user is
// no user a client can see.
void Server::KillClients(std::span<const std::string_view> args, gate::SessionId caller,
                         std::function<void(std::string)> reply) {
  absl::StatusOr<ClientKillFilter> filter = ClientKillFilterOf(args);
  if (!filter.ok()) return reply(absl::StrCat("-", filter.status().message(), "\r\n"));
  if (!is_leader_ || !control_.connected()) return reply("-TRYAGAIN this node is not a serving leader; retry\r\n");
  auto list = [this, f = *filter, caller, reply] {
    control_.Call({"CLIENT", "LIST"}, [this, f, caller, reply](const resp::Value& rows) {
      KillMatching(f, caller, rows, reply);
    });
  };
  if (!filter->user) return list();
  control_.Call({"ACL", "GETUSER", *filter->user}, [reply, user = *filter->user, list](const resp::Value& v) {
    if (v.type == resp::Type::kNull || user == kInternalUser) {
      return reply(absl::StrCat("-ERR No such user '", user, "'\r\n"));
    }
    list();
  });
}

void Server::KillMatching(const ClientKillFilter& filter, gate::SessionId caller, const resp::Value& client_list,
                          const std::function<void(std::string)>& reply) {
  // The caller by its session: its CLIENT ID may still be on its way.
  auto it = sessions_.find(caller);
  const int64_t caller_id = it == sessions_.end() ? -1 : it->second->child_client_id();
  if (client_list.type != resp::Type::kBulkString) return reply("-ERR the node could not list its clients; retry\r\n");
  std::vector<std::shared_ptr<ClientSession>> killed;
  std::shared_ptr<ClientSession> self;
  for (const ClientRow& row : RowsForClients(client_list.str, [this](int64_t id) { return SessionAddresses(id); })) {
    if (!filter.Matches(row, caller_id)) continue;
    for (const auto& [id, s] : sessions_) {
      if (s->child_client_id() != row.id()) continue;
      if (id == caller) {
        if (filter.skipme) continue;
        self = s;
      } else {
        killed.push_back(s);
      }
    }
  }
  const size_t count = killed.size() + (self ? 1 : 0);
  for (auto& s : killed) s->Kill();
  if (filter.old_form) {
    reply(count == 0 ? "-ERR No such client\r\n" : "+OK\r\n");
  } else {
    reply(absl::StrCat(":", count, "\r\n"));
  }
  if (self) self->Kill();
}

std::string Server::CheckSettings(const SettingsCheck& check, std::string_view config_get_reply) const {
  const std::string reply = WithNodeSettings(config_get_reply, 2);
  resp::Value v;
  size_t consumed = 0;
  std::string error;
  std::map<std::string, std::string> now;
  if (resp::ParseValue(reply, &consumed, &v, &error) == resp::ParseStatus::kOk) {
    for (size_t i = 0; i + 1 < v.elements.size(); i += 2) now[v.elements[i].str] = v.elements[i + 1].str;
  }
  for (size_t i = 0; i < check.wanted.size(); ++i) {
    const auto& [name, value] = check.wanted[i];
    auto it = now.find(name);
    if (it == now.end() || !absl::EqualsIgnoreCase(it->second, value)) return absl::StrCat("-", check.refusals[i], "\r\n");
  }
  return "+OK\r\n";
}

// ---------------------------------------------------------------- users

void Server::LearnDefaultUser() {
  if (logged_.acl_generation() == acl_generation_seen_ || !control_.connected()) return;
  acl_generation_seen_ = logged_.acl_generation();
  // (Called once the child ran the newest change: on a follower, once it
  // acknowledged that entry; on the leader, whose child ran it first.)
  control_.Call({"ACL", "GETUSER", "default"}, [this](const resp::Value& v) {
    if (v.type != resp::Type::kArray && v.type != resp::Type::kMap) return;
    for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
      if (v.elements[i].AsString() != "flags") continue;
      bool on = false, nopass = false;
      for (const resp::Value& f : v.elements[i + 1].elements) {
        on |= f.AsString() == "on";
        nopass |= f.AsString() == "nopass";
      }
      default_user_open_ = on && nopass;
    }
  });
}

// ACL DRYRUN's own errors. A command it does not know (an unknown
// subcommand) or a wrong arity: allowed here, the command's own error says
// it. A user deleted meanwhile may run nothing. Any other error (BUSY while a
// script runs, LOADING) says nothing of the user's rights: the request is
// refused with it, as Redis refuses such commands then.
static std::string DryRunRefusal(std::string_view error, const std::string& denied) {
  if (error.starts_with("ERR Command '") || error.find("wrong number of arguments") != std::string_view::npos) return "";
  if (error.starts_with("ERR User '")) return denied;
  return std::string(error);
}

void Server::CheckPermission(const std::string& user, std::span<const std::string_view> args,
                             std::function<void(std::string)> done) {
  std::string shown = absl::AsciiStrToLower(absl::string_view(args[0].data(), args[0].size()));
  if (shown == "client" && args.size() > 1) {
    absl::StrAppend(&shown, "|", absl::AsciiStrToLower(absl::string_view(args[1].data(), args[1].size())));
  }
  const std::string denied = absl::StrCat("NOPERM this user has no permissions to run the '", shown, "' command");
  if (IsNodeCommand(shown)) return done(logged_.node_acl().Allowed(user, shown) ? "" : denied);
  // Answered exactly once: by the child, or with TRYAGAIN if the link to the
  // child closes first (a rebuild drops the requests in flight).
  struct Once {
    Once(asio::io_context& io, std::function<void(std::string)> done) : io(io), done(std::move(done)) {}
    Once(const Once&) = delete;
    asio::io_context& io;
    std::function<void(std::string)> done;
    ~Once() {
      if (done) asio::post(io, [d = std::move(done)] { d("TRYAGAIN the node's redis-server restarted; retry"); });
    }
  };
  auto once = std::make_shared<Once>(io_, std::move(done));
  if (!control_.connected()) return;  // ~Once answers
  std::vector<std::string> dryrun = {"ACL", "DRYRUN", user};
  dryrun.insert(dryrun.end(), args.begin(), args.end());
  control_.Call(dryrun, [once, denied](const resp::Value& v) {
    auto done = std::exchange(once->done, nullptr);
    if (v.type == resp::Type::kSimpleString && v.str == "OK") return done("");
    if (v.type == resp::Type::kError) return done(DryRunRefusal(v.str, denied));
    // DRYRUN says why in a sentence ("This user has no permissions to run
    // the 'shutdown' command"); the error a client gets starts in lowercase.
    if (v.str.empty()) return done(denied);
    std::string why = v.str;
    why[0] = absl::ascii_tolower(static_cast<unsigned char>(why[0]));
    done(absl::StrCat("NOPERM ", why));
  });
}

}  // namespace node
