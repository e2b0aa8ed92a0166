// detail/core.hpp — the non-template engine behind every EventManager<S>.
//
// Not API. The core owns the epoll fd, the fd → owner table, each subscriber's
// watch list, the ready buffer and the remote-request queue. It never sees the
// subscriber type: it stores `void*` objects and EventManager<S> casts them
// back. Everything here is compiled in src/ except the few inline accessors
// that the per-event dispatch step in manager_impl.hpp reads.
//
// Stale-event suppression. Every registration gets a fresh 32-bit generation,
// and the kernel is given `(generation << 32) | fd` as its epoll_data (the
// user's 32 bits of data live in the table instead). An event is dispatched
// only when its generation equals the table's current one for that fd, so an
// fd removed during a batch, re-registered in the same batch, or left in the
// kernel by a dup()ed descriptor after close() is never delivered stale.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "event_manager/detail/channel.hpp"
#include "event_manager/detail/task.hpp"
#include "event_manager/error.hpp"
#include "event_manager/events.hpp"
#include "event_manager/subscriber_id.hpp"

namespace event_manager::detail {

/// One slot of the fd-indexed table.
struct FdEntry {
  std::uint32_t generation = 0;  // 0: free; else equals the upper half of the kernel's epoll_data
  std::uint32_t data = 0;        // the user's 32 bits
  std::uint32_t interest = 0;    // registered bits | EPOLLERR | EPOLLHUP: what may be delivered
  std::uint32_t registered = 0;  // registered bits, as given to add()/modify()
  std::uint64_t owner = 0;       // SubscriberId::value() of the owner
  void* target = nullptr;        // the owner's init()/process() object
  int next_fd = -1;              // the owner's watch list (doubly linked through the table)
  int prev_fd = -1;
};

/// The generation of the remote endpoint's wake-up eventfd, in the kernel's
/// epoll_data and in its table entry. Never issued to a user registration; the
/// entry has no interest bits, so its events fall through to the wake-up check.
inline constexpr std::uint32_t wake_generation = 0xFFFFFFFFu;

class Core {
 public:
  using Destroy = void (*)(void* object) noexcept;

  /// Opens the epoll fd and the wake-up eventfd (both close-on-exec). On failure
  /// nothing stays open. `destroy` deletes a stored subscriber object.
  static Result<std::unique_ptr<Core>> create(std::size_t ready_capacity, Destroy destroy);
  /// Disconnects the endpoints, destroys the subscribers (their EventOps still
  /// work meanwhile), then closes the manager's fds.
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // --- Subscribers ---------------------------------------------------------
  /// Stores a subscriber: `object` is what the manager deletes, `target` what it
  /// calls. May throw std::bad_alloc, and then changes nothing.
  SubscriberId insert_subscriber(void* object, void* target);
  /// Unregisters every fd of `id` and frees its slot; returns the object, which
  /// the caller now owns. `id` must be valid.
  void* erase_subscriber(SubscriberId id) noexcept;
  /// The stored object, or nullptr for an invalid id.
  void* find_subscriber(SubscriberId id) const noexcept;

  // --- Interest list (EventOps forwards here) ------------------------------
  Result<void> add(SubscriberId owner, Events events);
  Result<void> modify(SubscriberId owner, Events events);
  Result<void> remove(SubscriberId owner, Events events);
  Result<Events> registered(SubscriberId owner, int fd) const;

  // --- The loop ------------------------------------------------------------
  /// epoll_wait into the ready buffer: the number of events, 0 on EINTR, or
  /// the errno. Waits not at all when a wake-up is owed from an earlier run.
  Result<int> wait(int timeout_ms) noexcept;
  /// Runs the queued remote requests (leftovers of a request that threw first).
  /// A request that throws propagates; the ones behind it run on a later run().
  void run_requests(void* subscriber_ops);
  /// Called when a callback throws during a batch of `count` events: if the wake-up
  /// event is in it, its requests are owed to the next run().
  void abandon_batch(int count) noexcept;

  const ::epoll_event* ready_events() const noexcept { return ready_.get(); }
  const FdEntry* fd_table() const noexcept { return table_.data(); }
  int wake_fd() const noexcept { return wake_fd_; }
  bool wake_owed() const noexcept { return wake_owed_; }
  int epoll_fd() const noexcept { return epoll_fd_; }
  const std::shared_ptr<Channel>& channel() const noexcept { return channel_; }

  // Reentrancy bookkeeping, kept by the template layer on the loop thread:
  // callback_depth_ > 0 while run(), init() or a request is on the stack;
  // active_ is the subscriber whose init()/process() runs innermost.
  int callback_depth_ = 0;
  std::uint64_t active_ = 0;

 private:
  struct Slot {
    std::uint64_t id = 0;      // 0: free
    std::uint32_t generation = 0;  // of the last id issued from this slot
    void* object = nullptr;
    void* target = nullptr;
    int first_fd = -1;
  };

  Core(int epoll_fd, int wake_fd, std::size_t capacity, std::unique_ptr<::epoll_event[]> ready,
       std::shared_ptr<Channel> channel, Destroy destroy) noexcept;
  const Slot* slot_of(SubscriberId id) const noexcept;
  Slot* slot_of(SubscriberId id) noexcept;
  const FdEntry* owned_entry(SubscriberId owner, int fd) const noexcept;
  std::uint32_t next_generation() noexcept;
  void unlink(int fd) noexcept;

  // Constant after construction.
  int epoll_fd_;
  int wake_fd_;
  int capacity_;
  std::unique_ptr<::epoll_event[]> ready_;
  std::shared_ptr<Channel> channel_;
  Destroy destroy_;

  // Loop thread only.
  std::vector<FdEntry> table_;        // indexed by fd; never shrinks
  std::vector<Slot> slots_;           // indexed by the low half of a SubscriberId
  std::vector<std::uint32_t> free_slots_;  // capacity kept >= slots_.size(): erase never allocates
  std::uint32_t last_generation_ = 0;
  std::vector<TaskPtr> requests_;     // taken from the channel, run in order
  std::size_t next_request_ = 0;      // requests_[0, next_request_) have run
  bool wake_owed_ = false;            // a wake-up was consumed but its requests not all run
};

}  // namespace event_manager::detail
