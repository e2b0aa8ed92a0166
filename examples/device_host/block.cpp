// block.cpp — the block device (see block.hpp).
//
// Data layout: an fd event's data is the queue index; a timer's data is
// (queue << 16) | slot. Timers and fds are told apart by is_timer() first.
#include "block.hpp"

#include <stdexcept>
#include <system_error>

namespace device_host {

using event_manager::EventFd;
using event_manager::EventOps;
using event_manager::Events;
using event_manager::EventSet;

namespace {
EventFd make_eventfd() {
  auto created = EventFd::create();
  if (!created) throw std::system_error(created.error(), "block: eventfd");
  return std::move(*created);
}
}  // namespace

BlockQueue::BlockQueue() : ioeventfd_(make_eventfd()), irqfd_(make_eventfd()) {}

void BlockQueue::submit(const BlockRequest& request) {
  {
    std::lock_guard lock(mutex_);
    available_.push_back(request);
  }
  (void)ioeventfd_.write(1);  // fails only at a counter of 2^64 - 2
}

std::vector<BlockRequest> BlockQueue::take_available() {
  std::lock_guard lock(mutex_);
  std::vector<BlockRequest> taken(available_.begin(), available_.end());
  available_.clear();
  return taken;
}

void BlockQueue::complete(const BlockRequest& request) {
  {
    std::lock_guard lock(mutex_);
    used_.push_back(request);
  }
  (void)irqfd_.write(1);
}

std::vector<BlockRequest> BlockQueue::take_used() {
  std::lock_guard lock(mutex_);
  std::vector<BlockRequest> taken(used_.begin(), used_.end());
  used_.clear();
  return taken;
}

BlockDevice::BlockDevice(std::vector<std::shared_ptr<BlockQueue>> queues, std::size_t depth, Clock::duration latency)
    : queues_(std::move(queues)), depth_(depth), latency_(latency) {
  if (queues_.size() > 0xffff || depth_ > 0xffff) throw std::invalid_argument("block: too many queues or slots");
  slots_.resize(queues_.size());
  free_.resize(queues_.size());
  backlog_.resize(queues_.size());
}

void BlockDevice::init(EventOps& ops) {
  for (std::uint32_t q = 0; q < queues_.size(); ++q) {
    if (auto added = ops.add(Events::with_data(queues_[q]->ioeventfd(), q, EventSet::in)); !added) {
      throw std::system_error(added.error(), "block: add ioeventfd");
    }
    // All timers up front: add_timer() may allocate, arming never does.
    slots_[q].resize(depth_);
    free_[q].clear();
    for (std::uint32_t s = 0; s < depth_; ++s) {
      auto timer = ops.add_timer((q << 16) | s);
      if (!timer) throw std::system_error(timer.error(), "block: add_timer");
      slots_[q][s].timer = *timer;
      free_[q].push_back(static_cast<std::uint32_t>(depth_ - 1 - s));
    }
  }
}

void BlockDevice::process(Events events, EventOps& ops) {
  ++stats_.events;
  if (events.is_timer()) {  // a request's simulated latency is over: complete it
    const std::uint32_t q = events.data() >> 16;
    const std::uint32_t s = events.data() & 0xffff;
    Slot& slot = slots_[q][s];
    if (!slot.request) return;
    queues_[q]->complete(*slot.request);
    slot.request.reset();
    --in_flight_;
    ++stats_.requests;
    stats_.bytes += 4096;  // every simulated request moves one 4 KiB block
    free_[q].push_back(s);
    if (!backlog_[q].empty()) {
      const BlockRequest next = backlog_[q].front();
      backlog_[q].pop_front();
      start(ops, q, next);
    }
    return;
  }
  const std::uint32_t q = events.data();
  (void)queues_[q]->ioeventfd().read();  // reset the kick counter: the ring says what to do
  for (const BlockRequest& request : queues_[q]->take_available()) {
    if (free_[q].empty()) {
      backlog_[q].push_back(request);
    } else {
      start(ops, q, request);
    }
  }
}

void BlockDevice::start(EventOps& ops, std::uint32_t q, const BlockRequest& request) {
  const std::uint32_t s = free_[q].back();
  free_[q].pop_back();
  slots_[q][s].request = request;
  ++in_flight_;
  if (auto armed = ops.arm_timer(slots_[q][s].timer, latency_of(request.id)); !armed) {
    throw std::system_error(armed.error(), "block: arm_timer");
  }
}

Clock::duration BlockDevice::latency_of(std::uint64_t id) const noexcept {
  // The base latency plus up to as much again, spread by a cheap hash of the id.
  const auto spread = static_cast<Clock::rep>((id * 2654435761u) % 1000);
  return latency_ + latency_ * spread / 1000;
}

}  // namespace device_host
