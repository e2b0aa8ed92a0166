#include "sys.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace event_manager::sys {
namespace {

/// An fd-returning call's result: the fd, or the errno it failed with.
Result<int> fd_or_failure(int fd) noexcept {
  if (fd >= 0) return fd;
  return failure();
}

}  // namespace

void close_fd(int fd) noexcept {
  if (fd >= 0) (void)::close(fd);  // see sys.hpp: no retry, nothing to undo
}

Result<int> epoll_create1(int flags) noexcept { return fd_or_failure(::epoll_create1(flags)); }

Result<int> epoll_wait(int epoll_fd, ::epoll_event* events, int capacity, int timeout_ms) noexcept {
  const int n = ::epoll_wait(epoll_fd, events, capacity, timeout_ms);
  if (n >= 0) return n;
  if (errno == EINTR) return 0;
  return failure();
}

Result<void> epoll_ctl(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t key) noexcept {
  // EPOLL_CTL_DEL ignores the event, but kernels before 2.6.9 required a
  // non-null pointer, so one is always passed.
  ::epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key;
  if (::epoll_ctl(epoll_fd, op, fd, &ev) == 0) return {};
  return failure();
}

Result<int> eventfd(unsigned int initial, int flags) noexcept { return fd_or_failure(::eventfd(initial, flags)); }

Result<int> epoll_pwait2(int epoll_fd, ::epoll_event* events, int capacity, const ::timespec* timeout) noexcept {
#ifndef SYS_epoll_pwait2
  constexpr long SYS_epoll_pwait2 = 441;  // the same number on every architecture (Linux 5.11)
#endif
  const long n = ::syscall(SYS_epoll_pwait2, epoll_fd, events, capacity, timeout, nullptr, 0);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EINTR) return 0;
  return failure();
}

Result<int> timerfd_create(clockid_t clock, int flags) noexcept {
  return fd_or_failure(::timerfd_create(clock, flags));
}

Result<void> timerfd_settime(int fd, int flags, const ::itimerspec& spec) noexcept {
  if (::timerfd_settime(fd, flags, &spec, nullptr) == 0) return {};
  return failure();
}

Result<int> signalfd(const sigset_t& signals, int flags) noexcept {
  return fd_or_failure(::signalfd(-1, &signals, flags));
}

Result<int> dup_cloexec(int fd, int lowest) noexcept { return fd_or_failure(::fcntl(fd, F_DUPFD_CLOEXEC, lowest)); }

Result<std::size_t> read(int fd, void* buffer, std::size_t size) noexcept {
  for (;;) {
    const ssize_t n = ::read(fd, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return failure();
  }
}

Result<std::uint64_t> read_u64(int fd) noexcept {
  std::uint64_t value = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &value, sizeof value);
    if (n == static_cast<ssize_t>(sizeof value)) return value;
    if (n >= 0) return std::unexpected(std::make_error_code(std::errc::io_error));  // not an 8-byte counter
    if (errno != EINTR) return failure();
  }
}

Result<void> write_u64(int fd, std::uint64_t value) noexcept {
  for (;;) {
    const ssize_t n = ::write(fd, &value, sizeof value);
    if (n == static_cast<ssize_t>(sizeof value)) return {};
    if (n >= 0) return std::unexpected(std::make_error_code(std::errc::io_error));
    if (errno != EINTR) return failure();
  }
}

}  // namespace event_manager::sys
