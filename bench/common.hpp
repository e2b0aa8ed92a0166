// bench/common.hpp — small helpers shared by every benchmark and by the
// callgrind driver: fd creation that aborts on failure, CPU pinning and a heap
// byte counter. Benchmarks are not tests: a failing setup aborts loudly.
#pragma once

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <event_manager/event_manager.hpp>

namespace bench {

namespace em = event_manager;

[[noreturn]] inline void die(const char* what) {
  std::perror(what);
  std::abort();
}

inline int check(int rc, const char* what) {
  if (rc < 0) die(what);
  return rc;
}

inline void must(const em::Result<void>& done, const char* what) {
  if (!done) {
    std::fprintf(stderr, "%s: %s\n", what, done.error().message().c_str());
    std::abort();
  }
}

template <class S>
em::EventManager<S> create_manager(std::size_t capacity = em::default_ready_events_capacity) {
  auto created = em::EventManager<S>::create(capacity);
  if (!created) die("EventManager::create");
  return std::move(*created);
}

/// A level-triggered source that stays readable for ever: its counter is
/// written once and never read, so every run() reports it again.
inline int make_eventfd(bool triggered) {
  return check(::eventfd(triggered ? 1u : 0u, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
}

/// "Every stride-th of n is triggered": stride 1 triggers all, 23 gives 9 of 200.
inline bool is_triggered(int index, int stride) { return index % stride == 0; }

/// Owns raw fds; closes them on destruction. Declare it before the loop that
/// watches them, so the loop is torn down (and unregisters) first.
class Fds {
 public:
  Fds() = default;
  Fds(const Fds&) = delete;
  Fds& operator=(const Fds&) = delete;
  ~Fds() {
    for (int fd : fds_) ::close(fd);
  }
  int add(int fd) {
    fds_.push_back(fd);
    return fd;
  }

 private:
  std::vector<int> fds_;
};

/// Pins the calling thread to one CPU (cpu < 0: to every CPU again).
inline void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else {
    const long count = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < count && i < CPU_SETSIZE; ++i) CPU_SET(static_cast<int>(i), &set);
  }
  if (int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); rc != 0) {
    std::fprintf(stderr, "pthread_setaffinity_np(%d) failed: %d\n", cpu, rc);
    std::abort();
  }
}

/// Bytes the heap has handed out (malloc and operator new alike, chunk
/// overhead included, large mmap()ed blocks too): measures C and C++
/// libraries the same way.
inline std::size_t heap_bytes() {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

}  // namespace bench
