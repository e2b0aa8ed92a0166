// remote_endpoint.cpp — driving an event manager that runs on its own thread.
//
// The manager moves to a loop thread and owns a Painter subscriber there. The
// main thread never touches the manager again: it talks to it through a
// RemoteEndpoint. call_blocking() adds the Painter, adds an eventfd of main's
// own to it (the design document's example), and reads the Painter's counts;
// fire() queues a request without waiting for it; an exception thrown by a
// call_blocking() request comes back to main; a request on the loop thread
// that calls call_blocking() gets WouldDeadlock instead of hanging; and kick()
// stops the loop. Once the manager is gone, the endpoint answers ChannelSend.
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <event_manager/event_manager.hpp>

using event_manager::Error;
using event_manager::EventFd;
using event_manager::EventManager;
using event_manager::EventOps;
using event_manager::Events;
using event_manager::EventSet;
using event_manager::RemoteEndpoint;
using event_manager::Result;
using event_manager::SubscriberId;
using event_manager::SubscriberOps;

namespace {

enum Colour : std::uint32_t { kGreen = 0, kRed = 1, kBlue = 2 };
constexpr const char* kColourNames[] = {"green", "red", "blue"};

// The design document's Painter, held by value (static dispatch). Each event's
// 32-bit data says which colour to paint; the eventfd counter says how many
// strokes were asked for.
class Painter {
 public:
  void init(EventOps& ops) {
    for (std::uint32_t colour : {kGreen, kRed, kBlue}) {
      if (auto added = ops.add(Events::with_data(fds_[colour], colour, EventSet::in)); !added) {
        throw std::system_error(added.error(), "Painter::init: add");
      }
    }
    std::printf("  [loop] Painter::init: watching its green, red and blue eventfds.\n");
  }

  void process(Events events, EventOps&) {
    // The fd may be one of ours or one added later through event_ops(): read
    // whichever it is.
    ::eventfd_t strokes = 0;
    if (::eventfd_read(events.fd(), &strokes) != 0) return;
    if (events.data() > kBlue) {
      std::printf("  [loop] Painter: spurious event with data %u, ignored.\n", events.data());
      return;
    }
    painted_[events.data()] += strokes;
    std::printf("  [loop] Painter: painted %llu %s stroke(s) (event on fd %d).\n",
                static_cast<unsigned long long>(strokes), kColourNames[events.data()], events.fd());
  }

  // Loop thread only (inside a request): asks for strokes of our own colours.
  [[nodiscard]] Result<void> request(Colour colour, std::uint64_t strokes) const { return fds_[colour].write(strokes); }
  std::uint64_t painted(Colour colour) const noexcept { return painted_[colour]; }

 private:
  static EventFd make_fd() {
    auto created = EventFd::create();
    if (!created) throw std::system_error(created.error(), "Painter: eventfd");
    return std::move(*created);
  }

  EventFd fds_[3] = {make_fd(), make_fd(), make_fd()};
  std::uint64_t painted_[3] = {0, 0, 0};
};

using Ops = SubscriberOps<Painter>;

int fail(const char* what, std::error_code error) {
  std::fprintf(stderr, "remote_endpoint: %s: %s\n", what, error.message().c_str());
  return 1;
}

// Asks the loop thread, again and again, until `colour` has `strokes` painted
// (the request that asked for them may have run before the event was seen).
bool wait_for_strokes(const RemoteEndpoint<Painter>& endpoint, SubscriberId id, Colour colour, std::uint64_t strokes) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto painted = endpoint.call_blocking([id, colour](Ops& ops) { return ops.subscriber_mut(id)->painted(colour); });
    if (painted && *painted >= strokes) {
      std::printf("main: the Painter reports %llu %s stroke(s).\n", static_cast<unsigned long long>(*painted),
                  kColourNames[colour]);
      return *painted == strokes;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf("main: gave up waiting for %s strokes.\n", kColourNames[colour]);
  return false;
}

}  // namespace

int main() {
  auto created = EventManager<Painter>::create();
  if (!created) return fail("create the manager", created.error());
  RemoteEndpoint<Painter> endpoint = created->remote_endpoint();
  auto extra_fd = EventFd::create();  // main's own eventfd; outlives the manager
  if (!extra_fd) return fail("create an eventfd", extra_fd.error());
  const EventFd extra = std::move(*extra_fd);

  // The manager moves to the loop thread; from here on only the endpoint reaches it.
  std::atomic<bool> stop{false};
  std::thread loop([manager = std::move(*created), &stop]() mutable {
    std::printf("  [loop] running.\n");
    while (!stop.load()) {
      auto n = manager.run();  // blocks until an event, a request or a kick arrives
      if (!n) {
        std::fprintf(stderr, "  [loop] run failed: %s\n", n.error().message().c_str());
        return;
      }
      std::printf("  [loop] run() returned %zu event(s).\n", *n);
    }
    std::printf("  [loop] stop flag seen: leaving; the manager and its Painter are destroyed.\n");
  });
  bool ok = true;

  // 1. call_blocking: the Painter moves into the manager; we get its id back.
  std::printf("main: adding a Painter through call_blocking().\n");
  auto added = endpoint.call_blocking([](Ops& ops) { return ops.add_subscriber(Painter{}); });
  if (!added) return fail("add the Painter", added.error());
  const SubscriberId id = *added;
  std::printf("main: the Painter is subscriber %llu.\n", static_cast<unsigned long long>(id.value()));

  // 2. The design document's example: give the subscriber an fd of ours
  //    through event_ops(id)->add(). Its events carry the data for red.
  std::printf("main: adding main's own eventfd (fd %d) to the Painter, as red.\n", extra.fd());
  const Events red_events = Events::with_data(extra, kRed, EventSet::in);
  auto watched = endpoint.call_blocking([id, red_events](Ops& ops) -> Result<void> {
    auto event_ops = ops.event_ops(id);
    if (!event_ops) return std::unexpected(event_ops.error());
    return event_ops->add(red_events);
  });
  if (!watched) return fail("add main's eventfd", watched.error());
  std::printf("main: writing 3 to main's eventfd (3 red strokes).\n");
  if (auto written = extra.write(3); !written) return fail("write main's eventfd", written.error());
  ok = wait_for_strokes(endpoint, id, kRed, 3) && ok;

  // 3. fire: queue a request and go on at once; it runs on the loop thread.
  std::printf("main: firing a request that asks the Painter for 2 blue strokes (fire() does not wait).\n");
  auto fired = endpoint.fire([id](Ops& ops) {
    std::printf("  [loop] fired request: asking for 2 blue strokes.\n");
    (void)ops.subscriber_mut(id)->request(kBlue, 2);
  });
  if (!fired) return fail("fire", fired.error());
  ok = wait_for_strokes(endpoint, id, kBlue, 2) && ok;

  // 4. An exception thrown by a call_blocking() request is rethrown here; the loop carries on.
  std::printf("main: sending a request that throws.\n");
  try {
    (void)endpoint.call_blocking([](Ops&) -> int { throw std::runtime_error("no such colour: purple"); });
    std::printf("main: the exception did not come back!\n");
    ok = false;
  } catch (const std::runtime_error& e) {
    std::printf("main: caught the request's exception: \"%s\".\n", e.what());
  }

  // 5. On the loop thread, call_blocking() would wait for itself: it returns
  //    WouldDeadlock at once instead. fire() is fine there.
  std::printf("main: sending a request that itself calls call_blocking() on the loop thread.\n");
  auto inner = endpoint.call_blocking([&endpoint](Ops&) {
    auto nested = endpoint.call_blocking([](Ops&) { return 1; });
    std::printf("  [loop] the nested call_blocking() answered: %s.\n", nested ? "a value" : nested.error().message().c_str());
    return nested;
  });
  if (inner || inner.error() != make_error_code(Error::WouldDeadlock)) ok = false;
  std::printf("main: that request's result came back as: %s.\n", inner ? "a value" : inner.error().message().c_str());

  // Tidy up: remove main's eventfd from the manager before it is closed.
  auto unwatched = endpoint.call_blocking([id, red_events](Ops& ops) -> Result<void> {
    auto event_ops = ops.event_ops(id);
    if (!event_ops) return std::unexpected(event_ops.error());
    return event_ops->remove(red_events);
  });
  if (!unwatched) return fail("remove main's eventfd", unwatched.error());
  std::printf("main: main's eventfd is no longer watched.\n");

  // 6. Stop the loop: set the flag, then kick() so that a blocked run() returns.
  std::printf("main: setting the stop flag and kicking the loop.\n");
  stop = true;
  if (auto kicked = endpoint.kick(); !kicked) return fail("kick", kicked.error());
  loop.join();

  // 7. The manager is gone; the endpoint still exists and says so.
  auto after = endpoint.kick();
  std::printf("main: kick() after the manager is gone: %s.\n", after ? "accepted?!" : after.error().message().c_str());
  if (after || after.error() != make_error_code(Error::ChannelSend)) ok = false;

  std::printf("main: %s\n", ok ? "every step went as expected." : "something went wrong.");
  return ok ? 0 : 1;
}
