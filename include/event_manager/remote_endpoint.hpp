// remote_endpoint.hpp — RemoteEndpoint<S>: drive a manager from other threads.
//
// Example:
//
//   auto manager = EventManager<Painter>::create().value();
//   RemoteEndpoint<Painter> endpoint = manager.remote_endpoint();
//   std::atomic<bool> stop{false};
//   std::thread loop([&, m = std::move(manager)]() mutable {
//     while (!stop) (void)m.run();
//   });
//   SubscriberId id = endpoint.call_blocking([](SubscriberOps<Painter>& ops) {
//     return ops.add_subscriber(Painter{});
//   }).value();
//   (void)endpoint.fire([id](SubscriberOps<Painter>& ops) { ops.subscriber_mut(id)->paint(); });
//   stop = true;
//   (void)endpoint.kick();                          // the loop sees `stop` at once
//   loop.join();
//
// Requests run on the loop thread inside run(), in the order each thread sent
// them, after the subscriber events of the batch in which the wake-up arrived.
// Endpoints are copyable, every member is thread-safe, and they may outlive
// the manager: calls then return Error::ChannelSend. Nothing hangs. A
// moved-from endpoint is connected to nothing: its calls return ChannelSend
// too, until a live endpoint is assigned to it.
#pragma once

#include <semaphore.h>

#include <cerrno>
#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "event_manager/detail/channel.hpp"
#include "event_manager/detail/task.hpp"
#include "event_manager/error.hpp"
#include "event_manager/event_ops.hpp"
#include "event_manager/subscriber_ops.hpp"

namespace event_manager {

namespace detail {

template <class R>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};

template <class R>
struct call_result {
  using type = Result<R>;
};
template <>
struct call_result<void> {
  using type = Result<void>;
};
template <class T>
struct call_result<Result<T>> {
  using type = Result<T>;
};

/// True for EventOps and Result<EventOps>: loop-thread handles that must not
/// travel to the calling thread.
template <class R>
inline constexpr bool hands_out_event_ops =
    std::is_same_v<std::remove_cvref_t<R>, EventOps> || std::is_same_v<std::remove_cvref_t<R>, Result<EventOps>>;

/// Where a call_blocking() caller waits for its answer. Lives on the caller's stack.
///
/// A POSIX semaphore, not a mutex and condition variable: sem_post() is the
/// loop thread's last access, and POSIX lets the waiter destroy the semaphore
/// as soon as sem_wait() returns, so the loop never holds anything the woken
/// caller must wait for. (With a condition variable notified under its mutex,
/// the woken caller blocks again on that mutex: on one CPU that costs two extra
/// context switches per call.) sem_post()/sem_wait() order the result's writes
/// before its reads.
template <class Out>
class Completion {
 public:
  Completion() noexcept { (void)::sem_init(&done_, 0, 0); }  // fails only for a value above SEM_VALUE_MAX
  ~Completion() { (void)::sem_destroy(&done_); }
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  /// Blocks until the request ran or was dropped; rethrows the closure's exception.
  Out wait() {
    while (::sem_wait(&done_) != 0) {
      // EINTR: a signal handler ran; keep waiting. Any other error (EINVAL: not
      // a valid semaphore) breaks this class's invariant, and neither way on is
      // safe: the loop still holds a pointer to the request in the caller's
      // frame, so returning would let it write into a dead frame later, and
      // retrying would spin forever. Stop the program where the fault shows.
      if (errno != EINTR) broken_semaphore(errno);
    }
    if (exception_) std::rethrow_exception(exception_);
    if (!result_) return std::unexpected(make_error_code(Error::ChannelRecv));
    return std::move(*result_);
  }
  /// Loop thread. After this returns the caller may destroy *this at any time.
  void finish(std::optional<Out> result, std::exception_ptr exception) noexcept {
    result_ = std::move(result);
    exception_ = std::move(exception);
    (void)::sem_post(&done_);  // the last access to *this
  }

 private:
  sem_t done_;
  std::optional<Out> result_;
  std::exception_ptr exception_;
};

/// A call_blocking() request. Lives in the caller's frame next to its
/// Completion; finish() is the loop thread's last access to either. The closure
/// is destroyed before its caller is released, on both paths: its captures may
/// refer to the caller's stack, which is gone once wait() returns.
template <class S, class F, class Out>
class CallTask final : public Task {
 public:
  CallTask(F&& f, Completion<Out>& completion) : f_(std::in_place, std::move(f)), completion_(&completion) {}
  CallTask(const F& f, Completion<Out>& completion) : f_(std::in_place, f), completion_(&completion) {}

  void run(void* subscriber_ops) override {
    auto& ops = *static_cast<SubscriberOps<S>*>(subscriber_ops);
    std::optional<Out> result;
    std::exception_ptr exception;
    try {
      using R = std::invoke_result_t<F&, SubscriberOps<S>&>;
      if constexpr (std::is_void_v<R>) {
        std::invoke(*f_, ops);
        result.emplace();
      } else {
        result.emplace(std::invoke(*f_, ops));
      }
    } catch (...) {
      exception = std::current_exception();
    }
    f_.reset();  // the closure is gone before its caller resumes
    completion_->finish(std::move(result), std::move(exception));
  }
  void drop() noexcept override {
    f_.reset();
    completion_->finish(std::nullopt, nullptr);  // ChannelRecv (or the send error)
  }

 private:
  std::optional<F> f_;  // engaged until the closure has run or is dropped
  Completion<Out>* completion_;
};

/// A fire() request: the one heap allocation a request costs.
template <class S, class F>
class FireTask final : public Task {
 public:
  explicit FireTask(F&& f) : f_(std::move(f)) {}
  explicit FireTask(const F& f) : f_(f) {}

  void run(void* subscriber_ops) override {
    std::unique_ptr<FireTask> self(this);  // deleted after the closure, also if it throws
    std::invoke(f_, *static_cast<SubscriberOps<S>*>(subscriber_ops));
  }
  void drop() noexcept override { delete this; }

 private:
  F f_;
};

}  // namespace detail

/// R = `std::invoke_result_t<F&, SubscriberOps<S>&>`: Result<T> if R is Result<T>;
/// Result<void> if R is void; Result<R> otherwise.
template <class F, class S>
using call_result_t = typename detail::call_result<std::invoke_result_t<F&, SubscriberOps<S>&>>::type;

/// A thread-safe, copyable handle for sending requests to one manager.
template <SubscriberHandle S>
class RemoteEndpoint {
 public:
  /// Copies share the manager's request channel.
  RemoteEndpoint(const RemoteEndpoint&) noexcept = default;
  /// Moves the handle to the request channel.
  RemoteEndpoint(RemoteEndpoint&&) noexcept = default;
  /// Shares `other`'s request channel.
  RemoteEndpoint& operator=(const RemoteEndpoint&) noexcept = default;
  /// Takes `other`'s request channel.
  RemoteEndpoint& operator=(RemoteEndpoint&&) noexcept = default;

  /// Runs `f(SubscriberOps<S>&)` on the loop thread during run() and returns its
  /// result (a Result<T> is passed through as it is). An exception thrown by
  /// `f` is rethrown here; the loop carries on. Errors: WouldDeadlock at once
  /// on the thread inside run() of this manager; ChannelSend if the manager is
  /// gone or this endpoint was moved from; ChannelRecv if the manager goes away
  /// before running `f`. Still deadlocks when
  /// called from a thread that will drive the manager but is not in run() yet,
  /// from a thread the loop waits on, or while holding lock() of a
  /// Synchronized subscriber of this manager.
  template <class F>
    requires std::invocable<std::decay_t<F>&, SubscriberOps<S>&> && std::move_constructible<std::decay_t<F>> &&
             (!detail::hands_out_event_ops<std::invoke_result_t<std::decay_t<F>&, SubscriberOps<S>&>>)
  [[nodiscard]] call_result_t<std::decay_t<F>, S> call_blocking(F&& f) const {
    using Fn = std::decay_t<F>;
    using Out = call_result_t<Fn, S>;
    if (!channel_) return std::unexpected(make_error_code(Error::ChannelSend));  // moved from
    if (channel_->is_loop_thread()) return std::unexpected(make_error_code(Error::WouldDeadlock));
    // The request lives here, not on the heap: this frame waits until the loop
    // has run or dropped it (a failed send drops it before returning).
    detail::Completion<Out> completion;
    detail::CallTask<S, Fn, Out> task(std::forward<F>(f), completion);
    if (auto sent = channel_->send(detail::TaskPtr(&task)); !sent) return std::unexpected(sent.error());
    return completion.wait();
  }

  /// Queues `f` without waiting; works from any thread, including inside
  /// process() on the loop thread. An exception thrown by `f` leaves run().
  /// Errors: ChannelSend if the manager is gone (f is destroyed unrun) or this
  /// endpoint was moved from (f is not run).
  template <class F>
    requires std::invocable<std::decay_t<F>&, SubscriberOps<S>&> && std::move_constructible<std::decay_t<F>> &&
             std::is_void_v<std::invoke_result_t<std::decay_t<F>&, SubscriberOps<S>&>>
  [[nodiscard]] Result<void> fire(F&& f) const {
    if (!channel_) return std::unexpected(make_error_code(Error::ChannelSend));  // moved from
    return channel_->send(detail::TaskPtr(new detail::FireTask<S, std::decay_t<F>>(std::forward<F>(f))));
  }

  /// The run() in progress returns; if none is blocked, the next run() returns
  /// at once. Kicks may be coalesced. ChannelSend if the manager is gone or
  /// this endpoint was moved from.
  [[nodiscard]] Result<void> kick() const {
    if (!channel_) return std::unexpected(make_error_code(Error::ChannelSend));  // moved from
    return channel_->kick();
  }

 private:
  template <SubscriberHandle>
  friend class EventManager;
  explicit RemoteEndpoint(std::shared_ptr<detail::Channel> channel) noexcept : channel_(std::move(channel)) {}

  std::shared_ptr<detail::Channel> channel_;  // null once moved from
};

}  // namespace event_manager
