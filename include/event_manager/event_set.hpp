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
  constexpr std::uint32_t bits() const noexcept { return bits_; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  /// True when this set has every bit of `other` (true for an empty `other`).
  constexpr bool contains(EventSet other) const noexcept { return (bits_ & other.bits_) == other.bits_; }
  /// True when this set has any bit of `other`.
  constexpr bool intersects(EventSet other) const noexcept { return (bits_ & other.bits_) != 0; }
  /// Every flag this type knows.
  static constexpr EventSet all() noexcept { return EventSet(all_bits); }

  friend constexpr EventSet operator|(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ | b.bits_); }
  friend constexpr EventSet operator&(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ & b.bits_); }
  friend constexpr EventSet operator^(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ ^ b.bits_); }
  /// Difference: the bits of `a` that are not in `b`.
  friend constexpr EventSet operator-(EventSet a, EventSet b) noexcept { return EventSet(a.bits_ & ~b.bits_); }
  /// Complement within all().
  constexpr EventSet operator~() const noexcept { return EventSet(~bits_ & all_bits); }
  constexpr EventSet& operator|=(EventSet o) noexcept { return *this = *this | o; }
  constexpr EventSet& operator&=(EventSet o) noexcept { return *this = *this & o; }
  constexpr EventSet& operator^=(EventSet o) noexcept { return *this = *this ^ o; }
  constexpr EventSet& operator-=(EventSet o) noexcept { return *this = *this - o; }
  friend constexpr bool operator==(EventSet, EventSet) noexcept = default;

  static const EventSet in, out, priority, error, hang_up, read_hang_up, edge_triggered, one_shot, wake_up, exclusive,
      timer;

 private:
  static constexpr std::uint32_t all_bits = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET |
                                            EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;
  constexpr explicit EventSet(std::uint32_t bits) noexcept : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

inline constexpr EventSet EventSet::in = EventSet::from_bits(EPOLLIN);
inline constexpr EventSet EventSet::out = EventSet::from_bits(EPOLLOUT);
inline constexpr EventSet EventSet::priority = EventSet::from_bits(EPOLLPRI);
/// Always reported by the kernel, registered or not.
inline constexpr EventSet EventSet::error = EventSet::from_bits(EPOLLERR);
/// Always reported by the kernel, registered or not.
inline constexpr EventSet EventSet::hang_up = EventSet::from_bits(EPOLLHUP);
inline constexpr EventSet EventSet::read_hang_up = EventSet::from_bits(EPOLLRDHUP);
inline constexpr EventSet EventSet::edge_triggered = EventSet::from_bits(EPOLLET);
inline constexpr EventSet EventSet::one_shot = EventSet::from_bits(EPOLLONESHOT);
inline constexpr EventSet EventSet::wake_up = EventSet::from_bits(EPOLLWAKEUP);
inline constexpr EventSet EventSet::exclusive = EventSet::from_bits(EPOLLEXCLUSIVE);
/// Not an epoll flag (bit 26, which epoll does not use) and not in all(): set
/// only on timer expiries. add() and modify() refuse it (EINVAL).
inline constexpr EventSet EventSet::timer = EventSet(std::uint32_t{1} << 26);

}  // namespace event_manager
