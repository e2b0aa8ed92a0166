// counters.cpp — a counter-subscriber app.
//
// Ten Counter subscribers each watch their own eventfd. The program triggers a
// few of them, lets the manager dispatch the ready events, prints every count,
// then removes the subscribers again. It exits with status 0 when each count is
// what the triggers imply, and 1 otherwise.
#include <cstdint>
#include <cstdio>
#include <system_error>
#include <utility>
#include <vector>

#include <event_manager/event_manager.hpp>

using event_manager::EventFd;
using event_manager::EventManager;
using event_manager::EventOps;
using event_manager::Events;
using event_manager::EventSet;
using event_manager::Result;
using event_manager::SubscriberId;

namespace {

// A subscriber held by value: it owns an eventfd and counts how often the
// manager called it because that eventfd became readable.
class Counter {
 public:
  explicit Counter(EventFd fd) noexcept : fd_(std::move(fd)) {}

  // Called once by add_subscriber(): register the eventfd for reading.
  // init() cannot return an error, so a failure is thrown; add_subscriber()
  // then rolls the subscriber back and lets the exception through.
  void init(EventOps& ops) {
    if (auto added = ops.add(Events(fd_, EventSet::in)); !added) {
      throw std::system_error(added.error(), "Counter::init: add");
    }
  }

  // Called for each ready event. Reading resets the eventfd's counter, so the
  // level-triggered registration goes quiet until the next trigger.
  void process(Events /*events*/, EventOps& /*ops*/) {
    (void)fd_.read();
    ++count_;
  }

  [[nodiscard]] Result<void> trigger() const { return fd_.write(1); }
  std::uint64_t count() const noexcept { return count_; }

 private:
  EventFd fd_;
  std::uint64_t count_ = 0;
};

int fail(const char* what, std::error_code error) {
  std::fprintf(stderr, "counters: %s: %s\n", what, error.message().c_str());
  return 1;
}

}  // namespace

int main() {
  constexpr int kCounters = 10;
  auto manager = EventManager<Counter>::create();
  if (!manager) return fail("create the manager", manager.error());

  std::vector<SubscriberId> ids;
  for (int i = 0; i < kCounters; ++i) {
    auto fd = EventFd::create();
    if (!fd) return fail("create an eventfd", fd.error());
    ids.push_back(manager->add_subscriber(Counter(std::move(*fd))));
  }
  std::printf("Added %d counters, each watching its own eventfd.\n", kCounters);

  // Round 1 triggers counters 1, 4 and 7; round 2 triggers counter 4 again.
  const std::vector<std::vector<int>> rounds = {{1, 4, 7}, {4}};
  std::vector<std::uint64_t> expected(kCounters, 0);
  for (std::size_t round = 0; round < rounds.size(); ++round) {
    for (int i : rounds[round]) {
      if (auto r = manager->subscriber_mut(ids[i])->trigger(); !r) return fail("trigger", r.error());
      ++expected[i];
    }
    std::printf("Round %zu: triggered %zu counter(s).\n", round + 1, rounds[round].size());
    auto dispatched = manager->run_with_timeout(1000);
    if (!dispatched) return fail("run", dispatched.error());
    std::printf("Round %zu: the manager dispatched %zu event(s).\n", round + 1, *dispatched);
  }

  bool all_as_expected = true;
  for (int i = 0; i < kCounters; ++i) {
    const std::uint64_t count = manager->subscriber_mut(ids[i])->count();
    std::printf("  counter %d was called %llu time(s)\n", i, static_cast<unsigned long long>(count));
    all_as_expected = all_as_expected && count == expected[i];
  }

  // remove_subscriber() unregisters the subscriber's fds and hands it back.
  for (SubscriberId id : ids) {
    auto removed = manager->remove_subscriber(id);
    if (!removed) return fail("remove a counter", removed.error());
  }
  std::printf("Removed every counter; a second removal of the same id gives: %s\n",
              manager->remove_subscriber(ids[0]).error().message().c_str());

  std::printf(all_as_expected ? "Every count matches the triggers.\n" : "A count does not match the triggers!\n");
  return all_as_expected ? 0 : 1;
}
