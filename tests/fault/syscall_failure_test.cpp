// Injected syscall failures (see fault_injection.hpp): for every operation,
// every syscall it makes (k = 1, 2, ... until the operation makes no more
// such calls) and every errno that syscall can return, the operation must
// report the error as documented, leave the manager exactly as it was (same
// registrations, triggers still dispatched, no half-registered fd, no
// orphaned table entry, no leaked fd, no lost or phantom remote request), and
// the next call must work.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "fault_injection.hpp"
#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"

namespace event_manager {
namespace {

using fault::Injection;
using fault::Sys;

std::error_code sys_error(int e) { return {e, std::system_category()}; }

std::string errno_name(int e) {
  switch (e) {
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EBADF: return "EBADF";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case ELOOP: return "ELOOP";
    case ENODEV: return "ENODEV";
    case EFAULT: return "EFAULT";
    case EIO: return "EIO";
  }
  return std::to_string(e);
}

/// Prints the number of failure points injected when the program ends.
class CountReporter : public ::testing::Environment {
 public:
  void TearDown() override { std::printf("[fault] failure points injected: %zu\n", fault::total_injected()); }
};
[[maybe_unused]] const auto* const reporter = ::testing::AddGlobalTestEnvironment(new CountReporter);

// --- The rig: a manager with two subscribers and eight eventfds ----------------

struct Record {
  int fd;
  std::uint32_t data;
  std::uint32_t bits;
  friend bool operator==(const Record&, const Record&) = default;
  friend auto operator<=>(const Record&, const Record&) = default;
};

struct Log {
  std::vector<Record> events;
};

struct Probe {
  std::shared_ptr<Log> log;
  std::vector<std::pair<int, std::uint32_t>> initial;
  void init(EventOps& ops) {
    for (auto [fd, data] : initial) {
      if (!ops.add(Events::with_data(fd, data, EventSet::in))) throw std::runtime_error("init add");
    }
  }
  void process(Events ev, EventOps&) { log->events.push_back({ev.fd(), ev.data(), ev.event_set().bits()}); }
};

using Manager = EventManager<Probe>;

/// Subscriber a owns fds 0-3 (data 100 + i), b owns 4-5; 6 and 7 are free.
struct Rig {
  std::vector<EventFd> fds;
  std::shared_ptr<Log> log = std::make_shared<Log>();
  Manager m;
  SubscriberId a;
  SubscriberId b;

  Rig() : fds(make_fds()), m(Manager::create().value()) {
    a = m.add_subscriber(Probe{log, {{fd(0), 100}, {fd(1), 101}, {fd(2), 102}, {fd(3), 103}}});
    b = m.add_subscriber(Probe{log, {{fd(4), 104}, {fd(5), 105}}});
  }
  static std::vector<EventFd> make_fds() {
    std::vector<EventFd> v;
    for (int i = 0; i < 8; ++i) v.push_back(EventFd::create().value());
    return v;
  }
  int fd(int i) const { return fds[static_cast<std::size_t>(i)].fd(); }
  EventOps ops(SubscriberId id) { return m.event_ops(id).value(); }

  /// registered() of every (subscriber, fd) pair, as text.
  std::vector<std::string> snapshot() {
    std::vector<std::string> out;
    for (SubscriberId id : {a, b}) {
      auto ops = m.event_ops(id);
      for (const auto& f : fds) {
        std::string line = std::to_string(id.value()) + "/" + std::to_string(f.fd()) + ": ";
        if (!ops) {
          line += "id " + ops.error().message();
        } else if (auto r = ops->registered(f.fd())) {
          line += "data " + std::to_string(r->data()) + " bits " + std::to_string(r->event_set().bits());
        } else {
          line += r.error().message();
        }
        out.push_back(line);
      }
    }
    return out;
  }

  /// Every registration the manager reports, for the dispatch check.
  std::vector<Events> registrations() {
    std::vector<Events> out;
    for (SubscriberId id : {a, b}) {
      auto ops = m.event_ops(id);
      if (!ops) continue;
      for (const auto& f : fds) {
        if (auto r = ops->registered(f.fd())) out.push_back(*r);
      }
    }
    return out;
  }

  /// Triggers every eventfd and checks that exactly the registered ones are
  /// dispatched once, with their data; then clears them and checks that
  /// nothing (but `out` registrations) is dispatched again.
  void check_dispatch() {
    const auto regs = registrations();
    for (int phase = 0; phase < 2; ++phase) {
      std::vector<Record> expected;
      for (const Events& r : regs) {
        std::uint32_t bits = 0;
        if (phase == 0 && r.event_set().contains(EventSet::in)) bits |= EventSet::in.bits();
        if (r.event_set().contains(EventSet::out)) bits |= EventSet::out.bits();
        if (bits != 0) expected.push_back({r.fd(), r.data(), bits});
      }
      if (phase == 0) {
        for (const auto& f : fds) ASSERT_TRUE(f.write(1));
      }
      log->events.clear();
      auto n = m.run_with_timeout(0);
      ASSERT_TRUE(n) << n.error().message();
      auto got = log->events;
      std::sort(got.begin(), got.end());
      std::sort(expected.begin(), expected.end());
      ASSERT_EQ(got, expected) << "phase " << phase;
      if (phase == 0) {
        for (const auto& f : fds) ASSERT_TRUE(f.read());
      }
    }
    log->events.clear();
  }
};

/// Runs `body(nth, error)` for nth = 1, 2, ... while the injected failure
/// happens, for every error in `errors`; returns the number of failure points.
template <class Body>
int for_each_failure(Sys sys, const std::vector<int>& errors, Body body) {
  int points = 0;
  for (int error : errors) {
    for (int nth = 1;; ++nth) {
      SCOPED_TRACE(std::string(fault::name(sys)) + " call " + std::to_string(nth) + " fails with " + errno_name(error));
      bool fired = false;
      body(nth, error, fired);
      if (::testing::Test::HasFatalFailure() || !fired) break;
      ++points;
      if (nth > 64) {
        ADD_FAILURE() << "operation keeps making calls";
        break;
      }
    }
  }
  return points;
}

class SyscallFailure : public ::testing::Test {
 protected:
  void SetUp() override { baseline_ = test::open_fds(); }
  void TearDown() override { EXPECT_EQ(test::open_fds(), baseline_) << "fd leaked"; }
  void expect_no_leak() { EXPECT_EQ(test::open_fds(), baseline_) << "fd leaked"; }
  std::set<int> baseline_;
};

// --- create() ------------------------------------------------------------------

TEST_F(SyscallFailure, CreateReportsEveryFailureAndLeaksNothing) {
  int points = 0;
  const std::vector<std::pair<Sys, std::vector<int>>> plans = {
      {Sys::epoll_create1, {EMFILE, ENFILE, ENOMEM, EINVAL}},
      {Sys::eventfd, {EMFILE, ENFILE, ENOMEM, EINVAL, ENODEV}},
      {Sys::epoll_ctl, {ENOMEM, ENOSPC, EINVAL, EPERM, EBADF}},
  };
  for (const auto& [sys, errors] : plans) {
    points += for_each_failure(sys, errors, [&](int nth, int error, bool& fired) {
      {
        Injection inject(sys, nth, error);
        auto m = Manager::create();
        fired = inject.fired();
        if (!fired) {
          ASSERT_TRUE(m);
          return;
        }
        ASSERT_FALSE(m);
        EXPECT_EQ(m.error(), sys_error(error));
      }
      expect_no_leak();
      Rig rig;  // the next create() works
      rig.check_dispatch();
    });
  }
  EXPECT_EQ(points, 4 + 5 + 5);
}

// --- add() -----------------------------------------------------------------------

TEST_F(SyscallFailure, AddLeavesNothingRegisteredAndNextAddWorks) {
  const int points =
      for_each_failure(Sys::epoll_ctl, {ENOMEM, ENOSPC, EBADF, EINVAL, EPERM, ELOOP, ENOENT, EEXIST},
                       [&](int nth, int error, bool& fired) {
                         Rig rig;
                         const auto before = rig.snapshot();
                         auto ops = rig.ops(rig.a);
                         {
                           Injection inject(Sys::epoll_ctl, nth, error);
                           auto r = ops.add(Events::with_data(rig.fd(6), 66, EventSet::in));
                           fired = inject.fired();
                           if (!fired) return;
                           ASSERT_FALSE(r);
                           // An injected EEXIST makes the manager try to take a leftover
                           // registration over with MOD, which the kernel refuses (ENOENT).
                           EXPECT_EQ(r.error(), sys_error(error == EEXIST ? ENOENT : error));
                         }
                         EXPECT_EQ(rig.snapshot(), before);
                         rig.check_dispatch();
                         ASSERT_TRUE(ops.add(Events::with_data(rig.fd(6), 66, EventSet::in)));  // no orphaned entry
                         rig.check_dispatch();
                       });
  EXPECT_EQ(points, 8);
}

TEST_F(SyscallFailure, AddTakingOverALeftoverRegistrationFailsCleanly) {
  // fd 0 is closed behind the manager's back while a dup keeps the file
  // open, then removed: the kernel keeps (file, fd 0). Re-adding the same
  // file under the same number takes it over: ADD (EEXIST) then MOD.
  int points = for_each_failure(Sys::epoll_ctl, {ENOMEM, ENOSPC, EBADF, EINVAL, EPERM, ENOENT},
                                [&](int nth, int error, bool& fired) {
                                  Rig rig;
                                  const int x = rig.fd(0);
                                  auto dup = rig.fds[0].try_clone().value();
                                  ASSERT_EQ(::close(x), 0);
                                  auto ops = rig.ops(rig.a);
                                  ASSERT_TRUE(ops.remove(Events::empty(x)));  // EBADF from the kernel: freed anyway
                                  ASSERT_EQ(::dup2(dup.fd(), x), x);          // the same file under the same number
                                  const auto before = rig.snapshot();
                                  {
                                    Injection inject(Sys::epoll_ctl, nth, error);
                                    auto r = ops.add(Events::with_data(x, 7, EventSet::in));
                                    fired = inject.fired();
                                    if (!fired) {
                                      ASSERT_TRUE(r);
                                      return;
                                    }
                                    ASSERT_FALSE(r);
                                    EXPECT_EQ(r.error(), sys_error(error));
                                  }
                                  EXPECT_EQ(rig.snapshot(), before);
                                  // The leftover still reports (run returns) but is never dispatched.
                                  rig.check_dispatch();
                                  ASSERT_TRUE(ops.add(Events::with_data(x, 7, EventSet::in)));
                                  rig.check_dispatch();
                                  ASSERT_TRUE(ops.remove(Events::empty(x)));
                                  // rig.fds[0] still owns number x and closes it.
                                });
  EXPECT_EQ(points, 12);  // the ADD and the MOD, six errors each
}

// --- modify() --------------------------------------------------------------------

TEST_F(SyscallFailure, ModifyKeepsTheOldRegistrationInForce) {
  struct Change {
    const char* what;
    EventSet from;
    EventSet to;
    int calls;
  };
  const Change changes[] = {
      {"mask change", EventSet::in, EventSet::in | EventSet::out, 1},
      {"one-shot re-arm", EventSet::in | EventSet::one_shot, EventSet::in | EventSet::one_shot, 1},
      {"data only", EventSet::in, EventSet::in, 0},
  };
  for (const Change& change : changes) {
    SCOPED_TRACE(change.what);
    const int points =
        for_each_failure(Sys::epoll_ctl, {ENOMEM, EBADF, EINVAL, ENOENT, EPERM}, [&](int nth, int error, bool& fired) {
          Rig rig;
          auto ops = rig.ops(rig.a);
          if (change.from != EventSet::in) {
            ASSERT_TRUE(ops.modify(Events::with_data(rig.fd(0), 100, change.from)));
          }
          const auto before = rig.snapshot();
          {
            Injection inject(Sys::epoll_ctl, nth, error);
            auto r = ops.modify(Events::with_data(rig.fd(0), 555, change.to));
            fired = inject.fired();
            if (!fired) {
              ASSERT_TRUE(r);
              return;
            }
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error(), sys_error(error));
          }
          EXPECT_EQ(rig.snapshot(), before);  // old mask, old data
          if (change.from == EventSet::in) rig.check_dispatch();
          ASSERT_TRUE(ops.modify(Events::with_data(rig.fd(0), 555, change.to)));
          auto now = ops.registered(rig.fd(0));
          ASSERT_TRUE(now);
          EXPECT_EQ(now->data(), 555u);
          EXPECT_EQ(now->event_set(), change.to);
          if (change.to.contains(EventSet::one_shot)) {
            ASSERT_TRUE(ops.modify(Events::with_data(rig.fd(0), 555, EventSet::in)));
          }
          rig.check_dispatch();
        });
    EXPECT_EQ(points, 5 * change.calls);
  }
}

// --- remove() --------------------------------------------------------------------

TEST_F(SyscallFailure, RemoveKeepsTheRegistrationOnUnexpectedErrors) {
  const int points = for_each_failure(Sys::epoll_ctl, {ENOMEM, EINVAL, EPERM}, [&](int nth, int error, bool& fired) {
    Rig rig;
    auto ops = rig.ops(rig.a);
    const auto before = rig.snapshot();
    {
      Injection inject(Sys::epoll_ctl, nth, error);
      auto r = ops.remove(Events::empty(rig.fd(1)));
      fired = inject.fired();
      if (!fired) return;
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), sys_error(error));
    }
    EXPECT_EQ(rig.snapshot(), before);  // still registered, still dispatched
    rig.check_dispatch();
    ASSERT_TRUE(ops.remove(Events::empty(rig.fd(1))));
    EXPECT_EQ(ops.registered(rig.fd(1)).error(), make_error_code(Error::FdNotRegistered));
    rig.check_dispatch();
  });
  EXPECT_EQ(points, 3);
}

TEST_F(SyscallFailure, RemoveTreatsEbadfAndEnoentAsGone) {
  // Documented: EBADF / ENOENT mean "not registered any more" (closed, or the
  // number reused). When injected, the kernel still holds the registration:
  // its events must be dropped, and a re-add must take it over.
  const int points = for_each_failure(Sys::epoll_ctl, {EBADF, ENOENT}, [&](int nth, int error, bool& fired) {
    Rig rig;
    auto ops = rig.ops(rig.a);
    {
      Injection inject(Sys::epoll_ctl, nth, error);
      auto r = ops.remove(Events::empty(rig.fd(1)));
      fired = inject.fired();
      ASSERT_TRUE(r);
      if (!fired) return;
    }
    EXPECT_EQ(ops.registered(rig.fd(1)).error(), make_error_code(Error::FdNotRegistered));
    rig.check_dispatch();  // fd 1 is not dispatched although the kernel reports it
    auto ops_b = rig.ops(rig.b);
    ASSERT_TRUE(ops_b.add(Events::with_data(rig.fd(1), 9, EventSet::in)));  // takes it over
    rig.check_dispatch();
  });
  EXPECT_EQ(points, 2);
}

// --- remove_subscriber() ---------------------------------------------------------

TEST_F(SyscallFailure, RemoveSubscriberSucceedsWhateverDelReturns) {
  const int points = for_each_failure(Sys::epoll_ctl, {EBADF, ENOENT, ENOMEM}, [&](int nth, int error, bool& fired) {
    Rig rig;
    const auto b_before = [&] {
      auto s = rig.snapshot();
      return std::vector<std::string>(s.begin() + 8, s.end());
    }();
    {
      Injection inject(Sys::epoll_ctl, nth, error);
      auto removed = rig.m.remove_subscriber(rig.a);
      fired = inject.fired();
      ASSERT_TRUE(removed);
      EXPECT_EQ(removed->initial.size(), 4u);
    }
    EXPECT_EQ(rig.m.event_ops(rig.a).error(), make_error_code(Error::InvalidId));
    EXPECT_EQ(rig.m.subscriber_mut(rig.a), nullptr);
    const auto after = rig.snapshot();
    EXPECT_EQ(std::vector<std::string>(after.begin() + 8, after.end()), b_before);
    rig.check_dispatch();  // only b's fds, even where the kernel kept a's
    auto ops_b = rig.ops(rig.b);
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(ops_b.add(Events::with_data(rig.fd(i), 40u + static_cast<std::uint32_t>(i), EventSet::in)));
    }
    rig.check_dispatch();
  });
  EXPECT_EQ(points, 3 * 4);  // one DEL per fd of a
}

// --- add_subscriber() whose init() fails -------------------------------------------

/// Adds its fds (-1: none) in init(); throws if an add fails, or always when `always_throw`.
struct Thrower {
  std::shared_ptr<Log> log;
  int fd_a;
  int fd_b;
  bool always_throw;
  void init(EventOps& ops) {
    for (int fd : {fd_a, fd_b}) {
      if (fd < 0) continue;
      if (!ops.add(Events::with_data(fd, 77, EventSet::in))) throw std::runtime_error("add failed in init");
    }
    if (always_throw) throw std::runtime_error("init throws");
  }
  void process(Events ev, EventOps&) { log->events.push_back({ev.fd(), ev.data(), ev.event_set().bits()}); }
};

TEST_F(SyscallFailure, AddSubscriberRollsBackWhatInitAddedWhateverFails) {
  using ThrowerManager = EventManager<Thrower>;
  for (bool always_throw : {false, true}) {
    SCOPED_TRACE(always_throw ? "init throws after two adds (rollback DELs fail)" : "an add in init fails");
    const int points =
        for_each_failure(Sys::epoll_ctl, {ENOMEM, ENOSPC, EBADF, ENOENT}, [&](int nth, int error, bool& fired) {
          std::vector<EventFd> fds;
          for (int i = 0; i < 3; ++i) fds.push_back(EventFd::create().value());
          auto log = std::make_shared<Log>();
          auto m = ThrowerManager::create().value();
          // A subscriber that keeps fds[2] throughout.
          const SubscriberId keeper = m.add_subscriber(Thrower{log, fds[2].fd(), -1, false});
          (void)keeper;
          bool threw = false;
          SubscriberId id;
          {
            Injection inject(Sys::epoll_ctl, always_throw ? nth + 2 : nth, error);
            try {
              id = m.add_subscriber(Thrower{log, fds[0].fd(), fds[1].fd(), always_throw});
            } catch (const std::runtime_error&) {
              threw = true;
            }
            fired = inject.fired();
          }
          if (!fired) {
            if (always_throw) {
              EXPECT_TRUE(threw);
            }
            return;
          }
          ASSERT_TRUE(threw);
          // Nothing of the failed subscriber is left: its fds can be added
          // again (taking over any registration the kernel kept), and only
          // the keeper's fd and the re-added ones are dispatched.
          const SubscriberId again = m.add_subscriber(Thrower{log, fds[0].fd(), fds[1].fd(), false});
          for (const auto& f : fds) ASSERT_TRUE(f.write(1));
          auto n = m.run_with_timeout(0);
          ASSERT_TRUE(n);
          std::vector<Record> got = log->events;
          std::sort(got.begin(), got.end());
          std::vector<Record> expected = {
              {fds[0].fd(), 77, EPOLLIN}, {fds[1].fd(), 77, EPOLLIN}, {fds[2].fd(), 77, EPOLLIN}};
          std::sort(expected.begin(), expected.end());
          EXPECT_EQ(got, expected);
          EXPECT_TRUE(m.remove_subscriber(again));
        });
    // Two call sites each: the two ADDs, or the two rollback DELs.
    EXPECT_EQ(points, 4 * 2);
  }
}

// --- run() -------------------------------------------------------------------------

TEST_F(SyscallFailure, RunReportsWaitFailuresAndLosesNothing) {
  const int points =
      for_each_failure(Sys::epoll_wait, {EINTR, EBADF, EFAULT, EINVAL}, [&](int nth, int error, bool& fired) {
        Rig rig;
        auto endpoint = rig.m.remote_endpoint();
        int ran = 0;
        ASSERT_TRUE(endpoint.fire([&ran](SubscriberOps<Probe>&) { ++ran; }));
        for (const auto& f : rig.fds) ASSERT_TRUE(f.write(1));
        {
          Injection inject(Sys::epoll_wait, nth, error);
          auto r = rig.m.run_with_timeout(0);
          fired = inject.fired();
          if (!fired) return;
          if (error == EINTR) {
            ASSERT_TRUE(r);
            EXPECT_EQ(*r, 0u);  // documented: 0 on EINTR
          } else {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error(), sys_error(error));
          }
        }
        EXPECT_TRUE(rig.log->events.empty());
        EXPECT_EQ(ran, 0);
        auto r = rig.m.run_with_timeout(0);
        ASSERT_TRUE(r);
        EXPECT_EQ(*r, 6u + 1u);  // six registered fds and the wake-up
        EXPECT_EQ(rig.log->events.size(), 6u);
        EXPECT_EQ(ran, 1);
        for (const auto& f : rig.fds) ASSERT_TRUE(f.read());
        rig.check_dispatch();
        EXPECT_EQ(ran, 1);
      });
  EXPECT_EQ(points, 4);
}

// --- fire(), kick(), call_blocking() -------------------------------------------

TEST_F(SyscallFailure, FireWhoseWakeUpWriteFailsIsNotQueued) {
  for (bool earlier_pending : {false, true}) {
    SCOPED_TRACE(earlier_pending ? "a request already queued" : "queue empty");
    const int points =
        for_each_failure(Sys::write, {EAGAIN, EBADF, EINVAL, EIO, ENOSPC, EINTR}, [&](int nth, int error, bool& fired) {
          Rig rig;
          auto endpoint = rig.m.remote_endpoint();
          std::vector<int> order;
          if (earlier_pending) {
            ASSERT_TRUE(endpoint.fire([&order](SubscriberOps<Probe>&) { order.push_back(0); }));
          }
          auto token = std::make_shared<int>(0);
          {
            Injection inject(Sys::write, nth, error);
            auto r = endpoint.fire([&order, token](SubscriberOps<Probe>&) { order.push_back(1); });
            fired = inject.fired();
            if (!fired || error == EINTR) {
              ASSERT_TRUE(r);  // EINTR is retried
            } else {
              ASSERT_FALSE(r);
              EXPECT_EQ(r.error(), sys_error(error));
              EXPECT_EQ(token.use_count(), 1) << "a refused closure must be destroyed";
            }
          }
          const bool queued = !fired || error == EINTR;
          ASSERT_TRUE(endpoint.fire([&order](SubscriberOps<Probe>&) { order.push_back(2); }));
          auto n = rig.m.run_with_timeout(0);
          ASSERT_TRUE(n);
          EXPECT_EQ(*n, 1u);  // the wake-up
          std::vector<int> expected;
          if (earlier_pending) expected.push_back(0);
          if (queued) expected.push_back(1);
          expected.push_back(2);
          EXPECT_EQ(order, expected);
          EXPECT_EQ(token.use_count(), 1);
          rig.check_dispatch();
          EXPECT_EQ(order, expected);  // nothing runs twice
        });
    // With a request already queued no write is made: no failure point.
    EXPECT_EQ(points, earlier_pending ? 0 : 6);
  }
}

TEST_F(SyscallFailure, KickWhoseWriteFailsReportsIt) {
  const int points =
      for_each_failure(Sys::write, {EAGAIN, EBADF, EINVAL, EIO, EINTR}, [&](int nth, int error, bool& fired) {
        Rig rig;
        auto endpoint = rig.m.remote_endpoint();
        {
          Injection inject(Sys::write, nth, error);
          auto r = endpoint.kick();
          fired = inject.fired();
          if (!fired) return;
          if (error == EINTR) {
            ASSERT_TRUE(r);
          } else {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error(), sys_error(error));
          }
        }
        auto n = rig.m.run_with_timeout(0);
        ASSERT_TRUE(n);
        EXPECT_EQ(*n, error == EINTR ? 1u : 0u);
        ASSERT_TRUE(endpoint.kick());  // the next kick works and is seen
        n = rig.m.run_with_timeout(0);
        ASSERT_TRUE(n);
        EXPECT_EQ(*n, 1u);
        rig.check_dispatch();
      });
  EXPECT_EQ(points, 5);
}

TEST_F(SyscallFailure, CallBlockingWhoseWriteFailsReturnsAtOnce) {
  const int points = for_each_failure(Sys::write, {EAGAIN, EBADF, EINVAL, EIO}, [&](int nth, int error, bool& fired) {
    Rig rig;
    auto endpoint = rig.m.remote_endpoint();
    std::atomic<int> ran{0};
    // The plan is per thread: arm it on the calling thread.
    auto caller = std::async(std::launch::async, [&] {
      Injection inject(Sys::write, nth, error);
      auto r = endpoint.call_blocking([&ran](SubscriberOps<Probe>&) { return ++ran; });
      return std::make_pair(inject.fired(), r);
    });
    // Serve the loop until the caller returns (10 s at most).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (caller.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "call_blocking hangs";
      ASSERT_TRUE(rig.m.run_with_timeout(5));
    }
    auto [was_fired, r] = caller.get();
    fired = was_fired;
    if (!fired) {
      ASSERT_TRUE(r);
      return;
    }
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), sys_error(error));
    ASSERT_TRUE(rig.m.run_with_timeout(0));
    EXPECT_EQ(ran.load(), 0);
    // The next call works.
    auto next = std::async(std::launch::async,
                           [&] { return endpoint.call_blocking([&ran](SubscriberOps<Probe>&) { return ++ran; }); });
    while (next.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "call_blocking hangs";
      ASSERT_TRUE(rig.m.run_with_timeout(5));
    }
    auto second = next.get();
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, 1);
    rig.check_dispatch();
  });
  EXPECT_EQ(points, 4);
}

// --- EventFd and TimerFd -----------------------------------------------------------

TEST_F(SyscallFailure, EventFdCreateLeaksNothing) {
  int points =
      for_each_failure(Sys::eventfd, {EMFILE, ENFILE, ENOMEM, EINVAL, ENODEV}, [&](int nth, int error, bool& fired) {
        Injection inject(Sys::eventfd, nth, error);
        auto fd = EventFd::create();
        fired = inject.fired();
        if (!fired) return;
        ASSERT_FALSE(fd);
        EXPECT_EQ(fd.error(), sys_error(error));
      });
  // A start value above 32 bits is set by a write after eventfd().
  points += for_each_failure(Sys::write, {EAGAIN, EBADF, EINVAL, EIO}, [&](int nth, int error, bool& fired) {
    {
      Injection inject(Sys::write, nth, error);
      auto fd = EventFd::create(std::uint64_t{1} << 40);
      fired = inject.fired();
      if (!fired) {
        ASSERT_TRUE(fd);
        return;
      }
      ASSERT_FALSE(fd);
      EXPECT_EQ(fd.error(), sys_error(error));
    }
    expect_no_leak();
    auto fd = EventFd::create(std::uint64_t{1} << 40);
    ASSERT_TRUE(fd);
    EXPECT_EQ(fd->read().value(), std::uint64_t{1} << 40);
  });
  EXPECT_EQ(points, 5 + 4);
}

TEST_F(SyscallFailure, EventFdReadAndWriteKeepTheCounter) {
  auto fd = EventFd::create().value();
  int points = for_each_failure(Sys::write, {EAGAIN, EBADF, EINVAL, EIO, EINTR}, [&](int nth, int error, bool& fired) {
    Injection inject(Sys::write, nth, error);
    auto r = fd.write(5);
    fired = inject.fired();
    if (!fired) {
      ASSERT_TRUE(r);
      EXPECT_EQ(fd.read().value(), 5u);
      return;
    }
    if (error == EINTR) {
      ASSERT_TRUE(r);
      EXPECT_EQ(fd.read().value(), 5u);  // retried once, written once
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), sys_error(error));
      auto left = fd.read();
      ASSERT_FALSE(left) << "the failed write reached the counter";
      EXPECT_EQ(left.error(), std::errc::resource_unavailable_try_again);
    }
  });
  points += for_each_failure(Sys::read, {EAGAIN, EBADF, EINVAL, EIO, EINTR}, [&](int nth, int error, bool& fired) {
    ASSERT_TRUE(fd.write(3));
    std::optional<Result<std::uint64_t>> r;
    {
      Injection inject(Sys::read, nth, error);
      r = fd.read();
      fired = inject.fired();
    }
    if (!fired) {
      ASSERT_TRUE(*r);
      return;
    }
    if (error == EINTR) {
      ASSERT_TRUE(*r);
      EXPECT_EQ(**r, 3u);
    } else {
      ASSERT_FALSE(*r);
      EXPECT_EQ(r->error(), sys_error(error));
      EXPECT_EQ(fd.read().value(), 3u);  // the counter was not consumed
    }
  });
  EXPECT_EQ(points, 10);
}

TEST_F(SyscallFailure, TryCloneLeaksNothing) {
  auto fd = EventFd::create().value();
  const int points = for_each_failure(Sys::fcntl, {EMFILE, EBADF, EINVAL}, [&](int nth, int error, bool& fired) {
    Injection inject(Sys::fcntl, nth, error);
    auto clone = fd.try_clone();
    fired = inject.fired();
    if (!fired) return;
    ASSERT_FALSE(clone);
    EXPECT_EQ(clone.error(), sys_error(error));
  });
  EXPECT_EQ(points, 3);
}

TEST_F(SyscallFailure, TimerFdCreateAndReadReportFailures) {
  int points = for_each_failure(Sys::timerfd_create, {EMFILE, ENFILE, ENOMEM, EINVAL, ENODEV},
                                [&](int nth, int error, bool& fired) {
                                  Injection inject(Sys::timerfd_create, nth, error);
                                  auto t = TimerFd::create();
                                  fired = inject.fired();
                                  if (!fired) return;
                                  ASSERT_FALSE(t);
                                  EXPECT_EQ(t.error(), sys_error(error));
                                });
  auto timer = TimerFd::create().value();
  points += for_each_failure(Sys::read, {EBADF, EINVAL, EIO}, [&](int nth, int error, bool& fired) {
    ASSERT_TRUE(timer.arm(std::chrono::nanoseconds(1)));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it expire
    std::optional<Result<std::uint64_t>> r;
    {
      Injection inject(Sys::read, nth, error);
      r = timer.read();
      fired = inject.fired();
    }
    if (!fired) return;
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error(), sys_error(error));
    auto expirations = timer.read();  // the expiration was not consumed
    ASSERT_TRUE(expirations) << expirations.error().message();
    EXPECT_GE(*expirations, 1u);
  });
  EXPECT_EQ(points, 5 + 3);
}

// --- v4: epoll_pwait2 and its fallback ------------------------------------------------

/// How many calls of `sys` this thread makes in `f()` (a plan that never fires).
template <class F>
int count_calls(Sys sys, F&& f) {
  fault::arm(sys, 1 << 30, EIO);
  f();
  const int seen = fault::calls_seen();
  (void)fault::disarm();
  return seen;
}

/// run_with_timeout(t) must succeed with nothing ready and take at least t.
void expect_waits_at_least(Manager& m, std::chrono::nanoseconds t) {
  const auto start = std::chrono::steady_clock::now();
  auto n = m.run_with_timeout(t);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 0u);
  EXPECT_GE(took, t) << "returned early for " << t.count() << " ns";
}

TEST_F(SyscallFailure, EpollPwait2RefusedWithEnosysOrEpermFallsBackForGoodRoundingUp) {
  using std::chrono::microseconds;
  using std::chrono::nanoseconds;
  for (int error : {ENOSYS, EPERM}) {
    SCOPED_TRACE(errno_name(error));
    Rig rig;
    EXPECT_EQ(count_calls(Sys::epoll_pwait2, [&] { (void)rig.m.run_with_timeout(nanoseconds(1)); }), 1)
        << "a nanosecond wait uses epoll_pwait2";
    {
      Injection inject(Sys::epoll_pwait2, 1, error);
      expect_waits_at_least(rig.m, microseconds(1500));  // refused, then epoll_wait(2 ms)
      EXPECT_TRUE(inject.fired());
    }
    const int pwait2_calls = count_calls(Sys::epoll_pwait2, [&] {
      expect_waits_at_least(rig.m, microseconds(1500));
      expect_waits_at_least(rig.m, microseconds(200));  // 1 ms, not a poll
      expect_waits_at_least(rig.m, nanoseconds(1));
      ASSERT_TRUE(rig.fds[0].write(1));
      auto n = rig.m.run_with_timeout(std::chrono::seconds(2));  // an event ends the wait
      ASSERT_TRUE(n);
      EXPECT_EQ(*n, 1u);
      ASSERT_TRUE(rig.fds[0].read());
      ASSERT_TRUE(rig.m.remote_endpoint().kick());
      n = rig.m.run_with_timeout(nanoseconds::max());  // forever, ended by the kick
      ASSERT_TRUE(n);
      EXPECT_EQ(*n, 1u);
    });
    EXPECT_EQ(pwait2_calls, 0) << "epoll_pwait2 was called again after " << errno_name(error);
    EXPECT_EQ(count_calls(Sys::epoll_wait, [&] { expect_waits_at_least(rig.m, microseconds(100)); }), 1);
    rig.log->events.clear();
    // For good, but only for that manager.
    Rig other;
    EXPECT_EQ(count_calls(Sys::epoll_pwait2, [&] { (void)other.m.run_with_timeout(nanoseconds(1)); }), 1);
  }
}

TEST_F(SyscallFailure, EpollPwait2OtherErrorsAreReturnedWithoutFallingBack) {
  using std::chrono::milliseconds;
  using std::chrono::nanoseconds;
  for (int error : {EINVAL, EBADF, EFAULT, ENOMEM}) {
    SCOPED_TRACE(errno_name(error));
    Rig rig;
    ASSERT_TRUE(rig.fds[0].write(1));
    {
      Injection inject(Sys::epoll_pwait2, 1, error);
      auto n = rig.m.run_with_timeout(milliseconds(1));
      ASSERT_TRUE(inject.fired());
      ASSERT_FALSE(n);
      EXPECT_EQ(n.error(), sys_error(error));
    }
    EXPECT_TRUE(rig.log->events.empty());
    EXPECT_EQ(count_calls(Sys::epoll_pwait2,
                          [&] {
                            auto n = rig.m.run_with_timeout(milliseconds(1));
                            ASSERT_TRUE(n);
                            EXPECT_EQ(*n, 1u) << "the event is still reported";
                          }),
              1)
        << "fell back after " << errno_name(error);
    ASSERT_TRUE(rig.fds[0].read());
    rig.log->events.clear();
    rig.check_dispatch();
  }
  // EINTR is zero events, not an error, and no reason to fall back either.
  Rig rig;
  {
    Injection inject(Sys::epoll_pwait2, 1, EINTR);
    auto n = rig.m.run_with_timeout(milliseconds(1));
    ASSERT_TRUE(inject.fired());
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 0u);
  }
  EXPECT_EQ(count_calls(Sys::epoll_pwait2, [&] { (void)rig.m.run_with_timeout(nanoseconds(1)); }), 1);
}

TEST_F(SyscallFailure, RunForRunUntilAndRunStopReturnTheFirstErrorOfABatch) {
  Rig rig;
  {
    Injection inject(Sys::epoll_pwait2, 1, EBADF);
    auto r = rig.m.run_for(std::chrono::seconds(5));
    ASSERT_TRUE(inject.fired());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), sys_error(EBADF));
  }
  {
    Injection inject(Sys::epoll_pwait2, 1, EINVAL);
    auto r = rig.m.run_until(TimerClock::now() + std::chrono::seconds(5));
    ASSERT_TRUE(inject.fired());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), sys_error(EINVAL));
  }
  {
    std::stop_source stop;
    Injection inject(Sys::epoll_wait, 1, EBADF);
    auto r = rig.m.run(stop.get_token());
    ASSERT_TRUE(inject.fired());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), sys_error(EBADF));
  }
  rig.check_dispatch();
}

// --- v4: run(stop) makes no syscall for a stop requested on the loop thread ----------

TEST_F(SyscallFailure, RunStopMakesNoSyscallForAStopAlreadyRequestedOrRequestedFromProcess) {
  auto fd = EventFd::create(1).value();  // stays readable: every batch has its event
  auto m = EventManager<test::Lambda>::create().value();
  std::stop_source stop;
  int calls = 0;
  test::Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in))); };
  l.on_process = [&](Events, EventOps&) {
    if (++calls == 2) stop.request_stop();
  };
  const SubscriberId id = m.add_subscriber(std::move(l));
  EXPECT_EQ(count_calls(Sys::write, [&] { ASSERT_TRUE(m.run(stop.get_token())); }), 0)
      << "the stop from process() wrote the wake-up eventfd";
  EXPECT_EQ(calls, 2);
  for (Sys sys : {Sys::epoll_wait, Sys::epoll_pwait2, Sys::write}) {
    EXPECT_EQ(count_calls(sys, [&] { ASSERT_TRUE(m.run(stop.get_token())); }), 0)
        << fault::name(sys) << ": an already requested stop must return without a syscall";
  }
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(m.remove_subscriber(id));
}

// --- v4: muting, pausing and resuming refused by the kernel ----------------------------

TEST_F(SyscallFailure, MutingRefusedByTheKernelKeepsTheOldRegistration) {
  const std::vector<int> errors = {ENOMEM, EBADF, ENOENT, EINVAL, EPERM};
  struct Case {
    const char* what;
    EventSet before;  // fd 0's registration before the change (empty: muted)
    EventSet after;
  };
  const Case cases[] = {
      {"mute (MOD)", EventSet::in, EventSet{}},
      {"unmute (MOD)", EventSet{}, EventSet::in},
      {"mute exclusive (DEL)", EventSet::in | EventSet::exclusive, EventSet{}},
      {"unmute exclusive (ADD)", EventSet{}, EventSet::in | EventSet::exclusive},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const int points = for_each_failure(Sys::epoll_ctl, errors, [&](int nth, int error, bool& fired) {
      Rig rig;
      auto ops = rig.ops(rig.a);
      const bool exclusive = c.before.contains(EventSet::exclusive) || c.after.contains(EventSet::exclusive);
      if (exclusive) {  // an exclusive registration is made by add(), not modify()
        ASSERT_TRUE(ops.remove(Events::empty(rig.fd(0))));
        ASSERT_TRUE(ops.add(Events::with_data(rig.fd(0), 100, EventSet::in | EventSet::exclusive)));
      }
      ASSERT_TRUE(ops.modify(Events::with_data(rig.fd(0), 100, c.before)));
      const auto before = rig.snapshot();
      {
        Injection inject(Sys::epoll_ctl, nth, error);
        auto r = ops.modify(Events::with_data(rig.fd(0), 100, c.after));
        fired = inject.fired();
        if (!fired) {
          ASSERT_TRUE(r);
          return;
        }
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), sys_error(error));
      }
      EXPECT_EQ(rig.snapshot(), before) << "strong guarantee";
      rig.check_dispatch();  // fd 0 dispatched exactly as before (not at all while muted)
      ASSERT_TRUE(ops.modify(Events::with_data(rig.fd(0), 100, c.after)));
      rig.check_dispatch();
    });
    EXPECT_EQ(points, static_cast<int>(errors.size()));
  }
}

TEST_F(SyscallFailure, PauseSucceedsWhenQuietingIsRefused) {
  const int points = for_each_failure(Sys::epoll_ctl, {EBADF, ENOMEM, ENOENT}, [&](int nth, int error, bool& fired) {
    Rig rig;
    const auto before = rig.snapshot();
    {
      Injection inject(Sys::epoll_ctl, nth, error);
      auto r = rig.m.pause(rig.a);
      fired = inject.fired();
      ASSERT_TRUE(r) << "pause() fails only with InvalidId";
    }
    EXPECT_TRUE(rig.m.paused(rig.a).value());
    EXPECT_EQ(rig.snapshot(), before);
    for (const auto& f : rig.fds) ASSERT_TRUE(f.write(1));
    ASSERT_TRUE(rig.m.run_with_timeout(0));
    for (const Record& r : rig.log->events) EXPECT_GE(r.data, 104u) << "a paused subscriber got an event";
    for (const auto& f : rig.fds) ASSERT_TRUE(f.read());
    rig.log->events.clear();
    ASSERT_TRUE(rig.m.resume(rig.a));
    rig.check_dispatch();
  });
  EXPECT_EQ(points, 3 * 4);  // one MOD per fd of a
}

TEST_F(SyscallFailure, ResumeRefusedRearmReturnsTheErrorRearmsTheOthersAndResumes) {
  const int points =
      for_each_failure(Sys::epoll_ctl, {EBADF, ENOMEM, ENOSPC, ENOENT, EINVAL}, [&](int nth, int error, bool& fired) {
        Rig rig;
        const auto before = rig.snapshot();
        ASSERT_TRUE(rig.m.pause(rig.a));
        {
          Injection inject(Sys::epoll_ctl, nth, error);
          auto r = rig.m.resume(rig.a);
          fired = inject.fired();
          if (!fired) {
            ASSERT_TRUE(r);
            return;
          }
          ASSERT_FALSE(r);
          EXPECT_EQ(r.error(), sys_error(error));
        }
        EXPECT_FALSE(rig.m.paused(rig.a).value()) << "resumed all the same";
        EXPECT_EQ(rig.snapshot(), before) << "the refused fd stays registered";
        for (const auto& f : rig.fds) ASSERT_TRUE(f.write(1));
        ASSERT_TRUE(rig.m.run_with_timeout(0));
        std::set<std::uint32_t> got;
        for (const Record& r : rig.log->events) got.insert(r.data);
        for (const auto& f : rig.fds) ASSERT_TRUE(f.read());
        EXPECT_TRUE(got.contains(104) && got.contains(105)) << "the other subscriber lost events";
        int a_fds = 0;
        for (std::uint32_t d = 100; d < 104; ++d) a_fds += got.contains(d) ? 1 : 0;
        EXPECT_GE(a_fds, 3) << "the fds whose re-arm was not refused must be re-armed";
        rig.log->events.clear();
        // modify() re-arms the refused one (its mask differs from what the kernel holds).
        auto ops = rig.ops(rig.a);
        for (int i = 0; i < 4; ++i) {
          ASSERT_TRUE(ops.modify(Events::with_data(rig.fd(i), 100u + static_cast<std::uint32_t>(i), EventSet::in)));
        }
        rig.check_dispatch();
      });
  EXPECT_EQ(points, 5 * 4);  // one MOD per fd of a
}

// pause(), resume() (and remove_subscriber()) cost O(the subscriber's own fds):
// at most one epoll_ctl per own fd each way, none for the other subscribers' fds.
TEST_F(SyscallFailure, PauseAndResumeMakeAtMostOneEpollCtlPerOwnFd) {
  Rig rig;
  auto ops_b = rig.ops(rig.b);
  ASSERT_TRUE(ops_b.add(Events::with_data(rig.fd(6), 106, EventSet::in | EventSet::edge_triggered)));
  ASSERT_TRUE(ops_b.add(Events::with_data(rig.fd(7), 107, EventSet::in | EventSet::one_shot)));
  EXPECT_EQ(count_calls(Sys::epoll_ctl, [&] { ASSERT_TRUE(rig.m.pause(rig.a)); }), 4);
  EXPECT_EQ(count_calls(Sys::epoll_ctl, [&] { ASSERT_TRUE(rig.m.pause(rig.a)); }), 0) << "already paused";
  EXPECT_EQ(count_calls(Sys::epoll_ctl, [&] { ASSERT_TRUE(rig.m.resume(rig.a)); }), 4);
  EXPECT_EQ(count_calls(Sys::epoll_ctl, [&] { ASSERT_TRUE(rig.m.resume(rig.a)); }), 0) << "already running";
  EXPECT_LE(count_calls(Sys::epoll_ctl, [&] { ASSERT_TRUE(rig.m.pause(rig.b)); }), 4);
  EXPECT_LE(count_calls(Sys::epoll_ctl, [&] { ASSERT_TRUE(rig.m.resume(rig.b)); }), 4);
  ASSERT_TRUE(ops_b.remove(Events::empty(rig.fd(6))));
  ASSERT_TRUE(ops_b.remove(Events::empty(rig.fd(7))));
  rig.check_dispatch();
}

}  // namespace
}  // namespace event_manager

namespace event_manager {
namespace {

// --- The syscalls every path reaches: timerfd_settime() and close() ----------------

TEST_F(SyscallFailure, TimerFdArmReportsSettimeFailureAndKeepsTheOldSetting) {
  auto timer = TimerFd::create().value();
  const int points =
      for_each_failure(Sys::timerfd_settime, {EINVAL, EBADF, ECANCELED}, [&](int nth, int error, bool& fired) {
        Injection inject(Sys::timerfd_settime, nth, error);
        auto armed = timer.arm(std::chrono::nanoseconds(1));
        fired = inject.fired();
        if (!fired) {  // armed for real: back to disarmed
          ASSERT_TRUE(armed);
          ASSERT_TRUE(timer.disarm());
          return;
        }
        ASSERT_FALSE(armed);
        EXPECT_EQ(armed.error(), sys_error(error));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto read = timer.read();  // still disarmed: nothing expired
        ASSERT_FALSE(read);
        EXPECT_EQ(read.error(), std::errc::resource_unavailable_try_again);
      });
  EXPECT_EQ(points, 3);
  ASSERT_TRUE(timer.disarm());  // disarm() goes through the same call
  Injection inject(Sys::timerfd_settime, 1, EINVAL);
  EXPECT_EQ(timer.disarm().error(), sys_error(EINVAL));
  EXPECT_TRUE(inject.fired());
}

TEST_F(SyscallFailure, EveryCloseGoesThroughTheSeamOnce) {
  auto manager = Manager::create().value();
  const int epoll_number = manager.epoll_fd();
  auto event_fd = EventFd::create().value();
  auto timer_fd = TimerFd::create().value();
  const int event_number = event_fd.fd();
  const int timer_number = timer_fd.fd();
  const std::set<int> opened_here = {epoll_number, event_number, timer_number};
  fault::CloseLog log;
  {
    auto gone = std::move(manager);
  }
  {
    auto gone = std::move(event_fd);
  }
  {
    auto gone = std::move(timer_fd);
  }
  for (int fd : opened_here) EXPECT_EQ(log.close_count(fd), 1) << "fd " << fd;
  // The manager's wake-up eventfd is the one other number it closed.
  EXPECT_EQ(log.closed().size(), 4u);
  for (int fd : log.closed()) EXPECT_EQ(log.close_count(fd), 1) << "fd " << fd << " closed twice";
}

TEST_F(SyscallFailure, CloseFailureIsIgnoredAndTheFdIsGone) {
  for (int error : {EINTR, EIO, EBADF}) {
    SCOPED_TRACE(errno_name(error));
    auto event_fd = EventFd::create().value();
    const int number = event_fd.fd();
    {
      Injection inject(Sys::close, 1, error);
      {
        auto gone = std::move(event_fd);
      }
      EXPECT_TRUE(inject.fired());
    }
    EXPECT_EQ(::fcntl(number, F_GETFD), -1);  // closed once, not retried, not leaked
    auto manager = Manager::create();
    ASSERT_TRUE(manager);
    Injection inject(Sys::close, 1, error);  // the first of the manager's two closes fails
    {
      auto gone = std::move(*manager);
    }
    EXPECT_TRUE(inject.fired());
    expect_no_leak();
  }
}

}  // namespace
}  // namespace event_manager

namespace event_manager {
namespace {

// --- call_blocking()'s semaphore ---------------------------------------------------

TEST_F(SyscallFailure, CallBlockingWaitRetriesAfterEintr) {
  auto m = Manager::create().value();
  auto endpoint = m.remote_endpoint();
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    while (!stop.load()) ASSERT_TRUE(m.run_with_timeout(10));
  });
  {
    Injection inject(Sys::sem_wait, 1, EINTR);
    auto answer = endpoint.call_blocking([](SubscriberOps<Probe>&) { return 42; });
    EXPECT_TRUE(inject.fired());
    ASSERT_TRUE(answer);
    EXPECT_EQ(*answer, 42);
  }
  stop = true;
  ASSERT_TRUE(endpoint.kick());
  loop.join();
}

TEST_F(SyscallFailure, CallBlockingWaitAbortsOnAnyOtherSemaphoreError) {
  // sem_wait() fails otherwise only for an invalid semaphore. The request still
  // points into the caller's frame, so returning would let the loop write into
  // a dead frame, and retrying would spin forever: the program stops, loudly.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ::alarm(10);  // bounds the wait of a build that retries: killed by SIGALRM, a wrong death
        auto m = Manager::create().value();
        auto endpoint = m.remote_endpoint();
        Injection inject(Sys::sem_wait, 1, EINVAL);
        (void)endpoint.call_blocking([](SubscriberOps<Probe>&) {});
      },
      "sem_wait failed");
}

}  // namespace
}  // namespace event_manager

namespace event_manager {
namespace {

// --- SignalFd ------------------------------------------------------------------------

TEST_F(SyscallFailure, SignalFdCreateReportsTheErrnoAndLeaksNothing) {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGUSR1);
  int points = 0;
  for (bool from_list : {false, true}) {
    points +=
        for_each_failure(Sys::signalfd, {EMFILE, ENFILE, ENOMEM, ENODEV, EINVAL}, [&](int nth, int error, bool& fired) {
          Injection inject(Sys::signalfd, nth, error);
          auto s = from_list ? SignalFd::create({SIGUSR1}) : SignalFd::create(set);
          fired = inject.fired();
          if (!fired) {
            ASSERT_TRUE(s);
            return;
          }
          ASSERT_FALSE(s);
          EXPECT_EQ(s.error(), sys_error(error));
        });
    expect_no_leak();
  }
  EXPECT_EQ(points, 2 * 5);
}

TEST_F(SyscallFailure, SignalFdReadReportsTheErrnoAndAnEmptySpanMakesNoSyscall) {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGUSR1);
  sigset_t previous;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &set, &previous), 0);
  {
    auto s = SignalFd::create(set).value();
    ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR1), 0);
    {
      Injection inject(Sys::read, 1, EIO);
      EXPECT_EQ(s.read(std::span<::signalfd_siginfo>()).value(), 0u);
      EXPECT_FALSE(inject.fired()) << "an empty span reached read()";
    }
    {
      Injection inject(Sys::read, 1, EIO);
      auto r = s.read();
      EXPECT_TRUE(inject.fired());
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), sys_error(EIO));
    }
    {
      Injection inject(Sys::read, 1, EINTR);  // retried
      auto r = s.read();
      EXPECT_TRUE(inject.fired());
      ASSERT_TRUE(r) << r.error().message();  // the failed read consumed nothing
      EXPECT_EQ(r->ssi_signo, static_cast<std::uint32_t>(SIGUSR1));
    }
  }
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &previous, nullptr), 0);
}

// --- Timers (v4) ------------------------------------------------------------------

namespace timers {

using namespace std::chrono_literals;
using Deadline = std::optional<TimerClock::time_point>;
constexpr int kWaitMs = 2000;  // the longest wait for something expected to happen

/// The timer expiries in the log, as data.
std::vector<std::uint32_t> expiries(const Log& log) {
  std::vector<std::uint32_t> out;
  for (const Record& r : log.events) {
    if (r.fd == -1 && r.bits == EventSet::timer.bits()) out.push_back(r.data);
  }
  return out;
}

}  // namespace timers

TEST_F(SyscallFailure, FirstAddTimerReportsTheTimerfdErrnoLeaksNothingAndTheNextWorks) {
  using namespace timers;
  // timerfd_create, then the EPOLL_CTL_ADD of the timerfd: the two syscalls
  // of the first add_timer() (when its number is free in the table).
  const std::vector<std::pair<Sys, std::vector<int>>> plans = {
      {Sys::timerfd_create, {EMFILE, ENFILE, ENOMEM, EINVAL, ENODEV}},
      {Sys::epoll_ctl, {ENOMEM, ENOSPC, EINVAL, EPERM, EBADF}},
  };
  int points = 0;
  for (const auto& [plan_sys, errors] : plans) {
    points += for_each_failure(plan_sys, errors, [&, sys = plan_sys](int nth, int error, bool& fired) {
      Rig rig;
      const auto before = rig.snapshot();
      const auto fds_before = test::open_fds();
      auto ops = rig.ops(rig.a);
      {
        Injection inject(sys, nth, error);
        auto t = ops.add_timer(1);
        fired = inject.fired();
        if (!fired) {
          ASSERT_TRUE(t) << t.error().message();
          return;
        }
        ASSERT_FALSE(t);
        EXPECT_EQ(t.error(), sys_error(error));
      }
      EXPECT_EQ(test::open_fds(), fds_before) << "the failed add_timer() left an fd open";
      EXPECT_EQ(rig.snapshot(), before);
      rig.check_dispatch();
      // The next add_timer() opens the kernel timer, and its timer fires.
      auto t = ops.add_timer(2);
      ASSERT_TRUE(t) << t.error().message();
      ASSERT_TRUE(ops.arm_timer(*t, 0ns));
      ASSERT_TRUE(rig.m.run_with_timeout(kWaitMs));
      EXPECT_EQ(expiries(*rig.log), (std::vector<std::uint32_t>{2}));
    });
  }
  EXPECT_EQ(points, 5 + 5);
}

TEST_F(SyscallFailure, FirstAddTimerReportsAFailedMoveOffATakenNumber) {
  using namespace timers;
  // The timerfd gets the number of an fd closed without remove(); moving it
  // above the table (fcntl F_DUPFD_CLOEXEC) fails.
  const int points = for_each_failure(Sys::fcntl, {EMFILE, EINVAL}, [&](int nth, int error, bool& fired) {
    Rig rig;
    auto ops = rig.ops(rig.a);
    const int closed = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // the lowest free number
    ASSERT_GE(closed, 0);
    ASSERT_TRUE(ops.add(Events(closed, EventSet::in)));
    ASSERT_EQ(::close(closed), 0);
    const auto fds_before = test::open_fds();
    {
      Injection inject(Sys::fcntl, nth, error);
      auto t = ops.add_timer(1);
      fired = inject.fired();
      if (!fired) {
        ASSERT_TRUE(t) << t.error().message();
        ASSERT_TRUE(ops.remove(Events::empty(closed)));
        return;
      }
      ASSERT_FALSE(t);
      EXPECT_EQ(t.error(), sys_error(error));
    }
    EXPECT_EQ(test::open_fds(), fds_before) << "the failed add_timer() left an fd open";
    auto t = ops.add_timer(2);
    ASSERT_TRUE(t) << t.error().message();
    ASSERT_TRUE(ops.remove(Events::empty(closed)));  // must not touch the timer
    ASSERT_TRUE(ops.arm_timer(*t, 1ms));
    for (int i = 0; i < 10 && expiries(*rig.log).empty(); ++i) ASSERT_TRUE(rig.m.run_with_timeout(kWaitMs));
    EXPECT_EQ(expiries(*rig.log), (std::vector<std::uint32_t>{2}));
  });
  EXPECT_EQ(points, 2);
}

TEST_F(SyscallFailure, ArmTimerReportsTheTimerfdSettimeErrnoAndChangesNothing) {
  using namespace timers;
  const int points =
      for_each_failure(Sys::timerfd_settime, {EINVAL, EBADF, EFAULT}, [&](int nth, int error, bool& fired) {
        Rig rig;
        auto ops = rig.ops(rig.a);
        const TimerId t = ops.add_timer(1).value();
        const TimerId other = ops.add_timer(2).value();
        // Unarmed: stays unarmed.
        {
          Injection inject(Sys::timerfd_settime, nth, error);
          auto r = ops.arm_timer(t, 5ms);
          fired = inject.fired();
          if (!fired) {
            ASSERT_TRUE(r) << r.error().message();
            return;
          }
          ASSERT_FALSE(r);
          EXPECT_EQ(r.error(), sys_error(error));
        }
        EXPECT_EQ(ops.timer_deadline(t).value(), Deadline());
        // Armed: keeps its deadline and period, through arm_timer() and arm_timer_at().
        const TimerClock::time_point later = TimerClock::now() + 1h;
        ASSERT_TRUE(ops.arm_timer_at(t, later));
        ASSERT_TRUE(ops.arm_timer_at(other, later + 1s));
        {
          Injection inject(Sys::timerfd_settime, nth, error);
          auto r = ops.arm_timer(t, 5ms, 1ms);
          ASSERT_TRUE(inject.fired());
          EXPECT_EQ(r.error(), sys_error(error));
        }
        {
          Injection inject(Sys::timerfd_settime, nth, error);
          auto r = ops.arm_timer_at(other, TimerClock::time_point{});
          ASSERT_TRUE(inject.fired());
          EXPECT_EQ(r.error(), sys_error(error));
        }
        EXPECT_EQ(ops.timer_deadline(t).value(), Deadline(later));
        EXPECT_EQ(ops.timer_deadline(other).value(), Deadline(later + 1s));
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(rig.m.run_with_timeout(10));
        EXPECT_TRUE(expiries(*rig.log).empty()) << "a refused arm_timer() took effect";
        // The next arm works.
        ASSERT_TRUE(ops.arm_timer(t, 1ms));
        for (int i = 0; i < 10 && expiries(*rig.log).empty(); ++i) ASSERT_TRUE(rig.m.run_with_timeout(kWaitMs));
        EXPECT_EQ(expiries(*rig.log), (std::vector<std::uint32_t>{1}));
        EXPECT_EQ(ops.timer_deadline(other).value(), Deadline(later + 1s));
      });
  EXPECT_EQ(points, 3);
}

// "Nothing changes" includes a timer's place among equal deadlines: a
// refused re-arm must not count as arming for the order of ties.
TEST_F(SyscallFailure, RefusedArmTimerKeepsTheTimersPlaceAmongTies) {
  using namespace timers;
  Rig rig;
  auto ops = rig.ops(rig.a);
  const TimerId first = ops.add_timer(1).value();
  const TimerId second = ops.add_timer(2).value();
  const TimerClock::time_point deadline = TimerClock::now() + 20ms;
  ASSERT_TRUE(ops.arm_timer_at(first, deadline));
  ASSERT_TRUE(ops.arm_timer_at(second, deadline));
  {
    Injection inject(Sys::timerfd_settime, 1, EINVAL);
    auto r = ops.arm_timer(first, 1ms);  // earlier: needs the kernel timer
    ASSERT_TRUE(inject.fired());
    EXPECT_EQ(r.error(), sys_error(EINVAL));
  }
  EXPECT_EQ(ops.timer_deadline(first).value(), Deadline(deadline));
  for (int i = 0; i < 10 && expiries(*rig.log).size() < 2; ++i) ASSERT_TRUE(rig.m.run_with_timeout(kWaitMs));
  EXPECT_EQ(expiries(*rig.log), (std::vector<std::uint32_t>{1, 2})) << "the refused re-arm moved timer 1 behind 2";
}

TEST_F(SyscallFailure, KernelTimerIsSetOnlyWhenTheEarliestDeadlineChanges) {
  using namespace timers;
  // API.md, Timers (v4), Cost: outside run() the kernel timer is updated only
  // when the earliest deadline changes; from callbacks at most once per run(),
  // at its end. Counted with a plan that never fires.
  Rig rig;
  auto ops = rig.ops(rig.a);
  std::vector<TimerId> t;
  auto settime_calls = [&](auto&& body) {
    Injection count(Sys::timerfd_settime, 1 << 30, EINVAL);
    body();
    return fault::calls_seen();
  };
  EXPECT_EQ(settime_calls([&] {
              for (std::uint32_t i = 0; i < 4; ++i) t.push_back(ops.add_timer(i).value());
            }),
            0);
  const auto now = TimerClock::now();
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.arm_timer_at(t[0], now + 1h)); }), 1);
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.arm_timer_at(t[1], now + 2h)); }), 0);
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.arm_timer_at(t[1], now + 3h, 1s)); }), 0);
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.arm_timer_at(t[2], now + 30min)); }), 1);
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.disarm_timer(t[1])); }), 0);
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.remove_timer(t[3])); }), 0);
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(ops.disarm_timer(t[2])); }), 1);  // the earliest: back to t[0]
  // From callbacks: a request re-arms every timer, each earlier than the last: one call, at the run's end.
  auto endpoint = rig.m.remote_endpoint();
  ASSERT_TRUE(endpoint.fire([&](SubscriberOps<Probe>&) {
    for (int round = 0; round < 10; ++round) {
      for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_TRUE(ops.arm_timer_at(t[i], now + 10h - std::chrono::minutes(round * 3 + static_cast<int>(i))));
      }
    }
  }));
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(rig.m.run_with_timeout(kWaitMs)); }), 1);
  // A run whose callbacks leave the earliest deadline alone: none.
  ASSERT_TRUE(endpoint.fire([&](SubscriberOps<Probe>&) { ASSERT_TRUE(ops.arm_timer_at(t[1], now + 20h)); }));
  EXPECT_EQ(settime_calls([&] { ASSERT_TRUE(rig.m.run_with_timeout(kWaitMs)); }), 0);
  EXPECT_TRUE(expiries(*rig.log).empty());
}

}  // namespace
}  // namespace event_manager
