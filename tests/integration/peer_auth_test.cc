// Regression tests for forged peer messages: a hand-written MSG_APP frame to a
// follower's Raft port was committed and applied, and one heartbeat claiming
// id 99 and a much higher term made the leader step down. Peers now prove the
// cluster secret (node/cluster/peer_auth.h), a link carries only its
// authenticated node's messages, and non-members cannot depose a leader.
#include <endian.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asio.hpp"
#include "cluster_harness.h"
#include "consensus/raft.pb.h"
#include "gtest/gtest.h"
#include "node/cluster/peer_auth.h"
#include "node/cluster/peer_frames.h"

namespace itest {
namespace {

using namespace std::chrono_literals;
namespace cpb = consensus::pb;

uint64_t Field(Cluster& c, int i, const std::string& name) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(c.Status(i)[name], &v)) << name;
  return v;
}

std::string Frame(char type, const google::protobuf::MessageLite& m) {
  std::string out;
  node::peer::AppendFrame(&out, type, m);
  return out;
}

// A hand-made peer: it dials a node's Raft port and may do the handshake.
class RawPeer {
 public:
  explicit RawPeer(int raft_port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(raft_port)));
  }
  void Write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Runs the handshake as node `self` with `secret`; true if the node took it.
  bool Authenticate(uint64_t self, const std::string& secret, uint64_t to) {
    node::peer::DialerHandshake h(node::peer::Identity{self, secret, ""}, to,
                                  node::peer::RandomBytes(node::peer::kNonceBytes));
    Write(Frame(node::peer::kHelloFrame, h.hello()));
    std::string header(5, '\0');
    asio::read(socket_, asio::buffer(header));
    uint32_t len;
    std::memcpy(&len, header.data(), 4);
    std::string payload(be32toh(len) - 1, '\0');
    asio::read(socket_, asio::buffer(payload));
    node::pb::PeerChallenge c;
    if (header[4] != node::peer::kChallengeFrame || !c.ParseFromString(payload)) return false;
    auto proof = h.OnChallenge(c);
    if (!proof.ok()) return false;
    Write(Frame(node::peer::kProofFrame, *proof));
    return true;
  }
  // True if the node closes the link within `timeout`.
  bool Closed(std::chrono::milliseconds timeout = 7s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    socket_.non_blocking(true);
    char buf[256];
    while (std::chrono::steady_clock::now() < deadline) {
      asio::error_code ec;
      socket_.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

std::string ReadSecret(Cluster& c) {
  std::ifstream in(c.SecretArgs().at(1));
  std::string s;
  std::getline(in, s);
  return s;
}

cpb::Message Raft(cpb::MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  cpb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

// The forged MSG_APP of the finding: at the current term, from the leader's
// id, one entry after the follower's last. Without the handshake the link is
// closed and nothing is appended.
TEST(PeerLinkTest, ForgedAppendWithoutTheSecretChangesNothing) {
  Cluster c({.nodes = 3, .node_args = {}, .args_of = {}, .proxies = false});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "k", "1"}).AsString(), "OK");
  const uint64_t term = Field(c, follower, "term");
  const uint64_t last = Field(c, follower, "last_index");
  const uint64_t refused = Field(c, follower, "peer_handshakes_refused");

  cpb::Message app = Raft(cpb::MSG_APP, c.id(leader), c.id(follower), term);
  app.set_index(last);
  app.set_log_term(term);
  app.set_commit(last + 1);
  cpb::Entry* e = app.add_entries();
  e->set_index(last + 1);
  e->set_term(term);
  e->set_data("forged");
  RawPeer forger(c.raft_port(follower));
  forger.Write(Frame(node::peer::kRaftFrame, app));
  EXPECT_TRUE(forger.Closed());
  EXPECT_EQ(Field(c, follower, "peer_handshakes_refused"), refused + 1);

  // The cluster goes on as if nothing happened: the next real entry reaches
  // the follower and its log holds no forged entry.
  ASSERT_EQ(w.Call({"SET", "k", "2"}).AsString(), "OK");
  Client r(c.port(follower));
  EXPECT_EQ(r.Call({"GET", "k"}).AsString(), "2");
  EXPECT_EQ(Field(c, follower, "term"), term);
  EXPECT_EQ(c.Status(follower)["last_index"], c.Status(leader)["last_index"]);
}

// A wrong secret fails the handshake: the node refuses the dialer's proof
// (and the dialer, honest, already refused the node's).
TEST(PeerLinkTest, WrongSecretIsRefused) {
  Cluster c({.nodes = 3, .node_args = {}, .args_of = {}, .proxies = false});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  RawPeer forger(c.raft_port(leader));
  EXPECT_FALSE(forger.Authenticate(99, "a guess at the secret, long enough", c.id(leader)));
}

// The forged election of the finding, now even from a peer that holds the
// secret: a heartbeat from id 99 (not a member) with term + 100 is ignored
// by the leader, and a member's link that claims another sender carries
// nothing.
TEST(PeerLinkTest, NonMembersAndWrongSendersDoNotDeposeTheLeader) {
  Cluster c({.nodes = 3, .node_args = {}, .args_of = {}, .proxies = false});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  const uint64_t term = Field(c, leader, "term");
  const std::string secret = ReadSecret(c);

  RawPeer stranger(c.raft_port(leader));
  ASSERT_TRUE(stranger.Authenticate(99, secret, c.id(leader)));
  stranger.Write(Frame(node::peer::kRaftFrame, Raft(cpb::MSG_HEARTBEAT, 99, c.id(leader), term + 100)));

  RawPeer impostor(c.raft_port(leader));
  ASSERT_TRUE(impostor.Authenticate(c.id(follower), secret, c.id(leader)));
  impostor.Write(Frame(node::peer::kRaftFrame, Raft(cpb::MSG_HEARTBEAT, 77, c.id(leader), term + 100)));

  for (int i = 0; i < 100 && (Field(c, leader, "raft_ignored_non_members") == 0 ||
                              Field(c, leader, "peer_wrong_sender") == 0); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(Field(c, leader, "raft_ignored_non_members"), 1u);
  EXPECT_EQ(Field(c, leader, "peer_wrong_sender"), 1u);
  EXPECT_EQ(c.Status(leader)["role"], "leader");
  EXPECT_EQ(Field(c, leader, "term"), term);
  Client w(c.port(leader));
  EXPECT_EQ(w.Call({"SET", "k", "v"}).AsString(), "OK");
}

// A peer that connects and says nothing is dropped after the handshake's
// deadline; a frame too big for a handshake closes the link at once.
TEST(PeerLinkTest, SilentOrOversizedDialersAreDropped) {
  Cluster c({.nodes = 1, .node_args = {}, .args_of = {}, .proxies = false});
  ASSERT_GE(c.WaitForLeader(), 0);
  RawPeer big(c.raft_port(0));
  const std::string header("\x00\x10\x00\x00h", 5);  // a 1 MB "hello"
  big.Write(header);
  EXPECT_TRUE(big.Closed(2s));
  RawPeer silent(c.raft_port(0));
  EXPECT_TRUE(silent.Closed(8s));
  EXPECT_EQ(Field(c, 0, "peer_handshakes_refused"), 2u);
}

// The child is reachable only by its node: no TCP port, a unix socket that
// only the node's user may use.
TEST(PeerLinkTest, ChildrenListenOnlyOnAPrivateUnixSocket) {
  Cluster c({.nodes = 1, .node_args = {}, .args_of = {}, .proxies = false});
  ASSERT_GE(c.WaitForLeader(), 0);
  auto port = c.ChildCall(0, {"CONFIG", "GET", "port"});
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_EQ(port->elements.size(), 2u);
  EXPECT_EQ(port->elements[1].AsString(), "0");
  auto tls = c.ChildCall(0, {"CONFIG", "GET", "tls-port"});
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->elements[1].AsString(), "0");
  struct stat st;
  ASSERT_EQ(::stat((c.node(0).dir() + "/child/redis.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

// A follower's child is a replica of its node, over TCP on loopback with a
// password. Connections that do not authenticate get nothing and, found
// while fixing the peer links, no longer replace the child's own link (each
// one cost a full resync).
TEST(PeerLinkTest, StrangersOnTheMasterLinkDoNotDisturbTheChild) {
  Cluster c({.nodes = 3, .node_args = {}, .args_of = {}, .proxies = false});
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  Client w(c.port(leader));
  ASSERT_EQ(w.Call({"SET", "k", "1"}).AsString(), "OK");
  auto info = c.ChildCall(follower, {"INFO", "replication"});
  ASSERT_TRUE(info.ok());
  const std::string text = info->AsString();
  const size_t at = text.find("master_port:");
  ASSERT_NE(at, std::string::npos) << text;
  int master_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(text.substr(at + 12, text.find('\r', at) - at - 12), &master_port)) << text;
  const std::string syncs = c.Status(follower)["child_full_syncs"];

  std::vector<std::unique_ptr<Client>> strangers;
  for (int i = 0; i < 3; ++i) {
    strangers.push_back(std::make_unique<Client>(master_port));
    ASSERT_TRUE(strangers.back()->connected());
  }
  strangers.back()->Send("*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n");
  EXPECT_TRUE(strangers.back()->ClosedByPeer(2s)) << "an unauthenticated PSYNC is refused";
  ASSERT_EQ(w.Call({"SET", "k", "2"}).AsString(), "OK");
  std::string seen;
  for (int i = 0; i < 100 && seen != "2"; ++i) {
    auto v = c.ChildCall(follower, {"GET", "k"});
    if (v.ok()) seen = v->AsString();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(seen, "2");
  EXPECT_EQ(c.Status(follower)["child_full_syncs"], syncs);
}

// Regression: CONFIG GET masterauth (and CONFIG GET *) showed the password of
// the node's replication link to any client allowed CONFIG GET; with it a
// local user could take a full copy of the data from the link's port.
TEST(PeerLinkTest, TheMasterLinksPasswordIsNotShown) {
  Cluster c({.nodes = 3});
  ASSERT_GE(c.WaitForLeader(), 0);
  for (int node = 0; node < 3; ++node) {
    auto secret = c.ChildCall(node, {"CONFIG", "GET", "masterauth"});
    ASSERT_TRUE(secret.ok());
    ASSERT_EQ(secret->elements.size(), 2u);
    const std::string password = secret->elements[1].AsString();
    ASSERT_FALSE(password.empty());
    Client client(c.port(node));
    resp::Value one = client.Call({"CONFIG", "GET", "masterauth"});
    ASSERT_EQ(one.elements.size(), 2u);
    EXPECT_EQ(one.elements[1].AsString(), "") << "node " << node;
    resp::Value all = client.Call({"CONFIG", "GET", "*"});
    EXPECT_GT(all.elements.size(), 100u);
    for (const resp::Value& e : all.elements) EXPECT_NE(e.AsString(), password) << "node " << node;
  }
}

}  // namespace
}  // namespace itest
