#include "node/cluster/peer_link.h"

#include "absl/strings/str_cat.h"
#include "node/cluster/peer_frames.h"
#include "node/logging.h"

namespace node::peer {

absl::Status InboundLink::OnData(ReadBuffer& in) {
  // A TLS record (a ClientHello: content type 22, version 3.x) where the
  // handshake's first frame belongs: read as a frame, it was "too big".
  const std::string_view head = in.data();
  if (node_ == 0 && frames_ == 0 && head.size() >= 2 && head[0] == 0x16 && head[1] == 0x03) {
    return absl::InvalidArgumentError(
        "a TLS handshake: the dialer runs with --tls-peers and this node without (every member needs the same)");
  }
  absl::Status status;
  const bool ok = ForEachFrame(
      in, [&] { return node_ != 0 ? kMaxFrame : kMaxHandshakeFrame; },
      [&](char type, std::string_view payload) {
        ++frames_;
        status = node_ == 0 ? OnHandshakeFrame(type, payload) : OnFrame(type, payload);
        return status.ok();
      });
  if (!ok && status.ok()) {
    return absl::InvalidArgumentError(node_ == 0 ? "a frame too big for a handshake" : "a frame too big");
  }
  return status;
}

absl::Status InboundLink::OnHandshakeFrame(char type, std::string_view payload) {
  const int size = static_cast<int>(payload.size());
  if (type == kHelloFrame) {
    pb::PeerHello h;
    if (!h.ParseFromArray(payload.data(), size)) return absl::InvalidArgumentError("a hello that does not parse");
    pb::PeerChallenge c = handshake_.OnHello(h);
    std::string out;
    AppendFrame(&out, kChallengeFrame, c);
    if (send) send(std::move(out));
    if (!c.error().empty()) return absl::PermissionDeniedError(c.error());
    return absl::OkStatus();
  }
  if (type != kProofFrame) {
    return absl::PermissionDeniedError(absl::StrCat("a frame of type ", static_cast<int>(type), " before the handshake"));
  }
  pb::PeerProof p;
  if (!p.ParseFromArray(payload.data(), size)) return absl::InvalidArgumentError("a proof that does not parse");
  if (auto s = handshake_.OnProof(p); !s.ok()) return s;
  if (adopt && !adopt(handshake_.cluster())) {
    return absl::PermissionDeniedError("its cluster differs from the one this node just joined");
  }
  node_ = handshake_.peer();
  return absl::OkStatus();
}

absl::Status InboundLink::OnFrame(char type, std::string_view payload) {
  const int size = static_cast<int>(payload.size());
  bool parsed = false;
  uint64_t from = 0;
  if (type == kRaftFrame) {
    consensus::pb::Message m;
    if ((parsed = m.ParseFromArray(payload.data(), size)) && (from = m.from()) == node_ && on_message) {
      on_message(std::move(m));
    }
  } else if (type == kSnapshotFrame) {
    pb::SnapshotFrame f;
    if ((parsed = f.ParseFromArray(payload.data(), size)) && (from = f.from()) == node_ && on_snapshot_frame) {
      on_snapshot_frame(std::move(f));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("a frame of type ", static_cast<int>(type), " after the handshake"));
  }
  if (!parsed) {
    Log(LogComponent::kPeer, LogLevel::kWarning, "raft link from node %d: a frame of %d bytes that does not parse; skipped", node_,
        payload.size() + 1);
  } else if (from != node_) {
    if (wrong_sender_++ == 0) {
      Log(LogComponent::kPeer, LogLevel::kWarning, "raft link from node %d carries messages from node %d: dropped", node_, from);
    }
  }
  return absl::OkStatus();
}

}  // namespace node::peer
