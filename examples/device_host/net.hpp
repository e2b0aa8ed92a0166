// net.hpp — the net device: a loopback TCP server echoing length-prefixed
// frames, with an idle timeout per connection and a token-bucket rate limiter.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"

namespace device_host {

/// The wire format: an 8-byte header (magic, then payload length, both
/// big-endian) and the payload. The server echoes each frame unchanged.
inline constexpr std::uint32_t frame_magic = 0x454d4631;  // "EMF1"
inline constexpr std::size_t frame_header_size = 8;

/// Why the server closed a connection. `peer_closed` is the only orderly end.
enum class DropReason : std::uint8_t {
  peer_closed,  // orderly close between frames
  abrupt,       // reset by the peer, or closed in the middle of a frame
  oversized,    // the header announces more than max_frame bytes
  malformed,    // the header's magic is wrong
  slow_reader,  // echoes waited for the peer to read longer than the stall timeout
  idle,         // nothing arrived for the idle timeout
  count_,
};
const char* to_string(DropReason reason) noexcept;

struct NetConfig {
  std::size_t max_frame = 64 * 1024;                               // largest payload accepted
  Clock::duration idle_timeout = std::chrono::seconds(1);          // no bytes in or out: dropped
  Clock::duration stall_timeout = std::chrono::milliseconds(300);  // echoes not read: dropped
  std::uint64_t rate_limit = 0;                                    // payload bytes per second; 0: unlimited
  std::size_t output_high_water = 256 * 1024;                      // stop reading a peer above this
};

/// A token bucket: `rate` tokens a second, at most `capacity` saved up.
class TokenBucket {
 public:
  TokenBucket(std::uint64_t rate, std::uint64_t capacity, Clock::time_point now) noexcept;
  /// Takes `n` tokens if there are that many.
  bool take(std::uint64_t n, Clock::time_point now) noexcept;
  /// How long until `n` tokens are there (n <= capacity).
  Clock::duration time_until(std::uint64_t n, Clock::time_point now) noexcept;

 private:
  void refill(Clock::time_point now) noexcept;
  double rate_;  // tokens per second (double: fractions of a token accumulate between refills)
  double capacity_;
  double tokens_;
  Clock::time_point last_;
};

class NetDevice final : public Device {
 public:
  /// Listens on 127.0.0.1, on a port the kernel picks (see port()).
  explicit NetDevice(NetConfig config);

  void init(event_manager::EventOps& ops) override;
  void process(event_manager::Events events, event_manager::EventOps& ops) override;
  std::string_view name() const noexcept override { return "net"; }
  DeviceStats stats() const noexcept override { return stats_; }

  std::uint16_t port() const noexcept { return port_; }
  std::size_t connections() const noexcept { return open_; }
  std::uint64_t accepted() const noexcept { return accepted_; }
  std::uint64_t drops(DropReason reason) const noexcept { return drops_[static_cast<std::size_t>(reason)]; }
  std::uint64_t throttled() const noexcept { return throttled_count_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::uint64_t serial = 0;  // for log lines: fd numbers are reused
    std::vector<std::uint8_t> input;
    std::size_t input_used = 0;
    std::vector<std::uint8_t> output;
    std::size_t output_sent = 0;
    event_manager::TimerId timer;
    event_manager::EventSet registered;
    Clock::time_point last_activity;
    Clock::time_point last_write_progress;
    bool throttled = false;
    bool muted_for_output = false;
    std::size_t pending_output() const noexcept { return output.size() - output_sent; }
  };
  static constexpr std::uint32_t listener_data = 0xffffffff;
  static constexpr std::uint32_t refill_timer_data = 0xffffffff;

  void accept_all(event_manager::EventOps& ops);
  void on_readable(event_manager::EventOps& ops, std::uint32_t slot);
  /// Echoes every complete frame, as far as the rate limiter allows. False if
  /// the connection was dropped.
  bool parse_frames(event_manager::EventOps& ops, std::uint32_t slot);
  bool flush(event_manager::EventOps& ops, std::uint32_t slot);
  void update_interest(event_manager::EventOps& ops, std::uint32_t slot);
  void on_timer(event_manager::EventOps& ops, std::uint32_t slot);
  void on_refill(event_manager::EventOps& ops);
  void arm_connection_timer(event_manager::EventOps& ops, std::uint32_t slot, Clock::time_point deadline);
  void drop(event_manager::EventOps& ops, std::uint32_t slot, DropReason reason, const std::string& detail);

  NetConfig config_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  TokenBucket bucket_;
  event_manager::TimerId refill_timer_;
  bool refill_armed_ = false;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> throttled_slots_;  // (slot, serial)
  std::vector<Connection> connections_;                                   // indexed by slot; fd -1 when free
  std::vector<std::uint32_t> free_slots_;
  std::size_t open_ = 0;
  std::uint64_t next_serial_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t throttled_count_ = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count_)> drops_{};
  DeviceStats stats_;
};

}  // namespace device_host
