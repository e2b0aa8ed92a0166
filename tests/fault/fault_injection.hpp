// Link-time syscall fault injection for the tests in this directory.
//
// The test executables are linked with -Wl,--wrap=<name> for every syscall
// below. The static event_manager archive is linked into them, so its calls
// to epoll_ctl() etc. resolve to __wrap_epoll_ctl() (fault_injection.cpp),
// which calls the real function unless the calling thread armed a failure:
// "fail the nth call of this syscall with errno E". The public API is
// unchanged; only the test binaries see the wrappers.
#pragma once

#include <cstddef>

namespace event_manager::fault {

enum class Sys { epoll_create1, epoll_ctl, epoll_wait, eventfd, read, write, timerfd_create, fcntl, timerfd_settime };
const char* name(Sys sys) noexcept;

/// On this thread, makes the `nth` call (1-based) of `sys` from now fail with
/// `error` (the call does not reach the kernel). Replaces any earlier plan.
void arm(Sys sys, int nth, int error) noexcept;
/// Cancels this thread's plan. Returns true if the planned failure happened.
bool disarm() noexcept;
/// Calls of the armed syscall this thread made since arm().
int calls_seen() noexcept;
/// Failures injected so far, over all threads.
std::size_t total_injected() noexcept;

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

}  // namespace event_manager::fault
