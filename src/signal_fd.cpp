#include "event_manager/signal_fd.hpp"

#include <cerrno>

#include "sys.hpp"

namespace event_manager {
namespace {

std::unexpected<std::error_code> invalid_argument() noexcept {
  return std::unexpected(std::error_code(EINVAL, std::system_category()));
}

}  // namespace

Result<SignalFd> SignalFd::create(const sigset_t& signals) {
  const Result<int> fd = sys::signalfd(signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (!fd) return std::unexpected(fd.error());
  return SignalFd(*fd);
}

Result<SignalFd> SignalFd::create(std::initializer_list<int> signals) {
  sigset_t set;
  ::sigemptyset(&set);
  for (int signal : signals) {
    // sigaddset() rejects numbers outside 1.._NSIG-1 with EINVAL. glibc
    // reserves the two lowest real-time numbers for its threads and refuses
    // them too; SIGRTMIN and above are accepted.
    if (::sigaddset(&set, signal) != 0) return invalid_argument();
  }
  return create(set);
}

Result<::signalfd_siginfo> SignalFd::read() const {
  ::signalfd_siginfo info{};
  const Result<std::size_t> n = read(std::span(&info, 1));
  if (!n) return std::unexpected(n.error());
  return info;
}

Result<std::size_t> SignalFd::read(std::span<::signalfd_siginfo> out) const {
  if (out.empty()) return 0;
  // The kernel hands out whole records only, as many as fit and are pending.
  const Result<std::size_t> bytes = sys::read(fd_.get(), out.data(), out.size_bytes());
  if (!bytes) return std::unexpected(bytes.error());
  if (*bytes % sizeof(::signalfd_siginfo) != 0) return std::unexpected(std::make_error_code(std::errc::io_error));
  return *bytes / sizeof(::signalfd_siginfo);
}

}  // namespace event_manager
