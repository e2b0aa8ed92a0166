// detail/manager_impl.hpp — inline bodies of EventManager<S>.
//
// Not API; included at the end of manager.hpp. The per-event dispatch step
// lives here so that the compiler sees one tight loop with the subscriber's
// process() inlined; registration and everything cold is in src/core.cpp.
#pragma once

#include <exception>
#include <memory>
#include <new>
#include <utility>

namespace event_manager {

template <SubscriberHandle S>
Result<EventManager<S>> EventManager<S>::create(std::size_t ready_events_capacity) {
  if (ready_events_capacity == 0 || ready_events_capacity > max_ready_events_capacity) {
    return std::unexpected(make_error_code(Error::InvalidCapacity));
  }
  auto core = detail::Core::create(ready_events_capacity, &EventManager::destroy, &EventManager::process);
  if (!core) return std::unexpected(core.error());
  return EventManager(std::move(*core));
}

template <SubscriberHandle S>
template <class Wait>
Result<std::size_t> EventManager<S>::run_once(Wait wait) {
  detail::Core& core = *core_;
  if (core.in_callback()) return std::unexpected(make_error_code(Error::Reentrant));
  detail::CallbackScope scope(core, 0, /*claim_thread=*/true);
  detail::RunScope run(core);

  // Injections first, before the wait (a throwing one leaves run() here).
  const std::size_t injected = run.injected();
  const Result<int> waited = wait(core);
  if (!waited) return std::unexpected(waited.error());
  const int count = *waited;
  const ::epoll_event* const ready = core.ready_events();
  const int wake_fd = core.wake_fd();
  bool woken = core.wake_owed();

  const ::epoll_event* event = ready;
  const ::epoll_event* const end = ready + count;
  try {
    // The inner loop calls nothing but process(): with an inlined process()
    // the compiler keeps the table in registers across events. Everything
    // that needs a call (recording a drop) leaves it, and the outer loop
    // re-enters it with the table reloaded.
    while (event != end) {
      for (; event != end; ++event) {
        const std::uint64_t key = event->data.u64;
        const auto fd = static_cast<std::uint32_t>(key);
        // Reload the table each time: a callback may add fds and grow it. The
        // mask keeps any fd inside it (see Core::fd_mask()).
        const detail::FdEntry& entry = core.fd_table()[fd & core.fd_mask()];
        // An event whose bits a modify() during this batch no longer asks for
        // is dropped along with the stale ones (ready & interest is then
        // empty), and so is every event of a muted or paused registration.
        const std::uint32_t bits = event->events & entry.interest;
        if (entry.key == key && bits != 0) [[likely]] {
          const Events events = Events::with_data(static_cast<int>(fd), entry.data, EventSet::from_bits(bits));
          auto& target = *static_cast<detail::subscriber_target_t<S>*>(entry.target);
          core.set_active(entry.owner);
          EventOps ops = detail::Core::make_ops(&core, detail::Core::make_id(entry.owner));
          target.process(events, ops);
        } else if (static_cast<int>(fd) == wake_fd) {  // its entry asks for no bits
          woken = true;
        } else {
          break;
        }
      }
      if (event != end) {
        // Stale (removed, or re-registered, since the kernel reported it), muted,
        // paused, or not ours: skipped, never a reason to fail.
        core.set_active(0);
        core.dropped(event->data.u64);
        ++event;
      }
    }
  } catch (...) {
    core.abandon_batch(static_cast<int>(event - ready), count);
    throw;
  }
  core.set_active(0);
  std::size_t expired = 0;
  if (core.timers_pending()) [[unlikely]]
    expired = core.run_timers();
  if (woken) [[unlikely]]
    core.run_requests(static_cast<SubscriberOps<S>*>(this));
  return static_cast<std::size_t>(count) + injected + expired;
}

template <SubscriberHandle S>
Result<std::size_t> EventManager<S>::run_with_timeout(int milliseconds) {
  return run_once([milliseconds](detail::Core& core) { return core.wait(milliseconds); });
}

template <SubscriberHandle S>
Result<std::size_t> EventManager<S>::run_with_timeout(std::chrono::nanoseconds timeout) {
  return run_once([timeout](detail::Core& core) { return core.wait(timeout); });
}

template <SubscriberHandle S>
Result<std::size_t> EventManager<S>::run_until(TimerClock::time_point deadline) {
  std::size_t total = 0;
  do {
    // At least one poll; a kick or an event ends only the batch.
    // Compared before subtracting: deadline - now overflows for time_point::min().
    const TimerClock::time_point now = TimerClock::now();
    const TimerClock::duration left = deadline <= now ? TimerClock::duration::zero() : deadline - now;
    const Result<std::size_t> ran = run_with_timeout(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    if (!ran) return ran;
    total += *ran;
  } while (TimerClock::now() < deadline);
  return total;
}

template <SubscriberHandle S>
Result<std::size_t> EventManager<S>::run_for(TimerClock::duration duration) {
  const TimerClock::time_point now = TimerClock::now();
  // Saturate: run_for(duration::max()) runs (practically) forever, and a zero or
  // negative duration (duration::min() too) polls once, instead of overflowing.
  const TimerClock::time_point deadline = duration <= TimerClock::duration::zero() ? now
                                          : duration > TimerClock::time_point::max() - now
                                              ? TimerClock::time_point::max()
                                              : now + duration;
  return run_until(deadline);
}

#if defined(__cpp_lib_jthread)
template <SubscriberHandle S>
Result<void> EventManager<S>::run(std::stop_token stop) {
  if (core_->in_callback()) return std::unexpected(make_error_code(Error::Reentrant));
  if (stop.stop_requested()) return {};
  // A stop requested from another thread kicks the loop out of its wait; one
  // requested by a callback on the loop thread needs no syscall: the loop
  // checks the token after every batch.
  detail::Channel* channel = core_->channel().get();
  std::stop_callback kick(stop, [channel] {
    if (!channel->is_loop_thread()) (void)channel->kick();
  });
  while (!stop.stop_requested()) {
    if (const Result<std::size_t> ran = run(); !ran) return std::unexpected(ran.error());
  }
  return {};
}
#endif

template <SubscriberHandle S>
template <class F>
void EventManager<S>::for_each_subscriber(F&& f) {
  for (auto listed = core_->first_subscriber(); listed; listed = core_->next_subscriber(*listed)) {
    f(listed->id, *static_cast<S*>(listed->object));
  }
}

template <SubscriberHandle S>
template <class F>
void EventManager<S>::for_each_subscriber(F&& f) const {
  for (auto listed = core_->first_subscriber(); listed; listed = core_->next_subscriber(*listed)) {
    f(listed->id, static_cast<const S&>(*static_cast<S*>(listed->object)));
  }
}

template <SubscriberHandle S>
SubscriberId EventManager<S>::add_subscriber(S subscriber) {
  detail::Core& core = *core_;
  auto object = std::make_unique<S>(std::move(subscriber));
  auto& target = detail::subscriber_target(*object);
  const SubscriberId id = core.insert_subscriber(object.get(), const_cast<void*>(static_cast<const void*>(&target)));
  try {
    detail::CallbackScope scope(core, id.value(), /*claim_thread=*/false);
    EventOps ops = detail::Core::make_ops(&core, id);
    target.init(ops);
  } catch (...) {
    core.erase_subscriber(id);  // unregisters whatever init() added; `object` deletes the subscriber
    throw;
  }
  object.release();  // owned by the core from here on
  return id;
}

template <SubscriberHandle S>
Result<S> EventManager<S>::remove_subscriber(SubscriberId id) {
  detail::Core& core = *core_;
  auto* object = static_cast<S*>(core.find_subscriber(id));
  if (object == nullptr) return std::unexpected(make_error_code(Error::InvalidId));
  // Its init() or process() is on the stack (at any depth): deleting it would
  // pull the object out from under the running call.
  if (core.is_running(id)) return std::unexpected(make_error_code(Error::Reentrant));
  // The subscriber is moved straight into the returned object (guaranteed copy
  // elision: a named local would be moved a second time by the return, after
  // the erase, when the compiler skips NRVO). Only once that move succeeded
  // does the guard, on its way out, unregister and free the subscriber; if the
  // move throws, nothing changed.
  class EraseOnSuccess {
   public:
    EraseOnSuccess(detail::Core& c, SubscriberId i, S* o) noexcept : core_(c), id_(i), object_(o) {}
    EraseOnSuccess(const EraseOnSuccess&) = delete;
    EraseOnSuccess& operator=(const EraseOnSuccess&) = delete;
    ~EraseOnSuccess() {
      if (std::uncaught_exceptions() != exceptions_) return;
      core_.erase_subscriber(id_);
      delete object_;
    }

   private:
    detail::Core& core_;
    SubscriberId id_;
    S* object_;
    int exceptions_ = std::uncaught_exceptions();
  };
  EraseOnSuccess guard(core, id, object);
  return Result<S>(std::in_place, std::move(*object));  // may throw: then nothing changed
}

template <SubscriberHandle S>
Result<EventOps> EventManager<S>::event_ops(SubscriberId id) {
  if (core_->find_subscriber(id) == nullptr) return std::unexpected(make_error_code(Error::InvalidId));
  return detail::Core::make_ops(core_.get(), id);
}

}  // namespace event_manager
