// bench/timers.hpp — the timer and pause/resume fixtures (issue 9 item 5,
// issue 10 item 7), shared by timer_bench.cpp (timing), instructions.cpp
// (callgrind counts and strace syscall counts) and timer_memory.cpp (peak heap).
//
// Every shape is written four times: event_manager's timers (one subscriber
// owning all of them, one kernel timer), libev's ev_timer, libuv's uv_timer_t
// and the baseline the issue replaces, one TimerFd per timer registered with
// an event_manager subscriber and armed with timerfd_settime. The shapes:
//
//  million     start n one-shot timers, the timeout 1 ms longer every n/1,000
//              timers (so ~1 s of deadlines; libuv's million_timers benchmark
//              at n = 1,000,000), then run the loop until all fired. The
//              per-timer storage the library asks its user for (TimerId,
//              ev_timer, uv_timer_t, TimerFd) is allocated in start(), as
//              libuv's benchmark does (malloc'ed, first touched while starting).
//  churn       10,000 "connections", each with an idle timeout; every event
//              re-arms one (picked at random) to now + 10 s: libev's
//              ev_timer_again pattern. Outside the loop's run.
//  start_stop  arm + disarm of one timer at a random deadline within a 1 s
//              window an hour ahead, with n others armed at random in the same
//              window (event_manager: arm_timer_at(), see StartStop<EmTimers>).
//  latency     1,000 timers armed at once, deadlines 1 ms apart; each callback
//              records steady_clock now minus the deadline as the library
//              computed it (libev: ev_timer::at; libuv: uv_timer_t::timeout,
//              whole milliseconds of its loop time), on an otherwise idle loop.
//  pause       pause() + resume() of a subscriber with n eventfds; the floor
//              is one EPOLL_CTL_MOD per fd each way.
#pragma once

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "common.hpp"
#include "loops.hpp"

namespace bench::timers {

using namespace std::chrono_literals;
using Clock = em::TimerClock;

inline std::int64_t now_ns() noexcept { return Clock::now().time_since_epoch().count(); }

/// A cheap random source for the timed loops (xorshift64).
struct XorShift {
  std::uint64_t state = 0x9e3779b97f4a7c15;
  std::uint64_t operator()() noexcept {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

inline constexpr std::size_t million_timers = 1'000'000;
/// The timerfd baseline needs one fd per timer; the fd limit here is 20,000.
inline constexpr std::size_t million_timerfds = 10'000;
inline constexpr std::size_t churn_connections = 10'000;
inline constexpr std::size_t latency_timers = 1'000;

/// Timer i of n in the million shape: 1 ms more every n/1,000 timers.
inline std::int64_t million_timeout_ms(std::size_t i, std::size_t n) {
  return static_cast<std::int64_t>(i / (n / 1000) + 1);
}

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "%s failed\n", what);
  std::abort();
}

template <class T>
T must_value(em::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", what, result.error().message().c_str());
    std::abort();
  }
  return std::move(*result);
}

/// Storage that is allocated but not touched (as malloc() gives it).
template <class T>
std::unique_ptr<T[]> uninitialised(std::size_t n) {
  return std::unique_ptr<T[]>(new T[n]);  // default-initialised: trivial types stay untouched
}

// --- event_manager ---------------------------------------------------------------

/// Owns every timer of a scenario; counts expiries.
struct TimerOwner {
  std::size_t fired = 0;
  void init(em::EventOps&) {}
  void process(em::Events, em::EventOps&) { ++fired; }
};

class EmTimers {
 public:
  static constexpr const char* name = "event_manager";

  EmTimers() : manager_(create_manager<TimerOwner>()), id_(manager_.add_subscriber(TimerOwner{})) {}

  em::EventOps ops() { return must_value(manager_.event_ops(id_), "event_ops"); }
  std::size_t fired() { return manager_.subscriber_mut(id_)->fired; }
  void run_once() { (void)must_value(manager_.run(), "run"); }

  // million
  void start_million(std::size_t n) {
    em::EventOps ops = this->ops();
    timers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const em::TimerId timer = must_value(ops.add_timer(static_cast<std::uint32_t>(i)), "add_timer");
      timers_.push_back(timer);
      must(ops.arm_timer(timer, std::chrono::milliseconds(million_timeout_ms(i, n))), "arm_timer");
    }
  }
  void run_until_fired(std::size_t n) {
    while (fired() < n) run_once();
  }

  // churn and start_stop: `count` timers armed at random within [base, base + window).
  void arm_random(std::size_t count, Clock::duration base, Clock::duration window, XorShift& random) {
    em::EventOps ops = this->ops();
    for (std::size_t i = 0; i < count; ++i) {
      const em::TimerId timer = must_value(ops.add_timer(static_cast<std::uint32_t>(i)), "add_timer");
      timers_.push_back(timer);
      must(ops.arm_timer(timer, base + Clock::duration(static_cast<Clock::rep>(random() % window.count()))),
           "arm_timer");
    }
  }
  /// As arm_random(), to absolute deadlines in [base, base + window): the
  /// deadlines (and so the kernel timer updates) do not depend on when each
  /// arm happens.
  void arm_random_at(std::size_t count, Clock::time_point base, Clock::duration window, XorShift& random) {
    em::EventOps ops = this->ops();
    for (std::size_t i = 0; i < count; ++i) {
      const em::TimerId timer = must_value(ops.add_timer(static_cast<std::uint32_t>(i)), "add_timer");
      timers_.push_back(timer);
      must(ops.arm_timer_at(timer, base + Clock::duration(static_cast<Clock::rep>(random() % window.count()))),
           "arm_timer_at");
    }
  }
  em::TimerId timer(std::size_t i) const { return timers_[i]; }

 private:
  em::EventManager<TimerOwner> manager_;
  em::SubscriberId id_;
  std::vector<em::TimerId> timers_;
};

// --- timerfd per timer -------------------------------------------------------------

/// The baseline: every timer is its own TimerFd, registered with its index as data.
struct TimerFdOwner {
  std::vector<em::TimerFd> fds;
  std::size_t fired = 0;
  std::vector<std::int64_t>* lateness = nullptr;  // latency: one entry per expiry
  const std::vector<std::int64_t>* deadlines = nullptr;

  void init(em::EventOps&) {}
  void process(em::Events events, em::EventOps&) {
    const std::int64_t now = lateness != nullptr ? now_ns() : 0;
    (void)fds[events.data()].read();  // a level-triggered timerfd stays readable until read
    ++fired;
    if (lateness != nullptr) lateness->push_back(now - (*deadlines)[events.data()]);
  }
};

class TimerFdTimers {
 public:
  static constexpr const char* name = "timerfd";

  TimerFdTimers() : manager_(create_manager<TimerFdOwner>()), id_(manager_.add_subscriber(TimerFdOwner{})) {}

  TimerFdOwner& owner() { return *manager_.subscriber_mut(id_); }
  void run_once() { (void)must_value(manager_.run(), "run"); }

  /// Opens and registers `count` more timerfds (unarmed).
  void open(std::size_t count) {
    em::EventOps ops = must_value(manager_.event_ops(id_), "event_ops");
    TimerFdOwner& owner = this->owner();
    owner.fds.reserve(owner.fds.size() + count);
    for (std::size_t i = 0; i < count; ++i) {
      em::TimerFd fd = must_value(em::TimerFd::create(), "TimerFd::create");
      const auto data = static_cast<std::uint32_t>(owner.fds.size());
      must(ops.add(em::Events::with_data(fd.fd(), data, em::EventSet::in)), "add");
      owner.fds.push_back(std::move(fd));
    }
  }
  em::TimerFd& fd(std::size_t i) { return owner().fds[i]; }

  void start_million(std::size_t n) {
    open(n);
    for (std::size_t i = 0; i < n; ++i) {
      must(fd(i).arm(std::chrono::milliseconds(million_timeout_ms(i, n))), "TimerFd::arm");
    }
  }
  void run_until_fired(std::size_t n) {
    while (owner().fired < n) run_once();
  }
  void arm_random(std::size_t count, Clock::duration base, Clock::duration window, XorShift& random) {
    const std::size_t first = owner().fds.size();
    open(count);
    for (std::size_t i = first; i < first + count; ++i) {
      must(fd(i).arm(base + Clock::duration(static_cast<Clock::rep>(random() % window.count()))), "TimerFd::arm");
    }
  }

 private:
  em::EventManager<TimerFdOwner> manager_;
  em::SubscriberId id_;
};

// --- libev -------------------------------------------------------------------------

class LibevTimers {
 public:
  static constexpr const char* name = "libev";

  LibevTimers() : loop_(ev_loop_new(unsigned{EVBACKEND_EPOLL} | unsigned{EVFLAG_NOENV})) {
    if (loop_ == nullptr) die("ev_loop_new");
    ev_set_userdata(loop_, this);
  }
  ~LibevTimers() {
    for (std::size_t i = 0; i < count_; ++i) ev_timer_stop(loop_, &timers_[i]);
    ev_loop_destroy(loop_);
  }
  LibevTimers(const LibevTimers&) = delete;
  LibevTimers& operator=(const LibevTimers&) = delete;

  struct ev_loop* loop() { return loop_; }
  std::size_t fired() const { return fired_; }

  void start_million(std::size_t n) {
    timers_ = uninitialised<ev_timer>(n);
    count_ = n;
    for (std::size_t i = 0; i < n; ++i) {
      ev_timer_init(&timers_[i], &on_timer, static_cast<double>(million_timeout_ms(i, n)) * 1e-3, 0.);
      ev_timer_start(loop_, &timers_[i]);
    }
  }
  void run_until_fired(std::size_t) { ev_run(loop_, 0); }  // returns when no watcher is active

  /// `count` timers at random within [base, base + window), with `repeat` (ev_timer_again's timeout).
  void arm_random(std::size_t count, double base, double window, double repeat, XorShift& random) {
    timers_ = uninitialised<ev_timer>(count + 1);  // + 1: start_stop's probe
    count_ = count + 1;
    for (std::size_t i = 0; i < count_; ++i) {
      const double after = base + window * static_cast<double>(random() % 1'000'000) * 1e-6;
      ev_timer_init(&timers_[i], &on_timer, after, repeat);
      if (i < count) ev_timer_start(loop_, &timers_[i]);
    }
  }
  ev_timer& timer(std::size_t i) { return timers_[i]; }

 private:
  static void on_timer(struct ev_loop* loop, ev_timer*, int) { ++static_cast<LibevTimers*>(ev_userdata(loop))->fired_; }

  struct ev_loop* loop_;
  std::unique_ptr<ev_timer[]> timers_;
  std::size_t count_ = 0;
  std::size_t fired_ = 0;
};

// --- libuv -------------------------------------------------------------------------

class LibuvTimers {
 public:
  static constexpr const char* name = "libuv";

  LibuvTimers() {
    if (uv_loop_init(&loop_) != 0) die("uv_loop_init");
    loop_.data = this;
  }
  ~LibuvTimers() {
    for (std::size_t i = 0; i < count_; ++i) uv_close(reinterpret_cast<uv_handle_t*>(&timers_[i]), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks
    uv_loop_close(&loop_);
  }
  LibuvTimers(const LibuvTimers&) = delete;
  LibuvTimers& operator=(const LibuvTimers&) = delete;

  uv_loop_t* loop() { return &loop_; }
  std::size_t fired() const { return fired_; }

  void start_million(std::size_t n) {
    timers_ = uninitialised<uv_timer_t>(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (uv_timer_init(&loop_, &timers_[i]) != 0) fail("uv_timer_init");
      count_ = i + 1;
      if (uv_timer_start(&timers_[i], &on_timer, static_cast<std::uint64_t>(million_timeout_ms(i, n)), 0) != 0) {
        fail("uv_timer_start");
      }
    }
  }
  void run_until_fired(std::size_t) { uv_run(&loop_, UV_RUN_DEFAULT); }  // returns when no timer is active

  /// `count` timers at random within [base, base + window) ms, with `repeat` ms (uv_timer_again's timeout).
  void arm_random(std::size_t count, std::uint64_t base_ms, std::uint64_t window_ms, std::uint64_t repeat_ms,
                  XorShift& random) {
    timers_ = uninitialised<uv_timer_t>(count + 1);  // + 1: start_stop's probe
    for (std::size_t i = 0; i < count + 1; ++i) {
      if (uv_timer_init(&loop_, &timers_[i]) != 0) fail("uv_timer_init");
      count_ = i + 1;
      if (i < count && uv_timer_start(&timers_[i], &on_timer, base_ms + random() % window_ms, repeat_ms) != 0) {
        fail("uv_timer_start");
      }
    }
  }
  uv_timer_t& timer(std::size_t i) { return timers_[i]; }

 private:
  static void on_timer(uv_timer_t* timer) { ++static_cast<LibuvTimers*>(timer->loop->data)->fired_; }

  uv_loop_t loop_;
  std::unique_ptr<uv_timer_t[]> timers_;
  std::size_t count_ = 0;
  std::size_t fired_ = 0;
};

// --- Scenarios shared by the timing, callgrind and strace drivers ----------------------

/// churn: `rearm()` re-arms connection `random() % 10,000` to now + 10 s.
/// libev and libuv take "now" from their loop, which refreshes it once per
/// loop iteration: here once per `churn_batch` events (ev_now_update(),
/// uv_update_time()), as a loop dispatching that many events per wait would.
/// event_manager's arm_timer() reads the clock itself, on every call.
template <class Timers>
class Churn;

inline constexpr unsigned churn_batch = 100;

template <>
class Churn<EmTimers> {
 public:
  static constexpr const char* name = "event_manager";
  Churn() : ops_(timers_.ops()) { timers_.arm_random(churn_connections, 0s, 10s, random_); }
  void rearm() { must(ops_.arm_timer(timers_.timer(random_() % churn_connections), 10s), "arm_timer"); }
  EmTimers& timers() { return timers_; }

 private:
  XorShift random_;
  EmTimers timers_;
  em::EventOps ops_;
};

/// event_manager with the caller keeping "now" as libev's and libuv's loops
/// do (read once per `churn_batch` events): arm_timer_at(now + 10 s). Shows
/// what the clock read inside arm_timer() costs.
class ChurnCachedNow {
 public:
  static constexpr const char* name = "event_manager_at";
  ChurnCachedNow() : ops_(timers_.ops()) { timers_.arm_random(churn_connections, 0s, 10s, random_); }
  void rearm() {
    if (++events_ % churn_batch == 0) now_ = Clock::now();
    must(ops_.arm_timer_at(timers_.timer(random_() % churn_connections), now_ + 10s), "arm_timer_at");
  }

 private:
  XorShift random_;
  EmTimers timers_;
  em::EventOps ops_;
  Clock::time_point now_ = Clock::now();
  unsigned events_ = 0;
};

template <>
class Churn<LibevTimers> {
 public:
  static constexpr const char* name = "libev";
  Churn() { timers_.arm_random(churn_connections, 0., 10., 10., random_); }
  void rearm() {
    if (++events_ % churn_batch == 0) ev_now_update(timers_.loop());
    ev_timer_again(timers_.loop(), &timers_.timer(random_() % churn_connections));
  }

 private:
  XorShift random_;
  LibevTimers timers_;
  unsigned events_ = 0;
};

template <>
class Churn<LibuvTimers> {
 public:
  static constexpr const char* name = "libuv";
  Churn() { timers_.arm_random(churn_connections, 0, 10'000, 10'000, random_); }
  void rearm() {
    if (++events_ % churn_batch == 0) uv_update_time(timers_.loop());
    if (uv_timer_again(&timers_.timer(random_() % churn_connections)) != 0) fail("uv_timer_again");
  }

 private:
  XorShift random_;
  LibuvTimers timers_;
  unsigned events_ = 0;
};

template <>
class Churn<TimerFdTimers> {
 public:
  static constexpr const char* name = "timerfd";
  Churn() { timers_.arm_random(churn_connections, 0s, 10s, random_); }
  void rearm() { must(timers_.fd(random_() % churn_connections).arm(10s), "TimerFd::arm"); }

 private:
  XorShift random_;
  TimerFdTimers timers_;
};

/// start_stop: `others` timers armed at random within [1 h, 1 h + 1 s); each
/// `arm_disarm()` arms one more at random in that window and disarms it.
template <class Timers>
class StartStop;

/// event_manager: deadlines through arm_timer_at() in a window fixed at
/// construction, as libev's and libuv's stay in theirs (their loop time does not
/// move while the loop does not run). With arm_timer() the probe's window would
/// drift later with the clock and the probe would end up after all the others.
template <>
class StartStop<EmTimers> {
 public:
  explicit StartStop(std::size_t others) : ops_(timers_.ops()) {
    timers_.arm_random_at(others + 1, base_, 1s, random_);
    probe_ = timers_.timer(others);
    must(ops_.disarm_timer(probe_), "disarm_timer");
  }
  void arm_disarm() {
    must(ops_.arm_timer_at(probe_, base_ + Clock::duration(static_cast<Clock::rep>(random_() % 1'000'000'000))),
         "arm_timer_at");
    must(ops_.disarm_timer(probe_), "disarm_timer");
  }

 private:
  XorShift random_;
  Clock::time_point base_ = Clock::now() + 1h;
  EmTimers timers_;
  em::EventOps ops_;
  em::TimerId probe_;
};

template <>
class StartStop<LibevTimers> {
 public:
  explicit StartStop(std::size_t others) : probe_(others) { timers_.arm_random(others, 3600., 1., 0., random_); }
  void arm_disarm() {
    ev_timer& probe = timers_.timer(probe_);
    ev_timer_set(&probe, 3600. + static_cast<double>(random_() % 1'000'000) * 1e-6, 0.);
    ev_timer_start(timers_.loop(), &probe);
    ev_timer_stop(timers_.loop(), &probe);
  }

 private:
  XorShift random_;
  LibevTimers timers_;
  std::size_t probe_;
};

template <>
class StartStop<LibuvTimers> {
 public:
  explicit StartStop(std::size_t others) : probe_(others) { timers_.arm_random(others, 3'600'000, 1'000, 0, random_); }
  void arm_disarm() {
    uv_timer_t& probe = timers_.timer(probe_);
    if (uv_timer_start(&probe, &on_timer, 3'600'000 + random_() % 1'000, 0) != 0) fail("uv_timer_start");
    if (uv_timer_stop(&probe) != 0) fail("uv_timer_stop");
  }

 private:
  static void on_timer(uv_timer_t*) {}
  XorShift random_;
  LibuvTimers timers_;
  std::size_t probe_;
};

template <>
class StartStop<TimerFdTimers> {
 public:
  explicit StartStop(std::size_t others) : probe_(others) {
    timers_.arm_random(others, 1h, 1s, random_);
    timers_.open(1);
  }
  void arm_disarm() {
    em::TimerFd& probe = timers_.fd(probe_);
    must(probe.arm(1h + Clock::duration(static_cast<Clock::rep>(random_() % 1'000'000'000))), "TimerFd::arm");
    must(probe.disarm(), "TimerFd::disarm");
  }

 private:
  XorShift random_;
  TimerFdTimers timers_;
  std::size_t probe_;
};

// --- latency -------------------------------------------------------------------------

/// Lateness (callback time minus deadline, ns) of `latency_timers` timers
/// armed at once, deadlines 1 ms apart; sorted.
struct LatencySubscriber {
  const std::vector<std::int64_t>* deadlines;
  std::vector<std::int64_t>* lateness;
  void init(em::EventOps&) {}
  void process(em::Events events, em::EventOps&) { lateness->push_back(now_ns() - (*deadlines)[events.data()]); }
};

inline std::vector<std::int64_t> latency_event_manager() {
  std::vector<std::int64_t> deadlines(latency_timers);
  std::vector<std::int64_t> lateness;
  lateness.reserve(latency_timers);
  auto manager = create_manager<LatencySubscriber>();
  const em::SubscriberId id = manager.add_subscriber(LatencySubscriber{&deadlines, &lateness});
  em::EventOps ops = must_value(manager.event_ops(id), "event_ops");
  std::vector<em::TimerId> timers;
  for (std::size_t i = 0; i < latency_timers; ++i) {
    timers.push_back(must_value(ops.add_timer(static_cast<std::uint32_t>(i)), "add_timer"));
  }
  const Clock::time_point start = Clock::now();
  for (std::size_t i = 0; i < latency_timers; ++i) {
    const Clock::time_point deadline = start + std::chrono::milliseconds(i + 1);
    deadlines[i] = deadline.time_since_epoch().count();
    must(ops.arm_timer_at(timers[i], deadline), "arm_timer_at");
  }
  while (lateness.size() < latency_timers) (void)must_value(manager.run(), "run");
  std::sort(lateness.begin(), lateness.end());
  return lateness;
}

inline std::vector<std::int64_t> latency_timerfd() {
  std::vector<std::int64_t> deadlines(latency_timers);
  std::vector<std::int64_t> lateness;
  lateness.reserve(latency_timers);
  TimerFdTimers timers;
  timers.open(latency_timers);
  timers.owner().deadlines = &deadlines;
  timers.owner().lateness = &lateness;
  const Clock::time_point start = Clock::now();
  for (std::size_t i = 0; i < latency_timers; ++i) {
    const std::int64_t deadline = (start + std::chrono::milliseconds(i + 1)).time_since_epoch().count();
    deadlines[i] = deadline;
    ::itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(deadline / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(deadline % 1'000'000'000);
    check(::timerfd_settime(timers.fd(i).fd(), TFD_TIMER_ABSTIME, &spec, nullptr), "timerfd_settime");
  }
  while (lateness.size() < latency_timers) timers.run_once();
  std::sort(lateness.begin(), lateness.end());
  return lateness;
}

struct LibevLatency {
  std::vector<std::int64_t> deadlines;  // by watcher index
  std::vector<std::int64_t> lateness;
  ev_timer* first = nullptr;
  static void on_timer(struct ev_loop* loop, ev_timer* timer, int) {
    const std::int64_t now = now_ns();
    auto* self = static_cast<LibevLatency*>(ev_userdata(loop));
    self->lateness.push_back(now - self->deadlines[static_cast<std::size_t>(timer - self->first)]);
  }
};

inline std::vector<std::int64_t> latency_libev() {
  LibevLatency state;
  state.deadlines.resize(latency_timers);
  state.lateness.reserve(latency_timers);
  struct ev_loop* loop = ev_loop_new(unsigned{EVBACKEND_EPOLL} | unsigned{EVFLAG_NOENV});
  if (loop == nullptr) die("ev_loop_new");
  ev_set_userdata(loop, &state);
  std::vector<ev_timer> timers(latency_timers);
  state.first = timers.data();
  ev_now_update(loop);
  for (std::size_t i = 0; i < latency_timers; ++i) {
    ev_timer_init(&timers[i], &LibevLatency::on_timer, static_cast<double>(i + 1) * 1e-3, 0.);
    ev_timer_start(loop, &timers[i]);
    // While active, ev_timer::at is the absolute deadline on libev's monotonic
    // clock (CLOCK_MONOTONIC, seconds); stopping makes it relative again.
    state.deadlines[i] = static_cast<std::int64_t>(timers[i].at * 1e9);
  }
  ev_run(loop, 0);
  ev_loop_destroy(loop);
  std::sort(state.lateness.begin(), state.lateness.end());
  return std::move(state.lateness);
}

struct LibuvLatency {
  std::vector<std::int64_t> lateness;
  static void on_timer(uv_timer_t* timer) {
    const std::int64_t now = now_ns();
    // uv_timer_t::timeout is the deadline in whole milliseconds of uv_now(), which
    // counts CLOCK_MONOTONIC (or its coarse variant) in milliseconds.
    static_cast<LibuvLatency*>(timer->loop->data)
        ->lateness.push_back(now - static_cast<std::int64_t>(timer->timeout) * 1'000'000);
  }
};

inline std::vector<std::int64_t> latency_libuv() {
  LibuvLatency state;
  state.lateness.reserve(latency_timers);
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) die("uv_loop_init");
  loop.data = &state;
  std::vector<uv_timer_t> timers(latency_timers);
  uv_update_time(&loop);
  for (std::size_t i = 0; i < latency_timers; ++i) {
    if (uv_timer_init(&loop, &timers[i]) != 0) fail("uv_timer_init");
    if (uv_timer_start(&timers[i], &LibuvLatency::on_timer, i + 1, 0) != 0) fail("uv_timer_start");
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (uv_timer_t& timer : timers) uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  std::sort(state.lateness.begin(), state.lateness.end());
  return std::move(state.lateness);
}

// --- pause + resume ----------------------------------------------------------------------

/// A subscriber with n idle eventfds.
struct ManyIdleFds {
  std::vector<em::EventFd> fds;
  void init(em::EventOps& ops) {
    for (const em::EventFd& fd : fds) must(ops.add(em::Events(fd, em::EventSet::in)), "add");
  }
  void process(em::Events, em::EventOps&) {}
};

class PauseResume {
 public:
  explicit PauseResume(std::size_t fds) : manager_(create_manager<ManyIdleFds>()) {
    ManyIdleFds subscriber;
    for (std::size_t i = 0; i < fds; ++i) subscriber.fds.push_back(must_value(em::EventFd::create(), "EventFd"));
    id_ = manager_.add_subscriber(std::move(subscriber));
  }
  void pause_resume() {
    must(manager_.pause(id_), "pause");
    must(manager_.resume(id_), "resume");
  }

 private:
  em::EventManager<ManyIdleFds> manager_;
  em::SubscriberId id_;
};

/// The floor: what any pause must tell the kernel, one EPOLL_CTL_MOD per fd
/// to an empty mask and one back.
class PauseResumeFloor {
 public:
  explicit PauseResumeFloor(std::size_t fds) : epoll_fd_(check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")) {
    for (std::size_t i = 0; i < fds; ++i) {
      const int fd = fds_.add(make_eventfd(false));
      fd_list_.push_back(fd);
      ::epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<std::uint32_t>(fd);
      check(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
    }
  }
  ~PauseResumeFloor() { ::close(epoll_fd_); }
  PauseResumeFloor(const PauseResumeFloor&) = delete;
  PauseResumeFloor& operator=(const PauseResumeFloor&) = delete;

  void pause_resume() {
    for (std::uint32_t events : {0u, std::uint32_t{EPOLLIN}}) {
      for (int fd : fd_list_) {
        ::epoll_event ev{};
        ev.events = events;
        ev.data.u64 = static_cast<std::uint32_t>(fd);
        check(::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev), "epoll_ctl");
      }
    }
  }

 private:
  Fds fds_;
  int epoll_fd_;
  std::vector<int> fd_list_;
};

}  // namespace bench::timers
