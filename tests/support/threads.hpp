// What the kernel says about this process's threads: which exist, and whether
// one is asleep waiting for a lock. Tests use it to know, without guessing
// with a sleep, that another thread is blocked inside a lock() call.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "support/waits.hpp"

namespace event_manager::test {

/// The calling thread's kernel id (what /proc/self/task lists).
pid_t current_thread_id();

/// The threads of this process, by kernel id, with their names (/proc/self/task/<id>/comm).
/// A thread that has begun to exit (and so may already be joined) is left out.
std::map<pid_t, std::string> threads();

/// True when thread `tid` of this process is asleep in the futex system call,
/// which is where a thread blocked on a contended std::mutex waits (read from
/// /proc/self/task/<tid>/syscall, which names the system call a blocked
/// thread is in, and says "running" for one that is not blocked).
bool is_blocked_in_futex(pid_t tid);

/// Waits (at most kHangLimit) until thread `tid` is blocked in futex, or until
/// `gave_up()` holds. Returns true if the thread was seen blocked.
template <class Condition>
bool wait_until_blocked_in_futex(pid_t tid, Condition gave_up) {
  bool blocked = false;
  (void)eventually([&] {
    blocked = is_blocked_in_futex(tid);
    return blocked || gave_up();
  });
  return blocked;
}

}  // namespace event_manager::test
