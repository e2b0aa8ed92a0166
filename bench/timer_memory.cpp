// Peak heap bytes per timer in the million-timers shape (bench/timers.hpp),
// for event_manager, libev, libuv and the timerfd baseline, measured the same
// way for all: this binary replaces malloc, calloc, realloc, free and the
// aligned allocators (forwarding to glibc's __libc_* functions), so that
// every byte the library or the benchmark asks for (operator new included,
// which calls malloc) is counted as the chunk glibc hands out
// (malloc_usable_size + its 8-byte header). The peak is the largest live total
// seen during construction, start and run, minus the live total before: a
// realloc() that moves a block counts old and new block together, as they
// coexist. The per-timer storage the user allocates (TimerId, ev_timer,
// uv_timer_t, TimerFd) is included. Kernel memory (a timerfd's file and
// epitem) is not.
//
//   event_manager_timer_memory <event_manager|libev|libuv|timerfd>
//
// Prints "<library> <timers> <bytes per timer when all are armed> <peak bytes per timer>".
// Not linked into event_manager_bench: the replaced malloc would tax its timings.
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <optional>

#include "timers.hpp"

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void __libc_free(void* pointer);
}

namespace {

std::atomic<std::int64_t> live_bytes{0};
std::atomic<std::int64_t> peak_bytes{0};

std::int64_t chunk_bytes(void* pointer) noexcept {
  return pointer == nullptr ? 0 : static_cast<std::int64_t>(::malloc_usable_size(pointer) + sizeof(std::size_t));
}

void add_live(std::int64_t bytes) noexcept {
  const std::int64_t now = live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::int64_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void* counted(void* pointer) noexcept {
  add_live(chunk_bytes(pointer));
  return pointer;
}

}  // namespace

extern "C" {
void* malloc(std::size_t size) { return counted(__libc_malloc(size)); }
void* calloc(std::size_t count, std::size_t size) { return counted(__libc_calloc(count, size)); }
void free(void* pointer) {
  live_bytes.fetch_sub(chunk_bytes(pointer), std::memory_order_relaxed);
  __libc_free(pointer);
}
void* realloc(void* pointer, std::size_t size) {
  const std::int64_t old_bytes = chunk_bytes(pointer);
  void* moved = __libc_realloc(pointer, size);
  if (moved == nullptr) {
    if (size == 0) live_bytes.fetch_sub(old_bytes, std::memory_order_relaxed);  // realloc(p, 0) freed p
    return nullptr;
  }
  if (moved != pointer) {
    add_live(chunk_bytes(moved));  // both blocks existed for a moment
    live_bytes.fetch_sub(old_bytes, std::memory_order_relaxed);
  } else {
    add_live(chunk_bytes(moved) - old_bytes);
  }
  return moved;
}
void* memalign(std::size_t alignment, std::size_t size) { return counted(__libc_memalign(alignment, size)); }
void* aligned_alloc(std::size_t alignment, std::size_t size) { return counted(__libc_memalign(alignment, size)); }
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  void* pointer = __libc_memalign(alignment, size);
  if (pointer == nullptr) return ENOMEM;
  *out = counted(pointer);
  return 0;
}
}

namespace {

using namespace bench::timers;

template <class Timers>
void measure(std::size_t n) {
  const std::int64_t before = live_bytes.load();
  peak_bytes.store(before);
  std::int64_t armed = 0;
  {
    std::optional<Timers> timers(std::in_place);
    timers->start_million(n);
    armed = live_bytes.load() - before;
    timers->run_until_fired(n);
    const double per_timer = static_cast<double>(n);
    std::printf("%s %zu %.1f %.1f\n", Timers::name, n, static_cast<double>(armed) / per_timer,
                static_cast<double>(peak_bytes.load() - before) / per_timer);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* library = argc == 2 ? argv[1] : "";
  if (std::strcmp(library, "event_manager") == 0) {
    measure<EmTimers>(million_timers);
  } else if (std::strcmp(library, "libev") == 0) {
    measure<LibevTimers>(million_timers);
  } else if (std::strcmp(library, "libuv") == 0) {
    measure<LibuvTimers>(million_timers);
  } else if (std::strcmp(library, "timerfd") == 0) {
    measure<TimerFdTimers>(million_timerfds);
  } else {
    std::fprintf(stderr, "usage: %s <event_manager|libev|libuv|timerfd>\n", argv[0]);
    return 2;
  }
  return 0;
}
