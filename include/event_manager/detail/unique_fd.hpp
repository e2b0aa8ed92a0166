// detail/unique_fd.hpp — UniqueFd, the one owner of a file descriptor.
//
// Not API. EventFd, TimerFd, SignalFd and Core::create() hold their fds
// through it instead of each writing its own move, release and close. It
// closes through close_fd(), compiled in src/ on top of the library's syscall
// seam (src/sys.hpp, not installed), where the fault-injection tests see it.
#pragma once

#include <utility>

namespace event_manager::detail {

/// Closes `fd` unless it is negative; never retries on EINTR, ignores errors.
void close_fd(int fd) noexcept;

/// Move-only owner of one fd (or of none: -1). Closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  /// Takes `other`'s fd, then closes the one held before (self-move keeps it).
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { close_fd(fd_); }

  /// The fd, or -1 when none is held.
  int get() const noexcept { return fd_; }
  /// Gives up ownership without closing; returns the fd (or -1).
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  /// Holds `fd` from now on and closes the one held before.
  void reset(int fd = -1) noexcept { close_fd(std::exchange(fd_, fd)); }

 private:
  int fd_ = -1;
};

}  // namespace event_manager::detail
