// The remote-request queue.
//
// Wake-ups are coalesced: the eventfd is written only when no write is
// outstanding (wake_pending_), and the loop re-arms that flag when it takes
// the queue. Both happen under mutex_, so a request is either taken by the
// drain in progress or followed by a fresh write that wakes the next run().
// The write itself happens under the mutex too: disconnect() takes the same
// mutex before the manager closes the eventfd, so a late sender can never
// write into a descriptor number that has been closed and reused.
#include "event_manager/detail/channel.hpp"

#include "sys.hpp"

namespace event_manager::detail {

Result<void> Channel::wake_locked() {
  if (wake_pending_) return {};
  if (auto written = sys::write_u64(wake_fd_, 1); !written) return written;
  wake_pending_ = true;
  return {};
}

Result<void> Channel::send(TaskPtr task) {
  std::lock_guard lock(mutex_);
  if (!connected_) return std::unexpected(make_error_code(Error::ChannelSend));
  queue_.push_back(std::move(task));  // may throw std::bad_alloc: nothing queued
  if (auto woken = wake_locked(); !woken) {
    queue_.pop_back();  // not queued after all: the caller gets the error instead
    return woken;
  }
  return {};
}

Result<void> Channel::kick() {
  std::lock_guard lock(mutex_);
  if (!connected_) return std::unexpected(make_error_code(Error::ChannelSend));
  return wake_locked();
}

void Channel::take_all(std::vector<TaskPtr>& out) {
  std::lock_guard lock(mutex_);
  wake_pending_ = false;
  if (out.empty()) {
    out.swap(queue_);  // the common case: both vectors keep their capacity
  } else {
    // Leftovers of a request that threw run first. Reserve before moving, so
    // that a std::bad_alloc leaves both queues whole.
    out.reserve(out.size() + queue_.size());
    for (auto& task : queue_) out.push_back(std::move(task));
    queue_.clear();
  }
}

void Channel::disconnect() noexcept {
  std::vector<TaskPtr> dropped;
  {
    std::lock_guard lock(mutex_);
    connected_ = false;
    dropped.swap(queue_);
  }
  // Destroyed outside the lock: a dropped call_blocking() request releases its
  // waiter (ChannelRecv) and fired closures are destroyed without running.
}

}  // namespace event_manager::detail
