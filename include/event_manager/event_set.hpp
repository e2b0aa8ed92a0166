// event_set.hpp — EventSet, a typed bit set over epoll's event flags.
//
// Example:
//
//   using event_manager::EventSet;
//   constexpr EventSet interest = EventSet::in | EventSet::edge_triggered;
//   static_assert(interest.contains(EventSet::in));
//   if (ready.intersects(EventSet::hang_up | EventSet::error)) { /* peer is gone */ }
//
// Every operation is constexpr and keeps only the ten flags of all(): bits
// outside it never enter an EventSet.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

namespace event_manager {

/// A set of epoll flags (EPOLLIN, EPOLLOUT, ...). Value type, trivially copyable.
class EventSet {
 public:
  /// The empty set.
  constexpr EventSet() noexcept = default;

  /// The set whose bits are `bits & all().bits()`: unknown bits are dropped.
  static constexpr EventSet from_bits(std::uint32_t bits) noexcept { return EventSet(bits & all_bits); }
  /// The epoll bits of the set (EPOLLIN, ...), plus bit 26 for `timer`.
  constexpr std::uint32_t bits() const noexcept { return bits_; }
  /// True for the empty set.
  constexpr bool empty() const noexcept { return bits_ == 0; }
  /// True when this set has every bit of `other` (true for an empty `other`).
  constexpr bool contains(EventSet other) const noexcept { return (bits_ & other.bits_) == other.bits_; }
  /// True when this set has any bit of `other`.
  constexpr bool intersects(EventSet other) const noexcept { return (bits_ & other.bits_) != 0; }
  /// Every flag this type knows.
  static constexpr EventSet all() noexcept { return EventSet(all_bits); }

  /// Union.
  friend constexpr EventSet operator|(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ | b.bits_); }
  /// Intersection.
  friend constexpr EventSet operator&(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ & b.bits_); }
  /// Symmetric difference: the bits in exactly one of `a` and `b`.
  friend constexpr EventSet operator^(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ ^ b.bits_); }
  /// Difference: the bits of `a` that are not in `b`.
  friend constexpr EventSet operator-(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ & ~b.bits_); }
  /// Complement within all().
  constexpr EventSet operator~() const noexcept { return EventSet(~bits_ & all_bits); }
  /// Adds the bits of `o`.
  constexpr EventSet& operator|=(EventSet o) noexcept { return *this = *this | o; }
  /// Keeps only the bits also in `o`.
  constexpr EventSet& operator&=(EventSet o) noexcept { return *this = *this & o; }
  /// Flips the bits of `o`.
  constexpr EventSet& operator^=(EventSet o) noexcept { return *this = *this ^ o; }
  /// Removes the bits of `o`.
  constexpr EventSet& operator-=(EventSet o) noexcept { return *this = *this - o; }
  /// Equal when the bits are.
  friend constexpr bool operator==(EventSet, EventSet) noexcept = default;

  /// The flags, one per epoll bit (defined after the class, usable in constant expressions).
  static const EventSet in, out, priority, error, hang_up, read_hang_up, edge_triggered, one_shot, wake_up, exclusive,
      timer;

 private:
  static constexpr std::uint32_t all_bits = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET |
                                            EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;
  constexpr explicit EventSet(std::uint32_t bits) noexcept : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

/// EPOLLIN: readable (or, for a listening socket, a connection to accept).
inline constexpr EventSet EventSet::in = EventSet::from_bits(EPOLLIN);
/// EPOLLOUT: writable.
inline constexpr EventSet EventSet::out = EventSet::from_bits(EPOLLOUT);
/// EPOLLPRI: an exceptional condition (out-of-band data, a cgroup event, ...).
inline constexpr EventSet EventSet::priority = EventSet::from_bits(EPOLLPRI);
/// Always reported by the kernel, registered or not.
inline constexpr EventSet EventSet::error = EventSet::from_bits(EPOLLERR);
/// Always reported by the kernel, registered or not.
inline constexpr EventSet EventSet::hang_up = EventSet::from_bits(EPOLLHUP);
/// EPOLLRDHUP: the stream peer closed its writing half.
inline constexpr EventSet EventSet::read_hang_up = EventSet::from_bits(EPOLLRDHUP);
/// EPOLLET: report changes only (edge-triggered), not every run while ready.
inline constexpr EventSet EventSet::edge_triggered = EventSet::from_bits(EPOLLET);
/// EPOLLONESHOT: disarm after one report; modify() re-arms.
inline constexpr EventSet EventSet::one_shot = EventSet::from_bits(EPOLLONESHOT);
/// EPOLLWAKEUP: hold a wakeup source while the event is pending (needs CAP_BLOCK_SUSPEND).
inline constexpr EventSet EventSet::wake_up = EventSet::from_bits(EPOLLWAKEUP);
/// EPOLLEXCLUSIVE: wake only one of several epoll sets watching the same file (add() only).
inline constexpr EventSet EventSet::exclusive = EventSet::from_bits(EPOLLEXCLUSIVE);
/// Not an epoll flag (bit 26, which epoll does not use) and not in all(): set
/// only on timer expiries. add() and modify() refuse it (EINVAL).
inline constexpr EventSet EventSet::timer = EventSet(std::uint32_t{1} << 26);

}  // namespace event_manager
