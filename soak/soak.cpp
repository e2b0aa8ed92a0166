// Soak: churns 10,000 eventfds across 1,000 subscribers with random triggers
// while 4 threads send endpoint requests, churns 2,000 timers (a periodic tick
// and a one-shot idle timeout per subscriber: armed, re-armed, disarmed,
// removed and added again at a steady rate), pauses and resumes subscribers
// under that load, and checks that nothing is lost and that open fds, heap in
// use and RSS stay flat.
//
// Usage: event_manager_soak [seconds]   (default 600)
//
// Every interval (a minute, or a tenth of the run when it is shorter than ten
// minutes) it prints events handled, requests served, timer expiries, pauses,
// the median and 99th percentile of timer lateness (callback time minus the
// deadline; timers that came due while paused are left out), open fds, heap in use (mallinfo2().uordblks) and RSS.
// While it runs it fails at once if an event reaches a paused subscriber, a
// timer fires before its deadline or after it was disarmed, or an eventfd
// written while its subscriber was paused has not been handled 50 runs after
// resume() (level-triggered, one-shot and edge-triggered fds alike: a lost
// wake-up would leave it unread). At the end it checks, exiting non-zero on
// any failure:
//  - every counter value written to an eventfd was read back (by process(), or
//    drained when an fd or a subscriber was retired): no event lost;
//  - every request sent was served exactly once: no request lost;
//  - open fds are equal in the first and the last interval;
//  - from the first to the last interval, heap in use grew by at most
//    max(10 %, 1 MiB) and RSS by at most max(10 %, 8 MiB);
//  - timers still fire and subscribers still pause in the last interval, and
//    the timers' median lateness there is at most 4 x max(the first
//    interval's, 1 ms) + 5 ms (latency stays flat).
// Samples are taken on the loop thread between two runs, when no request is
// half done, so the fd count is exact.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include <event_manager/event_manager.hpp>

namespace em = event_manager;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSubscribers = 1000;
constexpr int kFdsPerSubscriber = 10;
constexpr int kEndpointThreads = 4;
constexpr int kTriggersPerIteration = 64;
constexpr int kTimerChurnsPerIteration = 16;  // timer calls from outside run(), per loop iteration
constexpr int kMaxPaused = 20;                // subscribers paused at once
constexpr int kRunsBeforeOwedCheck = 50;      // runs after resume() by which paused writes must be handled

/// Loop-thread bookkeeping: every counter value written, read and drained.
struct Ledger {
  std::uint64_t written = 0;
  std::uint64_t read = 0;
  std::uint64_t drained = 0;
  std::uint64_t events = 0;
  std::uint64_t requests = 0;
  std::uint64_t churns = 0;
  std::uint64_t expiries = 0;
  std::uint64_t timer_calls = 0;
  std::uint64_t pauses = 0;
  std::uint64_t owed_checked = 0;         // paused writes verified as handled after resume()
  std::vector<std::int64_t> lateness_ns;  // of the expiries of the current interval
  std::mt19937_64 rng{12345};
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "soak: FAILED: %s\n", what);
  std::exit(1);
}

template <class T>
T must(em::Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "soak: %s: %s\n", what, r.error().message().c_str());
    fail(what);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

/// How an fd is registered; process() cycles through them.
enum class Mode { level, one_shot, edge };

class SoakSub {
 public:
  explicit SoakSub(Ledger* ledger) : ledger_(ledger) {}

  void init(em::EventOps& ops) {
    fds_.reserve(kFdsPerSubscriber);
    modes_.assign(kFdsPerSubscriber, Mode::level);
    owed_.assign(kFdsPerSubscriber, false);
    for (int i = 0; i < kFdsPerSubscriber; ++i) {
      fds_.push_back(must(em::EventFd::create(), "EventFd::create"));
      must(ops.add(em::Events::with_data(fds_.back(), static_cast<std::uint32_t>(i), em::EventSet::in)), "add");
    }
    for (std::uint32_t t = 0; t < kTimers; ++t) {
      timers_[t].id = must(ops.add_timer(kTimerData + t), "add_timer");
      arm(ops, t);
    }
  }

  void process(em::Events ev, em::EventOps& ops) {
    if (paused_) fail("event delivered to a paused subscriber");
    if (ev.is_timer()) return expired(ev, ops);
    const auto i = ev.data();
    if (i >= fds_.size() || ev.fd() != fds_[i].fd()) fail("event delivered with wrong fd/data");
    ++ledger_->events;
    if (auto v = fds_[i].read()) {
      ledger_->read += *v;
    } else if (v.error() != std::errc::resource_unavailable_try_again) {
      fail("read");
    }
    owed_[i] = false;  // everything written so far, during a pause too, has been handled
    switch (ledger_->rng() % 64) {
      case 0:  // remove and add again
        must(ops.remove(ev), "remove");
        must(ops.add(em::Events::with_data(fds_[i], i, mask(i))), "re-add");
        break;
      case 1:  // cycle level-triggered -> one-shot -> edge-triggered
        modes_[i] = modes_[i] == Mode::level ? Mode::one_shot : modes_[i] == Mode::one_shot ? Mode::edge : Mode::level;
        must(ops.modify(em::Events::with_data(fds_[i], i, mask(i))), "modify");
        break;
      case 2:  // retire the fd, open a fresh one (often the same number)
        must(ops.remove(ev), "remove");
        drain(fds_[i]);
        fds_[i] = must(em::EventFd::create(), "EventFd::create");
        must(ops.add(em::Events::with_data(fds_[i], i, mask(i))), "add fresh");
        ++ledger_->churns;
        break;
      case 3:
      case 4:
      case 5:
      case 6:
      case 7:
      case 8:
      case 9:
      case 10:
        churn_timer(ops);  // the idle-timeout pattern: activity re-arms a timer
        [[fallthrough]];
      default:
        if (modes_[i] == Mode::one_shot) must(ops.modify(em::Events::with_data(fds_[i], i, mask(i))), "re-arm");
        break;
    }
  }

  void trigger(std::size_t i, std::uint64_t value) {
    must(fds_[i % fds_.size()].write(value), "write");
    ledger_->written += value;
    if (paused_) owed_[i % fds_.size()] = true;  // must be handled after resume()
  }

  /// One timer call at random: re-arm (now or later), disarm, or replace (remove + add).
  void churn_timer(em::EventOps& ops) {
    const auto t = static_cast<std::uint32_t>(ledger_->rng() % kTimers);
    ++ledger_->timer_calls;
    switch (ledger_->rng() % 8) {
      case 0:
        must(ops.disarm_timer(timers_[t].id), "disarm_timer");
        timers_[t].armed = false;
        break;
      case 1:
        must(ops.remove_timer(timers_[t].id), "remove_timer");
        timers_[t].id = must(ops.add_timer(kTimerData + t), "add_timer");
        timers_[t].armed = false;
        [[fallthrough]];
      default: arm(ops, t); break;
    }
  }

  void set_paused(bool paused) {
    paused_ = paused;
    if (!paused) {
      resumed_at_ = now_ns();
      ++resumes_;
    }
  }
  std::uint64_t resumes() const { return resumes_; }
  bool owes_writes() const { return std::find(owed_.begin(), owed_.end(), true) != owed_.end(); }

  /// Reads every counter: what was written but not yet handled.
  void drain_all() {
    for (auto& fd : fds_) drain(fd);
  }

 private:
  static constexpr std::uint32_t kTimers = 2;        // 0: a periodic tick, 1: a one-shot idle timeout
  static constexpr std::uint32_t kTimerData = 1000;  // above every fd index
  struct Timer {
    em::TimerId id;
    bool armed = false;
    bool periodic = false;
    std::int64_t deadline = 0;  // ns of TimerClock, as timer_deadline() gives it
  };

  static std::int64_t now_ns() { return em::TimerClock::now().time_since_epoch().count(); }

  /// Tick: every 100-1000 ms. Timeout: 0-500 ms from now (0: due at the next run).
  void arm(em::EventOps& ops, std::uint32_t t) {
    Timer& timer = timers_[t];
    const std::int64_t ms = 1'000'000;
    const std::int64_t first = t == 0 ? static_cast<std::int64_t>(ledger_->rng() % 1000) * ms
                                      : static_cast<std::int64_t>(ledger_->rng() % 501) * ms;
    const std::int64_t period = t == 0 ? (100 + static_cast<std::int64_t>(ledger_->rng() % 901)) * ms : 0;
    must(ops.arm_timer(timer.id, std::chrono::nanoseconds(first), std::chrono::nanoseconds(period)), "arm_timer");
    timer.armed = true;
    timer.periodic = period != 0;
    timer.deadline = deadline_of(ops, timer.id);
  }

  static std::int64_t deadline_of(em::EventOps& ops, em::TimerId id) {
    const auto deadline = must(ops.timer_deadline(id), "timer_deadline");
    if (!deadline) fail("an armed timer has no deadline");
    return deadline->time_since_epoch().count();
  }

  void expired(em::Events ev, em::EventOps& ops) {
    const std::uint32_t t = ev.data() - kTimerData;
    if (ev.fd() != -1 || t >= kTimers) fail("timer expiry with wrong fd/data");
    Timer& timer = timers_[t];
    if (!timer.armed) fail("a disarmed timer fired");
    const std::int64_t now = now_ns();
    if (now < timer.deadline) fail("a timer fired before its deadline");
    ++ledger_->expiries;
    // One that came due while paused fires at resume(), late by design: not counted.
    if (timer.deadline >= resumed_at_) ledger_->lateness_ns.push_back(now - timer.deadline);
    if (timer.periodic) {
      timer.deadline = deadline_of(ops, timer.id);  // moved before process(): the next one in the future
      if (timer.deadline <= now) fail("a periodic timer's next deadline is not in the future");
    } else {
      timer.armed = false;
      if (ledger_->rng() % 2 == 0) arm(ops, t);
    }
  }

  em::EventSet mask(std::size_t i) const {
    switch (modes_[i]) {
      case Mode::one_shot: return em::EventSet::in | em::EventSet::one_shot;
      case Mode::edge: return em::EventSet::in | em::EventSet::edge_triggered;
      default: return em::EventSet::in;
    }
  }
  void drain(const em::EventFd& fd) {
    if (auto v = fd.read()) ledger_->drained += *v;
  }

  Ledger* ledger_;
  std::vector<em::EventFd> fds_;
  std::vector<Mode> modes_;
  std::vector<bool> owed_;  // written while paused, not handled since
  Timer timers_[kTimers];
  bool paused_ = false;
  std::int64_t resumed_at_ = 0;
  std::uint64_t resumes_ = 0;
};

using Manager = em::EventManager<SoakSub>;

/// A paused subscriber, and when the main loop resumes it.
struct Paused {
  em::SubscriberId id;
  std::uint64_t resume_at_run;
};
/// A resumed subscriber whose writes made while paused must be handled by `check_at_run`.
struct OwedCheck {
  em::SubscriberId id;
  std::uint64_t resumes;  // the subscriber's resume count then: a later pause and resume has its own check
  std::uint64_t check_at_run;
};

/// Loop-thread state reachable from requests.
struct World {
  Ledger ledger;
  std::vector<em::SubscriberId> ids;
  std::uint64_t runs = 0;
  std::deque<Paused> paused;
  std::deque<OwedCheck> owed_checks;

  /// Pauses subscriber j for 1-50 runs (unless too many are paused, or it is).
  void pause(em::SubscriberOps<SoakSub>& ops, std::size_t j) {
    const em::SubscriberId id = ids[j];
    if (paused.size() >= kMaxPaused || must(ops.paused(id), "paused")) return;
    must(ops.pause(id), "pause");
    ops.subscriber_mut(id)->set_paused(true);
    paused.push_back(Paused{id, runs + 1 + ledger.rng() % 50});
    ++ledger.pauses;
  }

  /// Resumes the subscribers due, and checks the ones resumed 50 runs ago.
  void resume_due(em::SubscriberOps<SoakSub>& ops) {
    while (!paused.empty() && paused.front().resume_at_run <= runs) {
      const em::SubscriberId id = paused.front().id;
      paused.pop_front();
      SoakSub* sub = ops.subscriber_mut(id);
      if (sub == nullptr) continue;  // replaced meanwhile: its fds were drained
      must(ops.resume(id), "resume");
      sub->set_paused(false);
      owed_checks.push_back(OwedCheck{id, sub->resumes(), runs + kRunsBeforeOwedCheck});
    }
    while (!owed_checks.empty() && owed_checks.front().check_at_run <= runs) {
      const OwedCheck check = owed_checks.front();
      owed_checks.pop_front();
      SoakSub* sub = ops.subscriber_mut(check.id);
      // Replaced (its fds were drained), or paused again since: the next resume checks it.
      if (sub == nullptr || sub->resumes() != check.resumes || must(ops.paused(check.id), "paused")) continue;
      if (sub->owes_writes()) fail("an eventfd written while its subscriber was paused was not handled after resume");
      ++ledger.owed_checked;
    }
  }
};

std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the directory stream's own fd
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

struct Sample {
  double seconds;
  std::uint64_t events;
  std::uint64_t requests;
  std::uint64_t expiries;
  std::uint64_t pauses;
  double late50_us;
  double late99_us;
  std::size_t fds;
  std::size_t heap;
  std::size_t rss;
};

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 600;
  if (seconds <= 0) fail("duration must be positive");
  const auto interval = seconds >= 600 ? std::chrono::seconds(60) : std::chrono::milliseconds(seconds * 100);

  // 10,000 eventfds need more than the usual soft limit of 1024.
  ::rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 12000) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 12000);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }

  World world;
  Manager manager = must(Manager::create(), "create");
  for (int j = 0; j < kSubscribers; ++j) world.ids.push_back(manager.add_subscriber(SoakSub(&world.ledger)));

  const auto endpoint = manager.remote_endpoint();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kEndpointThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto j = static_cast<std::size_t>(rng() % kSubscribers);
        const auto i = static_cast<std::size_t>(rng() % kFdsPerSubscriber);
        const auto op = rng() % 16;
        if (op == 1) {
          // Pause a subscriber from a request (the main loop resumes it).
          must(endpoint.fire([&world, j](em::SubscriberOps<SoakSub>& ops) {
            ++world.ledger.requests;
            world.pause(ops, j);
          }),
               "fire");
          sent.fetch_add(1, std::memory_order_relaxed);
        } else if (op == 0) {
          // Replace a whole subscriber (paused or not): 10 fds and 2 timers closed, 10 fds and 2 timers opened.
          must(endpoint.fire([&world, j](em::SubscriberOps<SoakSub>& ops) {
            ++world.ledger.requests;
            SoakSub old = must(ops.remove_subscriber(world.ids[j]), "remove_subscriber");
            old.drain_all();
            world.ids[j] = ops.add_subscriber(SoakSub(&world.ledger));
            ++world.ledger.churns;
          }),
               "fire");
          sent.fetch_add(1, std::memory_order_relaxed);
        } else if (op < 12) {
          must(endpoint.fire([&world, j, i](em::SubscriberOps<SoakSub>& ops) {
            ++world.ledger.requests;
            ops.subscriber_mut(world.ids[j])->trigger(i, 1);
          }),
               "fire");
          sent.fetch_add(1, std::memory_order_relaxed);
        } else {
          // A blocking call every few requests keeps the queue bounded: it
          // returns only after everything this thread sent before it ran.
          const auto r = endpoint.call_blocking([&world, j, i](em::SubscriberOps<SoakSub>& ops) {
            ++world.ledger.requests;
            ops.subscriber_mut(world.ids[j])->trigger(i, 2);
            return j;
          });
          if (!r || *r != j) fail("call_blocking result");
          sent.fetch_add(1, std::memory_order_relaxed);
        }
      }
      finished.fetch_add(1);
    });
  }

  std::vector<Sample> samples;
  const auto start = Clock::now();
  auto next_sample = start + interval;
  const auto end = start + std::chrono::seconds(seconds);
  std::printf("soak: %d s, %d subscribers x %d eventfds, %d endpoint threads, report every %.1f s\n", seconds,
              kSubscribers, kFdsPerSubscriber, kEndpointThreads, std::chrono::duration<double>(interval).count());
  std::printf("%8s %10s %10s %9s %7s %9s %9s %7s %11s %11s\n", "t[s]", "events", "requests", "expiries", "pauses",
              "late50[us]", "late99[us]", "fds", "heap[B]", "rss[B]");
  std::uint64_t last_events = 0, last_requests = 0, last_expiries = 0, last_pauses = 0;
  for (;;) {
    must(manager.run_with_timeout(10), "run");
    ++world.runs;
    for (int k = 0; k < kTriggersPerIteration; ++k) {
      const auto j = static_cast<std::size_t>(world.ledger.rng() % kSubscribers);
      manager.subscriber_mut(world.ids[j])->trigger(world.ledger.rng(), 1 + world.ledger.rng() % 3);
    }
    for (int k = 0; k < kTimerChurnsPerIteration; ++k) {
      const auto j = static_cast<std::size_t>(world.ledger.rng() % kSubscribers);
      em::EventOps ops = must(manager.event_ops(world.ids[j]), "event_ops");
      manager.subscriber_mut(world.ids[j])->churn_timer(ops);
    }
    if (world.ledger.rng() % 4 == 0) world.pause(manager, static_cast<std::size_t>(world.ledger.rng() % kSubscribers));
    world.resume_due(manager);
    const auto now = Clock::now();
    if (now >= next_sample) {
      auto& late = world.ledger.lateness_ns;
      std::sort(late.begin(), late.end());
      const auto percentile = [&late](double p) {
        return late.empty()
                   ? 0.0
                   : static_cast<double>(late[static_cast<std::size_t>(p * static_cast<double>(late.size() - 1))]) /
                         1e3;
      };
      const Sample s{std::chrono::duration<double>(now - start).count(),
                     world.ledger.events - last_events,
                     world.ledger.requests - last_requests,
                     world.ledger.expiries - last_expiries,
                     world.ledger.pauses - last_pauses,
                     percentile(0.5),
                     percentile(0.99),
                     open_fd_count(),
                     ::mallinfo2().uordblks,
                     rss_bytes()};
      late.clear();
      last_events = world.ledger.events;
      last_requests = world.ledger.requests;
      last_expiries = world.ledger.expiries;
      last_pauses = world.ledger.pauses;
      samples.push_back(s);
      std::printf("%8.1f %10llu %10llu %9llu %7llu %9.0f %9.0f %7zu %11zu %11zu\n", s.seconds,
                  static_cast<unsigned long long>(s.events), static_cast<unsigned long long>(s.requests),
                  static_cast<unsigned long long>(s.expiries), static_cast<unsigned long long>(s.pauses), s.late50_us,
                  s.late99_us, s.fds, s.heap, s.rss);
      std::fflush(stdout);
      next_sample += interval;
      if (now >= end) break;
    }
  }

  // Stop the senders, serving their last blocking calls, then run what is queued.
  stop = true;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (finished.load() < kEndpointThreads) {
    if (Clock::now() > deadline) fail("endpoint threads did not finish within 30 s");
    must(manager.run_with_timeout(10), "run");
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < 100 && world.ledger.requests != sent.load(); ++k) must(manager.run_with_timeout(10), "run");
  // Resume every paused subscriber, and check their paused writes get handled.
  for (auto& p : world.paused) p.resume_at_run = 0;
  world.resume_due(manager);
  for (int k = 0; k <= kRunsBeforeOwedCheck; ++k) {
    must(manager.run_with_timeout(0), "run");
    ++world.runs;
    world.resume_due(manager);
  }
  // Handle every pending event, then drain what one-shot fds left behind.
  for (int k = 0; k < 10; ++k) must(manager.run_with_timeout(0), "run");
  for (const auto id : world.ids) manager.subscriber_mut(id)->drain_all();

  const Sample& first = samples.front();
  const Sample& last = samples.back();
  bool ok = true;
  auto check = [&ok](bool cond, const char* what) {
    std::printf("  %-72s %s\n", what, cond ? "ok" : "FAILED");
    ok = ok && cond;
  };
  std::printf("totals: %llu events, %llu requests served of %llu sent, %llu fd/subscriber replacements\n",
              static_cast<unsigned long long>(world.ledger.events),
              static_cast<unsigned long long>(world.ledger.requests), static_cast<unsigned long long>(sent.load()),
              static_cast<unsigned long long>(world.ledger.churns));
  std::printf(
      "timers: %llu expiries, %llu timer calls; %llu pauses, %llu resumed subscribers checked for paused writes\n",
      static_cast<unsigned long long>(world.ledger.expiries), static_cast<unsigned long long>(world.ledger.timer_calls),
      static_cast<unsigned long long>(world.ledger.pauses), static_cast<unsigned long long>(world.ledger.owed_checked));
  std::printf("counters: written %llu = read %llu + drained %llu\n",
              static_cast<unsigned long long>(world.ledger.written), static_cast<unsigned long long>(world.ledger.read),
              static_cast<unsigned long long>(world.ledger.drained));
  check(samples.size() >= 2, "at least two intervals sampled");
  check(world.ledger.requests == sent.load(), "every request sent was served exactly once");
  check(world.ledger.written == world.ledger.read + world.ledger.drained, "every eventfd write was handled");
  check(first.fds == last.fds, "open fds: first interval == last interval");
  const auto heap_limit = first.heap + std::max<std::size_t>(first.heap / 10, 1u << 20);
  const auto rss_limit = first.rss + std::max<std::size_t>(first.rss / 10, 8u << 20);
  check(last.heap <= heap_limit, "heap in use: last <= first + max(10 %, 1 MiB)");
  check(last.rss <= rss_limit, "RSS: last <= first + max(10 %, 8 MiB)");
  check(last.events > 0 && last.requests > 0, "events and requests still flowing in the last interval");
  check(last.expiries > 0 && last.pauses > 0, "timers firing and subscribers pausing in the last interval");
  check(world.ledger.owed_checked > 0, "paused writes were checked after resume()");
  // Scheduling noise on a shared machine moves the median by milliseconds;
  // what this catches is lateness that grows with the run (timer state that leaks or degrades).
  check(last.late50_us <= 4 * std::max(first.late50_us, 1000.0) + 5000,
        "timer lateness p50: last <= 4 x max(first, 1 ms) + 5 ms");
  std::printf("soak: %s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}
