// Applies committed log entries to the child, in log order, over one ordinary
// client connection: pipelined, each entry's commands sent as they were
// propagated (MULTI/EXEC groups included, so they stay atomic), with a SELECT
// first when the entry starts in another db. An entry counts as applied once
// the child answered all of its commands. The pieces of a command cut across
// entries (`continued`) are held until the last one arrives; pieces whose
// stream never completed them (their leader lost the rest) are dropped.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "asio.hpp"
#include "node/child/effect_batcher.h"
#include "node/effects.pb.h"
#include "node/output_queue.h"
#include "node/read_buffer.h"
#include "resp/reply_scanner.h"

namespace node {

class Applier {
 public:
  explicit Applier(asio::io_context& io) : io_(io) {}
  ~Applier() { Close(); }

  // A new connection to a (new) child: the db is 0 and nothing is pending.
  absl::Status Connect(const std::string& socket_path, uint64_t applied);
  void Close();

  // Entry `index` (the next in log order) carries these effects.
  void Apply(uint64_t index, const pb::EffectBatch& batch);
  // Entry `index` changes nothing in the child (no-op, membership, effects the
  // child already has).
  void Skip(uint64_t index);

  uint64_t applied() const { return applied_; }
  bool idle() const { return pending_.empty(); }
  uint64_t errors() const { return errors_; }

  std::function<void(uint64_t)> on_applied;
  std::function<void(const absl::Status&)> on_error;

 private:
  struct Pending {
    uint64_t index;
    uint64_t replies;
  };

  void Write();
  void Read();
  void Advance();

  asio::io_context& io_;
  std::unique_ptr<asio::local::stream_protocol::socket> socket_;
  std::shared_ptr<bool> alive_;
  OutputQueue out_;
  WritingChunks writing_;
  bool write_busy_ = false;
  ReadBuffer in_;
  resp::ReplyScanner scanner_;
  std::deque<Pending> pending_;
  int db_ = 0;
  PieceAssembler pieces_;
  uint64_t applied_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace node
