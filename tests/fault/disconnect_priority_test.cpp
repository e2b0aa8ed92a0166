// Destroying a manager while a sender is inside its eventfd write: the
// destroyer waits for the sender by blocking, not by spinning. A destroyer at
// real-time priority that spins with yield() never lets a normal-priority
// sender on the same CPU run (yield() only gives way to equal real-time
// priorities), so the destruction would last until the kernel's real-time
// throttling (by default 50 ms of every second) lets the sender finish, or
// forever without throttling.
//
// The sender is held inside write() by a hook of the fault-injection seam,
// sleeps there briefly (so that it is runnable, not blocked, while the
// destroyer waits), then finishes. Needs SCHED_FIFO and two CPUs; skips,
// saying why, without them.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "fault_injection.hpp"

namespace event_manager {
namespace {

using namespace std::chrono_literals;

struct Idle {
  void init(EventOps&) {}
  void process(Events, EventOps&) {}
};

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

std::atomic<bool> sender_in_write{false};

void hold_the_write(void*) {
  sender_in_write = true;
  std::this_thread::sleep_for(50ms);  // the destroyer starts waiting meanwhile
}

TEST(DisconnectPriority, RealTimeDestroyerDoesNotStarveASenderOnItsCpu) {
  cpu_set_t allowed;
  ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
  if (CPU_COUNT(&allowed) < 2) GTEST_SKIP() << "needs two CPUs (one for the watchdog)";
  int cpus[2] = {-1, -1};
  for (int cpu = 0, found = 0; cpu < CPU_SETSIZE && found < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus[found++] = cpu;
  }
  const int shared_cpu = cpus[0];
  const int watchdog_cpu = cpus[1];

  std::optional<EventManager<Idle>> manager(EventManager<Idle>::create().value());
  auto endpoint = manager->remote_endpoint();

  std::thread sender([&] {
    ASSERT_TRUE(pin_to(shared_cpu));
    fault::before_next(fault::Sys::write, hold_the_write, nullptr);
    EXPECT_TRUE(endpoint.fire([](SubscriberOps<Idle>&) {}));  // queued, then dropped by the destruction
  });
  while (!sender_in_write) std::this_thread::sleep_for(1ms);

  std::atomic<int> fifo_error{0};
  std::atomic<bool> destroyed{false};
  std::chrono::steady_clock::duration took{};
  std::thread destroyer([&] {
    ASSERT_TRUE(pin_to(shared_cpu));
    ::sched_param param{};
    param.sched_priority = ::sched_get_priority_min(SCHED_FIFO);
    if (const int error = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param); error != 0) {
      fifo_error = error;
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    manager.reset();
    took = std::chrono::steady_clock::now() - start;
    destroyed = true;
  });
  // A destroyer that spins starves this thread too if it shares the CPU: watch
  // from the other one, and end a starvation after 3 s so that the test fails
  // instead of hanging.
  bool demoted = false;
  std::thread watchdog([&] {
    ASSERT_TRUE(pin_to(watchdog_cpu));
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!destroyed && fifo_error == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    if (!destroyed && fifo_error == 0) {
      ::sched_param normal{};
      demoted = ::pthread_setschedparam(destroyer.native_handle(), SCHED_OTHER, &normal) == 0;
    }
  });
  destroyer.join();
  watchdog.join();
  sender.join();
  if (fifo_error != 0) {
    GTEST_SKIP() << "SCHED_FIFO not permitted here (" << std::strerror(fifo_error)
                 << "): run as root or with CAP_SYS_NICE to test a real-time destroyer";
  }
  EXPECT_FALSE(demoted) << "the destroyer starved the sender for 3 s";
  EXPECT_LT(took, 500ms) << "destruction took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms";
}

}  // namespace
}  // namespace event_manager
