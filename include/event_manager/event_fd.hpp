// event_fd.hpp — EventFd, a move-only owner of a Linux eventfd.
//
// Example:
//
//   auto kick = EventFd::create().value();          // EFD_CLOEXEC | EFD_NONBLOCK
//   ops.add(Events(kick, EventSet::in)).value();
//   (void)kick.write(1);                            // from any thread
//   std::uint64_t n = kick.read().value_or(0);      // in process(): resets the counter
//
// read() on a counter of 0 gives errc::resource_unavailable_try_again (the fd
// is non-blocking by default). The destructor closes the fd.
#pragma once

#include <sys/eventfd.h>

#include <cstdint>

#include "event_manager/detail/unique_fd.hpp"
#include "event_manager/error.hpp"

namespace event_manager {

/// A move-only owner of a Linux eventfd (a 64-bit counter that is readable while non-zero).
class EventFd {
 public:
  /// Opens an eventfd with counter `initial`. Errors: the eventfd errno
  /// (EMFILE, ENFILE, ENOMEM, EINVAL for unknown flags).
  [[nodiscard]] static Result<EventFd> create(std::uint64_t initial = 0, int flags = EFD_CLOEXEC | EFD_NONBLOCK);
  /// Takes `other`'s fd; `other` is left holding -1.
  EventFd(EventFd&& other) noexcept = default;
  /// Takes `other`'s fd, then closes the one this object held.
  EventFd& operator=(EventFd&& other) noexcept = default;
  /// Closes the fd, if this object still holds one.
  ~EventFd() = default;

  /// Adds `value` to the counter. Errors: EAGAIN when the counter would
  /// overflow (non-blocking), EINVAL for UINT64_MAX, the write errno.
  [[nodiscard]] Result<void> write(std::uint64_t value) const;
  /// Reads and resets the counter (or decrements it by one with EFD_SEMAPHORE).
  [[nodiscard]] Result<std::uint64_t> read() const;
  /// A second EventFd on the same counter (dup(), close-on-exec).
  [[nodiscard]] Result<EventFd> try_clone() const;
  /// The descriptor, or -1 after a move.
  int fd() const noexcept { return fd_.get(); }

 private:
  explicit EventFd(int fd) noexcept : fd_(fd) {}
  detail::UniqueFd fd_;
};

}  // namespace event_manager
