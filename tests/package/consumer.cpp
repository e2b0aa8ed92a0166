// consumer.cpp — the program every packaging consumer builds: one subscriber,
// one eventfd, one dispatched event. It exits with 0 only when the event
// reached the subscriber, so a broken install fails the ctest test that runs it.
#include <cstdio>
#include <system_error>

#include <event_manager/event_manager.hpp>

namespace {

struct Counter {
  event_manager::EventFd fd = event_manager::EventFd::create().value();
  int calls = 0;
  void init(event_manager::EventOps& ops) {
    if (auto r = ops.add(event_manager::Events(fd, event_manager::EventSet::in)); !r) {
      throw std::system_error(r.error(), "add");
    }
  }
  void process(event_manager::Events, event_manager::EventOps&) {
    (void)fd.read();
    ++calls;
  }
};

}  // namespace

int main() {
  auto manager = event_manager::EventManager<Counter>::create();
  if (!manager) return 1;
  const auto id = manager->add_subscriber(Counter{});
  if (!manager->subscriber_mut(id)->fd.write(1)) return 1;
  auto dispatched = manager->run_with_timeout(5000);
  if (!dispatched || *dispatched != 1 || manager->subscriber_mut(id)->calls != 1) {
    std::fprintf(stderr, "consumer: the event was not dispatched\n");
    return 1;
  }
  std::printf("consumer: dispatched one event through event_manager\n");
  return 0;
}
