// EventOps forwards to the core, which checks that the subscriber is alive
// and owns the fd; the handle itself holds no state worth checking.
#include "event_manager/event_ops.hpp"

#include "event_manager/detail/core.hpp"

#include <type_traits>

namespace event_manager {

Result<void> EventOps::add(Events events) { return core_->add(id_, events); }
Result<void> EventOps::modify(Events events) { return core_->modify(id_, events); }
Result<void> EventOps::remove(Events events) { return core_->remove(id_, events); }
Result<Events> EventOps::registered(int fd) const { return core_->registered(id_, fd); }
Result<void> EventOps::inject(int fd, EventSet ready) { return core_->inject(id_, fd, ready); }
Result<TimerId> EventOps::add_timer(std::uint32_t data) { return core_->add_timer(id_, data); }
// Deadlines are nanoseconds of CLOCK_MONOTONIC, which is steady_clock's epoch
// on Linux; the core adds them with saturation.
static_assert(std::is_same_v<TimerClock::duration, std::chrono::nanoseconds>);

Result<void> EventOps::arm_timer(TimerId timer, TimerClock::duration first, TimerClock::duration period) {
  return core_->arm_timer(id_, timer, TimerClock::now().time_since_epoch().count(), first.count(), period.count());
}
Result<void> EventOps::arm_timer_at(TimerId timer, TimerClock::time_point deadline, TimerClock::duration period) {
  return core_->arm_timer(id_, timer, deadline.time_since_epoch().count(), 0, period.count());
}
Result<void> EventOps::disarm_timer(TimerId timer) { return core_->disarm_timer(id_, timer); }
Result<void> EventOps::remove_timer(TimerId timer) { return core_->remove_timer(id_, timer); }
Result<std::optional<TimerClock::time_point>> EventOps::timer_deadline(TimerId timer) const {
  return core_->timer_deadline(id_, timer);
}

}  // namespace event_manager
