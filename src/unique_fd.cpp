#include "event_manager/detail/unique_fd.hpp"

#include "sys.hpp"

namespace event_manager::detail {

// Out of line so that public headers need not include sys.hpp (not installed).
void close_fd(int fd) noexcept { sys::close_fd(fd); }

}  // namespace event_manager::detail
