// The accepting side of one peer link, without sockets: it splits the bytes
// read into frames (peer_frames.h), runs the handshake (peer_auth.h), and
// once the dialer proved itself delivers the Raft messages and snapshot
// frames that come from the node it authenticated as, and only those.
// PeerTransport owns the socket; the fuzz target drives this directly.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "consensus/raft.pb.h"
#include "node/cluster/peer_auth.h"
#include "node/read_buffer.h"
#include "node/snapshot.pb.h"

namespace node::peer {

class InboundLink {
 public:
  InboundLink(Identity id, std::string nonce) : handshake_(std::move(id), std::move(nonce)) {}

  // Set by the owner.
  std::function<void(std::string)> send;  // bytes for the dialer (the challenge)
  // The handshake agreed on this cluster; false refuses the link (this node
  // learned of another by now).
  std::function<bool(const ClusterName&)> adopt;
  std::function<void(consensus::pb::Message&&)> on_message;
  std::function<void(pb::SnapshotFrame&&)> on_snapshot_frame;

  // Takes every complete frame at the front of `in`. An error means the link
  // must close (its message says why); nothing after it was delivered.
  absl::Status OnData(ReadBuffer& in);

  uint64_t node() const { return node_; }  // the authenticated dialer (0: not yet)
  uint32_t node_tls_port() const { return handshake_.peer_tls_port(); }  // its client TLS port
  bool node_lease_reads() const { return handshake_.peer_lease_reads(); }
  bool sends_acks() const { return node_ != 0 && handshake_.peer_takes_acks(); }  // the owner sends pb::PeerAcks
  uint64_t frames() const { return frames_; }
  uint64_t wrong_sender() const { return wrong_sender_; }  // messages dropped for their sender

 private:
  absl::Status OnHandshakeFrame(char type, std::string_view payload);
  absl::Status OnFrame(char type, std::string_view payload);

  AcceptorHandshake handshake_;
  uint64_t node_ = 0;
  uint64_t frames_ = 0;
  uint64_t wrong_sender_ = 0;
};

}  // namespace node::peer
