#include "bench/harness/procfs.h"

#include <dirent.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bench {

namespace fs = std::filesystem;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view stat) {
  absl::string_view text(stat.data(), stat.size());
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ..."
  size_t open = text.find(" (");
  size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) return std::nullopt;
  ProcStat s;
  int pid = 0;
  if (!absl::SimpleAtoi(text.substr(0, open), &pid)) return std::nullopt;
  s.pid = pid;
  std::vector<absl::string_view> f = absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  // After ')': f[0] state, f[1] ppid, ..., f[11] utime, f[12] stime, f[13] cutime, f[14] cstime.
  if (f.size() < 15 || f[0].size() != 1) return std::nullopt;
  s.state = f[0][0];
  int ppid = 0;
  if (!absl::SimpleAtoi(f[1], &ppid)) return std::nullopt;
  s.ppid = ppid;
  for (int i = 11; i <= 14; ++i) {
    int64_t ticks = 0;  // cutime/cstime are signed in the kernel's format
    if (!absl::SimpleAtoi(f[i], &ticks)) return std::nullopt;
    if (ticks > 0) s.cpu_ticks += static_cast<uint64_t>(ticks);
  }
  return s;
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::string text = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  if (text.empty()) return std::nullopt;
  return ParseProcStat(text);
}

std::vector<ProcStat> ListProcesses() {
  std::vector<ProcStat> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0) continue;
    if (auto s = ReadProcStat(pid)) out.push_back(*s);  // it may have gone meanwhile
  }
  closedir(d);
  return out;
}

std::vector<pid_t> ProcessTree(const std::vector<pid_t>& roots, const std::vector<ProcStat>& all) {
  std::multimap<pid_t, pid_t> children;
  std::set<pid_t> present;
  for (const auto& p : all) {
    children.emplace(p.ppid, p.pid);
    present.insert(p.pid);
  }
  std::vector<pid_t> out;
  std::set<pid_t> seen;
  std::vector<pid_t> todo;
  for (pid_t r : roots) {
    if (present.contains(r)) todo.push_back(r);
  }
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    if (!seen.insert(p).second) continue;
    out.push_back(p);
    auto [lo, hi] = children.equal_range(p);
    for (auto it = lo; it != hi; ++it) todo.push_back(it->second);
  }
  return out;
}

double TreeCpuSeconds(const std::vector<pid_t>& roots) {
  std::vector<ProcStat> all = ListProcesses();
  std::map<pid_t, uint64_t> ticks;
  for (const auto& p : all) ticks[p.pid] = p.cpu_ticks;
  uint64_t sum = 0;
  for (pid_t p : ProcessTree(roots, all)) sum += ticks[p];
  static const long hz = sysconf(_SC_CLK_TCK);
  return static_cast<double>(sum) / static_cast<double>(hz > 0 ? hz : 100);
}

std::vector<std::string> ReadCmdline(pid_t pid) {
  std::string text = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
  std::vector<std::string> args;
  if (text.empty()) return args;
  if (text.back() == '\0') text.pop_back();
  for (absl::string_view a : absl::StrSplit(text, '\0')) args.emplace_back(a);
  return args;
}

bool ArgNamesPathUnder(std::string_view arg, std::string_view dir) {
  if (dir.empty()) return false;
  for (size_t at = arg.find(dir); at != std::string_view::npos; at = arg.find(dir, at + 1)) {
    size_t end = at + dir.size();
    bool starts = at == 0 || arg[at - 1] == '=';
    bool ends = end == arg.size() || arg[end] == '/';
    if (starts && ends) return true;
  }
  return false;
}

std::vector<pid_t> PidsWithArgUnder(const std::string& dir) {
  std::vector<pid_t> out;
  for (const auto& p : ListProcesses()) {
    if (p.state == 'Z') continue;
    for (const auto& a : ReadCmdline(p.pid)) {
      if (ArgNamesPathUnder(a, dir)) {
        out.push_back(p.pid);
        break;
      }
    }
  }
  return out;
}

uint64_t ReadRssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v(line);
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      v = absl::StripAsciiWhitespace(v);
      absl::ConsumeSuffix(&v, "kB");
      uint64_t kb = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &kb)) return kb * 1024;
    }
  }
  return 0;
}

std::vector<uint64_t> ListeningInodes(std::string_view proc_net_tcp, int port) {
  constexpr absl::string_view kListen = "0A";
  std::vector<uint64_t> out;
  for (absl::string_view line : absl::StrSplit(absl::string_view(proc_net_tcp.data(), proc_net_tcp.size()), '\n')) {
    // "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...", addresses as HEX:PORT.
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (f.size() < 10 || f[3] != kListen) continue;
    size_t colon = f[1].rfind(':');
    uint32_t local_port = 0;
    uint64_t inode = 0;
    if (colon == absl::string_view::npos || !absl::SimpleHexAtoi(f[1].substr(colon + 1), &local_port)) continue;
    if (static_cast<int>(local_port) == port && absl::SimpleAtoi(f[9], &inode) && inode != 0) out.push_back(inode);
  }
  return out;
}

std::vector<pid_t> PidsListeningOn(int port) {
  std::set<std::string> sockets;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    for (uint64_t inode : ListeningInodes(ReadAll(table), port)) sockets.insert(absl::StrCat("socket:[", inode, "]"));
  }
  std::vector<pid_t> out;
  if (sockets.empty()) return out;
  for (const auto& p : ListProcesses()) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(absl::StrCat("/proc/", p.pid, "/fd"), ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::error_code le;
      if (sockets.contains(fs::read_symlink(it->path(), le).string()) && !le) {
        out.push_back(p.pid);
        break;
      }
    }
  }
  return out;
}

bool ProcessAlive(pid_t pid) {
  auto s = ReadProcStat(pid);
  return s.has_value() && s->state != 'Z' && s->state != 'X';
}

}  // namespace bench
