// detail/timer_list.hpp — the head of one subscriber's timer list.
//
// Not API. Core keeps one in each subscriber slot (as it keeps the head of
// the subscriber's fd list); the timer heap (src/timer_heap.hpp) links the
// subscriber's timers from it, so that remove_subscriber(), pause() and
// resume() cost O(that subscriber's timers).
#pragma once

#include <cstdint>
#include <limits>

namespace event_manager::detail {

/// Pass the same one to every heap call for that owner; a default-constructed
/// list is empty and not paused.
struct TimerList {
  std::uint32_t first = std::numeric_limits<std::uint32_t>::max();  // slot index, or none
  bool paused = false;
};

}  // namespace event_manager::detail
