#include <event_manager/error.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>
#include <system_error>
#include <type_traits>

using event_manager::Error;
using event_manager::Result;

static_assert(std::is_error_code_enum_v<Error>);

namespace {

constexpr Error kAll[] = {Error::FdAlreadyRegistered, Error::InvalidId,   Error::InvalidCapacity,
                          Error::ChannelSend,         Error::ChannelRecv, Error::WouldDeadlock,
                          Error::FdNotRegistered,     Error::Reentrant,   Error::TimerNotRegistered};

}  // namespace

TEST(Error, ValuesAreThoseOfTheContract) {
  EXPECT_EQ(static_cast<int>(Error::FdAlreadyRegistered), 1);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(static_cast<int>(kAll[i]), i + 1);
}

TEST(Error, CategoryIsNamedEventManager) {
  EXPECT_STREQ(event_manager::error_category().name(), "event_manager");
  EXPECT_EQ(&event_manager::error_category(), &event_manager::error_category());
}

TEST(Error, MakeErrorCodeUsesTheLibraryCategory) {
  const std::error_code ec = event_manager::make_error_code(Error::InvalidId);
  EXPECT_EQ(ec.value(), static_cast<int>(Error::InvalidId));
  EXPECT_EQ(&ec.category(), &event_manager::error_category());
  EXPECT_TRUE(static_cast<bool>(ec));
}

TEST(Error, ConvertsImplicitlyAndComparesWithErrorCode) {
  const std::error_code ec = Error::Reentrant;  // is_error_code_enum makes this implicit
  EXPECT_EQ(ec, Error::Reentrant);
  EXPECT_NE(ec, Error::InvalidId);
  EXPECT_NE(std::error_code(EBADF, std::system_category()), Error::FdAlreadyRegistered);
  EXPECT_NE(std::error_code(static_cast<int>(Error::InvalidId), std::system_category()), Error::InvalidId);
}

TEST(Error, EveryCodeHasItsOwnMessage) {
  std::set<std::string> messages;
  for (Error e : kAll) {
    const std::string message = event_manager::make_error_code(e).message();
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find("unknown"), std::string::npos) << message;
    messages.insert(message);
  }
  EXPECT_EQ(messages.size(), std::size(kAll));
}

TEST(Error, UnknownCodeHasAMessageToo) {
  const std::string message = event_manager::error_category().message(1000);
  EXPECT_NE(message.find("1000"), std::string::npos) << message;
}

TEST(Error, ResultCarriesTheErrorCode) {
  const Result<int> failed = std::unexpected(event_manager::make_error_code(Error::InvalidCapacity));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), Error::InvalidCapacity);
  const Result<int> ok = 7;
  EXPECT_EQ(ok.value(), 7);
  static_assert(std::is_same_v<Result<void>, std::expected<void, std::error_code>>);
}
