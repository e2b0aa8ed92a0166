// event_ops.hpp — EventOps, what a subscriber may do to its own interest list.
//
// Example:
//
//   void Device::init(EventOps& ops) {
//     ops.add(Events::with_data(kick_, kKick, EventSet::in)).value();
//   }
//   void Device::process(Events ev, EventOps& ops) {
//     if (ev.event_set().intersects(EventSet::hang_up)) {
//       (void)ops.remove(ev);                       // stop watching a dead peer
//       return;
//     }
//     auto r = ops.registered(ev.fd());             // flip one flag, keep the rest
//     (void)ops.modify(Events::with_data(ev.fd(), r->data(), r->event_set() | EventSet::out));
//   }
//
// An EventOps is a small copyable handle to the manager's state, not to the
// EventManager object: it survives moves of the manager and must not be used
// after the manager is destroyed or move-assigned over. It belongs to the loop
// thread. Once its subscriber is removed every call returns Error::InvalidId.
#pragma once

#include <chrono>
#include <optional>

#include "event_manager/error.hpp"
#include "event_manager/events.hpp"
#include "event_manager/subscriber_id.hpp"
#include "event_manager/timer_id.hpp"

namespace event_manager {

namespace detail {
class Core;
}

/// The clock of timer deadlines (CLOCK_MONOTONIC) and of run_for()/run_until().
using TimerClock = std::chrono::steady_clock;

/// One subscriber's view of the manager's interest list.
class EventOps {
 public:
  /// Registers `events.fd()` for `events.event_set()` with `events.data()`.
  /// Errors: InvalidId (subscriber gone); FdAlreadyRegistered if the fd number
  /// is registered with this manager (by anyone, even if it was closed behind
  /// the manager's back); otherwise the epoll_ctl errno (EBADF for a closed or
  /// negative fd, EPERM for a regular file, ENOSPC past the watch limit, ...).
  /// Strong guarantee: on failure nothing changes.
  [[nodiscard]] Result<void> add(Events events);
  /// Replaces the mask and data of an fd this subscriber registered. With an
  /// unchanged level-triggered mask it makes no syscall (the data lives in the
  /// manager); an edge-triggered or one-shot mask always reaches the kernel,
  /// whose EPOLL_CTL_MOD re-checks readiness (a fresh report of an fd that is
  /// still ready; a re-armed one-shot). Errors: InvalidId,
  /// FdNotRegistered (not ours), or the epoll_ctl errno; on failure the old
  /// registration stays in force. Events of the batch being dispatched that
  /// the new mask no longer asks for are not delivered.
  [[nodiscard]] Result<void> modify(Events events);
  /// Unregisters an fd this subscriber registered; only events.fd() matters.
  /// Frees the fd in the manager even if it was already closed. Errors:
  /// InvalidId, FdNotRegistered, or an unexpected epoll_ctl errno (then the
  /// registration stays). An fd removed during a batch gets no further
  /// callbacks from that batch.
  [[nodiscard]] Result<void> remove(Events events);
  /// What this subscriber registered for `fd`: InvalidId or FdNotRegistered otherwise.
  [[nodiscard]] Result<Events> registered(int fd) const;
  /// Makes the next run() call process() for `fd` with its data as registered
  /// at delivery and `ready` as the event set, as if the kernel had reported
  /// it: one call per inject(), in injection order, before the kernel's events
  /// of that batch; that run() does not block. Reaches muted fds; dropped if
  /// the fd or its subscriber is removed first; held while the subscriber is
  /// paused. `ready` must be non-empty and hold only in, out, priority, error,
  /// hang_up or read_hang_up. Errors: InvalidId, FdNotRegistered, EINVAL.
  /// No allocation once warmed up (the queue keeps its capacity).
  [[nodiscard]] Result<void> inject(int fd, EventSet ready);

  // --- Timers (v4) ---------------------------------------------------------
  // A subscriber owns timers as it owns fds. Each expiry calls its process()
  // with Events{fd -1, data, EventSet::timer} (is_timer()). One kernel timer
  // (a timerfd in the manager's epoll set, opened by the first add_timer())
  // serves all of a manager's timers; arming, disarming, removing and each
  // expiry are O(log n) and allocate nothing. A due timer fires in the next
  // run(), after that run's fd events and before its remote requests, in
  // deadline order (ties in arming order), and never before its deadline.
  // Every call checks, in order: the subscriber (InvalidId), the timer
  // (TimerNotRegistered: another subscriber's, removed, or the null id), the
  // arguments (EINVAL), then asks the kernel.

  /// Creates an unarmed timer whose expiries carry `data`. May allocate (strong
  /// guarantee); the first one opens the kernel timer (its errno on failure).
  [[nodiscard]] Result<TimerId> add_timer(std::uint32_t data);
  /// Arms `timer` to expire `first` from now, then every `period` (0: once).
  /// Re-arming replaces both. `first <= 0` means due now: it fires in the next
  /// run(), which does not block (unlike timerfd, zero never disarms). A
  /// periodic timer's next deadline is the first of deadline + k * period
  /// (k >= 1) in the future: missed periods are skipped. Errors: EINVAL for a
  /// negative period; the timerfd_settime errno (then nothing changed).
  /// Deadlines that would overflow saturate.
  [[nodiscard]] Result<void> arm_timer(TimerId timer, TimerClock::duration first, TimerClock::duration period = {});
  /// As arm_timer(), to an absolute deadline (a past one, time_point{} too, is due now).
  [[nodiscard]] Result<void> arm_timer_at(TimerId timer, TimerClock::time_point deadline,
                                          TimerClock::duration period = {});
  /// Stops `timer` (it stays registered); cancels an expiry not yet delivered.
  [[nodiscard]] Result<void> disarm_timer(TimerId timer);
  /// Frees `timer`; its id is never issued again.
  [[nodiscard]] Result<void> remove_timer(TimerId timer);
  /// The next deadline as armed (a past one is not moved to now), or nullopt while disarmed.
  [[nodiscard]] Result<std::optional<TimerClock::time_point>> timer_deadline(TimerId timer) const;
  /// The subscriber this handle acts for.
  SubscriberId subscriber_id() const noexcept { return id_; }

 private:
  friend class detail::Core;  // handles are made only by the manager
  EventOps(detail::Core* core, SubscriberId id) noexcept : core_(core), id_(id) {}

  detail::Core* core_;
  SubscriberId id_;
};

}  // namespace event_manager
