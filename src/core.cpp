// The epoll engine behind EventManager<S>.
//
// Kernel facts this file is shaped by:
//  a) epoll registers (open file, fd number) pairs and forgets one only when
//     every descriptor of the open file is closed. close() before remove()
//     therefore leaves a registration behind whenever a dup() (try_clone(),
//     fork()) keeps the file open. The manager's table is the authority: its
//     entry is freed by remove() regardless, the leftover's events carry an
//     old generation and are dropped, and a later add() of the same pair that
//     the kernel answers with EEXIST takes the leftover over with MOD.
//  b) An fd number may be closed and handed out again between epoll_wait and
//     the dispatch of its event. Generations (see detail/core.hpp) make every
//     such event stale instead of misdelivered.
//  c) EPOLL_CTL_DEL of a closed fd fails with EBADF, and of a number reused by
//     an unregistered file with ENOENT: both mean "not registered any more".
//  d) EPOLLONESHOT disarms after one event; only EPOLL_CTL_MOD re-arms, so a
//     modify() of a one-shot registration always reaches the kernel.
//  e) epoll_wait fails with EINTR on any signal, even with SA_RESTART; that is
//     zero events, not an error.
//  f) Regular files and directories cannot be watched (EPERM); neither can an
//     epoll fd be made to watch itself (EINVAL). Those errnos pass through.
//  g) The wake-up eventfd is edge-triggered and never read: every write makes
//     a new edge, writes are coalesced by the channel, and the 64-bit counter
//     cannot overflow in practice. That saves a read() per wake-up.
//  h) Generations are counted per fd number, so a number wraps only after 2^32
//     registrations of that very number. A registration can outlive its table
//     entry only through a DEL that failed (note a: EBADF or ENOENT); such a
//     number is marked maybe_leftover. Before the wrap every new generation is
//     larger than every earlier one of the number, so none can match a
//     leftover. At the wrap, a number never marked restarts at 1 (nothing of it
//     is left in the kernel); a marked one asks the kernel which generations
//     its leftovers still hold (/proc/self/fdinfo of the epoll fd lists every
//     registration with its data) and takes the lowest free one. So a stale
//     event is never delivered, exactly, not just with high probability.
//  i) EPOLL_CTL_MOD with an empty mask still reports EPOLLHUP on every wait, so
//     a muted (empty set) or paused registration gets EPOLLONESHOT and no event
//     bits instead: it reports a pending hang-up once, then nothing. An
//     `exclusive` registration refuses MOD (EINVAL), so muting or pausing one
//     deletes it and unmuting or resuming adds it back (FdEntry::kernel == 0).
//     A paused one-shot registration is left alone: it fires at most once, and
//     dispatch records the dropped event so that resume() re-arms it.
#include "event_manager/detail/core.hpp"

#include <sys/eventfd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdio>
#include <fstream>
#include <limits>
#include <new>
#include <set>
#include <string>
#include <utility>

#include "event_manager/detail/unique_fd.hpp"
#include "sys.hpp"
#include "timers.hpp"

namespace event_manager::detail {
namespace {

constexpr std::uint64_t key_of(std::uint32_t generation, int fd) noexcept {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}
constexpr std::uint32_t always_reported = EPOLLERR | EPOLLHUP;
// The kernel mask of a muted or paused registration (note i): no event bits,
// one-shot, so a ready or hung-up fd wakes run() at most once.
constexpr std::uint32_t quiet_mask = EPOLLONESHOT;
// What inject() may claim is ready.
constexpr std::uint32_t injectable = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP;

/// What dispatch delivers for registered bits: nothing while muted.
constexpr std::uint32_t interest_of(std::uint32_t registered) noexcept {
  return registered == 0 ? 0 : registered | always_reported;
}

Result<void> invalid_argument() noexcept { return std::unexpected(std::make_error_code(std::errc::invalid_argument)); }
constexpr std::uint32_t last_generation = std::numeric_limits<std::uint32_t>::max();

/// The generations of the registrations of `fd` that the kernel holds in
/// `epoll_fd` (note h). Reads /proc/self/fdinfo; the errno if it cannot.
Result<std::set<std::uint32_t>> kernel_generations(int epoll_fd, int fd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(epoll_fd));
  if (!info) return std::unexpected(std::error_code(errno != 0 ? errno : ENOENT, std::system_category()));
  std::set<std::uint32_t> generations;
  std::string line;
  while (std::getline(info, line)) {
    // "tfd: %8d events: %8x data: %16llx  pos:..." (fs/eventpoll.c)
    int target = -1;
    unsigned events = 0;
    unsigned long long data = 0;
    if (std::sscanf(line.c_str(), "tfd: %d events: %x data: %llx", &target, &events, &data) == 3 && target == fd) {
      generations.insert(static_cast<std::uint32_t>(data >> 32));
    }
  }
  return generations;
}

std::uint32_t slot_index(SubscriberId id) noexcept { return static_cast<std::uint32_t>(id.value()); }

std::unexpected<std::error_code> fail(Error error) noexcept { return std::unexpected(make_error_code(error)); }

}  // namespace

Result<std::unique_ptr<Core>> Core::create(std::size_t ready_capacity, Destroy destroy, Process process) {
  const Result<int> epoll_number = sys::epoll_create1(EPOLL_CLOEXEC);
  if (!epoll_number) return std::unexpected(epoll_number.error());
  // Owned here until the Core exists, so that no failure path leaks them.
  UniqueFd epoll_fd(*epoll_number);
  const Result<int> wake_number = sys::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!wake_number) return std::unexpected(wake_number.error());
  UniqueFd wake_fd(*wake_number);
  if (auto added =
          sys::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), EPOLLIN | EPOLLET, key_of(1, wake_fd.get()));
      !added) {
    return std::unexpected(added.error());
  }
  // Default-initialized: the pages of a large buffer are touched only when used.
  std::unique_ptr<::epoll_event[]> ready(new ::epoll_event[ready_capacity]);
  auto channel = std::make_shared<Channel>(wake_fd.get());
  std::unique_ptr<Core> core(
      new Core(epoll_fd.get(), wake_fd.get(), ready_capacity, std::move(ready), std::move(channel), destroy, process));
  // From here on ~Core closes both fds: the owners here must not close them
  // again (on a throw below, a second close() could hit another thread's new fd).
  (void)epoll_fd.release();
  (void)wake_fd.release();
  // Cover the wake fd; every other fd gets covered by add(). May throw.
  core->cover(static_cast<std::size_t>(core->wake_fd_));
  // The table accounts for every registration of ours, the wake-up's too: its
  // entry is taken (so add() of that number is FdAlreadyRegistered and can never
  // take it over through EEXIST -> MOD, note a), owned by the manager, and asks
  // for no bits, so dispatch never calls anyone for it.
  FdEntry& wake = core->table_[static_cast<std::size_t>(core->wake_fd_)];
  wake.key = key_of(1, core->wake_fd_);
  wake.owner = manager_owner;
  wake.kernel = EPOLLIN | EPOLLET;
  core->wake_key_ = wake.key;
  return core;
}

Core::Core(int epoll_fd, int wake_fd, std::size_t capacity, std::unique_ptr<::epoll_event[]> ready,
           std::shared_ptr<Channel> channel, Destroy destroy, Process process) noexcept
    : epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      capacity_(static_cast<int>(capacity)),
      ready_(std::move(ready)),
      channel_(std::move(channel)),
      destroy_(destroy),
      process_(process) {}

Core::~Core() {
  channel_->disconnect();
  requests_.clear();  // leftovers of a request that threw: released unrun
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].id == 0) continue;
    // Destroy first, unregister after: the subscriber's EventOps keep working
    // in its destructor. No DEL syscalls: closing the epoll fd drops them all.
    destroy_(slots_[i].object);
    for (int fd = slots_[i].first_fd; fd >= 0;) {
      const int next = table_[static_cast<std::size_t>(fd)].next_fd;
      table_[static_cast<std::size_t>(fd)] = FdEntry{};
      fd = next;
    }
    slots_[i] = Slot{};
  }
  if (timers_) sys::close_fd(timers_->fd);
  sys::close_fd(wake_fd_);
  sys::close_fd(epoll_fd_);
}

// --- Subscribers -----------------------------------------------------------

SubscriberId Core::insert_subscriber(void* object, void* target) {
  std::uint32_t index;
  if (free_slots_.empty()) {
    if (slots_.size() >= std::numeric_limits<std::uint32_t>::max()) throw std::bad_alloc();
    // Reserve the free list first, so that erase_subscriber() never allocates.
    free_slots_.reserve(slots_.size() + 1);
    slots_.emplace_back();
    index = static_cast<std::uint32_t>(slots_.size() - 1);
  } else {
    index = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& slot = slots_[index];
  ++slot.generation;  // starts at 1, so no id is 0; retired before it wraps (erase_subscriber)
  slot.id = (std::uint64_t{slot.generation} << 32) | index;
  slot.object = object;
  slot.target = target;
  slot.first_fd = -1;
  slot.paused = false;
  slot.injections = 0;
  slot.prev = last_slot_;
  slot.next = no_slot;
  (last_slot_ != no_slot ? slots_[last_slot_].next : first_slot_) = index;
  last_slot_ = index;
  ++subscriber_count_;
  return SubscriberId(slot.id);
}

void* Core::erase_subscriber(SubscriberId id) noexcept {
  Slot* slot = slot_of(id);
  assert(slot != nullptr);
  for (int fd = slot->first_fd; fd >= 0;) {
    const int next = table_[static_cast<std::size_t>(fd)].next_fd;
    // A failed DEL is not an error here: the entry is freed either way, any
    // leftover registration only yields stale events (dropped), and a later
    // add() of the same file takes it over (notes a and h).
    const bool held = table_[static_cast<std::size_t>(fd)].kernel != 0;
    free_entry(fd, !held || sys::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, 0, 0).has_value());
    fd = next;
  }
  remove_timers(*slot);
  // Its queued injections stay in the queue until a run() drops them (their
  // owner no longer matches); they stop counting now.
  if (!slot->paused) deliverable_injections_ -= slot->injections;
  (slot->prev != no_slot ? slots_[slot->prev].next : first_slot_) = slot->next;
  (slot->next != no_slot ? slots_[slot->next].prev : last_slot_) = slot->prev;
  --subscriber_count_;
  void* object = slot->object;
  const std::uint32_t generation = slot->generation;
  *slot = Slot{};
  slot->generation = generation;
  // A slot whose generation is used up is retired, never reused: ids stay unique.
  if (generation != std::numeric_limits<std::uint32_t>::max()) free_slots_.push_back(slot_index(id));
  return object;
}

void* Core::find_subscriber(SubscriberId id) const noexcept {
  const Slot* slot = slot_of(id);
  return slot != nullptr ? slot->object : nullptr;
}

std::optional<Core::Listed> Core::first_subscriber() const noexcept {
  if (first_slot_ == no_slot) return std::nullopt;
  const Slot& slot = slots_[first_slot_];
  return Listed{SubscriberId(slot.id), slot.object, first_slot_};
}

std::optional<Core::Listed> Core::next_subscriber(const Listed& current) const noexcept {
  const std::uint32_t next = slots_[current.slot].next;
  if (next == no_slot) return std::nullopt;
  const Slot& slot = slots_[next];
  return Listed{SubscriberId(slot.id), slot.object, next};
}

const Core::Slot* Core::slot_of(SubscriberId id) const noexcept {
  const std::uint32_t index = slot_index(id);
  if (id.value() == 0 || index >= slots_.size()) return nullptr;
  const Slot& slot = slots_[index];
  return slot.id == id.value() ? &slot : nullptr;
}

Core::Slot* Core::slot_of(SubscriberId id) noexcept {
  return const_cast<Slot*>(static_cast<const Core*>(this)->slot_of(id));
}

// --- Interest list ---------------------------------------------------------

Result<std::uint32_t> Core::next_generation(int fd) const {
  const FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  if (entry.generation() != last_generation) return entry.generation() + 1;
  if (!entry.maybe_leftover) return 1;  // note h: nothing of this number is left in the kernel
  auto held = kernel_generations(epoll_fd_, fd);
  if (!held) return std::unexpected(held.error());
  std::uint32_t generation = 1;
  while (held->contains(generation)) ++generation;  // fewer leftovers than 2^32 - 1: terminates
  return generation;
}

void Core::force_generation(int fd, std::uint32_t last) {
  cover(static_cast<std::size_t>(fd));
  table_[static_cast<std::size_t>(fd)].key = key_of(last, fd);
}

const FdEntry* Core::owned_entry(SubscriberId owner, int fd) const noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= table_.size()) return nullptr;
  const FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  return entry.owner == owner.value() ? &entry : nullptr;
}

Result<void> Core::add(SubscriberId owner, Events events) {
  Slot* slot = slot_of(owner);
  if (slot == nullptr) return fail(Error::InvalidId);
  const int fd = events.fd();
  if (fd < 0) return std::unexpected(std::error_code(EBADF, std::system_category()));
  const auto index = static_cast<std::size_t>(fd);
  if (index < table_.size() && table_[index].owner != 0) return fail(Error::FdAlreadyRegistered);
  if (index >= table_.size()) {
    // May throw std::bad_alloc; the new entries are all free, so nothing changed.
    cover(index);
  }
  const std::uint32_t bits = events.event_set().bits();
  if ((bits & ~EventSet::all().bits()) != 0) return invalid_argument();  // EventSet::timer
  const Result<std::uint32_t> next = next_generation(fd);
  if (!next) return std::unexpected(next.error());
  const std::uint32_t generation = *next;
  // Paused: the kernel still checks the fd at once, but holds it quiet (note i);
  // an exclusive mask is checked by adding it, then deleted until resume().
  const bool exclusive = (bits & EPOLLEXCLUSIVE) != 0;
  const std::uint32_t mask = bits == 0 || (slot->paused && !exclusive) ? quiet_mask : bits;
  auto added = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, mask, key_of(generation, fd));
  if (!added && added.error() == std::errc::file_exists) {
    // Our own leftover registration of this very file (note a): take it over.
    added = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, mask, key_of(generation, fd));
  }
  if (!added) return added;
  std::uint32_t kernel = mask;
  if (slot->paused && exclusive) {
    // A failed DEL leaves it armed: it then merely wakes run() until resume().
    if (sys::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, 0, 0)) kernel = 0;
  }

  FdEntry& entry = table_[index];
  entry.key = key_of(generation, fd);
  entry.data = events.data();
  entry.registered = bits;
  entry.interest = slot->paused ? 0 : interest_of(bits);
  entry.kernel = kernel;
  entry.rearm_one_shot = false;
  entry.owner = owner.value();
  entry.target = slot->target;
  entry.prev_fd = -1;
  entry.next_fd = slot->first_fd;
  if (slot->first_fd >= 0) table_[static_cast<std::size_t>(slot->first_fd)].prev_fd = fd;
  slot->first_fd = fd;
  return {};
}

Result<void> Core::modify(SubscriberId owner, Events events) {
  const Slot* slot = slot_of(owner);
  if (slot == nullptr) return fail(Error::InvalidId);
  if (owned_entry(owner, events.fd()) == nullptr) return fail(Error::FdNotRegistered);
  const int fd = events.fd();
  FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  const std::uint32_t bits = events.event_set().bits();
  if ((bits & ~EventSet::all().bits()) != 0) return invalid_argument();  // EventSet::timer
  if (slot->paused) {
    // Recorded only: resume() gives the kernel the mask (and returns its errors),
    // re-arming a one-shot one as this call would have.
    entry.registered = bits;
    entry.data = events.data();
    if ((bits & EPOLLONESHOT) != 0) entry.rearm_one_shot = true;
    return {};
  }
  // Muting an exclusive registration deletes it (note i).
  const std::uint32_t mask =
      bits != 0 ? bits : ((entry.kernel & EPOLLEXCLUSIVE) != 0 || entry.kernel == 0 ? 0 : quiet_mask);
  // The data lives in the table, not the kernel: an unchanged level-triggered
  // mask, or staying muted, needs no syscall. A one-shot one must reach the
  // kernel to re-arm (note d), and an edge-triggered one because EPOLL_CTL_MOD
  // re-checks readiness: callers rely on it for a fresh report of an fd still ready.
  const bool unchanged = bits == entry.registered && mask == entry.kernel;
  if (!unchanged || (bits & (EPOLLONESHOT | EPOLLET)) != 0) {
    if (auto changed = set_kernel(fd, entry, mask); !changed) return changed;
    entry.registered = bits;
    entry.interest = interest_of(bits);
  }
  entry.data = events.data();
  return {};
}

Result<void> Core::set_kernel(int fd, FdEntry& entry, std::uint32_t mask) noexcept {
  const std::uint64_t key = entry.key;
  Result<void> done;
  if (mask == 0) {
    if (entry.kernel != 0) done = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, 0, 0);
  } else {
    done = sys::epoll_ctl(epoll_fd_, entry.kernel == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, mask, key);
  }
  if (!done) return done;
  entry.kernel = mask;
  entry.rearm_one_shot = false;  // re-armed, or deleted
  return {};
}

void Core::quiet(int fd, FdEntry& entry) noexcept {
  if (entry.registered == 0 || (entry.registered & EPOLLONESHOT) != 0) return;  // muted, or fires once (note i)
  const std::uint32_t mask = (entry.kernel & EPOLLEXCLUSIVE) != 0 ? 0 : quiet_mask;
  if (entry.kernel == mask) return;
  // A refusal (an fd closed behind our back) leaves it armed: its events are
  // dropped all the same (interest 0); it merely costs wake-ups.
  (void)set_kernel(fd, entry, mask);
}

Result<void> Core::remove(SubscriberId owner, Events events) {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  const int fd = events.fd();
  if (owned_entry(owner, fd) == nullptr) return fail(Error::FdNotRegistered);
  const bool held = table_[static_cast<std::size_t>(fd)].kernel != 0;
  const Result<void> removed = held ? sys::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, 0, 0) : Result<void>{};
  if (!removed && removed.error() != std::errc::bad_file_descriptor &&
      removed.error() != std::errc::no_such_file_or_directory) {
    return removed;  // unexpected: keep the registration, as the error says it still stands
  }
  unlink(fd);
  free_entry(fd, removed.has_value());
  return {};
}

Result<Events> Core::registered(SubscriberId owner, int fd) const {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  const FdEntry* entry = owned_entry(owner, fd);
  if (entry == nullptr) return fail(Error::FdNotRegistered);
  return Events::with_data(fd, entry->data, EventSet::from_bits(entry->registered));
}

Result<void> Core::inject(SubscriberId owner, int fd, EventSet ready) {
  Slot* slot = slot_of(owner);
  if (slot == nullptr) return fail(Error::InvalidId);
  const FdEntry* entry = owned_entry(owner, fd);
  if (entry == nullptr) return fail(Error::FdNotRegistered);
  if (ready.empty() || (ready.bits() & ~injectable) != 0) return invalid_argument();
  injections_.push_back(Injection{fd, entry->generation(), ready.bits(), owner.value()});  // may throw
  ++slot->injections;
  if (!slot->paused && deliverable_injections_++ == 0 && !running_) signal();  // else the run's end does
  return {};
}

// --- Pausing -------------------------------------------------------------------

Result<void> Core::pause(SubscriberId id) noexcept {
  Slot* slot = slot_of(id);
  if (slot == nullptr) return fail(Error::InvalidId);
  if (slot->paused) return {};
  slot->paused = true;
  deliverable_injections_ -= slot->injections;
  pause_timers(*slot);
  for (int fd = slot->first_fd; fd >= 0; fd = table_[static_cast<std::size_t>(fd)].next_fd) {
    FdEntry& entry = table_[static_cast<std::size_t>(fd)];
    entry.interest = 0;  // its events, pending ones of this batch included, are dropped
    quiet(fd, entry);
  }
  withdraw_signal();
  return {};
}

Result<void> Core::resume(SubscriberId id) noexcept {
  Slot* slot = slot_of(id);
  if (slot == nullptr) return fail(Error::InvalidId);
  if (!slot->paused) return {};
  slot->paused = false;
  resume_timers(*slot);
  if (slot->injections != 0 && (deliverable_injections_ += slot->injections) == slot->injections && !running_) {
    signal();
  }
  Result<void> first_error;
  for (int fd = slot->first_fd; fd >= 0; fd = table_[static_cast<std::size_t>(fd)].next_fd) {
    FdEntry& entry = table_[static_cast<std::size_t>(fd)];
    entry.interest = interest_of(entry.registered);
    if (entry.registered == 0) {
      // Muted, perhaps while paused: quiet it if the pause did not (a one-shot).
      const std::uint32_t mask = (entry.kernel & EPOLLEXCLUSIVE) != 0 || entry.kernel == 0 ? 0 : quiet_mask;
      if (entry.kernel != mask) (void)set_kernel(fd, entry, mask);
      continue;
    }
    // Re-arm what the pause quieted, what modify() changed meanwhile, and a
    // one-shot whose event was dropped; MOD and ADD re-check readiness, so an
    // fd that became ready while paused is reported, edge-triggered too.
    if (entry.kernel == entry.registered && !entry.rearm_one_shot) continue;
    if (auto armed = set_kernel(fd, entry, entry.registered); !armed && first_error) first_error = armed;
  }
  return first_error;
}

Result<bool> Core::paused(SubscriberId id) const noexcept {
  const Slot* slot = slot_of(id);
  if (slot == nullptr) return fail(Error::InvalidId);
  return slot->paused;
}

void Core::cover(std::size_t fd) {
  if (fd < table_.size()) return;
  const std::size_t size = std::bit_ceil(fd + 1);
  table_.resize(size);  // may throw std::bad_alloc; then nothing changed
  fd_mask_ = static_cast<std::uint32_t>(size - 1);
}

void Core::free_entry(int fd, bool deleted) noexcept {
  FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  FdEntry freed;
  freed.key = entry.key;  // the next registration of the number counts on from here
  freed.maybe_leftover = entry.maybe_leftover || !deleted;
  entry = freed;
}

void Core::unlink(int fd) noexcept {
  FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  if (entry.prev_fd >= 0) {
    table_[static_cast<std::size_t>(entry.prev_fd)].next_fd = entry.next_fd;
  } else {
    Slot* slot = slot_of(SubscriberId(entry.owner));
    assert(slot != nullptr && slot->first_fd == fd);
    slot->first_fd = entry.next_fd;
  }
  if (entry.next_fd >= 0) table_[static_cast<std::size_t>(entry.next_fd)].prev_fd = entry.prev_fd;
}

// --- The loop ----------------------------------------------------------------

std::size_t Core::deliver_injections() {
  // Only the injections queued before this run: process() may inject more,
  // and those wait for the next run(). Held ones (paused) keep their place.
  const std::size_t queued = injections_.size();
  std::size_t kept = 0;
  std::size_t delivered = 0;
  std::size_t i = 0;
  try {
    for (; i < queued; ++i) {
      const Injection injection = injections_[i];
      const Slot* slot = slot_of(SubscriberId(injection.owner));
      if (slot != nullptr && slot->paused) {
        injections_[kept++] = injection;
        continue;
      }
      injection_done(injection);
      const FdEntry& entry = table_[static_cast<std::size_t>(injection.fd)];
      // Dropped if its fd (or its subscriber) was removed since.
      if (slot == nullptr || entry.owner != injection.owner || entry.generation() != injection.generation) continue;
      ++delivered;
      active_ = injection.owner;
      EventOps ops(this, SubscriberId(injection.owner));
      process_(entry.target, Events::with_data(injection.fd, entry.data, EventSet::from_bits(injection.ready)), ops);
    }
  } catch (...) {
    // The injection that threw is consumed; the ones behind it stay queued.
    injections_.erase(injections_.begin() + static_cast<std::ptrdiff_t>(kept),
                      injections_.begin() + static_cast<std::ptrdiff_t>(i + 1));
    active_ = 0;
    throw;
  }
  injections_.erase(injections_.begin() + static_cast<std::ptrdiff_t>(kept),
                    injections_.begin() + static_cast<std::ptrdiff_t>(queued));
  active_ = 0;
  return delivered;
}

void Core::injection_done(const Injection& injection) noexcept {
  Slot* slot = slot_of(SubscriberId(injection.owner));
  if (slot == nullptr) return;  // erase_subscriber() already stopped counting it
  --slot->injections;
  if (!slot->paused) --deliverable_injections_;
}

Result<int> Core::wait(int timeout_ms) noexcept {
  return sys::epoll_wait(epoll_fd_, ready_.get(), capacity_, must_poll() ? 0 : timeout_ms);
}

Result<int> Core::wait(std::chrono::nanoseconds timeout) noexcept {
  using std::chrono::nanoseconds;
  if (must_poll() || timeout < nanoseconds::zero()) timeout = nanoseconds::zero();
  const bool forever = timeout == nanoseconds::max();
  if (!pwait2_refused_) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    const ::timespec ts{static_cast<time_t>(seconds.count()), static_cast<long>((timeout - seconds).count())};
    const Result<int> waited = sys::epoll_pwait2(epoll_fd_, ready_.get(), capacity_, forever ? nullptr : &ts);
    if (waited ||
        (waited.error() != std::errc::function_not_supported && waited.error() != std::errc::operation_not_permitted)) {
      return waited;
    }
    pwait2_refused_ = true;  // an old kernel, or a seccomp filter: epoll_wait from now on
  }
  // Round up: never return early for want of precision.
  constexpr auto max_ms = std::chrono::milliseconds(std::numeric_limits<int>::max());
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout);
  const int timeout_ms = forever || ms > max_ms ? -1 : static_cast<int>(ms.count());
  return sys::epoll_wait(epoll_fd_, ready_.get(), capacity_, timeout_ms);
}

void Core::dropped(std::uint64_t key) noexcept {
  const auto fd = static_cast<std::uint32_t>(key);
  if (fd >= table_.size()) return;
  FdEntry& entry = table_[fd];
  if (timer_key_ != 0 && key == timer_key_) {
    timer_event_ = true;  // a timer is due: run() delivers it after the batch
    return;
  }
  // A current one-shot registration's event: the kernel disarmed it, process() never saw it.
  if (entry.key == key && entry.owner != 0 && (entry.registered & EPOLLONESHOT) != 0) {
    entry.rearm_one_shot = true;
  }
}

void Core::run_requests(void* subscriber_ops) {
  if (next_request_ == requests_.size()) {
    requests_.clear();
    next_request_ = 0;
  }
  try {
    channel_->take_all(requests_);  // may throw std::bad_alloc: then nothing was taken
    while (next_request_ < requests_.size()) {
      // run() disposes of the request (detail/task.hpp): release it from the queue first.
      Task* task = requests_[next_request_++].release();
      task->run(subscriber_ops);
    }
  } catch (...) {
    // The requests not run yet (taken or still in the channel) run, in order, by a later run().
    owe_wake();
    throw;
  }
  requests_.clear();
  next_request_ = 0;
  wake_owed_ = false;
}

void Core::abandon_batch(int thrown, int count) noexcept {
  // The wake-up may sit anywhere in the batch: before the throw it was seen but
  // its requests not run yet; after it, it was not seen at all. Owe it either way.
  for (int i = 0; i < count; ++i) {
    if (ready_[i].data.u64 == wake_key_) {
      owe_wake();
    } else if (i > thrown) {
      dropped(ready_[i].data.u64);
    }
  }
}

void Core::owe_wake() noexcept {
  wake_owed_ = true;
  signal();
}

void Core::withdraw_signal() noexcept {
  if (running_ || must_poll()) return;  // the edge is still needed (or the run's end decides)
  // A due timer or an injection of a subscriber now paused may have written
  // the wake-up eventfd. Reading resets its counter, and epoll re-checks an
  // edge-triggered item before it reports it, so the pending edge is withdrawn:
  // the paused subscriber costs no wake-up.
  (void)sys::read_u64(wake_fd_);
  // The read may have consumed an endpoint's wake-up (a request or a kick not
  // yet taken): give it back.
  if (channel_->wake_outstanding()) signal();
}

void Core::signal() noexcept {
  // A new edge on the wake-up eventfd (note g) makes epoll_fd() readable, so an
  // enclosing loop runs this manager again. Should the write fail, what is
  // pending still makes our own next run() poll instead of block.
  (void)sys::write_u64(wake_fd_, 1);
}

}  // namespace event_manager::detail
