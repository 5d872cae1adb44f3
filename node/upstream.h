// Where requests go from this node: its own child (a unix socket), or the
// leader's client port (TCP, TLS with --tls_peers). A client session's own
// connection and a shared link (SharedLink) open theirs alike.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "asio.hpp"
#include "asio/ssl.hpp"
#include "node/byte_stream.h"

namespace node {

struct Upstream {
  enum class Kind { kNone, kChild, kLeader } kind = Kind::kNone;
  std::string socket_path{};  // kChild
  std::string host{};         // kLeader
  int port = 0;
  std::shared_ptr<asio::ssl::context> tls{};  // kLeader over TLS (--tls_peers): the node's certificate
};

// Makes `*stream` a new connection to `up` (not kNone) and opens it: connect,
// then the TLS handshake if `up.tls`. `done` runs once, with the first error
// or none. `stream` must outlive the call (the caller keeps it alive in
// `done`'s captures or its own lifetime).
void ConnectUpstream(asio::any_io_executor executor, const Upstream& up, UpstreamStream* stream,
                     std::function<void(const asio::error_code&)> done);

}  // namespace node
