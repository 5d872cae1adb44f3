// The process-tree CPU meter against real processes: CPU burnt in a forked
// child is counted, and so is a grandchild's, alive or reaped.
#include "bench/harness/procfs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "gtest/gtest.h"

namespace bench {
namespace {

double OwnCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Burns this much CPU time (not wall time: the machine may be busy).
void Burn(double seconds) {
  double end = OwnCpuSeconds() + seconds;
  volatile uint64_t x = 0;
  while (OwnCpuSeconds() < end) x = x + 1;
}

// Polls TreeCpuSeconds(roots) until it reaches `at_least` (or 10 s pass).
double WaitTreeCpu(const std::vector<pid_t>& roots, double at_least) {
  double v = 0;
  for (int i = 0; i < 500; ++i) {
    v = TreeCpuSeconds(roots);
    if (v >= at_least) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return v;
}

// Forks a child that runs `body` then waits for a signal; returns its pid.
template <typename F>
pid_t ForkChild(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    pause();
    _exit(0);
  }
  return pid;
}

void Reap(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(ProcFs, ParsesStatWithAnAwkwardCommandName) {
  auto s = ParseProcStat("1234 (a) b (c)) R 99 1 1 0 -1 4194304 10 0 0 0 250 50 7 3 20 0 1 0 100 0 0\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->pid, 1234);
  EXPECT_EQ(s->ppid, 99);
  EXPECT_EQ(s->state, 'R');
  EXPECT_EQ(s->cpu_ticks, 250u + 50 + 7 + 3);
  EXPECT_FALSE(ParseProcStat("garbage").has_value());
  EXPECT_FALSE(ParseProcStat("12 (x) R 1 2").has_value());
}

TEST(ProcFs, TreeFollowsParentsOnly) {
  std::vector<ProcStat> all = {{1, 0}, {10, 1}, {11, 10}, {12, 11}, {20, 1}, {21, 20}};
  std::vector<pid_t> tree = ProcessTree({10, 99}, all);
  std::sort(tree.begin(), tree.end());
  EXPECT_EQ(tree, (std::vector<pid_t>{10, 11, 12}));
  tree = ProcessTree({10, 11}, all);  // a root inside another root's tree is counted once
  EXPECT_EQ(tree.size(), 3u);
}

TEST(ProcFs, CountsCpuBurntByAChild) {
  pid_t child = ForkChild([] { Burn(0.4); });
  double after = WaitTreeCpu({child}, 0.38);  // ticks are 10 ms
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double idle = TreeCpuSeconds({child});
  Reap(child);
  EXPECT_GE(after, 0.38);
  EXPECT_LE(idle, 0.6);  // it stopped counting when the child stopped burning
}

TEST(ProcFs, CountsDescendantsAliveAndReaped) {
  // The child forks a burning grandchild that stays, and one that ends and is reaped.
  pid_t child = ForkChild([] {
    ForkChild([] { Burn(0.3); });
    pid_t gone = fork();
    if (gone == 0) {
      Burn(0.3);
      _exit(0);
    }
    waitpid(gone, nullptr, 0);
  });
  double tree = WaitTreeCpu({child}, 0.58);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the reaped one is surely reaped
  double alone = ReadProcStat(child)->cpu_ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<pid_t> pids = ProcessTree({child}, ListProcesses());
  for (pid_t p : pids) {
    if (p != child) kill(p, SIGKILL);
  }
  Reap(child);
  EXPECT_EQ(pids.size(), 2u);   // the child and the staying grandchild
  EXPECT_GE(alone, 0.28);       // the reaped grandchild's CPU is in the child's cutime
  EXPECT_GE(tree, 0.58);        // both grandchildren
}

TEST(ProcFs, FindsProcessesByDirectoryArgument) {
  EXPECT_TRUE(ArgNamesPathUnder("/t/c", "/t/c"));
  EXPECT_TRUE(ArgNamesPathUnder("/t/c/n1", "/t/c"));
  EXPECT_TRUE(ArgNamesPathUnder("--dir=/t/c/n1", "/t/c"));
  EXPECT_FALSE(ArgNamesPathUnder("/t/c-base/n1", "/t/c"));
  EXPECT_FALSE(ArgNamesPathUnder("/x/t/c/n1", "/t/c"));
  std::string dir = std::filesystem::temp_directory_path() / ("procfs-test-" + std::to_string(getpid()));
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    std::string arg0 = dir + "/n1";  // sh -c's $0: it shows in the command line
    execlp("sh", "sh", "-c", "sleep 30; true", arg0.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::vector<pid_t> found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    found = PidsWithArgUnder(dir);
  }
  EXPECT_EQ(found, std::vector<pid_t>{pid});
  EXPECT_TRUE(PidsWithArgUnder(dir + "-other").empty());
  EXPECT_TRUE(ProcessAlive(pid));
  EXPECT_GT(ReadRssBytes(pid), 0u);
  EXPECT_EQ(ReadCmdline(pid).back(), dir + "/n1");
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST(ProcFs, ListeningInodesByPortAndState) {
  // Port 6380 = 0x18EC: one IPv4 listener, one established connection from it,
  // another port's listener; and an IPv6 listener.
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:18EC 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 "
      "10 0\n"
      "   1: 0100007F:18EC 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0 20 4 30 "
      "10 -1\n"
      "   2: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0 100 0 0 "
      "10 0\n";
  EXPECT_EQ(ListeningInodes(tcp, 6380), std::vector<uint64_t>{4242});
  EXPECT_EQ(ListeningInodes(tcp, 6379), std::vector<uint64_t>{4444});
  EXPECT_TRUE(ListeningInodes(tcp, 80).empty());
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
      "tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:18EC 00000000000000000000000000000000:0000 0A 00000000:00000000 "
      "00:00000000 00000000  1000        0 5151 1 0 100 0 0 10 0\n";
  EXPECT_EQ(ListeningInodes(tcp6, 6380), std::vector<uint64_t>{5151});
}

TEST(ProcFs, FindsTheProcessListeningOnAPort) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  EXPECT_EQ(PidsListeningOn(port), std::vector<pid_t>{getpid()});
  close(fd);
  EXPECT_TRUE(PidsListeningOn(port).empty());
}

}  // namespace
}  // namespace bench
