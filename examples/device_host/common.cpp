// common.cpp — formatting and console output for the device host.
#include "common.hpp"

#include <cstdarg>

namespace device_host {

namespace {
const Clock::time_point program_start = Clock::now();
}

std::string format_duration(Clock::duration d) {
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  char text[32];
  if (ns < 1e3) {
    std::snprintf(text, sizeof text, "%.0f ns", ns);
  } else if (ns < 1e6) {
    std::snprintf(text, sizeof text, "%.1f us", ns / 1e3);
  } else if (ns < 1e9) {
    std::snprintf(text, sizeof text, "%.2f ms", ns / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.2f s", ns / 1e9);
  }
  return text;
}

std::string format_bytes(double bytes) {
  char text[32];
  if (bytes < 1024) {
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  } else if (bytes < 1024.0 * 1024) {
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024);
  } else if (bytes < 1024.0 * 1024 * 1024) {
    std::snprintf(text, sizeof text, "%.2f MiB", bytes / (1024.0 * 1024));
  } else {
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  }
  return text;
}

std::string format_count(double count) {
  char text[32];
  if (count < 1e4) {
    std::snprintf(text, sizeof text, "%.0f", count);
  } else if (count < 1e6) {
    std::snprintf(text, sizeof text, "%.1fk", count / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.2fM", count / 1e6);
  }
  return text;
}

Console& Console::instance() {
  static Console console;
  return console;
}

void Console::log(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (interactive_ && progress_shown_) std::fputs("\r\033[K", stdout);  // erase the progress line
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  progress_shown_ = false;
}

void Console::progress(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (interactive_) {
    std::fputs("\r\033[K", stdout);
    std::fputs(line.c_str(), stdout);
    progress_shown_ = true;
  } else {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
}

void Console::finish_progress() {
  std::lock_guard lock(mutex_);
  if (interactive_ && progress_shown_) std::fputc('\n', stdout);
  progress_shown_ = false;
  std::fflush(stdout);
}

void log(const char* format, ...) {
  char text[512];
  const double seconds = std::chrono::duration<double>(Clock::now() - program_start).count();
  int prefix = std::snprintf(text, sizeof text, "[%6.3fs] ", seconds);
  if (prefix < 0) prefix = 0;
  std::va_list args;
  va_start(args, format);
  std::vsnprintf(text + prefix, sizeof text - static_cast<std::size_t>(prefix), format, args);
  va_end(args);
  Console::instance().log(text);
}

}  // namespace device_host
