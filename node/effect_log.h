// Where the leader's child effects go to become durable. The write path only
// needs this: effects in, "durable up to stream offset X" out. LocalLog makes them
// durable in this node's own log; the cluster puts Raft behind the same interface.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "node/replication_reader.h"

namespace node {

class EffectLog {
 public:
  virtual ~EffectLog() = default;

  // A new child stream begins at `offset` (after a full sync): offsets of earlier
  // streams mean nothing any more. Effects not yet durable are dropped: their
  // clients get an outcome-unknown error from the node.
  virtual void BeginStream(const std::string& stream_id, uint64_t offset) = 0;
  // Effects of the current stream, in order.
  virtual void Append(EffectRun&& run) = 0;
  // Every effect of the current stream up to this offset is durable.
  virtual uint64_t committed_offset() const = 0;
  // Calls `done` on the event loop once no durable write is in flight (the log
  // must stop moving before the child is rebuilt from it).
  virtual void WhenIdle(std::function<void()> done) = 0;

  // Called on the event loop whenever committed_offset() advances.
  std::function<void(uint64_t)> on_commit;
};

}  // namespace node
