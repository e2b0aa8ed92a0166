// options.hpp — the device host's command line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common.hpp"
#include "load.hpp"

namespace device_host {

struct Options {
  double duration_seconds = 5;
  std::size_t clients = 4;
  std::size_t vcpus = 2;
  std::size_t message_size = 1024;
  std::uint64_t rate_limit = 16ull << 20;  // bytes per second through the net device; 0: unlimited
  std::array<bool, static_cast<std::size_t>(Misbehaviour::count_)> misbehave{true, true, true, true, true};
  std::uint64_t vcpu_iops = 4000;
  std::size_t queue_depth = 256;
  Clock::duration block_latency = std::chrono::microseconds(200);
  Clock::duration pause = std::chrono::milliseconds(200);
  bool progress = true;
};

inline constexpr std::size_t max_frame_size = 64 * 1024;

/// Parses argv. On --help prints the usage and returns nullopt with `exit_status` 0;
/// on a bad flag prints a one-line reason and returns nullopt with `exit_status` 2.
std::optional<Options> parse_options(int argc, char** argv, int& exit_status);

}  // namespace device_host
