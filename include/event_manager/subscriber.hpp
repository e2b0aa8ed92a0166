// subscriber.hpp — what a manager can hold: the Subscriber concept, the
// dynamic interfaces and Synchronized<T>.
//
// Example:
//
//   struct Counter {                               // static dispatch, held by value
//     EventFd fd = EventFd::create().value();
//     std::uint64_t count = 0;
//     void init(EventOps& ops) { ops.add(Events(fd, EventSet::in)).value(); }
//     void process(Events, EventOps&) { count += fd.read().value_or(0); }
//   };
//   EventManager<Counter> a = EventManager<Counter>::create().value();
//
//   // Dynamic dispatch over shared, mutex-guarded devices of different types:
//   EventManager<std::shared_ptr<EventSubscriber>> b = ...;
//   auto dev = std::make_shared<Synchronized<Counter>>();
//   b.add_subscriber(dev);
//   std::uint64_t n = dev->lock()->count;          // from any thread
//
// init() is called once by add_subscriber() and registers fds; process() is
// called for every ready event of the subscriber's fds.
#pragma once

#include <concepts>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

#include "event_manager/event_ops.hpp"
#include "event_manager/events.hpp"

namespace event_manager {

/// A type with init(EventOps&) and process(Events, EventOps&).
template <class T>
concept Subscriber = requires(T& t, EventOps& ops, Events ev) {
  t.init(ops);
  t.process(ev, ops);
};

/// What a manager stores: a Subscriber by value, or a pointer-like handle to one
/// (std::unique_ptr<T>, std::shared_ptr<T>, T*).
template <class S>
concept SubscriberHandle =
    std::move_constructible<S> && std::destructible<S> &&
    (Subscriber<S> || requires(S& s) { requires Subscriber<std::remove_reference_t<decltype(*s)>>; });

/// Dynamic interface for mutable state owned by one manager.
class MutEventSubscriber {
 public:
  virtual ~MutEventSubscriber() = default;
  /// Called once by add_subscriber(): register the fds and timers.
  virtual void init(EventOps& ops) = 0;
  /// Called for each ready event, timer expiry or injected event of this subscriber.
  virtual void process(Events events, EventOps& ops) = 0;
};

/// Dynamic interface with const methods, for types with their own synchronization.
class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  /// Called once by add_subscriber(): register the fds and timers.
  virtual void init(EventOps& ops) const = 0;
  /// Called for each ready event, timer expiry or injected event of this subscriber.
  virtual void process(Events events, EventOps& ops) const = 0;
};

/// A T guarded by a std::mutex: init()/process() lock it and forward to T.
/// Other threads reach T through lock(). Never hold lock() while calling
/// RemoteEndpoint::call_blocking() of the manager that holds this subscriber.
template <class T>
class Synchronized final : public EventSubscriber {
 public:
  /// Holds the mutex for its lifetime; operator-> and operator* give T&.
  class Guard {
   public:
    /// The guarded T.
    T* operator->() const noexcept { return value_; }
    /// The guarded T.
    T& operator*() const noexcept { return *value_; }

   private:
    friend class Synchronized;
    Guard(std::mutex& m, T& value) : lock_(m), value_(&value) {}
    std::unique_lock<std::mutex> lock_;
    T* value_;
  };

  /// Builds T in place from `args`.
  template <class... Args>
  explicit Synchronized(Args&&... args) : value_(std::forward<Args>(args)...) {}

  /// Locks the mutex; the Guard gives access to T until it is destroyed.
  Guard lock() const { return Guard(mutex_, value_); }
  /// Locks the mutex and calls T::init().
  void init(EventOps& ops) const override { lock()->init(ops); }
  /// Locks the mutex and calls T::process().
  void process(Events events, EventOps& ops) const override { lock()->process(events, ops); }

 private:
  mutable std::mutex mutex_;
  mutable T value_;
};

namespace detail {

/// The object whose init()/process() a manager of S calls: S itself, or *s.
template <class S>
decltype(auto) subscriber_target(S& s) noexcept {
  if constexpr (Subscriber<S>) {
    return (s);
  } else {
    return (*s);
  }
}

template <class S>
using subscriber_target_t = std::remove_reference_t<decltype(subscriber_target(std::declval<S&>()))>;

}  // namespace detail
}  // namespace event_manager
