// Tests of the FdLeakListener that support/test_main.cpp registers in every
// test program. Each test runs this program again in a child process with the
// LeakProbe tests switched on (EVENT_MANAGER_LEAK_PROBES=1) and one of them
// selected, and reads the child's verdict and output: a probe that breaks a
// rule must fail, naming what it left behind, and one that keeps them must pass.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace {

struct Outcome {
  int exit_status = -1;  // -1 unless the child exited normally
  std::string output;    // stdout and stderr together
};

/// Runs this test program with the probes on and `filter` as its gtest filter.
Outcome run_probe(const std::string& filter) {
  Outcome outcome;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return outcome;
  }
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  environment.emplace_back("EVENT_MANAGER_LEAK_PROBES=1");
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string program = "/proc/self/exe";
  std::string filter_flag = "--gtest_filter=" + filter;
  char* argv[] = {program.data(), filter_flag.data(), nullptr};

  ::posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);  // dup2 clears close-on-exec on 1 and 2
  ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  pid_t child = -1;
  const int spawned = ::posix_spawn(&child, program.c_str(), &actions, nullptr, argv, envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned == 0) {
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0)
      outcome.output.append(buffer, static_cast<std::size_t>(n));
    int status = 0;
    if (::waitpid(child, &status, 0) == child && WIFEXITED(status)) outcome.exit_status = WEXITSTATUS(status);
  } else {
    ADD_FAILURE() << "posix_spawn failed with error " << spawned;
  }
  ::close(pipe_fds[0]);
  return outcome;
}

TEST(FdLeakListener, FailsATestThatLeavesAnFdOpenAndNamesIt) {
  const Outcome outcome = run_probe("LeakProbe.LeavesAnFdOpen");
  EXPECT_EQ(outcome.exit_status, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("[  FAILED  ] LeakProbe.LeavesAnFdOpen"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("-> /memfd:event_manager-leaked-probe (deleted) was left open"), std::string::npos)
      << outcome.output;
}

TEST(FdLeakListener, FailsATestThatClosesAnFdItDidNotOpen) {
  const Outcome outcome = run_probe("LeakProbe.ClosesAnFdItDidNotOpen");
  EXPECT_EQ(outcome.exit_status, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("[  FAILED  ] LeakProbe.ClosesAnFdItDidNotOpen"), std::string::npos) << outcome.output;
  EXPECT_NE(
      outcome.output.find("-> /memfd:event_manager-foreign-probe (deleted) was open before the test and closed by it"),
      std::string::npos)
      << outcome.output;
}

TEST(FdLeakListener, FailsATestThatLeavesAThreadRunning) {
  const Outcome outcome = run_probe("LeakProbe.LeavesAThreadRunning");
  EXPECT_EQ(outcome.exit_status, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("[  FAILED  ] LeakProbe.LeavesAThreadRunning"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("is still running: the test must join every thread it starts"), std::string::npos)
      << outcome.output;
}

TEST(FdLeakListener, PassesATestThatClosesAndJoinsEverythingItStarts) {
  const Outcome outcome = run_probe("LeakProbe.ClosesAndJoinsEverything");
  EXPECT_EQ(outcome.exit_status, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("[       OK ] LeakProbe.ClosesAndJoinsEverything"), std::string::npos)
      << outcome.output;
}

TEST(FdLeakListener, ProbesStayOffUnlessAsked) {
  EXPECT_EQ(::testing::UnitTest::GetInstance()->total_test_count(), 5) << "LeakProbe tests ran in a normal run";
}

}  // namespace
