// detail/core.hpp — the non-template engine behind every EventManager<S>.
//
// Not API. The core owns the epoll fd, the fd → owner table, each subscriber's
// watch list, the ready buffer and the remote-request queue. It never sees the
// subscriber type: it stores `void*` objects and EventManager<S> casts them
// back. Everything here is compiled in src/ except the few inline accessors
// that the per-event dispatch step in manager_impl.hpp reads.
//
// Stale-event suppression. Every registration of an fd number gets a fresh
// 32-bit generation, counted per fd number, and the kernel is given
// `(generation << 32) | fd` as its epoll_data (the user's 32 bits of data live
// in the table instead). An event is dispatched only when its generation equals
// the table's current one for that fd and the entry still asks for its bits, so
// an fd removed during a batch, re-registered in the same batch, or left in the
// kernel by a dup()ed descriptor after close() is never delivered stale. Why
// the per-fd counter can wrap without ever matching a leftover: src/core.cpp,
// note h.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "event_manager/detail/channel.hpp"
#include "event_manager/detail/task.hpp"
#include "event_manager/error.hpp"
#include "event_manager/event_ops.hpp"
#include "event_manager/events.hpp"
#include "event_manager/subscriber.hpp"
#include "event_manager/subscriber_id.hpp"

namespace event_manager {
template <SubscriberHandle S>
class EventManager;
}

namespace event_manager::detail {

/// Defined only by the tests: reaches internals that no API exposes.
struct TestAccess;
class CallbackScope;

/// One slot of the fd-indexed table.
struct FdEntry {
  // The generation of the fd number's latest registration: the upper half of
  // the kernel's epoll_data. Kept when the entry is freed, so that the next
  // registration of the number gets a newer one (0: never registered).
  std::uint32_t generation = 0;
  std::uint32_t data = 0;        // the user's 32 bits
  std::uint32_t interest = 0;    // what may be delivered (registered bits | EPOLLERR | EPOLLHUP); 0 when free
  std::uint32_t registered = 0;  // registered bits, as given to add()/modify()
  std::uint64_t owner = 0;       // SubscriberId::value() of the owner; 0: free; manager_owner: ours
  void* target = nullptr;        // the owner's init()/process() object
  int next_fd = -1;              // the owner's watch list (doubly linked through the table)
  int prev_fd = -1;
  // A registration of this number may have been left in the kernel (a DEL that
  // found the fd closed or replaced): its generation must never be issued again.
  bool maybe_leftover = false;
};

/// The owner of the table entries of the manager's own fds (the wake-up
/// eventfd). No SubscriberId has this value (slot indexes stay below 2^32 - 1),
/// and such entries ask for no bits, so dispatch never calls anyone for them.
inline constexpr std::uint64_t manager_owner = ~std::uint64_t{0};

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
  /// A request that throws propagates, and so does a std::bad_alloc while taking
  /// the queue; either way the requests not yet run stay owed to a later run().
  void run_requests(void* subscriber_ops);
  /// Called when a callback throws during a batch of `count` events: if the wake-up
  /// event is in it, its requests are owed to the next run().
  void abandon_batch(int count) noexcept;

  const ::epoll_event* ready_events() const noexcept { return ready_.get(); }
  const FdEntry* fd_table() const noexcept { return table_.data(); }
  std::size_t fd_table_size() const noexcept { return table_.size(); }
  int wake_fd() const noexcept { return wake_fd_; }
  bool wake_owed() const noexcept { return wake_owed_; }
  int epoll_fd() const noexcept { return epoll_fd_; }
  const std::shared_ptr<Channel>& channel() const noexcept { return channel_; }

  // --- Callbacks on the stack (loop thread) ---------------------------------
  /// True while run(), an init() or a request of this manager is on the stack.
  bool in_callback() const noexcept { return innermost_ != nullptr; }
  /// The dispatch loop names the subscriber whose process() it is about to call.
  void set_active(std::uint64_t owner) noexcept { active_ = owner; }
  /// True if an init() or process() of `id` is on the stack, at any depth.
  bool is_running(SubscriberId id) const noexcept;

 private:
  template <SubscriberHandle>
  friend class event_manager::EventManager;
  friend class CallbackScope;
  /// The handles that only the engine makes: the public types keep their
  /// constructors private, so users cannot forge them; EventManager asks here.
  static SubscriberId make_id(std::uint64_t value) noexcept { return SubscriberId(value); }
  static EventOps make_ops(Core* core, SubscriberId id) noexcept { return EventOps(core, id); }

  friend struct TestAccess;
  /// Test seam: the next registration of `fd` gets a generation as if `last`
  /// had been the last one issued for it (to reach the wrap-around).
  void force_generation(int fd, std::uint32_t last);

  struct Slot {
    std::uint64_t id = 0;          // 0: free
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
  Result<std::uint32_t> next_generation(int fd) const;
  void unlink(int fd) noexcept;
  void free_entry(int fd, bool deleted) noexcept;
  /// Makes the wake-up owed and epoll_fd() readable: a later run() (or an
  /// enclosing loop watching epoll_fd()) then serves the requests.
  void owe_wake() noexcept;

  // Constant after construction.
  int epoll_fd_;
  int wake_fd_;
  int capacity_;
  std::unique_ptr<::epoll_event[]> ready_;
  std::shared_ptr<Channel> channel_;
  Destroy destroy_;

  // Loop thread only.
  std::vector<FdEntry> table_;             // indexed by fd; never shrinks
  std::vector<Slot> slots_;                // indexed by the low half of a SubscriberId
  std::vector<std::uint32_t> free_slots_;  // capacity kept >= slots_.size(): erase never allocates
  std::vector<TaskPtr> requests_;          // taken from the channel, run in order
  std::size_t next_request_ = 0;           // requests_[0, next_request_) have run
  bool wake_owed_ = false;                 // a wake-up was consumed but its requests not all run
  std::uint64_t wake_key_ = 0;             // the kernel's epoll_data of the wake-up eventfd

  // Loop thread: the subscriber whose init()/process() runs innermost (0: none),
  // and the innermost CallbackScope, whose chain records the ones further out.
  std::uint64_t active_ = 0;
  const CallbackScope* innermost_ = nullptr;
};

/// Marks the loop thread busy with callbacks of `core` for a scope: run() then
/// returns Reentrant, remove_subscriber() of `active` (and of every subscriber
/// active in an enclosing scope) returns Reentrant, and, while `claim_thread`,
/// call_blocking() from this thread returns WouldDeadlock.
class CallbackScope {
 public:
  CallbackScope(Core& core, std::uint64_t active, bool claim_thread) noexcept
      : core_(core), outer_(core.innermost_), outer_active_(core.active_), claim_thread_(claim_thread) {
    core_.innermost_ = this;
    core_.active_ = active;
    if (claim_thread_) previous_thread_ = core_.channel()->set_loop_thread(std::this_thread::get_id());
  }
  ~CallbackScope() {
    core_.innermost_ = outer_;
    core_.active_ = outer_active_;
    if (claim_thread_) core_.channel()->set_loop_thread(previous_thread_);
  }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  friend class Core;
  Core& core_;
  const CallbackScope* outer_;  // the enclosing scope, or nullptr
  std::uint64_t outer_active_;  // the subscriber running when this scope began
  bool claim_thread_;
  std::thread::id previous_thread_{};
};

inline bool Core::is_running(SubscriberId id) const noexcept {
  if (active_ == id.value()) return true;
  for (const CallbackScope* scope = innermost_; scope != nullptr; scope = scope->outer_) {
    if (scope->outer_active_ == id.value()) return true;
  }
  return false;
}

}  // namespace event_manager::detail
