// Minimal leveled logging to stderr, or to a file that SIGHUP reopens
// (Abseil 20220623 has no absl::log).
// LOG(INFO) << ... style is avoided; call Log(Level::kInfo, absl::StrFormat(...)).
#pragma once

#include <string_view>

#include "absl/strings/str_format.h"

namespace node {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
void SetLogPrefix(std::string prefix);
// From now on the log (and anything else written to stderr) goes to `path`,
// appended; empty: stderr stays as it is. False if it cannot be opened.
bool SetLogFile(const std::string& path);
// Opens the log file again (after it was rotated away); no-op without one.
bool ReopenLogFile();
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view line);

template <typename... Args>
void Log(LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (LogEnabled(level)) LogLine(level, absl::StrFormat(format, args...));
}

}  // namespace node
