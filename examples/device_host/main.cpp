// main.cpp — the device host: a VMM-shaped program on event_manager.
//
// Threads:
//   loop       drives the host manager with run(std::stop_token). The host holds
//              two subscribers: the guest (a nested manager holding the console,
//              net and block devices; the host watches its epoll_fd()) and the
//              metrics device (a periodic timer).
//   main       the control plane. It talks to the loop only through a
//              RemoteEndpoint: it adds the devices, pauses the guest, snapshots
//              it, resumes it, hot-removes and re-adds the console, and stops
//              the loop. Every other call is a timed "ping" of the loop.
//   load       net clients (and a few misbehaving ones), one vCPU per block
//              queue, the guest's serial port and the host's terminal.
//
// At the end it prints a summary table and checks its invariants (every
// request answered, every byte delivered, nothing lost across the pause, each
// misbehaving peer dropped for its reason, fds back to the starting set); the
// exit status is 1 if one fails.
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "block.hpp"
#include "common.hpp"
#include "console.hpp"
#include "guest.hpp"
#include "load.hpp"
#include "metrics.hpp"
#include "net.hpp"
#include "options.hpp"

using namespace std::chrono_literals;
using event_manager::MutEventSubscriber;
using event_manager::RemoteEndpoint;
using event_manager::SubscriberId;
using event_manager::SubscriberOps;

namespace device_host {
namespace {

using HostHandle = std::unique_ptr<MutEventSubscriber>;
using HostOps = SubscriberOps<HostHandle>;

/// The open file descriptors of this process (without the one used to list them).
std::set<int> open_fds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own) fds.insert(fd);
  }
  ::closedir(dir);
  return fds;
}

std::pair<UniqueFd, UniqueFd> make_socketpair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::system_category(), "socketpair");
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

/// What the control plane reads from the guest, on the loop thread.
struct Snapshot {
  std::vector<std::pair<std::string, DeviceStats>> devices;
  std::size_t block_in_flight = 0;
  std::size_t net_connections = 0;
  bool paused = false;
};

/// The control plane's side of the RemoteEndpoint: every call is timed.
class ControlPlane {
 public:
  explicit ControlPlane(RemoteEndpoint<HostHandle> endpoint) : endpoint_(std::move(endpoint)) {}

  /// Runs `f` on the loop thread and returns its value; throws if the request
  /// or its Result failed. `what` names it in the operations list (nullptr: a ping).
  template <class F>
  auto call(const char* what, F&& f) {
    const auto start = Clock::now();
    auto result = endpoint_.call_blocking(std::forward<F>(f));
    const auto took = Clock::now() - start;
    latency_.add(took);
    if (what != nullptr) operations_.emplace_back(what, took);
    if (!result) throw std::runtime_error(std::string(what ? what : "ping") + ": " + result.error().message());
    if constexpr (!std::is_void_v<typename decltype(result)::value_type>) return std::move(*result);
  }

  const LatencyRecorder& latency() const noexcept { return latency_; }
  const std::vector<std::pair<std::string, Clock::duration>>& operations() const noexcept { return operations_; }

 private:
  RemoteEndpoint<HostHandle> endpoint_;
  LatencyRecorder latency_;
  std::vector<std::pair<std::string, Clock::duration>> operations_;
};

/// Everything the summary prints.
struct Report {
  double seconds = 0;
  Snapshot final;
  std::uint64_t metrics_ticks = 0;
  std::uint64_t guest_batches = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count_)> drops{};
  std::uint64_t net_accepted = 0;
  std::uint64_t net_throttled = 0;
  LoadResult clients;
  LoadResult vcpus;
  std::vector<std::string> load_errors;
  ConsoleResult console;
  Clock::duration pause_duration{};
  bool frozen_while_paused = false;
  Snapshot paused_snapshot;
  Clock::duration hot_removal{};
  std::string loop_error;
  LatencyRecorder control_latency;
  std::vector<std::pair<std::string, Clock::duration>> control_operations;
};

std::string progress_line(const Options& options, const MetricsBoard& board, Clock::time_point start, bool paused) {
  auto [previous, latest, count] = board.latest();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  char text[256];
  if (count < 2) {
    std::snprintf(text, sizeof text, "[%4.1fs/%.0fs] warming up", elapsed, options.duration_seconds);
    return text;
  }
  const double dt = std::chrono::duration<double>(latest.at - previous.at).count();
  auto rate = [&](const char* device, auto field) {
    return static_cast<double>(field(latest.of(device)) - field(previous.of(device))) / dt;
  };
  auto events = [](const DeviceStats& s) { return s.events; };
  auto requests = [](const DeviceStats& s) { return s.requests; };
  auto bytes = [](const DeviceStats& s) { return s.bytes; };
  const double all_events = rate("console", events) + rate("net", events) + rate("block", events);
  std::snprintf(text, sizeof text, "[%4.1fs/%.0fs] %s events/s | net %s frames/s | block %s req/s | console %s/s | %s",
                elapsed, options.duration_seconds, format_count(all_events).c_str(),
                format_count(rate("net", requests)).c_str(), format_count(rate("block", requests)).c_str(),
                format_bytes(rate("console", bytes)).c_str(), paused ? "guest PAUSED" : "guest running");
  return text;
}

Snapshot take_snapshot(Guest& guest, const BlockDevice* block, const NetDevice* net) {
  Snapshot snapshot;
  guest.manager().for_each_subscriber([&](SubscriberId, const std::unique_ptr<Device>& device) {
    snapshot.devices.emplace_back(std::string(device->name()), device->stats());
  });
  snapshot.block_in_flight = block->in_flight();
  snapshot.net_connections = net->connections();
  return snapshot;
}

/// Builds the host, runs the load and the control plane's script, tears it
/// all down and fills `report`.
void run_host(const Options& options, Report& report) {
  // --- The host loop and the guest --------------------------------------------------
  auto guest_manager = GuestManager::create();
  if (!guest_manager) throw std::system_error(guest_manager.error(), "guest manager");
  auto host_created = HostManager::create();
  if (!host_created) throw std::system_error(host_created.error(), "host manager");
  HostManager host = std::move(*host_created);
  auto guest_owner = std::make_unique<Guest>(std::move(*guest_manager));
  Guest* const guest = guest_owner.get();  // owned by the host; touched only on the loop thread
  const SubscriberId guest_id = host.add_subscriber(std::move(guest_owner));
  auto board = std::make_shared<MetricsBoard>();
  auto metrics_owner = std::make_unique<MetricsDevice>(*guest, board, 1s);
  MetricsDevice* const metrics = metrics_owner.get();
  host.add_subscriber(std::move(metrics_owner));

  ControlPlane control(host.remote_endpoint());
  std::string loop_error;
  std::jthread loop([&host, &loop_error](std::stop_token stop) {
    // A device that throws leaves run(); the manager stays consistent, so log
    // it and keep serving (the control plane's calls must not hang), and fail
    // the run at the end.
    while (!stop.stop_requested()) {
      try {
        auto ran = host.run(stop);
        if (!ran && loop_error.empty()) loop_error = ran.error().message();
        if (!ran) std::this_thread::sleep_for(10ms);
      } catch (const std::exception& e) {
        if (loop_error.empty()) loop_error = e.what();
        log("loop: %s", e.what());
      }
    }
  });

  // --- Devices, added by the control plane ---------------------------------------
  auto [guest_port, console_guest_side] = make_socketpair();
  auto [console_host_side, terminal] = make_socketpair();
  auto console =
      std::make_unique<ConsoleDevice>(std::move(console_guest_side), std::move(console_host_side), 64 * 1024);
  NetConfig net_config;
  net_config.max_frame = max_frame_size;
  net_config.rate_limit = options.rate_limit;
  auto net = std::make_unique<NetDevice>(net_config);
  const NetDevice* const net_device = net.get();
  const std::uint16_t port = net->port();
  std::vector<std::shared_ptr<BlockQueue>> queues;
  for (std::size_t i = 0; i < options.vcpus; ++i) queues.push_back(std::make_shared<BlockQueue>());
  auto block = std::make_unique<BlockDevice>(queues, options.queue_depth, options.block_latency);
  const BlockDevice* const block_device = block.get();

  auto add_device = [&](const char* what, std::unique_ptr<Device> device) {
    return control.call(what, [guest, device = std::move(device)](HostOps&) mutable {
      return guest->manager().add_subscriber(std::move(device));
    });
  };
  SubscriberId console_id = add_device("add console", std::move(console));
  add_device("add net", std::move(net));
  add_device("add block", std::move(block));
  log("control: guest up with %zu devices; net device on 127.0.0.1:%u", std::size_t{3}, unsigned{port});

  // --- Load --------------------------------------------------------------------
  LoadControl load;
  std::vector<LoadResult> client_results(options.clients);
  std::vector<LoadResult> misbehaving_results(options.misbehave.size());
  std::vector<LoadResult> vcpu_results(options.vcpus);
  std::vector<std::thread> threads;
  ConsolePeers console_peers(std::move(guest_port), std::move(terminal));
  console_peers.start(load);
  for (std::size_t i = 0; i < options.vcpus; ++i) {
    threads.emplace_back(run_vcpu, std::ref(*queues[i]), options.vcpu_iops, options.queue_depth, std::ref(load),
                         std::ref(vcpu_results[i]));
  }
  for (std::size_t i = 0; i < options.clients; ++i) {
    threads.emplace_back(run_net_client, port, options.message_size, std::size_t{4}, std::ref(load),
                         std::ref(client_results[i]));
  }
  for (std::size_t m = 0; m < options.misbehave.size(); ++m) {
    if (!options.misbehave[m]) continue;
    threads.emplace_back(run_misbehaving_client, static_cast<Misbehaviour>(m), port, max_frame_size, std::ref(load),
                         std::ref(misbehaving_results[m]));
  }

  // --- The control plane's script ---------------------------------------------------
  const auto start = Clock::now();
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_seconds));
  const auto pause_at = start + duration * 35 / 100;
  const auto hot_remove_at = start + duration * 60 / 100;
  bool paused_done = false;
  bool removed_done = false;
  bool guest_paused = false;
  auto next_progress = start + (Console::instance().interactive() ? 250ms : 1s);
  while (Clock::now() < start + duration) {
    std::this_thread::sleep_for(50ms);
    (void)control.call(nullptr, [](HostOps& ops) { return ops.subscriber_count(); });  // a ping, timed
    const auto now = Clock::now();
    if (!paused_done && now >= pause_at) {
      paused_done = true;
      control.call("pause guest", [guest_id](HostOps& ops) { return ops.pause(guest_id); });
      const auto paused_from = Clock::now();
      load.guest_paused = true;  // from here on, a request "arrived during the pause"
      guest_paused = true;
      if (options.progress) Console::instance().progress(progress_line(options, *board, start, true));
      auto snapshot = [&] {
        return control.call("snapshot", [guest, block_device, net_device, guest_id](HostOps& ops) {
          Snapshot s = take_snapshot(*guest, block_device, net_device);
          s.paused = ops.paused(guest_id).value_or(false);
          return s;
        });
      };
      report.paused_snapshot = snapshot();
      std::this_thread::sleep_for(options.pause);
      const Snapshot later = snapshot();
      report.frozen_while_paused = report.paused_snapshot.paused && later.devices == report.paused_snapshot.devices;
      load.guest_paused = false;
      control.call("resume guest", [guest_id](HostOps& ops) { return ops.resume(guest_id); });
      guest_paused = false;
      report.pause_duration = Clock::now() - paused_from;
      std::string state;
      for (const auto& [name, stats] : report.paused_snapshot.devices) {
        state += " " + name + "=" + std::to_string(stats.requests);
      }
      log("control: guest paused for %s; snapshot: requests%s, %zu block requests in flight, %zu connections; "
          "counters %s while paused",
          format_duration(report.pause_duration).c_str(), state.c_str(), report.paused_snapshot.block_in_flight,
          report.paused_snapshot.net_connections, report.frozen_while_paused ? "frozen" : "MOVED");
    }
    if (!removed_done && now >= hot_remove_at) {
      removed_done = true;
      const auto removal_start = Clock::now();
      std::unique_ptr<Device> removed = control.call("hot-remove console", [guest, console_id](HostOps&) {
        return guest->manager().remove_subscriber(console_id);
      });
      std::this_thread::sleep_for(100ms);  // the guest keeps writing; its bytes wait in the socket
      console_id = add_device("re-add console", std::move(removed));
      report.hot_removal = Clock::now() - removal_start;
      log("control: console hot-removed and re-added (%s unplugged)", format_duration(report.hot_removal).c_str());
    }
    if (options.progress && now >= next_progress) {
      Console::instance().progress(progress_line(options, *board, start, guest_paused));
      next_progress += Console::instance().interactive() ? 250ms : 1s;
    }
  }
  if (options.progress) Console::instance().finish_progress();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // --- Drain and stop ------------------------------------------------------------
  load.stop = true;
  for (auto& thread : threads) thread.join();
  report.console = console_peers.join();
  report.final = control.call("final snapshot", [guest, block_device, net_device](HostOps&) {
    return take_snapshot(*guest, block_device, net_device);
  });
  control.call("read counters", [&report, guest, net_device, metrics](HostOps&) {
    for (std::size_t r = 0; r < report.drops.size(); ++r)
      report.drops[r] = net_device->drops(static_cast<DropReason>(r));
    report.net_accepted = net_device->accepted();
    report.net_throttled = net_device->throttled();
    report.metrics_ticks = metrics->ticks();
    report.guest_batches = guest->batches();
  });
  loop.request_stop();  // run(stop_token) returns after its current batch
  loop.join();
  report.loop_error = loop_error;

  for (auto& r : client_results) {
    report.clients.sent += r.sent;
    report.clients.completed += r.completed;
    report.clients.bytes += r.bytes;
    report.clients.sent_during_pause += r.sent_during_pause;
    report.clients.served_during_pause += r.served_during_pause;
    report.clients.latency.merge(r.latency);
    if (!r.error.empty()) report.load_errors.push_back("net client: " + r.error);
  }
  for (auto& r : vcpu_results) {
    report.vcpus.sent += r.sent;
    report.vcpus.completed += r.completed;
    report.vcpus.bytes += r.bytes;
    report.vcpus.sent_during_pause += r.sent_during_pause;
    report.vcpus.served_during_pause += r.served_during_pause;
    report.vcpus.latency.merge(r.latency);
    if (!r.error.empty()) report.load_errors.push_back("vCPU: " + r.error);
  }
  for (std::size_t m = 0; m < misbehaving_results.size(); ++m) {
    if (!misbehaving_results[m].error.empty()) {
      report.load_errors.push_back(std::string(to_string(static_cast<Misbehaviour>(m))) +
                                   " client: " + misbehaving_results[m].error);
    }
  }
  if (!report.console.error.empty()) report.load_errors.push_back(report.console.error);
  report.control_latency = control.latency();
  report.control_operations = control.operations();
  // Leaving this scope destroys the host manager: the guest, its manager and
  // every device, closing their fds.
}

/// Prints the table; returns the number of failed invariants.
int print_summary(const Options& options, const Report& r, const std::set<int>& fds_before,
                  const std::set<int>& fds_after) {
  auto device = [&](const char* name) {
    return r.final.devices.empty() ? DeviceStats{} : [&] {
      for (const auto& [n, s] : r.final.devices)
        if (n == name) return s;
      return DeviceStats{};
    }();
  };
  const DeviceStats console = device("console");
  const DeviceStats net = device("net");
  const DeviceStats block = device("block");
  const double seconds = r.seconds > 0 ? r.seconds : 1;
  auto per_second = [&](std::uint64_t n) { return format_count(static_cast<double>(n) / seconds); };
  auto p = [](const LatencyRecorder& l, double q) { return l.count() ? format_duration(l.quantile(q)) : "-"; };

  std::printf("\ndevice_host: %.1f s, %zu clients, %zu vCPUs, %zu-byte messages, rate limit %s\n\n", r.seconds,
              options.clients, options.vcpus, options.message_size,
              options.rate_limit ? (format_bytes(static_cast<double>(options.rate_limit)) + "/s").c_str() : "off");
  std::printf("  %-9s %9s %9s  %-26s %11s %10s %10s\n", "device", "events", "events/s", "work", "bytes", "p50", "p99");
  std::printf("  %-9s %9s %9s  %-26s %11s %10s %10s\n", "console", format_count(double(console.events)).c_str(),
              per_second(console.events).c_str(), (format_count(double(console.requests)) + " writes").c_str(),
              format_bytes(double(console.bytes)).c_str(), "-", "-");
  std::printf("  %-9s %9s %9s  %-26s %11s %10s %10s\n", "net", format_count(double(net.events)).c_str(),
              per_second(net.events).c_str(), (format_count(double(net.requests)) + " frames echoed").c_str(),
              format_bytes(double(net.bytes)).c_str(), p(r.clients.latency, 0.5).c_str(),
              p(r.clients.latency, 0.99).c_str());
  std::printf("  %-9s %9s %9s  %-26s %11s %10s %10s\n", "block", format_count(double(block.events)).c_str(),
              per_second(block.events).c_str(), (format_count(double(block.requests)) + " requests").c_str(),
              format_bytes(double(block.bytes)).c_str(), p(r.vcpus.latency, 0.5).c_str(),
              p(r.vcpus.latency, 0.99).c_str());
  std::printf("  %-9s %9s %9s  %-26s %11s %10s %10s\n", "metrics", format_count(double(r.metrics_ticks)).c_str(),
              per_second(r.metrics_ticks).c_str(), (format_count(double(r.metrics_ticks)) + " snapshots").c_str(), "-",
              "-", "-");
  std::printf("  %-9s %9s %9s  %-26s %11s %10s %10s\n", "control", "-", "-",
              (format_count(double(r.control_latency.count())) + " remote requests").c_str(), "-",
              p(r.control_latency, 0.5).c_str(), p(r.control_latency, 0.99).c_str());
  const std::uint64_t all_events = console.events + net.events + block.events + r.metrics_ticks;
  std::printf("  %-9s %9s %9s  %-26s\n", "total", format_count(double(all_events)).c_str(),
              per_second(all_events).c_str(), (format_count(double(r.guest_batches)) + " guest batches").c_str());
  std::printf(
      "\n  latency: net = frame round trip seen by the clients; block = submit to completion seen by\n"
      "  the vCPU (simulated device latency 200-400 us; the p99 includes requests held by the pause);\n"
      "  control = RemoteEndpoint::call_blocking() round trip\n");
  std::printf("  control operations:");
  for (const auto& [name, took] : r.control_operations)
    std::printf(" %s %s;", name.c_str(), format_duration(took).c_str());
  std::printf("\n");
  const std::uint64_t arrived = r.clients.sent_during_pause + r.vcpus.sent_during_pause;
  const std::uint64_t served = r.clients.served_during_pause + r.vcpus.served_during_pause;
  std::printf("  guest pause: %s; %llu requests arrived during it (net %llu, block %llu), %llu served after resume\n",
              format_duration(r.pause_duration).c_str(), static_cast<unsigned long long>(arrived),
              static_cast<unsigned long long>(r.clients.sent_during_pause),
              static_cast<unsigned long long>(r.vcpus.sent_during_pause), static_cast<unsigned long long>(served));
  std::printf(
      "  backpressure: console muted its input %llu times; net throttled %llu times by the rate limiter,"
      " muted %llu times for output\n",
      static_cast<unsigned long long>(console.muted), static_cast<unsigned long long>(r.net_throttled),
      static_cast<unsigned long long>(net.muted - r.net_throttled));
  std::printf("  net connections: %llu accepted;", static_cast<unsigned long long>(r.net_accepted));
  for (std::size_t d = 0; d < r.drops.size(); ++d) {
    std::printf(" %s %llu%s", to_string(static_cast<DropReason>(d)), static_cast<unsigned long long>(r.drops[d]),
                d + 1 < r.drops.size() ? "," : "\n");
  }
  std::printf("  console hot removal: unplugged for %s\n", format_duration(r.hot_removal).c_str());

  int failed = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failed;
  };
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  std::printf("\n  invariants:\n");
  check(r.vcpus.sent == r.vcpus.completed && r.vcpus.completed == block.requests,
        "block requests sent == completed (" + n(r.vcpus.sent) + " sent, " + n(r.vcpus.completed) +
            " completions seen, " + n(block.requests) + " completed by the device)");
  check(r.clients.sent == r.clients.completed, "net frames sent == echoes received, byte for byte (" +
                                                   n(r.clients.sent) + " == " + n(r.clients.completed) + ")");
  check(r.console.guest_written == r.console.terminal_read && r.console.terminal_written == r.console.guest_read &&
            r.console.corrupt == 0,
        "console bytes delivered in order, both ways, across the hot removal (" + n(r.console.guest_written) + " + " +
            n(r.console.terminal_written) + " bytes, " + n(r.console.corrupt) + " corrupt)");
  check(arrived == served, "every request that arrived during the pause was served (" + n(arrived) + ")");
  check(r.frozen_while_paused, "device counters did not move while the guest was paused");
  bool drops_ok = r.drops[static_cast<std::size_t>(DropReason::peer_closed)] == options.clients;
  std::string drops_text;
  const std::pair<Misbehaviour, DropReason> expected[] = {{Misbehaviour::abrupt, DropReason::abrupt},
                                                          {Misbehaviour::oversized, DropReason::oversized},
                                                          {Misbehaviour::malformed, DropReason::malformed},
                                                          {Misbehaviour::slow_reader, DropReason::slow_reader},
                                                          {Misbehaviour::idle, DropReason::idle}};
  for (auto [misbehaviour, reason] : expected) {
    const std::uint64_t want = options.misbehave[static_cast<std::size_t>(misbehaviour)] ? 1 : 0;
    const std::uint64_t got = r.drops[static_cast<std::size_t>(reason)];
    drops_ok = drops_ok && got == want;
    drops_text += std::string(drops_text.empty() ? "" : ", ") + to_string(reason) + " " + n(got) + "/" + n(want);
  }
  check(drops_ok, "each misbehaving peer dropped for its own reason, the " + n(options.clients) +
                      " well-behaved ones closed by themselves (" + drops_text + ")");
  check(r.final.net_connections == 0 && r.final.block_in_flight == 0, "no connection open, no block request in flight");
  check(r.load_errors.empty(), r.load_errors.empty() ? "no load thread reported an error" : r.load_errors.front());
  check(r.loop_error.empty(), r.loop_error.empty() ? "the loop ran without an error" : "loop: " + r.loop_error);
  check(fds_before == fds_after,
        "open fds back to the starting set (" + n(fds_before.size()) + " before, " + n(fds_after.size()) + " after)");
  std::printf("\ndevice_host: %s\n", failed == 0 ? "all invariants hold" : "INVARIANTS FAILED");
  return failed;
}

}  // namespace
}  // namespace device_host

int main(int argc, char** argv) {
  using namespace device_host;
  int exit_status = 0;
  const auto options = parse_options(argc, argv, exit_status);
  if (!options) return exit_status;
  Console::instance().set_interactive(options->progress && ::isatty(STDOUT_FILENO) == 1);
  const std::set<int> fds_before = open_fds();
  Report report;
  try {
    run_host(*options, report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "device_host: %s\n", e.what());
    return 1;
  }
  const std::set<int> fds_after = open_fds();
  return print_summary(*options, report, fds_before, fds_after) == 0 ? 0 : 1;
}
