// subscriber_id.hpp — SubscriberId, the name a manager gives each subscriber.
//
// Example:
//
//   SubscriberId id = manager.add_subscriber(Device{});
//   auto device = manager.remove_subscriber(id);   // Result<Device>
//   manager.remove_subscriber(id);                 // now Error::InvalidId
//
// Ids are never reused by the manager that issued them, so a stale id always
// gives Error::InvalidId. The default-constructed id is the null id: never
// issued, every call with it gives Error::InvalidId.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace event_manager {

namespace detail {
class Core;
}

/// Opaque, trivially copyable subscriber name.
class SubscriberId {
 public:
  /// The null id.
  constexpr SubscriberId() noexcept = default;
  /// The id as a number (0 for the null id), e.g. for logs.
  constexpr std::uint64_t value() const noexcept { return value_; }
  /// Equal when they name the same subscriber.
  friend constexpr bool operator==(SubscriberId, SubscriberId) noexcept = default;
  /// Ordered by value(): ids issued later compare greater.
  friend constexpr auto operator<=>(SubscriberId, SubscriberId) noexcept = default;

 private:
  friend class detail::Core;  // ids are made only by the manager
  constexpr explicit SubscriberId(std::uint64_t value) noexcept : value_(value) {}

  std::uint64_t value_ = 0;
};

}  // namespace event_manager

/// Hashes a SubscriberId by its value(), for unordered containers.
template <>
struct std::hash<event_manager::SubscriberId> {
  /// The hash of id.value().
  std::size_t operator()(event_manager::SubscriberId id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value());
  }
};
