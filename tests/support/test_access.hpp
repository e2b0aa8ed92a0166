// test_access.hpp — the tests' key to internals that no API exposes.
//
// detail::TestAccess is declared (not defined) by the library and befriended by
// the classes whose internals a test must reach; only the tests define it.
#pragma once

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
};

}  // namespace event_manager::detail
