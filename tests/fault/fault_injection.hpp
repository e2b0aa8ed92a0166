// Link-time syscall fault injection for the tests in this directory.
//
// The test executables are linked with -Wl,--wrap=<name> for every syscall
// below, and with a static copy of the library (see CMakeLists.txt), so the
// library's calls to epoll_ctl() etc. resolve to __wrap_epoll_ctl()
// (fault_injection.cpp), which calls the real function unless the calling
// thread armed a failure: "fail the nth call of this syscall with errno E".
// The public API is unchanged; only the test binaries see the wrappers.
//
// The close() wrapper also keeps, per thread, a log of the numbers closed
// while a CloseLog is alive, so that a test can see a number closed twice (the
// set of open fds afterwards looks the same either way).
#pragma once

#include <cstddef>
#include <vector>

namespace event_manager::fault {

enum class Sys {
  epoll_create1,
  epoll_ctl,
  epoll_wait,
  eventfd,
  read,
  write,
  timerfd_create,
  timerfd_settime,
  fcntl,
  close,
  signalfd,
  sem_wait,      // not a library syscall: called by call_blocking(), a template in the caller's object
  epoll_pwait2,  // syscall(SYS_epoll_pwait2, ...); no other syscall() number is failed or counted
};
const char* name(Sys sys) noexcept;

/// On this thread, makes the `nth` call (1-based) of `sys` from now fail with
/// `error`. The failing call does not reach the kernel, except close(): Linux
/// frees the descriptor even when close() reports an error, so an injected
/// close() failure closes the fd and then reports `error`. Replaces any
/// earlier plan.
void arm(Sys sys, int nth, int error) noexcept;
/// Cancels this thread's plan. Returns true if the planned failure happened.
bool disarm() noexcept;
/// Calls of the armed syscall this thread made since arm().
int calls_seen() noexcept;
/// Failures injected so far, over all threads.
std::size_t total_injected() noexcept;

/// On this thread, runs `hook(context)` once, inside the next call of `sys`,
/// before that call reaches the kernel (or an armed failure): lets a test hold
/// a thread in the middle of a library call. Independent of arm().
void before_next(Sys sys, void (*hook)(void*), void* context) noexcept;

/// Arms a plan for the lifetime of the object (disarms in the destructor).
class Injection {
 public:
  Injection(Sys sys, int nth, int error) noexcept { arm(sys, nth, error); }
  ~Injection() { (void)disarm(); }
  Injection(const Injection&) = delete;
  Injection& operator=(const Injection&) = delete;
  /// Disarms now; true if the failure was injected.
  bool fired() noexcept { return disarm(); }
};

/// Records every close() this thread makes while the object lives (not nested).
class CloseLog {
 public:
  CloseLog() noexcept;
  ~CloseLog();
  CloseLog(const CloseLog&) = delete;
  CloseLog& operator=(const CloseLog&) = delete;
  /// The numbers passed to close() so far, in call order.
  const std::vector<int>& closed() const noexcept;
  /// How many times close(fd) was called so far.
  int close_count(int fd) const noexcept;
};

}  // namespace event_manager::fault
