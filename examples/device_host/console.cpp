// console.cpp — the console device (see console.hpp).
#include "console.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace device_host {

using event_manager::EventOps;
using event_manager::Events;
using event_manager::EventSet;

ConsoleDevice::ConsoleDevice(UniqueFd guest_side, UniqueFd host_side, std::size_t buffer_size)
    : guest_side_(std::move(guest_side)), host_side_(std::move(host_side)) {
  to_host_.from = guest_side_.fd();
  to_host_.to = host_side_.fd();
  to_host_.buffer.resize(buffer_size);
  to_guest_.from = host_side_.fd();
  to_guest_.to = guest_side_.fd();
  to_guest_.buffer.resize(buffer_size);
}

void ConsoleDevice::init(EventOps& ops) {
  // Also called when the control plane re-adds the device after a hot removal:
  // the buffers kept their bytes, so register what the state needs now.
  update(ops, guest_side_.fd(), true);
  update(ops, host_side_.fd(), true);
}

void ConsoleDevice::process(Events events, EventOps& ops) {
  ++stats_.events;
  const EventSet ready = events.event_set();
  Direction& incoming = events.fd() == guest_side_.fd() ? to_host_ : to_guest_;
  Direction& outgoing = events.fd() == guest_side_.fd() ? to_guest_ : to_host_;
  if (ready.intersects(EventSet::in | EventSet::hang_up | EventSet::error | EventSet::read_hang_up)) {
    fill(incoming);
    flush(incoming);  // forward at once: most of the time the other side is writable
  }
  if (ready.intersects(EventSet::out | EventSet::error | EventSet::hang_up)) flush(outgoing);
  update(ops, guest_side_.fd(), false);
  update(ops, host_side_.fd(), false);
}

void ConsoleDevice::fill(Direction& direction) {
  if (direction.input_closed) return;
  if (direction.begin > 0) {  // keep the pending bytes at the front: one read fills the rest
    std::memmove(direction.buffer.data(), direction.buffer.data() + direction.begin, direction.end - direction.begin);
    direction.end -= direction.begin;
    direction.begin = 0;
  }
  while (direction.end < direction.buffer.size()) {
    const ssize_t n = ::recv(direction.from, direction.buffer.data() + direction.end,
                             direction.buffer.size() - direction.end, MSG_DONTWAIT);
    if (n > 0) {
      direction.end += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    direction.input_closed = true;  // end of file, or the peer is gone: stop reading, keep the rest
    return;
  }
}

void ConsoleDevice::flush(Direction& direction) {
  while (direction.pending() && !direction.output_closed) {
    const ssize_t n = ::send(direction.to, direction.buffer.data() + direction.begin, direction.end - direction.begin,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      direction.begin += static_cast<std::size_t>(n);
      ++stats_.requests;
      stats_.bytes += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    direction.output_closed = true;  // EPIPE / ECONNRESET: nobody will read these bytes
  }
  if (!direction.pending() || direction.output_closed) direction.begin = direction.end = 0;
}

EventSet ConsoleDevice::wanted(int fd) const {
  const Direction& incoming = fd == guest_side_.fd() ? to_host_ : to_guest_;
  const Direction& outgoing = fd == guest_side_.fd() ? to_guest_ : to_host_;
  EventSet set;
  if (!incoming.input_closed && !incoming.full()) set |= EventSet::in;
  if (outgoing.pending() && !outgoing.output_closed) set |= EventSet::out;
  return set;
}

void ConsoleDevice::update(EventOps& ops, int fd, bool add) {
  EventSet& registered = fd == guest_side_.fd() ? registered_guest_ : registered_host_;
  const EventSet set = wanted(fd);
  if (!add && set == registered) return;
  // An empty set mutes the fd: no events at all, hang-ups included, until the
  // buffer drains and the next update asks for `in` again.
  const Events events = set.empty() ? Events::empty(fd) : Events(fd, set);
  auto done = add ? ops.add(events) : ops.modify(events);
  if (!done) throw std::system_error(done.error(), "console: register fd");
  const Direction& incoming = fd == guest_side_.fd() ? to_host_ : to_guest_;
  if (registered.contains(EventSet::in) && !set.contains(EventSet::in) && !incoming.input_closed) ++stats_.muted;
  registered = set;
}

}  // namespace device_host
