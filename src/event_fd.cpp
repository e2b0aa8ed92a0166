#include "event_manager/event_fd.hpp"

#include <utility>

#include "sys.hpp"

namespace event_manager {

Result<EventFd> EventFd::create(std::uint64_t initial, int flags) {
  // eventfd() takes an unsigned int; a larger start value is set by a write.
  const auto start = static_cast<unsigned int>(initial <= 0xFFFFFFFFu ? initial : 0);
  const Result<int> fd = sys::eventfd(start, flags);
  if (!fd) return std::unexpected(fd.error());
  EventFd result(*fd);
  if (initial > 0xFFFFFFFFu) {
    if (auto written = result.write(initial); !written) return std::unexpected(written.error());
  }
  return result;
}

EventFd& EventFd::operator=(EventFd&& other) noexcept {
  if (this != &other) {
    sys::close_fd(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

EventFd::~EventFd() { sys::close_fd(fd_); }

Result<void> EventFd::write(std::uint64_t value) const { return sys::write_u64(fd_, value); }

Result<std::uint64_t> EventFd::read() const { return sys::read_u64(fd_); }

Result<EventFd> EventFd::try_clone() const {
  const Result<int> fd = sys::dup_cloexec(fd_);
  if (!fd) return std::unexpected(fd.error());
  return EventFd(*fd);
}

}  // namespace event_manager
