// sys.hpp — every raw syscall the library makes, and its EINTR rule.
//
// Not installed. Keeping the calls here gives one place to read what the
// library asks of the kernel; the fault-injection tests wrap the same libc
// symbols at link time (-Wl,--wrap), so nothing here may be inlined away into
// a direct `syscall()`.
#pragma once

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "event_manager/error.hpp"

namespace event_manager::sys {

/// The error of the call that just failed: errno, in the system category.
inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }
inline std::unexpected<std::error_code> failure() noexcept { return std::unexpected(last_error()); }

/// Closes `fd`, never retrying on EINTR: Linux frees the descriptor even when
/// close() is interrupted, and a retry could close a number another thread has
/// just been given. Errors are ignored on purpose: there is nothing left to undo.
void close_fd(int fd) noexcept;

/// epoll_wait; EINTR means zero events (the caller decides whether to wait again).
Result<int> epoll_wait(int epoll_fd, ::epoll_event* events, int capacity, int timeout_ms) noexcept;
/// The epoll_pwait2 system call (through syscall(): no glibc 2.35 needed);
/// EINTR means zero events. `timeout` nullptr waits forever.
Result<int> epoll_pwait2(int epoll_fd, ::epoll_event* events, int capacity, const ::timespec* timeout) noexcept;
/// timerfd_create; timerfd_settime (neither fails with EINTR).
Result<int> timerfd_create(clockid_t clock, int flags) noexcept;
Result<void> timerfd_settime(int fd, int flags, const ::itimerspec& spec) noexcept;
/// fcntl(F_DUPFD_CLOEXEC): a close-on-exec duplicate numbered `lowest` or above.
Result<int> dup_cloexec(int fd, int lowest = 0) noexcept;
/// epoll_ctl; it does not fail with EINTR.
Result<void> epoll_ctl(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t key) noexcept;

/// 8-byte eventfd/timerfd counter I/O, retried on EINTR (a blocking fd may be
/// interrupted before any byte moved; the kernel moves all 8 or none).
Result<std::uint64_t> read_u64(int fd) noexcept;
Result<void> write_u64(int fd, std::uint64_t value) noexcept;

}  // namespace event_manager::sys
