// detail/task.hpp — the type-erased, move-only request a RemoteEndpoint queues.
//
// Not API. A request is one heap object (the closure and what it needs to
// answer) behind std::unique_ptr<Task>: that single allocation is the whole
// cost of type erasure, and the queue moves only the pointer. We do not use
// std::move_only_function because libc++ lacks it.
#pragma once

#include <memory>

namespace event_manager::detail {

class Task {
 public:
  virtual ~Task() = default;
  /// Runs the request on the loop thread; `subscriber_ops` is the manager's
  /// SubscriberOps<S>*. Called at most once. A task destroyed without being
  /// run must release whoever waits for it.
  virtual void run(void* subscriber_ops) = 0;
};

using TaskPtr = std::unique_ptr<Task>;

}  // namespace event_manager::detail
