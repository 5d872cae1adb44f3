// The framing of peer links: a 4-byte big-endian length, a type byte, then a
// serialized protobuf message (length = 1 + payload). Socket-free, shared by
// PeerTransport and its fuzz target.
#pragma once

#include <endian.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "google/protobuf/message_lite.h"
#include "node/logging.h"
#include "node/read_buffer.h"

namespace node::peer {

inline constexpr char kRaftFrame = 'r';
inline constexpr char kSnapshotFrame = 's';
inline constexpr char kHelloFrame = 'h';
inline constexpr char kChallengeFrame = 'c';
inline constexpr char kProofFrame = 'p';
inline constexpr char kAckFrame = 'a';  // acceptor -> dialer, a pb::PeerAck
// Frames before the handshake completes are small.
inline constexpr uint32_t kMaxHandshakeFrame = 4096;
// Any frame; log entries are split well below it.
inline constexpr uint32_t kMaxFrame = 256 << 20;

inline void AppendFrame(std::string* out, char type, const google::protobuf::MessageLite& m) {
  uint32_t len = htobe32(static_cast<uint32_t>(m.ByteSizeLong() + 1));
  out->append(reinterpret_cast<const char*>(&len), 4);
  out->push_back(type);
  m.AppendToString(out);
}

// Splits complete frames off the front of `in`: f(type, payload) for each,
// until f returns false. False if a frame is empty or longer than max_frame()
// (asked before each frame: the handshake's frames are small, the ones after
// it need not be), or f refused one.
template <typename Max, typename F>
bool ForEachFrame(ReadBuffer& in, Max&& max_frame, F&& f) {
  while (in.size() >= 4) {
    const uint32_t max = max_frame();
    uint32_t len;
    std::memcpy(&len, in.data().data(), 4);
    len = be32toh(len);
    if (len == 0 || len > max) {
      Log(LogComponent::kPeer, LogLevel::kWarning, "raft link: a frame of %d bytes (at most %d here); closing", len, max);
      return false;
    }
    if (in.size() < 4 + static_cast<size_t>(len)) break;
    const char type = in.data()[4];
    const bool go_on = f(type, std::string_view(in.data().data() + 5, len - 1));
    in.Consume(4 + len);
    if (!go_on) return false;
  }
  return true;
}

}  // namespace node::peer
