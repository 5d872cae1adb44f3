#include "node/tls.h"

#include <openssl/ssl.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace node {
namespace {

// "TLSv1.2 TLSv1.3" -> the lowest and highest versions named.
absl::Status SetProtocols(SSL_CTX* ctx, const std::string& protocols) {
  if (protocols.empty()) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    return absl::OkStatus();
  }
  int lowest = 0, highest = 0;
  for (absl::string_view p : absl::StrSplit(protocols, ' ', absl::SkipWhitespace())) {
    const std::string name = absl::AsciiStrToLower(p);
    int v = 0;
    if (name == "tlsv1") v = TLS1_VERSION;
    if (name == "tlsv1.1") v = TLS1_1_VERSION;
    if (name == "tlsv1.2") v = TLS1_2_VERSION;
    if (name == "tlsv1.3") v = TLS1_3_VERSION;
    if (v == 0) return absl::InvalidArgumentError(absl::StrCat("--tls_protocols: unknown protocol '", p, "'"));
    lowest = lowest == 0 ? v : std::min(lowest, v);
    highest = std::max(highest, v);
  }
  SSL_CTX_set_min_proto_version(ctx, lowest);
  SSL_CTX_set_max_proto_version(ctx, highest);
  return absl::OkStatus();
}

absl::Status Failed(const std::string& what, const asio::error_code& ec) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", ec.message()));
}

// A context with the node's certificate, its key and the CAs it trusts.
absl::StatusOr<std::unique_ptr<asio::ssl::context>> ContextWithFiles(const TlsOptions& o,
                                                                     asio::ssl::context::method method) {
  auto ctx = std::make_unique<asio::ssl::context>(method);
  asio::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use,
                   ec);
  if (auto s = SetProtocols(ctx->native_handle(), o.protocols); !s.ok()) return s;
  if (ctx->use_certificate_chain_file(o.cert_file, ec); ec) return Failed("--tls_cert_file " + o.cert_file, ec);
  if (ctx->use_private_key_file(o.key_file, asio::ssl::context::pem, ec); ec) {
    return Failed("--tls_key_file " + o.key_file, ec);
  }
  if (!o.ca_cert_file.empty()) {
    if (ctx->load_verify_file(o.ca_cert_file, ec); ec) return Failed("--tls_ca_cert_file " + o.ca_cert_file, ec);
  }
  if (!o.ca_cert_dir.empty()) {
    if (ctx->add_verify_path(o.ca_cert_dir, ec); ec) return Failed("--tls_ca_cert_dir " + o.ca_cert_dir, ec);
  }
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(ctx->native_handle(), o.ciphers.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_ciphers: no usable cipher in '", o.ciphers, "'"));
  }
  if (!o.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx->native_handle(), o.ciphersuites.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_ciphersuites: no usable suite in '", o.ciphersuites, "'"));
  }
  return ctx;
}

}  // namespace

absl::StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsServerContext(const TlsOptions& o) {
  if (o.cert_file.empty() || o.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_port needs --tls_cert_file and --tls_key_file");
  }
  const std::string auth = absl::AsciiStrToLower(o.auth_clients);
  if (auth != "yes" && auth != "optional" && auth != "no") {
    return absl::InvalidArgumentError("--tls_auth_clients must be yes, optional or no");
  }
  if (auth != "no" && o.ca_cert_file.empty() && o.ca_cert_dir.empty()) {
    return absl::InvalidArgumentError(
        "--tls_auth_clients yes or optional needs --tls_ca_cert_file (or --tls_ca_cert_dir) to verify clients");
  }
  auto ctx = ContextWithFiles(o, asio::ssl::context::tls_server);
  if (!ctx.ok()) return ctx.status();
  asio::ssl::verify_mode mode = asio::ssl::verify_none;
  if (auth == "yes") mode = asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert;
  if (auth == "optional") mode = asio::ssl::verify_peer;
  asio::error_code ec;
  (*ctx)->set_verify_mode(mode, ec);
  return ctx;
}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsPeerContext(const TlsOptions& o) {
  if (o.cert_file.empty() || o.key_file.empty() || (o.ca_cert_file.empty() && o.ca_cert_dir.empty())) {
    return absl::InvalidArgumentError(
        "--tls_peers needs --tls_cert_file, --tls_key_file and --tls_ca_cert_file (or --tls_ca_cert_dir)");
  }
  auto ctx = ContextWithFiles(o, asio::ssl::context::tls);
  if (!ctx.ok()) return ctx.status();
  asio::error_code ec;
  (*ctx)->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  return std::shared_ptr<asio::ssl::context>(std::move(*ctx));
}

}  // namespace node
