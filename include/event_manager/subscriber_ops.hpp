// subscriber_ops.hpp — SubscriberOps<S>, the manager's subscriber-facing
// operations, as handed to remote endpoint requests.
//
// Example:
//
//   SubscriberId id = endpoint.call_blocking([](SubscriberOps<Dev>& ops) {
//     return ops.add_subscriber(Dev{});
//   }).value();
#pragma once

#include <cstddef>

#include "event_manager/error.hpp"
#include "event_manager/event_ops.hpp"
#include "event_manager/subscriber.hpp"
#include "event_manager/subscriber_id.hpp"

namespace event_manager {

/// Implemented only by EventManager\<S\>. Loop thread only.
template <SubscriberHandle S>
class SubscriberOps {
 public:
  /// Stores `subscriber`, calls its init() and returns its new id. If init()
  /// throws, the subscriber is not kept, every fd it added is unregistered and
  /// the exception propagates. Fds it adds are first dispatched by a later run.
  virtual SubscriberId add_subscriber(S subscriber) = 0;
  /// Unregisters the subscriber's fds and hands it back. Errors: InvalidId;
  /// Reentrant for a subscriber whose init() or process() is on the stack, at
  /// any depth (A's process() adds B, B's init() removes A: Reentrant).
  /// Its events still pending in the batch being dispatched are dropped.
  [[nodiscard]] virtual Result<S> remove_subscriber(SubscriberId id) = 0;
  /// nullptr if the id is invalid. Valid across add_subscriber() and moves of
  /// the manager, until the subscriber is removed or the manager destroyed or
  /// assigned to. Do not reset, reassign or move from *p: use remove_subscriber().
  virtual S* subscriber_mut(SubscriberId id) = 0;
  /// The EventOps of subscriber `id`; InvalidId if there is none.
  [[nodiscard]] virtual Result<EventOps> event_ops(SubscriberId id) = 0;
  /// Stops all dispatch to `id` (its fds, injections and timers) until
  /// resume(); its events still pending in the batch are dropped, and its fds
  /// cost no CPU meanwhile (each may wake run() at most once). The subscriber
  /// stays registered: add(), modify() and remove() work while it is paused and
  /// take effect for dispatch at resume(). Pausing a paused one changes
  /// nothing. Errors: InvalidId only.
  [[nodiscard]] virtual Result<void> pause(SubscriberId id) = 0;
  /// Re-arms every fd of `id`; the next run() reports every one that is ready,
  /// edge-triggered ones too, so nothing that arrived during the pause is lost.
  /// Re-arms a one-shot fd whose last event did not reach process(). If the
  /// kernel refuses one (closed behind the manager's back), the others are
  /// re-armed all the same, that one stays registered, the subscriber is
  /// resumed, and the first error is returned. Errors: InvalidId, the epoll_ctl errno.
  [[nodiscard]] virtual Result<void> resume(SubscriberId id) = 0;
  /// Whether `id` is paused; InvalidId.
  [[nodiscard]] virtual Result<bool> paused(SubscriberId id) const = 0;
  /// How many subscribers the manager holds.
  virtual std::size_t subscriber_count() const noexcept = 0;

 protected:
  ~SubscriberOps() = default;
};

}  // namespace event_manager
