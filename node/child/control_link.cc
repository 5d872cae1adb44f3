#include "node/child/control_link.h"

#include "absl/strings/str_cat.h"
#include "resp/writer.h"

namespace node {

absl::Status ControlLink::Connect(const std::string& socket_path) {
  Close();
  alive_ = std::make_shared<bool>(true);
  socket_ = std::make_unique<asio::local::stream_protocol::socket>(io_);
  asio::error_code ec;
  socket_->connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) {
    socket_.reset();
    return absl::UnavailableError(absl::StrCat("control link: ", ec.message()));
  }
  Read();
  return absl::OkStatus();
}

void ControlLink::Close() {
  if (alive_) *alive_ = false;
  if (socket_) {
    asio::error_code ec;
    socket_->close(ec);
    socket_.reset();
  }
  out_.clear();
  writing_.clear();
  write_busy_ = false;
  in_ = ReadBuffer();
  waiting_.clear();
}

void ControlLink::Call(const std::vector<std::string>& args, Callback done) {
  if (!socket_) return;
  std::vector<std::string_view> views(args.begin(), args.end());
  resp::AppendCommand(&out_, views);
  waiting_.push_back(std::move(done));
  Write();
}

void ControlLink::CallTogether(const std::vector<std::vector<std::string>>& requests, std::vector<Callback> dones) {
  if (!socket_ || write_busy_) {
    // A write in flight would split them: wait for it (rare: the link is idle).
    if (socket_) asio::post(io_, [this, requests, dones = std::move(dones), alive = alive_]() mutable {
      if (*alive) CallTogether(requests, std::move(dones));
    });
    return;
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    std::vector<std::string_view> views(requests[i].begin(), requests[i].end());
    resp::AppendCommand(&out_, views);
    waiting_.push_back(i < dones.size() ? std::move(dones[i]) : Callback());
  }
  Write();
}

void ControlLink::Write() {
  if (write_busy_ || out_.empty() || !socket_) return;
  std::swap(out_, writing_);
  write_busy_ = true;
  asio::async_write(*socket_, asio::buffer(writing_), [this, alive = alive_](const asio::error_code& ec, size_t) {
    if (!*alive) return;
    write_busy_ = false;
    writing_.clear();
    if (ec) return;  // the read side reports it
    Write();
  });
}

void ControlLink::Read() {
  socket_->async_read_some(in_.Prepare(16 << 10), [this, alive = alive_](const asio::error_code& ec, size_t n) {
    if (!*alive) return;
    if (ec) return Fail(absl::UnavailableError(absl::StrCat("control link lost: ", ec.message())));
    in_.Commit(n);
    while (!in_.empty()) {
      resp::Value v;
      size_t consumed = 0;
      std::string error;
      const resp::ParseStatus st = resp::ParseValue(in_.data(), &consumed, &v, &error);
      if (st == resp::ParseStatus::kNeedMore) break;
      if (st == resp::ParseStatus::kError || waiting_.empty()) {
        return Fail(absl::DataLossError(absl::StrCat("control link: unexpected reply: ", error)));
      }
      in_.Consume(consumed);
      Callback cb = std::move(waiting_.front());
      waiting_.pop_front();
      if (cb) cb(v);
      if (!*alive) return;  // the callback closed the link
    }
    Read();
  });
}

void ControlLink::Fail(const absl::Status& s) {
  Close();
  if (on_error) on_error(s);
}

}  // namespace node
