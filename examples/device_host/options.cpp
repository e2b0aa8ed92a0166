// options.cpp — parsing the device host's flags (see --help).
#include "options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

namespace device_host {

namespace {

constexpr const char* usage = R"(Usage: device_host [flags]

A VMM-shaped device host on event_manager: one loop thread runs a guest's
console, net and block devices in a nested manager, plus a metrics device; the
main thread is the control plane (adds devices, pauses the guest, snapshots it,
resumes it, hot-removes and re-adds the console, stops the loop); built-in
client and vCPU threads drive the load. Only loopback traffic. At the end it
prints a summary table and checks its invariants: exit status 0 when they hold,
1 when one fails, 2 for a bad flag.

Flags (--flag VALUE or --flag=VALUE):
  --duration SECONDS    how long the load runs (default 5; 0.5 to 3600)
  --clients N           well-behaved TCP clients of the net device (default 4; 0 to 64)
  --vcpus N             vCPU threads, one block queue each (default 2; 1 to 16)
  --message-size BYTES  payload of each echoed frame (default 1024; 1 to 65536)
  --rate-limit RATE     net device token bucket, bytes/s with optional K, M or G
                        (binary) suffix; 0 turns it off (default 16M)
  --misbehave LIST      misbehaving clients to add, comma-separated: abrupt (resets
                        mid-frame), oversized, malformed, slow-reader (never
                        reads), idle (never sends); or all, none (default all)
  --iops N              block requests per second per vCPU (default 4000; 1 to 1000000)
  --pause-ms MS         how long the control plane keeps the guest paused (default 200;
                        1 to 250, below the net device's 300 ms stall timeout)
  --no-progress         no progress line, only the summary
  --help                this text
)";

/// Joins the pieces. (Not `"literal" + std::string`: GCC 12 at -O3 gives a false
/// -Wrestrict warning for it.)
std::string concat(std::initializer_list<std::string_view> pieces) {
  std::string joined;
  for (std::string_view piece : pieces) joined.append(piece);
  return joined;
}

bool parse_number(std::string_view text, double& value) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  value = std::strtod(copy.c_str(), &end);
  return !copy.empty() && errno == 0 && end == copy.c_str() + copy.size() && std::isfinite(value);
}

bool parse_size(std::string_view text, std::uint64_t low, std::uint64_t high, std::uint64_t& out) {
  double value = 0;
  if (!parse_number(text, value) || value != std::floor(value)) return false;
  if (value < static_cast<double>(low) || value > static_cast<double>(high)) return false;
  out = static_cast<std::uint64_t>(value);
  return true;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, int& exit_status) {
  Options options;
  auto bad = [&](const std::string& message) {
    std::fprintf(stderr, "device_host: %s (see --help)\n", message.c_str());
    exit_status = 2;
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      exit_status = 0;
      return std::nullopt;
    }
    if (arg == "--no-progress") {
      options.progress = false;
      continue;
    }
    if (!arg.starts_with("--")) return bad(concat({"unexpected argument '", arg, "'"}));
    std::string_view name = arg;
    std::string_view value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      static constexpr std::string_view known[] = {"--duration",   "--clients",   "--vcpus", "--message-size",
                                                   "--rate-limit", "--misbehave", "--iops",  "--pause-ms"};
      bool takes_value = false;
      for (auto k : known) takes_value = takes_value || k == name;
      if (!takes_value) return bad(concat({"unknown flag '", name, "'"}));
      if (i + 1 >= argc) return bad(concat({"flag '", name, "' needs a value"}));
      value = argv[++i];
    }
    const std::string shown = concat({"'", value, "' for ", name});
    std::uint64_t n = 0;
    if (name == "--duration") {
      double seconds = 0;
      if (!parse_number(value, seconds) || seconds < 0.5 || seconds > 3600) {
        return bad(concat({"bad value ", shown, ": expected seconds from 0.5 to 3600"}));
      }
      options.duration_seconds = seconds;
    } else if (name == "--clients") {
      if (!parse_size(value, 0, 64, n)) return bad(concat({"bad value ", shown, ": expected 0 to 64"}));
      options.clients = n;
    } else if (name == "--vcpus") {
      if (!parse_size(value, 1, 16, n)) return bad(concat({"bad value ", shown, ": expected 1 to 16"}));
      options.vcpus = n;
    } else if (name == "--message-size") {
      if (!parse_size(value, 1, max_frame_size, n))
        return bad(concat({"bad value ", shown, ": expected 1 to 65536 bytes"}));
      options.message_size = n;
    } else if (name == "--rate-limit") {
      std::uint64_t scale = 1;
      std::string_view digits = value;
      if (!digits.empty()) {
        switch (digits.back()) {
          case 'K':
          case 'k': scale = 1ull << 10; break;
          case 'M':
          case 'm': scale = 1ull << 20; break;
          case 'G':
          case 'g': scale = 1ull << 30; break;
          default: break;
        }
        if (scale != 1) digits.remove_suffix(1);
      }
      if (!parse_size(digits, 0, (64ull << 30) / scale, n)) {
        return bad(concat({"bad value ", shown, ": expected bytes per second (0 to 64G), e.g. 500K or 16M"}));
      }
      options.rate_limit = n * scale;
      if (options.rate_limit != 0 && options.rate_limit < 1024) {
        return bad(concat({"bad value ", shown, ": a rate limit below 1K would take minutes per frame"}));
      }
    } else if (name == "--misbehave") {
      options.misbehave.fill(false);
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item == "all") {
          options.misbehave.fill(true);
          continue;
        }
        if (item == "none") continue;
        bool found = false;
        for (std::size_t m = 0; m < options.misbehave.size(); ++m) {
          if (item == to_string(static_cast<Misbehaviour>(m))) options.misbehave[m] = found = true;
        }
        if (!found) {
          return bad(
              concat({"unknown misbehaviour '", item,
                      "' for --misbehave: expected abrupt, oversized, malformed, slow-reader, idle, all or none"}));
        }
      }
    } else if (name == "--iops") {
      if (!parse_size(value, 1, 1000000, n)) return bad(concat({"bad value ", shown, ": expected 1 to 1000000"}));
      options.vcpu_iops = n;
    } else if (name == "--pause-ms") {
      if (!parse_size(value, 1, 250, n)) return bad(concat({"bad value ", shown, ": expected 1 to 250 ms"}));
      options.pause = std::chrono::milliseconds(n);
    } else {
      return bad(concat({"unknown flag '", name, "'"}));
    }
  }
  return options;
}

}  // namespace device_host
