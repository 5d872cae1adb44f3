#include "node/local_log.h"

#include "node/effects.pb.h"
#include "node/logging.h"

namespace node {

LocalLog::LocalLog(asio::io_context& io, storage::LogStore* store, std::function<void()> before_sync)
    : io_(io), store_(store), before_sync_(std::move(before_sync)), last_index_(store->LastIndex()) {}

LocalLog::~LocalLog() {
  *alive_ = false;
  worker_.join();
}

void LocalLog::BeginStream(const std::string& stream_id, uint64_t offset) {
  ++generation_;
  stream_id_ = stream_id;
  pending_ = EffectRun{};
  pending_.end_offset = offset;
  pending_begin_ = offset;
  committed_ = offset;
}

void LocalLog::Append(EffectRun&& run) {
  if (pending_.count == 0) {
    pending_.db = run.db;
    pending_.commands = std::move(run.commands);
  } else {
    pending_.commands.append(run.commands);
  }
  pending_.count += run.count;
  pending_.end_db = run.end_db;
  pending_.end_offset = run.end_offset;
  MaybeFlush();
}

void LocalLog::MaybeFlush() {
  if (in_flight_ || pending_.end_offset <= committed_) return;
  if (pending_.count == 0) {
    // Only bytes that are not state (pings, GETACKs): nothing to write, and
    // every earlier effect is already durable since no write is in flight.
    committed_ = pending_.end_offset;
    pending_begin_ = committed_;
    if (on_commit) on_commit(committed_);
    return;
  }
  pb::EffectBatch batch;
  batch.set_stream_id(stream_id_);
  batch.set_stream_begin(pending_begin_);
  batch.set_stream_end(pending_.end_offset);
  batch.set_db(pending_.db);
  batch.set_end_db(pending_.end_db);
  batch.set_command_count(pending_.count);
  batch.set_commands(std::move(pending_.commands));
  uint64_t end = pending_.end_offset;
  pending_ = EffectRun{};
  pending_.db = pending_.end_db = batch.end_db();
  pending_.end_offset = end;
  pending_begin_ = end;

  auto write = std::make_shared<storage::LogWrite>();
  write->entries.push_back(storage::LogEntry{++last_index_, 1, batch.SerializeAsString()});
  write->sync = true;
  in_flight_ = true;
  uint64_t gen = generation_;
  asio::post(worker_, [this, write, end, gen, alive = alive_] {
    if (before_sync_) before_sync_();
    absl::Status s = store_->Write(*write);
    asio::post(io_, [this, s, end, gen, alive] {
      if (!*alive) return;
      in_flight_ = false;
      if (!s.ok()) {
        // A log that cannot be written must not acknowledge anything more.
        Log(LogLevel::kError, "log write failed: %s; exiting", s.ToString());
        std::_Exit(70);
      }
      ++syncs_;
      if (idle_waiter_) {
        auto done = std::move(idle_waiter_);
        idle_waiter_ = nullptr;
        done();
        return;
      }
      if (gen != generation_) return;
      committed_ = end;
      if (on_commit) on_commit(committed_);
      MaybeFlush();
    });
  });
}

void LocalLog::WhenIdle(std::function<void()> done) {
  if (!in_flight_) {
    done();
  } else {
    idle_waiter_ = std::move(done);
  }
}

}  // namespace node
