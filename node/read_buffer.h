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
  // Room for at least `n` more bytes after the data.
  asio::mutable_buffer Prepare(size_t n) {
    if (pos_ == end_) {
      pos_ = end_ = 0;
      // A big value passed through: give its memory back.
      if (cap_ > kKeepBytes && n <= kKeepBytes) {
        buf_.reset();
        cap_ = 0;
      }
    } else if (pos_ > (1 << 20) && pos_ * 2 > end_) {
      std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (cap_ < end_ + n) Grow(std::max(end_ + n, cap_ * 2));
    reading_ = true;
    return asio::buffer(buf_.get() + end_, n);
  }
  // Room for `n` more bytes in one allocation (a big value is announced):
  // growing by doubling would copy it several times. Reserve what the value
  // still needs plus the next read's room.
  void Reserve(size_t n) {
    if (cap_ - end_ < n) Grow(end_ - pos_ + n);
  }
  // Hands the first n unconsumed bytes over without copying them: the storage
  // moves into the block, and the (few) bytes after them are copied into a
  // fresh buffer. For big values only. While a read is in flight (Prepare()
  // without its Commit()) the storage must stay where the read writes, so
  // the bytes are copied out instead.
  ByteBlock TakeFront(size_t n) {
    if (reading_) {
      std::shared_ptr<char[]> copy(new char[n]);
      std::memcpy(copy.get(), buf_.get() + pos_, n);
      pos_ += n;
      return ByteBlock(std::move(copy), 0, n);
    }
    std::shared_ptr<char[]> owner(std::move(buf_));
    const size_t at = pos_;
    const size_t rest = end_ - pos_ - n;
    cap_ = pos_ = end_ = 0;
    if (rest > 0) {
      Grow(rest);
      std::memcpy(buf_.get(), owner.get() + at + n, rest);
      end_ = rest;
    }
    return ByteBlock(std::move(owner), at, n);
  }
  // `n` bytes were read into the room Prepare() made (0 if the read failed).
  void Commit(size_t n) {
    end_ += n;
    reading_ = false;
  }
  std::string_view data() const { return {buf_.get() + pos_, end_ - pos_}; }
  size_t size() const { return end_ - pos_; }
  bool empty() const { return pos_ == end_; }
  void Consume(size_t n) { pos_ += n; }

 private:
  static constexpr size_t kKeepBytes = 4 << 20;

  void Grow(size_t cap) {
    std::unique_ptr<char[]> bigger(new char[cap]);  // not zero-filled
    if (end_ > pos_) std::memcpy(bigger.get(), buf_.get() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
    buf_ = std::move(bigger);
    cap_ = cap;
  }

  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t pos_ = 0;  // data starts here
  size_t end_ = 0;  // and ends here
  bool reading_ = false;  // a read into [end_, ...) is in flight
};

}  // namespace node
