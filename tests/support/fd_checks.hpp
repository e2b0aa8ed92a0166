// Helpers to check that fds are not leaked and are close-on-exec.
#pragma once

#include <set>

namespace event_manager::test {

/// The set of fds open in this process (from /proc/self/fd).
std::set<int> open_fds();
/// True when `fd` is open and has FD_CLOEXEC set.
bool is_close_on_exec(int fd);

}  // namespace event_manager::test
