// detail/task.hpp — the type-erased, move-only request a RemoteEndpoint queues.
//
// Not API. The queue holds requests through TaskPtr and moves only the
// pointer. A fired request is one heap object (the closure); a call_blocking()
// request lives in the caller's stack frame, which waits until the request has
// run or been dropped, so it costs no allocation at all. Each request ends in
// exactly one of run() or drop(), which dispose of it (delete it, or release
// its caller); neither the queue nor the loop touches it afterwards. We do not
// use std::move_only_function because libc++ lacks it.
#pragma once

#include <memory>

namespace event_manager::detail {

class Task {
 public:
  /// Runs the request on the loop thread, then disposes of it, also when it
  /// throws. `subscriber_ops` is the manager's SubscriberOps<S>*.
  virtual void run(void* subscriber_ops) = 0;
  /// Disposes of a request that will not run; releases whoever waits for it.
  virtual void drop() noexcept = 0;

 protected:
  ~Task() = default;  // never deleted through Task*: run() and drop() dispose
};

/// TaskPtr's deleter: a queued request destroyed unrun is dropped.
struct DropTask {
  void operator()(Task* task) const noexcept { task->drop(); }
};

using TaskPtr = std::unique_ptr<Task, DropTask>;

}  // namespace event_manager::detail
