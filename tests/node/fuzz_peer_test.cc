// Runs the libFuzzer target fuzz_peer.cc inside the ordinary suite, for a
// bounded number of inputs and without clang: seeded mutations of real peer
// traffic (a handshake, Raft messages, snapshot frames), each fed to
// LLVMFuzzerTestOneInput, which aborts on any violated property. Build the
// real fuzzer with cmake -DANARCHO_FUZZ=ON (see tests/node/CMakeLists.txt).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "node/cluster/peer_auth.h"
#include "consensus/raft.pb.h"
#include "node/cluster/peer_frames.h"
#include "node/snapshot.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace node::peer {
namespace {

int RunOne(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Frame(char type, const google::protobuf::MessageLite& m) {
  std::string out;
  AppendFrame(&out, type, m);
  return out;
}

// What node 1 sends node 2 on a link without a secret: the handshake (its
// nonces as fuzz_peer.cc fixes them), then traffic, one message with a
// forged sender among it.
std::vector<std::string> Seeds() {
  DialerHandshake d(Identity{1, "", "cluster"}, 2, std::string(kNonceBytes, 'd'));
  AcceptorHandshake a(Identity{2, "", "cluster"}, std::string(kNonceBytes, 'n'));
  auto proof = d.OnChallenge(a.OnHello(d.hello()));
  std::string handshake = Frame(kHelloFrame, d.hello()) + Frame(kProofFrame, *proof);
  consensus::pb::Message app;
  app.set_type(consensus::pb::MSG_APP);
  app.set_from(1);
  app.set_to(2);
  app.set_term(7);
  app.set_index(10);
  app.add_entries()->set_data("SET k v");
  consensus::pb::Message forged = app;
  forged.set_from(3);
  pb::SnapshotFrame chunk;
  chunk.set_kind(pb::SnapshotFrame::CHUNK);
  chunk.set_from(1);
  chunk.set_to(2);
  chunk.set_data(std::string(64, 'r'));
  const std::string traffic = Frame(kRaftFrame, app) + Frame(kRaftFrame, forged) + Frame(kSnapshotFrame, chunk);
  pb::PeerChallenge challenge = a.OnHello(d.hello());
  std::vector<std::string> seeds;
  for (char mode : {'\x00', '\x01', '\x80', '\x81', '\x10'}) {
    seeds.push_back(mode + handshake + traffic);
    seeds.push_back(mode + traffic);  // no handshake at all
    seeds.push_back(mode + challenge.SerializeAsString());
  }
  return seeds;
}

std::string Mutate(std::mt19937_64& rng, const std::vector<std::string>& seeds) {
  auto below = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  std::string s = seeds[below(seeds.size())];
  for (size_t steps = 1 + below(4); steps > 0; --steps) {
    switch (below(5)) {
      case 0:  // flip a byte (the mode byte too)
        if (!s.empty()) s[below(s.size())] = static_cast<char>(below(256));
        break;
      case 1:  // delete a range
        if (!s.empty()) {
          const size_t at = below(s.size());
          s.erase(at, 1 + below(std::min<size_t>(16, s.size() - at)));
        }
        break;
      case 2:  // duplicate a range
        if (!s.empty()) {
          const size_t at = below(s.size());
          s.insert(below(s.size() + 1), s.substr(at, 1 + below(std::min<size_t>(64, s.size() - at))));
        }
        break;
      case 3:  // truncate
        s.resize(below(s.size() + 1));
        break;
      default:  // splice another seed's tail
        s += seeds[below(seeds.size())].substr(1);
        break;
    }
  }
  return s;
}

TEST(FuzzPeerTest, SeedsAuthenticateOnlyWithoutASecret) {
  // The seeds themselves run clean in every mode (the property checks run
  // inside the target).
  for (const std::string& seed : Seeds()) {
    for (int mode = 0; mode < 256; ++mode) RunOne(static_cast<char>(mode) + seed.substr(1));
  }
}

TEST(FuzzPeerTest, MutatedTrafficNeverCrashesOrAuthenticatesWithoutTheSecret) {
  std::mt19937_64 rng(20261201);
  const std::vector<std::string> seeds = Seeds();
  for (int i = 0; i < 50000; ++i) RunOne(Mutate(rng, seeds));
}

}  // namespace
}  // namespace node::peer
