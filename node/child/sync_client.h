// A blocking RESP client for short conversations: the node's with its child
// (readiness, COMMAND) and anarcho-admin's with nodes. Never used on the client
// path, which is asynchronous.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "asio.hpp"
#include "resp/value.h"

namespace node {

class SyncClient {
 public:
  explicit SyncClient(asio::io_context& io) : socket_(io) {}

  absl::Status Connect(const std::string& socket_path);  // unix socket
  absl::Status ConnectTcp(const std::string& host, int port);
  absl::StatusOr<resp::Value> Call(std::initializer_list<std::string_view> args);
  // AUTH; an error reply (WRONGPASS, ...) is a PermissionDenied status.
  absl::Status Auth(std::string_view user, std::string_view password);
  // Sends `requests` (already RESP-encoded, `count` of them) and reads their
  // replies; on_reply sees each decoded reply in order.
  absl::Status Pipeline(std::string_view requests, size_t count,
                        const std::function<void(const resp::Value&)>& on_reply);

 private:
  absl::StatusOr<resp::Value> ReadReply();

  asio::generic::stream_protocol::socket socket_;
  std::string in_;
  size_t pos_ = 0;
};

}  // namespace node
