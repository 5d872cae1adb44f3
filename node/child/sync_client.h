// A blocking RESP client for short conversations: the node's with its child
// (readiness, COMMAND) and anarcho-admin's with nodes. Never used on the client
// path, which is asynchronous.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio.hpp"
#include "resp/value.h"

namespace node {

class SyncClient {
 public:
  explicit SyncClient(asio::io_context& io) : socket_(io) {}

  // From now on a connect, and a call (its requests and their replies), that
  // takes longer than `timeout` fails with DeadlineExceeded, the connection
  // then closed. By default they wait as long as it takes (the node's own
  // child); anarcho-admin sets one, since a stopped node would keep it waiting.
  void set_timeout(absl::Duration timeout) { timeout_ = timeout; }

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
  absl::Status ConnectTo(const asio::generic::stream_protocol::endpoint& endpoint);
  absl::Status Write(std::string_view bytes, absl::Time deadline);
  absl::StatusOr<resp::Value> ReadReply(absl::Time deadline);
  // Waits until the socket is ready for `events` (poll's); past `deadline`,
  // closes it and says what was waited for.
  absl::Status WaitReady(short events, absl::Time deadline, std::string_view what);
  absl::Time Deadline() const { return absl::Now() + timeout_; }

  asio::generic::stream_protocol::socket socket_;
  std::string peer_;  // for messages: the socket path or host:port
  absl::Duration timeout_ = absl::InfiniteDuration();
  std::string in_;
  size_t pos_ = 0;
};

}  // namespace node
