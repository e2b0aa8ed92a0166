// test_access.hpp — the tests' key to internals that no API exposes.
//
// detail::TestAccess is declared (not defined) by the library and befriended by
// the classes whose internals a test must reach; only the tests define it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include <event_manager/event_manager.hpp>

namespace event_manager::detail {

struct TestAccess {
  template <class S>
  static Core& core(EventManager<S>& manager) {
    return *manager.core_;
  }
  /// An id with any value: a forged one, for the checks that refuse it.
  static SubscriberId make_id(std::uint64_t value) { return Core::make_id(value); }
  /// The next registration of `fd` gets the generation that follows `last`.
  static void force_generation(Core& core, int fd, std::uint32_t last) { core.force_generation(fd, last); }

  /// A timer id with any value: a forged one, for the checks that refuse it.
  static TimerId make_timer_id(std::uint64_t value) { return std::bit_cast<TimerId>(value); }
  // The timer internals below need src/timers.hpp, which only tests with src/
  // on their include path see; as templates (Timers is complete only there)
  // they cost the other tests nothing.
  /// The manager's live timers (armed or not), over all subscribers.
  template <class S, class Timers = Core::Timers>
  static std::size_t live_timers(EventManager<S>& manager) {
    const Timers* timers = manager.core_->timers_.get();
    return timers == nullptr ? 0 : timers->heap.size();
  }
  /// The manager's timerfd, or -1 before the first add_timer().
  template <class S, class Timers = Core::Timers>
  static int timer_fd(EventManager<S>& manager) {
    const Timers* timers = manager.core_->timers_.get();
    return timers == nullptr ? -1 : timers->fd;
  }
};

}  // namespace event_manager::detail
