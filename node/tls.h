// TLS on the client port, with Redis's setting names (tls-port,
// tls-cert-file, tls-key-file, tls-ca-cert-file, tls-auth-clients,
// tls-protocols, tls-ciphers, tls-ciphersuites), and on the peer links
// (tls_peers, as Redis's tls-replication and tls-cluster: the same files,
// both sides verified), through OpenSSL and asio::ssl.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asio/ssl.hpp"

namespace node {

struct TlsOptions {
  int port = 0;  // 0: no TLS port
  std::string cert_file;
  std::string key_file;
  std::string ca_cert_file;
  std::string ca_cert_dir;
  // As Redis: "yes" (a client must show a certificate the CA signed),
  // "optional" (if it shows one, it must be valid), "no".
  std::string auth_clients = "yes";
  std::string protocols;  // e.g. "TLSv1.2 TLSv1.3" (the default)
  std::string ciphers;       // TLSv1.2 and below
  std::string ciphersuites;  // TLSv1.3
  bool peers = false;        // the Raft links too (mutual TLS)
};

// The server side's context, its files read now (a reload builds a new one).
absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsServerContext(const TlsOptions& options);
// The peer links' context: both roles, the peer's certificate required and
// verified against the CA (the cluster secret still proves node ids).
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsPeerContext(const TlsOptions& options);

}  // namespace node
