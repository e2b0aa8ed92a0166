// events.hpp — Events: an fd, the epoll flags of interest and 32 bits of user data.
//
// Example:
//
//   enum : std::uint32_t { kGreen, kRed };
//   auto green = event_manager::EventFd::create().value();
//   ops.add(Events::with_data(green, kGreen, EventSet::in)).value();
//   ...
//   void process(Events ev, EventOps& ops) {
//     switch (ev.data()) { case kGreen: ...; case kRed: ...; }
//   }
//
// An fd can be registered once per manager, by one subscriber. In process(),
// fd() and data() are as registered and event_set() is what the kernel
// reported ready.
#pragma once

#include <sys/epoll.h>

#include <concepts>
#include <cstdint>

#include "event_manager/event_set.hpp"

namespace event_manager {

/// Anything that exposes a file descriptor through `fd()` (EventFd, TimerFd, your types).
template <class T>
concept AsFd = requires(const T& t) {
  { t.fd() } -> std::convertible_to<int>;
};

/// An fd, an EventSet and 32 bits of user data. Value type.
class Events {
 public:
  /// `events` on `fd`, with data() == 0.
  constexpr Events(int fd, EventSet events) noexcept : fd_(fd), events_(events) {}
  /// `events` on `fd`, carrying `data` (given back in process()).
  static constexpr Events with_data(int fd, std::uint32_t data, EventSet events) noexcept {
    Events e(fd, events);
    e.data_ = data;
    return e;
  }
  /// No flags, data 0: what remove() needs.
  static constexpr Events empty(int fd) noexcept { return Events(fd, EventSet()); }

  /// As Events(int, EventSet), with `source.fd()`.
  template <AsFd F>
  constexpr Events(const F& source, EventSet events) noexcept : Events(static_cast<int>(source.fd()), events) {}
  /// As with_data(int, std::uint32_t, EventSet), with `source.fd()`.
  template <AsFd F>
  static constexpr Events with_data(const F& source, std::uint32_t data, EventSet events) noexcept {
    return with_data(static_cast<int>(source.fd()), data, events);
  }
  /// As empty(int), with `source.fd()`.
  template <AsFd F>
  static constexpr Events empty(const F& source) noexcept {
    return empty(static_cast<int>(source.fd()));
  }

  /// The file descriptor; -1 for a timer expiry.
  constexpr int fd() const noexcept { return fd_; }
  /// The 32 bits of user data, as registered (or as given to add_timer()).
  constexpr std::uint32_t data() const noexcept { return data_; }
  /// The flags of interest; in process(), what was reported ready.
  constexpr EventSet event_set() const noexcept { return events_; }
  /// A timer expiry: event_set() contains EventSet::timer (and fd() is -1).
  /// Check it before dispatching on data(): a timer's data may equal an fd's.
  constexpr bool is_timer() const noexcept { return events_.contains(EventSet::timer); }

  /// events = event_set().bits(); data.u64 = (u64(data) << 32) | u32(fd).
  ::epoll_event to_epoll_event() const noexcept {
    ::epoll_event ev{};
    ev.events = events_.bits();
    ev.data.u64 = (std::uint64_t{data_} << 32) | static_cast<std::uint32_t>(fd_);
    return ev;
  }
  /// The inverse of to_epoll_event(); event bits are masked to EventSet::all().
  static Events from_epoll_event(const ::epoll_event& ev) noexcept {
    const std::uint64_t u64 = ev.data.u64;
    return with_data(static_cast<int>(static_cast<std::uint32_t>(u64)), static_cast<std::uint32_t>(u64 >> 32),
                     EventSet::from_bits(ev.events));
  }

  /// Equal when fd, data and event set are.
  friend bool operator==(const Events&, const Events&) = default;

 private:
  int fd_;
  std::uint32_t data_ = 0;
  EventSet events_;
};

}  // namespace event_manager
