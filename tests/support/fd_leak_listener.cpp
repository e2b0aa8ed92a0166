#include "support/fd_leak_listener.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "support/fd_checks.hpp"
#include "support/threads.hpp"

namespace event_manager::test {

void FdLeakListener::OnTestProgramStart(const ::testing::UnitTest&) {
  // Sanitizer runtimes start a helper thread the first time a program creates
  // a thread (ThreadSanitizer does); start and join one now, so that the helper is there before the
  // first test is measured and is not taken for a thread a test left behind.
  std::thread([] {}).join();
}

void FdLeakListener::OnTestStart(const ::testing::TestInfo&) {
  fds_before_ = open_fd_targets();
  threads_before_ = threads();
}

void FdLeakListener::OnTestEnd(const ::testing::TestInfo& test) {
  std::ostringstream problems;
  const auto threads_after = threads();
  for (const auto& [tid, name] : threads_after) {
    if (!threads_before_.contains(tid)) {
      problems << "  thread " << tid << " (" << name
               << ") is still running: the test must join every thread it starts\n";
    }
  }
  const auto fds_after = open_fd_targets();
  for (const auto& [fd, target] : fds_after) {
    const auto before = fds_before_.find(fd);
    if (before == fds_before_.end()) {
      problems << "  fd " << fd << " -> " << target << " was left open\n";
    } else if (before->second != target) {
      problems << "  fd " << fd << " -> " << before->second << " was closed, and the number reopened as " << target
               << " was left open\n";
    }
  }
  for (const auto& [fd, target] : fds_before_) {
    if (!fds_after.contains(fd)) {
      problems << "  fd " << fd << " -> " << target << " was open before the test and closed by it\n";
    }
  }
  const std::string found = problems.str();
  if (!found.empty()) {
    ADD_FAILURE_AT(test.file(), test.line()) << "the test did not leave the process as it found it (FdLeakListener):\n"
                                             << found;
  }
}

// --- Probes: tests that break the rules on purpose ---------------------------------

namespace {

constexpr const char* kProbeVariable = "EVENT_MANAGER_LEAK_PROBES";

int foreign_fd = -1;  // opened before any test, closed by LeakProbe.ClosesAnFdItDidNotOpen

class LeavesAnFdOpen : public ::testing::Test {
  void TestBody() override { ASSERT_GE(::memfd_create("event_manager-leaked-probe", MFD_CLOEXEC), 0); }
};

class ClosesAnFdItDidNotOpen : public ::testing::Test {
  void TestBody() override { ASSERT_EQ(::close(foreign_fd), 0); }
};

class LeavesAThreadRunning : public ::testing::Test {
  void TestBody() override {
    std::thread([] {
      for (;;) ::pause();  // ends with the process
    }).detach();
  }
};

class ClosesAndJoinsEverything : public ::testing::Test {
  void TestBody() override {
    const int fd = ::memfd_create("event_manager-closed-probe", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    std::thread([] {}).join();
    ASSERT_EQ(::close(fd), 0);
  }
};

template <class Probe>
void register_probe(const char* name, int line) {
  ::testing::RegisterTest("LeakProbe", name, nullptr, nullptr, __FILE__, line,
                          []() -> ::testing::Test* { return new Probe; });
}

}  // namespace

void register_leak_probes_if_asked() {
  const char* asked = std::getenv(kProbeVariable);
  if (asked == nullptr || std::string(asked) != "1") return;
  foreign_fd = ::memfd_create("event_manager-foreign-probe", MFD_CLOEXEC);
  register_probe<LeavesAnFdOpen>("LeavesAnFdOpen", __LINE__);
  register_probe<ClosesAnFdItDidNotOpen>("ClosesAnFdItDidNotOpen", __LINE__);
  register_probe<LeavesAThreadRunning>("LeavesAThreadRunning", __LINE__);
  register_probe<ClosesAndJoinsEverything>("ClosesAndJoinsEverything", __LINE__);
}

}  // namespace event_manager::test
