// bench/loops.hpp — the same "watch these fds, call me when readable" loop
// written for the raw epoll floor, libevent, libev and libuv.
//
// Each loop is a template over a handler H with a `Context` type and a
// `static void on_ready(Context*)`; the library's native callback calls it, so
// the per-event work is identical in every library and in event_manager.
// Every loop is level-triggered, waits with an infinite timeout and
// dispatches one batch per run_once().
#pragma once

// libev first: libevent's <event2/event.h> #defines EV_READ as 0x02, which is
// libev's EV_WRITE, so libev's flag is captured before that header is read.
#include <ev.h>

namespace bench {
inline constexpr int libev_read = EV_READ;
}  // namespace bench

#include <event2/event.h>
#include <sys/epoll.h>
#include <uv.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "common.hpp"

namespace bench {

/// The floor: epoll_wait plus a flat fd-indexed table of function pointers.
template <class H>
class RawEpollLoop {
 public:
  using Context = typename H::Context;
  static constexpr const char* name = "raw_epoll";

  explicit RawEpollLoop(int capacity = 256)
      : epoll_fd_(check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
        capacity_(capacity),
        ready_(new ::epoll_event[static_cast<std::size_t>(capacity)]) {}
  ~RawEpollLoop() { ::close(epoll_fd_); }
  RawEpollLoop(const RawEpollLoop&) = delete;
  RawEpollLoop& operator=(const RawEpollLoop&) = delete;

  void add(int fd, Context* context) { add_with<H>(fd, context); }
  /// Watches `fd` with another handler: the table holds a function pointer per fd.
  template <class Handler>
  void add_with(int fd, typename Handler::Context* context) {
    if (static_cast<std::size_t>(fd) >= table_.size()) table_.resize(static_cast<std::size_t>(fd) + 1);
    table_[static_cast<std::size_t>(fd)] = Entry{&thunk<Handler>, context};
    ::epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint32_t>(fd);
    check(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
  }

  int run_once() {
    const int n = ::epoll_wait(epoll_fd_, ready_.get(), capacity_, -1);
    for (int i = 0; i < n; ++i) {
      const Entry& entry = table_[static_cast<std::uint32_t>(ready_[i].data.u64)];
      entry.fn(entry.context);
    }
    return n;
  }

 private:
  struct Entry {
    void (*fn)(void*);
    void* context;
  };
  template <class Handler>
  static void thunk(void* context) {
    Handler::on_ready(static_cast<typename Handler::Context*>(context));
  }

  int epoll_fd_;
  int capacity_;
  std::unique_ptr<::epoll_event[]> ready_;
  std::vector<Entry> table_;
};

/// libevent 2.1, epoll backend, no locking; one persistent EV_READ event per fd.
template <class H>
class LibeventLoop {
 public:
  using Context = typename H::Context;
  static constexpr const char* name = "libevent";

  LibeventLoop() {
    event_config* config = event_config_new();
    event_config_set_flag(config, EVENT_BASE_FLAG_NOLOCK);
    event_config_avoid_method(config, "select");
    event_config_avoid_method(config, "poll");
    base_ = event_base_new_with_config(config);
    event_config_free(config);
    if (base_ == nullptr || std::strcmp(event_base_get_method(base_), "epoll") != 0) die("libevent epoll base");
  }
  ~LibeventLoop() {
    for (event* ev : events_) event_free(ev);
    event_base_free(base_);
  }
  LibeventLoop(const LibeventLoop&) = delete;
  LibeventLoop& operator=(const LibeventLoop&) = delete;

  void add(int fd, Context* context) {
    event* ev = event_new(base_, fd, EV_READ | EV_PERSIST, &callback, context);
    if (ev == nullptr || event_add(ev, nullptr) != 0) die("event_add");
    events_.push_back(ev);
  }

  int run_once() { return event_base_loop(base_, EVLOOP_ONCE); }

 private:
  static void callback(evutil_socket_t, short, void* context) { H::on_ready(static_cast<Context*>(context)); }

  event_base* base_ = nullptr;
  std::vector<event*> events_;
};

/// libev 4.33, epoll backend; one ev_io watcher per fd.
template <class H>
class LibevLoop {
 public:
  using Context = typename H::Context;
  static constexpr const char* name = "libev";

  LibevLoop() : loop_(ev_loop_new(unsigned{EVBACKEND_EPOLL} | unsigned{EVFLAG_NOENV})) {
    if (loop_ == nullptr) die("ev_loop_new");
  }
  ~LibevLoop() {
    for (ev_io& watcher : watchers_) ev_io_stop(loop_, &watcher);
    ev_loop_destroy(loop_);
  }
  LibevLoop(const LibevLoop&) = delete;
  LibevLoop& operator=(const LibevLoop&) = delete;

  void add(int fd, Context* context) {
    ev_io& watcher = watchers_.emplace_back();
    ev_io_init(&watcher, &callback, fd, libev_read);
    watcher.data = context;
    ev_io_start(loop_, &watcher);
  }

  int run_once() { return ev_run(loop_, EVRUN_ONCE) ? 1 : 0; }

 private:
  static void callback(struct ev_loop*, ev_io* watcher, int) { H::on_ready(static_cast<Context*>(watcher->data)); }

  struct ev_loop* loop_;
  std::deque<ev_io> watchers_;  // stable addresses
};

/// libuv 1.44; one uv_poll_t handle per fd.
template <class H>
class LibuvLoop {
 public:
  using Context = typename H::Context;
  static constexpr const char* name = "libuv";

  LibuvLoop() {
    if (uv_loop_init(&loop_) != 0) die("uv_loop_init");
  }
  ~LibuvLoop() {
    for (uv_poll_t& handle : handles_) {
      uv_poll_stop(&handle);
      uv_close(reinterpret_cast<uv_handle_t*>(&handle), nullptr);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks
    uv_loop_close(&loop_);
  }
  LibuvLoop(const LibuvLoop&) = delete;
  LibuvLoop& operator=(const LibuvLoop&) = delete;

  void add(int fd, Context* context) {
    uv_poll_t& handle = handles_.emplace_back();
    if (uv_poll_init(&loop_, &handle, fd) != 0) die("uv_poll_init");
    handle.data = context;
    if (uv_poll_start(&handle, UV_READABLE, &callback) != 0) die("uv_poll_start");
  }

  int run_once() { return uv_run(&loop_, UV_RUN_ONCE); }

 private:
  static void callback(uv_poll_t* handle, int, int) { H::on_ready(static_cast<Context*>(handle->data)); }

  uv_loop_t loop_;
  std::deque<uv_poll_t> handles_;  // stable addresses
};

/// The trivial per-event work every library does in the dispatch scenarios.
struct Counter {
  std::uint64_t count = 0;
};
struct CountHandler {
  using Context = Counter;
  static void on_ready(Counter* counter) noexcept { ++counter->count; }
};

}  // namespace bench
