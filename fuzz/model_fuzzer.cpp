// Model-based fuzzer: the input is a sequence of operations on two managers
// (EventManager<ModelSub> holding subscribers by value and
// EventManager<std::unique_ptr<MutEventSubscriber>> holding them
// dynamically), on eventfds, and on remote endpoints. Every return value and
// every callback is checked against a plain reference model of what API.md
// promises; any divergence aborts.
//
// The model keeps three things per manager:
//  - the manager's table: fd number -> owner, data, mask (what registered()
//    must answer), plus a registration serial standing for the generation;
//  - the kernel's interest list: (open file, fd number) -> mask, armed,
//    edge pending, serial. It is what makes close-without-remove, dup()ed
//    descriptors and reused fd numbers predictable: epoll forgets a pair only
//    when the file's last descriptor closes;
//  - the request channel: queued tokens and whether a wake-up edge is pending.
// From these it predicts exactly which events epoll reports on the next
// run_with_timeout(0) (eventfds: `in` while the counter is > 0, `out`
// always; level-triggered registrations every run, one-shot ones once until
// re-armed, edge-triggered ones once per edge), the count run() returns, the
// data and event set of each callback, which batch events may be dropped
// (only those whose registration was removed, replaced or masked out during
// the batch), every error code, and the order in which requests run.
//
// Reentrant calls are part of the input: init(), process() and requests add,
// modify and remove fds, add and remove subscribers, fire requests, call
// run() (Reentrant), call_blocking() (WouldDeadlock) and remove themselves
// (Reentrant).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <event_manager/event_manager.hpp>

namespace em = event_manager;

namespace {

void divergence(const char* what, int line) {
  std::fprintf(stderr, "model divergence at model_fuzzer.cpp:%d: %s\n", line, what);
  std::abort();
}
#define CHECK(cond)                            \
  do {                                         \
    if (!(cond)) divergence(#cond, __LINE__);  \
  } while (0)

constexpr std::uint32_t kIn = EPOLLIN;
constexpr std::uint32_t kOut = EPOLLOUT;
constexpr std::uint32_t kEt = EPOLLET;
constexpr std::uint32_t kOneShot = EPOLLONESHOT;
constexpr std::uint32_t kAlways = EPOLLERR | EPOLLHUP;
constexpr std::uint32_t kMasks[] = {0, kIn, kOut, kIn | kOut, kIn | kEt, kIn | kOneShot, kIn | kOut | kEt, kIn};
constexpr int kMaxLiveFds = 64;
constexpr int kMaxSubscribers = 48;
constexpr int kMaxKernelEntries = 200;  // stays below the ready capacity (256)
constexpr int kMaxOps = 3000;
constexpr int kMaxDepth = 3;

std::uint64_t g_checks = 0;  // model checks passed (printed at exit)
const bool g_trace = std::getenv("MODEL_TRACE") != nullptr;  // prints every operation
#define TRACE(...)                                   \
  do {                                               \
    if (g_trace) std::fprintf(stderr, __VA_ARGS__);  \
  } while (0)

struct Input {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

std::error_code sys(int e) { return {e, std::system_category()}; }
std::error_code lib(em::Error e) { return em::make_error_code(e); }

// --- The model -------------------------------------------------------------------

struct KernelEntry {
  std::uint32_t mask = 0;
  bool armed = true;     // one-shot
  bool pending = false;  // edge-triggered: an edge not yet reported
  std::uint64_t serial = 0;
};

struct TableEntry {
  int owner = -1;  // subscriber tag
  std::uint32_t data = 0;
  std::uint32_t mask = 0;
  std::uint64_t serial = 0;
};

struct BatchItem {
  int fd;
  std::uint32_t bits;
  std::uint64_t serial;
  bool delivered = false;
  bool ever_undeliverable = false;
};

struct MgrModel {
  std::map<std::pair<int, int>, KernelEntry> kernel;  // (file, fd number)
  std::map<int, TableEntry> table;
  std::vector<int> channel;  // tokens queued, not yet taken
  std::vector<int> taken;    // tokens taken by the run in progress, not yet run
  bool wake_pending = false;
  bool wake_edge = false;
  bool wake_owed = false;  // a run() that threw left requests to the next run()
  // The run in progress.
  bool in_run = false;
  std::vector<BatchItem> batch;
  bool wake_in_batch = false;
  bool requests_started = false;
  std::set<std::uint64_t> issued_ids;
};

struct SubModel {
  int mgr = 0;
  bool alive = false;
  bool initialized = false;
  em::SubscriberId id;
  std::optional<em::EventOps> ops;  // kept from init(): must give InvalidId once removed
};

struct TokenState {
  int mgr = 0;
  bool ran = false;
  bool destroyed = false;
  bool refused = false;  // call_blocking() refused it (WouldDeadlock)
};

struct Frame {
  int mgr;
  int tag;  // -1: a request
};

/// The callback stack: pushed for the lifetime of a callback, exceptions included.
class FramePush {
 public:
  FramePush(std::vector<Frame>& frames, Frame f) : frames_(frames) { frames_.push_back(f); }
  ~FramePush() { frames_.pop_back(); }
  FramePush(const FramePush&) = delete;
  FramePush& operator=(const FramePush&) = delete;

 private:
  std::vector<Frame>& frames_;
};

/// What init(), process() and requests throw when the input says so.
struct Thrown {};

class Harness;
Harness* H = nullptr;

struct ModelSub {
  int tag;
  void init(em::EventOps& ops);
  void process(em::Events ev, em::EventOps& ops);
};

struct DynSub final : em::MutEventSubscriber {
  explicit DynSub(int t) : tag(t) {}
  int tag;
  void init(em::EventOps& ops) override;
  void process(em::Events ev, em::EventOps& ops) override;
};

using M0 = em::EventManager<ModelSub>;
using M1 = em::EventManager<std::unique_ptr<em::MutEventSubscriber>>;

struct TokenGuard {
  int id;
  ~TokenGuard();
};

class Harness {
 public:
  explicit Harness(Input in)
      : in_(in), fds_before_(open_fd_set()), m0_(M0::create().value()), m1_(M1::create().value()) {
    // Each create() opened its epoll fd, then its wake-up eventfd, each the
    // lowest free number: the new fds in order are epoll 0, wake 0, epoll 1, wake 1.
    std::vector<int> opened;
    for (int fd : open_fd_set()) {
      if (!fds_before_.count(fd)) opened.push_back(fd);
    }
    CHECK(opened.size() == 4 && opened[0] == m0_.epoll_fd() && opened[2] == m1_.epoll_fd());
    wake_fd_[0] = opened[1];
    wake_fd_[1] = opened[3];
    devnull_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(devnull_ >= 0);
    closed_fd_ = 900;
    subs_.reserve(kMaxSubscribers);  // callbacks hold references into it
    CHECK(::fcntl(closed_fd_, F_GETFD) == -1);
  }

  void run() {
    int ops = 0;
    while (!in_.empty() && ops++ < kMaxOps) do_op(Frame{-1, -1}, nullptr, 0);
  }

  void finish() {
    // Destroying a manager destroys its queued requests without running them.
    std::vector<int> queued[2];
    for (int m = 0; m < 2; ++m) {
      queued[m] = model_[m].taken;
      queued[m].insert(queued[m].end(), model_[m].channel.begin(), model_[m].channel.end());
    }
    { auto gone = std::move(m0_); }
    { auto gone = std::move(m1_); }
    for (int m = 0; m < 2; ++m) {
      for (int t : queued[m]) {
        CHECK(!tokens_[t].ran);
        CHECK(tokens_[t].destroyed);
      }
    }
    for (const auto& [id, t] : tokens_) {
      CHECK(t.destroyed);
      const bool was_queued = std::find(queued[t.mgr].begin(), queued[t.mgr].end(), id) != queued[t.mgr].end();
      CHECK(t.ran == (!was_queued && !t.refused));
      ++g_checks;
    }
    fds_.clear();
    ::close(devnull_);
  }

  // --- Callbacks -----------------------------------------------------------------

  void on_init(int tag, em::EventOps& ops) {
    SubModel& s = subs_[tag];
    CHECK(!s.initialized);
    s.initialized = true;
    s.alive = true;
    s.id = ops.subscriber_id();
    CHECK(s.id != em::SubscriberId());
    CHECK(model_[s.mgr].issued_ids.insert(s.id.value()).second);  // never reused
    s.ops = ops;
    FramePush frame(frames_, Frame{s.mgr, tag});
    const std::uint8_t b = in_.byte();
    for (int i = 0; i < b % 4; ++i) do_op(frames_.back(), &ops, depth_ + 1);
    if ((b / 4) % 8 == 7) {
      TRACE("%*sinit of tag %d throws\n", 2 * depth_, "", tag);
      throw Thrown{};
    }
  }

  void on_process(int tag, em::Events ev, em::EventOps& ops) {
    SubModel& s = subs_[tag];
    MgrModel& mm = model_[s.mgr];
    CHECK(mm.in_run);
    CHECK(!mm.requests_started);  // subscriber events come before requests
    CHECK(s.alive);
    CHECK(ops.subscriber_id() == s.id);
    auto te = mm.table.find(ev.fd());
    CHECK(te != mm.table.end());
    CHECK(te->second.owner == tag);
    BatchItem* item = nullptr;
    for (auto& b : mm.batch) {
      if (b.fd == ev.fd() && b.serial == te->second.serial && !b.delivered) item = &b;
    }
    CHECK(item != nullptr);  // reported by the kernel for this registration, not yet delivered
    const std::uint32_t bits = item->bits & (te->second.mask | kAlways);
    CHECK(bits != 0);  // masked out since the wait: must not be delivered
    CHECK(ev.data() == te->second.data);
    CHECK(ev.event_set().bits() == bits);
    item->delivered = true;
    g_checks += 5;
    TRACE("%*sprocess tag %d fd %d data %u bits %x\n", 2 * depth_, "", tag, ev.fd(), ev.data(), ev.event_set().bits());
    FramePush frame(frames_, Frame{s.mgr, tag});
    const std::uint8_t b = in_.byte();
    for (int i = 0; i < b % 3; ++i) do_op(frames_.back(), &ops, depth_ + 1);
    if ((b / 3) % 8 == 7) {
      TRACE("%*sprocess of tag %d throws\n", 2 * depth_, "", tag);
      throw Thrown{};
    }
  }

  template <class Ops>
  void on_request(int mgr, int token, Ops& sops) {
    MgrModel& mm = model_[mgr];
    CHECK(mm.in_run);
    if (!mm.requests_started) take_all(mgr);
    CHECK(!mm.taken.empty());
    CHECK(mm.taken.front() == token);  // in order, exactly once
    mm.taken.erase(mm.taken.begin());
    TokenState& t = tokens_[token];
    CHECK(!t.ran && !t.destroyed);
    t.ran = true;
    ++g_checks;
    (void)sops;
    FramePush frame(frames_, Frame{mgr, -1});
    const std::uint8_t b = in_.byte();
    for (int i = 0; i < b % 3; ++i) do_op(frames_.back(), nullptr, depth_ + 1);
    if ((b / 3) % 8 == 7) {
      TRACE("%*srequest %d throws\n", 2 * depth_, "", token);
      throw Thrown{};
    }
  }

  void on_token_destroyed(int token) {
    TokenState& t = tokens_[token];
    CHECK(!t.destroyed);
    t.destroyed = true;
  }

 private:
  // --- fd universe -------------------------------------------------------------

  enum class Kind { closed, eventfd, devnull, epoll_self };

  Kind kind_of(int mgr, int fd, int* file) const {
    if (auto it = fds_.find(fd); it != fds_.end()) {
      *file = it->second.file;
      return Kind::eventfd;
    }
    if (fd == devnull_) return Kind::devnull;
    if (fd == epoll_fd(mgr)) return Kind::epoll_self;
    return Kind::closed;
  }
  int epoll_fd(int mgr) const { return mgr == 0 ? m0_.epoll_fd() : m1_.epoll_fd(); }
  static std::set<int> open_fd_set() {
    std::set<int> out;
    DIR* dir = ::opendir("/proc/self/fd");
    CHECK(dir != nullptr);
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') out.insert(std::atoi(e->d_name));
    }
    out.erase(::dirfd(dir));
    ::closedir(dir);
    return out;
  }

  std::uint32_t ready_bits(int file, std::uint32_t mask) const {
    const std::uint32_t ready = (files_.at(file) > 0 ? kIn : 0u) | kOut;
    return ready & (mask | kAlways);
  }

  /// epoll_ctl as the kernel answers it (0 or an errno).
  int kernel_ctl(int mgr, int op, int fd, std::uint32_t mask, std::uint64_t serial) {
    int file = -1;
    switch (kind_of(mgr, fd, &file)) {
      case Kind::closed: return EBADF;
      case Kind::devnull: return EPERM;
      case Kind::epoll_self: return EINVAL;
      case Kind::eventfd: break;
    }
    auto& kernel = model_[mgr].kernel;
    auto it = kernel.find({file, fd});
    switch (op) {
      case EPOLL_CTL_ADD:
        if (it != kernel.end()) return EEXIST;
        kernel[{file, fd}] = KernelEntry{mask, true, ready_bits(file, mask) != 0, serial};
        return 0;
      case EPOLL_CTL_MOD:
        if (it == kernel.end()) return ENOENT;
        it->second.mask = mask;
        it->second.armed = true;
        it->second.pending = it->second.pending || ready_bits(file, mask) != 0;
        it->second.serial = serial;
        return 0;
      default:
        if (it == kernel.end()) return ENOENT;
        kernel.erase(it);
        return 0;
    }
  }

  // --- Expected results of the interest-list operations -------------------------

  std::error_code model_add(int tag, int fd, std::uint32_t mask, std::uint32_t data) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    if (mm.table.count(fd)) return lib(em::Error::FdAlreadyRegistered);
    // The endpoint's wake-up eventfd is the manager's own registration: adding
    // its number (a stale int that the manager's eventfd now reuses) must not
    // take it over, or remote requests would never run again.
    if (fd == wake_fd_[s.mgr]) return lib(em::Error::FdAlreadyRegistered);
    const std::uint64_t serial = ++serial_;
    int r = kernel_ctl(s.mgr, EPOLL_CTL_ADD, fd, mask, serial);
    if (r == EEXIST) r = kernel_ctl(s.mgr, EPOLL_CTL_MOD, fd, mask, serial);  // takes a leftover over
    if (r != 0) return sys(r);
    mm.table[fd] = TableEntry{tag, data, mask, serial};
    return {};
  }

  std::error_code model_modify(int tag, int fd, std::uint32_t mask, std::uint32_t data) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    auto it = mm.table.find(fd);
    if (it == mm.table.end() || it->second.owner != tag) return lib(em::Error::FdNotRegistered);
    // An unchanged level-triggered mask makes no syscall; one-shot and
    // edge-triggered ones always reach the kernel (API.md v4).
    if (mask != it->second.mask || (mask & (kOneShot | kEt)) != 0) {
      if (int r = kernel_ctl(s.mgr, EPOLL_CTL_MOD, fd, mask, it->second.serial); r != 0) return sys(r);
      it->second.mask = mask;
    }
    it->second.data = data;
    return {};
  }

  std::error_code model_remove(int tag, int fd) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    auto it = mm.table.find(fd);
    if (it == mm.table.end() || it->second.owner != tag) return lib(em::Error::FdNotRegistered);
    const int r = kernel_ctl(s.mgr, EPOLL_CTL_DEL, fd, 0, 0);
    if (r != 0 && r != EBADF && r != ENOENT) return sys(r);
    mm.table.erase(it);
    return {};
  }

  /// Marks the batch events that can no longer be delivered (their
  /// registration was removed, replaced, or masked out): those may be skipped.
  void refresh_batches() {
    for (auto& mm : model_) {
      if (!mm.in_run) continue;
      for (auto& b : mm.batch) {
        if (b.delivered || b.ever_undeliverable) continue;
        auto it = mm.table.find(b.fd);
        if (it == mm.table.end() || it->second.serial != b.serial || (b.bits & (it->second.mask | kAlways)) == 0) {
          b.ever_undeliverable = true;
        }
      }
    }
  }

  // --- Picking operands ------------------------------------------------------------

  int pick_fd(int mgr) {
    std::vector<int> c;
    for (const auto& [fd, f] : fds_) c.push_back(fd);
    for (const auto& mm : model_) {
      for (const auto& [fd, e] : mm.table) c.push_back(fd);
    }
    c.push_back(devnull_);
    c.push_back(epoll_fd(mgr));
    c.push_back(wake_fd_[mgr]);
    c.push_back(closed_fd_);
    return c[in_.byte() % c.size()];
  }

  /// A subscriber tag of `mgr` (alive or removed), or -1 for the null id.
  int pick_sub(int mgr) {
    std::vector<int> c;
    for (int t = 0; t < static_cast<int>(subs_.size()); ++t) {
      if (subs_[t].mgr == mgr && subs_[t].initialized) c.push_back(t);
    }
    const std::uint8_t b = in_.byte();
    if (c.empty() || b % 16 == 15) return -1;
    return c[b % c.size()];
  }

  /// The tag of the subscriber whose init()/process() runs innermost for `mgr`
  /// (the manager's "active" subscriber), or -1.
  int active(int mgr) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      if (it->mgr == mgr) return it->tag;
    }
    return -1;
  }
  bool on_stack(int tag) const {
    for (const auto& f : frames_) {
      if (f.tag == tag) return true;
    }
    return false;
  }
  bool in_callback(int mgr) const {
    for (const auto& f : frames_) {
      if (f.mgr == mgr) return true;
    }
    return model_[mgr].in_run;
  }

  std::size_t kernel_entries(int mgr) const { return model_[mgr].kernel.size(); }

  std::optional<em::EventOps> ops_for(int mgr, int tag) {
    if (tag < 0) {
      auto r = mgr == 0 ? m0_.event_ops(em::SubscriberId()) : m1_.event_ops(em::SubscriberId());
      CHECK(!r && r.error() == lib(em::Error::InvalidId));
      return std::nullopt;
    }
    SubModel& s = subs_[tag];
    if (in_.byte() % 2 == 0 && s.ops) return s.ops;  // the handle kept from init()
    auto r = mgr == 0 ? m0_.event_ops(s.id) : m1_.event_ops(s.id);
    if (!s.alive) {
      CHECK(!r && r.error() == lib(em::Error::InvalidId));
      return s.ops;  // the stale handle: every call must give InvalidId
    }
    CHECK(r && r->subscriber_id() == s.id);
    return *r;
  }

  static void expect(const em::Result<void>& got, const std::error_code& want) {
    if (want) {
      CHECK(!got);
      CHECK(got.error() == want);
    } else {
      CHECK(got.has_value());
    }
    ++g_checks;
  }

  // --- Operations ---------------------------------------------------------------------

  void do_op(Frame here, em::EventOps* self, int depth) {
    if (in_.empty()) return;
    const int saved_depth = depth_;
    depth_ = depth;
    const std::uint8_t op = in_.byte();
    TRACE("%*sop %d\n", 2 * depth, "", op % 20);
    switch (op % 20) {
      case 0: case 1: case 2: case 3: op_interest(here, self, op % 4); break;
      case 4: op_create_fd(); break;
      case 5: op_close_fd(); break;
      case 6: op_dup_fd(); break;
      case 7: case 8: op_write_fd(); break;
      case 9: op_read_fd(); break;
      case 10: if (depth_ < kMaxDepth) op_add_subscriber(); break;
      case 11: op_remove_subscriber(); break;
      case 12: op_fire(); break;
      case 13: case 14: op_run(); break;
      case 15: op_kick(); break;
      case 16: op_call_blocking(); break;
      case 17: op_subscriber_mut(); break;
      case 18: op_interest(here, self, 0); break;
      default: op_write_fd(); break;
    }
    refresh_batches();
    depth_ = saved_depth;
  }

  /// add / modify / remove / registered, through the running subscriber's own
  /// ops, a kept handle, or event_ops() of any subscriber (or the null id).
  void op_interest(Frame here, em::EventOps* self, int which) {
    int mgr;
    int tag;
    std::optional<em::EventOps> ops;
    if (self != nullptr && in_.byte() % 4 != 0) {
      mgr = here.mgr;
      tag = here.tag;
      ops = *self;
    } else {
      mgr = in_.byte() % 2;
      tag = pick_sub(mgr);
      ops = ops_for(mgr, tag);
      if (!ops) return;
    }
    const int fd = pick_fd(mgr);
    const std::uint32_t mask = kMasks[in_.byte() % 8];
    const std::uint32_t data = in_.byte() * 0x01010101u;
    const auto events = em::Events::with_data(fd, data, em::EventSet::from_bits(mask));
    TRACE("%*sinterest %d mgr %d tag %d fd %d mask %x data %u\n", 2 * depth_, "", which, mgr, tag, fd, mask, data);
    switch (which) {
      case 0: {
        if (static_cast<int>(kernel_entries(mgr)) >= kMaxKernelEntries) return;
        const auto want = model_add(tag, fd, mask, data);
        expect(ops->add(events), want);
        break;
      }
      case 1: expect(ops->modify(events), model_modify(tag, fd, mask, data)); break;
      case 2: expect(ops->remove(events), model_remove(tag, fd)); break;
      default: {
        auto got = ops->registered(fd);
        const SubModel& s = subs_[tag];
        if (!s.alive) {
          CHECK(!got && got.error() == lib(em::Error::InvalidId));
          break;
        }
        auto it = model_[mgr].table.find(fd);
        if (it == model_[mgr].table.end() || it->second.owner != tag) {
          CHECK(!got && got.error() == lib(em::Error::FdNotRegistered));
        } else {
          CHECK(got && got->fd() == fd && got->data() == it->second.data &&
                got->event_set().bits() == it->second.mask);
        }
        ++g_checks;
      }
    }
  }

  void op_create_fd() {
    if (fds_.size() >= kMaxLiveFds) return;
    const std::uint64_t initial = in_.byte() % 3;
    auto fd = em::EventFd::create(initial);
    CHECK(fd.has_value());
    const int file = next_file_++;
    files_[file] = initial;
    const int n = fd->fd();
    CHECK(!fds_.count(n));
    fds_.emplace(n, Fd{std::move(*fd), file});
  }

  void op_close_fd() {  // without removing it from any manager
    if (fds_.empty()) return;
    auto it = std::next(fds_.begin(), in_.byte() % fds_.size());
    const int file = it->second.file;
    fds_.erase(it);
    for (const auto& [n, f] : fds_) {
      if (f.file == file) return;  // a dup keeps the file open: the kernel keeps its registrations
    }
    for (auto& mm : model_) std::erase_if(mm.kernel, [file](const auto& e) { return e.first.first == file; });
  }

  void op_dup_fd() {
    if (fds_.empty() || fds_.size() >= kMaxLiveFds) return;
    auto it = std::next(fds_.begin(), in_.byte() % fds_.size());
    auto clone = it->second.fd.try_clone();
    CHECK(clone.has_value());
    const int file = it->second.file;
    const int n = clone->fd();
    CHECK(!fds_.count(n));
    fds_.emplace(n, Fd{std::move(*clone), file});
  }

  void op_write_fd() {
    if (fds_.empty()) return;
    auto it = std::next(fds_.begin(), in_.byte() % fds_.size());
    const std::uint64_t value = 1 + in_.byte() % 4;
    CHECK(it->second.fd.write(value).has_value());
    const int file = it->second.file;
    files_[file] += value;
    for (auto& mm : model_) {
      for (auto& [key, e] : mm.kernel) {
        if (key.first == file && (e.mask & kIn) != 0) e.pending = true;
      }
    }
  }

  void op_read_fd() {
    if (fds_.empty()) return;
    auto it = std::next(fds_.begin(), in_.byte() % fds_.size());
    const int file = it->second.file;
    auto got = it->second.fd.read();
    if (files_[file] == 0) {
      CHECK(!got && got.error() == std::errc::resource_unavailable_try_again);
      return;
    }
    CHECK(got && *got == files_[file]);
    files_[file] = 0;
    for (auto& mm : model_) {
      for (auto& [key, e] : mm.kernel) {
        if (key.first == file && (e.mask & kOut) != 0) e.pending = true;
      }
    }
  }

  void op_add_subscriber() {
    if (subs_.size() >= kMaxSubscribers) return;
    const int mgr = in_.byte() % 2;
    const int tag = static_cast<int>(subs_.size());
    subs_.emplace_back();
    subs_.back().mgr = mgr;
    em::SubscriberId id;
    bool threw = false;
    try {
      if (mgr == 0) {
        id = m0_.add_subscriber(ModelSub{tag});
      } else {
        id = m1_.add_subscriber(std::make_unique<DynSub>(tag));
      }
    } catch (const Thrown&) {
      threw = true;
    }
    CHECK(subs_[tag].initialized && subs_[tag].alive);
    ++g_checks;
    if (!threw) {
      CHECK(id == subs_[tag].id);
      return;
    }
    // Rolled back: the subscriber is not kept and every fd it added is unregistered.
    unregister_all(mgr, tag);
    CHECK((mgr == 0 ? m0_.subscriber_mut(subs_[tag].id) != nullptr
                    : m1_.subscriber_mut(subs_[tag].id) != nullptr) == false);
  }

  void op_remove_subscriber() {
    const int mgr = in_.byte() % 2;
    const int tag = pick_sub(mgr);
    const em::SubscriberId id = tag < 0 ? em::SubscriberId() : subs_[tag].id;
    std::error_code want;
    if (tag < 0 || !subs_[tag].alive) {
      want = lib(em::Error::InvalidId);
    } else if (active(mgr) == tag) {
      want = lib(em::Error::Reentrant);
    } else if (on_stack(tag)) {
      return;  // removing a subscriber whose callback is on the stack: a precondition violation
    }
    int got_tag = -1;
    std::error_code got;
    if (mgr == 0) {
      auto r = m0_.remove_subscriber(id);
      if (r) got_tag = r->tag; else got = r.error();
    } else {
      auto r = m1_.remove_subscriber(id);
      if (r) {
        auto* d = dynamic_cast<DynSub*>(r->get());
        CHECK(d != nullptr);
        got_tag = d->tag;
      } else {
        got = r.error();
      }
    }
    CHECK(got == want);
    ++g_checks;
    if (want) return;
    CHECK(got_tag == tag);
    unregister_all(mgr, tag);
    CHECK((mgr == 0 ? m0_.event_ops(id).error() : m1_.event_ops(id).error()) == lib(em::Error::InvalidId));
  }

  /// Every fd of the subscriber is unregistered (DEL errors are ignored) and its id retired.
  void unregister_all(int mgr, int tag) {
    MgrModel& mm = model_[mgr];
    for (auto it = mm.table.begin(); it != mm.table.end();) {
      if (it->second.owner == tag) {
        (void)kernel_ctl(mgr, EPOLL_CTL_DEL, it->first, 0, 0);
        it = mm.table.erase(it);
      } else {
        ++it;
      }
    }
    subs_[tag].alive = false;
  }

  void note_wake(int mgr) {
    MgrModel& mm = model_[mgr];
    if (!mm.wake_pending) {
      mm.wake_pending = true;
      mm.wake_edge = true;
    }
  }

  void op_fire() {
    const int mgr = in_.byte() % 2;
    const int token = next_token_++;
    tokens_[token].mgr = mgr;
    auto guard = std::unique_ptr<TokenGuard>(new TokenGuard{token});
    em::Result<void> r;
    if (mgr == 0) {
      r = m0_.remote_endpoint().fire([g = std::move(guard), token](em::SubscriberOps<ModelSub>& ops) {
        H->on_request(0, token, ops);
      });
    } else {
      r = m1_.remote_endpoint().fire(
          [g = std::move(guard), token](em::SubscriberOps<std::unique_ptr<em::MutEventSubscriber>>& ops) {
            H->on_request(1, token, ops);
          });
    }
    CHECK(r.has_value());
    model_[mgr].channel.push_back(token);
    note_wake(mgr);
    ++g_checks;
  }

  void op_kick() {
    const int mgr = in_.byte() % 2;
    CHECK((mgr == 0 ? m0_.remote_endpoint().kick() : m1_.remote_endpoint().kick()).has_value());
    note_wake(mgr);
    ++g_checks;
  }

  /// Only on the loop thread inside run(): must refuse with WouldDeadlock.
  void op_call_blocking() {
    const int mgr = in_.byte() % 2;
    if (!model_[mgr].in_run) return;  // outside run() it would wait forever, as documented
    const int token = next_token_++;
    tokens_[token].mgr = mgr;
    tokens_[token].refused = true;
    auto guard = std::unique_ptr<TokenGuard>(new TokenGuard{token});
    std::error_code got;
    if (mgr == 0) {
      auto r = m0_.remote_endpoint().call_blocking([g = std::move(guard)](em::SubscriberOps<ModelSub>&) { return 1; });
      CHECK(!r);
      got = r.error();
    } else {
      auto r = m1_.remote_endpoint().call_blocking(
          [g = std::move(guard)](em::SubscriberOps<std::unique_ptr<em::MutEventSubscriber>>&) { return 1; });
      CHECK(!r);
      got = r.error();
    }
    CHECK(got == lib(em::Error::WouldDeadlock));
    CHECK(tokens_[token].destroyed);
    ++g_checks;
  }

  void op_subscriber_mut() {
    const int mgr = in_.byte() % 2;
    const int tag = pick_sub(mgr);
    const em::SubscriberId id = tag < 0 ? em::SubscriberId() : subs_[tag].id;
    const bool alive = tag >= 0 && subs_[tag].alive;
    if (mgr == 0) {
      ModelSub* p = m0_.subscriber_mut(id);
      CHECK((p != nullptr) == alive);
      if (p) CHECK(p->tag == tag);
    } else {
      auto* p = m1_.subscriber_mut(id);
      CHECK((p != nullptr) == alive);
      if (p) CHECK(dynamic_cast<DynSub*>(p->get())->tag == tag);
    }
    ++g_checks;
  }

  void take_all(int mgr) {
    MgrModel& mm = model_[mgr];
    mm.requests_started = true;
    mm.wake_pending = false;
    mm.taken.insert(mm.taken.end(), mm.channel.begin(), mm.channel.end());
    mm.channel.clear();
  }

  void op_run() {
    const int mgr = in_.byte() % 2;
    MgrModel& mm = model_[mgr];
    if (in_callback(mgr)) {
      auto r = mgr == 0 ? m0_.run_with_timeout(0) : m1_.run_with_timeout(0);
      CHECK(!r && r.error() == lib(em::Error::Reentrant));
      ++g_checks;
      return;
    }
    // What the kernel reports now.
    mm.batch.clear();
    for (auto& [key, e] : mm.kernel) {
      const std::uint32_t bits = ready_bits(key.first, e.mask);
      bool reported;
      if (e.mask & kOneShot) {
        reported = e.armed && bits != 0;
        if (reported) e.armed = false;
      } else if (e.mask & kEt) {
        reported = e.pending && bits != 0;
        e.pending = false;
      } else {
        reported = bits != 0;
      }
      if (reported) mm.batch.push_back(BatchItem{key.second, bits, e.serial});
    }
    mm.wake_in_batch = mm.wake_edge;
    mm.wake_edge = false;
    mm.requests_started = false;
    mm.in_run = true;
    refresh_batches();
    em::Result<std::size_t> r = 0;
    bool threw = false;
    try {
      r = mgr == 0 ? m0_.run_with_timeout(0) : m1_.run_with_timeout(0);
    } catch (const Thrown&) {
      threw = true;
    }
    mm.in_run = false;
    g_checks += 3;
    if (threw) {
      // The rest of the batch is dropped; a wake-up seen in it, or the
      // requests behind a throwing one, are owed to the next run().
      TRACE("run of mgr %d threw\n", mgr);
      if (mm.wake_in_batch || mm.requests_started) {
        // Owed, and signalled: the library writes its wake-up eventfd so that
        // epoll_fd() is readable, and the next run() sees that edge.
        mm.wake_owed = true;
        mm.wake_edge = true;
      }
      mm.batch.clear();
      return;
    }
    CHECK(r.has_value());
    CHECK(*r == mm.batch.size() + (mm.wake_in_batch ? 1 : 0));
    for (const auto& b : mm.batch) CHECK(b.delivered || b.ever_undeliverable);
    if (mm.wake_in_batch || mm.wake_owed) {
      if (!mm.requests_started) take_all(mgr);
      CHECK(mm.taken.empty());  // every request taken by this run ran
      mm.wake_owed = false;
    } else {
      CHECK(!mm.requests_started);
    }
    mm.batch.clear();
  }

  struct Fd {
    em::EventFd fd;
    int file;
  };

  Input in_;
  std::set<int> fds_before_;
  M0 m0_;
  M1 m1_;
  int devnull_ = -1;
  int closed_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  MgrModel model_[2];
  std::vector<SubModel> subs_;
  std::map<int, Fd> fds_;                 // open eventfd descriptors by number
  std::map<int, std::uint64_t> files_;    // eventfd counters by file id
  int next_file_ = 0;
  std::uint64_t serial_ = 0;
  std::map<int, TokenState> tokens_;
  int next_token_ = 0;
  std::vector<Frame> frames_;
  int depth_ = 0;

  friend struct TokenGuard;
};

TokenGuard::~TokenGuard() { H->on_token_destroyed(id); }

void ModelSub::init(em::EventOps& ops) { H->on_init(tag, ops); }
void ModelSub::process(em::Events ev, em::EventOps& ops) { H->on_process(tag, ev, ops); }
void DynSub::init(em::EventOps& ops) { H->on_init(tag, ops); }
void DynSub::process(em::Events ev, em::EventOps& ops) { H->on_process(tag, ev, ops); }

int count_open_fds() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (const dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n;
}

void report() { std::fprintf(stderr, "model checks passed: %llu\n", static_cast<unsigned long long>(g_checks)); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool registered = (std::atexit(report), true);
  (void)registered;
  const int fds_before = count_open_fds();
  {
    Harness harness(Input{data, size});
    H = &harness;
    harness.run();
    harness.finish();
    H = nullptr;
  }
  CHECK(count_open_fds() == fds_before);  // every fd closed: ours, and the managers'
  return 0;
}
