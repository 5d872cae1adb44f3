// A follower's hop to the leader over TLS (ConnectUpstream): the relay may
// close its link and connect again in one turn of the loop, while the old
// link's aborted read still waits in the loop's queue.
#include "node/upstream.h"

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "node/tls.h"

namespace node {
namespace {

using namespace std::chrono_literals;
using TlsSocket = asio::ssl::stream<asio::ip::tcp::socket>;

void RunUntil(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(10ms);
  }
}

// Accepts TLS connections and keeps them open, silent.
class TlsServer {
 public:
  TlsServer(asio::io_context& io, asio::ssl::context& context)
      : acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), context_(context) {
    Accept();
  }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      auto tls = std::make_shared<TlsSocket>(std::move(socket), context_);
      served_.push_back(tls);
      tls->async_handshake(asio::ssl::stream_base::server, [](const asio::error_code&) {});
      Accept();
    });
  }

  asio::ip::tcp::acceptor acceptor_;
  asio::ssl::context& context_;
  std::vector<std::shared_ptr<TlsSocket>> served_;
};

// The old TLS stream was destroyed when the new connection took its place,
// and its aborted read then ran on freed memory (found in review; the
// AddressSanitizer build of this test reports it, node_asan_tests).
TEST(UpstreamTest, ATlsLinkClosedAndReopenedInOneTurnOutlivesItsAbortedRead) {
  asio::io_context io;
  const std::string dir = ANARCHO_TLS_TESTDATA;
  TlsOptions options{.cert_file = dir + "/server.crt", .key_file = dir + "/server.key",
                     .ca_cert_file = dir + "/ca.crt", .peers = true};
  auto server_context = MakeTlsServerContext(options);
  ASSERT_TRUE(server_context.ok()) << server_context.status();
  auto peer_context = MakeTlsPeerContext(options);
  ASSERT_TRUE(peer_context.ok()) << peer_context.status();
  TlsServer server(io, **server_context);
  const Upstream up{.kind = Upstream::Kind::kLeader, .host = "127.0.0.1", .port = server.port(), .tls = *peer_context};

  UpstreamStream stream{asio::generic::stream_protocol::socket(io)};
  std::optional<asio::error_code> first, second, read;
  ConnectUpstream(io.get_executor(), up, &stream, [&](const asio::error_code& ec) { first = ec; });
  RunUntil(io, [&] { return first.has_value(); });
  ASSERT_TRUE(first);
  ASSERT_FALSE(*first) << first->message();

  char buf[64];
  stream.async_read_some(asio::buffer(buf), [&](const asio::error_code& ec, size_t) { read = ec; });
  io.restart();
  io.run_for(20ms);  // the read waits on the socket
  ASSERT_FALSE(read);
  // One turn, as the relay's: the link fails, and a client's request opens it again.
  stream.Close();
  ConnectUpstream(io.get_executor(), up, &stream, [&](const asio::error_code& ec) { second = ec; });
  RunUntil(io, [&] { return read.has_value() && second.has_value(); });
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read) << "the closed link's read ended without an error";
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second) << second->message();
}

}  // namespace
}  // namespace node
