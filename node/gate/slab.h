// Values kept in a slab: an id names a cell and the cell's generation, so a
// lookup is an array access, and the id of a value that ended finds nothing
// even after its cell was reused. The gate keeps every request in flight
// here (one Add, a few Finds and one Erase per request).
#pragma once

#include <cstdint>
#include <vector>

namespace node::gate {

template <typename T>
class Slab {
 public:
  uint64_t Add(T value) {
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<uint32_t>(cells_.size());
      cells_.emplace_back();
    }
    Cell& c = cells_[index];
    c.used = true;
    c.value = std::move(value);
    ++size_;
    return (static_cast<uint64_t>(c.gen) << 32) | index;
  }
  T* Find(uint64_t id) {
    const uint32_t index = static_cast<uint32_t>(id);
    if (index >= cells_.size()) return nullptr;
    Cell& c = cells_[index];
    return c.used && c.gen == static_cast<uint32_t>(id >> 32) ? &c.value : nullptr;
  }
  void Erase(uint64_t id) {
    if (Find(id) == nullptr) return;
    Release(static_cast<uint32_t>(id));
  }
  // Calls f(id, value) for every value (f must not add or erase).
  template <typename F>
  void ForEach(F f) {
    for (uint32_t i = 0; i < cells_.size(); ++i) {
      if (cells_[i].used) f((static_cast<uint64_t>(cells_[i].gen) << 32) | i, cells_[i].value);
    }
  }
  // Ends every value; ids issued so far stay dead.
  void Clear() {
    for (uint32_t i = 0; i < cells_.size(); ++i) {
      if (cells_[i].used) Release(i);
    }
  }
  size_t size() const { return size_; }

 private:
  struct Cell {
    uint32_t gen = 1;  // never 0: an id is never 0
    bool used = false;
    T value{};
  };
  void Release(uint32_t index) {
    Cell& c = cells_[index];
    c.used = false;
    c.value = T{};
    ++c.gen;
    if (c.gen == 0) c.gen = 1;
    free_.push_back(index);
    --size_;
  }

  std::vector<Cell> cells_;
  std::vector<uint32_t> free_;
  size_t size_ = 0;
};

}  // namespace node::gate
