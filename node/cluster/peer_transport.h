// Raft messages between nodes: TCP links carrying length-prefixed frames
// (4-byte big-endian length, a type byte, then the payload): a
// consensus::pb::Message, or a pb::SnapshotFrame of a snapshot transfer.
//
// One outgoing link per peer, connected on demand and reconnected with backoff;
// everything queued for a peer leaves in one write. A slow peer only grows its
// own queue, which is dropped past a bound, and messages for a peer whose link
// is down are dropped until it reconnects (Raft retransmits what matters), so
// it never blocks other peers or the client path.
//
// With TLS (--tls_peers), a link is a mutual-TLS connection first: both
// sides show a certificate the cluster's CA signed. Then every link opens
// with the handshake of peer_auth.h: nothing is sent on an
// outgoing link, and nothing delivered from an incoming one, before both
// sides proved the cluster secret. An incoming link then carries the
// messages of the node it authenticated as, and only those: a frame that
// claims another sender is dropped and counted.
//
// A connection can stall without closing (a middlebox that lost its state, a
// frozen proxy): writes still complete into the socket, nothing arrives.
// So the acceptor acknowledges what it reads (a pb::PeerAck, at most every
// kAckInterval while frames arrive), and the dialer dials again when what it
// wrote goes unacknowledged for `silent_limit`. Both sides ask for this in
// the handshake: a node of an earlier version neither sends acknowledgements
// nor is watched for them. A newer link from a node replaces the acceptor's
// older ones, which a stalled connection would otherwise hold for ever.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio.hpp"
#include "consensus/raft.pb.h"
#include "node/byte_stream.h"
#include "node/cluster/peer_auth.h"
#include "node/cluster/raft_transport.h"
#include "node/snapshot.pb.h"

namespace node {

class PeerTransport : public RaftTransport {
 public:
  // Incoming links still in their handshake, at most: one more is closed as
  // it is accepted. Until it proves the cluster secret a link may come from
  // anyone, and each is held up to kHandshakeTimeout; uncapped, idle
  // connections to the Raft port took every descriptor the node had. A
  // cluster's own peers need one each at a time.
  static constexpr size_t kMaxHandshakes = 16;

  // The acceptor's acknowledgements are this far apart at most (while
  // frames arrive); the dialers' silent_limit must be several times more.
  static constexpr auto kAckInterval = std::chrono::milliseconds(100);

  // `tls`: the links' TLS context (MakeTlsPeerContext); null: plain TCP.
  // `silent_limit`: an outgoing link whose writes go unacknowledged this long
  // is closed and dialled again.
  PeerTransport(asio::io_context& io, peer::Identity identity, std::shared_ptr<asio::ssl::context> tls = nullptr,
                std::chrono::milliseconds silent_limit = std::chrono::seconds(2));
  ~PeerTransport() override;

  absl::Status Listen(const std::string& host, int port) override;
  void SetPeer(uint64_t id, const std::string& host, int port) override;
  void RemovePeer(uint64_t id) override;
  void Send(std::vector<consensus::pb::Message> messages) override;
  void Send(uint64_t to, const pb::SnapshotFrame& frame) override;
  void Stop() override;
  void Drain(std::chrono::milliseconds limit, std::function<void()> done) override;
  PeerLinkStats stats() const override;
  int PeerTlsPort(uint64_t id) const override;
  void SetTls(std::shared_ptr<asio::ssl::context> tls) override;

 private:
  struct Peer;
  struct Inbound;
  void Connect(const std::shared_ptr<Peer>& p);
  void Write(const std::shared_ptr<Peer>& p);
  void Fail(const std::shared_ptr<Peer>& p, const asio::error_code& why);
  void ReadOutbound(const std::shared_ptr<Peer>& p);
  void OnChallenge(const std::shared_ptr<Peer>& p, std::string_view payload);
  void OnAck(const std::shared_ptr<Peer>& p, std::string_view payload);
  // Every silent_limit/2 while the link is up: fails it if what it wrote went
  // unacknowledged for silent_limit.
  void WatchAcks(const std::shared_ptr<Peer>& p);
  void Accept();
  // Incoming links neither authenticated nor refused yet (forgets closed ones).
  size_t Handshaking();
  ByteStream NewStream(asio::ip::tcp::socket socket);
  // Queues one frame for `to`; false if it was dropped (no such peer, link down).
  bool Queue(uint64_t to, char type, const google::protobuf::MessageLite& m);
  void Flush(const std::shared_ptr<Peer>& p);
  // No link holds bytes it may still write (a link that is down dropped its own).
  bool Drained() const;
  void WaitDrained(std::chrono::steady_clock::time_point until, std::function<void()> done);
  void ReadInbound(const std::shared_ptr<Inbound>& in);
  void Authenticated(const std::shared_ptr<Inbound>& in);
  // Acknowledges what `in` read, now or once kAckInterval has passed since
  // its last acknowledgement.
  void Ack(const std::shared_ptr<Inbound>& in);
  void Refuse(const std::shared_ptr<Inbound>& in, absl::string_view why);
  // The handshake agreed on `cluster`: adopts what this node did not know of
  // it. False if it conflicts with what it adopted meanwhile.
  bool Adopt(const peer::ClusterName& cluster);

  asio::io_context& io_;
  peer::Identity identity_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::chrono::milliseconds silent_limit_;
  PeerLinkStats stats_;
  std::map<uint64_t, std::shared_ptr<Peer>> peers_;
  std::set<uint64_t> unknown_said_;  // ids messages went to with no address, said once each
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::weak_ptr<Inbound>> inbound_;
  std::map<uint64_t, int> peer_tls_ports_;  // from authenticated links
  std::unique_ptr<asio::steady_timer> drain_timer_;  // Drain's polls
  bool stopped_ = false;
};

}  // namespace node
