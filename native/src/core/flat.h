// Allocation-free containers for the replication hot path: once grown to the peak they are asked
// to hold, pushing, popping, inserting and erasing allocate nothing (std::deque allocates and frees
// a chunk every few elements of a FIFO; node-based maps and sets allocate per element).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace mu::core {

// A double-ended FIFO of trivially copyable values in a power-of-two ring; grows by doubling.
template <typename T>
class Ring {
  static_assert(std::is_trivially_copyable_v<T>, "Ring holds plain values");

 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return buf_.size(); }
  T& front() {
    assert(size_ > 0);
    return buf_[head_];
  }
  const T& front() const {
    assert(size_ > 0);
    return buf_[head_];
  }
  T& back() {
    assert(size_ > 0);
    return buf_[(head_ + size_ - 1) & mask_];
  }
  // i-th element from the front.
  T& operator[](size_t i) {
    assert(i < size_);
    return buf_[(head_ + i) & mask_];
  }
  const T& operator[](size_t i) const {
    assert(i < size_);
    return buf_[(head_ + i) & mask_];
  }
  void push_back(const T& v) {
    if (size_ == buf_.size()) grow(size_ + 1);
    buf_[(head_ + size_) & mask_] = v;
    ++size_;
  }
  void push_front(const T& v) {
    if (size_ == buf_.size()) grow(size_ + 1);
    head_ = (head_ + mask_) & mask_;
    buf_[head_] = v;
    ++size_;
  }
  void pop_front() {
    assert(size_ > 0);
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  void clear() {
    head_ = 0;
    size_ = 0;
  }
  void reserve(size_t n) {
    if (n > buf_.size()) grow(n);
  }

 private:
  void grow(size_t at_least) {
    size_t cap = buf_.empty() ? 16 : buf_.size();
    while (cap < at_least) cap *= 2;
    std::vector<T> next(cap);
    for (size_t i = 0; i < size_; ++i) next[i] = (*this)[i];
    buf_.swap(next);
    head_ = 0;
    mask_ = cap - 1;
  }

  std::vector<T> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
  size_t mask_ = 0;
};

// The last `history` distinct non-zero ids inserted (older ones are forgotten, first in first
// out): an open-addressing hash set (linear probing, backward-shift deletion) of 2 × history
// slots, load ≤ 1/2, plus the insertion order in a ring. Both are allocated whole at the first
// insert, zero-filled by calloc (for large sizes fresh pages, touched as they are used), so
// inserting and forgetting never allocate or rehash.
class RecentIds {
 public:
  explicit RecentIds(size_t history) : history_(history) {
    assert(history > 0);
    size_t slots = 2;
    while (slots < 2 * history) slots *= 2;
    mask_ = slots - 1;
    shift_ = 64;
    for (size_t s = slots; s > 1; s >>= 1) --shift_;
    // Slots in groups of kGroup (one cache line): consecutive ids share one.
    if (slots >= 2 * kGroup) {
      group_bits_ = kGroupBits;
      shift_ += kGroupBits;
    }
  }

  // False (and nothing changes) if `id` is remembered already.
  bool insert(uint64_t id) {
    assert(id != 0);
    if (!table_) {
      const size_t bytes = (mask_ + 1) * sizeof(uint64_t);  // a multiple of 16, of 64 with groups
      table_.reset(static_cast<uint64_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
      if (table_) std::memset(table_.get(), 0, bytes);
      order_.reset(static_cast<uint64_t*>(std::calloc(history_, sizeof(uint64_t))));
      if (!table_ || !order_) throw std::bad_alloc();
    }
    if (contains(id)) return false;
    if (size_ == history_) {
      erase(order_[oldest_]);
      oldest_ = oldest_ + 1 == history_ ? 0 : oldest_ + 1;
      --size_;
    }
    size_t i = slot(id);
    while (table_[i] != 0) i = (i + 1) & mask_;
    table_[i] = id;
    const size_t at = oldest_ + size_;
    order_[at >= history_ ? at - history_ : at] = id;
    ++size_;
    return true;
  }

  bool contains(uint64_t id) const {
    if (!table_) return false;
    for (size_t i = slot(id);; i = (i + 1) & mask_) {
      if (table_[i] == id) return true;
      if (table_[i] == 0) return false;
    }
  }

  size_t size() const { return size_; }
  // The remembered ids, oldest first (what a state snapshot carries).
  template <typename F>
  void for_each_oldest_first(F&& f) const {
    for (size_t k = 0; k < size_; ++k) {
      const size_t at = oldest_ + k;
      f(order_[at >= history_ ? at - history_ : at]);
    }
  }

 private:
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };

  // Fibonacci hashing of id / kGroup to a group of kGroup slots, id % kGroup within it: a
  // leader's batch ids are consecutive, so kGroup inserts (and later evictions) share one cache
  // line instead of touching one each — at 65,536 remembered ids the table is 1 MiB, and every
  // replica inserts once per entry. Tables too small for groups hash each id (group_bits_ 0).
  size_t slot(uint64_t id) const {
    const size_t group = static_cast<size_t>(((id >> group_bits_) * 0x9E3779B97F4A7C15ull) >> shift_);
    return (group << group_bits_) | static_cast<size_t>(id & ((uint64_t{1} << group_bits_) - 1));
  }
  static constexpr unsigned kGroupBits = 3;
  static constexpr size_t kGroup = size_t{1} << kGroupBits;  // 8 ids of 8 bytes: 64 bytes
  void erase(uint64_t id) {
    size_t i = slot(id);
    while (table_[i] != id) {
      assert(table_[i] != 0);
      i = (i + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole when their home slot
    // allows it, so that lookups never stop early at a hole.
    for (size_t j = (i + 1) & mask_; table_[j] != 0; j = (j + 1) & mask_) {
      const size_t home = slot(table_[j]);
      // table_[j] may move to i only if its home is not in the cyclic range (i, j].
      const bool home_in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!home_in_range) {
        table_[i] = table_[j];
        i = j;
      }
    }
    table_[i] = 0;
  }

  size_t history_;
  size_t mask_ = 0;
  unsigned shift_ = 64;
  unsigned group_bits_ = 0;
  std::unique_ptr<uint64_t[], Free> table_;
  std::unique_ptr<uint64_t[], Free> order_;  // ring: order_[oldest_] is forgotten next
  size_t oldest_ = 0;
  size_t size_ = 0;
};

}  // namespace mu::core
