// error.hpp — the library's error codes and its Result type.
//
// Every fallible call returns `Result<T>`, a `std::expected<T, std::error_code>`.
// Errors of the library itself are `Error` values in the "event_manager"
// category; failures of the operating system come back as
// `std::error_code(errno, std::system_category())`.
//
// Example:
//
//   auto manager = event_manager::EventManager<Device>::create();
//   if (!manager) {
//     std::fprintf(stderr, "create: %s\n", manager.error().message().c_str());
//     return 1;
//   }
//   if (auto r = ops.add(events); !r && r.error() == Error::FdAlreadyRegistered) {
//     // Another subscriber (or this one) already watches the fd.
//   }
//
// Compare an error with `==` against an `Error` or a `std::errc`; switch only
// on the codes you can handle and keep a default branch for the rest.
#pragma once

#include <expected>
#include <system_error>

namespace event_manager {

/// Errors reported by the library itself (OS errors use std::system_category()).
enum class Error {
  FdAlreadyRegistered = 1,  ///< add(): the fd is already registered with this manager
  InvalidId,                ///< the SubscriberId names no registered subscriber
  InvalidCapacity,          ///< ready-list capacity is 0 or above max_ready_events_capacity
  ChannelSend,              ///< remote endpoint: the manager is gone; the request was not queued
  ChannelRecv,              ///< remote endpoint: the manager went away before running the request
  WouldDeadlock,            ///< call_blocking() from the thread that is inside run()
  FdNotRegistered,          ///< modify()/remove()/...: this subscriber has not registered the fd
  Reentrant,                ///< run() from a callback of the same manager; or removing a
                            ///< subscriber whose init() or process() is on the stack
  TimerNotRegistered,       ///< the TimerId names no timer of this subscriber
};

/// The category of `Error`; its name() is "event_manager".
const std::error_category& error_category() noexcept;

/// Wraps an `Error` in a std::error_code of error_category().
std::error_code make_error_code(Error error) noexcept;

/// The value or the error of a fallible call.
template <class T>
using Result = std::expected<T, std::error_code>;

}  // namespace event_manager

/// Makes `Error` an error-code enum: it converts to std::error_code and compares with `==`.
template <>
struct std::is_error_code_enum<event_manager::Error> : std::true_type {};
