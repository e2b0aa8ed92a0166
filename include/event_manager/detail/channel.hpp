// detail/channel.hpp — the request queue shared by a manager and its endpoints.
//
// Not API. Endpoints hold it through std::shared_ptr, so it outlives the
// manager; the manager disconnects it before it destroys anything else.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "event_manager/detail/task.hpp"
#include "event_manager/error.hpp"

namespace event_manager::detail {

/// Reports a failed sem_wait() of a call_blocking() caller (`error` is its
/// errno, not EINTR) on stderr and aborts: see Completion::wait().
[[noreturn]] void broken_semaphore(int error) noexcept;

class Channel {
 public:
  explicit Channel(int wake_fd) noexcept : wake_fd_(wake_fd) {}

  /// Queues `task` and wakes the loop. ChannelSend when disconnected (the task
  /// is then destroyed without running); the errno of an eventfd write that
  /// fails (the task is taken back out, so nothing was queued).
  Result<void> send(TaskPtr task);
  /// Makes the current or next epoll_wait of the manager return.
  Result<void> kick();
  /// Loop thread: appends every queued task to `out` (by swapping when `out`
  /// is empty, so that neither side allocates once warmed up) and re-arms the
  /// wake-up, so that a task sent from now on writes the eventfd again. May
  /// throw std::bad_alloc (growing `out`); then nothing changed.
  void take_all(std::vector<TaskPtr>& out);
  /// True while a send() or kick() wrote the eventfd and no take_all() has
  /// run since: the loop owes it a wake-up.
  bool wake_outstanding();
  /// Refuses every later call (ChannelSend) and destroys the queued tasks,
  /// which releases waiting call_blocking() callers with ChannelRecv.
  void disconnect() noexcept;

  /// True on the thread that is inside run() of the manager (WouldDeadlock).
  bool is_loop_thread() const noexcept {
    return loop_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }
  /// Loop thread: marks entry into and exit from run(); returns the previous owner.
  /// Only the loop thread writes, so a load and a store do (no locked exchange).
  std::thread::id set_loop_thread(std::thread::id id) noexcept {
    const std::thread::id previous = loop_thread_.load(std::memory_order_relaxed);
    loop_thread_.store(id, std::memory_order_relaxed);
    return previous;
  }

 private:
  Result<void> wake_locked();
  /// send()'s eventfd write failed: takes `sent` back out of the queue if no
  /// take_all() or disconnect() emptied it since the push (`emptied` was
  /// emptied_ then), and returns the error; else the request was taken (it runs
  /// or is dropped as any queued one) and the send succeeded.
  Result<void> unsend(Task* sent, std::uint64_t emptied, std::error_code error);

  // Constant after construction. The fd belongs to the manager; it is written
  // only by senders counted in writers_ (see channel.cpp), so never after close.
  const int wake_fd_;
  // Written only by the loop thread; read by any thread to compare with its own id.
  std::atomic<std::thread::id> loop_thread_{};
  // Senders writing the eventfd outside mutex_; raised under it while connected_.
  // disconnect() blocks on it (atomic wait) until the last one notifies.
  std::atomic<int> writers_{0};

  // Guarded by mutex_.
  std::mutex mutex_;
  std::vector<TaskPtr> queue_;
  bool connected_ = true;
  bool wake_pending_ = false;  // an eventfd write is outstanding: do not write again
  // How many times take_all() or disconnect() emptied the queue. unsend() uses
  // it rather than the task's address, which a freed task can pass on to a new one.
  std::uint64_t emptied_ = 0;
};

}  // namespace event_manager::detail
