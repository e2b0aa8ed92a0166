// The remote-request queue.
//
// Wake-ups are coalesced: the eventfd is written only when no write is
// outstanding (wake_pending_), and the loop re-arms that flag when it takes
// the queue. Both happen under mutex_, so a request is either taken by the
// drain in progress or followed by a fresh write that wakes the next run().
// send() writes the eventfd after releasing the mutex: a write under it wakes
// the loop, which on a shared CPU may run at once and then block on that very
// mutex in take_all() (measured: ~0.45 extra context switches per
// call_blocking() on one CPU). The descriptor stays safe to write: a sender
// registers in writers_ under the mutex while connected_, and disconnect(),
// which the manager calls before it closes the eventfd, blocks until writers_
// drains, so a late sender never writes into a closed and reused number.
// kick() is rare and keeps its write under the mutex.
#include "event_manager/detail/channel.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "sys.hpp"

namespace event_manager::detail {

void broken_semaphore(int error) noexcept {
  std::fprintf(stderr, "event_manager: call_blocking(): sem_wait failed: %s\n", std::strerror(error));
  std::abort();
}

Result<void> Channel::wake_locked() {
  if (wake_pending_) return {};
  if (auto written = sys::write_u64(wake_fd_, 1); !written) return written;
  wake_pending_ = true;
  return {};
}

Result<void> Channel::send(TaskPtr task) {
  Task* const sent = task.get();
  std::uint64_t emptied = 0;
  {
    std::lock_guard lock(mutex_);
    if (!connected_) return std::unexpected(make_error_code(Error::ChannelSend));
    queue_.push_back(std::move(task));  // may throw std::bad_alloc: nothing queued
    if (wake_pending_) return {};       // the outstanding write wakes the loop for this one too
    wake_pending_ = true;
    emptied = emptied_;
    writers_.fetch_add(1, std::memory_order_relaxed);
  }
  const Result<void> written = sys::write_u64(wake_fd_, 1);
  // Done with the fd. The last writer out wakes a disconnect() waiting for it;
  // notify_all() makes no syscall while nobody waits.
  if (writers_.fetch_sub(1, std::memory_order_release) == 1) writers_.notify_all();
  if (written) return {};
  return unsend(sent, emptied, written.error());
}

Result<void> Channel::unsend(Task* sent, std::uint64_t emptied, std::error_code error) {
  TaskPtr refused;  // dropped after the mutex is released: drop() may run user code
  {
    std::lock_guard lock(mutex_);
    // Emptied since our push: the loop took the request (a run() that owed a
    // wake-up drains without one) and will run it, or disconnect() dropped it
    // as it drops every queued request. Either way it was queued: success.
    if (emptied_ != emptied) return {};
    const auto found =
        std::find_if(queue_.rbegin(), queue_.rend(), [sent](const TaskPtr& queued) { return queued.get() == sent; });
    assert(found != queue_.rend());  // nothing emptied the queue since the push
    refused = std::move(*found);
    queue_.erase(std::next(found).base());
    // No take_all() since our push, so the pending flag is still ours. Requests
    // queued behind ours relied on our write: try once more for them.
    wake_pending_ = false;
    if (connected_ && !queue_.empty()) (void)wake_locked();
  }
  return std::unexpected(error);  // not queued after all: the caller gets the error instead
}

Result<void> Channel::kick() {
  std::lock_guard lock(mutex_);
  if (!connected_) return std::unexpected(make_error_code(Error::ChannelSend));
  return wake_locked();
}

bool Channel::wake_outstanding() {
  std::lock_guard lock(mutex_);
  return wake_pending_;
}

void Channel::take_all(std::vector<TaskPtr>& out) {
  std::lock_guard lock(mutex_);
  if (out.empty()) {
    out.swap(queue_);  // the common case: both vectors keep their capacity
  } else {
    // Leftovers of a request that threw run first. Reserve before anything
    // changes, so that a std::bad_alloc leaves both queues and the flags whole.
    out.reserve(out.size() + queue_.size());
    for (auto& task : queue_) out.push_back(std::move(task));
    queue_.clear();
  }
  wake_pending_ = false;
  ++emptied_;
}

void Channel::disconnect() noexcept {
  std::vector<TaskPtr> dropped;
  {
    std::lock_guard lock(mutex_);
    connected_ = false;
    ++emptied_;
    dropped.swap(queue_);
  }
  // A sender may still be writing the eventfd outside the mutex; the manager
  // closes it once this returns. No new writer can start (connected_ is
  // false), so the count only falls, and the one that brings it to 0 notifies.
  // Block rather than spin: a destroyer at real-time priority spinning with
  // yield() never lets a normal-priority sender on the same CPU finish.
  for (int writing = writers_.load(std::memory_order_acquire); writing != 0;
       writing = writers_.load(std::memory_order_acquire)) {
    writers_.wait(writing, std::memory_order_acquire);
  }
  // Destroyed outside the lock: a dropped call_blocking() request releases its
  // waiter (ChannelRecv) and fired closures are destroyed without running.
}

}  // namespace event_manager::detail
