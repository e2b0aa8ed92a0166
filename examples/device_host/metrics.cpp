// metrics.cpp — the metrics device (see metrics.hpp).
#include "metrics.hpp"

#include <system_error>

namespace device_host {

DeviceStats MetricsSample::of(std::string_view device) const {
  for (const auto& [name, stats] : devices) {
    if (name == device) return stats;
  }
  return {};
}

void MetricsBoard::publish(MetricsSample sample) {
  std::lock_guard lock(mutex_);
  previous_ = std::move(latest_);
  latest_ = std::move(sample);
  ++count_;
}

std::tuple<MetricsSample, MetricsSample, std::uint64_t> MetricsBoard::latest() const {
  std::lock_guard lock(mutex_);
  return {previous_, latest_, count_};
}

void MetricsDevice::init(event_manager::EventOps& ops) {
  auto timer = ops.add_timer(0);
  if (!timer) throw std::system_error(timer.error(), "metrics: add_timer");
  // A first snapshot now (a zero delay is "due now", it never disarms), then
  // one every period; missed periods (a long batch) are skipped, never queued.
  if (auto armed = ops.arm_timer(*timer, Clock::duration::zero(), period_); !armed) {
    throw std::system_error(armed.error(), "metrics: arm_timer");
  }
}

void MetricsDevice::process(event_manager::Events, event_manager::EventOps&) {
  ++ticks_;
  MetricsSample sample;
  sample.at = Clock::now();
  // The guest's manager is only ever driven from this thread (by Guest::process),
  // so reading its devices here needs no lock.
  guest_.manager().for_each_subscriber([&](event_manager::SubscriberId, const std::unique_ptr<Device>& device) {
    sample.devices.emplace_back(std::string(device->name()), device->stats());
  });
  board_->publish(std::move(sample));
}

}  // namespace device_host
