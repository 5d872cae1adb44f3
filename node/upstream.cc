#include "node/upstream.h"

#include "node/tcp_keepalive.h"

namespace node {

void ConnectUpstream(asio::any_io_executor executor, const Upstream& up, UpstreamStream* stream,
                     std::function<void(const asio::error_code&)> done) {
  const bool leader = up.kind == Upstream::Kind::kLeader;
  asio::generic::stream_protocol::endpoint ep =
      leader ? asio::generic::stream_protocol::endpoint(
                   asio::ip::tcp::endpoint(asio::ip::make_address(up.host), static_cast<uint16_t>(up.port)))
             : asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(up.socket_path));
  asio::generic::stream_protocol::socket socket(executor);
  // The connection this one replaces may have been closed in this very turn
  // (the relay reconnects as soon as a client needs it): the aborted
  // completions of its read and write still wait in the loop's queue, and a
  // TLS stream's use its state, so it lives until they have run.
  if (stream->tls()) asio::post(executor, [old = std::make_shared<UpstreamStream>(std::move(*stream))] {});
  *stream = up.tls ? UpstreamStream(std::make_unique<UpstreamStream::TlsStream>(std::move(socket), *up.tls), up.tls)
                   : UpstreamStream(std::move(socket));
  stream->socket().async_connect(ep, [stream, leader, done = std::move(done)](const asio::error_code& ec) mutable {
    if (ec) return done(ec);
    if (leader) {
      asio::error_code ignored;
      stream->socket().set_option(asio::ip::tcp::no_delay(true), ignored);
      SetTcpKeepAlive(stream->socket().native_handle());  // the leader's end of it has it too
    }
    // With TLS (to the leader with --tls_peers), the node's certificate proves
    // it to the leader's TLS port, and the leader's to it.
    // (A failure is the caller's to log: Server::NoteLeaderConnect.)
    stream->Handshake(asio::ssl::stream_base::client, [stream, done = std::move(done)](const asio::error_code& ec) {
      if (ec) stream->Close();
      done(ec);
    });
  });
}

}  // namespace node
