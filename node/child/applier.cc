#include "node/child/applier.h"

#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {

absl::Status Applier::Connect(const std::string& socket_path, uint64_t applied) {
  Close();
  alive_ = std::make_shared<bool>(true);
  socket_ = std::make_unique<asio::local::stream_protocol::socket>(io_);
  asio::error_code ec;
  socket_->connect(asio::local::stream_protocol::endpoint(socket_path), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("applier: connect: ", ec.message()));
  db_ = 0;
  applied_ = applied;
  pending_.clear();
  pieces_.Clear();
  // Bytes of the previous connection (queued, or in a write cut short) must
  // never reach the new child: it starts from an empty state.
  out_.Clear();
  writing_.Clear();
  in_ = ReadBuffer();
  scanner_.Reset();
  Read();
  return absl::OkStatus();
}

void Applier::Close() {
  if (alive_) *alive_ = false;
  if (socket_) {
    asio::error_code ec;
    socket_->close(ec);
    socket_.reset();
  }
  write_busy_ = false;
}

void Applier::Apply(uint64_t index, const pb::EffectBatch& batch) {
  std::vector<std::string> pieces;
  int db = 0;
  const uint64_t dropped = pieces_.dropped_bytes();
  const bool complete = pieces_.Complete(batch, &pieces, &db);
  if (pieces_.dropped_bytes() != dropped) {
    Log(LogLevel::kInfo, "apply: dropped %d bytes of a command its leader never completed",
        pieces_.dropped_bytes() - dropped);
  }
  if (!complete) return Skip(index);
  uint64_t replies = batch.command_count();
  if (db != db_) {
    std::string select;
    resp::AppendCommand(&select, {"SELECT", absl::StrCat(db)});
    out_.Append(select);
    ++replies;
  }
  for (std::string& p : pieces) out_.Append(std::move(p));
  out_.Append(batch.commands());
  db_ = batch.end_db();
  pending_.push_back(Pending{index, replies});
  Advance();
  Write();
}

void Applier::Skip(uint64_t index) {
  pending_.push_back(Pending{index, 0});
  Advance();
}

void Applier::Advance() {
  uint64_t before = applied_;
  while (!pending_.empty() && pending_.front().replies == 0) {
    applied_ = pending_.front().index;
    pending_.pop_front();
  }
  if (applied_ != before && on_applied) on_applied(applied_);
}

void Applier::Write() {
  if (write_busy_ || out_.empty() || !socket_) return;
  writing_.TakeFrom(out_);
  write_busy_ = true;
  asio::async_write(*socket_, writing_.buffers, [this, alive = alive_](const asio::error_code& ec, size_t) {
    if (!*alive) return;
    write_busy_ = false;
    writing_.Clear();
    if (ec) return;  // the read side reports it
    Write();
  });
}

void Applier::Read() {
  socket_->async_read_some(in_.Prepare(64 << 10), [this, alive = alive_](const asio::error_code& ec, size_t n) {
    if (!*alive) return;
    if (ec) {
      if (on_error) on_error(absl::UnavailableError(absl::StrCat("applier: ", ec.message())));
      return;
    }
    in_.Commit(n);
    std::string error;
    while (!in_.empty()) {
      size_t len = 0;
      char type = 0;
      if (scanner_.Scan(in_.data(), &len, &type, &error) != resp::ParseStatus::kOk) break;
      if (type == '-' && errors_++ < 20) {
        Log(LogLevel::kWarning, "apply: child refused an entry's command: %s",
            in_.data().substr(0, std::min<size_t>(len, 200)));
      }
      in_.Consume(len);
      if (!pending_.empty()) --pending_.front().replies;
      Advance();
    }
    Read();
  });
}

}  // namespace node
