// A GoogleTest event listener that fails every test which leaves behind what
// it opened: an fd still open, an fd it closed that it did not open, or a
// thread still running. support/test_main.cpp registers it in every test
// program, so no test has to ask for the check.
//
// What it compares: the open fds (/proc/self/fd, each with its readlink
// target) and the threads (/proc/self/task) when the test starts (before
// SetUp and the fixture's constructor) and when it ends (after TearDown and
// the fixture's destructor). The failure names each fd and what it points to.
//
// What it relies on:
// - A test joins every thread it starts. A thread still running could open or
//   close fds after the check, so a leftover thread is a failure of its own.
// - Whatever lives across tests (gtest's own files, a function-local static,
//   SetUpTestSuite resources) is opened before the first test that sees it
//   starts, or is opened and closed in the same test.
// - A death test's child exits inside the test and never reaches the check;
//   the parent closes its pipe to the child before the test ends.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace event_manager::test {

class FdLeakListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestProgramStart(const ::testing::UnitTest& unit_test) override;
  void OnTestStart(const ::testing::TestInfo& test) override;
  void OnTestEnd(const ::testing::TestInfo& test) override;

 private:
  std::map<int, std::string> fds_before_;
  std::map<pid_t, std::string> threads_before_;
};

/// With EVENT_MANAGER_LEAK_PROBES=1 in the environment, registers the tests
/// LeakProbe.* that break the rules on purpose (and one that keeps them), so
/// that the listener can be seen to fail them; otherwise does nothing. Called
/// by main() before RUN_ALL_TESTS().
void register_leak_probes_if_asked();

}  // namespace event_manager::test
