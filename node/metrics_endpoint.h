// Serves the node's metrics to Prometheus on --metrics_port.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "asio.hpp"

namespace node {

// A minimal HTTP/1.1 server for GET /metrics on the event loop: one request
// per connection, headers up to 8 KB, answered with `render()`; anything else
// gets 404 or 405. No thread of its own: the node's state is read in place
// at each scrape (prometheus-cpp's own server, civetweb, would scrape from its
// threads, which the single-threaded node cannot answer without locks).
// At most kMaxConnections are open at once; one past them is closed as soon
// as it is accepted. The endpoint has no authentication: without a cap, idle
// connections from anyone who reaches the port took every descriptor the
// node had (its clients then got no answer, its snapshots failed).
class MetricsEndpoint {
 public:
  // Counted in the node's open-file budget (ClientsTheFileLimitAllows).
  static constexpr size_t kMaxConnections = 32;

  MetricsEndpoint(asio::io_context& io, std::function<std::string()> render);
  asio::error_code Listen(const std::string& host, int port);
  int port() const;
  void Stop();

  // The whole HTTP response to one request (its head, up to the blank line).
  static std::string Respond(std::string_view request, const std::function<std::string()>& render);
  // Whether `received` holds a whole request head: up to a blank line, whose
  // line ends may be CRLF or a bare LF (as HTTP servers accept).
  static bool HeadComplete(std::string_view received);
  size_t open_connections() const { return *open_; }

 private:
  struct Connection;
  void Accept();

  asio::io_context& io_;
  std::function<std::string()> render_;
  asio::ip::tcp::acceptor acceptor_;
  // Connections alive (each holds its socket until destroyed); shared with
  // them, as they may outlive the endpoint on the loop.
  std::shared_ptr<size_t> open_ = std::make_shared<size_t>(0);
};

}  // namespace node
