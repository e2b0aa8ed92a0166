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
#include "event_manager/detail/core.hpp"

#include <sys/eventfd.h>

#include <cassert>
#include <algorithm>
#include <limits>
#include <new>
#include <utility>

#include "event_manager/detail/unique_fd.hpp"
#include "sys.hpp"

namespace event_manager::detail {
namespace {

constexpr std::uint64_t key_of(std::uint32_t generation, int fd) noexcept {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}
constexpr std::uint32_t always_reported = EPOLLERR | EPOLLHUP;
constexpr std::uint64_t wake_key(int wake_fd) noexcept { return key_of(wake_generation, wake_fd); }

std::uint32_t slot_index(SubscriberId id) noexcept { return static_cast<std::uint32_t>(id.value()); }

std::unexpected<std::error_code> fail(Error error) noexcept { return std::unexpected(make_error_code(error)); }

}  // namespace

Result<std::unique_ptr<Core>> Core::create(std::size_t ready_capacity, Destroy destroy) {
  const Result<int> epoll_number = sys::epoll_create1(EPOLL_CLOEXEC);
  if (!epoll_number) return std::unexpected(epoll_number.error());
  // Owned here until the Core exists, so that no failure path leaks them.
  UniqueFd epoll_fd(*epoll_number);
  const Result<int> wake_number = sys::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!wake_number) return std::unexpected(wake_number.error());
  UniqueFd wake_fd(*wake_number);
  if (auto added = sys::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), EPOLLIN | EPOLLET,
                                  wake_key(wake_fd.get()));
      !added) {
    return std::unexpected(added.error());
  }
  // Default-initialized: the pages of a large buffer are touched only when used.
  std::unique_ptr<::epoll_event[]> ready(new ::epoll_event[ready_capacity]);
  auto channel = std::make_shared<Channel>(wake_fd.get());
  std::unique_ptr<Core> core(new Core(epoll_fd.get(), wake_fd.get(), ready_capacity, std::move(ready),
                                      std::move(channel), destroy));
  // From here on ~Core closes both fds: the owners here must not close them
  // again (on a throw below, a second close() could hit another thread's new fd).
  (void)epoll_fd.release();
  (void)wake_fd.release();
  // The dispatch step indexes the table with any fd the kernel reports
  // without a bounds check: cover the wake fd, every other fd gets covered by add().
  core->table_.resize(static_cast<std::size_t>(core->wake_fd_) + 1);
  // The table accounts for every registration of ours, the wake-up's too: its
  // entry is taken (so add() of that number is FdAlreadyRegistered and can never
  // take it over through EEXIST -> MOD, note a), owned by no subscriber (id 0 is
  // never valid), and asks for no bits, so dispatch never calls anyone for it.
  core->table_[static_cast<std::size_t>(core->wake_fd_)].generation = wake_generation;
  return core;
}

Core::Core(int epoll_fd, int wake_fd, std::size_t capacity, std::unique_ptr<::epoll_event[]> ready,
           std::shared_ptr<Channel> channel, Destroy destroy) noexcept
    : epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      capacity_(static_cast<int>(capacity)),
      ready_(std::move(ready)),
      channel_(std::move(channel)),
      destroy_(destroy) {}

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
  return SubscriberId::from_value(slot.id);
}

void* Core::erase_subscriber(SubscriberId id) noexcept {
  Slot* slot = slot_of(id);
  assert(slot != nullptr);
  for (int fd = slot->first_fd; fd >= 0;) {
    FdEntry& entry = table_[static_cast<std::size_t>(fd)];
    const int next = entry.next_fd;
    // A failed DEL is ignored on purpose: the entry is freed either way, any
    // leftover registration only yields stale events (dropped), and a later
    // add() of the same file takes it over (note a).
    (void)sys::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, 0, 0);
    entry = FdEntry{};
    fd = next;
  }
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

std::uint32_t Core::next_generation() noexcept {
  // 0 marks a free entry and wake_generation the wake-up eventfd: never issued.
  do {
    ++last_generation_;
  } while (last_generation_ == 0 || last_generation_ == wake_generation);
  return last_generation_;
}

const FdEntry* Core::owned_entry(SubscriberId owner, int fd) const noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= table_.size()) return nullptr;
  const FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  return entry.generation != 0 && entry.owner == owner.value() ? &entry : nullptr;
}

Result<void> Core::add(SubscriberId owner, Events events) {
  Slot* slot = slot_of(owner);
  if (slot == nullptr) return fail(Error::InvalidId);
  const int fd = events.fd();
  if (fd < 0) return std::unexpected(std::error_code(EBADF, std::system_category()));
  const auto index = static_cast<std::size_t>(fd);
  if (index < table_.size() && table_[index].generation != 0) return fail(Error::FdAlreadyRegistered);
  if (index >= table_.size()) {
    // May throw std::bad_alloc; the new entries are all free, so nothing changed.
    table_.resize(std::max(index + 1, table_.size() * 2));
  }
  const std::uint32_t bits = events.event_set().bits();
  const std::uint32_t generation = next_generation();
  auto added = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, bits, key_of(generation, fd));
  if (!added && added.error() == std::errc::file_exists) {
    // Our own leftover registration of this very file (note a): take it over.
    added = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, bits, key_of(generation, fd));
  }
  if (!added) return added;

  FdEntry& entry = table_[index];
  entry.generation = generation;
  entry.data = events.data();
  entry.registered = bits;
  entry.interest = bits | always_reported;
  entry.owner = owner.value();
  entry.target = slot->target;
  entry.prev_fd = -1;
  entry.next_fd = slot->first_fd;
  if (slot->first_fd >= 0) table_[static_cast<std::size_t>(slot->first_fd)].prev_fd = fd;
  slot->first_fd = fd;
  return {};
}

Result<void> Core::modify(SubscriberId owner, Events events) {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  const FdEntry* found = owned_entry(owner, events.fd());
  if (found == nullptr) return fail(Error::FdNotRegistered);
  FdEntry& entry = table_[static_cast<std::size_t>(events.fd())];
  const std::uint32_t bits = events.event_set().bits();
  // The data lives in the table, not the kernel: an unchanged mask needs no
  // syscall, unless it is one-shot and the caller re-arms it (note d).
  if (bits != entry.registered || (bits & EPOLLONESHOT) != 0) {
    if (auto changed = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, events.fd(), bits,
                                      key_of(entry.generation, events.fd()));
        !changed) {
      return changed;
    }
    entry.registered = bits;
    entry.interest = bits | always_reported;
  }
  entry.data = events.data();
  return {};
}

Result<void> Core::remove(SubscriberId owner, Events events) {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  const int fd = events.fd();
  if (owned_entry(owner, fd) == nullptr) return fail(Error::FdNotRegistered);
  if (auto removed = sys::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, 0, 0);
      !removed && removed.error() != std::errc::bad_file_descriptor &&
      removed.error() != std::errc::no_such_file_or_directory) {
    return removed;  // unexpected: keep the registration, as the error says it still stands
  }
  unlink(fd);
  table_[static_cast<std::size_t>(fd)] = FdEntry{};
  return {};
}

Result<Events> Core::registered(SubscriberId owner, int fd) const {
  if (slot_of(owner) == nullptr) return fail(Error::InvalidId);
  const FdEntry* entry = owned_entry(owner, fd);
  if (entry == nullptr) return fail(Error::FdNotRegistered);
  return Events::with_data(fd, entry->data, EventSet::from_bits(entry->registered));
}

void Core::unlink(int fd) noexcept {
  FdEntry& entry = table_[static_cast<std::size_t>(fd)];
  if (entry.prev_fd >= 0) {
    table_[static_cast<std::size_t>(entry.prev_fd)].next_fd = entry.next_fd;
  } else {
    Slot* slot = slot_of(SubscriberId::from_value(entry.owner));
    assert(slot != nullptr && slot->first_fd == fd);
    slot->first_fd = entry.next_fd;
  }
  if (entry.next_fd >= 0) table_[static_cast<std::size_t>(entry.next_fd)].prev_fd = entry.prev_fd;
}

// --- The loop ----------------------------------------------------------------

Result<int> Core::wait(int timeout_ms) noexcept {
  // Requests left by a run() that threw are owed now: poll, do not block.
  return sys::epoll_wait(epoll_fd_, ready_.get(), capacity_, wake_owed_ ? 0 : timeout_ms);
}

void Core::run_requests(void* subscriber_ops) {
  wake_owed_ = false;
  if (next_request_ == requests_.size()) {
    requests_.clear();
    next_request_ = 0;
  }
  channel_->take_all(requests_);
  while (next_request_ < requests_.size()) {
    // run() disposes of the request (detail/task.hpp): release it from the queue first.
    Task* task = requests_[next_request_++].release();
    try {
      task->run(subscriber_ops);
    } catch (...) {
      // The requests behind this one run, in order, by the next run().
      wake_owed_ = true;
      throw;
    }
  }
  requests_.clear();
  next_request_ = 0;
}

void Core::abandon_batch(int count) noexcept {
  // The wake-up may sit anywhere in the batch: before the throw it was seen but
  // its requests not run yet; after it, it was not seen at all. Owe it either way.
  const std::uint64_t key = wake_key(wake_fd_);
  for (int i = 0; i < count; ++i) {
    if (ready_[i].data.u64 == key) wake_owed_ = true;
  }
}

}  // namespace event_manager::detail
