// Bytes waiting to be written to one socket, in order (a ByteQueue: small
// writes coalesce, a big block is never copied), and the chunks of the
// gather write in progress.
#pragma once

#include <vector>

#include "asio/buffer.hpp"
#include "node/byte_block.h"

namespace node {

using OutputQueue = ByteQueue;

struct WritingChunks {
  std::deque<ByteBlock> chunks;
  std::vector<asio::const_buffer> buffers;

  // Takes everything queued in `q` for one gather write.
  void TakeFrom(OutputQueue& q) {
    chunks = q.TakeBlocks();
    buffers.clear();
    for (const ByteBlock& c : chunks) buffers.push_back(asio::buffer(c.view().data(), c.size()));
  }
  size_t bytes() const {
    size_t n = 0;
    for (const ByteBlock& c : chunks) n += c.size();
    return n;
  }
  void Clear() {
    chunks.clear();
    buffers.clear();
  }
};

}  // namespace node
