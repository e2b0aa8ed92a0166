// timer_id.hpp — TimerId, the name of one of a subscriber's timers (v4).
//
// Example:
//
//   void Conn::init(EventOps& ops) {
//     idle_ = ops.add_timer(kIdle).value();             // unarmed
//     ops.arm_timer(idle_, std::chrono::seconds(30)).value();
//   }
//
// Ids are never reused by the manager that issued them, so a stale id (of a
// removed timer) always gives Error::TimerNotRegistered. The default-constructed
// id is the null id: never issued.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace event_manager {

namespace detail {
class Core;
}

/// Opaque, trivially copyable timer name.
class TimerId {
 public:
  /// The null id.
  constexpr TimerId() noexcept = default;
  /// The id as a number (0 for the null id), e.g. for logs.
  constexpr std::uint64_t value() const noexcept { return value_; }
  /// Equal when they name the same timer.
  friend constexpr bool operator==(TimerId, TimerId) noexcept = default;
  /// Ordered by value(): ids issued later compare greater.
  friend constexpr auto operator<=>(TimerId, TimerId) noexcept = default;

 private:
  friend class detail::Core;  // ids are made only by the manager
  constexpr explicit TimerId(std::uint64_t value) noexcept : value_(value) {}

  std::uint64_t value_ = 0;
};

}  // namespace event_manager

/// Hashes a TimerId by its value(), for unordered containers.
template <>
struct std::hash<event_manager::TimerId> {
  /// The hash of id.value().
  std::size_t operator()(event_manager::TimerId id) const noexcept { return std::hash<std::uint64_t>{}(id.value()); }
};
