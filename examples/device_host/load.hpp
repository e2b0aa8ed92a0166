// load.hpp — the built-in load generator: net clients (well-behaved and
// misbehaving), vCPU threads for the block queues, and the two ends of the
// console (the guest's serial port and the host's terminal).
//
// Every thread stops generating work when `LoadControl::stop` is set, then
// drains what it has in flight, each wait bounded in time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "block.hpp"
#include "common.hpp"

namespace device_host {

struct LoadControl {
  std::atomic<bool> stop{false};          // stop generating work, drain, exit
  std::atomic<bool> guest_paused{false};  // set by the control plane between pause() and resume()
};

/// What a client or a vCPU saw. Owned by its thread until joined.
struct LoadResult {
  std::uint64_t sent = 0;       // frames / requests sent
  std::uint64_t completed = 0;  // echoes received / completions seen
  std::uint64_t bytes = 0;
  std::uint64_t sent_during_pause = 0;    // sent while the guest was paused
  std::uint64_t served_during_pause = 0;  // ... and answered later
  LatencyRecorder latency;
  std::string error;  // the first thing that went wrong, empty if none
};

/// A well-behaved net client: keeps `window` frames of `message_size` bytes
/// in flight and checks every echo byte for byte.
void run_net_client(std::uint16_t port, std::size_t message_size, std::size_t window, LoadControl& control,
                    LoadResult& result);

enum class Misbehaviour { abrupt, oversized, malformed, slow_reader, idle, count_ };
const char* to_string(Misbehaviour misbehaviour) noexcept;

/// One misbehaving client: connects and misbehaves as told, then waits (at
/// most until `stop`) for the server to drop it. `max_frame` is the server's limit.
void run_misbehaving_client(Misbehaviour misbehaviour, std::uint16_t port, std::size_t max_frame, LoadControl& control,
                            LoadResult& result);

/// A vCPU: submits `iops` requests a second on its queue, at most `depth` in
/// flight, and harvests completions from the irqfd.
void run_vcpu(BlockQueue& queue, std::uint64_t iops, std::size_t depth, LoadControl& control, LoadResult& result);

/// The two peers of the console device: the guest's serial port writes a
/// byte pattern as fast as the device takes it; the host's terminal reads it
/// slowly (so the device's buffer fills and it mutes its input) and types a
/// few bytes back every 10 ms. Both check the other's pattern.
struct ConsoleResult {
  std::uint64_t guest_written = 0;  // guest -> terminal
  std::uint64_t terminal_read = 0;
  std::uint64_t terminal_written = 0;  // terminal -> guest
  std::uint64_t guest_read = 0;
  std::uint64_t corrupt = 0;  // bytes that did not match the pattern
  std::string error;
};
class ConsolePeers {
 public:
  ConsolePeers(UniqueFd guest_port, UniqueFd terminal);
  ~ConsolePeers();
  void start(LoadControl& control);
  /// Joins both threads (after control.stop) and closes the fds.
  ConsoleResult join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace device_host
