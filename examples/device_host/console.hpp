// console.hpp — the console device: a byte bridge between the guest's serial
// port and the host's terminal, each a socketpair end.
#pragma once

#include <cstddef>
#include <vector>

#include "common.hpp"

namespace device_host {

/// Copies bytes guest -> host and host -> guest through one bounded buffer per
/// direction. When a buffer is full the device mutes the input that fills it
/// (modify(Events::empty(fd))): a terminal that stops reading costs the loop
/// no CPU, and the guest's writes block in the kernel instead of in our memory.
class ConsoleDevice final : public Device {
 public:
  /// Takes the device's ends of the two socketpairs (non-blocking).
  ConsoleDevice(UniqueFd guest_side, UniqueFd host_side, std::size_t buffer_size);

  void init(event_manager::EventOps& ops) override;
  void process(event_manager::Events events, event_manager::EventOps& ops) override;
  std::string_view name() const noexcept override { return "console"; }
  DeviceStats stats() const noexcept override { return stats_; }

 private:
  // One direction of the bridge: bytes read from `from`, waiting in
  // buffer[begin, end), written to `to`.
  struct Direction {
    int from = -1;
    int to = -1;
    std::vector<char> buffer;
    std::size_t begin = 0;
    std::size_t end = 0;
    bool input_closed = false;   // `from` reached end of file or failed
    bool output_closed = false;  // `to` refuses writes (peer gone)
    bool pending() const noexcept { return end > begin; }
    bool full() const noexcept { return begin == 0 && end == buffer.size(); }
  };

  void fill(Direction& direction);
  void flush(Direction& direction);
  event_manager::EventSet wanted(int fd) const;
  /// Registers (or mutes) `fd` with what it needs now; `add` on init().
  void update(event_manager::EventOps& ops, int fd, bool add);

  UniqueFd guest_side_;
  UniqueFd host_side_;
  Direction to_host_;   // guest_side_ -> host_side_ (what the guest prints)
  Direction to_guest_;  // host_side_ -> guest_side_ (what the user types)
  event_manager::EventSet registered_guest_;
  event_manager::EventSet registered_host_;
  DeviceStats stats_;
};

}  // namespace device_host
