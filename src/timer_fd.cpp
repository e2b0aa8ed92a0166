#include "event_manager/timer_fd.hpp"

#include <sys/timerfd.h>

#include <cerrno>
#include <utility>

#include "sys.hpp"

namespace event_manager {
namespace {

::timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(d);
  return ::timespec{static_cast<time_t>(seconds.count()), static_cast<long>((d - seconds).count())};
}

}  // namespace

Result<TimerFd> TimerFd::create(clockid_t clock) {
  const Result<int> fd = sys::timerfd_create(clock, TFD_CLOEXEC | TFD_NONBLOCK);
  if (!fd) return std::unexpected(fd.error());
  return TimerFd(*fd);
}

Result<void> TimerFd::arm(std::chrono::nanoseconds first, std::chrono::nanoseconds interval) {
  if (first.count() < 0 || interval.count() < 0) {
    return std::unexpected(std::error_code(EINVAL, std::system_category()));
  }
  const ::itimerspec spec{to_timespec(interval), to_timespec(first)};
  return sys::timerfd_settime(fd_.get(), 0, spec);
}

Result<void> TimerFd::disarm() { return arm(std::chrono::nanoseconds{0}); }

Result<std::uint64_t> TimerFd::read() const { return sys::read_u64(fd_.get()); }

}  // namespace event_manager
