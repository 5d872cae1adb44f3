// The handshake that opens every peer link, without sockets (PeerTransport
// does the I/O):
//
//   dialer   -> acceptor  PeerHello      cluster id, from, to, dialer nonce
//   acceptor -> dialer    PeerChallenge  cluster id, acceptor nonce, acceptor proof
//   dialer   -> acceptor  PeerProof      dialer proof; Raft frames follow
//
// A proof is HMAC-SHA256, keyed by the cluster secret, over a transcript of
// both nonces, both node ids and the cluster id, with the prover's role in
// front: the secret never crosses the wire, a proof is good for one link only
// (fresh nonces on both sides), and neither side's proof can be reflected back
// as the other's. Both sides prove, so a node sends its log only to a node
// that holds the secret, and accepts messages only from one.
//
// Without a secret (a loopback cluster, or --insecure_peers) the proofs are
// empty and the handshake still checks the ids and the cluster id. A node
// with a secret never talks to one without, nor the other way round.
//
// After the handshake the link belongs to the dialer's node id: the acceptor
// drops every message on it whose sender is another id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/peer.pb.h"

namespace node::peer {

inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kNonceBytes = 32;
// A secret shorter than this is refused (it could be guessed offline from one
// recorded handshake).
inline constexpr size_t kMinSecretBytes = 16;

// Which cluster a node belongs to: its id, and its origin, a digest of how it
// was bootstrapped (its first voters' ids, and the backup it was restored
// from, if any). Members started with the same --cluster_id but other --peers
// or another --restore have the same id and their logs' first entries differ:
// the origin keeps them apart. Either is empty until a node that joins meets
// its cluster; a node bootstrapped before origins existed has none (it takes
// its peers' when it meets one).
struct ClusterName {
  std::string id;
  std::string origin;
  bool operator==(const ClusterName&) const = default;
};

// `mine` and `theirs` name one cluster (or one side has yet to learn a part
// of its name): the name both then agree on, or why they do not.
absl::StatusOr<ClusterName> AgreeCluster(const ClusterName& mine, const ClusterName& theirs);

// What a node proves itself with.
struct Identity {
  uint64_t self = 0;
  std::string secret;   // empty: no proofs
  ClusterName cluster;  // parts empty: not known yet (a node that joins adopts its cluster's)
  uint32_t client_tls_port = 0;  // told to the nodes this one dials (PeerHello)
  bool lease_reads = false;      // told to every peer: it keeps a lease's promise
};

// Random bytes from the system's CSPRNG (OpenSSL).
std::string RandomBytes(size_t n);
// A new cluster id: 32 hex digits, random.
std::string NewClusterId();
// A cluster id (32 hex digits) derived from what all initial members share.
std::string DeriveClusterId(std::string_view shared);
// Reads a secret file: its content without surrounding whitespace, at least
// kMinSecretBytes long.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

class DialerHandshake {
 public:
  DialerHandshake(Identity id, uint64_t to, std::string nonce);
  const pb::PeerHello& hello() const { return hello_; }
  // The acceptor's answer: the proof to send, or why the link must close.
  absl::StatusOr<pb::PeerProof> OnChallenge(const pb::PeerChallenge& c);
  // The cluster both sides agreed on (after OnChallenge succeeded).
  const ClusterName& cluster() const { return cluster_; }
  bool peer_lease_reads() const { return peer_lease_reads_; }
  // The acceptor acknowledges what it reads (pb::PeerAck).
  bool peer_sends_acks() const { return peer_sends_acks_; }

 private:
  Identity id_;
  pb::PeerHello hello_;
  ClusterName cluster_;
  bool peer_lease_reads_ = false;
  bool peer_sends_acks_ = false;
};

class AcceptorHandshake {
 public:
  AcceptorHandshake(Identity id, std::string nonce);
  // The challenge to send; its `error` is set if the hello is refused (send
  // it, then close).
  pb::PeerChallenge OnHello(const pb::PeerHello& h);
  // OK: the link is the dialer's (peer()) from now on.
  absl::Status OnProof(const pb::PeerProof& p);
  uint64_t peer() const { return hello_.from(); }
  uint32_t peer_tls_port() const { return hello_.client_tls_port(); }
  bool peer_lease_reads() const { return hello_.lease_reads(); }
  // The dialer asked for acknowledgements (the challenge promised them).
  bool peer_takes_acks() const { return hello_.takes_acks(); }
  const ClusterName& cluster() const { return cluster_; }

 private:
  absl::Status CheckHello(const pb::PeerHello& h);

  Identity id_;
  std::string nonce_;
  pb::PeerHello hello_;
  ClusterName cluster_;
  bool challenged_ = false;
};

}  // namespace node::peer
