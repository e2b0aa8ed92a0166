// block.hpp — the block device and its queues, the ioeventfd/irqfd shape of a
// virtio-blk device.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common.hpp"

namespace device_host {

/// One simulated block request, as a vCPU puts it on a queue.
struct BlockRequest {
  std::uint64_t id = 0;
  Clock::time_point submitted;
  bool during_pause = false;  // submitted while the control plane had the guest paused
};

/// One queue shared by a vCPU thread and the device: the vCPU puts requests on
/// the "available ring" and writes the ioeventfd; the device completes them on
/// the "used ring" and writes the irqfd. (A real virtqueue is lock-free shared
/// memory; a mutex keeps the example short.)
class BlockQueue {
 public:
  BlockQueue();
  const event_manager::EventFd& ioeventfd() const noexcept { return ioeventfd_; }
  const event_manager::EventFd& irqfd() const noexcept { return irqfd_; }

  /// vCPU thread: queue a request and kick the device.
  void submit(const BlockRequest& request);
  /// Device (loop thread): every request queued since the last call.
  std::vector<BlockRequest> take_available();
  /// Device (loop thread): hand a request back and raise the "interrupt".
  void complete(const BlockRequest& request);
  /// vCPU thread: every request completed since the last call.
  std::vector<BlockRequest> take_used();

 private:
  event_manager::EventFd ioeventfd_;
  event_manager::EventFd irqfd_;
  std::mutex mutex_;
  std::deque<BlockRequest> available_;
  std::deque<BlockRequest> used_;
};

/// Completes each request after a simulated latency, one timer per request
/// slot (the manager keeps all of them on its one kernel timer).
class BlockDevice final : public Device {
 public:
  /// `depth` bounds the requests in flight per queue (the vCPUs keep to it).
  BlockDevice(std::vector<std::shared_ptr<BlockQueue>> queues, std::size_t depth, Clock::duration latency);

  void init(event_manager::EventOps& ops) override;
  void process(event_manager::Events events, event_manager::EventOps& ops) override;
  std::string_view name() const noexcept override { return "block"; }
  DeviceStats stats() const noexcept override { return stats_; }
  /// Requests taken from the queues and not yet completed.
  std::size_t in_flight() const noexcept { return in_flight_; }

 private:
  struct Slot {
    event_manager::TimerId timer;
    std::optional<BlockRequest> request;
  };
  void start(event_manager::EventOps& ops, std::uint32_t queue, const BlockRequest& request);
  Clock::duration latency_of(std::uint64_t id) const noexcept;

  std::vector<std::shared_ptr<BlockQueue>> queues_;
  std::size_t depth_;
  Clock::duration latency_;
  std::vector<std::vector<Slot>> slots_;           // [queue][slot]
  std::vector<std::vector<std::uint32_t>> free_;   // free slot indices per queue
  std::vector<std::deque<BlockRequest>> backlog_;  // beyond `depth` (a vCPU that overran)
  std::size_t in_flight_ = 0;
  DeviceStats stats_;
};

}  // namespace device_host
