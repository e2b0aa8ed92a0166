// Soak: churns 10,000 eventfds across 1,000 subscribers with random triggers
// while 4 threads send endpoint requests, and checks that nothing is lost and
// that open fds, heap in use and RSS stay flat.
//
// Usage: event_manager_soak [seconds]   (default 600)
//
// Every interval (a minute, or a tenth of the run when it is shorter than ten
// minutes) it prints events handled, requests served, open fds, heap in use
// (mallinfo2().uordblks) and RSS. At the end it checks, exiting non-zero on
// any failure:
//  - every counter value written to an eventfd was read back (by process(), or
//    drained when an fd or a subscriber was retired): no event lost;
//  - every request sent was served exactly once: no request lost;
//  - open fds are equal in the first and the last interval;
//  - from the first to the last interval, heap in use grew by at most
//    max(10 %, 1 MiB) and RSS by at most max(10 %, 8 MiB).
// Samples are taken on the loop thread between two runs, when no request is
// half done, so the fd count is exact.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

/// Loop-thread bookkeeping: every counter value written, read and drained.
struct Ledger {
  std::uint64_t written = 0;
  std::uint64_t read = 0;
  std::uint64_t drained = 0;
  std::uint64_t events = 0;
  std::uint64_t requests = 0;
  std::uint64_t churns = 0;
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

class SoakSub {
 public:
  explicit SoakSub(Ledger* ledger) : ledger_(ledger) {}

  void init(em::EventOps& ops) {
    fds_.reserve(kFdsPerSubscriber);
    oneshot_.assign(kFdsPerSubscriber, false);
    for (int i = 0; i < kFdsPerSubscriber; ++i) {
      fds_.push_back(must(em::EventFd::create(), "EventFd::create"));
      must(ops.add(em::Events::with_data(fds_.back(), static_cast<std::uint32_t>(i), em::EventSet::in)), "add");
    }
  }

  void process(em::Events ev, em::EventOps& ops) {
    const auto i = ev.data();
    if (i >= fds_.size() || ev.fd() != fds_[i].fd()) fail("event delivered with wrong fd/data");
    ++ledger_->events;
    if (auto v = fds_[i].read()) {
      ledger_->read += *v;
    } else if (v.error() != std::errc::resource_unavailable_try_again) {
      fail("read");
    }
    switch (ledger_->rng() % 64) {
      case 0:  // remove and add again
        must(ops.remove(ev), "remove");
        must(ops.add(em::Events::with_data(fds_[i], i, mask(i))), "re-add");
        break;
      case 1:  // flip between level-triggered and one-shot
        oneshot_[i] = !oneshot_[i];
        must(ops.modify(em::Events::with_data(fds_[i], i, mask(i))), "modify");
        break;
      case 2:  // retire the fd, open a fresh one (often the same number)
        must(ops.remove(ev), "remove");
        drain(fds_[i]);
        fds_[i] = must(em::EventFd::create(), "EventFd::create");
        must(ops.add(em::Events::with_data(fds_[i], i, mask(i))), "add fresh");
        ++ledger_->churns;
        break;
      default:
        if (oneshot_[i]) must(ops.modify(em::Events::with_data(fds_[i], i, mask(i))), "re-arm");
        break;
    }
  }

  void trigger(std::size_t i, std::uint64_t value) {
    must(fds_[i % fds_.size()].write(value), "write");
    ledger_->written += value;
  }

  /// Reads every counter: what was written but not yet handled.
  void drain_all() {
    for (auto& fd : fds_) drain(fd);
  }

 private:
  em::EventSet mask(std::size_t i) const {
    return oneshot_[i] ? em::EventSet::in | em::EventSet::one_shot : em::EventSet::in;
  }
  void drain(const em::EventFd& fd) {
    if (auto v = fd.read()) ledger_->drained += *v;
  }

  Ledger* ledger_;
  std::vector<em::EventFd> fds_;
  std::vector<bool> oneshot_;
};

using Manager = em::EventManager<SoakSub>;

/// Loop-thread state reachable from requests.
struct World {
  Ledger ledger;
  std::vector<em::SubscriberId> ids;
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
        if (op == 0) {
          // Replace a whole subscriber: 10 fds closed, 10 opened.
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
              kSubscribers, kFdsPerSubscriber, kEndpointThreads,
              std::chrono::duration<double>(interval).count());
  std::printf("%8s %12s %12s %8s %12s %12s\n", "t[s]", "events", "requests", "fds", "heap[B]", "rss[B]");
  std::uint64_t last_events = 0, last_requests = 0;
  for (;;) {
    must(manager.run_with_timeout(10), "run");
    for (int k = 0; k < kTriggersPerIteration; ++k) {
      const auto j = static_cast<std::size_t>(world.ledger.rng() % kSubscribers);
      manager.subscriber_mut(world.ids[j])->trigger(world.ledger.rng(), 1 + world.ledger.rng() % 3);
    }
    const auto now = Clock::now();
    if (now >= next_sample) {
      const Sample s{std::chrono::duration<double>(now - start).count(), world.ledger.events - last_events,
                     world.ledger.requests - last_requests, open_fd_count(), ::mallinfo2().uordblks, rss_bytes()};
      last_events = world.ledger.events;
      last_requests = world.ledger.requests;
      samples.push_back(s);
      std::printf("%8.1f %12llu %12llu %8zu %12zu %12zu\n", s.seconds, static_cast<unsigned long long>(s.events),
                  static_cast<unsigned long long>(s.requests), s.fds, s.heap, s.rss);
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
              static_cast<unsigned long long>(world.ledger.requests),
              static_cast<unsigned long long>(sent.load()), static_cast<unsigned long long>(world.ledger.churns));
  std::printf("counters: written %llu = read %llu + drained %llu\n",
              static_cast<unsigned long long>(world.ledger.written),
              static_cast<unsigned long long>(world.ledger.read),
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
  std::printf("soak: %s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}
