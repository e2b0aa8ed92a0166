// Tests of SignalFd: signals blocked in the test thread, sent by pthread_kill()
// and kill(), read directly and through an EventManager; coalescing of a
// standard signal against queuing of a real-time one; reads of several at once;
// the RAII checklist. Every test blocks the signals it sends (so that none
// kills the process), drains what is left pending and restores the mask.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <span>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "support/fd_checks.hpp"
#include "support/raii_checks.hpp"
#include "support/subscribers.hpp"

namespace {

using namespace event_manager;
using event_manager::test::is_close_on_exec;
using event_manager::test::kWaitMs;
using event_manager::test::open_fds;

static_assert(std::is_nothrow_move_constructible_v<SignalFd>);
static_assert(std::is_nothrow_move_assignable_v<SignalFd>);
static_assert(!std::is_copy_constructible_v<SignalFd> && !std::is_copy_assignable_v<SignalFd>);
static_assert(AsFd<SignalFd>);

/// The signals these tests send.
sigset_t test_signals() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int signal : {SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 1}) ::sigaddset(&set, signal);
  return set;
}

/// Declared first in a test: blocks the test signals in this thread (the only
/// one: a kill() reaches no other), and at the end drains those left pending
/// and restores the previous mask.
class BlockedSignals {
 public:
  BlockedSignals() { EXPECT_EQ(::pthread_sigmask(SIG_BLOCK, &signals_, &previous_), 0); }
  ~BlockedSignals() {
    const ::timespec now{0, 0};
    while (::sigtimedwait(&signals_, nullptr, &now) > 0) {
    }
    EXPECT_EQ(::pthread_sigmask(SIG_SETMASK, &previous_, nullptr), 0);
  }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;

 private:
  sigset_t signals_ = test_signals();
  sigset_t previous_{};
};

/// Reads every pending signal in process() and keeps it.
struct SignalReader {
  SignalFd signals;
  std::vector<::signalfd_siginfo> received;
  void init(EventOps& ops) { EXPECT_TRUE(ops.add(Events(signals, EventSet::in))); }
  void process(Events, EventOps&) {
    while (auto info = signals.read()) received.push_back(*info);
  }
};

/// Runs `manager` until `reader` got `count` signals or kWaitMs passes (a run returns per batch).
void run_until_received(EventManager<SignalReader>& manager, SubscriberId reader, std::size_t count) {
  for (int runs = 0; runs < 100 && manager.subscriber_mut(reader)->received.size() < count; ++runs) {
    ASSERT_TRUE(manager.run_with_timeout(kWaitMs));
  }
}

TEST(SignalFd, CreateIsCloseOnExecAndNonBlocking) {
  const BlockedSignals blocked;
  auto from_set = SignalFd::create(test_signals()).value();
  auto from_list = SignalFd::create({SIGUSR1, SIGRTMIN}).value();
  for (const SignalFd* s : {&from_set, &from_list}) {
    EXPECT_TRUE(is_close_on_exec(s->fd()));
    EXPECT_TRUE((::fcntl(s->fd(), F_GETFL) & O_NONBLOCK) != 0);
  }
}

TEST(SignalFd, CreateWithABadSignalNumberIsEinvalAndOpensNothing) {
  const auto before = open_fds();
  for (int bad : {0, -1, _NSIG, 1000, SIGRTMIN - 1}) {  // glibc keeps the ones below SIGRTMIN for itself
    SCOPED_TRACE(bad);
    auto s = SignalFd::create({SIGUSR1, bad});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), std::errc::invalid_argument);
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(SignalFd, ReadWhenNoneIsPendingIsTryAgain) {
  const BlockedSignals blocked;
  auto s = SignalFd::create({SIGUSR1}).value();
  EXPECT_EQ(s.read().error(), std::errc::resource_unavailable_try_again);
  std::array<::signalfd_siginfo, 4> out{};
  EXPECT_EQ(s.read(out).error(), std::errc::resource_unavailable_try_again);
}

TEST(SignalFd, SignalSentByPthreadKillIsDispatchedThroughAManager) {
  const BlockedSignals blocked;
  auto manager = EventManager<SignalReader>::create().value();
  const SubscriberId reader = manager.add_subscriber(SignalReader{SignalFd::create({SIGUSR1}).value(), {}});
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR1), 0);
  run_until_received(manager, reader, 1);
  const auto& received = manager.subscriber_mut(reader)->received;
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].ssi_signo, static_cast<std::uint32_t>(SIGUSR1));
  EXPECT_EQ(received[0].ssi_code, SI_TKILL);
  EXPECT_EQ(received[0].ssi_pid, static_cast<std::uint32_t>(::getpid()));
}

TEST(SignalFd, SignalSentByKillIsDispatchedThroughAManager) {
  const BlockedSignals blocked;
  auto manager = EventManager<SignalReader>::create().value();
  const SubscriberId reader = manager.add_subscriber(SignalReader{SignalFd::create({SIGUSR1, SIGUSR2}).value(), {}});
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  run_until_received(manager, reader, 1);
  const auto& received = manager.subscriber_mut(reader)->received;
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].ssi_signo, static_cast<std::uint32_t>(SIGUSR2));
  EXPECT_EQ(received[0].ssi_code, SI_USER);
  EXPECT_EQ(received[0].ssi_pid, static_cast<std::uint32_t>(::getpid()));
}

TEST(SignalFd, StandardSignalsCoalesceRealTimeSignalsQueue) {
  const BlockedSignals blocked;
  auto s = SignalFd::create({SIGUSR1, SIGRTMIN}).value();
  for (int value = 1; value <= 3; ++value) {
    ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR1), 0);
    ASSERT_EQ(::pthread_sigqueue(::pthread_self(), SIGRTMIN, ::sigval{.sival_int = value}), 0);
  }
  std::array<::signalfd_siginfo, 8> out{};
  auto n = s.read(out);
  ASSERT_TRUE(n) << n.error().message();
  ASSERT_EQ(*n, 4u);  // one SIGUSR1 for three sent, three SIGRTMIN
  // Standard signals are taken before real-time ones; real-time ones in the order sent.
  EXPECT_EQ(out[0].ssi_signo, static_cast<std::uint32_t>(SIGUSR1));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(out[static_cast<std::size_t>(i)].ssi_signo, static_cast<std::uint32_t>(SIGRTMIN));
    EXPECT_EQ(out[static_cast<std::size_t>(i)].ssi_int, i);
  }
  EXPECT_EQ(s.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(SignalFd, ReadOfASpanTakesSeveralAtOnceAndNoMoreThanFit) {
  const BlockedSignals blocked;
  auto s = SignalFd::create({SIGUSR1, SIGUSR2, SIGRTMIN}).value();
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR1), 0);
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR2), 0);
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGRTMIN), 0);
  std::array<::signalfd_siginfo, 2> two{};
  EXPECT_EQ(s.read(two).value(), 2u);
  EXPECT_EQ(two[0].ssi_signo, static_cast<std::uint32_t>(SIGUSR1));
  EXPECT_EQ(two[1].ssi_signo, static_cast<std::uint32_t>(SIGUSR2));
  std::array<::signalfd_siginfo, 4> rest{};
  EXPECT_EQ(s.read(rest).value(), 1u);
  EXPECT_EQ(rest[0].ssi_signo, static_cast<std::uint32_t>(SIGRTMIN));
}

TEST(SignalFd, ReadOfAnEmptySpanIsZeroAndConsumesNothing) {
  const BlockedSignals blocked;
  auto s = SignalFd::create({SIGUSR1}).value();
  EXPECT_EQ(s.read(std::span<::signalfd_siginfo>()).value(), 0u);  // also when none is pending
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR1), 0);
  EXPECT_EQ(s.read(std::span<::signalfd_siginfo>()).value(), 0u);
  EXPECT_EQ(s.read().value().ssi_signo, static_cast<std::uint32_t>(SIGUSR1));
}

TEST(SignalFd, MoveConstructionTransfersTheFd) {
  const BlockedSignals blocked;
  auto a = SignalFd::create({SIGUSR1}).value();
  const int number = a.fd();
  SignalFd b(std::move(a));
  EXPECT_EQ(b.fd(), number);
  EXPECT_EQ(a.fd(), -1);  // NOLINT(bugprone-use-after-move)
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGUSR1), 0);
  EXPECT_TRUE(b.read());
}

TEST(SignalFd, MoveAssignmentClosesTheOldFd) {
  event_manager::test::expect_move_assignment_closes_the_old_fd([] { return SignalFd::create({SIGUSR1}).value(); });
}

TEST(SignalFd, DestructorClosesTheFd) {
  event_manager::test::expect_destructor_closes_the_fd([] { return SignalFd::create({SIGUSR1}).value(); });
}

}  // namespace
