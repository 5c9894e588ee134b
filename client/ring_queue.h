// SPDX-License-Identifier: Apache-2.0
//
// RingQueue<T>: a FIFO over one power-of-two array of slots, with random
// access by position (0 = the front). Unlike std::deque it allocates only when
// it grows beyond its capacity, so a queue that is filled and drained at a
// steady rate does not allocate at all. The I/O thread keeps its
// unacknowledged sends in one.
//
// T must be default-constructible and move-assignable: a slot holds a
// default-constructed T while it is free (pop_front() resets it, releasing
// whatever the element owned).
//
// Thread-safety: none; a value used by one thread at a time.
//
// Internal to libchatpro.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace chatpro::client::internal {

template <typename T>
class RingQueue {
 public:
  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;
  RingQueue(RingQueue&&) noexcept = default;
  RingQueue& operator=(RingQueue&&) noexcept = default;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

  // REQUIRES: i < size().
  T& operator[](std::size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  // REQUIRES: !empty().
  T& front() { return slots_[head_]; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(T value) {
    if (size_ == slots_.size()) Grow();
    slots_[(head_ + size_) & (slots_.size() - 1)] = std::move(value);
    ++size_;
  }

  // REQUIRES: !empty().
  void pop_front() {
    slots_[head_] = T();
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

  // Removes every element; keeps the capacity.
  void clear() {
    while (!empty()) pop_front();
    head_ = 0;
  }

  // Gives the memory back if the queue is empty and holds more than
  // `keep_slots` slots (after a burst).
  void ShrinkIfEmpty(std::size_t keep_slots) {
    if (size_ == 0 && slots_.size() > keep_slots) {
      std::vector<T>().swap(slots_);
      head_ = 0;
    }
  }

 private:
  void Grow() {
    std::vector<T> bigger(std::max<std::size_t>(16, slots_.size() * 2));
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;  // size 0 or a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace chatpro::client::internal
