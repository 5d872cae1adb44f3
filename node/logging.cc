#include "node/logging.h"

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace node {
namespace {
LogLevel g_level = LogLevel::kInfo;
std::string g_prefix;
std::string g_file;
}  // namespace

bool SetLogFile(const std::string& path) {
  g_file = path;
  return ReopenLogFile();
}

bool ReopenLogFile() {
  if (g_file.empty()) return true;
  std::fflush(stderr);
  // stderr itself is reopened: the child's and libraries' writes to fd 2
  // follow the rotation too.
  if (std::freopen(g_file.c_str(), "a", stderr) == nullptr) return false;
  std::setvbuf(stderr, nullptr, _IOLBF, 0);
  return true;
}

void SetLogLevel(LogLevel level) { g_level = level; }
void SetLogPrefix(std::string prefix) { g_prefix = std::move(prefix); }
bool LogEnabled(LogLevel level) { return level >= g_level; }

void LogLine(LogLevel level, std::string_view line) {
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  std::string out = absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(), absl::LocalTimeZone());
  absl::StrAppendFormat(&out, " %c %s%s\n", kLetters[static_cast<int>(level)], g_prefix,
                        absl::string_view(line.data(), line.size()));
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace node
