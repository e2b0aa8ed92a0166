// guest.hpp — a guest: its devices' manager, nested in the host loop.
#pragma once

#include <stdexcept>
#include <system_error>
#include <utility>

#include "common.hpp"

namespace device_host {

/// The host loop's subscriber for one guest. It registers the guest manager's
/// epoll_fd(), which is readable whenever the guest has work (a ready device
/// fd, a due device timer), and runs one guest batch per event. Pausing this
/// one subscriber in the host pauses every device of the guest: their fds and
/// timers keep their state and are all reported after resume().
class Guest final : public event_manager::MutEventSubscriber {
 public:
  explicit Guest(GuestManager manager) : manager_(std::move(manager)) {}

  void init(event_manager::EventOps& ops) override {
    if (auto added = ops.add(event_manager::Events(manager_.epoll_fd(), event_manager::EventSet::in)); !added) {
      throw std::system_error(added.error(), "guest: add epoll fd");
    }
  }
  void process(event_manager::Events, event_manager::EventOps&) override {
    ++batches_;
    // Never blocks: the epoll fd said there is work. One batch per host event
    // keeps the host loop fair to its other subscribers.
    auto ran = manager_.run_with_timeout(0);
    if (!ran) throw std::system_error(ran.error(), "guest: run");
  }

  /// Loop thread only (from the host's callbacks or control requests).
  GuestManager& manager() noexcept { return manager_; }
  std::uint64_t batches() const noexcept { return batches_; }

 private:
  GuestManager manager_;
  std::uint64_t batches_ = 0;
};

}  // namespace device_host
