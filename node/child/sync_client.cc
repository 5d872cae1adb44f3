#include "node/child/sync_client.h"

#include "absl/strings/str_cat.h"
#include "resp/writer.h"

namespace node {

absl::Status SyncClient::Connect(const std::string& socket_path) {
  asio::error_code ec;
  socket_.connect(asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(socket_path)), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", socket_path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status SyncClient::ConnectTcp(const std::string& host, int port) {
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", host));
  socket_.connect(asio::generic::stream_protocol::endpoint(
                      asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(port))),
                  ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", host, ":", port, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<resp::Value> SyncClient::Call(std::initializer_list<std::string_view> args) {
  std::string req;
  resp::AppendCommand(&req, args);
  asio::error_code ec;
  asio::write(socket_, asio::buffer(req), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write to child: ", ec.message()));
  return ReadReply();
}

absl::Status SyncClient::Auth(std::string_view user, std::string_view password) {
  auto reply = Call({"AUTH", user, password});
  if (!reply.ok()) return reply.status();
  if (reply->type == resp::Type::kError) return absl::PermissionDeniedError(reply->str);
  return absl::OkStatus();
}

absl::Status SyncClient::Pipeline(std::string_view requests, size_t count,
                                  const std::function<void(const resp::Value&)>& on_reply) {
  asio::error_code ec;
  asio::write(socket_, asio::buffer(requests.data(), requests.size()), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write to child: ", ec.message()));
  for (size_t i = 0; i < count; ++i) {
    auto v = ReadReply();
    if (!v.ok()) return v.status();
    if (on_reply) on_reply(*v);
  }
  return absl::OkStatus();
}

absl::StatusOr<resp::Value> SyncClient::ReadReply() {
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
      if (st == resp::ParseStatus::kError) return absl::DataLossError(absl::StrCat("child reply: ", error));
    }
    char buf[65536];
    asio::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("read from child: ", ec.message()));
    in_.append(buf, n);
  }
}

}  // namespace node
