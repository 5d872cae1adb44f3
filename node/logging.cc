#include "node/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "spdlog/logger.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace node {
namespace {

constexpr const char* kComponentNames[] = {"node", "raft", "peer", "child", "client", "snapshot"};

struct LogState {
  LogLevel level = LogLevel::kInfo;
  std::string file;
  std::mutex mu;  // lines come from the event loop and from worker threads
  RepeatFilter repeats;
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::unique_ptr<spdlog::logger> loggers[std::size(kComponentNames)];

  LogState() {
    for (size_t i = 0; i < std::size(kComponentNames); ++i) {
      loggers[i] = std::make_unique<spdlog::logger>(kComponentNames[i], sink);
      loggers[i]->set_level(spdlog::level::trace);  // filtered by LogEnabled()
    }
    SetPattern("");
  }
  void SetPattern(const std::string& tag) {
    const std::string pattern = absl::StrCat("%Y-%m-%dT%H:%M:%S.%f%z %P ", tag.empty() ? "" : tag + " ", "%L %n: %v");
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
  }
};

LogState& State() {
  static LogState* state = new LogState();  // never destroyed: logging works until exit
  return *state;
}

spdlog::level::level_enum SpdLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarning: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"debug", LogLevel::kDebug},     {"verbose", LogLevel::kDebug}, {"info", LogLevel::kInfo},
      {"notice", LogLevel::kInfo},     {"warning", LogLevel::kWarning}, {"error", LogLevel::kError}};
  for (const auto& [n, l] : kNames) {
    if (n == name) {
      *level = l;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { State().level = level; }
void SetLogTag(std::string tag) { State().SetPattern(tag); }
bool LogEnabled(LogLevel level) { return level >= State().level; }

bool SetLogFile(const std::string& path) {
  State().file = path;
  return ReopenLogFile();
}

bool ReopenLogFile() {
  LogState& s = State();
  std::lock_guard lock(s.mu);
  if (s.file.empty()) return true;
  // The file is opened first and put in place of stderr only then (the sink
  // writes to stderr: the child's and the libraries' writes to fd 2 follow
  // the rotation too). A file that cannot be opened leaves stderr as it was,
  // so the failure is logged where the log went so far (freopen closed it).
  const int fd = ::open(s.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::fflush(stderr);
  const bool moved = ::dup2(fd, STDERR_FILENO) == STDERR_FILENO;
  ::close(fd);
  return moved;
}

void LogLine(LogComponent component, LogLevel level, std::string_view line) {
  LogState& s = State();
  std::lock_guard lock(s.mu);
  spdlog::logger& logger = *s.loggers[static_cast<size_t>(component)];
  if (level < LogLevel::kWarning) {
    logger.log(SpdLevel(level), spdlog::string_view_t(line.data(), line.size()));
    return;
  }
  const RepeatFilter::Verdict v = s.repeats.Admit(line, RepeatFilter::Clock::now());
  if (!v.write) return;
  if (v.suppressed == 0) {
    logger.log(SpdLevel(level), spdlog::string_view_t(line.data(), line.size()));
  } else {
    const std::string text = absl::StrFormat("%s (and %d more times since the last time this was logged)",
                                             absl::string_view(line.data(), line.size()), v.suppressed);
    logger.log(SpdLevel(level), spdlog::string_view_t(text));
  }
}

RepeatFilter::Verdict RepeatFilter::Admit(std::string_view line, Clock::time_point now) {
  auto it = seen_.find(std::string(line));
  if (it == seen_.end()) {
    if (seen_.size() >= kMaxEntries) {
      // Forget lines whose window passed; if all are recent, start afresh.
      std::erase_if(seen_, [&](const auto& e) { return now - e.second.written >= kRepeatWindow; });
      if (seen_.size() >= kMaxEntries) seen_.clear();
    }
    seen_.emplace(std::string(line), Entry{now, 0});
    return {};
  }
  Entry& e = it->second;
  if (now - e.written < kRepeatWindow) {
    ++e.suppressed;
    return {false, 0};
  }
  Verdict v{true, e.suppressed};
  e = Entry{now, 0};
  return v;
}

}  // namespace node
