// Helpers to check that fds are not leaked and are close-on-exec. Every test
// is checked for leaked fds by the FdLeakListener (support/fd_leak_listener.hpp);
// these are for checks at a particular moment inside a test.
#pragma once

#include <map>
#include <set>
#include <string>

namespace event_manager::test {

/// The set of fds open in this process (from /proc/self/fd).
std::set<int> open_fds();
/// The fds open in this process, each with what it points to (readlink of
/// /proc/self/fd/<n>, e.g. "anon_inode:[eventfd]" or "/dev/null").
std::map<int, std::string> open_fd_targets();
/// True when `fd` is open and has FD_CLOEXEC set.
bool is_close_on_exec(int fd);

}  // namespace event_manager::test
