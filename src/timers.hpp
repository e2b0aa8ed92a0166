// timers.hpp — Core::Timers, the state behind a manager's timers (src/timers.cpp).
// Internal; not installed.
#pragma once

#include <cstdint>
#include <limits>

#include "event_manager/detail/core.hpp"
#include "timer_heap.hpp"

namespace event_manager::detail {

struct Core::Timers {
  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
  TimerHeap heap;
  int fd = -1;                      // the timerfd, once opened
  std::int64_t programmed = never;  // the deadline the timerfd holds (never: disarmed)
  std::uint64_t mark = 0;           // run_mark() of the run in progress
};

}  // namespace event_manager::detail
