// The timer engine behind EventOps' timers: all of a manager's timers in one
// 8-ary min-heap of deadlines, so that one kernel timer can serve them all.
// Internal; not installed.
//
// What the API (Timers, v4) asks of it, and where each answer lives:
//  a) Ids are never reused: a timer lives in a slot of nodes_, its id is
//     (generation << 32 | slot index), the generation grows on every reuse of
//     the slot and a slot whose generation is used up is retired (free_slot()).
//     The null id 0 is never issued: generations start at 1.
//  b) Deadline order, ties in arming order: the heap is keyed by (deadline,
//     arming sequence); every arm() takes a new sequence number, so a re-arm
//     counts as arming. A periodic timer moved after an expiry keeps its number.
//  c) Timers armed during a run() are not due in that run(): pop_due() takes
//     the run's mark (run_mark() at its start) and moves a due timer armed
//     since then into the "stash" instead of returning it. The stash goes back
//     into the heap at the next pop_due() with a later mark or at earliest().
//     Without it such a timer would sit at the top and hide the due ones
//     behind it; scanning past it would cost O(due timers) per expiry.
//  d) A paused subscriber's timers keep their deadlines but leave the heap
//     (the "parked" region), so that neither earliest() nor pop_due() sees
//     them; pause()/resume() cost O(that subscriber's timers * log n).
//  e) No allocation after add(): the entries array always has at least one
//     element per slot, and the heap, the stash and the parked timers share it as three
//     adjacent regions [heap | stash | parked]; moving an entry between them
//     shifts at most two entries (the first of a region to its end).
//  f) 64 bytes per timer: a 48-byte node plus its 16-byte entry. The entry
//     holds the deadline next to the slot index, so comparisons stay inside
//     the array (the eight children of a node are 128 contiguous bytes); only
//     equal deadlines look at the nodes' sequence numbers.
//
// Why 8-ary and not binary, 4-ary or a timing wheel: measured in
// bench/timer_heap_bench.cpp; see docs/DESIGN.md ("Timers").
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <vector>

#include "event_manager/detail/timer_list.hpp"

namespace event_manager::detail {

/// The heap's arity, chosen by bench/timer_heap_bench.cpp.
inline constexpr unsigned timer_heap_arity = 8;

/// a + b, clamped to the int64 range instead of overflowing: a deadline that
/// would overflow saturates (API: "deadlines that would overflow saturate").
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return sum;
}

// TimerList, the head of one owner's timer list kept by the caller (one per
// subscriber, like its first_fd), is in event_manager/detail/timer_list.hpp.

/// A timer handed out by pop_due(): already disarmed (one-shot) or moved to
/// its next deadline (periodic), so the callback may re-arm, disarm or remove it.
struct ExpiredTimer {
  std::uint64_t id;
  std::uint64_t owner;
  std::uint32_t data;
  std::int64_t deadline;  // the deadline that came due
};

/// Every timer of one manager. Deadlines and periods are nanoseconds of
/// CLOCK_MONOTONIC (any int64: the heap never reads a clock). Owners are
/// SubscriberId values (never 0). Every operation but add() is noexcept and
/// allocation-free; arm, disarm, remove and each pop are O(log n).
/// Not thread-safe (loop thread only, like the rest of the core).
template <unsigned Arity>
class BasicTimerHeap {
  static_assert(Arity >= 2);

 public:
  BasicTimerHeap() = default;
  BasicTimerHeap(BasicTimerHeap&&) noexcept = default;
  BasicTimerHeap& operator=(BasicTimerHeap&&) noexcept = default;
  BasicTimerHeap(const BasicTimerHeap&) = delete;
  BasicTimerHeap& operator=(const BasicTimerHeap&) = delete;

  /// Creates an unarmed timer of `owner` (not 0) carrying `data`, links it
  /// into `list` and returns its id (never 0, never issued before). Paused if
  /// `list` is. May throw std::bad_alloc, and then changes nothing; reserves
  /// everything later calls need, so no other call allocates.
  [[nodiscard]] std::uint64_t add(std::uint64_t owner, std::uint32_t data, TimerList& list);

  /// Whether `id` is a live timer of `owner`. False for the null id, a removed
  /// timer and another owner's timer: the API's TimerNotRegistered.
  [[nodiscard]] bool contains(std::uint64_t id, std::uint64_t owner) const noexcept {
    return find(id, owner) != nullptr;
  }

  /// Sets the next deadline and the period (0: one-shot; must not be
  /// negative) and takes a new arming sequence number. Returns false, changing
  /// nothing, unless contains(id, owner).
  [[nodiscard]] bool arm(std::uint64_t id, std::uint64_t owner, std::int64_t deadline, std::int64_t period) noexcept;
  /// Stops the timer (a no-op when unarmed). False unless contains(id, owner).
  [[nodiscard]] bool disarm(std::uint64_t id, std::uint64_t owner) noexcept;
  /// Frees the timer and unlinks it from `list`, its owner's list. The id is
  /// never valid again. False unless contains(id, owner).
  [[nodiscard]] bool remove(std::uint64_t id, std::uint64_t owner, TimerList& list) noexcept;
  /// Frees every timer in `list`: O(their number * log n). `list` ends empty.
  void remove_all(TimerList& list) noexcept;

  /// The deadline as armed (a past one is not moved to now), or nullopt when
  /// unarmed or not contains(id, owner).
  [[nodiscard]] std::optional<std::int64_t> deadline(std::uint64_t id, std::uint64_t owner) const noexcept;
  /// Its period (0: one-shot, or not registered).
  [[nodiscard]] std::int64_t period(std::uint64_t id, std::uint64_t owner) const noexcept;
  /// How a timer is armed (deadline nullopt while disarmed), with one lookup;
  /// nullopt if not registered. What a caller keeps to undo an arm().
  struct Armed {
    std::optional<std::int64_t> deadline;
    std::int64_t period;
    std::uint64_t sequence;  // its arming order
  };
  [[nodiscard]] std::optional<Armed> armed_state(std::uint64_t id, std::uint64_t owner) const noexcept;
  /// Puts a timer back exactly as armed_state() saw it, its place among
  /// equal deadlines included (an arm() that must be undone).
  void restore(std::uint64_t id, std::uint64_t owner, const Armed& old) noexcept;

  /// Takes the timers of `list` out of dispatch, keeping their deadlines; arm()
  /// still works on them. Pausing a paused list changes nothing.
  void pause(TimerList& list) noexcept;
  /// Puts them back, with their arming order; a deadline passed meanwhile is
  /// due at once. Resuming a running list changes nothing.
  void resume(TimerList& list) noexcept;

  /// The earliest deadline of the armed timers that are not paused, or
  /// nullopt. Not const: it first returns the stash of the last pop_due() to
  /// the heap (note c), O(stash size * log n) once, paid for by the arms that filled it.
  [[nodiscard]] std::optional<std::int64_t> earliest() noexcept;

  /// The mark of a run() that starts now: timers armed from here on have
  /// sequence numbers >= it. Take it once at the start of every run().
  std::uint64_t run_mark() const noexcept { return next_sequence_; }

  /// The next timer due at `now` in the run marked `mark`: the one with the
  /// smallest (deadline, arming sequence) among those with deadline <= now
  /// and a sequence below `mark`; nullopt when there is none. Before returning
  /// it, a one-shot timer is disarmed and a periodic one moved to the first
  /// deadline + k*period (k >= 1) after `now`, saturating. A deadline of
  /// INT64_MAX (saturated) is never due. Marks must not decrease between calls.
  [[nodiscard]] std::optional<ExpiredTimer> pop_due(std::int64_t now, std::uint64_t mark) noexcept;

  /// Live timers (armed or not).
  std::size_t size() const noexcept { return live_; }
  /// Armed timers: in the heap, the stash or parked.
  std::size_t armed() const noexcept { return std::size_t{heap_size_} + stash_size_ + parked_size_; }
  /// Bytes of timer state (spare vector capacity not counted): bytes_per_slot
  /// per slot ever used, free ones included (plus one spare entry after an
  /// add() that failed).
  std::size_t state_bytes() const noexcept { return nodes_.size() * sizeof(Node) + entries_.size() * sizeof(Entry); }

 private:
  friend struct TimerHeapTestAccess;  // tests only: sets a slot's generation (slot retirement)

  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  // One per slot. Free slots have owner 0 and chain through next.
  struct Node {
    std::uint64_t owner;       // 0: free
    std::int64_t period;       // 0: one-shot
    std::uint64_t sequence;    // arming order, for ties and run marks
    std::uint32_t generation;  // of the last id issued from this slot
    std::uint32_t data;
    std::uint32_t position;  // index in entries_, none while unarmed
    std::uint32_t prev;      // owner's list (none at its head)
    std::uint32_t next;      // owner's list, or the free list
    bool paused;
  };
  // One per armed timer, in the region its state says.
  struct Entry {
    std::int64_t deadline;
    std::uint32_t slot;
  };

 public:
  /// The memory contract (API: at most 64 bytes per timer, heap share included).
  static constexpr std::size_t bytes_per_slot = sizeof(Node) + sizeof(Entry);
  static_assert(sizeof(Node) == 48 && sizeof(Entry) == 16 && bytes_per_slot <= 64);

 private:
  static std::uint32_t slot_of(std::uint64_t id) noexcept { return static_cast<std::uint32_t>(id); }
  std::uint64_t id_of(std::uint32_t slot) const noexcept {
    return (std::uint64_t{nodes_[slot].generation} << 32) | slot;
  }
  const Node* find(std::uint64_t id, std::uint64_t owner) const noexcept;
  Node* find(std::uint64_t id, std::uint64_t owner) noexcept {
    return const_cast<Node*>(static_cast<const BasicTimerHeap*>(this)->find(id, owner));
  }
  void free_slot(std::uint32_t slot) noexcept;

  // Heap order: (deadline, sequence).
  bool before(const Entry& a, const Entry& b) const noexcept {
    return a.deadline < b.deadline || (a.deadline == b.deadline && nodes_[a.slot].sequence < nodes_[b.slot].sequence);
  }
  void place(std::uint32_t position, const Entry& entry) noexcept {
    entries_[position] = entry;
    nodes_[entry.slot].position = position;
  }
  void move_entry(std::uint32_t from, std::uint32_t to) noexcept { place(to, entries_[from]); }
  void sift_up(std::uint32_t position) noexcept;
  void sift_down(std::uint32_t position) noexcept;
  void restore(std::uint32_t position) noexcept;

  // The three regions of entries_ (note e).
  bool in_heap(std::uint32_t position) const noexcept { return position < heap_size_; }
  bool in_stash(std::uint32_t position) const noexcept {
    return position >= heap_size_ && position < heap_size_ + stash_size_;
  }
  void heap_insert(const Entry& entry) noexcept;
  void heap_erase(std::uint32_t position) noexcept;
  void stash_push(const Entry& entry) noexcept;
  void stash_erase(std::uint32_t position) noexcept;
  void parked_push(const Entry& entry) noexcept;
  void parked_erase(std::uint32_t position) noexcept;
  void merge_stash() noexcept;
  /// Takes an armed timer's entry out of whichever region holds it.
  Entry detach(Node& node) noexcept;

  std::vector<Node> nodes_;     // indexed by the low half of an id
  std::vector<Entry> entries_;  // [heap | stash | parked | unused]; size() >= nodes_.size()
  std::uint32_t heap_size_ = 0;
  std::uint32_t stash_size_ = 0;
  std::uint32_t parked_size_ = 0;
  std::uint32_t free_head_ = none;  // free slots, chained through Node::next
  std::size_t live_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t stash_mark_ = 0;  // the mark the stash was filled under
};

/// The one the core uses.
using TimerHeap = BasicTimerHeap<timer_heap_arity>;

// --- Implementation ------------------------------------------------------------
// In the header so that the benchmark can build the other arities from the same
// code; src/timer_heap.cpp instantiates the one the core uses.

namespace timer_heap_impl {

/// The first deadline + k*period (k >= 1) after `now`, or INT64_MAX if that
/// overflows. Requires deadline <= now and period > 0.
constexpr std::int64_t next_period(std::int64_t deadline, std::int64_t period, std::int64_t now) noexcept {
  std::int64_t next = 0;
  if (!__builtin_add_overflow(deadline, period, &next) && next > now) return next;  // no period missed
  // Unsigned arithmetic is exact here: now - deadline and INT64_MAX - deadline
  // both lie in [0, 2^64).
  const auto step = static_cast<std::uint64_t>(period);
  const std::uint64_t elapsed = static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(deadline);
  const std::uint64_t k = elapsed / step + 1;
  const std::uint64_t room =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - static_cast<std::uint64_t>(deadline);
  if (k > room / step) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(deadline) + k * step);
}

}  // namespace timer_heap_impl

template <unsigned Arity>
std::uint64_t BasicTimerHeap<Arity>::add(std::uint64_t owner, std::uint32_t data, TimerList& list) {
  assert(owner != 0);
  std::uint32_t slot = free_head_;
  if (slot == none) {
    // `none` is no slot index, so at most none - 1 slots.
    if (nodes_.size() >= none) throw std::bad_alloc();
    // Entries first: if the node vector then fails to grow, the one spare entry
    // changes nothing a caller can see. resize() grows geometrically.
    if (entries_.size() < nodes_.size() + 1) entries_.resize(nodes_.size() + 1);
    nodes_.push_back(Node{0, 0, 0, 0, 0, none, none, none, false});
    slot = static_cast<std::uint32_t>(nodes_.size() - 1);
  } else {
    free_head_ = nodes_[slot].next;
  }
  Node& node = nodes_[slot];
  ++node.generation;  // starts at 1, so no id is 0; retired before it wraps (free_slot)
  node.owner = owner;
  node.period = 0;
  node.sequence = 0;
  node.data = data;
  node.position = none;
  node.paused = list.paused;
  node.prev = none;
  node.next = list.first;
  if (list.first != none) nodes_[list.first].prev = slot;
  list.first = slot;
  ++live_;
  return id_of(slot);
}

template <unsigned Arity>
auto BasicTimerHeap<Arity>::find(std::uint64_t id, std::uint64_t owner) const noexcept -> const Node* {
  const std::uint32_t slot = slot_of(id);
  if (id == 0 || owner == 0 || slot >= nodes_.size()) return nullptr;
  const Node& node = nodes_[slot];
  // A free slot has owner 0, which no caller passes.
  return node.owner == owner && node.generation == static_cast<std::uint32_t>(id >> 32) ? &node : nullptr;
}

template <unsigned Arity>
bool BasicTimerHeap<Arity>::arm(std::uint64_t id, std::uint64_t owner, std::int64_t deadline,
                                std::int64_t period) noexcept {
  Node* node = find(id, owner);
  if (node == nullptr) return false;
  assert(period >= 0);
  node->period = period;
  node->sequence = next_sequence_++;
  const std::uint32_t slot = slot_of(id);
  const std::uint32_t position = node->position;
  if (node->paused) {
    // A paused timer is parked or unarmed, never in the heap or the stash.
    if (position != none) {
      entries_[position].deadline = deadline;
    } else {
      parked_push(Entry{deadline, slot});
    }
  } else if (position != none && in_heap(position)) {
    // The common re-arm: move the entry in place. Its new sequence number is
    // larger than before, so an unchanged deadline moves it down, never up.
    const bool earlier = deadline < entries_[position].deadline;
    entries_[position].deadline = deadline;
    if (earlier) {
      sift_up(position);
    } else {
      sift_down(position);
    }
  } else {
    if (position != none) detach(*node);  // from the stash: due once more, but armed now
    heap_insert(Entry{deadline, slot});
  }
  return true;
}

template <unsigned Arity>
bool BasicTimerHeap<Arity>::disarm(std::uint64_t id, std::uint64_t owner) noexcept {
  Node* node = find(id, owner);
  if (node == nullptr) return false;
  if (node->position != none) detach(*node);
  return true;
}

template <unsigned Arity>
bool BasicTimerHeap<Arity>::remove(std::uint64_t id, std::uint64_t owner, TimerList& list) noexcept {
  Node* node = find(id, owner);
  if (node == nullptr) return false;
  const std::uint32_t slot = slot_of(id);
  if (node->prev != none) {
    nodes_[node->prev].next = node->next;
  } else {
    assert(list.first == slot);  // `list` must be the owner's
    list.first = node->next;
  }
  if (node->next != none) nodes_[node->next].prev = node->prev;
  free_slot(slot);
  return true;
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::remove_all(TimerList& list) noexcept {
  for (std::uint32_t slot = list.first; slot != none;) {
    const std::uint32_t next = nodes_[slot].next;
    free_slot(slot);
    slot = next;
  }
  list.first = none;
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::free_slot(std::uint32_t slot) noexcept {
  Node& node = nodes_[slot];
  if (node.position != none) detach(node);
  node.owner = 0;
  node.prev = none;
  node.next = none;
  --live_;
  // A slot whose generation is used up is retired, never reused: ids stay unique.
  if (node.generation != std::numeric_limits<std::uint32_t>::max()) {
    node.next = free_head_;
    free_head_ = slot;
  }
}

template <unsigned Arity>
std::optional<std::int64_t> BasicTimerHeap<Arity>::deadline(std::uint64_t id, std::uint64_t owner) const noexcept {
  const Node* node = find(id, owner);
  if (node == nullptr || node->position == none) return std::nullopt;
  return entries_[node->position].deadline;
}

template <unsigned Arity>
std::int64_t BasicTimerHeap<Arity>::period(std::uint64_t id, std::uint64_t owner) const noexcept {
  const Node* node = find(id, owner);
  return node == nullptr ? 0 : node->period;
}

template <unsigned Arity>
auto BasicTimerHeap<Arity>::armed_state(std::uint64_t id, std::uint64_t owner) const noexcept -> std::optional<Armed> {
  const Node* node = find(id, owner);
  if (node == nullptr) return std::nullopt;
  if (node->position == none) return Armed{std::nullopt, node->period, node->sequence};
  return Armed{entries_[node->position].deadline, node->period, node->sequence};
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::restore(std::uint64_t id, std::uint64_t owner, const Armed& old) noexcept {
  const bool known = old.deadline ? arm(id, owner, *old.deadline, old.period) : disarm(id, owner);
  Node* node = known ? find(id, owner) : nullptr;
  if (node == nullptr) return;
  node->period = old.period;
  node->sequence = old.sequence;
  // An older sequence number can only move it up among equal deadlines.
  if (node->position != none && in_heap(node->position)) sift_up(node->position);
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::pause(TimerList& list) noexcept {
  if (list.paused) return;
  list.paused = true;
  for (std::uint32_t slot = list.first; slot != none; slot = nodes_[slot].next) {
    Node& node = nodes_[slot];
    node.paused = true;
    if (node.position != none) parked_push(detach(node));
  }
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::resume(TimerList& list) noexcept {
  if (!list.paused) return;
  list.paused = false;
  for (std::uint32_t slot = list.first; slot != none; slot = nodes_[slot].next) {
    Node& node = nodes_[slot];
    node.paused = false;
    // Its sequence number is kept: pausing is not arming. If it was armed
    // during the current run, pop_due() stashes it as usual.
    if (node.position != none) heap_insert(detach(node));
  }
}

template <unsigned Arity>
std::optional<std::int64_t> BasicTimerHeap<Arity>::earliest() noexcept {
  if (stash_size_ != 0) merge_stash();
  if (heap_size_ == 0) return std::nullopt;
  return entries_[0].deadline;
}

template <unsigned Arity>
std::optional<ExpiredTimer> BasicTimerHeap<Arity>::pop_due(std::int64_t now, std::uint64_t mark) noexcept {
  assert(mark >= stash_mark_);
  // A saturated deadline means "never": keep it out of reach, so that a periodic
  // timer moved to INT64_MAX cannot come due again in the same pass.
  if (now == std::numeric_limits<std::int64_t>::max()) --now;
  if (stash_size_ != 0 && mark != stash_mark_) merge_stash();  // a new run: the stash is due now
  while (heap_size_ != 0) {
    const Entry top = entries_[0];
    if (top.deadline > now) return std::nullopt;
    Node& node = nodes_[top.slot];
    if (node.sequence >= mark) {
      // Armed during this run (note c): not due before the next one.
      heap_erase(0);
      stash_push(top);
      stash_mark_ = mark;
      continue;
    }
    if (node.period > 0) {
      entries_[0].deadline = timer_heap_impl::next_period(top.deadline, node.period, now);
      sift_down(0);
    } else {
      heap_erase(0);
      node.position = none;
    }
    return ExpiredTimer{id_of(top.slot), node.owner, node.data, top.deadline};
  }
  return std::nullopt;
}

// --- Heap order ------------------------------------------------------------------
// Hole-based sifts: the moving entry is written once, at its final place.

template <unsigned Arity>
void BasicTimerHeap<Arity>::sift_up(std::uint32_t position) noexcept {
  const Entry moving = entries_[position];
  while (position > 0) {
    const std::uint32_t parent = (position - 1) / Arity;
    if (!before(moving, entries_[parent])) break;
    move_entry(parent, position);
    position = parent;
  }
  place(position, moving);
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::sift_down(std::uint32_t position) noexcept {
  const Entry moving = entries_[position];
  for (;;) {
    // 64-bit: Arity * position + Arity may exceed 32 bits near the top of the range.
    const std::uint64_t first = std::uint64_t{Arity} * position + 1;
    if (first >= heap_size_) break;
    const std::uint64_t end = first + Arity < heap_size_ ? first + Arity : heap_size_;
    auto best = static_cast<std::uint32_t>(first);
    for (auto child = static_cast<std::uint32_t>(first + 1); child < end; ++child) {
      if (before(entries_[child], entries_[best])) best = child;
    }
    if (!before(entries_[best], moving)) break;
    move_entry(best, position);
    position = best;
  }
  place(position, moving);
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::restore(std::uint32_t position) noexcept {
  if (position > 0 && before(entries_[position], entries_[(position - 1) / Arity])) {
    sift_up(position);
  } else {
    sift_down(position);
  }
}

// --- Regions (note e) ------------------------------------------------------------
// heap [0, h) | stash [h, h+s) | parked [h+s, h+s+p). Growing a region opens a
// gap at its end by moving the first entry of each region behind it to that
// region's end; shrinking one closes the gap with the last entry of each.

template <unsigned Arity>
void BasicTimerHeap<Arity>::heap_insert(const Entry& entry) noexcept {
  const std::uint32_t h = heap_size_;
  if (parked_size_ != 0) move_entry(h + stash_size_, h + stash_size_ + parked_size_);
  if (stash_size_ != 0) move_entry(h, h + stash_size_);
  place(h, entry);
  ++heap_size_;
  sift_up(h);
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::heap_erase(std::uint32_t position) noexcept {
  const std::uint32_t last = heap_size_ - 1;
  const Entry moved = entries_[last];
  heap_size_ = last;
  if (stash_size_ != 0) move_entry(last + stash_size_, last);
  if (parked_size_ != 0) move_entry(last + stash_size_ + parked_size_, last + stash_size_);
  if (position != last) {
    place(position, moved);
    restore(position);
  }
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::stash_push(const Entry& entry) noexcept {
  const std::uint32_t end = heap_size_ + stash_size_;
  if (parked_size_ != 0) move_entry(end, end + parked_size_);
  place(end, entry);
  ++stash_size_;
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::stash_erase(std::uint32_t position) noexcept {
  const std::uint32_t last = heap_size_ + stash_size_ - 1;
  if (position != last) move_entry(last, position);
  --stash_size_;
  if (parked_size_ != 0) move_entry(last + parked_size_, last);
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::parked_push(const Entry& entry) noexcept {
  place(heap_size_ + stash_size_ + parked_size_, entry);
  ++parked_size_;
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::parked_erase(std::uint32_t position) noexcept {
  const std::uint32_t last = heap_size_ + stash_size_ + parked_size_ - 1;
  if (position != last) move_entry(last, position);
  --parked_size_;
}

template <unsigned Arity>
void BasicTimerHeap<Arity>::merge_stash() noexcept {
  // The stash lies right behind the heap: widen the heap over it, one sift each.
  while (stash_size_ != 0) {
    --stash_size_;
    ++heap_size_;
    sift_up(heap_size_ - 1);
  }
}

template <unsigned Arity>
auto BasicTimerHeap<Arity>::detach(Node& node) noexcept -> Entry {
  const std::uint32_t position = node.position;
  const Entry entry = entries_[position];
  if (in_heap(position)) {
    heap_erase(position);
  } else if (in_stash(position)) {
    stash_erase(position);
  } else {
    parked_erase(position);
  }
  node.position = none;
  return entry;
}

}  // namespace event_manager::detail
