// common.hpp — what every part of the device host shares: the clock, the
// Device interface the guest's manager holds, per-device counters, a latency
// recorder and a thread-safe logger that cooperates with the progress line.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include <event_manager/event_manager.hpp>

namespace device_host {

/// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int fd() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) (void)::close(fd_);  // nothing to do about a failed close: the fd is gone either way
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

using Clock = std::chrono::steady_clock;

/// Counters every device keeps on the loop thread; metrics snapshots them each
/// second, the control plane reads them while the guest is paused.
struct DeviceStats {
  std::uint64_t events = 0;    // process() calls: fd events and timer expiries
  std::uint64_t requests = 0;  // frames echoed, block requests completed, console chunks copied
  std::uint64_t bytes = 0;     // payload bytes moved
  std::uint64_t muted = 0;     // times the device muted an input (backpressure or rate limit)
  std::uint64_t dropped = 0;   // peers dropped for misbehaving
  friend bool operator==(const DeviceStats&, const DeviceStats&) = default;
};

/// A device of the guest. Dynamic dispatch (one vtable call per event) so that
/// devices of different types share one manager, as in a VMM's device thread.
class Device : public event_manager::MutEventSubscriber {
 public:
  virtual std::string_view name() const noexcept = 0;
  virtual DeviceStats stats() const noexcept = 0;
};

/// The guest's manager: every device of one guest.
using GuestManager = event_manager::EventManager<std::unique_ptr<Device>>;
/// The host loop's manager: the guest (a nested manager) and the metrics device.
using HostManager = event_manager::EventManager<std::unique_ptr<event_manager::MutEventSubscriber>>;

/// Latency samples of one kind; percentiles at the end. Each recorder belongs
/// to one thread until merged.
class LatencyRecorder {
 public:
  void add(Clock::duration d) { samples_.push_back(d); }
  void merge(const LatencyRecorder& other) {
    samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  }
  std::size_t count() const noexcept { return samples_.size(); }
  /// The q-quantile (0..1), or zero without samples. Sorts a copy.
  Clock::duration quantile(double q) const {
    if (samples_.empty()) return {};
    auto sorted = samples_;
    auto index = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(index), sorted.end());
    return sorted[index];
  }

 private:
  std::vector<Clock::duration> samples_;
};

/// "12.3 µs", "4.56 ms", "1.20 s".
std::string format_duration(Clock::duration d);
/// "512 B", "12.3 KiB", "4.56 MiB".
std::string format_bytes(double bytes);
/// "950", "12.3k", "4.56M".
std::string format_count(double count);

/// Console output shared by the loop thread's log lines and the main thread's
/// progress line: a log line first erases a redrawn progress line, which the
/// next redraw puts back.
class Console {
 public:
  static Console& instance();
  void set_interactive(bool interactive) { interactive_ = interactive; }
  bool interactive() const noexcept { return interactive_; }
  /// Prints one log line (a newline is added).
  void log(const std::string& line);
  /// Redraws the progress line in place (terminal) or prints it as a plain line.
  void progress(const std::string& line);
  /// Ends a redrawn progress line so that what follows starts on a new line.
  void finish_progress();

 private:
  std::mutex mutex_;
  bool interactive_ = false;
  bool progress_shown_ = false;
};

/// printf-style log line, prefixed with the seconds since the program started.
[[gnu::format(printf, 1, 2)]] void log(const char* format, ...);

}  // namespace device_host
