// metrics.hpp — the metrics device: a periodic timer in the host loop that
// snapshots every guest device's counters.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.hpp"
#include "guest.hpp"

namespace device_host {

/// Every device's counters at one instant.
struct MetricsSample {
  Clock::time_point at;
  std::vector<std::pair<std::string, DeviceStats>> devices;
  /// The counters of `device`, zero if it was not there (hot-removed).
  DeviceStats of(std::string_view device) const;
};

/// Where the metrics device publishes its snapshots for other threads (the
/// progress line). Thread-safe.
class MetricsBoard {
 public:
  void publish(MetricsSample sample);
  /// The last two samples (previous, latest) and how many were published.
  std::tuple<MetricsSample, MetricsSample, std::uint64_t> latest() const;

 private:
  mutable std::mutex mutex_;
  MetricsSample previous_;
  MetricsSample latest_;
  std::uint64_t count_ = 0;
};

/// Lives in the host loop next to the guest, so it keeps ticking while the
/// guest is paused (and then reports it frozen).
class MetricsDevice final : public event_manager::MutEventSubscriber {
 public:
  MetricsDevice(Guest& guest, std::shared_ptr<MetricsBoard> board, Clock::duration period)
      : guest_(guest), board_(std::move(board)), period_(period) {}

  void init(event_manager::EventOps& ops) override;
  void process(event_manager::Events events, event_manager::EventOps& ops) override;
  std::uint64_t ticks() const noexcept { return ticks_; }

 private:
  Guest& guest_;
  std::shared_ptr<MetricsBoard> board_;
  Clock::duration period_;
  std::uint64_t ticks_ = 0;
};

}  // namespace device_host
