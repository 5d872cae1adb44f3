// A connection, plain or with TLS: a client's session, the peer links and a
// follower's hop to the leader read and write through it alike. With TLS,
// the handshake comes first (Handshake); a plain stream's handshake succeeds
// at once. ByteStream is a TCP connection; UpstreamStream, a session's link
// to its child (a unix socket) or to the leader (TCP, TLS with --tls_peers).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "asio.hpp"
#include "asio/ssl.hpp"

namespace node {

template <class Socket>
class BasicByteStream {
 public:
  using TlsStream = asio::ssl::stream<Socket>;

  explicit BasicByteStream(Socket socket) : plain_(std::move(socket)) {}
  // `context` made `tls`: kept as long as the connection lives.
  BasicByteStream(std::unique_ptr<TlsStream> tls, std::shared_ptr<asio::ssl::context> context)
      : plain_(tls->get_executor()), tls_(std::move(tls)), context_(std::move(context)) {}

  Socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  template <class Handler>
  void Handshake(asio::ssl::stream_base::handshake_type role, Handler&& handler) {
    if (tls_) return tls_->async_handshake(role, std::forward<Handler>(handler));
    asio::post(plain_.get_executor(), [h = std::forward<Handler>(handler)]() mutable { h(asio::error_code()); });
  }
  asio::any_io_executor get_executor() { return plain_.get_executor(); }
  bool tls() const { return tls_ != nullptr; }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    plain_.async_read_some(buffers, std::forward<Handler>(handler));
  }
  template <class Buffers, class Handler>
  void async_write(const Buffers& buffers, Handler&& handler) {
    if (tls_) return asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    asio::async_write(plain_, buffers, std::forward<Handler>(handler));
  }
  // A gather list of one buffer is written as that buffer: a plain send(),
  // which costs the kernel less than sendmsg() and its iovec (most writes of
  // an unpipelined client are one reply, or one request).
  template <class Handler>
  void async_write(const std::vector<asio::const_buffer>& buffers, Handler&& handler) {
    if (buffers.size() == 1) return async_write(buffers.front(), std::forward<Handler>(handler));
    if (tls_) return asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    asio::async_write(plain_, buffers, std::forward<Handler>(handler));
  }
  // Closes at once (no TLS close_notify exchange: a peer that left or is
  // dropped is not waited for, as Redis does not).
  void Close() {
    asio::error_code ec;
    socket().shutdown(Socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  Socket plain_;  // unused (never opened) with TLS
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<asio::ssl::context> context_;
};

using ByteStream = BasicByteStream<asio::ip::tcp::socket>;
using UpstreamStream = BasicByteStream<asio::generic::stream_protocol::socket>;

}  // namespace node
