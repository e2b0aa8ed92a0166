// Stress test of RemoteEndpoint: four threads send thousands of mixed
// call_blocking() and fire() requests that add subscribers, trigger their
// eventfds (directly, through a dup, and from fired requests), and remove
// them, while the loop runs on its own thread. At the end every count must
// balance exactly: nothing lost, nothing run twice.
//
// Every wait is bounded: the loop polls with a timeout and a stop flag, and
// each thread's work is awaited through a future with a time limit.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "support/waits.hpp"

namespace {

using namespace event_manager;
using namespace std::chrono_literals;

using event_manager::test::await;
using event_manager::test::eventually;

constexpr std::chrono::seconds limit = 60s;  // a bound on a hang, not a target: a run takes a few seconds under TSan

/// Loop-thread bookkeeping; read by the test only through call_blocking().
struct Stats {
  std::uint64_t inits = 0;
  std::uint64_t process_calls = 0;
  std::uint64_t units_seen = 0;              // eventfd units read by process()
  std::uint64_t fires_run = 0;
  std::uint64_t units_written_by_fire = 0;
  std::uint64_t units_pending_at_fire_removal = 0;
  std::uint64_t fire_removals = 0;
  std::uint64_t missing = 0;                 // a request found no subscriber where one must be
};

struct Sub {
  EventFd fd = EventFd::create().value();
  Stats* stats;
  void init(EventOps& ops) {
    ++stats->inits;
    EXPECT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  }
  void process(Events, EventOps&) {
    ++stats->process_calls;
    stats->units_seen += fd.read().value_or(0);
  }
};

using Ops = SubscriberOps<Sub>;

/// Units written to `sub` but not read by process() yet.
std::uint64_t pending_units(const Sub& sub) { return sub.fd.read().value_or(0); }

struct Alive {
  SubscriberId id;
  EventFd dup;  // the sender's own descriptor of the subscriber's eventfd
};

struct ThreadReport {
  std::uint64_t added = 0;
  std::uint64_t units_written_directly = 0;
  std::uint64_t units_pending_at_blocking_removal = 0;
  std::uint64_t fires_sent = 0;
  std::uint64_t blocking_removals = 0;
  std::uint64_t fire_removals = 0;
  std::vector<SubscriberId> removed;
  std::vector<SubscriberId> remaining;
  std::string failure;  // empty when every request was answered as expected
};

ThreadReport send_requests(RemoteEndpoint<Sub> endpoint, Stats& stats, unsigned seed, int operations) {
  constexpr std::size_t max_alive = 100;  // keeps the fd count modest: two fds per subscriber
  ThreadReport report;
  std::vector<Alive> alive;
  std::minstd_rand rng(seed);
  auto fail = [&report](std::string what) {
    if (report.failure.empty()) report.failure = std::move(what);
  };
  auto take = [&](std::size_t index) {
    Alive taken = std::move(alive[index]);
    alive[index] = std::move(alive.back());
    alive.pop_back();
    report.removed.push_back(taken.id);
    return taken;
  };

  for (int op = 0; op < operations && report.failure.empty(); ++op) {
    const auto roll = rng() % 100;
    if (alive.empty() || (roll < 25 && alive.size() < max_alive)) {
      auto added = endpoint.call_blocking([&stats](Ops& ops) -> Result<Alive> {
        const SubscriberId id = ops.add_subscriber(Sub{.stats = &stats});
        auto dup = ops.subscriber_mut(id)->fd.try_clone();
        if (!dup) return std::unexpected(dup.error());
        return Alive{id, std::move(*dup)};
      });
      if (!added) {
        fail("add: " + added.error().message());
        continue;
      }
      alive.push_back(std::move(*added));
      ++report.added;
      continue;
    }
    const std::size_t pick = rng() % alive.size();
    const SubscriberId id = alive[pick].id;
    if (roll < 45) {
      // An event from this thread, straight into the subscriber's eventfd.
      if (!alive[pick].dup.write(1)) fail("direct write");
      ++report.units_written_directly;
    } else if (roll < 60) {
      auto sent = endpoint.fire([id, &stats](Ops& ops) {
        ++stats.fires_run;
        Sub* sub = ops.subscriber_mut(id);
        if (sub == nullptr) {
          ++stats.missing;
          return;
        }
        if (sub->fd.write(1)) ++stats.units_written_by_fire;
      });
      if (!sent) fail("fire trigger: " + sent.error().message());
      ++report.fires_sent;
    } else if (roll < 75) {
      (void)take(pick);  // closes our dup at once; the subscriber's own fd stays open until removal
      auto sent = endpoint.fire([id, &stats](Ops& ops) {
        ++stats.fires_run;
        auto removed = ops.remove_subscriber(id);
        if (!removed) {
          ++stats.missing;
          return;
        }
        ++stats.fire_removals;
        stats.units_pending_at_fire_removal += pending_units(*removed);
      });
      if (!sent) fail("fire remove: " + sent.error().message());
      ++report.fires_sent;
      ++report.fire_removals;
    } else if (roll < 90) {
      (void)take(pick);
      auto pending = endpoint.call_blocking([id](Ops& ops) -> Result<std::uint64_t> {
        auto removed = ops.remove_subscriber(id);
        if (!removed) return std::unexpected(removed.error());
        return pending_units(*removed);
      });
      if (!pending) fail("blocking remove: " + pending.error().message());
      report.units_pending_at_blocking_removal += pending.value_or(0);
      ++report.blocking_removals;
    } else {
      auto present = endpoint.call_blocking([id](Ops& ops) { return ops.subscriber_mut(id) != nullptr; });
      if (present != Result<bool>(true)) fail("query");
    }
  }
  for (const Alive& a : alive) report.remaining.push_back(a.id);
  return report;
}

TEST(EndpointStress, FourThreadsOfMixedRequestsBalanceExactly) {
  constexpr int threads = 4;
  constexpr int operations = 2000;

  auto manager = EventManager<Sub>::create().value();
  auto endpoint = manager.remote_endpoint();
  Stats stats;

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> runs{0};
  auto loop = std::async(std::launch::async, [&] {
    while (!stop.load()) {
      auto n = manager.run_with_timeout(50);
      if (!n) return n.error().message();
      ++runs;
    }
    return std::string();
  });

  std::vector<std::future<ThreadReport>> senders;
  for (int t = 0; t < threads; ++t) {
    senders.push_back(std::async(std::launch::async, send_requests, endpoint, std::ref(stats),
                                 static_cast<unsigned>(t + 1), operations));
  }
  std::vector<ThreadReport> reports;
  for (auto& sender : senders) reports.push_back(await(sender, "sender thread", limit));

  ThreadReport total;
  for (const ThreadReport& r : reports) {
    EXPECT_EQ(r.failure, "");
    total.added += r.added;
    total.units_written_directly += r.units_written_directly;
    total.units_pending_at_blocking_removal += r.units_pending_at_blocking_removal;
    total.fires_sent += r.fires_sent;
    total.blocking_removals += r.blocking_removals;
    total.fire_removals += r.fire_removals;
    total.removed.insert(total.removed.end(), r.removed.begin(), r.removed.end());
    total.remaining.insert(total.remaining.end(), r.remaining.begin(), r.remaining.end());
  }

  // One last request, sent after every other: all fired requests have run by
  // then (each thread's requests run in order, and every thread is done).
  struct Final {
    Stats stats;
    std::uint64_t units_pending = 0;
    std::uint64_t remaining_found = 0;
    std::uint64_t removed_found = 0;
  };
  auto end_state = endpoint.call_blocking([&](Ops& ops) {
    Final f;
    for (SubscriberId id : total.remaining) {
      if (const Sub* sub = ops.subscriber_mut(id)) {
        ++f.remaining_found;
        f.units_pending += pending_units(*sub);
      }
    }
    for (SubscriberId id : total.removed) f.removed_found += ops.subscriber_mut(id) != nullptr;
    f.stats = stats;
    return f;
  });
  stop = true;
  ASSERT_TRUE(endpoint.kick().has_value());
  EXPECT_EQ(await(loop, "loop thread", limit), "");
  ASSERT_TRUE(end_state.has_value());
  const Stats& s = end_state->stats;

  // Subscribers: added == removed + remaining, and each in the right state.
  EXPECT_EQ(s.inits, total.added);
  EXPECT_EQ(total.removed.size(), total.blocking_removals + total.fire_removals);
  EXPECT_EQ(total.added, total.removed.size() + total.remaining.size());
  EXPECT_EQ(end_state->remaining_found, total.remaining.size());
  EXPECT_EQ(end_state->removed_found, 0u);
  EXPECT_EQ(s.fire_removals, total.fire_removals);

  // Fired requests: each ran exactly once and found its subscriber.
  EXPECT_EQ(s.fires_run, total.fires_sent);
  EXPECT_EQ(s.missing, 0u);

  // Events: every unit written was read by process(), or was still pending
  // when its subscriber was removed or at the end.
  const std::uint64_t written = total.units_written_directly + s.units_written_by_fire;
  EXPECT_EQ(written, s.units_seen + s.units_pending_at_fire_removal + total.units_pending_at_blocking_removal +
                         end_state->units_pending);
  EXPECT_GT(s.units_seen, 0u);
  EXPECT_GT(s.process_calls, 0u);
  EXPECT_LE(s.process_calls, s.units_seen);
  EXPECT_GT(total.blocking_removals, 0u);
  EXPECT_GT(total.fire_removals, 0u);

  std::printf("added %llu, removed %zu, remaining %zu, fired %llu, units written %llu, process() calls %llu, runs %llu\n",
              static_cast<unsigned long long>(total.added), total.removed.size(), total.remaining.size(),
              static_cast<unsigned long long>(total.fires_sent), static_cast<unsigned long long>(written),
              static_cast<unsigned long long>(s.process_calls), static_cast<unsigned long long>(runs.load()));
}

/// Counts destructions of the one live copy (moved-from copies do not count).
struct Probe {
  std::atomic<std::uint64_t>* destroyed;
  bool live = true;
  explicit Probe(std::atomic<std::uint64_t>& counter) : destroyed(&counter) {}
  Probe(Probe&& other) noexcept : destroyed(other.destroyed), live(std::exchange(other.live, false)) {}
  Probe& operator=(Probe&&) = delete;
  ~Probe() {
    if (live) ++*destroyed;
  }
};

struct Outcomes {
  std::uint64_t answered = 0, channel_recv = 0, channel_send = 0, other = 0;
  std::uint64_t fires_accepted = 0, fires_refused = 0;
};

// The loop thread owns the manager and destroys it while four threads keep
// sending: every caller is released (answered, ChannelRecv or ChannelSend),
// and every fired closure is destroyed exactly once, run or not.
TEST(EndpointStress, DestroyingTheManagerUnderLoadReleasesEveryCallerAndClosure) {
  constexpr int threads = 4;
  auto manager = EventManager<Sub>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::atomic<std::uint64_t> fired_runs{0}, probes_destroyed{0}, probes_made{0};
  std::atomic<std::uint64_t> answered_total{0};

  std::atomic<bool> stop{false};
  auto loop = std::async(std::launch::async, [m = std::move(manager), &stop]() mutable {
    std::string error;
    while (!stop.load() && error.empty()) {
      if (auto n = m.run_with_timeout(50); !n) error = n.error().message();
    }
    return error;  // the manager is destroyed here, with requests still arriving
  });

  std::vector<std::future<Outcomes>> senders;
  for (int t = 0; t < threads; ++t) {
    senders.push_back(std::async(std::launch::async, [&, endpoint] {
      Outcomes o;
      for (std::uint64_t i = 0;; ++i) {
        if (i % 2 == 0) {
          auto r = endpoint.call_blocking([](Ops&) { return 1; });
          if (r) {
            ++o.answered;
            ++answered_total;
          } else if (r.error() == make_error_code(Error::ChannelRecv)) {
            ++o.channel_recv;
          } else if (r.error() == make_error_code(Error::ChannelSend)) {
            ++o.channel_send;
            return o;  // the manager is gone: every later call is refused too
          } else {
            ++o.other;
          }
        } else {
          ++probes_made;
          auto sent = endpoint.fire([p = Probe(probes_destroyed), &fired_runs](Ops&) { ++fired_runs; });
          ++(sent ? o.fires_accepted : o.fires_refused);
          if (!sent && sent.error() != make_error_code(Error::ChannelSend)) ++o.other;
        }
      }
    }));
  }

  // Let the load build up, then stop (and so destroy) the manager.
  (void)eventually([&] { return answered_total.load() >= 2000; }, limit);  // a slow machine stops with less
  stop = true;
  ASSERT_TRUE(endpoint.kick().has_value());
  EXPECT_EQ(await(loop, "loop thread", limit), "");

  Outcomes total;
  for (auto& sender : senders) {
    const Outcomes o = await(sender, "sender released by the manager's destruction", limit);
    EXPECT_EQ(o.other, 0u);
    EXPECT_EQ(o.channel_send, 1u);
    total.answered += o.answered;
    total.channel_recv += o.channel_recv;
    total.fires_accepted += o.fires_accepted;
    total.fires_refused += o.fires_refused;
  }
  EXPECT_GE(total.answered, 2000u);
  EXPECT_LE(fired_runs.load(), total.fires_accepted);
  EXPECT_EQ(probes_made.load(), total.fires_accepted + total.fires_refused);
  EXPECT_EQ(probes_destroyed.load(), probes_made.load());  // each closure destroyed once, run or not
  std::printf("answered %llu, ChannelRecv %llu, fires accepted %llu (ran %llu), refused %llu\n",
              static_cast<unsigned long long>(total.answered), static_cast<unsigned long long>(total.channel_recv),
              static_cast<unsigned long long>(total.fires_accepted), static_cast<unsigned long long>(fired_runs.load()),
              static_cast<unsigned long long>(total.fires_refused));
}

}  // namespace
