// An input buffer for one connection: bytes arrive at the end, are consumed
// from the front. Room for a read is made without zero-filling it each time
// (the storage only grows), and consumed bytes are dropped lazily.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "asio/buffer.hpp"

namespace node {

class ReadBuffer {
 public:
  // Room for at least `n` more bytes after the data.
  asio::mutable_buffer Prepare(size_t n) {
    if (pos_ == end_) {
      pos_ = end_ = 0;
    } else if (pos_ > (1 << 20) && pos_ * 2 > end_) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (buf_.size() < end_ + n) buf_.resize(std::max(end_ + n, buf_.size() * 2));
    return asio::buffer(buf_.data() + end_, n);
  }
  // `n` bytes were read into the room Prepare() made.
  void Commit(size_t n) { end_ += n; }
  std::string_view data() const { return {buf_.data() + pos_, end_ - pos_}; }
  size_t size() const { return end_ - pos_; }
  bool empty() const { return pos_ == end_; }
  void Consume(size_t n) { pos_ += n; }

 private:
  std::string buf_;
  size_t pos_ = 0;  // data starts here
  size_t end_ = 0;  // and ends here
};

}  // namespace node
