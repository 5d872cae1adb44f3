// The node's log, through spdlog: one line per event, with an ISO 8601 date,
// the pid, this node's tag, the level and the component:
//   2026-12-02T00:31:07.123456+00:00 4242 n1 I raft: became leader at term 3
// It goes to stderr, or to a file that ReopenLogFile() opens again (SIGHUP).
// Warnings and errors that repeat word for word are rate-limited: the first
// is written, the repeats within kRepeatWindow only counted and reported with
// the next one written.
// Call Log(LogComponent::kRaft, LogLevel::kInfo, "format %d", ...) (Abseil's
// format checks, as absl::StrFormat).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/strings/str_format.h"

namespace node {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogComponent { kNode, kRaft, kPeer, kChild, kClient, kSnapshot };

inline constexpr std::chrono::seconds kRepeatWindow{10};

// Redis's names are taken too (verbose = debug, notice = info). False if
// `name` is none of them.
bool ParseLogLevel(std::string_view name, LogLevel* level);
void SetLogLevel(LogLevel level);
// Printed on every line after the pid, to tell nodes apart ("n1").
void SetLogTag(std::string tag);
// From now on the log (and anything else written to stderr, the child's
// output included) goes to `path`, appended; empty: stderr stays as it is.
// False if it cannot be opened.
bool SetLogFile(const std::string& path);
// Opens the log file again (after it was rotated away); no-op without one.
bool ReopenLogFile();
bool LogEnabled(LogLevel level);
void LogLine(LogComponent component, LogLevel level, std::string_view line);

template <typename... Args>
void Log(LogComponent component, LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (LogEnabled(level)) LogLine(component, level, absl::StrFormat(format, args...));
}

// The rate limit of repeated lines, clock-free for tests: Admit() says whether
// a line is written now and how many identical ones were held back before it.
class RepeatFilter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Verdict {
    bool write = true;
    uint64_t suppressed = 0;  // repeats held back since the last one written
  };
  Verdict Admit(std::string_view line, Clock::time_point now);

 private:
  struct Entry {
    Clock::time_point written;
    uint64_t suppressed = 0;
  };
  static constexpr size_t kMaxEntries = 256;
  std::unordered_map<std::string, Entry> seen_;
};

}  // namespace node
