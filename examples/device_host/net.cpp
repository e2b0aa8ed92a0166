// net.cpp — the net device (see net.hpp).
//
// Data layout: a connection's fd and its timer both carry the connection's
// slot index; the listener's fd and the rate limiter's refill timer both carry
// 0xffffffff. process() tells them apart with is_timer() first.
//
// Every connection has one timer, armed lazily: activity only records a time,
// and the expiry re-arms for the real deadline (idle or stalled output), so a
// busy connection costs no timer operation per frame.
#include "net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace device_host {

using event_manager::EventOps;
using event_manager::Events;
using event_manager::EventSet;

const char* to_string(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::peer_closed: return "closed by peer";
    case DropReason::abrupt: return "closed abruptly";
    case DropReason::oversized: return "oversized frame";
    case DropReason::malformed: return "malformed frame";
    case DropReason::slow_reader: return "slow reader";
    case DropReason::idle: return "idle";
    case DropReason::count_: break;
  }
  return "?";
}

TokenBucket::TokenBucket(std::uint64_t rate, std::uint64_t capacity, Clock::time_point now) noexcept
    : rate_(static_cast<double>(rate)),
      capacity_(static_cast<double>(capacity)),
      tokens_(static_cast<double>(capacity)),
      last_(now) {}

void TokenBucket::refill(Clock::time_point now) noexcept {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(capacity_, tokens_ + seconds * rate_);
  last_ = now;
}

bool TokenBucket::take(std::uint64_t n, Clock::time_point now) noexcept {
  refill(now);
  if (tokens_ < static_cast<double>(n)) return false;
  tokens_ -= static_cast<double>(n);
  return true;
}

Clock::duration TokenBucket::time_until(std::uint64_t n, Clock::time_point now) noexcept {
  refill(now);
  const double missing = static_cast<double>(n) - tokens_;
  if (missing <= 0) return {};
  // Round up by a microsecond so that the refill finds enough tokens.
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(missing / rate_)) +
         std::chrono::microseconds(1);
}

namespace {
std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}
[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::system_category(), what); }
}  // namespace

NetDevice::NetDevice(NetConfig config)
    : config_(config),
      // A burst of a tenth of a second, but always room for the largest frame.
      bucket_(config.rate_limit, std::max<std::uint64_t>(config.rate_limit / 10, frame_header_size + config.max_frame),
              Clock::now()) {
  listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener_) fail("net: socket");
  const int yes = 1;
  (void)::setsockopt(listener_.fd(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // ephemeral: the kernel picks a free port
  if (::bind(listener_.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) fail("net: bind");
  if (::listen(listener_.fd(), 128) != 0) fail("net: listen");
  socklen_t length = sizeof address;
  if (::getsockname(listener_.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) fail("net: getsockname");
  port_ = ntohs(address.sin_port);
}

void NetDevice::init(EventOps& ops) {
  if (auto added = ops.add(Events::with_data(listener_.fd(), listener_data, EventSet::in)); !added) {
    throw std::system_error(added.error(), "net: add listener");
  }
  // The rate limiter's one timer: no timerfd per limiter, a heap entry in the manager's one kernel timer.
  auto timer = ops.add_timer(refill_timer_data);
  if (!timer) throw std::system_error(timer.error(), "net: add_timer");
  refill_timer_ = *timer;
}

void NetDevice::process(Events events, EventOps& ops) {
  ++stats_.events;
  if (events.is_timer()) {
    if (events.data() == refill_timer_data) {
      on_refill(ops);
    } else {
      on_timer(ops, events.data());
    }
    return;
  }
  if (events.data() == listener_data) {
    accept_all(ops);
    return;
  }
  const std::uint32_t slot = events.data();
  if (events.event_set().intersects(EventSet::out)) {
    if (!flush(ops, slot)) return;
  }
  if (events.event_set().intersects(EventSet::in | EventSet::hang_up | EventSet::error)) {
    on_readable(ops, slot);
    return;
  }
  update_interest(ops, slot);
}

void NetDevice::accept_all(EventOps& ops) {
  for (int i = 0; i < 64; ++i) {  // bounded: the connections already open get their turn
    UniqueFd fd(::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        log("net: accept: %s", std::strerror(errno));
      }
      return;
    }
    // A fixed send buffer (which turns off the kernel's autotuning, up to
    // megabytes on loopback) bounds what a peer that never reads can make us
    // queue in the kernel: its echoes then back up into our own buffer within
    // a few frames, and the stall timer drops it whatever the machine's load.
    const int send_buffer = 64 * 1024;
    (void)::setsockopt(fd.fd(), SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    std::uint32_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(connections_.size());
      connections_.emplace_back();
    }
    Connection& c = connections_[slot];
    auto timer = ops.add_timer(slot);
    if (!timer) {
      log("net: add_timer: %s; connection refused", timer.error().message().c_str());
      free_slots_.push_back(slot);
      continue;
    }
    if (auto added = ops.add(Events::with_data(fd.fd(), slot, EventSet::in)); !added) {
      log("net: add: %s; connection refused", added.error().message().c_str());
      (void)ops.remove_timer(*timer);
      free_slots_.push_back(slot);
      continue;
    }
    const auto now = Clock::now();
    c.fd = std::move(fd);
    c.serial = ++next_serial_;
    c.input.resize(frame_header_size + config_.max_frame);
    c.timer = *timer;
    c.registered = EventSet::in;
    c.last_activity = c.last_write_progress = now;
    arm_connection_timer(ops, slot, now + config_.idle_timeout);
    ++open_;
    ++accepted_;
  }
}

void NetDevice::on_readable(EventOps& ops, std::uint32_t slot) {
  Connection& c = connections_[slot];
  // A few reads at most per event: other connections get their turn, and a
  // level-triggered fd that still has data is reported again.
  for (int i = 0; i < 4 && !c.throttled && c.pending_output() < config_.output_high_water; ++i) {
    const std::size_t space = c.input.size() - c.input_used;
    if (space == 0) break;
    const ssize_t n = ::recv(c.fd.fd(), c.input.data() + c.input_used, space, MSG_DONTWAIT);
    if (n == 0) {
      if (c.input_used > 0) {
        drop(ops, slot, DropReason::abrupt, "closed in the middle of a frame");
      } else {
        drop(ops, slot, DropReason::peer_closed, "");
      }
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      drop(ops, slot, DropReason::abrupt, std::strerror(errno));  // ECONNRESET: the peer reset the connection
      return;
    }
    c.input_used += static_cast<std::size_t>(n);
    c.last_activity = Clock::now();
    if (!parse_frames(ops, slot)) return;
  }
  update_interest(ops, slot);
}

bool NetDevice::parse_frames(EventOps& ops, std::uint32_t slot) {
  Connection& c = connections_[slot];
  std::size_t offset = 0;
  while (c.input_used - offset >= frame_header_size) {
    const std::uint8_t* header = c.input.data() + offset;
    const std::uint32_t magic = load_be32(header);
    const std::uint32_t length = load_be32(header + 4);
    char detail[96];
    if (magic != frame_magic) {
      std::snprintf(detail, sizeof detail, "header magic 0x%08x, expected 0x%08x", magic, frame_magic);
      drop(ops, slot, DropReason::malformed, detail);
      return false;
    }
    if (length > config_.max_frame) {
      std::snprintf(detail, sizeof detail, "%u-byte payload announced, limit %zu", length, config_.max_frame);
      drop(ops, slot, DropReason::oversized, detail);
      return false;
    }
    const std::size_t total = frame_header_size + length;
    if (c.input_used - offset < total) break;  // the rest of the frame is still on its way
    const auto now = Clock::now();
    if (config_.rate_limit != 0 && !bucket_.take(total, now)) {
      // Out of tokens: stop reading this peer until the refill timer says the
      // bucket holds this frame. The peer's bytes wait in the kernel.
      c.throttled = true;
      throttled_slots_.emplace_back(slot, c.serial);
      ++throttled_count_;
      ++stats_.muted;
      if (!refill_armed_) {
        if (auto armed = ops.arm_timer(refill_timer_, bucket_.time_until(total, now)); !armed) {
          throw std::system_error(armed.error(), "net: arm refill timer");
        }
        refill_armed_ = true;
      }
      break;
    }
    if (c.pending_output() == 0) c.last_write_progress = now;  // the stall clock starts now
    c.output.insert(c.output.end(), header, header + total);
    offset += total;
    ++stats_.requests;
    stats_.bytes += length;
  }
  if (offset > 0) {
    std::memmove(c.input.data(), c.input.data() + offset, c.input_used - offset);
    c.input_used -= offset;
  }
  return flush(ops, slot);
}

bool NetDevice::flush(EventOps& ops, std::uint32_t slot) {
  Connection& c = connections_[slot];
  while (c.pending_output() > 0) {
    const ssize_t n =
        ::send(c.fd.fd(), c.output.data() + c.output_sent, c.pending_output(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.output_sent += static_cast<std::size_t>(n);
      c.last_write_progress = c.last_activity = Clock::now();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    drop(ops, slot, DropReason::abrupt, n < 0 ? std::strerror(errno) : "send returned 0");
    return false;
  }
  if (c.pending_output() == 0) {
    c.output.clear();
    c.output_sent = 0;
    return true;
  }
  if (c.output_sent > c.output.size() / 2) {  // keep the vector from growing without bound
    c.output.erase(c.output.begin(), c.output.begin() + static_cast<std::ptrdiff_t>(c.output_sent));
    c.output_sent = 0;
  }
  // Echoes are waiting: the timer must fire by the stall deadline at the latest.
  const auto stall_deadline = c.last_write_progress + config_.stall_timeout;
  auto deadline = ops.timer_deadline(c.timer);
  if (!deadline || !*deadline || **deadline > stall_deadline) arm_connection_timer(ops, slot, stall_deadline);
  return true;
}

void NetDevice::update_interest(EventOps& ops, std::uint32_t slot) {
  Connection& c = connections_[slot];
  EventSet wanted;
  const bool output_full = c.pending_output() >= config_.output_high_water;
  if (!c.throttled && !output_full) wanted |= EventSet::in;
  if (c.pending_output() > 0) wanted |= EventSet::out;
  if (wanted == c.registered) return;
  if (c.registered.contains(EventSet::in) && !wanted.contains(EventSet::in) && output_full) ++stats_.muted;
  // An empty set mutes the fd: a throttled peer with nothing to send back
  // costs no CPU until the refill timer unmutes it.
  const Events events = wanted.empty() ? Events::empty(c.fd.fd()) : Events::with_data(c.fd.fd(), slot, wanted);
  if (auto modified = ops.modify(events); !modified) throw std::system_error(modified.error(), "net: modify");
  c.registered = wanted;
}

void NetDevice::on_timer(EventOps& ops, std::uint32_t slot) {
  Connection& c = connections_[slot];
  if (!c.fd) return;
  const auto now = Clock::now();
  char detail[96];
  if (c.pending_output() > 0 && now - c.last_write_progress >= config_.stall_timeout) {
    std::snprintf(detail, sizeof detail, "%zu bytes of echoes unread for %s", c.pending_output(),
                  format_duration(now - c.last_write_progress).c_str());
    drop(ops, slot, DropReason::slow_reader, detail);
    return;
  }
  if (c.throttled) c.last_activity = now;  // waiting for us, not idle
  if (now - c.last_activity >= config_.idle_timeout) {
    std::snprintf(detail, sizeof detail, "no traffic for %s", format_duration(now - c.last_activity).c_str());
    drop(ops, slot, DropReason::idle, detail);
    return;
  }
  auto deadline = c.last_activity + config_.idle_timeout;
  if (c.pending_output() > 0) deadline = std::min(deadline, c.last_write_progress + config_.stall_timeout);
  arm_connection_timer(ops, slot, deadline);
}

void NetDevice::on_refill(EventOps& ops) {
  refill_armed_ = false;
  auto waiting = std::move(throttled_slots_);
  throttled_slots_.clear();
  for (auto [slot, serial] : waiting) {
    Connection& c = connections_[slot];
    if (!c.fd || c.serial != serial) continue;  // dropped while it waited
    c.throttled = false;
    c.last_activity = Clock::now();
    if (!parse_frames(ops, slot)) continue;  // may throttle it again, which re-arms the refill
    update_interest(ops, slot);
  }
}

void NetDevice::arm_connection_timer(EventOps& ops, std::uint32_t slot, Clock::time_point deadline) {
  if (auto armed = ops.arm_timer_at(connections_[slot].timer, deadline); !armed) {
    throw std::system_error(armed.error(), "net: arm connection timer");
  }
}

void NetDevice::drop(EventOps& ops, std::uint32_t slot, DropReason reason, const std::string& detail) {
  Connection& c = connections_[slot];
  if (reason == DropReason::peer_closed) {
    log("net: connection #%llu closed by peer", static_cast<unsigned long long>(c.serial));
  } else {
    log("net: dropped connection #%llu: %s (%s)", static_cast<unsigned long long>(c.serial), to_string(reason),
        detail.c_str());
    ++stats_.dropped;
  }
  // remove() before close(): the manager forgets the fd, then the kernel does.
  (void)ops.remove(Events::empty(c.fd.fd()));  // cannot fail for an fd we registered
  (void)ops.remove_timer(c.timer);             // cancels an expiry still pending in this run
  c = Connection{};                            // closes the fd and frees the buffers
  free_slots_.push_back(slot);
  --open_;
  ++drops_[static_cast<std::size_t>(reason)];
}

}  // namespace device_host
