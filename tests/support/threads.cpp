#include "support/threads.hpp"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace event_manager::test {
namespace {

// From include/linux/sched.h: set at the start of a thread's exit, before the
// kernel wakes pthread_join(); the thread is listed a moment longer.
constexpr unsigned long kPfExiting = 0x00000004;

/// True when thread `tid` is gone or on its way out (PF_EXITING in the flags,
/// field 9 of /proc/self/task/<tid>/stat).
bool is_gone_or_exiting(const std::string& tid) {
  std::ifstream stat_file("/proc/self/task/" + tid + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return true;
  // Fields 3 and on follow the name in parentheses, which may itself hold spaces.
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) return true;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string skipped;
  for (int field = 3; field < 9; ++field) fields >> skipped;  // state, ppid, pgrp, session, tty_nr, tpgid
  unsigned long flags = 0;
  if (!(fields >> flags)) return true;
  return (flags & kPfExiting) != 0;
}

}  // namespace

pid_t current_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

std::map<pid_t, std::string> threads() {
  std::map<pid_t, std::string> found;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return found;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (is_gone_or_exiting(entry->d_name)) continue;
    const auto tid = static_cast<pid_t>(std::atoi(entry->d_name));
    std::string name;
    std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
    std::getline(comm, name);  // a thread that has just exited leaves the name empty
    found.emplace(tid, name);
  }
  ::closedir(dir);
  return found;
}

bool is_blocked_in_futex(pid_t tid) {
  std::ifstream syscall_file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string number;
  if (!(syscall_file >> number)) return false;
  return number == std::to_string(SYS_futex);  // "running" (or another number) otherwise
}

}  // namespace event_manager::test
