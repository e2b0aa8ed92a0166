// timer_fd.hpp — TimerFd, a move-only owner of a Linux timerfd.
//
// Example:
//
//   auto tick = TimerFd::create().value();          // CLOCK_MONOTONIC
//   tick.arm(10ms, 10ms).value();                   // first after 10 ms, then every 10 ms
//   ops.add(Events(tick, EventSet::in)).value();
//   ...
//   std::uint64_t expirations = tick.read().value_or(0);   // in process()
//
// arm() with first == 0 disarms, as timerfd_settime does (beware a computed
// delay that underflows to 0); negative durations give EINVAL.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

#include "event_manager/detail/unique_fd.hpp"
#include "event_manager/error.hpp"

namespace event_manager {

/// A move-only owner of a Linux timerfd, opened TFD_CLOEXEC | TFD_NONBLOCK.
class TimerFd {
 public:
  /// Opens a timerfd on `clock`, TFD_CLOEXEC | TFD_NONBLOCK. Errors: the
  /// timerfd_create errno (EINVAL for an unsupported clock, EMFILE, ...).
  [[nodiscard]] static Result<TimerFd> create(clockid_t clock = CLOCK_MONOTONIC);
  /// Takes `other`'s fd; `other` is left holding -1.
  TimerFd(TimerFd&& other) noexcept = default;
  /// Takes `other`'s fd, then closes the one this object held.
  TimerFd& operator=(TimerFd&& other) noexcept = default;
  /// Closes the fd, if this object still holds one.
  ~TimerFd() = default;

  /// Expires after `first`, then every `interval` (zero: once). A new arm()
  /// replaces the previous one. Errors: EINVAL for negative durations.
  [[nodiscard]] Result<void> arm(std::chrono::nanoseconds first, std::chrono::nanoseconds interval = {});
  /// Stops the timer; expirations not yet read are dropped.
  [[nodiscard]] Result<void> disarm();
  /// Expirations since the last read; errc::resource_unavailable_try_again when none.
  [[nodiscard]] Result<std::uint64_t> read() const;
  /// The descriptor, or -1 after a move.
  int fd() const noexcept { return fd_.get(); }

 private:
  explicit TimerFd(int fd) noexcept : fd_(fd) {}
  detail::UniqueFd fd_;
};

}  // namespace event_manager
