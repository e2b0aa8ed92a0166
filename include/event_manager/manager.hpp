// manager.hpp — EventManager<S>: waits on epoll and calls the owning
// subscriber's process() for each ready event.
//
// Example:
//
//   auto manager = EventManager<Counter>::create();          // Result<EventManager<Counter>>
//   if (!manager) return manager.error();
//   SubscriberId id = manager->add_subscriber(Counter{});    // calls Counter::init()
//   while (running) {
//     auto n = manager->run_with_timeout(100);               // dispatches one batch
//     if (!n) return n.error();
//   }
//   Counter done = manager->remove_subscriber(id).value();
//
// Not thread-safe: one thread at a time drives a manager (it may move between
// threads); other threads use remote_endpoint(). Costs: dispatch, add(),
// modify() and remove() are O(1) (fds index a flat table); remove_subscriber()
// is O(fds of that subscriber); run() allocates nothing once warmed up.
#pragma once

#include <sys/epoll.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <memory>
#include <stop_token>

#include "event_manager/detail/core.hpp"
#include "event_manager/error.hpp"
#include "event_manager/event_ops.hpp"
#include "event_manager/remote_endpoint.hpp"
#include "event_manager/subscriber.hpp"
#include "event_manager/subscriber_ops.hpp"

namespace event_manager {

/// The ready-list capacity create() uses by default: at most this many events per run().
inline constexpr std::size_t default_ready_events_capacity = 256;
/// epoll_wait takes the buffer length as an int.
inline constexpr std::size_t max_ready_events_capacity = INT_MAX / sizeof(::epoll_event);

/// The event loop: holds subscribers of type `S`, waits on epoll and calls the
/// owning subscriber's process() for each ready event, timer expiry and
/// injected event, then runs the requests sent through remote_endpoint().
/// Move-only; one thread at a time drives it. The SubscriberOps overrides are
/// documented there.
template <SubscriberHandle S>
class EventManager final : public SubscriberOps<S> {
 public:
  /// Opens the epoll fd and the remote endpoint's wake-up eventfd (close-on-exec).
  /// `ready_events_capacity` bounds the events one run() dispatches.
  /// Errors: InvalidCapacity for 0 or above max_ready_events_capacity; the errno
  /// of epoll_create1 or eventfd (then nothing stays open).
  [[nodiscard]] static Result<EventManager> create(std::size_t ready_events_capacity = default_ready_events_capacity);

  /// Takes `other`'s state; `other` may then only be destroyed or assigned to.
  EventManager(EventManager&&) noexcept = default;
  /// Takes `other`'s state, then destroys the one this manager held (as the destructor does; unique_ptr::reset order).
  EventManager& operator=(EventManager&&) noexcept = default;
  /// Disconnects the endpoints, destroys the subscribers (their EventOps still
  /// work in their destructors), then closes the manager's fds.
  ~EventManager() = default;

  /// Waits until events arrive, dispatches them, then runs queued remote
  /// requests. Returns how many events epoll reported (the endpoint's wake-up
  /// included), 0 when interrupted by a signal. Errors: Reentrant when called
  /// from a callback or request of this manager; the epoll_wait errno.
  [[nodiscard]] Result<std::size_t> run() { return run_with_timeout(-1); }
  /// As run(), waiting at most `milliseconds` (-1 forever, 0 poll).
  [[nodiscard]] Result<std::size_t> run_with_timeout(int milliseconds);
  /// As run(), waiting at most `timeout` (<= 0 polls, nanoseconds::max()
  /// forever), to the nanosecond with epoll_pwait2; where the kernel refuses
  /// it (ENOSYS, EPERM), from then on with epoll_wait and the timeout rounded
  /// up to whole milliseconds. Returns before `timeout` only for an event, a
  /// kick or a signal (the kernel may add its timer slack).
  [[nodiscard]] Result<std::size_t> run_with_timeout(std::chrono::nanoseconds timeout);
  /// Runs batches until `duration` has elapsed (at least one poll); the sum of
  /// their counts. A kick() ends only the current batch. Errors as run().
  [[nodiscard]] Result<std::size_t> run_for(TimerClock::duration duration);
  /// As run_for(), until `deadline` has passed.
  [[nodiscard]] Result<std::size_t> run_until(TimerClock::time_point deadline);
#if defined(__cpp_lib_jthread)
  /// Runs batches until `stop` is requested. Already requested: returns at once
  /// without polling. A request from another thread kicks the loop (and may
  /// leave one kick pending); one from a callback makes no syscall and ends
  /// the loop after that batch. The first error of a batch; Reentrant.
  [[nodiscard]] Result<void> run(std::stop_token stop);
#endif
  /// Calls f(SubscriberId, S&) for every subscriber, in the order they were
  /// added. `f` must not add or remove subscribers.
  template <class F>
  void for_each_subscriber(F&& f);
  /// Calls f(SubscriberId, const S&) for every subscriber, in the order added.
  template <class F>
  void for_each_subscriber(F&& f) const;

  /// A handle for other threads; cannot fail.
  RemoteEndpoint<S> remote_endpoint() { return RemoteEndpoint<S>(core_->channel()); }
  /// Readable whenever a run() would not block: a ready fd, a pending
  /// injection or an owed request. Lets a manager be nested in another loop.
  int epoll_fd() const noexcept { return core_->epoll_fd(); }

  SubscriberId add_subscriber(S subscriber) override;
  [[nodiscard]] Result<S> remove_subscriber(SubscriberId id) override;
  S* subscriber_mut(SubscriberId id) override { return static_cast<S*>(core_->find_subscriber(id)); }
  [[nodiscard]] Result<EventOps> event_ops(SubscriberId id) override;
  [[nodiscard]] Result<void> pause(SubscriberId id) override { return core_->pause(id); }
  [[nodiscard]] Result<void> resume(SubscriberId id) override { return core_->resume(id); }
  [[nodiscard]] Result<bool> paused(SubscriberId id) const override { return core_->paused(id); }
  std::size_t subscriber_count() const noexcept override { return core_->subscriber_count(); }

 private:
  friend struct detail::TestAccess;
  explicit EventManager(std::unique_ptr<detail::Core> core) noexcept : core_(std::move(core)) {}
  static void destroy(void* object) noexcept { delete static_cast<S*>(object); }
  static void process(void* target, Events events, EventOps& ops) {
    static_cast<detail::subscriber_target_t<S>*>(target)->process(events, ops);
  }
  /// One batch: injections, the wait (`wait(core)`), the kernel's events, requests.
  template <class Wait>
  Result<std::size_t> run_once(Wait wait);

  // The state lives on the heap so that EventOps handles and subscriber_mut()
  // pointers survive moves of the manager.
  std::unique_ptr<detail::Core> core_;
};

}  // namespace event_manager

#include "event_manager/detail/manager_impl.hpp"
