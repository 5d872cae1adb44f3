// libFuzzer target: bytes from a dialer that has not proved anything, through
// the accepting side of a peer link (frames, handshake, then Raft messages),
// and a challenge for the dialing side. Properties, checked by abort():
//  - nothing crashes or hangs, whatever the bytes;
//  - with a secret, no input authenticates, and nothing is delivered;
//  - without a secret (the input's first byte chooses), what is delivered
//    comes from the node the link authenticated as.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "node/cluster/peer_auth.h"
#include "node/cluster/peer_link.h"
#include "node/logging.h"

namespace {

constexpr char kSecret[] = "the fuzzer never learns this secret";

void Check(bool ok) {
  if (!ok) std::abort();
}

void Acceptor(bool with_secret, const uint8_t* data, size_t size, size_t read_size) {
  node::peer::Identity id{2, with_secret ? kSecret : "", "cluster"};
  node::peer::InboundLink link(id, std::string(node::peer::kNonceBytes, 'n'));
  bool refused = false;
  size_t delivered = 0;
  link.send = [](std::string) {};
  link.adopt = [](const node::peer::ClusterName& c) { return c.id == "cluster"; };
  link.on_message = [&](consensus::pb::Message&& m) {
    Check(!with_secret && link.node() != 0 && m.from() == link.node());
    ++delivered;
  };
  link.on_snapshot_frame = [&](node::pb::SnapshotFrame&& f) {
    Check(!with_secret && link.node() != 0 && f.from() == link.node());
    ++delivered;
  };
  node::ReadBuffer in;
  for (size_t at = 0; at < size && !refused; at += read_size) {
    const size_t n = std::min(read_size, size - at);
    auto room = in.Prepare(n);
    std::memcpy(room.data(), data + at, n);
    in.Commit(n);
    refused = !link.OnData(in).ok();
  }
  if (with_secret) Check(link.node() == 0 && delivered == 0);
}

void Dialer(bool with_secret, const uint8_t* data, size_t size) {
  node::peer::DialerHandshake d(node::peer::Identity{1, with_secret ? kSecret : "", ""}, 2,
                                std::string(node::peer::kNonceBytes, 'd'));
  node::pb::PeerChallenge c;
  if (!c.ParseFromArray(data, static_cast<int>(size))) return;
  auto proof = d.OnChallenge(c);
  if (with_secret) Check(!proof.ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (node::SetLogLevel(node::LogLevel::kError), true);
  (void)quiet;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const bool with_secret = (mode & 1) != 0;
  const size_t read_size = 1 + (mode >> 1) % 64;  // how the bytes arrive
  Acceptor(with_secret, data + 1, size - 1, (mode & 0x80) ? size : read_size);
  Dialer(with_secret, data + 1, size - 1);
  return 0;
}
