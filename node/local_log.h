// A single node's EffectLog: effects become entries of the node's own durable
// log (storage::LogStore). Group commit: while one synced write is in flight,
// everything the stream brings waits; the next write takes it all at once. The
// synced write runs on a worker thread; its completion returns to the event loop.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asio.hpp"
#include "node/effect_log.h"
#include "storage/log_store.h"

namespace node {

class LocalLog : public EffectLog {
 public:
  // `before_sync`, if set, runs on the worker before every synced write (tests
  // use it to hold a sync back and prove that replies wait for it).
  LocalLog(asio::io_context& io, storage::LogStore* store, std::function<void()> before_sync = {});
  ~LocalLog() override;

  void BeginStream(const std::string& stream_id, uint64_t offset) override;
  void Append(EffectRun&& run) override;
  uint64_t committed_offset() const override { return committed_; }
  void WhenIdle(std::function<void()> done) override;

  uint64_t last_index() const { return last_index_; }
  uint64_t syncs() const { return syncs_; }

 private:
  void MaybeFlush();

  asio::io_context& io_;
  storage::LogStore* store_;
  std::function<void()> before_sync_;
  asio::thread_pool worker_{1};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::string stream_id_;
  uint64_t generation_ = 0;  // bumps with each stream, to ignore stale completions
  EffectRun pending_;        // effects waiting for the next write
  uint64_t pending_begin_ = 0;
  bool in_flight_ = false;
  std::function<void()> idle_waiter_;
  uint64_t committed_ = 0;
  uint64_t last_index_ = 0;
  uint64_t syncs_ = 0;
};

}  // namespace node
