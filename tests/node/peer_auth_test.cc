// The peer handshake (node/cluster/peer_auth.h) without sockets: who may open
// a link, and what a recorded or forged handshake cannot do.
#include "node/cluster/peer_auth.h"
#include "node/cluster/peer_frames.h"
#include "node/cluster/peer_link.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "gtest/gtest.h"

namespace node::peer {
namespace {

constexpr char kSecret[] = "correct horse battery staple";

Identity Id(uint64_t self, std::string secret = kSecret, std::string cluster = "c1", std::string origin = "o1") {
  return Identity{self, std::move(secret), ClusterName{std::move(cluster), std::move(origin)}};
}

struct Outcome {
  absl::Status dialer;    // the dialer's verdict on the acceptor
  absl::Status acceptor;  // the acceptor's verdict on the dialer
  std::string refused;    // the acceptor's refusal of the hello, if any
};

// One handshake between two identities, as PeerTransport runs it.
Outcome Handshake(const Identity& dialer_id, const Identity& acceptor_id, uint64_t to = 0) {
  DialerHandshake dialer(dialer_id, to ? to : acceptor_id.self, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor(acceptor_id, RandomBytes(kNonceBytes));
  Outcome o;
  pb::PeerChallenge c = acceptor.OnHello(dialer.hello());
  o.refused = c.error();
  auto proof = dialer.OnChallenge(c);
  o.dialer = proof.status();
  o.acceptor = proof.ok() ? acceptor.OnProof(*proof) : absl::AbortedError("no proof sent");
  return o;
}

TEST(PeerAuthTest, MembersWithTheSecretAuthenticateBothWays) {
  DialerHandshake dialer(Id(1), 2, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor(Id(2), RandomBytes(kNonceBytes));
  pb::PeerChallenge c = acceptor.OnHello(dialer.hello());
  ASSERT_TRUE(c.error().empty()) << c.error();
  EXPECT_EQ(c.proof().size(), 32u);
  auto proof = dialer.OnChallenge(c);
  ASSERT_TRUE(proof.ok()) << proof.status();
  ASSERT_TRUE(acceptor.OnProof(*proof).ok());
  EXPECT_EQ(acceptor.peer(), 1u);
  EXPECT_EQ(acceptor.cluster(), (ClusterName{"c1", "o1"}));
  EXPECT_EQ(dialer.cluster(), (ClusterName{"c1", "o1"}));
  // The secret itself never appears in what crosses the wire.
  for (const std::string& wire : {dialer.hello().SerializeAsString(), c.SerializeAsString(), proof->SerializeAsString()}) {
    EXPECT_EQ(wire.find(kSecret), std::string::npos);
  }
}

TEST(PeerAuthTest, AWrongSecretIsRefusedByBothSides) {
  Outcome o = Handshake(Id(1, "another secret, long enough"), Id(2));
  EXPECT_FALSE(o.dialer.ok());  // the acceptor's proof does not match the dialer's secret
  // A dialer with another secret that gets past its own check (the acceptor's
  // proof recomputed under its secret) still cannot prove itself.
  const std::string other = "another secret, long enough";
  DialerHandshake forger(Id(1, other), 2, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor(Id(2), RandomBytes(kNonceBytes));
  pb::PeerChallenge c = acceptor.OnHello(forger.hello());
  AcceptorHandshake mirror(Id(2, other), c.nonce());
  c.set_proof(mirror.OnHello(forger.hello()).proof());
  auto proof = forger.OnChallenge(c);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(acceptor.OnProof(*proof).code(), absl::StatusCode::kPermissionDenied);
}

TEST(PeerAuthTest, SecretAndNoSecretNeverTalk) {
  Outcome a = Handshake(Id(1, ""), Id(2));
  EXPECT_FALSE(a.dialer.ok());
  EXPECT_NE(a.dialer.message().find("this node has none"), std::string::npos) << a.dialer;
  Outcome b = Handshake(Id(1), Id(2, ""));
  EXPECT_FALSE(b.dialer.ok());
  EXPECT_NE(b.dialer.message().find("the peer has no cluster secret"), std::string::npos) << b.dialer;
  // Without secrets on both sides the ids and the cluster are still checked.
  Outcome c = Handshake(Id(1, ""), Id(2, ""));
  EXPECT_TRUE(c.dialer.ok() && c.acceptor.ok());
}

TEST(PeerAuthTest, AProofIsGoodForOneLinkOnly) {
  // Record a successful handshake...
  DialerHandshake dialer(Id(1), 2, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor(Id(2), RandomBytes(kNonceBytes));
  auto recorded_proof = dialer.OnChallenge(acceptor.OnHello(dialer.hello()));
  ASSERT_TRUE(recorded_proof.ok());
  // ...and replay the hello and the proof to a fresh acceptor: its nonce differs.
  AcceptorHandshake fresh(Id(2), RandomBytes(kNonceBytes));
  ASSERT_TRUE(fresh.OnHello(dialer.hello()).error().empty());
  EXPECT_FALSE(fresh.OnProof(*recorded_proof).ok());
  // Reflection: the acceptor's own proof, sent back as the dialer's.
  AcceptorHandshake victim(Id(2), RandomBytes(kNonceBytes));
  pb::PeerChallenge c = victim.OnHello(dialer.hello());
  pb::PeerProof reflected;
  reflected.set_proof(c.proof());
  EXPECT_FALSE(victim.OnProof(reflected).ok());
}

TEST(PeerAuthTest, IdsAndClustersAreChecked) {
  EXPECT_NE(Handshake(Id(1), Id(2), /*to=*/3).refused.find("this is node 2, not node 3"), std::string::npos);
  EXPECT_FALSE(Handshake(Id(2), Id(2)).refused.empty());  // itself
  EXPECT_FALSE(Handshake(Id(0), Id(2)).refused.empty());
  Outcome other = Handshake(Id(1, kSecret, "c1"), Id(2, kSecret, "c2"));
  EXPECT_NE(other.refused.find("belongs to cluster c1, this node to cluster c2"), std::string::npos) << other.refused;
  // A node that joins (no cluster id yet) agrees on its peer's, either way round.
  DialerHandshake joiner(Id(4, kSecret, "", ""), 1, RandomBytes(kNonceBytes));
  AcceptorHandshake member(Id(1), RandomBytes(kNonceBytes));
  auto proof = joiner.OnChallenge(member.OnHello(joiner.hello()));
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(member.OnProof(*proof).ok());
  EXPECT_EQ(joiner.cluster(), (ClusterName{"c1", "o1"}));
  Outcome leader_to_joiner = Handshake(Id(1), Id(4, kSecret, "", ""));
  EXPECT_TRUE(leader_to_joiner.acceptor.ok()) << leader_to_joiner.acceptor;
}

// Regression (PeerAuthTest.MembersBootstrappedOtherwiseAreRefused): members
// started with one --cluster_id but other --peers, or restored from other
// backups, took each other's first log entries for their own (both wrote them
// at term 1) and formed one cluster with diverging data, or two leaders.
TEST(PeerAuthTest, MembersBootstrappedOtherwiseAreRefused) {
  Outcome other = Handshake(Id(1, kSecret, "c1", "o1"), Id(2, kSecret, "c1", "o2"));
  EXPECT_NE(other.refused.find("bootstrapped otherwise"), std::string::npos) << other.refused;
  EXPECT_FALSE(other.acceptor.ok());
  // The dialer checks too (an acceptor of an earlier version checks nothing).
  DialerHandshake dialer(Id(1, kSecret, "c1", "o1"), 2, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor(Id(2, kSecret, "c1", "o2"), RandomBytes(kNonceBytes));
  pb::PeerHello no_origin = dialer.hello();
  no_origin.clear_cluster_origin();
  pb::PeerChallenge c = acceptor.OnHello(no_origin);
  ASSERT_TRUE(c.error().empty()) << c.error();
  auto proof = dialer.OnChallenge(c);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kPermissionDenied) << proof.status();
  // A node without an origin (a joiner, or one bootstrapped before origins)
  // takes its peer's; its own id still has to match.
  Outcome old = Handshake(Id(1, kSecret, "c1", ""), Id(2, kSecret, "c1", "o2"));
  EXPECT_TRUE(old.dialer.ok() && old.acceptor.ok()) << old.dialer << old.acceptor;
  auto agreed = AgreeCluster(ClusterName{"c1", ""}, ClusterName{"c1", "o2"});
  ASSERT_TRUE(agreed.ok());
  EXPECT_EQ(*agreed, (ClusterName{"c1", "o2"}));
  EXPECT_FALSE(AgreeCluster(ClusterName{"c1", ""}, ClusterName{"c2", "o2"}).ok());
  EXPECT_FALSE(AgreeCluster(ClusterName{"c1", "o1"}, ClusterName{"c1", std::string(65, 'o')}).ok());
}

// Each side learns whether the other runs with lease reads (a leader's lease
// counts only peers that keep its promise).
TEST(PeerAuthTest, EachSideSaysWhetherItKeepsALeasesPromise) {
  Identity with_lease = Id(1);
  with_lease.lease_reads = true;
  DialerHandshake dialer(with_lease, 2, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor(Id(2), RandomBytes(kNonceBytes));
  auto proof = dialer.OnChallenge(acceptor.OnHello(dialer.hello()));
  ASSERT_TRUE(proof.ok()) << proof.status();
  ASSERT_TRUE(acceptor.OnProof(*proof).ok());
  EXPECT_TRUE(acceptor.peer_lease_reads());
  EXPECT_FALSE(dialer.peer_lease_reads());
  Identity acceptor_lease = Id(2);
  acceptor_lease.lease_reads = true;
  DialerHandshake plain(Id(1), 2, RandomBytes(kNonceBytes));
  AcceptorHandshake leasing(acceptor_lease, RandomBytes(kNonceBytes));
  ASSERT_TRUE(plain.OnChallenge(leasing.OnHello(plain.hello())).ok());
  EXPECT_TRUE(plain.peer_lease_reads());
  EXPECT_FALSE(leasing.peer_lease_reads());
}

// A dialer asks for acknowledgements, and gets them promised; a dialer of an
// earlier version (which does not ask) is sent none, and a dialer told
// nothing (an acceptor of an earlier version) watches for none.
TEST(PeerAuthTest, AcknowledgementsAreSentOnlyToADialerThatAsks) {
  DialerHandshake dialer(Id(1), 2, RandomBytes(kNonceBytes));
  ASSERT_TRUE(dialer.hello().takes_acks());
  AcceptorHandshake acceptor(Id(2), RandomBytes(kNonceBytes));
  auto challenge = acceptor.OnHello(dialer.hello());
  ASSERT_TRUE(dialer.OnChallenge(challenge).ok());
  EXPECT_TRUE(acceptor.peer_takes_acks());
  EXPECT_TRUE(dialer.peer_sends_acks());

  DialerHandshake older(Id(1), 2, RandomBytes(kNonceBytes));
  pb::PeerHello hello = older.hello();
  hello.clear_takes_acks();
  AcceptorHandshake acceptor2(Id(2), RandomBytes(kNonceBytes));
  challenge = acceptor2.OnHello(hello);
  EXPECT_FALSE(challenge.sends_acks());
  EXPECT_FALSE(acceptor2.peer_takes_acks());

  DialerHandshake dialer3(Id(1), 2, RandomBytes(kNonceBytes));
  AcceptorHandshake acceptor3(Id(2), RandomBytes(kNonceBytes));
  challenge = acceptor3.OnHello(dialer3.hello());
  challenge.clear_sends_acks();  // proofs do not cover it: the challenge of an earlier version
  ASSERT_TRUE(dialer3.OnChallenge(challenge).ok());
  EXPECT_FALSE(dialer3.peer_sends_acks());
}

TEST(PeerAuthTest, MalformedHellosAreRefused) {
  AcceptorHandshake a(Id(2), RandomBytes(kNonceBytes));
  pb::PeerHello h = DialerHandshake(Id(1), 2, RandomBytes(kNonceBytes)).hello();
  pb::PeerHello short_nonce = h;
  short_nonce.set_nonce("abc");
  EXPECT_FALSE(a.OnHello(short_nonce).error().empty());
  pb::PeerHello future = h;
  future.set_version(kVersion + 1);
  EXPECT_NE(a.OnHello(future).error().find("version"), std::string::npos);
  pb::PeerHello long_cluster = h;
  long_cluster.set_cluster_id(std::string(65, 'x'));
  EXPECT_FALSE(a.OnHello(long_cluster).error().empty());
  // A proof before any hello.
  AcceptorHandshake b(Id(2), RandomBytes(kNonceBytes));
  EXPECT_FALSE(b.OnProof(pb::PeerProof()).ok());
}

TEST(PeerAuthTest, SecretFiles) {
  const std::string path = ::testing::TempDir() + "/peer_auth_secret_" + std::to_string(getpid());
  std::ofstream(path) << "  short\n";
  EXPECT_EQ(ReadSecretFile(path).status().code(), absl::StatusCode::kInvalidArgument);
  std::ofstream(path) << "0123456789abcdef0123\n";
  auto s = ReadSecretFile(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "0123456789abcdef0123");
  std::remove(path.c_str());
  EXPECT_EQ(ReadSecretFile(path).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(NewClusterId().size(), 32u);
  EXPECT_NE(NewClusterId(), NewClusterId());
  EXPECT_EQ(DeriveClusterId("voters 1 2 3"), DeriveClusterId("voters 1 2 3"));
  EXPECT_NE(DeriveClusterId("voters 1 2 3"), DeriveClusterId("voters 1 2 4"));
}

std::string Frame(char type, const google::protobuf::MessageLite& m) {
  std::string out;
  AppendFrame(&out, type, m);
  return out;
}

void Feed(ReadBuffer& in, const std::string& bytes) {
  auto room = in.Prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  in.Commit(bytes.size());
}

// The challenge among the bytes an InboundLink sent.
pb::PeerChallenge ChallengeIn(const std::string& sent) {
  ReadBuffer back;
  Feed(back, sent);
  pb::PeerChallenge c;
  ForEachFrame(back, [] { return kMaxHandshakeFrame; }, [&](char type, std::string_view payload) {
    return type == kChallengeFrame && c.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
  });
  return c;
}

consensus::pb::Message Heartbeat(uint64_t from) {
  consensus::pb::Message m;
  m.set_type(consensus::pb::MSG_HEARTBEAT);
  m.set_from(from);
  m.set_to(2);
  m.set_term(5);
  return m;
}

// The accepting side as PeerTransport drives it: nothing before the proof,
// then only the authenticated node's messages.
TEST(PeerAuthTest, InboundLinkDeliversOnlyTheAuthenticatedNodesMessages) {
  InboundLink link(Id(2), RandomBytes(kNonceBytes));
  std::string sent;
  std::vector<uint64_t> delivered;
  link.send = [&](std::string bytes) { sent += bytes; };
  link.adopt = [](const ClusterName& c) { return c.id == "c1"; };
  link.on_message = [&](consensus::pb::Message&& m) { delivered.push_back(m.from()); };
  DialerHandshake d(Id(1), 2, RandomBytes(kNonceBytes));
  ReadBuffer in;
  Feed(in, Frame(kHelloFrame, d.hello()));
  ASSERT_TRUE(link.OnData(in).ok());
  // The challenge went out; the dialer answers it, then sends at once.
  auto proof = d.OnChallenge(ChallengeIn(sent));
  ASSERT_TRUE(proof.ok());
  Feed(in, Frame(kProofFrame, *proof) + Frame(kRaftFrame, Heartbeat(1)) + Frame(kRaftFrame, Heartbeat(3)) +
               Frame(kRaftFrame, Heartbeat(1)));
  ASSERT_TRUE(link.OnData(in).ok());
  EXPECT_EQ(link.node(), 1u);
  EXPECT_EQ(delivered, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(link.wrong_sender(), 1u);
}

TEST(PeerAuthTest, InboundLinkRefusesTrafficBeforeTheHandshake) {
  InboundLink link(Id(2), RandomBytes(kNonceBytes));
  int delivered = 0;
  link.on_message = [&](consensus::pb::Message&&) { ++delivered; };
  ReadBuffer in;
  Feed(in, Frame(kRaftFrame, Heartbeat(1)));
  EXPECT_EQ(link.OnData(in).code(), absl::StatusCode::kPermissionDenied);
  InboundLink big(Id(2), RandomBytes(kNonceBytes));
  ReadBuffer huge;
  Feed(huge, std::string("\x00\x10\x00\x00h", 5));
  EXPECT_FALSE(big.OnData(huge).ok());
  // A cluster this node does not belong to (any more).
  InboundLink other(Id(2), RandomBytes(kNonceBytes));
  other.adopt = [](const ClusterName&) { return false; };
  std::string challenge;
  other.send = [&](std::string bytes) { challenge = bytes; };
  DialerHandshake d(Id(1), 2, RandomBytes(kNonceBytes));
  ReadBuffer in2;
  Feed(in2, Frame(kHelloFrame, d.hello()));
  ASSERT_TRUE(other.OnData(in2).ok());
  Feed(in2, Frame(kProofFrame, *d.OnChallenge(ChallengeIn(challenge))) + Frame(kRaftFrame, Heartbeat(1)));
  EXPECT_FALSE(other.OnData(in2).ok());
  EXPECT_EQ(other.node(), 0u);
  EXPECT_EQ(delivered, 0);
}

}  // namespace
}  // namespace node::peer
