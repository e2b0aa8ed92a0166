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

Result<void> EventFd::write(std::uint64_t value) const { return sys::write_u64(fd_.get(), value); }

Result<std::uint64_t> EventFd::read() const { return sys::read_u64(fd_.get()); }

Result<EventFd> EventFd::try_clone() const {
  const Result<int> fd = sys::dup_cloexec(fd_.get());
  if (!fd) return std::unexpected(fd.error());
  return EventFd(*fd);
}

}  // namespace event_manager
