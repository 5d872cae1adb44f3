// The node's own connection to its child, for requests about other
// connections and about the child itself: CLIENT KILL of a gone client's
// connection, ROLE (the stream offset now), the busy watchdog's PING and
// SCRIPT KILL. Requests are pipelined and answered in order; a reply that
// does not parse, or a lost link, is reported once through on_error.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio.hpp"
#include "node/read_buffer.h"
#include "resp/value.h"

namespace node {

class ControlLink {
 public:
  using Callback = std::function<void(const resp::Value& reply)>;

  explicit ControlLink(asio::io_context& io) : io_(io) {}
  ~ControlLink() { Close(); }

  absl::Status Connect(const std::string& socket_path);
  void Close();
  bool connected() const { return socket_ != nullptr; }
  // Sends `args`; `done` gets the reply (callbacks of a closed link never run).
  void Call(const std::vector<std::string>& args, Callback done);
  // Sends every request in one write: Redis runs a client's pipelined
  // requests back to back, with no other client's request between them.
  void CallTogether(const std::vector<std::vector<std::string>>& requests, std::vector<Callback> dones);
  size_t in_flight() const { return waiting_.size(); }

  std::function<void(const absl::Status&)> on_error;

 private:
  void Write();
  void Read();
  void Fail(const absl::Status& s);

  asio::io_context& io_;
  std::unique_ptr<asio::local::stream_protocol::socket> socket_;
  std::shared_ptr<bool> alive_;
  std::string out_, writing_;
  bool write_busy_ = false;
  ReadBuffer in_;
  std::deque<Callback> waiting_;
};

}  // namespace node
