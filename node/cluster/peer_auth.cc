#include "node/cluster/peer_auth.h"

#include <endian.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"

namespace node::peer {
namespace {

constexpr size_t kMaxClusterId = 64;
constexpr char kDialerRole = 'D';
constexpr char kAcceptorRole = 'A';

void AppendU64(std::string* out, uint64_t v) {
  v = htobe64(v);
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// What a proof covers. Fixed-size fields, and the one variable field last but
// one with its length, so no two transcripts encode alike.
std::string Transcript(char role, std::string_view cluster_id, uint64_t dialer, uint64_t acceptor,
                       std::string_view dialer_nonce, std::string_view acceptor_nonce) {
  std::string t = "anarchoredis peer link v1";
  t.push_back(role);
  t.push_back(static_cast<char>(cluster_id.size()));
  t.append(cluster_id);
  AppendU64(&t, dialer);
  AppendU64(&t, acceptor);
  t.append(dialer_nonce);
  t.append(acceptor_nonce);
  return t;
}

std::string Hmac(std::string_view secret, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Prove(const Identity& id, char role, std::string_view transcript) {
  if (id.secret.empty()) return "";
  std::string data(1, role);
  data.append(transcript);
  return Hmac(id.secret, data);
}

// The peer's proof against the one expected, in constant time.
absl::Status CheckProof(const Identity& id, std::string_view got, std::string_view want) {
  if (id.secret.empty()) {
    if (!got.empty()) {
      return absl::PermissionDeniedError(
          "the peer proves a cluster secret and this node has none (--cluster_secret_file)");
    }
    return absl::OkStatus();
  }
  if (got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0) {
    return absl::PermissionDeniedError(got.empty() ? "the peer has no cluster secret (--cluster_secret_file)"
                                                   : "the peer's proof does not match this node's cluster secret");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClusterName> AgreeCluster(const ClusterName& mine, const ClusterName& theirs) {
  if (theirs.id.size() > kMaxClusterId) return absl::InvalidArgumentError("the peer's cluster id is too long");
  if (theirs.origin.size() > kMaxClusterId) return absl::InvalidArgumentError("the peer's cluster origin is too long");
  if (!mine.id.empty() && !theirs.id.empty() && mine.id != theirs.id) {
    return absl::PermissionDeniedError(
        absl::StrCat("the peer belongs to cluster ", theirs.id, ", this node to cluster ", mine.id));
  }
  if (!mine.origin.empty() && !theirs.origin.empty() && mine.origin != theirs.origin) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the peer's cluster was bootstrapped otherwise than this node's (origin ", theirs.origin, ", this node's ",
        mine.origin, "): its members were started with other --peers or another --restore"));
  }
  return ClusterName{mine.id.empty() ? theirs.id : mine.id, mine.origin.empty() ? theirs.origin : mine.origin};
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // The CSPRNG failing is not something to run on.
    std::abort();
  }
  return out;
}

std::string NewClusterId() { return absl::BytesToHexString(RandomBytes(16)); }

std::string DeriveClusterId(std::string_view shared) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(shared.data(), shared.size(), digest, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("the cluster secret file ", path, " is not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the cluster secret file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret(absl::StripAsciiWhitespace(ss.str()));
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the cluster secret in ", path, " is shorter than ",
                                                   kMinSecretBytes, " bytes"));
  }
  return secret;
}

// ------------------------------------------------------------------ dialer

DialerHandshake::DialerHandshake(Identity id, uint64_t to, std::string nonce) : id_(std::move(id)) {
  hello_.set_version(kVersion);
  hello_.set_cluster_id(id_.cluster.id);
  hello_.set_cluster_origin(id_.cluster.origin);
  hello_.set_from(id_.self);
  hello_.set_to(to);
  hello_.set_nonce(std::move(nonce));
  hello_.set_client_tls_port(id_.client_tls_port);
  hello_.set_lease_reads(id_.lease_reads);
  hello_.set_takes_acks(true);
}

absl::StatusOr<pb::PeerProof> DialerHandshake::OnChallenge(const pb::PeerChallenge& c) {
  if (!c.error().empty()) {
    return absl::PermissionDeniedError(absl::StrCat("node ", hello_.to(), " refused the link: ", c.error()));
  }
  if (c.nonce().size() != kNonceBytes) return absl::InvalidArgumentError("the peer's nonce has the wrong size");
  auto cluster = AgreeCluster(id_.cluster, ClusterName{c.cluster_id(), c.cluster_origin()});
  if (!cluster.ok()) return cluster.status();
  auto transcript = [&](char role) {
    return Transcript(role, cluster->id, id_.self, hello_.to(), hello_.nonce(), c.nonce());
  };
  if (auto s = CheckProof(id_, c.proof(), Prove(id_, kAcceptorRole, transcript(kAcceptorRole))); !s.ok()) {
    return s;
  }
  cluster_ = *cluster;
  peer_lease_reads_ = c.lease_reads();
  peer_sends_acks_ = c.sends_acks();
  pb::PeerProof p;
  p.set_proof(Prove(id_, kDialerRole, transcript(kDialerRole)));
  return p;
}

// ---------------------------------------------------------------- acceptor

AcceptorHandshake::AcceptorHandshake(Identity id, std::string nonce) : id_(std::move(id)), nonce_(std::move(nonce)) {}

absl::Status AcceptorHandshake::CheckHello(const pb::PeerHello& h) {
  if (challenged_) return absl::FailedPreconditionError("a second hello");
  if (h.version() != kVersion) {
    return absl::InvalidArgumentError(absl::StrCat("peer link version ", h.version(), " (this node speaks ", kVersion, ")"));
  }
  if (h.nonce().size() != kNonceBytes) return absl::InvalidArgumentError("the nonce has the wrong size");
  if (h.from() == 0 || h.from() == id_.self) {
    return absl::InvalidArgumentError(absl::StrCat("the dialer claims node id ", h.from()));
  }
  if (h.to() != id_.self) {
    return absl::InvalidArgumentError(absl::StrCat("this is node ", id_.self, ", not node ", h.to()));
  }
  auto cluster = AgreeCluster(id_.cluster, ClusterName{h.cluster_id(), h.cluster_origin()});
  if (!cluster.ok()) return cluster.status();
  cluster_ = *cluster;
  return absl::OkStatus();
}

pb::PeerChallenge AcceptorHandshake::OnHello(const pb::PeerHello& h) {
  pb::PeerChallenge c;
  if (auto s = CheckHello(h); !s.ok()) {
    c.set_error(std::string(s.message()));
    return c;
  }
  challenged_ = true;
  hello_ = h;
  c.set_cluster_id(cluster_.id);
  c.set_cluster_origin(cluster_.origin);
  c.set_lease_reads(id_.lease_reads);
  c.set_sends_acks(h.takes_acks());
  c.set_nonce(nonce_);
  c.set_proof(Prove(id_, kAcceptorRole,
                    Transcript(kAcceptorRole, cluster_.id, h.from(), id_.self, h.nonce(), nonce_)));
  return c;
}

absl::Status AcceptorHandshake::OnProof(const pb::PeerProof& p) {
  if (!challenged_) return absl::FailedPreconditionError("a proof before the hello");
  const std::string want = Prove(
      id_, kDialerRole, Transcript(kDialerRole, cluster_.id, hello_.from(), id_.self, hello_.nonce(), nonce_));
  return CheckProof(id_, p.proof(), want);
}

}  // namespace node::peer
