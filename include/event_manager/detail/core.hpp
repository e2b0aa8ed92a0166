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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "event_manager/detail/channel.hpp"
#include "event_manager/detail/task.hpp"
#include "event_manager/detail/timer_list.hpp"
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
  // The kernel's epoll_data of the fd's latest registration: its generation
  // in the upper half, the fd in the lower (the whole key is compared, so an
  // event can be matched through a masked index, see Core::fd_mask()). Kept
  // when the entry is freed, so that the next registration of the number gets
  // a newer generation (0: never registered).
  std::uint64_t key = 0;
  std::uint32_t generation() const noexcept { return static_cast<std::uint32_t>(key >> 32); }
  std::uint32_t data = 0;  // the user's 32 bits
  // What dispatch may deliver: registered | EPOLLERR | EPOLLHUP, or 0 while
  // muted (registered == 0), paused, or free.
  std::uint32_t interest = 0;
  std::uint32_t registered = 0;  // the user's bits, as given to add()/modify(); 0: muted
  std::uint64_t owner = 0;       // SubscriberId::value() of the owner; 0: free; manager_owner: ours
  void* target = nullptr;        // the owner's init()/process() object
  int next_fd = -1;              // the owner's watch list (doubly linked through the table)
  int prev_fd = -1;
  // The mask the kernel holds for this registration; 0: none (deleted while
  // muted or paused, as an `exclusive` one must be: MOD refuses it).
  std::uint32_t kernel = 0;
  // A registration of this number may have been left in the kernel (a DEL that
  // found the fd closed or replaced): its generation must never be issued again.
  bool maybe_leftover = false;
  // resume() must re-arm this one-shot registration: its event was dropped
  // (paused, or abandoned by an exception), so the kernel disarmed it although
  // process() never saw it; or modify() re-armed it while it was paused.
  bool rearm_one_shot = false;
};

/// The owner of the table entries of the manager's own fds (the wake-up
/// eventfd). No SubscriberId has this value (slot indexes stay below 2^32 - 1),
/// and such entries ask for no bits, so dispatch never calls anyone for them.
inline constexpr std::uint64_t manager_owner = ~std::uint64_t{0};

class Core {
 public:
  using Destroy = void (*)(void* object) noexcept;
  /// Calls target->process(events, ops) for the subscriber type the core never sees.
  using Process = void (*)(void* target, Events events, EventOps& ops);

  /// Opens the epoll fd and the wake-up eventfd (both close-on-exec). On failure
  /// nothing stays open. `destroy` deletes a stored subscriber object; `process`
  /// delivers the events the core dispatches itself (injections).
  static Result<std::unique_ptr<Core>> create(std::size_t ready_capacity, Destroy destroy, Process process);
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
  /// Stops all dispatch to `id` until resume(): InvalidId only.
  Result<void> pause(SubscriberId id) noexcept;
  /// Re-arms every fd of `id` that needs it; the first epoll_ctl error, after
  /// re-arming all the others. InvalidId.
  Result<void> resume(SubscriberId id) noexcept;
  Result<bool> paused(SubscriberId id) const noexcept;
  std::size_t subscriber_count() const noexcept { return subscriber_count_; }
  /// The subscribers in the order they were added: first_subscriber(), then
  /// next_subscriber() of each until it gives nothing. Objects as stored.
  struct Listed {
    SubscriberId id;
    void* object;
    std::uint32_t slot;
  };
  std::optional<Listed> first_subscriber() const noexcept;
  std::optional<Listed> next_subscriber(const Listed& current) const noexcept;

  // --- Interest list (EventOps forwards here) ------------------------------
  Result<void> add(SubscriberId owner, Events events);
  Result<void> modify(SubscriberId owner, Events events);
  Result<void> remove(SubscriberId owner, Events events);
  Result<Events> registered(SubscriberId owner, int fd) const;
  /// Queues a synthetic event for the next run(). May throw std::bad_alloc
  /// (then nothing was queued).
  Result<void> inject(SubscriberId owner, int fd, EventSet ready);

  // --- Timers (src/timers.cpp; deadlines in ns of CLOCK_MONOTONIC) ----------
  Result<TimerId> add_timer(SubscriberId owner, std::uint32_t data);
  /// Arms to base + offset (saturating) with `period` (EINVAL if negative).
  Result<void> arm_timer(SubscriberId owner, TimerId timer, std::int64_t base, std::int64_t offset,
                         std::int64_t period);
  Result<void> disarm_timer(SubscriberId owner, TimerId timer);
  Result<void> remove_timer(SubscriberId owner, TimerId timer);
  Result<std::optional<TimerClock::time_point>> timer_deadline(SubscriberId owner, TimerId timer) const;

  // --- The loop ------------------------------------------------------------
  /// epoll_wait into the ready buffer: the number of events, 0 on EINTR, or
  /// the errno. Polls instead of blocking when something is pending (an owed
  /// wake-up, a deliverable injection).
  Result<int> wait(int timeout_ms) noexcept;
  /// As wait(int), to the nanosecond: epoll_pwait2, or (for good, once the
  /// kernel refuses it with ENOSYS or EPERM) epoll_wait with the timeout
  /// rounded up to whole milliseconds. <= 0 polls; nanoseconds::max() waits forever.
  Result<int> wait(std::chrono::nanoseconds timeout) noexcept;
  /// The dispatch loop met an event it does not deliver (stale, paused, or not
  /// asked for): records a dropped one-shot event (resume() re-arms it).
  void dropped(std::uint64_t key) noexcept;
  /// Runs the queued remote requests (leftovers of a request that threw first).
  /// A request that throws propagates, and so does a std::bad_alloc while taking
  /// the queue; either way the requests not yet run stay owed to a later run().
  void run_requests(void* subscriber_ops);
  /// Called when process() of event `thrown` of a batch of `count` throws: the
  /// events after it are dropped; if the wake-up is in the batch, its requests
  /// are owed to the next run(); dropped one-shot events are recorded.
  void abandon_batch(int thrown, int count) noexcept;

  const ::epoll_event* ready_events() const noexcept { return ready_.get(); }
  const FdEntry* fd_table() const noexcept { return table_.data(); }
  /// The table's size, a power of two, less one. The dispatch step indexes
  /// the table with `fd & fd_mask()`, so no event (not even one of an fd added
  /// to epoll_fd() behind the manager's back, whatever its data) can index
  /// past it; comparing the entry's whole key then rejects a foreign one.
  std::uint32_t fd_mask() const noexcept { return fd_mask_; }
  int wake_fd() const noexcept { return wake_fd_; }
  bool wake_owed() const noexcept { return wake_owed_; }
  int epoll_fd() const noexcept { return epoll_fd_; }
  const std::shared_ptr<Channel>& channel() const noexcept { return channel_; }

  /// After the fd events of a batch: whether timers may be due (the timerfd
  /// was reported, or one was due when last programmed), then delivers them.
  bool timers_pending() const noexcept { return timer_event_ || timer_due_now_; }
  std::size_t run_timers() { return dispatch_timers(); }

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
  friend class RunScope;
  /// The handles that only the engine makes: the public types keep their
  /// constructors private, so users cannot forge them; EventManager asks here.
  static SubscriberId make_id(std::uint64_t value) noexcept { return SubscriberId(value); }
  static EventOps make_ops(Core* core, SubscriberId id) noexcept { return EventOps(core, id); }

  friend struct TestAccess;
  /// Test seam: the next registration of `fd` gets a generation as if `last`
  /// had been the last one issued for it (to reach the wrap-around).
  void force_generation(int fd, std::uint32_t last);

  static constexpr std::uint32_t no_slot = ~std::uint32_t{0};
  struct Slot {
    std::uint64_t id = 0;          // 0: free
    std::uint32_t generation = 0;  // of the last id issued from this slot
    void* object = nullptr;
    void* target = nullptr;
    int first_fd = -1;
    bool paused = false;
    std::uint32_t injections = 0;  // queued injections of this subscriber
    std::uint32_t prev = no_slot;  // the order added (for_each_subscriber)
    std::uint32_t next = no_slot;
    TimerList timers;  // its timers, linked by the timer heap
  };
  /// A queued inject(): valid while the fd keeps this generation and owner.
  struct Injection {
    int fd;
    std::uint32_t generation;
    std::uint32_t ready;
    std::uint64_t owner;
  };

  Core(int epoll_fd, int wake_fd, std::size_t capacity, std::unique_ptr<::epoll_event[]> ready,
       std::shared_ptr<Channel> channel, Destroy destroy, Process process) noexcept;
  const Slot* slot_of(SubscriberId id) const noexcept;
  Slot* slot_of(SubscriberId id) noexcept;
  const FdEntry* owned_entry(SubscriberId owner, int fd) const noexcept;
  Result<std::uint32_t> next_generation(int fd) const;
  void unlink(int fd) noexcept;
  void free_entry(int fd, bool deleted) noexcept;
  /// Grows the table to a power of two that covers `fd`. May throw std::bad_alloc.
  void cover(std::size_t fd);

  /// Makes the kernel hold `mask` for `fd` (0: no registration): ADD, MOD or DEL.
  Result<void> set_kernel(int fd, FdEntry& entry, std::uint32_t mask) noexcept;
  /// Quiets a registration for a pause: it may then wake run() at most once.
  void quiet(int fd, FdEntry& entry) noexcept;
  /// Something is owed now, so the wait must poll instead of block: requests
  /// left by a run() that threw, injections queued meanwhile (not held by a
  /// pause), or a timer that was due when the kernel timer was programmed.
  bool must_poll() const noexcept { return wake_owed_ || deliverable_injections_ != 0 || timer_due_now_; }
  /// After a pause: withdraws a wake-up edge that nothing needs any more.
  void withdraw_signal() noexcept;
  /// Makes epoll_fd() readable (a new edge on the wake-up eventfd, note g).
  void signal() noexcept;
  /// An injection left the queue (delivered or dropped): its slot's count.
  void injection_done(const Injection& injection) noexcept;
  /// Delivers the queued injections of subscribers not paused, in order (run()
  /// does, before it waits); returns how many it delivered. An exception from
  /// process() leaves the ones behind it queued.
  std::size_t deliver_injections();

  // Timers (src/timers.cpp). The heap and the kernel timer are made by the
  // first add_timer(): a manager without timers pays nothing for them.
  struct Timers;
  /// The timers, made on first use. May throw std::bad_alloc.
  Timers* timers();
  /// Opens the timerfd and registers it (level-triggered). Its errno; then nothing stays open.
  Result<void> open_timer_fd() noexcept;
  /// Delivers every timer due now and not armed during this run (`mark`), in
  /// deadline order; returns how many. A throwing process() leaves the others due.
  std::size_t dispatch_timers();
  /// Gives the kernel timer the earliest deadline if it changed (a syscall
  /// only then); a due-now one also makes the next wait poll and epoll_fd()
  /// readable. The timerfd_settime errno.
  Result<void> program_timer() noexcept;
  /// After a change of deadlines outside run() (in a run, its end programs).
  void timers_changed() noexcept;
  void pause_timers(Slot& slot) noexcept;
  void resume_timers(Slot& slot) noexcept;
  void remove_timers(Slot& slot) noexcept;
  /// Run start: timers armed from now on are not due in this run.
  void mark_run() noexcept;
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
  Process process_;

  // Loop thread only.
  std::vector<FdEntry> table_;             // indexed by fd; never shrinks
  std::uint32_t fd_mask_ = 0;              // table_.size() - 1; the size is a power of two
  std::vector<Slot> slots_;                // indexed by the low half of a SubscriberId
  std::vector<std::uint32_t> free_slots_;  // capacity kept >= slots_.size(): erase never allocates
  std::vector<TaskPtr> requests_;          // taken from the channel, run in order
  std::size_t next_request_ = 0;           // requests_[0, next_request_) have run
  bool wake_owed_ = false;                 // a wake-up was consumed but its requests not all run
  std::uint64_t wake_key_ = 0;             // the kernel's epoll_data of the wake-up eventfd
  std::size_t subscriber_count_ = 0;
  std::uint32_t first_slot_ = no_slot;  // the order added
  std::uint32_t last_slot_ = no_slot;
  std::vector<Injection> injections_;       // in injection order
  std::size_t deliverable_injections_ = 0;  // queued ones whose subscriber is not paused
  std::unique_ptr<Timers> timers_;          // null until the first add_timer()
  std::uint64_t timer_key_ = 0;             // the kernel's epoll_data of the timerfd
  bool timer_event_ = false;                // the timerfd was reported in this run's batch
  bool timer_due_now_ = false;              // a timer was due when last programmed: poll, do not block
  bool pwait2_refused_ = false;             // epoll_pwait2 gave ENOSYS or EPERM: epoll_wait from now on
  bool running_ = false;                    // inside run(): its RunScope signals what is left pending

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

/// One run() of `core`: first delivers the pending injections (see
/// Core::deliver_injections()); on every way out leaves epoll_fd() readable if
/// injections are still deliverable (queued during this run). An owed wake-up
/// signals itself when it becomes owed. Inline: a run() without injections
/// pays two compares.
class RunScope {
 public:
  explicit RunScope(Core& core) : core_(core) {
    core.running_ = true;
    if (core.timers_) [[unlikely]]
      core.mark_run();
    if (!core.injections_.empty()) [[unlikely]] {
      try {
        injected_ = core.deliver_injections();
      } catch (...) {
        end();
        throw;
      }
    }
  }
  ~RunScope() { end(); }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  std::size_t injected() const noexcept { return injected_; }

 private:
  void end() noexcept {
    core_.running_ = false;
    if (core_.timers_) [[unlikely]]
      (void)core_.program_timer();  // a refusal leaves timer_due_now_ set: the next run() polls
    if (core_.deliverable_injections_ != 0) [[unlikely]]
      core_.signal();
  }
  Core& core_;
  std::size_t injected_ = 0;
};

inline bool Core::is_running(SubscriberId id) const noexcept {
  if (active_ == id.value()) return true;
  for (const CallbackScope* scope = innermost_; scope != nullptr; scope = scope->outer_) {
    if (scope->outer_active_ == id.value()) return true;
  }
  return false;
}

}  // namespace event_manager::detail
