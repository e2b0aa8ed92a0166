#include "event_manager/error.hpp"

#include <string>

namespace event_manager {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "event_manager"; }
  std::string message(int code) const override {
    switch (static_cast<Error>(code)) {
      case Error::FdAlreadyRegistered: return "the fd is already registered with this event manager";
      case Error::InvalidId: return "no subscriber has this id";
      case Error::InvalidCapacity: return "the ready-events capacity is 0 or above max_ready_events_capacity";
      case Error::ChannelSend: return "the event manager is gone; the request was not queued";
      case Error::ChannelRecv: return "the event manager went away before running the request";
      case Error::WouldDeadlock: return "call_blocking() from the thread inside run() would deadlock";
      case Error::FdNotRegistered: return "this subscriber has not registered the fd";
      case Error::Reentrant: return "not allowed from a callback of the same event manager";
      case Error::TimerNotRegistered: return "this subscriber has no timer with this id";
    }
    return "unknown event_manager error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Error error) noexcept { return {static_cast<int>(error), error_category()}; }

}  // namespace event_manager
