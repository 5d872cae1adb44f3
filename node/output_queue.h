// Bytes waiting to be written to one socket, in order (a ByteQueue: small
// writes coalesce, a big block is never copied), and the chunks of the
// gather write in progress.
#pragma once

#include <string>
#include <vector>

#include "asio/buffer.hpp"
#include "node/byte_block.h"

namespace node {

using OutputQueue = ByteQueue;

struct WritingChunks {
  // A written small block of up to `spare_bytes` is kept for the next appends.
  explicit WritingChunks(size_t spare_bytes = kSpareBytes) : spare_bytes(spare_bytes) {}

  std::deque<ByteBlock> chunks;
  std::vector<asio::const_buffer> buffers;
  std::string spare;  // a written small block's memory, for the queue's next appends

  // Takes everything queued in `q` for one gather write.
  void TakeFrom(OutputQueue& q) {
    chunks.clear();
    q.TakeBlocks(&chunks, std::move(spare));
    spare = std::string();
    buffers.clear();
    for (const ByteBlock& c : chunks) buffers.push_back(asio::buffer(c.view().data(), c.size()));
  }
  size_t bytes() const {
    size_t n = 0;
    for (const ByteBlock& c : chunks) n += c.size();
    return n;
  }
  // The write completed: blocks are freed but one of at most spare_bytes.
  // By default what an idle connection keeps (like Redis's 16 KB reply
  // buffer).
  static constexpr size_t kSpareBytes = 16 << 10;
  const size_t spare_bytes;
  void Clear() {
    for (ByteBlock& c : chunks) {
      std::string* s = c.string();
      if (s != nullptr && s->capacity() <= spare_bytes && s->capacity() > spare.capacity()) spare.swap(*s);
    }
    chunks.clear();
    buffers.clear();
  }
};

}  // namespace node
