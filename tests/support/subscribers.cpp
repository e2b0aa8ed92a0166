#include "support/subscribers.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

namespace event_manager::test {
namespace {

EventFd make_fd() { return EventFd::create().value(); }

void write_or_fail(const EventFd& fd) {
  auto written = fd.write(1);
  ASSERT_TRUE(written.has_value()) << written.error().message();
}

void drain(const EventFd& fd) { (void)fd.read(); }

/// The reaction every counter shares: count readable events, drop a dead fd.
template <class Count>
void count_event(Events events, EventOps& ops, Count& count) {
  if (events.event_set().intersects(EventSet::hang_up | EventSet::error)) {
    (void)ops.remove(events);
    return;
  }
  if (events.event_set().contains(EventSet::in)) ++count;
}

}  // namespace

Counter::Counter() : fd_(make_fd()) {}
void Counter::init(EventOps& ops) {
  auto added = ops.add(Events(fd_, EventSet::in));
  ASSERT_TRUE(added.has_value()) << added.error().message();
}
void Counter::process(Events events, EventOps& ops) { count_event(events, ops, count_); }
void Counter::trigger() const { write_or_fail(fd_); }
void Counter::clear() const { drain(fd_); }

AtomicCounter::AtomicCounter() : fd_(make_fd()) {}
void AtomicCounter::init(EventOps& ops) const {
  auto added = ops.add(Events(fd_, EventSet::in));
  ASSERT_TRUE(added.has_value()) << added.error().message();
}
void AtomicCounter::process(Events events, EventOps& ops) const { count_event(events, ops, count_); }
void AtomicCounter::trigger() const { write_or_fail(fd_); }
void AtomicCounter::clear() const { drain(fd_); }

MutCounter::MutCounter() : fd_(make_fd()) {}
void MutCounter::init(EventOps& ops) {
  auto added = ops.add(Events(fd_, EventSet::in));
  ASSERT_TRUE(added.has_value()) << added.error().message();
}
void MutCounter::process(Events events, EventOps& ops) { count_event(events, ops, count_); }
void MutCounter::trigger() const { write_or_fail(fd_); }
void MutCounter::clear() const { drain(fd_); }

Accumulator::Accumulator() : fd_(make_fd()) {}
void Accumulator::init(EventOps& ops) {
  auto added = ops.add(Events(fd_, EventSet::in));
  ASSERT_TRUE(added.has_value()) << added.error().message();
}
void Accumulator::process(Events, EventOps&) {
  ++events_;
  total_ += fd_.read().value_or(0);
}
void Accumulator::add(std::uint64_t value) const { ASSERT_TRUE(fd_.write(value).has_value()); }

AtomicAccumulator::AtomicAccumulator() : fd_(make_fd()) {}
void AtomicAccumulator::init(EventOps& ops) const {
  auto added = ops.add(Events(fd_, EventSet::in));
  ASSERT_TRUE(added.has_value()) << added.error().message();
}
void AtomicAccumulator::process(Events, EventOps&) const { total_ += fd_.read().value_or(0); }
void AtomicAccumulator::add(std::uint64_t value) const { ASSERT_TRUE(fd_.write(value).has_value()); }

CounterWithData::CounterWithData(std::size_t fds, std::uint32_t first_data)
    : counts_(fds, 0), first_data_(first_data) {
  fds_.reserve(fds);
  for (std::size_t i = 0; i < fds; ++i) fds_.push_back(make_fd());
}
void CounterWithData::init(EventOps& ops) {
  for (std::size_t i = 0; i < fds_.size(); ++i) {
    auto added = ops.add(Events::with_data(fds_[i], first_data_ + static_cast<std::uint32_t>(i), EventSet::in));
    ASSERT_TRUE(added.has_value()) << added.error().message();
  }
}
void CounterWithData::process(Events events, EventOps& ops) {
  const std::size_t i = events.data() - first_data_;
  ASSERT_LT(i, fds_.size());
  ASSERT_EQ(events.fd(), fds_[i].fd()) << "data " << events.data() << " reported with the wrong fd";
  count_event(events, ops, counts_[i]);
}
void CounterWithData::trigger(std::size_t i) const { write_or_fail(fds_[i]); }
void CounterWithData::clear(std::size_t i) const { drain(fds_[i]); }

void write_one(int fd) {
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

}  // namespace event_manager::test
