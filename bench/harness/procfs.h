// What /proc says about the processes of a system under test: the CPU time of
// a process tree (the server side's cost per request), resident memory,
// command lines (to find a cluster's nodes by their data directory and to
// restart a node exactly as it was started), and who listens on a port.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';
  // utime + stime + cutime + cstime, in clock ticks: the process's threads and
  // the children it has reaped (a BGSAVE fork's CPU moves here when it ends).
  uint64_t cpu_ticks = 0;
};

// Parses the text of /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so the fields are read after the last ')'.
std::optional<ProcStat> ParseProcStat(std::string_view text);
std::optional<ProcStat> ReadProcStat(pid_t pid);

// Every process now in /proc.
std::vector<ProcStat> ListProcesses();

// The roots and all their descendants by ppid, each once; roots not in `all`
// (gone) are left out.
std::vector<pid_t> ProcessTree(const std::vector<pid_t>& roots, const std::vector<ProcStat>& all);

// CPU seconds used so far by the roots and their descendants (summed from one
// scan of /proc). Take it before and after a run: the difference is the run's.
double TreeCpuSeconds(const std::vector<pid_t>& roots);

// The NUL-separated arguments of /proc/<pid>/cmdline; empty if gone.
std::vector<std::string> ReadCmdline(pid_t pid);

// Processes with an argument naming `dir` or a path under it ("D", "D/n1",
// "--dir=D/n1"), but not a sibling ("D-base/n1"). `dir` without trailing '/'.
std::vector<pid_t> PidsWithArgUnder(const std::string& dir);
bool ArgNamesPathUnder(std::string_view arg, std::string_view dir);

// VmRSS of /proc/<pid>/status, in bytes; 0 if gone.
uint64_t ReadRssBytes(pid_t pid);

// The inodes of the sockets listening on local TCP `port` in the text of
// /proc/net/tcp or /proc/net/tcp6.
std::vector<uint64_t> ListeningInodes(std::string_view proc_net_tcp, int port);
// The processes with a socket listening on local TCP `port` (IPv4 or IPv6):
// a server `anarcho-bench run` loads, for its CPU. Only processes whose file
// descriptors this user may read are found.
std::vector<pid_t> PidsListeningOn(int port);

// Whether the process exists and is not a zombie.
bool ProcessAlive(pid_t pid);

}  // namespace bench
