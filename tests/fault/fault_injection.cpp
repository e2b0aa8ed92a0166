// The wrappers named by -Wl,--wrap in CMakeLists.txt. Each checks the calling
// thread's plan and either fails with the planned errno or calls __real_*.
#include "fault_injection.hpp"

#include <fcntl.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <utility>
#include <vector>

namespace event_manager::fault {
namespace {

struct Plan {
  bool armed = false;
  bool fired = false;
  Sys sys = Sys::read;
  int nth = 0;
  int error = 0;
  int seen = 0;
};

thread_local Plan plan;
std::atomic<std::size_t> injected{0};

// The CloseLog of this thread, if one is alive. Its vector is reserved when
// logging starts, and the wrapper records only within that reserve.
thread_local std::vector<int>* close_log = nullptr;
constexpr std::size_t close_log_reserve = 1024;

struct Hook {
  Sys sys = Sys::read;
  void (*run)(void*) = nullptr;
  void* context = nullptr;
};
thread_local Hook hook;

/// True when this call must fail (errno is then set). Runs a hook first.
bool should_fail(Sys sys) noexcept {
  if (hook.run != nullptr && hook.sys == sys) {
    const Hook due = std::exchange(hook, Hook{});  // once, also if the hook calls in again
    due.run(due.context);
  }
  if (!plan.armed || plan.fired || plan.sys != sys) return false;
  if (++plan.seen != plan.nth) return false;
  plan.fired = true;
  injected.fetch_add(1, std::memory_order_relaxed);
  errno = plan.error;
  return true;
}

}  // namespace

const char* name(Sys sys) noexcept {
  switch (sys) {
    case Sys::epoll_create1: return "epoll_create1";
    case Sys::epoll_ctl: return "epoll_ctl";
    case Sys::epoll_wait: return "epoll_wait";
    case Sys::eventfd: return "eventfd";
    case Sys::read: return "read";
    case Sys::write: return "write";
    case Sys::timerfd_create: return "timerfd_create";
    case Sys::timerfd_settime: return "timerfd_settime";
    case Sys::fcntl: return "fcntl";
    case Sys::epoll_pwait2: return "epoll_pwait2";
    case Sys::close: return "close";
    case Sys::signalfd: return "signalfd";
    case Sys::sem_wait: return "sem_wait";
  }
  return "?";
}

void arm(Sys sys, int nth, int error) noexcept { plan = Plan{true, false, sys, nth, error, 0}; }

bool disarm() noexcept {
  const bool fired = plan.fired;
  plan.armed = false;
  return fired;
}

void before_next(Sys sys, void (*run)(void*), void* context) noexcept { hook = Hook{sys, run, context}; }

int calls_seen() noexcept { return plan.seen; }

std::size_t total_injected() noexcept { return injected.load(std::memory_order_relaxed); }

namespace {
thread_local std::vector<int> close_log_storage;
}  // namespace

CloseLog::CloseLog() noexcept {
  close_log_storage.clear();
  close_log_storage.reserve(close_log_reserve);  // a test with no memory left has bigger problems
  close_log = &close_log_storage;
}

CloseLog::~CloseLog() { close_log = nullptr; }

const std::vector<int>& CloseLog::closed() const noexcept { return close_log_storage; }

int CloseLog::close_count(int fd) const noexcept {
  return static_cast<int>(std::count(close_log_storage.begin(), close_log_storage.end(), fd));
}

}  // namespace event_manager::fault

using event_manager::fault::should_fail;
using event_manager::fault::Sys;

extern "C" {

int __real_epoll_create1(int flags);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event* event);
int __real_epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout);
int __real_eventfd(unsigned int initval, int flags);
ssize_t __real_read(int fd, void* buf, size_t count);
ssize_t __real_write(int fd, const void* buf, size_t count);
int __real_timerfd_create(int clockid, int flags);
int __real_timerfd_settime(int fd, int flags, const struct itimerspec* new_value, struct itimerspec* old_value);
int __real_fcntl(int fd, int cmd, ...);
long __real_syscall(long number, ...);
int __real_close(int fd);
int __real_signalfd(int fd, const sigset_t* mask, int flags);
int __real_sem_wait(sem_t* semaphore);

int __wrap_epoll_create1(int flags) {
  if (should_fail(Sys::epoll_create1)) return -1;
  return __real_epoll_create1(flags);
}
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  if (should_fail(Sys::epoll_ctl)) return -1;
  return __real_epoll_ctl(epfd, op, fd, event);
}
int __wrap_epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
  if (should_fail(Sys::epoll_wait)) return -1;
  return __real_epoll_wait(epfd, events, maxevents, timeout);
}
int __wrap_eventfd(unsigned int initval, int flags) {
  if (should_fail(Sys::eventfd)) return -1;
  return __real_eventfd(initval, flags);
}
ssize_t __wrap_read(int fd, void* buf, size_t count) {
  if (should_fail(Sys::read)) return -1;
  return __real_read(fd, buf, count);
}
ssize_t __wrap_write(int fd, const void* buf, size_t count) {
  if (should_fail(Sys::write)) return -1;
  return __real_write(fd, buf, count);
}
int __wrap_timerfd_create(int clockid, int flags) {
  if (should_fail(Sys::timerfd_create)) return -1;
  return __real_timerfd_create(clockid, flags);
}
int __wrap_timerfd_settime(int fd, int flags, const struct itimerspec* new_value, struct itimerspec* old_value) {
  if (should_fail(Sys::timerfd_settime)) return -1;
  return __real_timerfd_settime(fd, flags, new_value, old_value);
}
int __wrap_signalfd(int fd, const sigset_t* mask, int flags) {
  if (should_fail(Sys::signalfd)) return -1;
  return __real_signalfd(fd, mask, flags);
}
int __wrap_sem_wait(sem_t* semaphore) {
  if (should_fail(Sys::sem_wait)) return -1;
  return __real_sem_wait(semaphore);
}
// An injected failure still closes: Linux frees the descriptor whatever
// close() reports (see arm() in fault_injection.hpp).
int __wrap_close(int fd) {
  using event_manager::fault::close_log;
  // Within the reserve, so the log never allocates (an allocation failure test
  // may be making every allocation throw).
  if (close_log != nullptr && close_log->size() < close_log->capacity()) close_log->push_back(fd);
  if (should_fail(Sys::close)) {
    const int error = errno;
    (void)__real_close(fd);
    errno = error;
    return -1;
  }
  return __real_close(fd);
}
// Every fcntl command the library uses takes an int or no argument; pass the
// variadic argument on as a long (the ABI passes int and pointer alike).
int __wrap_fcntl(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  const long arg = va_arg(args, long);
  va_end(args);
  if (should_fail(Sys::fcntl)) return -1;
  return __real_fcntl(fd, cmd, arg);
}

// syscall() is variadic: forward six long arguments, the most any Linux
// system call takes (the ABI passes ints and pointers alike in those
// registers; reading unused ones is harmless). Only epoll_pwait2 is planned.
long __wrap_syscall(long number, ...) {
#ifndef SYS_epoll_pwait2
  constexpr long SYS_epoll_pwait2 = 441;  // as in src/sys.cpp
#endif
  va_list args;
  va_start(args, number);
  long a[6];
  for (long& arg : a) arg = va_arg(args, long);
  va_end(args);
  if (number == SYS_epoll_pwait2 && should_fail(Sys::epoll_pwait2)) return -1;
  return __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

}  // extern "C"
