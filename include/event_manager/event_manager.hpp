// event_manager.hpp — the umbrella header: includes every public header.
//
// event_manager is an epoll event loop for Linux: subscribers register fds
// (with 32 bits of user data each) in init(); EventManager<S>::run() waits on
// epoll and calls the owning subscriber's process() for each ready event; a
// RemoteEndpoint lets other threads run closures on the loop thread.
#pragma once

#include "event_manager/error.hpp"
#include "event_manager/event_fd.hpp"
#include "event_manager/event_ops.hpp"
#include "event_manager/event_set.hpp"
#include "event_manager/events.hpp"
#include "event_manager/manager.hpp"
#include "event_manager/remote_endpoint.hpp"
#include "event_manager/signal_fd.hpp"
#include "event_manager/subscriber.hpp"
#include "event_manager/subscriber_id.hpp"
#include "event_manager/subscriber_ops.hpp"
#include "event_manager/timer_fd.hpp"
#include "event_manager/timer_id.hpp"
