// A FIFO queue in one ring of reused cells. std::deque frees a block of
// cells each time its front passes one and allocates one each time its back
// enters a new one; a queue that every request of a connection passes
// through (its reply slots, the replies it waits for) then allocates and
// frees a block every few requests. This ring allocates only when it grows
// past its largest size so far. Once empty, it gives its cells back when
// they are many (a connection that once had 100000 requests in flight keeps
// no memory for them when it idles), or when it held far fewer than it has
// since it was last empty; otherwise it keeps them for the next burst (a
// follower's relay, with ~800 requests in flight on the leader, may drain
// to empty after each commit: growing back from 8 cells each time cost ~0.6
// us per request in bench/queues, most of it page faults, the larger cell
// vectors being fresh memory from mmap each time).
//
// Cells are reused by assignment: T must be default-constructible and
// move-assignable, and a popped cell is reset to T{} (so what it held, such
// as a reply's bytes, is freed when it leaves, not when the cell is reused).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace node {

template <typename T>
class RingQueue {
 public:
  template <typename Q, typename V>
  class Iter {
   public:
    Iter(Q* q, size_t i) : q_(q), i_(i) {}
    V& operator*() const { return (*q_)[i_]; }
    V* operator->() const { return &(*q_)[i_]; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iter& o) const { return i_ == o.i_; }

   private:
    Q* q_;
    size_t i_;
  };
  using iterator = Iter<RingQueue, T>;
  using const_iterator = Iter<const RingQueue, const T>;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cells_.size(); }
  // An empty ring keeps this many cells whatever it held, and at most
  // kKeepBusyCells when it was that busy since it was last empty.
  static constexpr size_t kKeepCells = 256;
  static constexpr size_t kKeepBusyCells = 4096;
  T& operator[](size_t i) { return cells_[(head_ + i) & (cells_.size() - 1)]; }
  const T& operator[](size_t i) const { return cells_[(head_ + i) & (cells_.size() - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, size_); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == cells_.size()) Grow();
    T& cell = cells_[(head_ + size_) & (cells_.size() - 1)];
    cell = T(std::forward<Args>(args)...);
    if (++size_ > peak_) peak_ = size_;
    return cell;
  }
  void push_back(T value) { emplace_back(std::move(value)); }
  void pop_front() {
    cells_[head_] = T{};
    head_ = (head_ + 1) & (cells_.size() - 1);
    --size_;
    MaybeRelease();
  }
  // Removes the i-th element; those after it move up one place.
  void erase_at(size_t i) {
    for (; i + 1 < size_; ++i) (*this)[i] = std::move((*this)[i + 1]);
    (*this)[size_ - 1] = T{};
    --size_;
    MaybeRelease();
  }
  // Removes every element for which pred is true, keeping the others' order.
  template <typename Pred>
  void erase_if(Pred pred) {
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i) {
      if (pred((*this)[i])) continue;
      if (kept != i) (*this)[kept] = std::move((*this)[i]);
      ++kept;
    }
    for (size_t i = kept; i < size_; ++i) (*this)[i] = T{};
    size_ = kept;
    MaybeRelease();
  }
  void clear() {
    while (!empty()) pop_front();
    head_ = 0;
  }

 private:
  void MaybeRelease() {
    if (size_ != 0) return;
    const size_t cells = cells_.size();
    if (cells > kKeepCells && (cells > kKeepBusyCells || peak_ * 4 <= cells)) {
      cells_ = std::vector<T>();
      head_ = 0;
    }
    peak_ = 0;
  }
  void Grow() {
    std::vector<T> bigger(cells_.empty() ? 8 : cells_.size() * 2);
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    cells_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> cells_;  // a power of two of them
  size_t head_ = 0;
  size_t size_ = 0;
  size_t peak_ = 0;  // the most it held since it was last empty
};

}  // namespace node
