// Core's timers: every timer of a manager in one heap (src/timer_heap.hpp),
// served by one kernel timer, a timerfd in the manager's epoll set.
//
// Kernel facts this file is shaped by (checked on Linux 6.x):
//  a) timerfd_settime with TFD_TIMER_ABSTIME and a zero it_value disarms, so
//     a deadline at or before 0 is given as 1 ns: already past, it fires.
//  b) timerfd_settime resets the expiry count. The timerfd is registered
//     level-triggered and never read(): it stays readable from its expiry
//     until the next settime, which run() makes at its end (the earliest
//     deadline then differs). No read() per expiry.
//  c) A past deadline usually makes the timerfd readable at once, but the
//     kernel does not promise it: a timer due when programmed also sets
//     timer_due_now_ (the next wait polls) and writes the wake-up eventfd
//     (epoll_fd() is readable for an enclosing loop).
//  d) The timerfd is opened lazily, so its number may be one the user closed
//     without remove(): that table entry is still taken by the user's
//     subscriber. The timerfd then moves to a number above the table, so a
//     later remove() of the old number can never touch the manager's timer.
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <limits>

#include "event_manager/detail/core.hpp"
#include "sys.hpp"
#include "timers.hpp"

namespace event_manager::detail {
namespace {

std::unexpected<std::error_code> fail(Error error) noexcept { return std::unexpected(make_error_code(error)); }

std::int64_t now_ns() noexcept { return TimerClock::now().time_since_epoch().count(); }

}  // namespace

Core::Timers* Core::timers() {
  if (!timers_) timers_ = std::make_unique<Timers>();  // may throw std::bad_alloc: nothing changed
  return timers_.get();
}

Result<void> Core::open_timer_fd() noexcept {
  auto opened = sys::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (!opened) return std::unexpected(opened.error());
  int fd = *opened;
  if (static_cast<std::size_t>(fd) < table_.size() && table_[static_cast<std::size_t>(fd)].owner != 0) {
    // Fact d: the number is still taken in the table. Move above the table.
    auto moved = sys::dup_cloexec(fd, static_cast<int>(table_.size()));
    sys::close_fd(fd);
    if (!moved) return std::unexpected(moved.error());
    fd = *moved;
  }
  try {
    cover(static_cast<std::size_t>(fd));
  } catch (...) {
    sys::close_fd(fd);
    return std::unexpected(std::make_error_code(std::errc::not_enough_memory));
  }
  const Result<std::uint32_t> generation = next_generation(fd);
  if (!generation) {
    sys::close_fd(fd);
    return std::unexpected(generation.error());
  }
  const std::uint64_t key = (std::uint64_t{*generation} << 32) | static_cast<std::uint32_t>(fd);
  if (auto added = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, EPOLLIN, key); !added) {  // level-triggered: fact b
    sys::close_fd(fd);
    return added;
  }
  FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  entry.key = key;
  entry.owner = manager_owner;  // asks for no bits: dispatch reports it as dropped(), see timers_pending()
  entry.kernel = EPOLLIN;
  timer_key_ = key;
  timers_->fd = fd;
  return {};
}

Result<TimerId> Core::add_timer(SubscriberId owner, std::uint32_t data) {
  Slot* slot = slot_of(owner);
  if (slot == nullptr) return fail(Error::InvalidId);
  Timers* timers = this->timers();
  const std::uint64_t id = timers->heap.add(owner.value(), data, slot->timers);  // may throw: nothing changed
  if (timers->fd < 0) {
    if (auto opened = open_timer_fd(); !opened) {
      (void)timers->heap.remove(id, owner.value(), slot->timers);
      return std::unexpected(opened.error());
    }
  }
  return TimerId(id);
}

Result<void> Core::arm_timer(SubscriberId owner, TimerId timer, std::int64_t base, std::int64_t offset,
                             std::int64_t period) {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  if (!timers_) return fail(Error::TimerNotRegistered);
  TimerHeap& heap = timers_->heap;
  if (period < 0) {  // checked after the timer (API.md: the order of checks)
    if (!heap.contains(timer.value(), owner.value())) return fail(Error::TimerNotRegistered);
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  }
  const std::int64_t deadline = saturating_add(base, offset);
  if (running_) {
    // The run's end programs the kernel timer, once: one heap lookup here.
    if (!heap.arm(timer.value(), owner.value(), deadline, period)) return fail(Error::TimerNotRegistered);
    return {};
  }
  // Outside run() the kernel may refuse the new earliest deadline: keep what to undo.
  const std::optional<TimerHeap::Armed> old = heap.armed_state(timer.value(), owner.value());
  if (!old) return fail(Error::TimerNotRegistered);
  (void)heap.arm(timer.value(), owner.value(), deadline, period);
  if (auto programmed = program_timer(); !programmed) {
    // The kernel refused the earlier deadline: put the timer back as it was,
    // its place among equal deadlines included.
    heap.restore(timer.value(), owner.value(), *old);
    (void)program_timer();
    return programmed;
  }
  return {};
}

Result<void> Core::disarm_timer(SubscriberId owner, TimerId timer) {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  if (!timers_ || !timers_->heap.disarm(timer.value(), owner.value())) return fail(Error::TimerNotRegistered);
  timers_changed();
  return {};
}

Result<void> Core::remove_timer(SubscriberId owner, TimerId timer) {
  Slot* slot = slot_of(owner);
  if (slot == nullptr) return fail(Error::InvalidId);
  if (!timers_ || !timers_->heap.remove(timer.value(), owner.value(), slot->timers)) {
    return fail(Error::TimerNotRegistered);
  }
  timers_changed();
  return {};
}

Result<std::optional<TimerClock::time_point>> Core::timer_deadline(SubscriberId owner, TimerId timer) const {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  if (!timers_ || !timers_->heap.contains(timer.value(), owner.value())) return fail(Error::TimerNotRegistered);
  const std::optional<std::int64_t> deadline = timers_->heap.deadline(timer.value(), owner.value());
  if (!deadline) return std::optional<TimerClock::time_point>();
  return std::optional<TimerClock::time_point>(TimerClock::time_point(TimerClock::duration(*deadline)));
}

void Core::timers_changed() noexcept {
  // A later (or no) earliest deadline that the kernel refuses only makes the
  // kernel timer fire early: that run() finds nothing due and programs again.
  if (!running_) (void)program_timer();
}

void Core::pause_timers(Slot& slot) noexcept {
  if (!timers_) {
    // No heap yet: the list records the pause, and the timers this subscriber
    // adds while paused start parked.
    slot.timers.paused = true;
    return;
  }
  timers_->heap.pause(slot.timers);
  timers_changed();
}

void Core::resume_timers(Slot& slot) noexcept {
  if (!timers_) {
    slot.timers.paused = false;
    return;
  }
  timers_->heap.resume(slot.timers);
  timers_changed();
}

void Core::remove_timers(Slot& slot) noexcept {
  if (!timers_) return;
  timers_->heap.remove_all(slot.timers);
  timers_changed();
}

void Core::mark_run() noexcept { timers_->mark = timers_->heap.run_mark(); }

Result<void> Core::program_timer() noexcept {
  Timers& timers = *timers_;
  if (timers.fd < 0) return {};
  const std::int64_t earliest = timers.heap.earliest().value_or(Timers::never);
  if (earliest == timers.programmed) return {};
  ::itimerspec spec{};
  if (earliest != Timers::never) {
    const std::int64_t at = earliest > 0 ? earliest : 1;  // fact a: 0 would disarm
    spec.it_value.tv_sec = static_cast<time_t>(at / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(at % 1'000'000'000);
  }
  if (auto set = sys::timerfd_settime(timers.fd, TFD_TIMER_ABSTIME, spec); !set) {
    timer_due_now_ = true;  // keep polling until the kernel takes it
    return set;
  }
  timers.programmed = earliest;
  // Fact c. Recomputed at every change, so that a due timer taken away (paused,
  // removed) stops making the wait poll.
  timer_due_now_ = earliest != Timers::never && earliest <= now_ns();
  if (timer_due_now_) signal();
  return {};
}

std::size_t Core::dispatch_timers() {
  timer_event_ = false;
  timer_due_now_ = false;
  Timers& timers = *timers_;
  const std::int64_t now = now_ns();  // once, after the batch's fd events
  std::size_t expired = 0;
  try {
    while (const std::optional<ExpiredTimer> due = timers.heap.pop_due(now, timers.mark)) {
      const Slot* slot = slot_of(SubscriberId(due->owner));
      if (slot == nullptr) continue;  // cannot happen: removing a subscriber removes its timers
      ++expired;
      active_ = due->owner;
      EventOps ops(this, SubscriberId(due->owner));
      process_(slot->target, Events::with_data(-1, due->data, EventSet::timer), ops);
    }
  } catch (...) {
    // The other due timers fire in the next run(), which must not block.
    active_ = 0;
    timer_due_now_ = true;
    signal();
    throw;
  }
  active_ = 0;
  return expired;
}

}  // namespace event_manager::detail
