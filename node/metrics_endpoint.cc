#include "node/metrics_endpoint.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "node/accept_again.h"

namespace node {
namespace {

constexpr size_t kMaxHead = 8192;
constexpr auto kDeadline = std::chrono::seconds(5);

std::string HttpResponse(std::string_view status, std::string_view content_type, std::string_view body) {
  return absl::StrCat("HTTP/1.1 ", absl::string_view(status.data(), status.size()), "\r\nContent-Type: ",
                      absl::string_view(content_type.data(), content_type.size()),
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                      absl::string_view(body.data(), body.size()));
}

}  // namespace

struct MetricsEndpoint::Connection : std::enable_shared_from_this<Connection> {
  Connection(asio::ip::tcp::socket s, std::shared_ptr<size_t> open)
      : socket(std::move(s)), deadline(socket.get_executor()), open(std::move(open)) {
    ++*this->open;
  }
  ~Connection() { --*open; }
  asio::ip::tcp::socket socket;
  asio::steady_timer deadline;
  std::shared_ptr<size_t> open;
  std::string in, out;

  void Read(const std::function<std::string()>& render) {
    in.resize(in.size() + 1024);
    const size_t have = in.size() - 1024;
    socket.async_read_some(asio::buffer(in.data() + have, 1024),
                           [self = shared_from_this(), have, render](const asio::error_code& ec, size_t n) {
                             if (ec) return self->Close();
                             self->in.resize(have + n);
                             if (HeadComplete(self->in)) {
                               self->Write(Respond(self->in, render));
                             } else if (self->in.size() >= kMaxHead) {
                               self->Write(HttpResponse("431 Request Header Fields Too Large", "text/plain", ""));
                             } else {
                               self->Read(render);
                             }
                           });
  }
  void Write(std::string response) {
    out = std::move(response);
    asio::async_write(socket, asio::buffer(out),
                      [self = shared_from_this()](const asio::error_code&, size_t) { self->Close(); });
  }
  void Close() {
    asio::error_code ec;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
    deadline.cancel();
  }
};

MetricsEndpoint::MetricsEndpoint(asio::io_context& io, std::function<std::string()> render)
    : io_(io), render_(std::move(render)), acceptor_(io) {}

asio::error_code MetricsEndpoint::Listen(const std::string& host, int port) {
  asio::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return ec;
  const asio::ip::tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  Accept();
  return {};
}

int MetricsEndpoint::port() const {
  asio::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void MetricsEndpoint::Stop() {
  asio::error_code ec;
  acceptor_.close(ec);
}

void MetricsEndpoint::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      return AcceptAgain(io_, ec, LogComponent::kNode, [this] {
        if (acceptor_.is_open()) Accept();
      });
    }
    if (*open_ >= kMaxConnections) {
      // Closed at once: its descriptor is back before the next accept.
      asio::error_code ignored;
      socket.close(ignored);
      return Accept();
    }
    auto c = std::make_shared<Connection>(std::move(socket), open_);
    c->deadline.expires_after(kDeadline);
    c->deadline.async_wait([weak = std::weak_ptr<Connection>(c)](const asio::error_code& e) {
      if (auto c = weak.lock(); c && !e) c->Close();
    });
    c->Read(render_);
    Accept();
  });
}

bool MetricsEndpoint::HeadComplete(std::string_view received) {
  // "\n\r\n" ends a head of CRLF lines (and of mixed ones), "\n\n" one of bare LFs.
  return received.find("\n\r\n") != std::string_view::npos || received.find("\n\n") != std::string_view::npos;
}

std::string MetricsEndpoint::Respond(std::string_view request, const std::function<std::string()>& render) {
  const absl::string_view head(request.data(), request.size());
  // The request line ends at its LF, with or without a CR before it.
  absl::string_view line = head.substr(0, head.find('\n'));
  if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.")) {
    return HttpResponse("400 Bad Request", "text/plain", "bad request\n");
  }
  if (parts[0] != "GET" && parts[0] != "HEAD") return HttpResponse("405 Method Not Allowed", "text/plain", "GET only\n");
  const absl::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path == "/") return HttpResponse("200 OK", "text/plain", "anarchoredis metrics: GET /metrics\n");
  if (path != "/metrics") return HttpResponse("404 Not Found", "text/plain", "not found; GET /metrics\n");
  std::string response = HttpResponse("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
  if (parts[0] == "HEAD") response.resize(response.find("\r\n\r\n") + 4);
  return response;
}

}  // namespace node
