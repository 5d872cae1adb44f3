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
class MetricsEndpoint {
 public:
  MetricsEndpoint(asio::io_context& io, std::function<std::string()> render);
  asio::error_code Listen(const std::string& host, int port);
  int port() const;
  void Stop();

  // The whole HTTP response to one request (its head, up to the blank line).
  static std::string Respond(std::string_view request, const std::function<std::string()>& render);

 private:
  struct Connection;
  void Accept();

  asio::io_context& io_;
  std::function<std::string()> render_;
  asio::ip::tcp::acceptor acceptor_;
};

}  // namespace node
