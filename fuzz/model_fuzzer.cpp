// Model-based fuzzer: the input is a sequence of operations on two managers
// (EventManager<ModelSub> holding subscribers by value and
// EventManager<std::unique_ptr<MutEventSubscriber>> holding them
// dynamically), on eventfds, and on remote endpoints. Every return value and
// every callback is checked against a plain reference model of what API.md
// promises; any divergence aborts.
//
// The model keeps, per manager:
//  - the manager's table: fd number -> owner, data, registered mask (what
//    registered() must answer), the mask the kernel was given (a muted or
//    paused fd holds a quiet one-shot mask with no event bits), whether
//    resume() owes a one-shot re-arm, and the registration's key (generation
//    << 32 | fd, the generation counted per fd number);
//  - the kernel's interest list: (open file, fd number) -> mask, armed,
//    edge pending, key. It is what makes close-without-remove, dup()ed
//    descriptors and reused fd numbers predictable: epoll forgets a pair only
//    when the file's last descriptor closes;
//  - the request channel: queued tokens and whether a wake-up edge is pending;
//  - the injection queue (v4): fd, key, ready set and owner of each inject();
//  - the timers (v4): owner, data, armed, deadline, period and arming
//    sequence of each, the deadline the kernel timer holds, and whether a
//    timer was due when it was programmed.
// From these it predicts exactly what epoll reports on the next run (eventfds:
// `in` while the counter is > 0, `out` always; level-triggered registrations
// every run, one-shot ones once until re-armed, edge-triggered ones once per
// edge, muted and paused ones never; the wake-up eventfd after a new write;
// the timerfd while it holds a past deadline), and checks it against the
// batch the kernel actually returned. The one thing the model cannot know is
// the kernel's order within a batch: it reads it from the manager's ready
// buffer (detail::TestAccess below) and then replays the dispatch step
// exactly - which event is delivered with which data and bits, which is
// dropped (and records a dropped one-shot event for resume()), the injections
// delivered first in order (held while paused, dropped once their fd or
// subscriber is gone), the timers due after the fd events in deadline order
// (ties in arming order, never one armed during the same run, a paused
// subscriber's deferred), requests last - and the count run() returns.
//
// Time is made exact by arming timers only far in the future (an hour ahead,
// 2^62 ns periods, or saturated: never due while an input runs) or in the
// past (absolute 0, 1, 2 ns or INT64_MIN, or relative 0 or duration::min()):
// due at the next run. Relative deadlines are known to lie between the clock
// readings around the call, and are ordered by arming order.
//
// Reentrant calls are part of the input: init(), process() and requests add,
// modify, remove, mute and inject fds, add, arm, disarm and remove timers,
// add, remove, pause and resume subscribers, fire requests, call run()
// (Reentrant), call_blocking() (WouldDeadlock) and remove themselves
// (Reentrant).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <event_manager/event_manager.hpp>

namespace event_manager::detail {
/// The fuzzer's one look inside: the kernel's batch as the last wait left it
/// in the ready buffer. The model predicts the batch's content; only its
/// order, which epoll does not define, is taken from here.
struct TestAccess {
  template <class S>
  static const ::epoll_event* ready_events(EventManager<S>& manager) {
    return manager.core_->ready_events();
  }
};
}  // namespace event_manager::detail

namespace em = event_manager;

namespace {

void divergence(const char* what, int line) {
  std::fprintf(stderr, "model divergence at model_fuzzer.cpp:%d: %s\n", line, what);
  std::abort();
}
#define CHECK(cond)                           \
  do {                                        \
    if (!(cond)) divergence(#cond, __LINE__); \
  } while (0)

using std::chrono::nanoseconds;
constexpr std::int64_t kMax64 = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin64 = std::numeric_limits<std::int64_t>::min();

constexpr std::uint32_t kIn = EPOLLIN;
constexpr std::uint32_t kOut = EPOLLOUT;
constexpr std::uint32_t kEt = EPOLLET;
constexpr std::uint32_t kOneShot = EPOLLONESHOT;
constexpr std::uint32_t kAlways = EPOLLERR | EPOLLHUP;
constexpr std::uint32_t kTimerBit = 1u << 26;  // EventSet::timer: add()/modify() give EINVAL
// The kernel mask of a muted or paused registration: one-shot, no event bits.
constexpr std::uint32_t kQuiet = EPOLLONESHOT;
constexpr std::uint32_t kInjectable = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP;
// 0 mutes (v4). The first eight are the v3 encoding that the seeds use.
constexpr std::uint32_t kMasks[] = {
    0, kIn,       kOut,           kIn | kOut,      kIn | kEt,  kIn | kOneShot, kIn | kOut | kEt,     kIn,
    0, kIn | kEt, kIn | kOneShot, kIn | kTimerBit, kOut | kEt, kIn | kOut,     kIn | kOneShot | kEt, kIn};
// The last three are refused with EINVAL.
constexpr std::uint32_t kInjectSets[] = {kIn, kOut, kIn | kOut,    EPOLLERR | EPOLLHUP, EPOLLRDHUP | EPOLLPRI,
                                         0,   kEt,  kIn | kOneShot};
constexpr std::int64_t kHour = 3'600'000'000'000;
constexpr std::int64_t kFarPeriod = std::int64_t{1} << 62;  // ~146 years: a periodic timer fires once per input
// Periods: one-shot, far, saturated, and negative ones (EINVAL).
constexpr std::int64_t kPeriods[] = {0, 0, 0, kFarPeriod, kMax64, -1, kMin64, kFarPeriod};
constexpr int kMaxLiveFds = 64;
constexpr int kMaxSubscribers = 48;
constexpr int kMaxKernelEntries = 200;  // with the wake-up and the timerfd, below the ready capacity (256)
constexpr int kMaxTimers = 64;          // per manager
constexpr int kMaxInjections = 200;     // queued per manager
constexpr int kMaxOps = 3000;
constexpr int kMaxDepth = 3;

std::uint64_t g_checks = 0;  // model checks passed (printed at exit)
struct Stats {
  std::uint64_t expiries = 0, injections = 0, pauses = 0, resumes = 0, mutes = 0;
  std::uint64_t timerfd_waits = 0, timerfd_waits_relied = 0;
} g_stats;
const bool g_trace = std::getenv("MODEL_TRACE") != nullptr;  // prints every operation
#define TRACE(...)                                  \
  do {                                              \
    if (g_trace) std::fprintf(stderr, __VA_ARGS__); \
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
// The argument checks of the library itself (not a syscall's errno): the generic category.
std::error_code einval() { return std::make_error_code(std::errc::invalid_argument); }
std::int64_t clock_ns() { return em::TimerClock::now().time_since_epoch().count(); }
std::int64_t sat_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kMax64 : kMin64;
  return sum;
}
em::EventSet set_of(std::uint32_t mask) {
  em::EventSet set = em::EventSet::from_bits(mask);
  if (mask & kTimerBit) set |= em::EventSet::timer;
  return set;
}

// --- The model -------------------------------------------------------------------

struct KernelEntry {
  std::uint32_t mask = 0;
  bool armed = true;     // one-shot
  bool pending = false;  // edge-triggered: an edge not yet reported
  std::uint64_t key = 0;
};

struct TableEntry {
  int owner = -1;  // subscriber tag
  std::uint32_t data = 0;
  std::uint32_t registered = 0;  // 0: muted
  std::uint32_t kernel = 0;      // the mask the manager gave the kernel
  bool rearm = false;            // resume() re-arms this one-shot registration
  std::uint64_t key = 0;
  std::uint64_t order = 0;  // when added: a subscriber's fds are re-armed newest first
};

/// A timer deadline as far as the model knows it. Past ones are due at the
/// next run; future ones never while an input runs.
struct Deadline {
  enum Kind { past_abs, past_rel, future } kind = future;
  std::int64_t lo = kMax64;  // bounds of the library's value
  std::int64_t hi = kMax64;
  std::uint64_t instance = 0;  // past_rel: the arm call that read the clock
  bool past() const { return kind != future; }
  /// Whether the library's two values are equal, for past ones: exact for
  /// absolute deadlines; two clock readings are never equal (calls are more
  /// than a nanosecond apart).
  bool same_past(const Deadline& o) const {
    if (kind != o.kind) return false;
    return kind == past_abs ? lo == o.lo : kind == past_rel && instance == o.instance;
  }
  /// Deadline order, ties in arming order: past_abs values are 0..2 or
  /// INT64_MIN, past_rel ones lie near the clock (or 2^63 below it) and follow
  /// arming order, so (lo, arming sequence) orders them as the library does.
  /// Future ones come after every past one (their lower bound may be near the clock).
  static bool before(const Deadline& a, std::uint64_t seq_a, const Deadline& b, std::uint64_t seq_b) {
    if (a.past() != b.past()) return a.past();
    return a.lo < b.lo || (a.lo == b.lo && seq_a < seq_b);
  }
};

struct TimerModel {
  em::TimerId id;
  int owner = -1;
  std::uint32_t data = 0;
  bool alive = true;
  bool armed = false;
  Deadline deadline;
  std::int64_t period = 0;
  std::uint64_t seq = 0;  // arming sequence
};

struct Injection {
  int fd;
  std::uint64_t key;
  std::uint32_t ready;
  int owner;
};

enum class Phase { inject, batch, timers, requests };

struct MgrModel {
  std::map<std::pair<int, int>, KernelEntry> kernel;  // (file, fd number)
  std::map<int, TableEntry> table;
  std::map<int, std::uint32_t> generation;  // the last generation issued per fd number
  std::vector<int> channel;                 // tokens queued, not yet taken
  std::vector<int> taken;                   // tokens taken by the run in progress, not yet run
  bool wake_pending = false;                // the channel's coalescing flag
  bool wake_edge = false;                   // the wake-up eventfd was written since the last wait
  bool wake_owed = false;                   // a run() that threw left requests to the next run()
  std::uint64_t wake_key = 0;
  std::vector<Injection> injections;
  // Timers.
  int timer_fd = -1;  // opened by the first add_timer()
  std::uint64_t timer_key = 0;
  std::vector<TimerModel> timers;
  std::set<std::uint64_t> timer_ids;
  std::uint64_t arm_seq = 1;  // the sequence the next arm takes
  Deadline programmed;        // what the kernel timer holds
  bool due_now = false;       // programmed with a due deadline, not dispatched since
  bool timer_event = false;   // the timerfd was reported and no dispatch followed yet
  // The run in progress.
  bool in_run = false;
  Phase phase = Phase::inject;
  std::size_t inj_cursor = 0;  // injections [0, inj_cursor) are held
  std::size_t inj_limit = 0;   // injections [inj_limit, end) were queued during this run
  std::vector<::epoll_event> batch;
  std::size_t cursor = 0;  // batch events [0, cursor) are dispatched or dropped
  bool wake_in_batch = false;
  bool requests_started = false;
  bool dispatching = false;  // this run dispatches timers
  std::size_t injected = 0;
  std::size_t expired = 0;
  std::uint64_t mark = 0;  // arm_seq at the run's start
  std::int64_t run_start = 0;
  std::set<int> paused_at_start;
  std::set<std::uint64_t> issued_ids;
};

struct SubModel {
  int mgr = 0;
  bool alive = false;
  bool initialized = false;
  bool paused = false;
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
using Ops0 = em::SubscriberOps<ModelSub>;
using Ops1 = em::SubscriberOps<std::unique_ptr<em::MutEventSubscriber>>;

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
    for (int m = 0; m < 2; ++m) {
      // The wake-up's registration is generation 1 of its number.
      model_[m].generation[wake_fd_[m]] = 1;
      model_[m].wake_key = (std::uint64_t{1} << 32) | static_cast<std::uint32_t>(wake_fd_[m]);
    }
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
    {
      auto gone = std::move(m0_);
    }
    {
      auto gone = std::move(m1_);
    }
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
    const int mgr = s.mgr;
    MgrModel& mm = model_[mgr];
    CHECK(mm.in_run);
    CHECK(s.alive);
    CHECK(!s.paused);  // a paused subscriber gets nothing
    CHECK(ops.subscriber_id() == s.id);
    if (ev.is_timer()) {
      // Timers: after the batch's fd events, before requests.
      CHECK(mm.phase <= Phase::timers);
      enter_phase(mgr, Phase::timers);
      CHECK(mm.dispatching);
      TimerModel* t = next_due_timer(mgr);
      CHECK(t != nullptr);
      CHECK(t->owner == tag);
      CHECK(ev.fd() == -1 && ev.data() == t->data && ev.event_set() == em::EventSet::timer);
      // Disarmed (one-shot) or moved past now (periodic) before process() runs.
      if (t->period == 0) {
        t->armed = false;
      } else {
        t->deadline = Deadline{Deadline::future, sat_add(mm.run_start, 1), sat_add(clock_ns(), t->period), 0};
      }
      ++mm.expired;
      ++g_stats.expiries;
      g_checks += 4;
      TRACE("%*stimer tag %d data %u\n", 2 * depth_, "", tag, ev.data());
    } else if (const Injection* inj = mm.phase == Phase::inject ? next_injection(mgr) : nullptr) {
      // Injections: first, in order, with the data registered at delivery.
      CHECK(inj->owner == tag);
      CHECK(ev.fd() == inj->fd);
      CHECK(ev.data() == mm.table.at(inj->fd).data);
      CHECK(ev.event_set().bits() == inj->ready);
      mm.injections.erase(mm.injections.begin() + static_cast<std::ptrdiff_t>(mm.inj_cursor));
      --mm.inj_limit;
      ++mm.injected;
      ++g_stats.injections;
      g_checks += 4;
      TRACE("%*sinjected tag %d fd %d bits %x\n", 2 * depth_, "", tag, ev.fd(), ev.event_set().bits());
    } else {
      CHECK(mm.phase <= Phase::batch);
      enter_phase(mgr, Phase::batch);
      const ::epoll_event* item = advance_batch(mgr);
      CHECK(item != nullptr);  // the next deliverable event of the kernel's batch
      CHECK(ev.fd() == static_cast<int>(static_cast<std::uint32_t>(item->data.u64)));
      const TableEntry& te = mm.table.at(ev.fd());
      CHECK(te.owner == tag);
      CHECK(ev.data() == te.data);
      CHECK(ev.event_set().bits() == (item->events & interest(te)));
      ++mm.cursor;
      g_checks += 5;
      TRACE("%*sprocess tag %d fd %d data %u bits %x\n", 2 * depth_, "", tag, ev.fd(), ev.data(),
            ev.event_set().bits());
    }
    FramePush frame(frames_, Frame{mgr, tag});
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
    enter_phase(mgr, Phase::requests);
    if (!mm.requests_started) take_all(mgr);
    CHECK(!mm.taken.empty());
    CHECK(mm.taken.front() == token);  // in order, exactly once
    mm.taken.erase(mm.taken.begin());
    TokenState& t = tokens_[token];
    CHECK(!t.ran && !t.destroyed);
    t.ran = true;
    ++g_checks;
    // pause()/resume()/paused() may go through the request's SubscriberOps.
    struct OpsScope {
      void** slot;
      void* saved;
      ~OpsScope() { *slot = saved; }
    } scope{&request_ops_[mgr], request_ops_[mgr]};
    request_ops_[mgr] = &sops;
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

  enum class Kind { closed, eventfd, devnull, epoll_self, timerfd };

  Kind kind_of(int mgr, int fd, int* file) const {
    if (auto it = fds_.find(fd); it != fds_.end()) {
      *file = it->second.file;
      return Kind::eventfd;
    }
    if (fd == devnull_) return Kind::devnull;
    if (fd == epoll_fd(mgr)) return Kind::epoll_self;
    for (int m = 0; m < 2; ++m) {
      if (fd == model_[m].timer_fd) {
        *file = -1 - m;
        return Kind::timerfd;
      }
    }
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
  /// A manager's timerfd: the other manager's must never reach the kernel
  /// through add(), whose readiness the model does not follow for foreign files.
  bool is_foreign_timer_fd(int mgr, int fd) const { return fd >= 0 && fd == model_[1 - mgr].timer_fd; }

  std::uint32_t ready_bits(int file, std::uint32_t mask) const {
    const std::uint32_t ready = (files_.at(file) > 0 ? kIn : 0u) | kOut;
    return ready & (mask | kAlways);
  }

  /// epoll_ctl as the kernel answers it (0 or an errno).
  int kernel_ctl(int mgr, int op, int fd, std::uint32_t mask, std::uint64_t key) {
    int file = -1;
    switch (kind_of(mgr, fd, &file)) {
      case Kind::closed: return EBADF;
      case Kind::devnull: return EPERM;
      case Kind::epoll_self: return EINVAL;
      case Kind::timerfd:
        CHECK(op != EPOLL_CTL_ADD);  // op_interest never adds a timerfd (see is_foreign_timer_fd)
        return ENOENT;               // a number the other manager's timerfd took: not in this epoll set
      case Kind::eventfd: break;
    }
    auto& kernel = model_[mgr].kernel;
    auto it = kernel.find({file, fd});
    switch (op) {
      case EPOLL_CTL_ADD:
        if (it != kernel.end()) return EEXIST;
        kernel[{file, fd}] = KernelEntry{mask, true, ready_bits(file, mask) != 0, key};
        return 0;
      case EPOLL_CTL_MOD:
        if (it == kernel.end()) return ENOENT;
        it->second.mask = mask;
        it->second.armed = true;
        it->second.pending = it->second.pending || ready_bits(file, mask) != 0;  // MOD re-checks readiness
        it->second.key = key;
        return 0;
      default:
        if (it == kernel.end()) return ENOENT;
        kernel.erase(it);
        return 0;
    }
  }

  /// What dispatch may deliver of an entry: nothing while muted or paused.
  std::uint32_t interest(const TableEntry& e) const {
    if (subs_[e.owner].paused || e.registered == 0) return 0;
    return e.registered | kAlways;
  }

  /// The manager gives the kernel `mask` for its entry (ADD, MOD or DEL).
  int set_kernel(int mgr, int fd, TableEntry& e, std::uint32_t mask) {
    int r = 0;
    if (mask == 0) {
      if (e.kernel != 0) r = kernel_ctl(mgr, EPOLL_CTL_DEL, fd, 0, 0);
    } else {
      r = kernel_ctl(mgr, e.kernel == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, mask, e.key);
    }
    if (r != 0) return r;
    e.kernel = mask;
    e.rearm = false;
    return 0;
  }

  // --- Expected results of the interest-list operations -------------------------

  std::error_code model_add(int tag, int fd, std::uint32_t mask, std::uint32_t data) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    if (mm.table.count(fd)) return lib(em::Error::FdAlreadyRegistered);
    // The manager's own fds (the wake-up eventfd, the timerfd) hold their
    // table entries: adding their numbers (stale ints that the manager's fds
    // now reuse) must not take them over.
    if (fd == wake_fd_[s.mgr] || fd == mm.timer_fd) return lib(em::Error::FdAlreadyRegistered);
    if (mask & kTimerBit) return einval();
    const std::uint32_t kernel_mask = mask == 0 || s.paused ? kQuiet : mask;
    const std::uint32_t generation = mm.generation[fd] + 1;
    const std::uint64_t key = (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
    int r = kernel_ctl(s.mgr, EPOLL_CTL_ADD, fd, kernel_mask, key);
    if (r == EEXIST) r = kernel_ctl(s.mgr, EPOLL_CTL_MOD, fd, kernel_mask, key);  // takes a leftover over
    if (r != 0) return sys(r);
    mm.generation[fd] = generation;
    mm.table[fd] = TableEntry{tag, data, mask, kernel_mask, false, key, ++order_};
    if (mask == 0) ++g_stats.mutes;
    return {};
  }

  std::error_code model_modify(int tag, int fd, std::uint32_t mask, std::uint32_t data) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    auto it = mm.table.find(fd);
    if (it == mm.table.end() || it->second.owner != tag) return lib(em::Error::FdNotRegistered);
    if (mask & kTimerBit) return einval();
    TableEntry& e = it->second;
    if (mask == 0) ++g_stats.mutes;
    if (s.paused) {
      // Recorded; the kernel gets it at resume(), which re-arms a one-shot one.
      e.registered = mask;
      e.data = data;
      if (mask & kOneShot) e.rearm = true;
      return {};
    }
    const std::uint32_t kernel_mask = mask != 0 ? mask : (e.kernel == 0 ? 0 : kQuiet);
    // An unchanged level-triggered mask (or staying muted) makes no syscall;
    // one-shot and edge-triggered ones always reach the kernel (API.md v4).
    const bool unchanged = mask == e.registered && kernel_mask == e.kernel;
    if (!unchanged || (mask & (kOneShot | kEt)) != 0) {
      if (int r = set_kernel(s.mgr, fd, e, kernel_mask); r != 0) return sys(r);
      e.registered = mask;
    }
    e.data = data;
    return {};
  }

  std::error_code model_remove(int tag, int fd) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    auto it = mm.table.find(fd);
    if (it == mm.table.end() || it->second.owner != tag) return lib(em::Error::FdNotRegistered);
    const int r = it->second.kernel != 0 ? kernel_ctl(s.mgr, EPOLL_CTL_DEL, fd, 0, 0) : 0;
    if (r != 0 && r != EBADF && r != ENOENT) return sys(r);
    mm.table.erase(it);
    return {};
  }

  /// Queued injections whose subscriber is alive and not paused.
  std::size_t deliverable_injections(int mgr) const {
    std::size_t n = 0;
    for (const auto& inj : model_[mgr].injections) n += subs_[inj.owner].alive && !subs_[inj.owner].paused;
    return n;
  }

  std::error_code model_inject(int tag, int fd, std::uint32_t ready) {
    SubModel& s = subs_[tag];
    if (!s.alive) return lib(em::Error::InvalidId);
    MgrModel& mm = model_[s.mgr];
    auto it = mm.table.find(fd);
    if (it == mm.table.end() || it->second.owner != tag) return lib(em::Error::FdNotRegistered);
    if (ready == 0 || (ready & ~kInjectable) != 0) return einval();
    // The first deliverable injection makes epoll_fd() readable: a wake-up
    // write (during a run, the run's end writes it).
    if (!s.paused && deliverable_injections(s.mgr) == 0 && !mm.in_run) mm.wake_edge = true;
    mm.injections.push_back(Injection{fd, it->second.key, ready, tag});
    return {};
  }

  // --- Pausing --------------------------------------------------------------------

  /// The fds of `tag`, newest first (the order resume() re-arms them in).
  std::vector<int> fds_of(int mgr, int tag) const {
    std::vector<std::pair<std::uint64_t, int>> order;
    for (const auto& [fd, e] : model_[mgr].table) {
      if (e.owner == tag) order.emplace_back(e.order, fd);
    }
    std::sort(order.rbegin(), order.rend());
    std::vector<int> out;
    for (const auto& [o, fd] : order) out.push_back(fd);
    return out;
  }

  std::error_code model_pause(int mgr, int tag) {
    if (tag < 0 || !subs_[tag].alive) return lib(em::Error::InvalidId);
    SubModel& s = subs_[tag];
    if (s.paused) return {};
    s.paused = true;
    ++g_stats.pauses;
    if (!model_[mgr].in_run) program_timer(mgr);
    for (int fd : fds_of(mgr, tag)) {
      TableEntry& e = model_[mgr].table.at(fd);
      // Quieted, unless muted already or one-shot (it fires at most once; a
      // dropped event of it is recorded for resume()). A refusal leaves it armed.
      if (e.registered == 0 || (e.registered & kOneShot) != 0 || e.kernel == kQuiet) continue;
      (void)set_kernel(mgr, fd, e, kQuiet);
    }
    // Outside a run, a wake-up edge that nothing needs any more (it was written
    // for this subscriber's due timer or injection) is withdrawn; an endpoint's
    // outstanding wake-up is given back.
    MgrModel& mm = model_[mgr];
    if (!mm.in_run && !mm.wake_owed && deliverable_injections(mgr) == 0 && !mm.due_now) {
      mm.wake_edge = mm.wake_pending;
    }
    return {};
  }

  std::error_code model_resume(int mgr, int tag) {
    if (tag < 0 || !subs_[tag].alive) return lib(em::Error::InvalidId);
    SubModel& s = subs_[tag];
    if (!s.paused) return {};
    s.paused = false;
    ++g_stats.resumes;
    MgrModel& mm = model_[mgr];
    if (!mm.in_run) program_timer(mgr);
    std::size_t own = 0;
    for (const auto& inj : mm.injections) own += inj.owner == tag;
    if (own != 0 && deliverable_injections(mgr) == own && !mm.in_run) mm.wake_edge = true;
    std::error_code first_error;
    for (int fd : fds_of(mgr, tag)) {
      TableEntry& e = mm.table.at(fd);
      if (e.registered == 0) {
        const std::uint32_t mask = e.kernel == 0 ? 0 : kQuiet;
        if (e.kernel != mask) (void)set_kernel(mgr, fd, e, mask);
        continue;
      }
      if (e.kernel == e.registered && !e.rearm) continue;
      if (int r = set_kernel(mgr, fd, e, e.registered); r != 0 && !first_error) first_error = sys(r);
    }
    return first_error;
  }

  // --- Timers -------------------------------------------------------------------------

  /// The earliest deadline of the armed timers of subscribers not paused.
  Deadline earliest(int mgr) const {
    const TimerModel* best = nullptr;
    for (const auto& t : model_[mgr].timers) {
      if (!t.alive || !t.armed || subs_[t.owner].paused) continue;
      if (best == nullptr || Deadline::before(t.deadline, t.seq, best->deadline, best->seq)) best = &t;
    }
    return best != nullptr ? best->deadline : Deadline{};
  }

  /// The kernel timer is given the earliest deadline when it changed; a due
  /// one makes the next run dispatch and writes the wake-up eventfd.
  void program_timer(int mgr) {
    MgrModel& mm = model_[mgr];
    if (mm.timer_fd < 0) return;
    const Deadline e = earliest(mgr);
    // Two future deadlines differ only in ways nobody can observe here.
    if (e.past() ? mm.programmed.same_past(e) : !mm.programmed.past()) return;
    mm.programmed = e;
    mm.due_now = e.past();  // recomputed at every change, as the library does
    if (e.past()) mm.wake_edge = true;
  }

  /// The timer the library must dispatch next in this run: due, armed before
  /// the run, its subscriber not paused; the first in deadline order.
  TimerModel* next_due_timer(int mgr) {
    MgrModel& mm = model_[mgr];
    TimerModel* best = nullptr;
    for (auto& t : mm.timers) {
      if (!t.alive || !t.armed || !t.deadline.past() || t.seq >= mm.mark || subs_[t.owner].paused) continue;
      if (best == nullptr || Deadline::before(t.deadline, t.seq, best->deadline, best->seq)) best = &t;
    }
    return best;
  }

  TimerModel* find_timer(int mgr, int tag, em::TimerId id) {
    for (auto& t : model_[mgr].timers) {
      if (t.alive && t.id == id && t.owner == tag) return &t;
    }
    return nullptr;
  }

  /// A timer id of either manager (ids of one may name timers of the other) or the null id.
  em::TimerId pick_timer(int mgr) {
    std::vector<em::TimerId> c;
    for (const auto& t : model_[mgr].timers) c.push_back(t.id);
    for (const auto& t : model_[1 - mgr].timers) c.push_back(t.id);
    c.push_back(em::TimerId());
    return c[in_.byte() % c.size()];
  }

  /// The checks every timer call makes first: InvalidId, TimerNotRegistered.
  std::error_code timer_check(int mgr, int tag, em::TimerId id, TimerModel** t) {
    if (tag < 0 || !subs_[tag].alive) return lib(em::Error::InvalidId);
    *t = find_timer(mgr, tag, id);
    if (*t == nullptr) return lib(em::Error::TimerNotRegistered);
    return {};
  }

  // --- The run -------------------------------------------------------------------------

  /// The next injection queued before the run that the library delivers now;
  /// on the way, held ones (paused) keep their place and dropped ones (fd or
  /// subscriber gone) leave the queue.
  const Injection* next_injection(int mgr) {
    MgrModel& mm = model_[mgr];
    while (mm.inj_cursor < mm.inj_limit) {
      const Injection& inj = mm.injections[mm.inj_cursor];
      const SubModel& owner = subs_[inj.owner];
      if (owner.alive && owner.paused) {
        ++mm.inj_cursor;
        continue;
      }
      auto it = mm.table.find(inj.fd);
      if (owner.alive && it != mm.table.end() && it->second.owner == inj.owner && it->second.key == inj.key) {
        return &inj;
      }
      mm.injections.erase(mm.injections.begin() + static_cast<std::ptrdiff_t>(mm.inj_cursor));
      --mm.inj_limit;
    }
    return nullptr;
  }

  /// The wait: what the kernel reports now, checked against the batch the
  /// library received (its order is the kernel's).
  void take_batch(int mgr) {
    MgrModel& mm = model_[mgr];
    std::vector<std::pair<std::uint64_t, std::uint32_t>> want;
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
      if (reported) want.emplace_back(e.key, bits);
    }
    mm.wake_in_batch = mm.wake_edge;
    mm.wake_edge = false;
    if (mm.wake_in_batch) want.emplace_back(mm.wake_key, kIn);
    // Level-triggered and never read: readable from the expiry of a past
    // deadline until the next timerfd_settime (op_run waited for the expiry).
    if (mm.timer_fd >= 0 && mm.programmed.past()) want.emplace_back(mm.timer_key, kIn);
    const ::epoll_event* ready =
        mgr == 0 ? em::detail::TestAccess::ready_events(m0_) : em::detail::TestAccess::ready_events(m1_);
    mm.batch.assign(ready, ready + want.size());
    std::vector<std::pair<std::uint64_t, std::uint32_t>> got;
    for (const auto& e : mm.batch)
      got.emplace_back(std::uint64_t{e.data.u64}, std::uint32_t{e.events});  // copies: epoll_event is packed
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    CHECK(got == want);  // exactly the events the model predicts (the count is checked when run() returns)
    mm.cursor = 0;
    g_checks += want.size() + 1;
  }

  /// A batch event the library does not deliver: a dropped one-shot event of a
  /// current registration is re-armed by resume(); the timerfd means "timers due".
  void dropped(int mgr, std::uint64_t key) {
    MgrModel& mm = model_[mgr];
    if (mm.timer_key != 0 && key == mm.timer_key) {
      mm.timer_event = true;
      return;
    }
    auto it = mm.table.find(static_cast<int>(static_cast<std::uint32_t>(key)));
    if (it != mm.table.end() && it->second.key == key && (it->second.registered & kOneShot) != 0) {
      it->second.rearm = true;
    }
  }

  /// Replays the dispatch step up to the next event it delivers (nullptr: none left).
  const ::epoll_event* advance_batch(int mgr) {
    MgrModel& mm = model_[mgr];
    while (mm.cursor < mm.batch.size()) {
      const ::epoll_event& e = mm.batch[mm.cursor];
      const int fd = static_cast<int>(static_cast<std::uint32_t>(e.data.u64));
      auto it = mm.table.find(fd);
      if (it != mm.table.end() && it->second.key == e.data.u64 && (e.events & interest(it->second)) != 0) return &e;
      if (fd != wake_fd_[mgr]) dropped(mgr, e.data.u64);
      ++mm.cursor;
    }
    return nullptr;
  }

  /// Moves the run in progress to `target`, checking that nothing the library
  /// owed the phases in between was left out.
  void enter_phase(int mgr, Phase target) {
    MgrModel& mm = model_[mgr];
    if (mm.phase == Phase::inject && target > Phase::inject) {
      CHECK(next_injection(mgr) == nullptr);  // every deliverable injection came first
      mm.inj_cursor = mm.inj_limit = 0;
      take_batch(mgr);
      mm.phase = Phase::batch;
    }
    if (mm.phase == Phase::batch && target > Phase::batch) {
      CHECK(advance_batch(mgr) == nullptr);  // every deliverable event was delivered
      const bool pending = mm.timer_event || mm.due_now;
      // API: a timer due when the run started (and not paused since) fires in it.
      bool owed = false;
      for (const auto& t : mm.timers) {
        owed = owed || (t.alive && t.armed && t.deadline.past() && t.seq < mm.mark && !subs_[t.owner].paused &&
                        !mm.paused_at_start.count(t.owner));
      }
      CHECK(pending || !owed);
      if (pending) {
        mm.timer_event = mm.due_now = false;
        mm.dispatching = true;
      }
      mm.phase = Phase::timers;
    }
    if (mm.phase == Phase::timers && target > Phase::timers) {
      if (mm.dispatching) CHECK(next_due_timer(mgr) == nullptr);  // every due timer fired
      mm.phase = Phase::requests;
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
    if (model_[mgr].timer_fd >= 0) c.push_back(model_[mgr].timer_fd);
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

  /// The EventOps an operation goes through: the running subscriber's own, a
  /// kept handle, or event_ops() of any subscriber (or the null id).
  struct Picked {
    int mgr = 0;
    int tag = -1;
    std::optional<em::EventOps> ops;
  };
  bool pick_ops(Frame here, em::EventOps* self, Picked* p) {
    if (self != nullptr && in_.byte() % 4 != 0) {
      p->mgr = here.mgr;
      p->tag = here.tag;
      p->ops = *self;
      return true;
    }
    p->mgr = in_.byte() % 2;
    p->tag = pick_sub(p->mgr);
    p->ops = ops_for(p->mgr, p->tag);
    return p->ops.has_value();
  }

  static void expect(const em::Result<void>& got, const std::error_code& want) {
    if (want) {
      CHECK(!got);
      if (got.error() != want) TRACE("got %s, want %s\n", got.error().message().c_str(), want.message().c_str());
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
    TRACE("%*sop %d\n", 2 * depth, "", op % 32);
    switch (op % 32) {
      case 0:
      case 1:
      case 2:
      case 3: op_interest(here, self, op % 4); break;
      case 4: op_create_fd(); break;
      case 5: op_close_fd(); break;
      case 6: op_dup_fd(); break;
      case 7:
      case 8:
      case 19: op_write_fd(); break;
      case 9: op_read_fd(); break;
      case 10:
        if (depth_ < kMaxDepth) op_add_subscriber();
        break;
      case 11: op_remove_subscriber(); break;
      case 12: op_fire(); break;
      case 13:
      case 14: op_run(); break;
      case 15: op_kick(); break;
      case 16: op_call_blocking(); break;
      case 17: op_subscriber_mut(); break;
      case 18: op_interest(here, self, 0); break;
      case 20:
      case 21: op_inject(here, self); break;
      case 22: op_add_timer(here, self); break;
      case 23:
      case 24: op_arm_timer(here, self); break;
      case 25: op_disarm_timer(here, self, false); break;
      case 26: op_disarm_timer(here, self, true); break;
      case 27: op_timer_deadline(here, self); break;
      case 28:
      case 29: op_pause(false); break;
      case 30: op_pause(true); break;
      default: op_paused(); break;
    }
    depth_ = saved_depth;
  }

  /// add / modify / remove / registered.
  void op_interest(Frame here, em::EventOps* self, int which) {
    Picked p;
    if (!pick_ops(here, self, &p)) return;
    const int fd = pick_fd(p.mgr);
    const std::uint32_t mask = kMasks[in_.byte() % 16];
    const std::uint32_t data = in_.byte() * 0x01010101u;
    const auto events = em::Events::with_data(fd, data, set_of(mask));
    TRACE("%*sinterest %d mgr %d tag %d fd %d mask %x data %u\n", 2 * depth_, "", which, p.mgr, p.tag, fd, mask, data);
    switch (which) {
      case 0: {
        if (static_cast<int>(kernel_entries(p.mgr)) >= kMaxKernelEntries) return;
        if (is_foreign_timer_fd(p.mgr, fd)) return;
        const auto want = model_add(p.tag, fd, mask, data);
        expect(p.ops->add(events), want);
        break;
      }
      case 1: expect(p.ops->modify(events), model_modify(p.tag, fd, mask, data)); break;
      case 2: expect(p.ops->remove(events), model_remove(p.tag, fd)); break;
      default: {
        auto got = p.ops->registered(fd);
        const SubModel& s = subs_[p.tag];
        if (!s.alive) {
          CHECK(!got && got.error() == lib(em::Error::InvalidId));
          break;
        }
        auto it = model_[p.mgr].table.find(fd);
        if (it == model_[p.mgr].table.end() || it->second.owner != p.tag) {
          CHECK(!got && got.error() == lib(em::Error::FdNotRegistered));
        } else {
          CHECK(got && got->fd() == fd && got->data() == it->second.data &&
                got->event_set().bits() == it->second.registered);
        }
        ++g_checks;
      }
    }
  }

  void op_inject(Frame here, em::EventOps* self) {
    Picked p;
    if (!pick_ops(here, self, &p)) return;
    const int fd = pick_fd(p.mgr);
    const std::uint32_t ready = kInjectSets[in_.byte() % 8];
    if (model_[p.mgr].injections.size() >= kMaxInjections) return;
    TRACE("%*sinject mgr %d tag %d fd %d bits %x\n", 2 * depth_, "", p.mgr, p.tag, fd, ready);
    const auto want = model_inject(p.tag, fd, ready);
    expect(p.ops->inject(fd, em::EventSet::from_bits(ready)), want);
  }

  void op_add_timer(Frame here, em::EventOps* self) {
    Picked p;
    if (!pick_ops(here, self, &p)) return;
    const std::uint32_t data = in_.byte() * 0x01010101u;
    MgrModel& mm = model_[p.mgr];
    if (mm.timers.size() >= kMaxTimers) return;
    const bool alive = subs_[p.tag].alive;
    const bool opens = alive && mm.timer_fd < 0;
    const std::set<int> before = opens ? open_fd_set() : std::set<int>();
    auto r = p.ops->add_timer(data);
    TRACE("%*sadd_timer mgr %d tag %d data %u\n", 2 * depth_, "", p.mgr, p.tag, data);
    ++g_checks;
    if (!alive) {
      CHECK(!r && r.error() == lib(em::Error::InvalidId));
      return;
    }
    CHECK(r.has_value());
    CHECK(r->value() != 0 && mm.timer_ids.insert(r->value()).second);  // never the null id, never reused
    if (opens) {
      // The first timer opens the manager's timerfd: one new fd, never a
      // number that the manager's table still holds for a subscriber.
      std::vector<int> opened;
      for (int fd : open_fd_set()) {
        if (!before.count(fd)) opened.push_back(fd);
      }
      CHECK(opened.size() == 1);
      const int fd = opened[0];
      CHECK(!mm.table.count(fd));
      const std::uint32_t generation = ++mm.generation[fd];
      mm.timer_fd = fd;
      mm.timer_key = (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
    }
    TimerModel t;
    t.id = *r;
    t.owner = p.tag;
    t.data = data;
    mm.timers.push_back(t);
  }

  void op_arm_timer(Frame here, em::EventOps* self) {
    Picked p;
    if (!pick_ops(here, self, &p)) return;
    const em::TimerId id = pick_timer(p.mgr);
    const std::uint8_t how = in_.byte();
    const std::int64_t period = kPeriods[in_.byte() % 8];
    const em::TimerClock::duration period_d{period};
    using TP = em::TimerClock::time_point;
    Deadline d;
    em::Result<void> got;
    // Relative: 0 and duration::min() are due now (between the clock readings
    // around the call), an hour is the future, duration::max() saturates.
    // Absolute: 0, 1, 2 ns and time_point::min() are past; time_point::max()
    // (saturated) and an hour from now are the future.
    const std::int64_t t0 = clock_ns();
    switch (how % 10) {
      case 0:
      case 1:
        got = p.ops->arm_timer(id, nanoseconds(0), period_d);
        d = Deadline{Deadline::past_rel, t0, clock_ns(), 0};
        break;
      case 2:
        got = p.ops->arm_timer(id, nanoseconds::min(), period_d);
        d = Deadline{Deadline::past_rel, sat_add(t0, kMin64), sat_add(clock_ns(), kMin64), 0};
        break;
      case 3:
        got = p.ops->arm_timer(id, nanoseconds(kHour), period_d);
        d = Deadline{Deadline::future, t0 + kHour, clock_ns() + kHour, 0};
        break;
      case 4:
        got = p.ops->arm_timer(id, nanoseconds::max(), period_d);
        d = Deadline{Deadline::future, kMax64, kMax64, 0};
        break;
      case 5:
      case 6:
      case 7: {
        const std::int64_t at = how % 10 - 5;  // 0, 1 or 2 ns
        got = p.ops->arm_timer_at(id, TP(nanoseconds(at)), period_d);
        d = Deadline{Deadline::past_abs, at, at, 0};
        break;
      }
      case 8:
        got = p.ops->arm_timer_at(id, TP::min(), period_d);
        d = Deadline{Deadline::past_abs, kMin64, kMin64, 0};
        break;
      default:
        if (how % 20 == 9) {
          got = p.ops->arm_timer_at(id, TP::max(), period_d);
          d = Deadline{Deadline::future, kMax64, kMax64, 0};
        } else {
          got = p.ops->arm_timer_at(id, TP(nanoseconds(t0 + kHour)), period_d);
          d = Deadline{Deadline::future, t0 + kHour, t0 + kHour, 0};
        }
    }
    TRACE("%*sarm mgr %d tag %d timer %llx how %d period %lld\n", 2 * depth_, "", p.mgr, p.tag,
          static_cast<unsigned long long>(id.value()), how % 10, static_cast<long long>(period));
    TimerModel* t = nullptr;
    std::error_code want = timer_check(p.mgr, p.tag, id, &t);
    if (!want && period < 0) want = einval();
    expect(got, want);
    if (want) return;
    if (d.kind == Deadline::past_rel) d.instance = ++instances_;
    MgrModel& mm = model_[p.mgr];
    t->armed = true;
    t->deadline = d;
    t->period = period;
    t->seq = mm.arm_seq++;
    if (!mm.in_run) program_timer(p.mgr);  // in a run, its end programs the kernel timer
  }

  void op_disarm_timer(Frame here, em::EventOps* self, bool remove) {
    Picked p;
    if (!pick_ops(here, self, &p)) return;
    const em::TimerId id = pick_timer(p.mgr);
    TRACE("%*s%s mgr %d tag %d timer %llx\n", 2 * depth_, "", remove ? "remove_timer" : "disarm", p.mgr, p.tag,
          static_cast<unsigned long long>(id.value()));
    TimerModel* t = nullptr;
    const std::error_code want = timer_check(p.mgr, p.tag, id, &t);
    expect(remove ? p.ops->remove_timer(id) : p.ops->disarm_timer(id), want);
    if (want) return;
    t->armed = false;
    if (remove) t->alive = false;
    if (!model_[p.mgr].in_run) program_timer(p.mgr);
  }

  void op_timer_deadline(Frame here, em::EventOps* self) {
    Picked p;
    if (!pick_ops(here, self, &p)) return;
    const em::TimerId id = pick_timer(p.mgr);
    TimerModel* t = nullptr;
    const std::error_code want = timer_check(p.mgr, p.tag, id, &t);
    const auto got = p.ops->timer_deadline(id);
    ++g_checks;
    if (want) {
      CHECK(!got && got.error() == want);
      return;
    }
    CHECK(got.has_value());
    CHECK(got->has_value() == t->armed);
    if (!t->armed) return;
    // As armed (a past one is not moved to now), or moved by a periodic expiry.
    const std::int64_t v = (*got)->time_since_epoch().count();
    CHECK(v == kMax64 || (t->deadline.lo <= v && v <= t->deadline.hi));
    if (v == kMax64) CHECK(t->deadline.hi == kMax64);
  }

  void op_pause(bool resume) {
    const int mgr = in_.byte() % 2;
    const int tag = pick_sub(mgr);
    const em::SubscriberId id = tag < 0 ? em::SubscriberId() : subs_[tag].id;
    // Through the manager, or the SubscriberOps of a request running on it.
    const bool via_request = request_ops_[mgr] != nullptr && in_.byte() % 2 == 0;
    TRACE("%*s%s mgr %d tag %d%s\n", 2 * depth_, "", resume ? "resume" : "pause", mgr, tag,
          via_request ? " (request)" : "");
    const std::error_code want = resume ? model_resume(mgr, tag) : model_pause(mgr, tag);
    em::Result<void> got;
    if (mgr == 0) {
      Ops0& o = via_request ? *static_cast<Ops0*>(request_ops_[0]) : m0_;
      got = resume ? o.resume(id) : o.pause(id);
    } else {
      Ops1& o = via_request ? *static_cast<Ops1*>(request_ops_[1]) : m1_;
      got = resume ? o.resume(id) : o.pause(id);
    }
    expect(got, want);
  }

  void op_paused() {
    const int mgr = in_.byte() % 2;
    const int tag = pick_sub(mgr);
    const em::SubscriberId id = tag < 0 ? em::SubscriberId() : subs_[tag].id;
    const auto got = mgr == 0 ? m0_.paused(id) : m1_.paused(id);
    if (tag < 0 || !subs_[tag].alive) {
      CHECK(!got && got.error() == lib(em::Error::InvalidId));
    } else {
      CHECK(got && *got == subs_[tag].paused);
    }
    std::size_t alive = 0;
    for (const auto& s : subs_) alive += s.mgr == mgr && s.alive;
    CHECK((mgr == 0 ? m0_.subscriber_count() : m1_.subscriber_count()) == alive);
    g_checks += 2;
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
    // Rolled back: the subscriber is not kept and every fd and timer it added is freed.
    unregister_all(mgr, tag);
    CHECK((mgr == 0 ? m0_.subscriber_mut(subs_[tag].id) != nullptr : m1_.subscriber_mut(subs_[tag].id) != nullptr) ==
          false);
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
      if (r)
        got_tag = r->tag;
      else
        got = r.error();
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

  /// Every fd of the subscriber is unregistered (DEL errors are ignored), its
  /// timers freed (its injections are dropped when a run meets them) and its id retired.
  void unregister_all(int mgr, int tag) {
    MgrModel& mm = model_[mgr];
    for (auto it = mm.table.begin(); it != mm.table.end();) {
      if (it->second.owner == tag) {
        if (it->second.kernel != 0) (void)kernel_ctl(mgr, EPOLL_CTL_DEL, it->first, 0, 0);
        it = mm.table.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& t : mm.timers) {
      if (t.owner == tag) t.alive = t.armed = false;
    }
    subs_[tag].alive = false;
    if (!mm.in_run) program_timer(mgr);
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
      r = m0_.remote_endpoint().fire([g = std::move(guard), token](Ops0& ops) { H->on_request(0, token, ops); });
    } else {
      r = m1_.remote_endpoint().fire([g = std::move(guard), token](Ops1& ops) { H->on_request(1, token, ops); });
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
      auto r = m0_.remote_endpoint().call_blocking([g = std::move(guard)](Ops0&) { return 1; });
      CHECK(!r);
      got = r.error();
    } else {
      auto r = m1_.remote_endpoint().call_blocking([g = std::move(guard)](Ops1&) { return 1; });
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
    const std::uint8_t b = in_.byte();
    const int mgr = b % 2;
    const int how = (b / 2) % 3;  // run_with_timeout(0 ms), (0 ns) or (-1 ns): all poll
    MgrModel& mm = model_[mgr];
    auto run_once = [&]() -> em::Result<std::size_t> {
      if (how == 0) return mgr == 0 ? m0_.run_with_timeout(0) : m1_.run_with_timeout(0);
      const nanoseconds t(how == 1 ? 0 : -1);
      return mgr == 0 ? m0_.run_with_timeout(t) : m1_.run_with_timeout(t);
    };
    if (in_callback(mgr)) {
      auto r = run_once();
      CHECK(!r && r.error() == lib(em::Error::Reentrant));
      ++g_checks;
      return;
    }
    // A timerfd given a past deadline becomes readable when the kernel's
    // hrtimer fires, microseconds after timerfd_settime, and stays readable
    // until the next settime. Waiting for that here makes the batch, and so
    // run()'s count, exact. Where the library programmed a due deadline it
    // does not need the expiry (due_now makes this run dispatch); where an
    // earlier run left the same due deadline programmed (a timer re-armed to
    // an equal absolute deadline), this run's dispatch depends on it: those
    // cases are counted apart, to show how often a poll could come too early.
    if (mm.timer_fd >= 0 && mm.programmed.past()) {
      ::pollfd p{mm.timer_fd, POLLIN, 0};
      if (::poll(&p, 1, 0) != 1) {
        ++g_stats.timerfd_waits;
        if (!mm.due_now && !mm.timer_event) ++g_stats.timerfd_waits_relied;
        CHECK(::poll(&p, 1, 5000) == 1);  // a past deadline must make the timerfd readable
      }
    }
    mm.in_run = true;
    mm.phase = Phase::inject;
    mm.inj_cursor = 0;
    mm.inj_limit = mm.injections.size();
    mm.batch.clear();
    mm.cursor = 0;
    mm.wake_in_batch = false;
    mm.requests_started = false;
    mm.dispatching = false;
    mm.injected = mm.expired = 0;
    mm.mark = mm.arm_seq;
    mm.run_start = clock_ns();
    mm.paused_at_start.clear();
    for (int t = 0; t < static_cast<int>(subs_.size()); ++t) {
      if (subs_[t].mgr == mgr && subs_[t].alive && subs_[t].paused) mm.paused_at_start.insert(t);
    }
    em::Result<std::size_t> r = 0;
    bool threw = false;
    try {
      r = run_once();
    } catch (const Thrown&) {
      threw = true;
    }
    g_checks += 3;
    if (threw) {
      TRACE("run of mgr %d threw in phase %d\n", mgr, static_cast<int>(mm.phase));
      switch (mm.phase) {
        case Phase::inject: break;  // before the wait: the injections behind the thrower stay queued
        case Phase::batch:
          // The rest of the batch is dropped; a wake-up anywhere in it is owed
          // to the next run() and signalled on the wake-up eventfd.
          if (mm.wake_in_batch) {
            mm.wake_owed = true;
            mm.wake_edge = true;
          }
          for (; mm.cursor < mm.batch.size(); ++mm.cursor) {
            if (mm.batch[mm.cursor].data.u64 != mm.wake_key) dropped(mgr, mm.batch[mm.cursor].data.u64);
          }
          break;
        case Phase::timers:
          // The other due timers fire in the next run(), which must not block.
          mm.due_now = true;
          mm.wake_edge = true;
          break;
        case Phase::requests:
          // The requests behind the thrower are owed to the next run().
          mm.wake_owed = true;
          mm.wake_edge = true;
          break;
      }
    } else {
      CHECK(r.has_value());
      enter_phase(mgr, Phase::requests);
      // fd events (internal and dropped ones included), injections, expiries.
      CHECK(*r == mm.batch.size() + mm.injected + mm.expired);
      if (mm.wake_in_batch || mm.wake_owed) {
        if (!mm.requests_started) take_all(mgr);
        CHECK(mm.taken.empty());  // every request taken by this run ran
        mm.wake_owed = false;
      } else {
        CHECK(!mm.requests_started);
      }
    }
    mm.in_run = false;
    mm.batch.clear();
    // The run's end programs the kernel timer, and leaves epoll_fd() readable
    // while injections are deliverable.
    program_timer(mgr);
    if (deliverable_injections(mgr) != 0) mm.wake_edge = true;
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
  std::map<int, Fd> fds_;               // open eventfd descriptors by number
  std::map<int, std::uint64_t> files_;  // eventfd counters by file id
  int next_file_ = 0;
  std::uint64_t order_ = 0;
  std::uint64_t instances_ = 0;
  std::map<int, TokenState> tokens_;
  int next_token_ = 0;
  std::vector<Frame> frames_;
  void* request_ops_[2] = {nullptr, nullptr};  // the SubscriberOps of the request running on each manager
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

void report() {
  std::fprintf(stderr,
               "model checks passed: %llu (timer expiries %llu, injections delivered %llu, pauses %llu, "
               "resumes %llu, mutes %llu, waits for a timerfd expiry %llu, of which dispatch relied on %llu)\n",
               static_cast<unsigned long long>(g_checks), static_cast<unsigned long long>(g_stats.expiries),
               static_cast<unsigned long long>(g_stats.injections), static_cast<unsigned long long>(g_stats.pauses),
               static_cast<unsigned long long>(g_stats.resumes), static_cast<unsigned long long>(g_stats.mutes),
               static_cast<unsigned long long>(g_stats.timerfd_waits),
               static_cast<unsigned long long>(g_stats.timerfd_waits_relied));
}

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
