// Muting (v4): modify(Events::empty(fd)) and add() with an empty set silence an
// fd, error and hang_up included; a muted fd wakes run() at most once; a later
// non-empty modify() re-arms it and the next run() reports it if it is ready.
// Also the v4 sentence on edge-triggered modify().
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <utility>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"

using namespace event_manager;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

/// Closes a raw fd at the end of the scope (socketpair and pipe ends).
class RawFd {
 public:
  explicit RawFd(int fd = -1) noexcept : fd_(fd) {}
  ~RawFd() { reset(); }
  RawFd(const RawFd&) = delete;
  RawFd& operator=(const RawFd&) = delete;
  int fd() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

/// A connected socketpair: closing one end hangs the other up.
struct SocketPair {
  RawFd a;
  RawFd b;
  static SocketPair make() {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    return SocketPair{RawFd(fds[0]), RawFd(fds[1])};
  }
};

/// A pipe: closing the read end puts EPOLLERR on the write end.
struct Pipe {
  RawFd read;
  RawFd write;
  static Pipe make() {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    return Pipe{RawFd(fds[0]), RawFd(fds[1])};
  }
};

/// A manager of Lambda subscribers that record every event they get.
class Muting : public ::testing::Test {
 protected:
  SubscriberId add_recorder() {
    Lambda l;
    l.on_process = [this](Events e, EventOps&) { seen.push_back(e); };
    return manager.add_subscriber(std::move(l));
  }
  EventOps ops(SubscriberId id) { return manager.event_ops(id).value(); }
  std::size_t run(int timeout_ms = kWaitMs) { return manager.run_with_timeout(timeout_ms).value(); }
  /// run_with_timeout(ms); the time it took goes to `took`.
  std::size_t timed_run(int timeout_ms, steady_clock::duration& took) {
    const auto start = steady_clock::now();
    const std::size_t n = run(timeout_ms);
    took = steady_clock::now() - start;
    return n;
  }

  EventManager<Lambda> manager = EventManager<Lambda>::create().value();
  std::vector<Events> seen;
};

}  // namespace

TEST_F(Muting, ModifyToTheEmptySetSilencesAReadableFd) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();  // readable until read
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 7, EventSet::in)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_TRUE(ops(id).modify(Events::empty(fd)).has_value());
  EXPECT_EQ(ops(id).registered(fd.fd()).value(), Events::empty(fd)) << "registered() shows the empty set";
  steady_clock::duration took{};
  EXPECT_EQ(timed_run(100, took), 0u);
  EXPECT_GE(took, milliseconds(100)) << "a muted readable fd woke run()";
  EXPECT_EQ(seen.size(), 1u);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Muting, MutedFdGetsNoErrorOrHangUp) {
  const SubscriberId id = add_recorder();
  auto sockets = SocketPair::make();
  auto pipe = Pipe::make();
  // Unmuted, both report what the kernel always reports: the registered set is
  // only `in`, yet the hang-up and the error arrive.
  ASSERT_TRUE(ops(id).add(Events(sockets.a.fd(), EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(pipe.write.fd(), EventSet::in)).has_value());
  sockets.b.reset();
  pipe.read.reset();
  EXPECT_EQ(run(), 2u);
  ASSERT_EQ(seen.size(), 2u);
  for (const Events& e : seen) {
    EXPECT_TRUE(e.event_set().intersects(EventSet::hang_up | EventSet::error)) << e.fd();
  }
  seen.clear();
  ASSERT_TRUE(ops(id).modify(Events::empty(sockets.a.fd())).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(pipe.write.fd())).has_value());
  (void)run(0);  // each may wake run() once
  steady_clock::duration took{};
  EXPECT_EQ(timed_run(100, took), 0u);
  EXPECT_GE(took, milliseconds(100));
  EXPECT_TRUE(seen.empty()) << "a muted fd reported error or hang_up";
  ASSERT_TRUE(ops(id).remove(Events::empty(sockets.a.fd())).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(pipe.write.fd())).has_value());
}

// Issue 10: the kernel keeps reporting EPOLLHUP on every wait for an empty
// mask, so a muted hung-up fd would spin the loop; the manager gives it a
// one-shot registration without event bits instead.
TEST_F(Muting, MutedHungUpAndReadableFdsWakeRunAtMostOnce) {
  const SubscriberId id = add_recorder();
  auto sockets = SocketPair::make();
  auto readable = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(sockets.a.fd(), EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(readable, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(sockets.a.fd())).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(readable)).has_value());
  sockets.b.reset();  // hung up while muted
  EXPECT_LE(run(0), 2u) << "at most one wake-up each";
  steady_clock::duration took{};
  EXPECT_EQ(timed_run(100, took), 0u);
  EXPECT_GE(took, milliseconds(100)) << "a muted fd woke run() a second time";
  EXPECT_EQ(timed_run(100, took), 0u);
  EXPECT_GE(took, milliseconds(100));
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(ops(id).remove(Events::empty(sockets.a.fd())).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(readable)).has_value());
}

TEST_F(Muting, AddWithTheEmptySetMutes) {
  const SubscriberId id = add_recorder();
  auto sockets = SocketPair::make();
  auto readable = EventFd::create(1).value();
  sockets.b.reset();  // hung up (and readable: end of file) before it is added
  ASSERT_TRUE(ops(id).add(Events::empty(sockets.a.fd())).has_value());
  ASSERT_TRUE(ops(id).add(Events::empty(readable)).has_value());
  EXPECT_LE(run(0), 2u);
  steady_clock::duration took{};
  EXPECT_EQ(timed_run(100, took), 0u);
  EXPECT_GE(took, milliseconds(100));
  EXPECT_TRUE(seen.empty());
  // Unmuted, both are reported at once.
  ASSERT_TRUE(ops(id).modify(Events(sockets.a.fd(), EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).modify(Events(readable, EventSet::in)).has_value());
  EXPECT_EQ(run(), 2u);
  EXPECT_EQ(seen.size(), 2u);
  ASSERT_TRUE(ops(id).remove(Events::empty(sockets.a.fd())).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(readable)).has_value());
}

TEST_F(Muting, RegisteringHangUpKeepsTheV3Report) {
  const SubscriberId id = add_recorder();
  auto sockets = SocketPair::make();
  ASSERT_TRUE(ops(id).add(Events::with_data(sockets.a.fd(), 5, EventSet::hang_up)).has_value());
  EXPECT_EQ(run(0), 0u);
  sockets.b.reset();
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].data(), 5u);
  EXPECT_TRUE(seen[0].event_set().contains(EventSet::hang_up));
  ASSERT_TRUE(ops(id).remove(Events::empty(sockets.a.fd())).has_value());
}

TEST_F(Muting, FlagsAloneStillReportErrorAndHangUp) {
  const SubscriberId id = add_recorder();
  auto edge = SocketPair::make();
  auto once = SocketPair::make();
  auto pipe = Pipe::make();
  ASSERT_TRUE(ops(id).add(Events::with_data(edge.a.fd(), 1, EventSet::edge_triggered)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(once.a.fd(), 2, EventSet::one_shot)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(pipe.write.fd(), 3, EventSet::edge_triggered)).has_value());
  EXPECT_EQ(run(0), 0u);
  edge.b.reset();
  once.b.reset();
  pipe.read.reset();
  EXPECT_EQ(run(), 3u);
  ASSERT_EQ(seen.size(), 3u);
  for (const Events& e : seen) {
    const EventSet expected = e.data() == 3 ? EventSet::error : EventSet::hang_up;
    EXPECT_TRUE(e.event_set().contains(expected)) << "data " << e.data();
  }
  for (int fd : {edge.a.fd(), once.a.fd(), pipe.write.fd()}) ASSERT_TRUE(ops(id).remove(Events::empty(fd)));
}

TEST_F(Muting, EventStillPendingInTheBatchIsDropped) {
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
  };
  l.on_process = [&](Events e, EventOps& ops) {
    seen.push_back(e);
    // The first of the two mutes the other, whose event is in this batch too.
    if (seen.size() == 1) {
      ASSERT_TRUE(ops.modify(Events::empty(e.fd() == a.fd() ? b.fd() : a.fd())).has_value());
    }
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_EQ(run(), 2u) << "both fds were in the batch";
  ASSERT_EQ(seen.size(), 1u) << "the muted fd's pending event was delivered";
  const int first = seen[0].fd();
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].fd(), first) << "only the unmuted fd reports";
  ASSERT_TRUE(ops(id).remove(Events::empty(a)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(b)).has_value());
}

TEST_F(Muting, UnmuteReportsAnFdThatIsReadyThen) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(fd)).has_value());
  ASSERT_TRUE(fd.write(1).has_value());  // ready while muted
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 2, EventSet::in)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], Events::with_data(fd, 2, EventSet::in));
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Muting, UnmuteReportsAnEdgeTriggeredFdThatIsStillReady) {
  const SubscriberId id = add_recorder();
  auto before = EventFd::create(1).value();  // its edge came before the mute, and was reported
  auto during = EventFd::create().value();   // its edge comes while muted
  const auto mask = EventSet::in | EventSet::edge_triggered;
  ASSERT_TRUE(ops(id).add(Events::with_data(before, 1, mask)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(during, 2, mask)).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(run(0), 0u) << "edge-triggered: no new edge";
  ASSERT_TRUE(ops(id).modify(Events::empty(before)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(during)).has_value());
  ASSERT_TRUE(during.write(1).has_value());
  EXPECT_EQ(run(0), 0u);
  seen.clear();
  ASSERT_TRUE(ops(id).modify(Events::with_data(before, 1, mask)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::with_data(during, 2, mask)).has_value());
  EXPECT_EQ(run(), 2u) << "unmuting an edge-triggered fd that is ready must report it";
  EXPECT_EQ(seen.size(), 2u);
  ASSERT_TRUE(ops(id).remove(Events::empty(before)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(during)).has_value());
}

// An exclusive registration cannot be changed by EPOLL_CTL_MOD (EINVAL): muting
// deletes it from the kernel, unmuting adds it back.
TEST_F(Muting, ExclusiveRegistrationIsMutedAndUnmuted) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  auto sockets = SocketPair::make();
  const auto exclusive = EventSet::in | EventSet::exclusive;
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, exclusive)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(sockets.a.fd(), 2, exclusive)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_TRUE(ops(id).modify(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(sockets.a.fd())).has_value());
  sockets.b.reset();
  steady_clock::duration took{};
  EXPECT_EQ(timed_run(100, took), 0u) << "a muted exclusive fd woke run()";
  EXPECT_GE(took, milliseconds(100));
  ASSERT_EQ(seen.size(), 1u);
  // Unmuted as exclusive again, and as a plain registration.
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 3, exclusive)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::with_data(sockets.a.fd(), 4, EventSet::in)).has_value());
  EXPECT_EQ(run(), 2u);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(ops(id).registered(fd.fd()).value(), Events::with_data(fd, 3, exclusive));
  // Muted again, then removed (nothing in the kernel to delete) and added back.
  ASSERT_TRUE(ops(id).modify(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 5, exclusive)).has_value());
  seen.clear();
  EXPECT_GE(run(), 1u);
  EXPECT_FALSE(seen.empty());
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(sockets.a.fd())).has_value());
}

// The v4 modify() sentence: an edge-triggered mask always reaches the kernel,
// so a modify() that changes only the data gets a fresh report of a ready fd
// (with the new data). The unchanged-mask case: event_ops_test.cpp,
// ModifyOfAnEdgeTriggeredFdWithAnUnchangedMaskReportsItAgain.
TEST_F(Muting, ModifyOfAnEdgeTriggeredFdChangingOnlyTheDataReportsItAgain) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  const auto mask = EventSet::in | EventSet::edge_triggered;
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, mask)).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 2, mask)).has_value());
  EXPECT_EQ(run(0), 1u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], Events::with_data(fd, 2, EventSet::in));
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}
