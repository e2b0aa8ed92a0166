// sys.hpp — every raw syscall the library makes, and its EINTR rule.
//
// Not installed. Every syscall the library itself makes goes through a function
// here, which gives one place to read what it asks of the kernel. Not here:
// the futex waits inside the C++ runtime (std::mutex, std::atomic::wait), the
// POSIX semaphore of call_blocking(), a template in a public header, and the
// std::ifstream read of /proc/self/fdinfo that add() makes on the one path where
// a generation wraps around for an fd number with a leftover (core.cpp note h). The
// fault-injection tests wrap the libc symbols called here at link time
// (-Wl,--wrap, tests/fault/), so each function makes a plain libc call, never
// a raw `syscall()` that a wrapper could not see (epoll_pwait2, which glibc
// 2.36 has but older ones lack, is the exception: the tests wrap syscall()).
//
// EINTR rules, per call:
//  - close(): never retried (see close_fd()).
//  - epoll_wait(): EINTR is zero events; the caller decides whether to wait again.
//  - read()/write(): retried, since a blocking fd may be interrupted before
//    anything moved.
//  - The others (epoll_create1, epoll_ctl, eventfd, timerfd_*, signalfd,
//    fcntl(F_DUPFD_CLOEXEC)) do not block and do not fail with EINTR.
#pragma once

#include <signal.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include "event_manager/error.hpp"

namespace event_manager::sys {

/// The error of the call that just failed: errno, in the system category.
inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }
inline std::unexpected<std::error_code> failure() noexcept { return std::unexpected(last_error()); }

/// Closes `fd` (nothing for a negative one), never retrying on EINTR: Linux
/// frees the descriptor even when close() is interrupted, and a retry could
/// close a number another thread has just been given. Errors are ignored on
/// purpose: there is nothing left to undo.
void close_fd(int fd) noexcept;

/// epoll_create1(flags): the new fd, or the errno.
Result<int> epoll_create1(int flags) noexcept;
/// epoll_wait; EINTR means zero events (the caller decides whether to wait again).
Result<int> epoll_wait(int epoll_fd, ::epoll_event* events, int capacity, int timeout_ms) noexcept;
/// The epoll_pwait2 system call, through syscall() (no glibc 2.35 needed; the
/// fault tests wrap syscall() for it). EINTR means zero events; `timeout`
/// nullptr waits forever.
Result<int> epoll_pwait2(int epoll_fd, ::epoll_event* events, int capacity, const ::timespec* timeout) noexcept;
/// epoll_ctl; it does not fail with EINTR.
Result<void> epoll_ctl(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t key) noexcept;

/// eventfd(initial, flags): the new fd, or the errno.
Result<int> eventfd(unsigned int initial, int flags) noexcept;
/// timerfd_create(clock, flags): the new fd, or the errno.
Result<int> timerfd_create(clockid_t clock, int flags) noexcept;
/// timerfd_settime(fd, flags, spec), discarding the old setting.
Result<void> timerfd_settime(int fd, int flags, const ::itimerspec& spec) noexcept;
/// signalfd(-1, signals, flags): a new signalfd, or the errno.
Result<int> signalfd(const sigset_t& signals, int flags) noexcept;
/// fcntl(fd, F_DUPFD_CLOEXEC, 0): a close-on-exec duplicate, or the errno.
Result<int> dup_cloexec(int fd, int lowest = 0) noexcept;

/// read(), retried on EINTR: the bytes read (0 at end of file), or the errno.
Result<std::size_t> read(int fd, void* buffer, std::size_t size) noexcept;
/// 8-byte eventfd/timerfd counter I/O, retried on EINTR (a blocking fd may be
/// interrupted before any byte moved; the kernel moves all 8 or none).
Result<std::uint64_t> read_u64(int fd) noexcept;
Result<void> write_u64(int fd, std::uint64_t value) noexcept;

}  // namespace event_manager::sys
