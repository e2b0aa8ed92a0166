#include "support/fd_checks.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace event_manager::test {
namespace {

/// Calls `visit(fd)` for every open fd but the one that lists them.
template <class Visit>
void for_each_open_fd(Visit visit) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own) visit(fd);
  }
  ::closedir(dir);
}

}  // namespace

std::set<int> open_fds() {
  std::set<int> fds;
  for_each_open_fd([&](int fd) { fds.insert(fd); });
  return fds;
}

std::map<int, std::string> open_fd_targets() {
  std::map<int, std::string> fds;
  for_each_open_fd([&](int fd) {
    char target[4096];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target);
    // A failed readlink (the fd closed meanwhile by another thread) still names the number.
    fds.emplace(fd, n < 0 ? std::string("?") : std::string(target, static_cast<std::size_t>(n)));
  });
  return fds;
}

bool is_close_on_exec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

}  // namespace event_manager::test
