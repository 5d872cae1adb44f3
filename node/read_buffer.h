// An input buffer for one connection: bytes arrive at the end, are consumed
// from the front. Room for a read is made without zero-filling it, growing
// copies only the unconsumed bytes, consumed bytes are dropped lazily, and
// the memory of a big value is given back once it was consumed.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include "asio/buffer.hpp"
#include "node/byte_block.h"

namespace node {

class ReadBuffer {
 public:
  // Room for at least `n` more bytes after the data. Bytes before the data
  // are written over only while no block handed out by TakeFront() still
  // shares the storage.
  asio::mutable_buffer Prepare(size_t n) {
    const bool shared = buf_.use_count() > 1;
    if (pos_ == end_) {
      pos_ = end_ = 0;
      // A big value passed through (or is still on its way out): let it go.
      if (shared || (cap_ > kKeepBytes && n <= kKeepBytes)) {
        buf_.reset();
        cap_ = 0;
      }
    } else if (pos_ > (1 << 20) && pos_ * 2 > end_) {
      if (shared) {
        Grow(std::max(end_ - pos_ + n, cap_ - pos_));
      } else {
        std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
        end_ -= pos_;
        pos_ = 0;
      }
    }
    if (cap_ < end_ + n) Grow(std::max(end_ + n, cap_ * 2));
    return asio::buffer(buf_.get() + end_, n);
  }
  // Room for `n` more bytes in one allocation (a big value is announced):
  // growing by doubling would copy it several times. Reserve what the value
  // still needs plus the next read's room.
  void Reserve(size_t n) {
    if (cap_ - end_ < n) Grow(end_ - pos_ + n);
  }
  // Hands the first n unconsumed bytes over without copying them: the block
  // shares the storage, which Prepare() then never writes over. A read in
  // flight (it writes after the data) and the bytes after the block stay
  // where they are. For big values only.
  ByteBlock TakeFront(size_t n) {
    ByteBlock block(buf_, pos_, n);
    pos_ += n;
    return block;
  }
  // `n` bytes were read into the room Prepare() made.
  void Commit(size_t n) { end_ += n; }
  std::string_view data() const { return {buf_.get() + pos_, end_ - pos_}; }
  size_t size() const { return end_ - pos_; }
  bool empty() const { return pos_ == end_; }
  void Consume(size_t n) { pos_ += n; }

 private:
  static constexpr size_t kKeepBytes = 4 << 20;

  // Fresh storage of `cap` bytes holding the unconsumed ones.
  void Grow(size_t cap) {
    std::shared_ptr<char[]> bigger = std::make_shared_for_overwrite<char[]>(cap);
    if (end_ > pos_) std::memcpy(bigger.get(), buf_.get() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
    buf_ = std::move(bigger);
    cap_ = cap;
  }

  std::shared_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t pos_ = 0;  // data starts here
  size_t end_ = 0;  // and ends here
};

}  // namespace node
