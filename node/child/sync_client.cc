#include "node/child/sync_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "resp/writer.h"

namespace node {

absl::Status SyncClient::Connect(const std::string& socket_path) {
  peer_ = socket_path;
  return ConnectTo(asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(socket_path)));
}

absl::Status SyncClient::ConnectTcp(const std::string& host, int port) {
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", host));
  peer_ = absl::StrCat(host, ":", port);
  return ConnectTo(asio::generic::stream_protocol::endpoint(asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(port))));
}

// A non-blocking connect, then a wait for it (asio's own connect would wait
// without a limit): the socket stays non-blocking, every later read and write
// waits in WaitReady.
absl::Status SyncClient::ConnectTo(const asio::generic::stream_protocol::endpoint& endpoint) {
  const absl::Time deadline = Deadline();
  asio::error_code ec;
  socket_.open(endpoint.protocol(), ec);
  if (!ec) socket_.non_blocking(true, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", peer_, ": ", ec.message()));
  int err = 0;
  if (::connect(socket_.native_handle(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) err = errno;
  if (err == EINPROGRESS) {
    if (auto s = WaitReady(POLLOUT, deadline, "connecting"); !s.ok()) return s;
    socklen_t len = sizeof err;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  }
  if (err != 0) {
    socket_.close(ec);
    return absl::UnavailableError(absl::StrCat("connect ", peer_, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status SyncClient::WaitReady(short events, absl::Time deadline, std::string_view what) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      asio::error_code ignored;
      socket_.close(ignored);
      return absl::DeadlineExceededError(
          absl::StrCat("no answer from ", peer_, " within ", absl::FormatDuration(timeout_), " (",
                       absl::string_view(what.data(), what.size()), "; the node may be stopped or overloaded)"));
    }
    pollfd p{socket_.native_handle(), events, 0};
    const int ms = left == absl::InfiniteDuration()
                       ? -1
                       : static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60'000));
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) return absl::UnavailableError(absl::StrCat("poll ", peer_, ": ", strerror(errno)));
  }
}

absl::Status SyncClient::Write(std::string_view bytes, absl::Time deadline) {
  while (!bytes.empty()) {
    asio::error_code ec;
    const size_t n = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(n);
    if (ec == asio::error::would_block) {
      if (auto s = WaitReady(POLLOUT, deadline, "sending"); !s.ok()) return s;
    } else if (ec) {
      return absl::UnavailableError(absl::StrCat("write to ", peer_, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<resp::Value> SyncClient::Call(std::initializer_list<std::string_view> args) {
  const absl::Time deadline = Deadline();
  std::string req;
  resp::AppendCommand(&req, args);
  if (auto s = Write(req, deadline); !s.ok()) return s;
  return ReadReply(deadline);
}

absl::Status SyncClient::Auth(std::string_view user, std::string_view password) {
  auto reply = Call({"AUTH", user, password});
  if (!reply.ok()) return reply.status();
  if (reply->type == resp::Type::kError) return absl::PermissionDeniedError(reply->str);
  return absl::OkStatus();
}

absl::Status SyncClient::Pipeline(std::string_view requests, size_t count,
                                  const std::function<void(const resp::Value&)>& on_reply) {
  const absl::Time deadline = Deadline();
  if (auto s = Write(requests, deadline); !s.ok()) return s;
  for (size_t i = 0; i < count; ++i) {
    auto v = ReadReply(deadline);
    if (!v.ok()) return v.status();
    if (on_reply) on_reply(*v);
  }
  return absl::OkStatus();
}

absl::StatusOr<resp::Value> SyncClient::ReadReply(absl::Time deadline) {
  while (true) {
    if (pos_ < in_.size()) {
      resp::Value v;
      size_t consumed = 0;
      std::string error;
      auto st = resp::ParseValue(std::string_view(in_).substr(pos_), &consumed, &v, &error);
      if (st == resp::ParseStatus::kOk) {
        pos_ += consumed;
        if (pos_ == in_.size()) {
          in_.clear();
          pos_ = 0;
        }
        return v;
      }
      if (st == resp::ParseStatus::kError) return absl::DataLossError(absl::StrCat("reply from ", peer_, ": ", error));
    }
    char buf[65536];
    asio::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      if (auto s = WaitReady(POLLIN, deadline, "waiting for its reply"); !s.ok()) return s;
      continue;
    }
    if (ec) return absl::UnavailableError(absl::StrCat("read from ", peer_, ": ", ec.message()));
    in_.append(buf, n);
  }
}

}  // namespace node
