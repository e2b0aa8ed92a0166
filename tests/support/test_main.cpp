// The main() of every test program (instead of GTest::gtest_main): the same,
// plus the FdLeakListener, which fails any test that leaves an fd open or a
// thread running.
#include <gtest/gtest.h>

#include "support/fd_leak_listener.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  event_manager::test::register_leak_probes_if_asked();
  // Appended after the default printer: gtest calls OnTestEnd in reverse order,
  // so the listener's failure is recorded before the printer reports the test.
  ::testing::UnitTest::GetInstance()->listeners().Append(new event_manager::test::FdLeakListener);
  return RUN_ALL_TESTS();
}
