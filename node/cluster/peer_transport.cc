#include "node/cluster/peer_transport.h"

#include <endian.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/accept_again.h"
#include "node/logging.h"
#include "node/cluster/peer_frames.h"
#include "node/cluster/peer_link.h"
#include "node/read_buffer.h"

namespace node {
namespace {
constexpr size_t kMaxQueued = 64 << 20;   // per peer, then drop
constexpr int kMinBackoffMs = 50, kMaxBackoffMs = 1000;
constexpr auto kStableLink = std::chrono::seconds(1);
// A link that does not finish its handshake in time is closed.
constexpr auto kHandshakeTimeout = std::chrono::seconds(5);
constexpr auto kDrainPoll = std::chrono::milliseconds(5);
using peer::kAckFrame;
using peer::kChallengeFrame;
using peer::kHelloFrame;
using peer::kMaxHandshakeFrame;
using peer::kProofFrame;
using peer::kRaftFrame;
using peer::kSnapshotFrame;
using peer::AppendFrame;
using peer::ForEachFrame;
}  // namespace

struct PeerTransport::Peer {
  explicit Peer(asio::io_context& io) : stream(asio::ip::tcp::socket(io)), retry(io), deadline(io) {}
  uint64_t id = 0;
  std::string host;
  int port = 0;
  ByteStream stream;
  // deadline: the connect's and handshake's, then the acknowledgements' watch.
  asio::steady_timer retry, deadline;
  // connecting: TCP connect and handshake; connected: authenticated.
  bool connected = false, connecting = false, writing = false, removed = false;
  std::string queued, writing_buf, hello_buf;
  std::unique_ptr<peer::DialerHandshake> handshake;
  ReadBuffer in;
  int backoff_ms = kMinBackoffMs;
  uint64_t generation = 0;  // bumps with each new socket
  bool retry_pending = false;
  bool reported_down = false;  // its failure was logged; log when it is stable again
  std::chrono::steady_clock::time_point up_since;
  bool acks = false;  // its acceptor acknowledges what it reads
  uint64_t written = 0, acked = 0;  // bytes on this socket: handed to it, acknowledged
  std::chrono::steady_clock::time_point unacked_since;  // {}: nothing awaits an acknowledgement
};

struct PeerTransport::Inbound {
  Inbound(ByteStream s, const peer::Identity& id)
      : stream(std::move(s)),
        deadline(stream.get_executor()),
        ack_timer(stream.get_executor()),
        link(id, peer::RandomBytes(peer::kNonceBytes)) {}
  ByteStream stream;
  asio::steady_timer deadline, ack_timer;
  ReadBuffer in;
  std::string peer;  // its address, for logs
  peer::InboundLink link;
  bool closing = false;
  bool writing = false, ack_armed = false;
  uint64_t received = 0, acked = 0;  // bytes read on it; the most acknowledged
  std::chrono::steady_clock::time_point last_ack;
  std::string out;  // the challenge, then an acknowledgement
};

PeerLinkStats PeerTransport::stats() const {
  PeerLinkStats out = stats_;
  for (const auto& [id, p] : peers_) out.connected[id] = p->connected;
  return out;
}

int PeerTransport::PeerTlsPort(uint64_t id) const {
  auto it = peer_tls_ports_.find(id);
  return it == peer_tls_ports_.end() ? 0 : it->second;
}

// A stream holds the context it was made with: only the links made from now
// on (a reconnect, a peer's new link) show the new certificate and trust the
// new CA.
void PeerTransport::SetTls(std::shared_ptr<asio::ssl::context> tls) {
  if (tls_ && tls) tls_ = std::move(tls);
}

PeerTransport::PeerTransport(asio::io_context& io, peer::Identity identity, std::shared_ptr<asio::ssl::context> tls,
                             std::chrono::milliseconds silent_limit)
    : io_(io), identity_(std::move(identity)), tls_(std::move(tls)), silent_limit_(silent_limit) {}

ByteStream PeerTransport::NewStream(asio::ip::tcp::socket socket) {
  if (!tls_) return ByteStream(std::move(socket));
  return ByteStream(std::make_unique<ByteStream::TlsStream>(std::move(socket), *tls_), tls_);
}

PeerTransport::~PeerTransport() { Stop(); }

void PeerTransport::Stop() {
  stopped_ = true;
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  for (auto& [_, p] : peers_) {
    p->removed = true;
    p->stream.Close();
    p->retry.cancel();
    p->deadline.cancel();
  }
  for (auto& w : inbound_) {
    if (auto in = w.lock()) {
      in->stream.Close();
      in->deadline.cancel();
      in->ack_timer.cancel();
    }
  }
}

absl::Status PeerTransport::Listen(const std::string& host, int port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad raft address ", host));
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io_);
  asio::ip::tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("raft listen on ", host, ":", port, ": ", ec.message()));
  Accept();
  return absl::OkStatus();
}

void PeerTransport::Accept() {
  acceptor_->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket s) {
    if (ec) {
      if (stopped_ || !acceptor_->is_open()) return;
      return AcceptAgain(io_, ec, LogComponent::kPeer, [this] {
        if (!stopped_ && acceptor_->is_open()) Accept();
      });
    }
    if (Handshaking() >= kMaxHandshakes) {
      ++stats_.handshakes_refused;
      Log(LogComponent::kPeer, LogLevel::kWarning, "a raft link refused: %d links are in their handshake already",
          kMaxHandshakes);
      asio::error_code ignored;
      s.close(ignored);  // its descriptor is back before the next accept
      return Accept();
    }
    s.set_option(asio::ip::tcp::no_delay(true));
    auto in = std::make_shared<Inbound>(NewStream(std::move(s)), identity_);
    asio::error_code ec2;
    auto ep = in->stream.socket().remote_endpoint(ec2);
    in->peer = ec2 ? "?" : absl::StrCat(ep.address().to_string(), ":", ep.port());
    Log(LogComponent::kPeer, LogLevel::kDebug, "raft link from %s accepted", in->peer);
    std::weak_ptr<Inbound> weak = in;
    in->link.send = [this, weak](std::string bytes) {
      // The challenge: the first write on an incoming link.
      auto in = weak.lock();
      if (!in) return;
      in->out = std::move(bytes);
      in->writing = true;
      in->stream.async_write(asio::buffer(in->out), [this, in](const asio::error_code& ec, size_t) {
        in->writing = false;
        if (!ec) Ack(in);
      });
    };
    in->link.adopt = [this](const peer::ClusterName& cluster) { return Adopt(cluster); };
    in->link.on_message = [this](consensus::pb::Message&& m) { on_message(std::move(m)); };
    in->link.on_snapshot_frame = [this](pb::SnapshotFrame&& f) {
      if (on_snapshot_frame) on_snapshot_frame(std::move(f));
    };
    // A dialer that does not finish the handshake in time is dropped.
    in->deadline.expires_after(kHandshakeTimeout);
    in->deadline.async_wait([this, weak](const asio::error_code& ec) {
      auto in = weak.lock();
      if (ec || !in || in->link.node() != 0 || in->closing || stopped_) return;
      Refuse(in, "no handshake in time");
    });
    inbound_.push_back(in);
    // With TLS, the TLS handshake first (within the same deadline).
    in->stream.Handshake(asio::ssl::stream_base::server, [this, in](const asio::error_code& ec) {
      if (stopped_ || in->closing) return;
      if (ec) {
        // Plain bytes where a TLS record belongs: OpenSSL says "wrong version number".
        const bool plain = absl::StrContains(ec.message(), "wrong version number");
        return Refuse(in, absl::StrCat("TLS: ", ec.message(),
                                       plain ? " (the dialer does not speak TLS: every member needs --tls-peers, or none)" : ""));
      }
      ReadInbound(in);
    });
    Accept();
  });
}

size_t PeerTransport::Handshaking() {
  std::erase_if(inbound_, [](const std::weak_ptr<Inbound>& w) { return w.expired(); });
  return std::count_if(inbound_.begin(), inbound_.end(), [](const std::weak_ptr<Inbound>& w) {
    auto in = w.lock();
    return in && !in->closing && in->link.node() == 0;
  });
}

void PeerTransport::ReadInbound(const std::shared_ptr<Inbound>& in) {
  in->stream.async_read_some(in->in.Prepare(256 << 10), [this, in](const asio::error_code& ec, size_t n) {
    if (ec || stopped_ || in->closing) {
      Log(LogComponent::kPeer, LogLevel::kDebug, "raft link from %s closed after %d frames: %s", in->peer, in->link.frames(), ec.message());
      if (!in->closing) in->deadline.cancel();
      in->ack_timer.cancel();
      return;
    }
    in->in.Commit(n);
    in->received += n;
    const bool was_authenticated = in->link.node() != 0;
    const uint64_t wrong_before = in->link.wrong_sender();
    const absl::Status s = in->link.OnData(in->in);
    stats_.wrong_sender += in->link.wrong_sender() - wrong_before;
    if (!was_authenticated && in->link.node() != 0) Authenticated(in);
    if (!s.ok()) return Refuse(in, s.message());
    Ack(in);
    ReadInbound(in);
  });
}

void PeerTransport::Authenticated(const std::shared_ptr<Inbound>& in) {
  const uint64_t node = in->link.node();
  in->deadline.cancel();
  peer_tls_ports_[node] = static_cast<int>(in->link.node_tls_port());
  if (on_peer_lease) on_peer_lease(node, in->link.node_lease_reads());
  Log(LogComponent::kPeer, LogLevel::kDebug, "raft link from %s authenticated as node %d", in->peer, node);
  // A dialer keeps one link to this node: its older ones are dead to it,
  // though a connection that stalled was never closed here.
  for (const auto& w : inbound_) {
    auto old = w.lock();
    if (!old || old == in || old->closing || old->link.node() != node) continue;
    Log(LogComponent::kPeer, LogLevel::kInfo, "raft link from node %d (%s) replaced by a newer one (%s): closed", node,
        old->peer, in->peer);
    old->closing = true;
    old->ack_timer.cancel();
    old->stream.Close();
  }
}

void PeerTransport::Ack(const std::shared_ptr<Inbound>& in) {
  if (in->closing || stopped_ || in->writing || !in->link.sends_acks() || in->received == in->acked) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < in->last_ack + kAckInterval) {
    if (in->ack_armed) return;
    in->ack_armed = true;
    in->ack_timer.expires_at(in->last_ack + kAckInterval);
    in->ack_timer.async_wait([this, weak = std::weak_ptr<Inbound>(in)](const asio::error_code& ec) {
      auto in = weak.lock();
      if (!in) return;
      in->ack_armed = false;
      if (!ec) Ack(in);
    });
    return;
  }
  pb::PeerAck ack;
  ack.set_received(in->received);
  in->out.clear();
  AppendFrame(&in->out, kAckFrame, ack);
  in->acked = in->received;
  in->last_ack = now;
  in->writing = true;
  in->stream.async_write(asio::buffer(in->out), [this, in](const asio::error_code& ec, size_t) {
    in->writing = false;
    if (!ec) Ack(in);  // what arrived meanwhile
  });
}

void PeerTransport::Refuse(const std::shared_ptr<Inbound>& in, absl::string_view why) {
  ++stats_.handshakes_refused;
  stats_.last_refusal = absl::StrCat("raft link from ", in->peer, ": ", why);
  Log(LogComponent::kPeer, LogLevel::kWarning, "raft link from %s%s refused: %s", in->peer,
      in->link.node() ? absl::StrCat(" (node ", in->link.node(), ")") : "", why);
  in->closing = true;
  // Nothing more is read; the socket closes once the refusal had time to
  // leave (the dialer's log then says why).
  in->deadline.expires_after(std::chrono::milliseconds(200));
  in->deadline.async_wait([in](const asio::error_code&) { in->stream.Close(); });
}

bool PeerTransport::Adopt(const peer::ClusterName& cluster) {
  auto agreed = peer::AgreeCluster(identity_.cluster, cluster);
  if (!agreed.ok()) return false;
  if (*agreed == identity_.cluster) return true;
  if (identity_.cluster.id.empty()) Log(LogComponent::kPeer, LogLevel::kInfo, "joined cluster %s", agreed->id);
  identity_.cluster = *agreed;
  if (on_cluster) on_cluster(*agreed);
  return true;
}

void PeerTransport::SetPeer(uint64_t id, const std::string& host, int port) {
  if (id == identity_.self) return;
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    if (it->second->host == host && it->second->port == port) return;
    RemovePeer(id);
  }
  auto p = std::make_shared<Peer>(io_);
  p->id = id;
  p->host = host;
  p->port = port;
  peers_[id] = p;
}

void PeerTransport::RemovePeer(uint64_t id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  it->second->removed = true;
  it->second->stream.Close();
  it->second->retry.cancel();
  it->second->deadline.cancel();
  peers_.erase(it);
}

bool PeerTransport::Queue(uint64_t to, char type, const google::protobuf::MessageLite& m) {
  auto it = peers_.find(to);
  if (it == peers_.end()) {
    // A joining node whose --peers leaves out the leader answers it nothing,
    // and stays a learner the leader probes for ever: say why, once.
    if (unknown_said_.insert(to).second) {
      Log(LogComponent::kPeer, LogLevel::kWarning,
          "no address for node %d: messages to it are dropped (name it in --peers, or --peer-addresses)", to);
    }
    return false;
  }
  Peer& p = *it->second;
  // The link is down and waits for its next reconnect: drop. Queued, the
  // heartbeats of a whole outage (and every ReadIndex round sends one)
  // would reach the peer at once when it comes back, and each of its
  // answers would make the leader send it entries again.
  if (!p.connected && p.retry_pending) return false;
  if (p.queued.size() > kMaxQueued) {
    p.queued.clear();
    if (on_unreachable) on_unreachable(p.id);
  }
  AppendFrame(&p.queued, type, m);
  return true;
}

void PeerTransport::Flush(const std::shared_ptr<Peer>& p) {
  if (p->connected) {
    Write(p);
  } else if (!p->connecting && !p->retry_pending) {
    Connect(p);
  }
}

void PeerTransport::Send(std::vector<consensus::pb::Message> messages) {
  std::vector<std::shared_ptr<Peer>> touched;
  for (const auto& m : messages) {
    if (Queue(m.to(), kRaftFrame, m)) touched.push_back(peers_[m.to()]);
  }
  for (auto& p : touched) Flush(p);
}

void PeerTransport::Send(uint64_t to, const pb::SnapshotFrame& frame) {
  if (Queue(to, kSnapshotFrame, frame)) Flush(peers_[to]);
}

bool PeerTransport::Drained() const {
  for (const auto& [_, p] : peers_) {
    if (p->writing || (!p->queued.empty() && (p->connected || p->connecting))) return false;
  }
  return true;
}

void PeerTransport::Drain(std::chrono::milliseconds limit, std::function<void()> done) {
  if (!drain_timer_) drain_timer_ = std::make_unique<asio::steady_timer>(io_);
  WaitDrained(std::chrono::steady_clock::now() + limit, std::move(done));
}

void PeerTransport::WaitDrained(std::chrono::steady_clock::time_point until, std::function<void()> done) {
  const auto now = std::chrono::steady_clock::now();
  if (stopped_ || Drained() || now >= until) return done();
  drain_timer_->expires_after(std::min<std::chrono::steady_clock::duration>(kDrainPoll, until - now));
  drain_timer_->async_wait([this, until, done = std::move(done)](const asio::error_code& ec) mutable {
    if (ec == asio::error::operation_aborted) return;  // the transport is gone, or a newer Drain waits
    WaitDrained(until, std::move(done));
  });
}

void PeerTransport::Connect(const std::shared_ptr<Peer>& p) {
  if (p->removed || stopped_) return;
  p->connecting = true;
  asio::error_code ec;
  auto addr = asio::ip::make_address(p->host, ec);
  if (ec) {
    p->connecting = false;
    Log(LogComponent::kPeer, LogLevel::kError, "raft link to node %d: bad address %s", p->id, p->host);
    return;
  }
  p->stream = NewStream(asio::ip::tcp::socket(io_));
  ++p->generation;
  p->writing = false;
  p->writing_buf.clear();
  p->in = ReadBuffer();
  p->acks = false;
  p->written = p->acked = 0;
  p->unacked_since = {};
  p->handshake = std::make_unique<peer::DialerHandshake>(identity_, p->id, peer::RandomBytes(peer::kNonceBytes));
  // Connect and handshake within the deadline, or try again later.
  p->deadline.expires_after(kHandshakeTimeout);
  p->deadline.async_wait([this, p, generation = p->generation](const asio::error_code& ec) {
    if (ec || generation != p->generation || p->connected || p->removed || stopped_) return;
    Fail(p, asio::error::timed_out);
  });
  p->stream.socket().async_connect(
      asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(p->port)),
      [this, p, generation = p->generation](const asio::error_code& ec) {
        if (p->removed || stopped_ || generation != p->generation) return;
        if (ec) return Fail(p, ec);
        asio::error_code ignored;
        p->stream.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
        // With TLS, the TLS handshake first (within the same deadline).
        p->stream.Handshake(asio::ssl::stream_base::client, [this, p, generation](const asio::error_code& ec) {
          if (p->removed || stopped_ || generation != p->generation) return;
          if (ec) return Fail(p, ec);
          p->hello_buf.clear();
          AppendFrame(&p->hello_buf, kHelloFrame, p->handshake->hello());
          p->written = p->hello_buf.size();
          p->stream.async_write(asio::buffer(p->hello_buf), [this, p, generation](const asio::error_code& ec, size_t) {
            if (ec && generation == p->generation && !p->removed && !stopped_) Fail(p, ec);
          });
          ReadOutbound(p);
        });
      });
}

// The acceptor sends its challenge, then acknowledgements if it agreed to, or
// nothing: a read that fails makes a dead link known at once rather than at a
// later write.
void PeerTransport::ReadOutbound(const std::shared_ptr<Peer>& p) {
  p->stream.async_read_some(p->in.Prepare(kMaxHandshakeFrame + 4), [this, p, generation = p->generation](
                                                                        const asio::error_code& ec, size_t n) {
    if (p->removed || stopped_ || generation != p->generation) return;
    if (ec) return Fail(p, ec);
    p->in.Commit(n);
    bool challenged = false;
    const bool ok = ForEachFrame(p->in, [] { return kMaxHandshakeFrame; }, [&](char type, std::string_view payload) {
      if (p->connected) {
        if (type != kAckFrame || !p->acks) return false;
        OnAck(p, payload);
        return true;
      }
      if (type != kChallengeFrame) return false;
      challenged = true;
      OnChallenge(p, payload);
      return p->connected;
    });
    if (!ok || (!challenged && p->connected && !p->acks && !p->in.empty())) {
      if (p->connecting || p->connected) Fail(p, asio::error::access_denied);
      return;
    }
    ReadOutbound(p);
  });
}

void PeerTransport::OnChallenge(const std::shared_ptr<Peer>& p, std::string_view payload) {
  pb::PeerChallenge c;
  absl::StatusOr<pb::PeerProof> proof = absl::InvalidArgumentError("a challenge that does not parse");
  if (c.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) proof = p->handshake->OnChallenge(c);
  if (proof.ok() && !Adopt(p->handshake->cluster())) {
    proof = absl::PermissionDeniedError("its cluster differs from the one this node just joined");
  }
  if (!proof.ok()) {
    ++stats_.handshakes_refused;
    stats_.last_refusal = absl::StrCat("raft link to node ", p->id, ": ", proof.status().message());
    Log(LogComponent::kPeer, LogLevel::kWarning, "raft link to node %d (%s:%d): handshake failed: %s", p->id, p->host, p->port,
        proof.status().message());
    return;
  }
  if (on_peer_lease) on_peer_lease(p->id, p->handshake->peer_lease_reads());
  // The proof goes first, then whatever was queued meanwhile.
  std::string proof_frame;
  AppendFrame(&proof_frame, kProofFrame, *proof);
  p->queued.insert(0, proof_frame);
  p->connecting = false;
  p->connected = true;
  p->up_since = std::chrono::steady_clock::now();
  p->acks = p->handshake->peer_sends_acks();
  if (p->acks) {
    WatchAcks(p);  // the handshake's deadline is done
  } else {
    p->deadline.cancel();
  }
  Write(p);
}

void PeerTransport::OnAck(const std::shared_ptr<Peer>& p, std::string_view payload) {
  pb::PeerAck ack;
  if (!ack.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  p->acked = std::max<uint64_t>(p->acked, ack.received());
  // Any progress restarts the wait for the rest.
  p->unacked_since = p->acked >= p->written ? std::chrono::steady_clock::time_point{} : std::chrono::steady_clock::now();
}

void PeerTransport::WatchAcks(const std::shared_ptr<Peer>& p) {
  p->deadline.expires_after(silent_limit_ / 2);
  p->deadline.async_wait([this, p, generation = p->generation](const asio::error_code& ec) {
    if (ec || generation != p->generation || !p->connected || p->removed || stopped_) return;
    const auto since = p->unacked_since;
    if (since != std::chrono::steady_clock::time_point{} && std::chrono::steady_clock::now() - since >= silent_limit_) {
      Log(LogComponent::kPeer, LogLevel::kWarning,
          "raft link to node %d (%s:%d): %d bytes written and not acknowledged for %d ms; dialling again", p->id, p->host,
          p->port, p->written - p->acked, silent_limit_.count());
      ++stats_.silent;
      return Fail(p, asio::error::timed_out);
    }
    WatchAcks(p);
  });
}

void PeerTransport::Write(const std::shared_ptr<Peer>& p) {
  if (p->writing || p->queued.empty() || !p->connected) return;
  std::swap(p->queued, p->writing_buf);
  p->writing = true;
  p->written += p->writing_buf.size();
  if (p->acks && p->unacked_since == std::chrono::steady_clock::time_point{}) {
    p->unacked_since = std::chrono::steady_clock::now();
  }
  p->stream.async_write(asio::buffer(p->writing_buf), [this, p, generation = p->generation](const asio::error_code& ec, size_t) {
    if (generation != p->generation) return;  // a write on a link since replaced
    p->writing = false;
    p->writing_buf.clear();
    if (p->removed || stopped_) return;
    if (ec) return Fail(p, ec);
    // A connect proves little (a proxy or a dying peer may accept, then close):
    // the backoff resets only once the link has carried writes for a while.
    if (p->backoff_ms > kMinBackoffMs && std::chrono::steady_clock::now() - p->up_since >= kStableLink) {
      p->backoff_ms = kMinBackoffMs;
      if (p->reported_down) Log(LogComponent::kPeer, LogLevel::kInfo, "raft link to node %d (%s:%d) is up again", p->id, p->host, p->port);
      p->reported_down = false;
    }
    Write(p);
  });
}

void PeerTransport::Fail(const std::shared_ptr<Peer>& p, const asio::error_code& why) {
  if (!p->reported_down) {
    Log(LogComponent::kPeer, LogLevel::kInfo, "raft link to node %d (%s:%d) is down: %s; reconnecting", p->id, p->host, p->port,
        why.message());
    p->reported_down = true;
  }
  p->stream.Close();
  p->deadline.cancel();
  p->connected = p->connecting = false;
  p->queued.clear();  // Raft resends what matters
  if (on_unreachable) on_unreachable(p->id);
  if (on_peer_gone && (why == asio::error::eof || why == asio::error::connection_reset ||
                       why == asio::error::connection_refused || why == asio::error::broken_pipe ||
                       why == asio::error::connection_aborted)) {
    on_peer_gone(p->id);
  }
  // Reconnect after a backoff; messages sent meanwhile are dropped.
  if (p->retry_pending) return;  // one reconnect at a time
  p->retry_pending = true;
  p->retry.expires_after(std::chrono::milliseconds(p->backoff_ms));
  p->backoff_ms = std::min(p->backoff_ms * 2, kMaxBackoffMs);
  p->retry.async_wait([this, p](const asio::error_code& ec) {
    p->retry_pending = false;
    if (p->removed || stopped_) return;
    if (!p->connected && !p->connecting) Connect(p);
  });
}

}  // namespace node
