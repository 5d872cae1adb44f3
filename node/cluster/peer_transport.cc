#include "node/cluster/peer_transport.h"

#include <endian.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "node/read_buffer.h"

namespace node {
namespace {
constexpr size_t kMaxQueued = 64 << 20;   // per peer, then drop
constexpr uint32_t kMaxFrame = 256 << 20;
constexpr int kMinBackoffMs = 50, kMaxBackoffMs = 1000;
constexpr auto kStableLink = std::chrono::seconds(1);
constexpr char kRaftFrame = 'r';
constexpr char kSnapshotFrame = 's';
}  // namespace

struct PeerTransport::Peer {
  explicit Peer(asio::io_context& io) : socket(io), retry(io) {}
  uint64_t id = 0;
  std::string host;
  int port = 0;
  asio::ip::tcp::socket socket;
  asio::steady_timer retry;
  bool connected = false, connecting = false, writing = false, removed = false;
  std::string queued, writing_buf;
  int backoff_ms = kMinBackoffMs;
  uint64_t generation = 0;  // bumps with each new socket
  bool retry_pending = false;
  bool reported_down = false;  // its failure was logged; log when it is stable again
  std::chrono::steady_clock::time_point up_since;
};

struct PeerTransport::Inbound {
  explicit Inbound(asio::ip::tcp::socket s) : socket(std::move(s)) {}
  asio::ip::tcp::socket socket;
  ReadBuffer in;
  std::string peer;  // for debug logs
  uint64_t frames = 0;
};

PeerTransport::PeerTransport(asio::io_context& io, uint64_t self_id) : io_(io), self_(self_id) {}

PeerTransport::~PeerTransport() { Stop(); }

void PeerTransport::Stop() {
  stopped_ = true;
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  for (auto& [_, p] : peers_) {
    p->removed = true;
    p->socket.close(ec);
    p->retry.cancel();
  }
  for (auto& w : inbound_) {
    if (auto in = w.lock()) in->socket.close(ec);
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
      if (!stopped_) Accept();
      return;
    }
    s.set_option(asio::ip::tcp::no_delay(true));
    auto in = std::make_shared<Inbound>(std::move(s));
    if (LogEnabled(LogLevel::kDebug)) {
      asio::error_code ec2;
      auto ep = in->socket.remote_endpoint(ec2);
      in->peer = ec2 ? "?" : absl::StrCat(ep.address().to_string(), ":", ep.port());
      Log(LogLevel::kDebug, "raft link from %s accepted", in->peer);
    }
    inbound_.push_back(in);
    std::erase_if(inbound_, [](const std::weak_ptr<Inbound>& w) { return w.expired(); });
    ReadInbound(in);
    Accept();
  });
}

void PeerTransport::ReadInbound(const std::shared_ptr<Inbound>& in) {
  in->socket.async_read_some(in->in.Prepare(256 << 10), [this, in](const asio::error_code& ec, size_t n) {
    if (ec || stopped_) {
      Log(LogLevel::kDebug, "raft link from %s closed after %d frames: %s", in->peer, in->frames, ec.message());
      return;
    }
    in->in.Commit(n);
    while (in->in.size() >= 4) {
      uint32_t len;
      std::memcpy(&len, in->in.data().data(), 4);
      len = be32toh(len);
      if (len > kMaxFrame) {
        Log(LogLevel::kWarning, "raft link: frame of %d bytes; closing", len);
        asio::error_code ec2;
        in->socket.close(ec2);
        return;
      }
      if (in->in.size() < 4 + static_cast<size_t>(len)) break;
      ++in->frames;
      const char* payload = in->in.data().data() + 5;
      const int size = static_cast<int>(len) - 1;
      const char type = len > 0 ? in->in.data()[4] : 0;
      bool ok = false;
      if (type == kRaftFrame) {
        consensus::pb::Message m;
        if ((ok = m.ParseFromArray(payload, size))) on_message(std::move(m));
      } else if (type == kSnapshotFrame) {
        pb::SnapshotFrame f;
        if ((ok = f.ParseFromArray(payload, size)) && on_snapshot_frame) on_snapshot_frame(std::move(f));
      }
      if (!ok) Log(LogLevel::kWarning, "raft link: a frame of %d bytes that does not parse; skipped", len);
      in->in.Consume(4 + len);
    }
    ReadInbound(in);
  });
}

void PeerTransport::SetPeer(uint64_t id, const std::string& host, int port) {
  if (id == self_) return;
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
  asio::error_code ec;
  it->second->removed = true;
  it->second->socket.close(ec);
  it->second->retry.cancel();
  peers_.erase(it);
}

bool PeerTransport::Queue(uint64_t to, char type, const google::protobuf::MessageLite& m) {
  auto it = peers_.find(to);
  if (it == peers_.end()) return false;
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
  uint32_t len = htobe32(static_cast<uint32_t>(m.ByteSizeLong() + 1));
  p.queued.append(reinterpret_cast<const char*>(&len), 4);
  p.queued.push_back(type);
  m.AppendToString(&p.queued);
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

void PeerTransport::Connect(const std::shared_ptr<Peer>& p) {
  if (p->removed || stopped_) return;
  p->connecting = true;
  asio::error_code ec;
  auto addr = asio::ip::make_address(p->host, ec);
  if (ec) {
    p->connecting = false;
    Log(LogLevel::kError, "raft link to node %d: bad address %s", p->id, p->host);
    return;
  }
  p->socket = asio::ip::tcp::socket(io_);
  ++p->generation;
  p->writing = false;
  p->writing_buf.clear();
  p->socket.async_connect(asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(p->port)),
                          [this, p](const asio::error_code& ec) {
                            p->connecting = false;
                            if (p->removed || stopped_) return;
                            if (ec) return Fail(p, ec);
                            p->socket.set_option(asio::ip::tcp::no_delay(true));
                            p->connected = true;
                            p->up_since = std::chrono::steady_clock::now();
                            WatchClose(p);
                            Write(p);
                          });
}

void PeerTransport::Write(const std::shared_ptr<Peer>& p) {
  if (p->writing || p->queued.empty() || !p->connected) return;
  std::swap(p->queued, p->writing_buf);
  p->writing = true;
  asio::async_write(p->socket, asio::buffer(p->writing_buf), [this, p, generation = p->generation](const asio::error_code& ec, size_t) {
    if (generation != p->generation) return;  // a write on a link since replaced
    p->writing = false;
    p->writing_buf.clear();
    if (p->removed || stopped_) return;
    if (ec) return Fail(p, ec);
    // A connect proves little (a proxy or a dying peer may accept, then close):
    // the backoff resets only once the link has carried writes for a while.
    if (p->backoff_ms > kMinBackoffMs && std::chrono::steady_clock::now() - p->up_since >= kStableLink) {
      p->backoff_ms = kMinBackoffMs;
      if (p->reported_down) Log(LogLevel::kInfo, "raft link to node %d (%s:%d) is up again", p->id, p->host, p->port);
      p->reported_down = false;
    }
    Write(p);
  });
}

// Peers never send on our outgoing link: a read completes only when the link
// closes, which makes a dead link known at once rather than at a later write.
void PeerTransport::WatchClose(const std::shared_ptr<Peer>& p) {
  auto buf = std::make_shared<std::array<char, 64>>();
  asio::ip::tcp::socket* sock = &p->socket;
  sock->async_read_some(asio::buffer(*buf), [this, p, buf, generation = p->generation](const asio::error_code& ec, size_t) {
    if (p->removed || stopped_ || generation != p->generation || !p->connected) return;
    if (ec) return Fail(p, ec);
    WatchClose(p);
  });
}

void PeerTransport::Fail(const std::shared_ptr<Peer>& p, const asio::error_code& why) {
  if (!p->reported_down) {
    Log(LogLevel::kInfo, "raft link to node %d (%s:%d) is down: %s; reconnecting", p->id, p->host, p->port,
        why.message());
    p->reported_down = true;
  }
  asio::error_code ec;
  p->socket.close(ec);
  p->connected = false;
  p->queued.clear();  // Raft resends what matters
  if (on_unreachable) on_unreachable(p->id);
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
