// load.cpp — the load generator threads (see load.hpp).
#include "load.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>

#include "net.hpp"

namespace device_host {

using namespace std::chrono_literals;

namespace {

void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

/// A blocking TCP connection to 127.0.0.1:port whose sends and receives give
/// up after `timeout` (so no client thread can hang). `receive_buffer` > 0
/// shrinks the receive buffer before connecting.
UniqueFd connect_loopback(std::uint16_t port, std::string& error, int receive_buffer = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = errno_text("socket");
    return fd;
  }
  if (receive_buffer > 0) (void)::setsockopt(fd.fd(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  const timeval timeout{5, 0};
  (void)::setsockopt(fd.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  (void)::setsockopt(fd.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const int yes = 1;
  (void)::setsockopt(fd.fd(), IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    error = errno_text("connect");
    fd.reset();
  }
  return fd;
}

bool send_all(int fd, const std::uint8_t* data, std::size_t size, std::string& error) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = errno_text("send");
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool recv_exact(int fd, std::uint8_t* data, std::size_t size, std::string& error) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      error = "recv: the server closed the connection";
      return false;
    }
    if (n < 0) {
      error = errno == EAGAIN ? std::string("recv: no echo for 5 s") : errno_text("recv");
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// The frame with index k: header, then payload bytes (k * 13 + i) mod 256.
void fill_frame(std::vector<std::uint8_t>& frame, std::uint64_t k) {
  store_be32(frame.data(), frame_magic);
  store_be32(frame.data() + 4, static_cast<std::uint32_t>(frame.size() - frame_header_size));
  for (std::size_t i = frame_header_size; i < frame.size(); ++i) {
    frame[i] = static_cast<std::uint8_t>(k * 13 + (i - frame_header_size));
  }
}

/// Sleeps `duration` in short steps; false if `stop` was set meanwhile.
bool sleep_unless_stopped(Clock::duration duration, const LoadControl& control) {
  const auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    if (control.stop) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(10ms, until - Clock::now()));
  }
  return true;
}

}  // namespace

void run_net_client(std::uint16_t port, std::size_t message_size, std::size_t window, LoadControl& control,
                    LoadResult& result) {
  UniqueFd fd = connect_loopback(port, result.error);
  if (!fd) return;
  std::vector<std::uint8_t> frame(frame_header_size + message_size);
  std::vector<std::uint8_t> echo(frame.size());
  std::vector<std::uint8_t> expected(frame.size());
  struct InFlight {
    Clock::time_point sent;
    bool during_pause;
  };
  std::deque<InFlight> in_flight;
  std::uint64_t next_to_send = 0;
  std::uint64_t next_to_receive = 0;
  auto receive_one = [&]() {
    if (!recv_exact(fd.fd(), echo.data(), echo.size(), result.error)) return false;
    fill_frame(expected, next_to_receive++);
    if (echo != expected) {
      result.error = "an echo differs from the frame sent";
      return false;
    }
    const InFlight done = in_flight.front();
    in_flight.pop_front();
    result.latency.add(Clock::now() - done.sent);
    ++result.completed;
    result.bytes += message_size;
    if (done.during_pause) ++result.served_during_pause;
    return true;
  };
  while (!control.stop) {
    while (in_flight.size() < window) {
      fill_frame(frame, next_to_send++);
      const bool paused = control.guest_paused;
      const auto now = Clock::now();
      if (!send_all(fd.fd(), frame.data(), frame.size(), result.error)) return;
      in_flight.push_back({now, paused});
      ++result.sent;
      if (paused) ++result.sent_during_pause;
    }
    if (!receive_one()) return;
  }
  while (!in_flight.empty()) {  // drain: every frame sent gets its echo (each wait is bounded by SO_RCVTIMEO)
    if (!receive_one()) return;
  }
}

const char* to_string(Misbehaviour misbehaviour) noexcept {
  switch (misbehaviour) {
    case Misbehaviour::abrupt: return "abrupt";
    case Misbehaviour::oversized: return "oversized";
    case Misbehaviour::malformed: return "malformed";
    case Misbehaviour::slow_reader: return "slow-reader";
    case Misbehaviour::idle: return "idle";
    case Misbehaviour::count_: break;
  }
  return "?";
}

void run_misbehaving_client(Misbehaviour misbehaviour, std::uint16_t port, std::size_t max_frame, LoadControl& control,
                            LoadResult& result) {
  if (!sleep_unless_stopped(100ms, control)) return;  // let the well-behaved traffic start first
  // The slow reader shrinks its receive buffer so that the server's echoes back up quickly.
  UniqueFd fd = connect_loopback(port, result.error, misbehaviour == Misbehaviour::slow_reader ? 4096 : 0);
  if (!fd) return;
  std::string ignored;
  switch (misbehaviour) {
    case Misbehaviour::abrupt: {  // half a frame, then a reset instead of a close
      std::vector<std::uint8_t> frame(frame_header_size + 1000);
      fill_frame(frame, 0);
      (void)send_all(fd.fd(), frame.data(), frame.size() / 2, ignored);
      std::this_thread::sleep_for(50ms);  // the server reads the half frame first
      const linger reset{1, 0};           // close() sends RST
      (void)::setsockopt(fd.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      return;
    }
    case Misbehaviour::oversized: {
      std::uint8_t header[frame_header_size];
      store_be32(header, frame_magic);
      store_be32(header + 4, static_cast<std::uint32_t>(max_frame + 1));
      (void)send_all(fd.fd(), header, sizeof header, ignored);
      break;
    }
    case Misbehaviour::malformed: {
      const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
      (void)send_all(fd.fd(), reinterpret_cast<const std::uint8_t*>(garbage), sizeof garbage - 1, ignored);
      break;
    }
    case Misbehaviour::slow_reader: {  // sends frames, never reads an echo
      std::vector<std::uint8_t> frame(frame_header_size + max_frame);
      fill_frame(frame, 0);
      auto last_progress = Clock::now();
      std::size_t offset = 0;
      while (!control.stop && Clock::now() - last_progress < 100ms) {
        const ssize_t n = ::send(fd.fd(), frame.data() + offset, frame.size() - offset, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          offset = (offset + static_cast<std::size_t>(n)) % frame.size();
          last_progress = Clock::now();
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          break;
        } else {
          std::this_thread::sleep_for(1ms);
        }
      }
      break;
    }
    case Misbehaviour::idle:
    case Misbehaviour::count_: break;
  }
  // Wait for the server to drop us (until the run ends). The slow reader only
  // polls; the others read to see the end of the stream.
  while (!control.stop) {
    pollfd p{fd.fd(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) break;
    if (misbehaviour != Misbehaviour::slow_reader) {
      std::uint8_t buffer[256];
      if (::recv(fd.fd(), buffer, sizeof buffer, MSG_DONTWAIT) <= 0) break;
    }
  }
}

void run_vcpu(BlockQueue& queue, std::uint64_t iops, std::size_t depth, LoadControl& control, LoadResult& result) {
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / iops;
  std::size_t in_flight = 0;
  std::uint64_t next_id = 0;
  auto next_submit = Clock::now();
  auto harvest = [&]() {
    (void)queue.irqfd().read();  // acknowledge the "interrupt"; the used ring says what completed
    const auto now = Clock::now();
    for (const BlockRequest& done : queue.take_used()) {
      result.latency.add(now - done.submitted);
      ++result.completed;
      result.bytes += 4096;
      --in_flight;
      if (done.during_pause) ++result.served_during_pause;
    }
  };
  auto wait_for_interrupt = [&](Clock::duration timeout) {
    pollfd p{queue.irqfd().fd(), POLLIN, 0};
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max<Clock::duration>(timeout, {}));
    const timespec ts{static_cast<time_t>(ns.count() / 1000000000), static_cast<long>(ns.count() % 1000000000)};
    if (::ppoll(&p, 1, &ts, nullptr) > 0) harvest();
  };
  while (!control.stop) {
    auto now = Clock::now();
    while (next_submit <= now && in_flight < depth) {
      const bool paused = control.guest_paused;
      queue.submit(BlockRequest{next_id++, now, paused});
      ++in_flight;
      ++result.sent;
      if (paused) ++result.sent_during_pause;
      next_submit += interval;
    }
    if (in_flight == depth) {
      next_submit = now;  // the queue is full: no burst to catch up with once it drains
      wait_for_interrupt(50ms);
    } else {
      wait_for_interrupt(std::min<Clock::duration>(next_submit - now, 50ms));
    }
  }
  const auto give_up = Clock::now() + 5s;
  while (in_flight > 0 && Clock::now() < give_up) wait_for_interrupt(50ms);
  if (in_flight > 0) result.error = std::to_string(in_flight) + " requests never completed";
}

// --- Console peers ---

namespace {

/// The byte at `position` of a console stream (`seed` tells the directions apart).
std::uint8_t pattern(std::uint64_t position, std::uint8_t seed) noexcept {
  return static_cast<std::uint8_t>((position % 251) ^ seed);
}

struct PeerEnd {
  UniqueFd fd;
  std::uint8_t seed = 0;        // of the bytes this end writes
  std::uint8_t other_seed = 0;  // of the bytes it reads
  bool fast_writer = false;     // guest: writes whenever it can; terminal: 16 bytes every 10 ms
  bool slow_reader = false;     // terminal: 1 KiB, then 1 ms of "rendering"
  std::atomic<std::uint64_t> written{0};
  std::atomic<bool> done_writing{false};
  std::uint64_t read = 0;
  std::uint64_t corrupt = 0;
  std::string error;
  std::thread thread;
};

void run_peer(PeerEnd& self, PeerEnd& other, LoadControl& control) {
  std::vector<std::uint8_t> out(4096);
  std::vector<std::uint8_t> in(16384);
  auto next_typing = Clock::now();
  std::optional<Clock::time_point> drain_deadline;
  std::uint64_t written = 0;
  while (true) {
    const auto now = Clock::now();
    if (control.stop && !drain_deadline) {
      drain_deadline = now + 3s;
      self.done_writing = true;  // `written` was stored before: the other end knows the total
    }
    if (drain_deadline) {
      if (other.done_writing && self.read == other.written) break;
      if (now > *drain_deadline) {
        self.error = "console: " + std::to_string(other.written - self.read) + " bytes never arrived";
        break;
      }
    }
    const bool may_write = !drain_deadline && (self.fast_writer || now >= next_typing);
    pollfd p{self.fd.fd(), static_cast<short>(POLLIN | (may_write ? POLLOUT : 0)), 0};
    auto timeout = 10ms;
    if (!self.fast_writer && !drain_deadline && next_typing > now) {
      timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(next_typing - now));
    }
    if (::poll(&p, 1, static_cast<int>(timeout.count())) < 0) continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const std::size_t chunk = self.slow_reader ? 1024 : in.size();
      const ssize_t n = ::recv(self.fd.fd(), in.data(), chunk, MSG_DONTWAIT);
      if (n == 0) {
        self.error = "console: the device closed the stream";
        break;
      }
      for (ssize_t i = 0; i < n; ++i) {
        if (in[static_cast<std::size_t>(i)] != pattern(self.read + static_cast<std::uint64_t>(i), self.other_seed)) {
          ++self.corrupt;
        }
      }
      if (n > 0) self.read += static_cast<std::uint64_t>(n);
      if (self.slow_reader) std::this_thread::sleep_for(1ms);
    }
    if (may_write && (p.revents & POLLOUT)) {
      const std::size_t size = self.fast_writer ? out.size() : 16;
      for (std::size_t i = 0; i < size; ++i) out[i] = pattern(written + i, self.seed);
      const ssize_t n = ::send(self.fd.fd(), out.data(), size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        written += static_cast<std::uint64_t>(n);
        self.written = written;
        if (!self.fast_writer) next_typing += 10ms;
      }
    }
  }
}

}  // namespace

struct ConsolePeers::Impl {
  PeerEnd guest;
  PeerEnd terminal;
};

ConsolePeers::ConsolePeers(UniqueFd guest_port, UniqueFd terminal) : impl_(std::make_unique<Impl>()) {
  impl_->guest.fd = std::move(guest_port);
  impl_->guest.seed = 0x5a;
  impl_->guest.other_seed = 0xa5;
  impl_->guest.fast_writer = true;
  impl_->terminal.fd = std::move(terminal);
  impl_->terminal.seed = 0xa5;
  impl_->terminal.other_seed = 0x5a;
  impl_->terminal.slow_reader = true;
}

ConsolePeers::~ConsolePeers() {
  if (impl_->guest.thread.joinable()) impl_->guest.thread.join();
  if (impl_->terminal.thread.joinable()) impl_->terminal.thread.join();
}

void ConsolePeers::start(LoadControl& control) {
  impl_->guest.thread = std::thread(run_peer, std::ref(impl_->guest), std::ref(impl_->terminal), std::ref(control));
  impl_->terminal.thread = std::thread(run_peer, std::ref(impl_->terminal), std::ref(impl_->guest), std::ref(control));
}

ConsoleResult ConsolePeers::join() {
  impl_->guest.thread.join();
  impl_->terminal.thread.join();
  ConsoleResult result;
  result.guest_written = impl_->guest.written;
  result.terminal_read = impl_->terminal.read;
  result.terminal_written = impl_->terminal.written;
  result.guest_read = impl_->guest.read;
  result.corrupt = impl_->guest.corrupt + impl_->terminal.corrupt;
  result.error = !impl_->guest.error.empty() ? impl_->guest.error : impl_->terminal.error;
  impl_->guest.fd.reset();
  impl_->terminal.fd.reset();
  return result;
}

}  // namespace device_host
