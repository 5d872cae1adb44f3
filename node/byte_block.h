// Bytes that may be big. A ByteBlock owns its bytes either as a std::string or
// as memory taken over from a ReadBuffer, so a big value read from one socket
// goes out on another (or into the log's pieces) without being copied on the
// event loop: one copy of 500 MB, page faults included, stalls it for about
// half a second, long enough to cost the leadership.
#pragma once

#include <cstring>
#include <deque>
#include <algorithm>
#include <memory>
#include <utility>
#include <string>
#include <string_view>

namespace node {

class ByteBlock {
 public:
  ByteBlock() = default;
  ByteBlock(std::string s) : str_(std::move(s)) {}  // NOLINT: implicit on purpose
  ByteBlock(std::shared_ptr<char[]> owner, size_t offset, size_t size)
      : owner_(std::move(owner)), offset_(offset), size_(size) {}

  std::string_view view() const { return owner_ ? std::string_view(owner_.get() + offset_, size_) : str_; }
  size_t size() const { return owner_ ? size_ : str_.size(); }
  bool empty() const { return size() == 0; }
  // A string block, which small appends may grow.
  std::string* string() { return owner_ ? nullptr : &str_; }
  // Drops the first n bytes.
  void RemovePrefix(size_t n) {
    if (owner_) {
      offset_ += n;
      size_ -= n;
    } else {
      str_.erase(0, n);
    }
  }

 private:
  std::string str_;
  std::shared_ptr<char[]> owner_;
  size_t offset_ = 0;
  size_t size_ = 0;
};

// A sequence of bytes kept as blocks: small appends coalesce into a string
// block, big blocks are kept as they are; bytes leave from the front.
class ByteQueue {
 public:
  ByteQueue() = default;
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;
  // Moving keeps the blocks where they are (a deque's elements do not move).
  ByteQueue(ByteQueue&& o) noexcept
      : blocks_(std::move(o.blocks_)), size_(std::exchange(o.size_, 0)), last_string_(std::exchange(o.last_string_, nullptr)) {
    o.blocks_.clear();
  }
  ByteQueue& operator=(ByteQueue&& o) noexcept {
    blocks_ = std::move(o.blocks_);
    o.blocks_.clear();
    size_ = std::exchange(o.size_, 0);
    last_string_ = std::exchange(o.last_string_, nullptr);
    return *this;
  }
  void Append(std::string_view bytes) {
    if (bytes.empty()) return;
    std::string* last = last_string_;
    if (last == nullptr || last->size() + bytes.size() > kCoalesce) {
      blocks_.emplace_back(std::exchange(spare_, std::string()));
      last = last_string_ = blocks_.back().string();
    }
    last->append(bytes);
    size_ += bytes.size();
  }
  // Room for `n` more bytes of small appends in the block they grow (up to
  // the coalescing size): a caller that knows what comes spares that block
  // its growth step by step.
  void Reserve(size_t n) {
    n = std::min(n, kCoalesce);
    if (last_string_ == nullptr) {
      spare_.reserve(n);
    } else if (last_string_->size() + n <= kCoalesce) {
      last_string_->reserve(last_string_->size() + n);
    }
  }
  void Append(const char* bytes) { Append(std::string_view(bytes)); }
  void Append(const std::string& bytes) { Append(std::string_view(bytes)); }
  void Append(std::string&& bytes) { Append(ByteBlock(std::move(bytes))); }
  void Append(ByteBlock&& block) {
    if (block.size() < kCoalesce) return Append(block.view());
    size_ += block.size();
    blocks_.push_back(std::move(block));
    last_string_ = nullptr;
  }
  // Moves `other`'s bytes in after these. Its string blocks move as they are
  // (no copy) unless small appends are growing this queue's last block, which
  // takes them in.
  void Append(ByteQueue&& other) {
    for (ByteBlock& b : other.blocks_) {
      if (last_string_ == nullptr && b.string() != nullptr && !b.empty()) {
        size_ += b.size();
        blocks_.push_back(std::move(b));
        last_string_ = blocks_.back().string();
      } else {
        Append(std::move(b));
      }
    }
    other.Clear();
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The first block's bytes (the queue is not empty).
  std::string_view FrontBlock() const { return blocks_.front().view(); }
  void Clear() {
    blocks_.clear();
    size_ = 0;
    last_string_ = nullptr;
  }
  // The first n bytes, dropped from the queue (n <= size()): a string block
  // of exactly n bytes at the front moves out, other bytes are copied.
  std::string Take(size_t n) {
    if (n > 0 && blocks_.front().size() == n && blocks_.front().string() != nullptr) {
      std::string out = std::move(*blocks_.front().string());
      if (blocks_.size() == 1) last_string_ = nullptr;
      blocks_.pop_front();
      size_ -= n;
      return out;
    }
    std::string out;
    out.reserve(n);
    while (n > 0) {
      ByteBlock& b = blocks_.front();
      const size_t k = std::min(n, b.size());
      out.append(b.view().substr(0, k));
      if (k == b.size()) {
        if (blocks_.size() == 1) last_string_ = nullptr;
        blocks_.pop_front();
      } else {
        b.RemovePrefix(k);
      }
      size_ -= k;
      n -= k;
    }
    return out;
  }
  // A copy of every byte (for tests and logs, not for big values).
  std::string ToString() const {
    std::string out;
    for (const ByteBlock& b : blocks_) out.append(b.view());
    return out;
  }
  // Moves every block out, in order, into `out` (which must be empty; this
  // queue keeps its memory). `spare`, an empty string, lends its capacity to
  // the next small append: a queue written after every few appends then
  // allocates nothing in the steady state.
  void TakeBlocks(std::deque<ByteBlock>* out, std::string spare = {}) {
    blocks_.swap(*out);
    size_ = 0;
    last_string_ = nullptr;
    spare.clear();
    spare_ = std::move(spare);
  }

  static constexpr size_t kCoalesce = 64 << 10;

 private:
  std::deque<ByteBlock> blocks_;
  std::string spare_;  // capacity for the next string block
  size_t size_ = 0;
  std::string* last_string_ = nullptr;  // the last block, if small appends may grow it
};

}  // namespace node
