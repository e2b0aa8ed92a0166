// EventOps forwards to the core, which checks that the subscriber is alive
// and owns the fd; the handle itself holds no state worth checking.
#include "event_manager/event_ops.hpp"

#include "event_manager/detail/core.hpp"

namespace event_manager {

Result<void> EventOps::add(Events events) { return core_->add(id_, events); }
Result<void> EventOps::modify(Events events) { return core_->modify(id_, events); }
Result<void> EventOps::remove(Events events) { return core_->remove(id_, events); }
Result<Events> EventOps::registered(int fd) const { return core_->registered(id_, fd); }
Result<void> EventOps::inject(int fd, EventSet ready) { return core_->inject(id_, fd, ready); }

}  // namespace event_manager
