// Running (v4): run_with_timeout(nanoseconds), run_for(), run_until(),
// run(std::stop_token), Reentrant from callbacks, for_each_subscriber() and
// subscriber_count(). (The epoll_pwait2 fallback: tests/fault/.)
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"
#include "support/waits.hpp"

using namespace event_manager;
using event_manager::test::Counter;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

namespace {

/// How long `f()` took.
template <class F>
steady_clock::duration timed(F&& f) {
  const auto start = steady_clock::now();
  f();
  return steady_clock::now() - start;
}

/// Kicks `endpoint` after `delay` from another thread, unless destroyed first:
/// also a safety net that ends a wait a bug would otherwise make endless.
class DelayedKick {
 public:
  DelayedKick(RemoteEndpoint<Lambda> endpoint, milliseconds delay)
      : thread_([endpoint, delay, cancelled = cancel_.get_future()] {
          if (cancelled.wait_for(delay) == std::future_status::timeout) (void)endpoint.kick();
        }) {}
  ~DelayedKick() {
    cancel_.set_value();
    thread_.join();
  }
  DelayedKick(const DelayedKick&) = delete;
  DelayedKick& operator=(const DelayedKick&) = delete;

 private:
  std::promise<void> cancel_;
  std::thread thread_;
};

class Run : public ::testing::Test {
 protected:
  /// A subscriber counting the events of `fd` (level-triggered `in`).
  SubscriberId add_counting(const EventFd& fd, int& calls) {
    Lambda l;
    l.on_init = [&fd](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
    l.on_process = [&calls](Events, EventOps&) { ++calls; };
    return manager.add_subscriber(std::move(l));
  }
  void remove(SubscriberId id) { ASSERT_TRUE(manager.remove_subscriber(id).has_value()); }

  EventManager<Lambda> manager = EventManager<Lambda>::create().value();
};

}  // namespace

// --- run_with_timeout(std::chrono::nanoseconds) ---------------------------------

TEST_F(Run, NanosecondTimeoutNeverReturnsEarly) {
  for (nanoseconds timeout : {nanoseconds(microseconds(1500)), nanoseconds(microseconds(250)), nanoseconds(1),
                              nanoseconds(milliseconds(20)), nanoseconds(microseconds(2001))}) {
    std::size_t n = 99;
    const auto took = timed([&] { n = manager.run_with_timeout(timeout).value(); });
    EXPECT_EQ(n, 0u);
    EXPECT_GE(took, timeout) << "returned early for a timeout of " << timeout.count() << " ns";
  }
}

TEST_F(Run, NanosecondTimeoutZeroOrNegativePolls) {
  auto fd = EventFd::create().value();
  int calls = 0;
  const SubscriberId id = add_counting(fd, calls);
  for (nanoseconds timeout : {nanoseconds::zero(), nanoseconds(-1), nanoseconds::min()}) {
    const auto took = timed([&] { EXPECT_EQ(manager.run_with_timeout(timeout).value(), 0u); });
    EXPECT_LT(took, milliseconds(kWaitMs)) << timeout.count() << " ns must poll";
  }
  ASSERT_TRUE(fd.write(1).has_value());
  EXPECT_EQ(manager.run_with_timeout(nanoseconds(-5)).value(), 1u) << "a poll dispatches what is ready";
  EXPECT_EQ(calls, 1);
  remove(id);
}

TEST_F(Run, NanosecondsMaxWaitsUntilSomethingHappens) {
  const auto took = timed([&] {
    DelayedKick kick(manager.remote_endpoint(), milliseconds(100));
    EXPECT_EQ(manager.run_with_timeout(nanoseconds::max()).value(), 1u);
  });
  EXPECT_GE(took, milliseconds(100)) << "nanoseconds::max() must wait forever, not poll";
}

TEST_F(Run, NanosecondTimeoutReturnsForAnEvent) {
  auto fd = EventFd::create().value();
  int calls = 0;
  const SubscriberId id = add_counting(fd, calls);
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(20));
    EXPECT_TRUE(fd.write(1).has_value());
  });
  const auto took = timed([&] { EXPECT_EQ(manager.run_with_timeout(std::chrono::seconds(30)).value(), 1u); });
  writer.join();
  EXPECT_LT(took, milliseconds(kWaitMs));
  EXPECT_EQ(calls, 1);
  remove(id);
}

// --- run_for() and run_until() -----------------------------------------------------

TEST_F(Run, RunForRunsAtLeastOnePoll) {
  auto fd = EventFd::create(1).value();
  int calls = 0;
  const SubscriberId id = add_counting(fd, calls);
  EXPECT_EQ(manager.run_for(TimerClock::duration::zero()).value(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(manager.run_for(-std::chrono::seconds(1)).value(), 1u);
  EXPECT_EQ(calls, 2);
  remove(id);
}

TEST_F(Run, RunForWaitsTheWholeDurationAndSumsTheCounts) {
  std::size_t n = 99;
  auto took = timed([&] { n = manager.run_for(milliseconds(50)).value(); });
  EXPECT_EQ(n, 0u);
  EXPECT_GE(took, milliseconds(50));

  auto fd = EventFd::create(1).value();  // stays readable: one event per batch
  int calls = 0;
  const SubscriberId id = add_counting(fd, calls);
  took = timed([&] { n = manager.run_for(milliseconds(30)).value(); });
  EXPECT_GE(took, milliseconds(30));
  EXPECT_GT(calls, 1) << "more than one batch";
  EXPECT_EQ(n, static_cast<std::size_t>(calls)) << "the sum of the batches' counts";
  remove(id);
}

TEST_F(Run, KickEndsOnlyTheCurrentBatchOfRunFor) {
  std::size_t n = 0;
  const auto took = timed([&] {
    DelayedKick kick(manager.remote_endpoint(), milliseconds(30));
    n = manager.run_for(milliseconds(150)).value();
  });
  EXPECT_GE(took, milliseconds(150)) << "a kick ended run_for() early";
  EXPECT_EQ(n, 1u) << "the kick's wake-up counts";
}

TEST_F(Run, RunUntilRunsBatchesUntilTheDeadlineHasPassed) {
  const auto deadline = TimerClock::now() + milliseconds(40);
  std::size_t n = 99;
  (void)timed([&] { n = manager.run_until(deadline).value(); });
  EXPECT_GE(TimerClock::now(), deadline);
  EXPECT_EQ(n, 0u);

  auto fd = EventFd::create(1).value();
  int calls = 0;
  const SubscriberId id = add_counting(fd, calls);
  EXPECT_EQ(manager.run_until(TimerClock::now() - std::chrono::seconds(1)).value(), 1u) << "a past deadline polls once";
  EXPECT_EQ(manager.run_until(TimerClock::time_point{}).value(), 1u);
  EXPECT_EQ(calls, 2);
  remove(id);
}

TEST_F(Run, ExceptionsPropagateFromRunForRunUntilAndRunStop) {
  auto fd = EventFd::create(1).value();
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [](Events, EventOps&) { throw std::runtime_error("from process()"); };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_THROW((void)manager.run_for(milliseconds(kWaitMs)), std::runtime_error);
  EXPECT_THROW((void)manager.run_until(TimerClock::now() + milliseconds(kWaitMs)), std::runtime_error);
  std::stop_source never;
  EXPECT_THROW((void)manager.run(never.get_token()), std::runtime_error);
  remove(id);
}

// --- run(std::stop_token) ------------------------------------------------------------

TEST_F(Run, StopAlreadyRequestedReturnsAtOnceWithoutPollingAndLeavesNoKick) {
  auto fd = EventFd::create(1).value();
  int calls = 0;
  const SubscriberId id = add_counting(fd, calls);
  std::stop_source stop;
  stop.request_stop();
  EXPECT_TRUE(manager.run(stop.get_token()).has_value());
  EXPECT_EQ(calls, 0) << "it polled: a ready fd was dispatched";
  EXPECT_EQ(manager.run_with_timeout(0).value(), 1u) << "only the ready fd: no kick was left behind";
  remove(id);
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
}

TEST_F(Run, StopFromAnotherThreadEndsItWithinOneBatch) {
  std::stop_source stop;
  auto running = std::async(std::launch::async, [&] { return manager.run(stop.get_token()); });
  std::this_thread::sleep_for(milliseconds(50));
  const auto took = timed([&] {
    stop.request_stop();
    EXPECT_TRUE(test::await(running, "run(stop) after request_stop()", milliseconds(kWaitMs)).has_value());
  });
  EXPECT_LT(took, milliseconds(kWaitMs));
  (void)manager.run_with_timeout(0);  // the stop may leave one kick pending
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
}

TEST_F(Run, StopFromProcessEndsItAfterThatBatchWithoutAKick) {
  auto fd = EventFd::create(1).value();  // stays readable: every batch has its event
  std::stop_source stop;
  int calls = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [&](Events, EventOps&) {
    if (++calls == 3) stop.request_stop();
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  auto running = std::async(std::launch::async, [&] { return manager.run(stop.get_token()); });
  EXPECT_TRUE(test::await(running, "run(stop) stopped from process()", milliseconds(kWaitMs)).has_value());
  EXPECT_EQ(calls, 3) << "the loop went on after the batch that requested the stop";
  EXPECT_EQ(manager.run_with_timeout(0).value(), 1u) << "the stop from the loop thread left a kick behind";
  remove(id);
}

// --- Reentrant from callbacks -----------------------------------------------------------

TEST_F(Run, EveryRunVariantIsReentrantFromProcessAndInit) {
  auto fd = EventFd::create(1).value();
  std::vector<std::string> results;
  auto try_all = [&](const char* where) {
    const auto reentrant = make_error_code(Error::Reentrant);
    auto expect = [&](const char* what, std::error_code got) {
      EXPECT_EQ(got, reentrant) << what << " from " << where;
      results.push_back(what);
    };
    expect("run_with_timeout(ns)", manager.run_with_timeout(nanoseconds(0)).error());
    expect("run_for", manager.run_for(milliseconds(1)).error());
    expect("run_until", manager.run_until(TimerClock::now()).error());
    std::stop_source stop;
    expect("run(stop)", manager.run(stop.get_token()).error());
  };
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    try_all("init()");
    ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  };
  l.on_process = [&](Events, EventOps&) { try_all("process()"); };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(results.size(), 8u);
  remove(id);
}

// --- for_each_subscriber() and subscriber_count() ------------------------------------

TEST(ForEachSubscriber, VisitsSubscribersInTheOrderAddedConstToo) {
  auto manager = EventManager<Counter>::create().value();
  EXPECT_EQ(manager.subscriber_count(), 0u);
  std::vector<SubscriberId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(manager.add_subscriber(Counter{}));
  ASSERT_TRUE(manager.remove_subscriber(ids[1]).has_value());
  ids.erase(ids.begin() + 1);
  ids.push_back(manager.add_subscriber(Counter{}));  // may reuse the freed slot: still last
  EXPECT_EQ(manager.subscriber_count(), 4u);

  std::vector<SubscriberId> visited;
  manager.for_each_subscriber([&](SubscriberId id, Counter& counter) {
    visited.push_back(id);
    counter.trigger();  // mutable access
  });
  EXPECT_EQ(visited, ids);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 4u);

  const auto& view = manager;
  std::vector<SubscriberId> visited_const;
  std::uint64_t total = 0;
  view.for_each_subscriber([&](SubscriberId id, const Counter& counter) {
    visited_const.push_back(id);
    total += counter.count();
  });
  EXPECT_EQ(visited_const, ids);
  EXPECT_EQ(total, 4u);
  EXPECT_EQ(view.subscriber_count(), 4u);
  for (SubscriberId id : ids) ASSERT_TRUE(manager.remove_subscriber(id).has_value());
  EXPECT_EQ(manager.subscriber_count(), 0u);
  manager.for_each_subscriber([](SubscriberId, Counter&) { ADD_FAILURE() << "no subscriber left"; });
}

// API.md: run_for(d) and run_until(deadline) "run batches until the deadline
// has passed (at least one poll)". The earliest deadlines have passed long
// ago; computing the time left as `deadline - now()` overflows for them
// (signed overflow, undefined; in practice a huge positive wait).
TEST_F(Run, RunUntilTheEarliestTimePointAndRunForTheMostNegativeDurationPollOnce) {
  auto took = timed([&] {
    DelayedKick safety_net(manager.remote_endpoint(), milliseconds(kWaitMs));
    EXPECT_TRUE(manager.run_until(TimerClock::time_point::min()).has_value());
  });
  EXPECT_LT(took, milliseconds(kWaitMs / 2)) << "run_until(time_point::min()) waited instead of polling";
  took = timed([&] {
    DelayedKick safety_net(manager.remote_endpoint(), milliseconds(kWaitMs));
    EXPECT_TRUE(manager.run_for(TimerClock::duration::min()).has_value());
  });
  EXPECT_LT(took, milliseconds(kWaitMs / 2)) << "run_for(duration::min()) waited instead of polling";
  (void)manager.run_with_timeout(0);  // a safety-net kick, if one fired
}
