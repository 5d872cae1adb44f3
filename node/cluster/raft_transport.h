// How a ReplicatedLog reaches its peers: Raft messages, and the frames of
// snapshot transfers beside them. PeerTransport is the TCP one; tests put an
// in-memory network in its place.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/ssl.hpp"
#include "consensus/raft.pb.h"
#include "node/cluster/peer_auth.h"
#include "node/snapshot.pb.h"

namespace node {

// What the links refused, for the node's status.
struct PeerLinkStats {
  uint64_t handshakes_refused = 0;  // a dialer or acceptor that failed the handshake
  uint64_t wrong_sender = 0;        // messages claiming another sender than the link's node
  uint64_t silent = 0;              // outgoing links dialled again: what they carried went unacknowledged
  std::map<uint64_t, bool> connected;  // per peer: is the link to it up (authenticated)
  std::string last_refusal;  // the latest handshake refused for who the peer is, and why
};

class RaftTransport {
 public:
  virtual ~RaftTransport() = default;

  // Accepts peers' links on this address.
  virtual absl::Status Listen(const std::string& host, int port) = 0;
  virtual void SetPeer(uint64_t id, const std::string& host, int port) = 0;
  virtual void RemovePeer(uint64_t id) = 0;
  // Best effort: what cannot be delivered is dropped (Raft retransmits what
  // matters), and on_unreachable says so.
  virtual void Send(std::vector<consensus::pb::Message> messages) = 0;
  virtual void Send(uint64_t to, const pb::SnapshotFrame& frame) = 0;
  virtual void Stop() = 0;
  // Runs `done` once everything sent so far was written to the peers'
  // sockets (what a link that is down dropped excepted), or once `limit`
  // passed: a node about to exit lets its last messages leave first.
  virtual void Drain(std::chrono::milliseconds limit, std::function<void()> done) { done(); }
  virtual PeerLinkStats stats() const { return {}; }
  // The client TLS port peer `id` announced on its authenticated link (0:
  // none, or not heard from yet).
  virtual int PeerTlsPort(uint64_t id) const { return 0; }
  // The TLS context of the links made from now on (SIGHUP read the files
  // again); links already open keep theirs. Ignored by a plain transport.
  virtual void SetTls(std::shared_ptr<asio::ssl::context> tls) {}

  // Set by the owner before Listen.
  std::function<void(consensus::pb::Message&&)> on_message;
  std::function<void(pb::SnapshotFrame&&)> on_snapshot_frame;
  // Messages to a peer were dropped (link down or queue full).
  std::function<void(uint64_t)> on_unreachable;
  // The peer's process is gone, as far as the network can tell: its end
  // closed or reset the connection, or refused a new one (a slow or silent
  // peer is not gone).
  std::function<void(uint64_t)> on_peer_gone;
  // A node that did not know its cluster's id or origin learned them from an
  // authenticated peer: the owner stores them (links to other clusters are
  // refused from now).
  std::function<void(const peer::ClusterName&)> on_cluster;
  // An authenticated peer said whether it runs with lease reads.
  std::function<void(uint64_t id, bool lease_reads)> on_peer_lease;
};

}  // namespace node
