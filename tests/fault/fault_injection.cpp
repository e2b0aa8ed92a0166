// The wrappers named by -Wl,--wrap in CMakeLists.txt. Each checks the calling
// thread's plan and either fails with the planned errno or calls __real_*.
#include "fault_injection.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>

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

/// True when this call must fail (errno is then set).
bool should_fail(Sys sys) noexcept {
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
    case Sys::fcntl: return "fcntl";
    case Sys::timerfd_settime: return "timerfd_settime";
  }
  return "?";
}

void arm(Sys sys, int nth, int error) noexcept { plan = Plan{true, false, sys, nth, error, 0}; }

bool disarm() noexcept {
  const bool fired = plan.fired;
  plan.armed = false;
  return fired;
}

int calls_seen() noexcept { return plan.seen; }

std::size_t total_injected() noexcept { return injected.load(std::memory_order_relaxed); }

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
int __real_fcntl(int fd, int cmd, ...);

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

int __real_timerfd_settime(int fd, int flags, const struct itimerspec* value, struct itimerspec* old);
int __wrap_timerfd_settime(int fd, int flags, const struct itimerspec* value, struct itimerspec* old) {
  if (should_fail(Sys::timerfd_settime)) return -1;
  return __real_timerfd_settime(fd, flags, value, old);
}

}  // extern "C"
