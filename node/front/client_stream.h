// A client's connection: plain TCP, or TLS over TCP (its handshake done
// before the session starts). The session reads and writes through it alike.
#pragma once

#include <memory>
#include <utility>

#include "asio.hpp"
#include "asio/ssl.hpp"

namespace node {

class ClientStream {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  explicit ClientStream(asio::ip::tcp::socket socket) : plain_(std::move(socket)) {}
  // `context` made `tls`: kept as long as the connection lives.
  ClientStream(std::unique_ptr<TlsStream> tls, std::shared_ptr<asio::ssl::context> context)
      : plain_(tls->get_executor()), tls_(std::move(tls)), context_(std::move(context)) {}

  asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
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
  // Closes at once (no TLS close_notify exchange: a client that left or is
  // dropped is not waited for, as Redis does not).
  void Close() {
    asio::error_code ec;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  asio::ip::tcp::socket plain_;  // unused (never opened) with TLS
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<asio::ssl::context> context_;
};

}  // namespace node
