// painter.cpp — the Painter subscriber of the design document.
//
// A Painter watches three eventfds, one per colour. It registers each with a
// 32-bit user data value (kGreen, kRed, kBlue) and, in process(), tells the
// events apart by that value through a switch, not by fd number. The values
// are consecutive so the compiler can turn the switch into a jump table.
//
// main() asks for a few strokes of each colour by writing to the eventfds and
// runs the manager until every stroke has been painted. When the red paint runs
// out, the Painter stops watching the red eventfd from inside process().
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include <event_manager/event_manager.hpp>

using event_manager::EventFd;
using event_manager::EventManager;
using event_manager::EventOps;
using event_manager::Events;
using event_manager::EventSet;
using event_manager::MutEventSubscriber;
using event_manager::Result;

namespace {

enum Colour : std::uint32_t { kGreen = 0, kRed = 1, kBlue = 2 };
constexpr const char* kColourNames[] = {"green", "red", "blue"};

// A dynamic subscriber: the manager below holds it through the
// MutEventSubscriber interface, so other subscriber types could sit next to it.
class Painter final : public MutEventSubscriber {
 public:
  static constexpr std::uint64_t kRedPaint = 3;  // strokes of red before the pot is empty

  void init(EventOps& ops) override {
    for (std::uint32_t colour : {kGreen, kRed, kBlue}) {
      auto fd = EventFd::create();
      if (!fd) throw std::system_error(fd.error(), "Painter::init: eventfd");
      fds_[colour] = std::move(*fd);
      if (auto added = ops.add(Events::with_data(*fds_[colour], colour, EventSet::in)); !added) {
        throw std::system_error(added.error(), "Painter::init: add");
      }
      std::printf("Painter: watching the %s eventfd (fd %d, data %u).\n", kColourNames[colour], fds_[colour]->fd(),
                  colour);
    }
  }

  void process(Events events, EventOps& ops) override {
    switch (events.data()) {
      case kGreen: paint(kGreen, events); break;
      case kRed:
        paint(kRed, events);
        if (painted_[kRed] >= kRedPaint) {
          // Out of red: stop watching its eventfd. Later red requests stay unanswered.
          if (auto removed = ops.remove(events); removed) {
            std::printf("Painter: out of red paint, no longer watching the red eventfd.\n");
          }
        }
        break;
      case kBlue: paint(kBlue, events); break;
      default: std::printf("Painter: spurious event with data %u, ignored.\n", events.data()); break;
    }
  }

  // Ask for `strokes` strokes of `colour` (called by main, on the loop thread
  // between runs; EventFd::write would be fine from any thread too).
  [[nodiscard]] Result<void> request(Colour colour, std::uint64_t strokes) const {
    return fds_[colour]->write(strokes);
  }
  std::uint64_t painted(Colour colour) const noexcept { return painted_[colour]; }

 private:
  void paint(Colour colour, Events events) {
    // The eventfd counter holds the strokes requested since the last read.
    const std::uint64_t strokes = fds_[colour]->read().value_or(0);
    painted_[colour] += strokes;
    std::printf("Painter: event on fd %d with data %u (%s): painted %llu %s stroke(s), %llu so far.\n", events.fd(),
                events.data(), kColourNames[colour], static_cast<unsigned long long>(strokes), kColourNames[colour],
                static_cast<unsigned long long>(painted_[colour]));
  }

  std::optional<EventFd> fds_[3];
  std::uint64_t painted_[3] = {0, 0, 0};
};

int fail(const char* what, std::error_code error) {
  std::fprintf(stderr, "painter: %s: %s\n", what, error.message().c_str());
  return 1;
}

}  // namespace

int main() {
  auto manager = EventManager<std::unique_ptr<MutEventSubscriber>>::create();
  if (!manager) return fail("create the manager", manager.error());
  auto owned = std::make_unique<Painter>();
  Painter* painter = owned.get();  // the heap object stays put while the manager owns it
  const auto id = manager->add_subscriber(std::move(owned));

  // Two green strokes, three red ones (all the red there is), one blue.
  for (auto [colour, strokes] : {std::pair{kGreen, 2}, std::pair{kRed, 3}, std::pair{kBlue, 1}}) {
    std::printf("main: asking for %d %s stroke(s).\n", strokes, kColourNames[colour]);
    if (auto r = painter->request(colour, static_cast<std::uint64_t>(strokes)); !r) return fail("request", r.error());
  }
  for (int round = 1; round <= 10 && painter->painted(kBlue) < 1; ++round) {
    auto n = manager->run_with_timeout(1000);
    if (!n) return fail("run", n.error());
    std::printf("main: run %d dispatched %zu event(s).\n", round, *n);
  }

  // The red eventfd is no longer watched: this request is never painted.
  std::printf("main: asking for one more red stroke and one more green stroke.\n");
  if (auto r = painter->request(kRed, 1); !r) return fail("request", r.error());
  if (auto r = painter->request(kGreen, 1); !r) return fail("request", r.error());
  auto n = manager->run_with_timeout(1000);
  if (!n) return fail("run", n.error());
  std::printf("main: that run dispatched %zu event(s): only green was still watched.\n", *n);

  std::printf("Painted: %llu green, %llu red, %llu blue.\n", static_cast<unsigned long long>(painter->painted(kGreen)),
              static_cast<unsigned long long>(painter->painted(kRed)),
              static_cast<unsigned long long>(painter->painted(kBlue)));
  const bool ok =
      painter->painted(kGreen) == 3 && painter->painted(kRed) == 3 && painter->painted(kBlue) == 1 && *n == 1;
  if (auto removed = manager->remove_subscriber(id); !removed) return fail("remove the painter", removed.error());
  std::printf("Removed the painter; its eventfds closed with it.\n");
  return ok ? 0 : 1;
}
