// anarcho-admin's local clusters: `cluster start` runs a cluster's nodes on
// this host from a directory (cluster.conf, n<id>/), waits for a leader and
// says how to reach it; `cluster stop` stops them gracefully.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>
#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asio.hpp"
#include "absl/strings/escaping.h"
#include "node/child/sync_client.h"
#include "node/cli.h"
#include "node/cluster/peer_auth.h"
#include "tools/admin_util.h"
#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, dir);
ABSL_DECLARE_FLAG(int, nodes);
ABSL_DECLARE_FLAG(int, base_port);
ABSL_DECLARE_FLAG(std::string, node_bin);
ABSL_DECLARE_FLAG(std::vector<std::string>, node_args);
ABSL_DECLARE_FLAG(int, timeout_s);
ABSL_DECLARE_FLAG(std::string, restore);
ABSL_DECLARE_FLAG(std::string, tls_certs);

namespace admin {
namespace fs = std::filesystem;

namespace {

std::string NodeBinary(const char* argv0) {
  if (!absl::GetFlag(FLAGS_node_bin).empty()) return absl::GetFlag(FLAGS_node_bin);
  std::error_code ec;
  fs::path self = fs::canonical("/proc/self/exe", ec);
  for (fs::path candidate : {self.parent_path() / "anarchoredis", self.parent_path().parent_path() / "node" / "anarchoredis"}) {
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "anarchoredis";
}

}  // namespace

std::vector<Member> ReadCluster(const std::string& dir) {
  std::vector<Member> members;
  std::ifstream in(fs::path(dir) / "cluster.conf");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    Member m;
    if (f.size() == 3 && absl::SimpleAtoi(f[0], &m.id) && absl::SimpleAtoi(f[1], &m.client_port) &&
        absl::SimpleAtoi(f[2], &m.raft_port)) {
      members.push_back(m);
    }
  }
  return members;
}

namespace {

// A file of this cluster's directory, made once (mode 0600) and kept: the
// same cluster restarts with the same values.
std::string KeptValue(const fs::path& file, const std::function<std::string()>& make) {
  std::ifstream in(file);
  std::string value;
  if (in && std::getline(in, value) && !value.empty()) return value;
  value = make();
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size()) || ::close(fd) != 0) {
    std::cerr << "cannot write " << file << ": " << strerror(errno) << "\n";
    std::exit(1);
  }
  return value;
}

// Whether the node binary knows a flag (a binary older than it, e.g. a
// benchmark's baseline, would refuse to start with it).
bool NodeKnowsFlag(const std::string& bin, const std::string& flag) {
  const std::string cmd = absl::StrCat("'", bin, "' --helpfull 2>&1");
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return false;
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  ::pclose(f);
  // Abseil's help says "--raft_port (...)"; ours "--raft-port VALUE".
  std::string dashed = flag;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return out.find(absl::StrCat("-", flag, " ")) != std::string::npos ||
         out.find(absl::StrCat("--", dashed, " ")) != std::string::npos;
}

// Every cluster this command starts is authenticated: a random secret that
// the nodes prove to each other, and a random cluster id. (A node binary that
// predates peer authentication gets neither, and says so.)
std::vector<std::string> PeerSecurityArgs(const fs::path& dir, const std::string& bin) {
  if (!NodeKnowsFlag(bin, "cluster_secret_file")) {
    std::cerr << bin << " has no peer authentication (--cluster_secret_file): its links are not authenticated\n";
    return {};
  }
  const fs::path secret = dir / "cluster.secret";
  KeptValue(secret, [] { return absl::BytesToHexString(node::peer::RandomBytes(32)); });
  const std::string id = KeptValue(dir / "cluster.id", [] { return node::peer::NewClusterId(); });
  return {"--cluster_secret_file", secret.string(), "--cluster_id", id};
}

// The cluster id PeerSecurityArgs gave the nodes (empty: none).
std::string ClusterIdOf(const std::vector<std::string>& security) {
  for (size_t i = 0; i + 1 < security.size(); ++i) {
    if (security[i] == "--cluster_id") return security[i + 1];
  }
  return "";
}

// Whether `pid` is the node of `ndir`: its command line names --dir NDIR,
// as the nodes `cluster start` runs do, whatever their binary (--node-bin).
// A node killed with -9 leaves its pid file, and its pid may since name
// another process: that one must be neither signalled nor counted as a node
// that runs.
bool IsNodeOf(pid_t pid, const fs::path& ndir) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::string> args = absl::StrSplit(cmdline, '\0');
  std::error_code ec;
  const fs::path want = fs::weakly_canonical(ndir, ec);
  if (ec || want.empty()) return false;
  auto same = [&](const std::string& dir) {
    std::error_code e;
    // A relative --dir is the node's, from its working directory.
    const fs::path given(dir);
    const fs::path path = fs::weakly_canonical(
        given.is_absolute() ? given : fs::path(absl::StrCat("/proc/", pid, "/cwd")) / given, e);
    return !e && path == want;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view a = args[i];
    if ((a == "--dir" || a == "-dir") && i + 1 < args.size() && same(args[i + 1])) return true;
    if ((absl::ConsumePrefix(&a, "--dir=") || absl::ConsumePrefix(&a, "-dir=")) && same(std::string(a))) return true;
  }
  return false;
}

// A node of `dir` as its pid file names it.
struct PidFile {
  fs::path ndir;
  pid_t pid = 0;
};

// Every node directory's pid file under `dir`.
std::vector<PidFile> PidFiles(const std::string& dir) {
  std::vector<PidFile> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path() / "pid");
    pid_t pid = 0;
    if (in >> pid && pid > 0) out.push_back({entry.path(), pid});
  }
  return out;
}

// The nodes of `dir` that run (from their pid files), by node directory name ("n2").
std::map<std::string, pid_t> RunningNodes(const std::string& dir) {
  std::map<std::string, pid_t> running;
  for (const PidFile& p : PidFiles(dir)) {
    if (::kill(p.pid, 0) == 0 && IsNodeOf(p.pid, p.ndir)) running[p.ndir.filename().string()] = p.pid;
  }
  return running;
}

// The redis-server the nodes will run: --redis_server in --node-args, or the default.
std::string RedisServerOf(const std::vector<std::string>& node_args) {
  for (size_t i = 0; i < node_args.size(); ++i) {
    absl::string_view a = node_args[i];
    if (!absl::ConsumePrefix(&a, "--redis_server") && !absl::ConsumePrefix(&a, "--redis-server")) continue;
    if (absl::ConsumePrefix(&a, "=")) return std::string(a);
    if (a.empty() && i + 1 < node_args.size()) return node_args[i + 1];
  }
  return "redis-server";
}

// The command line of member m of a cluster started here.
std::vector<std::string> NodeArgs(const std::string& bin, const Member& m, const std::string& peers, const fs::path& ndir,
                                  const std::vector<std::string>& security) {
  std::vector<std::string> args = {bin,
                                   "--id", absl::StrCat(m.id),
                                   "--port", absl::StrCat(m.client_port),
                                   "--raft_port", absl::StrCat(m.raft_port),
                                   "--peers", peers,
                                   "--dir", ndir.string(),
                                   "--pidfile", (ndir / "pid").string()};
  if (!absl::GetFlag(FLAGS_restore).empty()) {
    args.push_back("--restore");
    args.push_back(fs::absolute(absl::GetFlag(FLAGS_restore)).string());
  }
  args.insert(args.end(), security.begin(), security.end());
  if (const std::string certs = absl::GetFlag(FLAGS_tls_certs); !certs.empty()) {
    const std::string abs_certs = fs::absolute(certs).string();
    for (std::string a : {absl::StrCat("--tls_port=", m.client_port + 200), std::string("--tls_peers"),
                          "--tls_cert_file=" + abs_certs + "/server.crt", "--tls_key_file=" + abs_certs + "/server.key",
                          "--tls_ca_cert_file=" + abs_certs + "/ca.crt"}) {
      args.push_back(std::move(a));
    }
  }
  for (const auto& a : absl::GetFlag(FLAGS_node_args)) args.push_back(a);
  return args;
}

// Starts a node that outlives this command, its stderr in ndir/node.log; its pid.
pid_t SpawnNode(std::vector<std::string> args, const fs::path& ndir) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  setsid();
  FILE* f = freopen((ndir / "node.log").c_str(), "a", stderr);
  (void)f;
  int fd = open("/dev/null", O_RDWR);
  dup2(fd, 0);
  dup2(fd, 1);
  close_range(3, ~0U, 0);  // nothing of this command's stays open in the node
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  _exit(127);
}

void WriteCluster(const std::string& dir, const std::vector<Member>& members) {
  std::ofstream conf(fs::path(dir) / "cluster.conf");
  for (const Member& m : members) conf << m.id << " " << m.client_port << " " << m.raft_port << "\n";
}

// A node this command started that exited already: what ended it, and the
// end of its log; nullopt while all run. A member removed from the cluster
// (`anarcho-admin remove`) replays its removal and exits with status 0: it is
// taken out of `members`, `pids` and cluster.conf, and the start goes on.
std::optional<std::string> ExitedNode(std::vector<Member>* members, std::vector<pid_t>* pids,
                                      const std::string& abs_dir) {
  constexpr absl::string_view kRemoved = "this node was removed from the cluster";
  for (size_t i = 0; i < members->size(); ++i) {
    int status = 0;
    if (::waitpid((*pids)[i], &status, WNOHANG) != (*pids)[i]) continue;
    const int id = (*members)[i].id;
    const fs::path log = fs::path(abs_dir) / absl::StrCat("n", id) / "node.log";
    std::ifstream in(log);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back("  " + line);
    if (lines.size() > 5) lines.erase(lines.begin(), lines.end() - 5);
    const bool exited = WIFEXITED(status);
    const bool removed = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return absl::StrContains(l, kRemoved);
    });
    if (exited && WEXITSTATUS(status) == 0 && removed) {
      std::cerr << "cluster start: node " << id << " was removed from the cluster (its log says so); it is no "
                << "member any more and leaves cluster.conf\n";
      members->erase(members->begin() + static_cast<std::ptrdiff_t>(i));
      pids->erase(pids->begin() + static_cast<std::ptrdiff_t>(i));
      WriteCluster(abs_dir, *members);
      return ExitedNode(members, pids, abs_dir);
    }
    return absl::StrCat("node ", id,
                        exited ? absl::StrCat(" exited with status ", WEXITSTATUS(status))
                               : absl::StrCat(" was killed by signal ", WTERMSIG(status)),
                        "; the end of ", log.string(), ":\n", absl::StrJoin(lines, "\n"), "\n");
  }
  return std::nullopt;
}

// Stops the nodes this command started that still run, after one of them
// failed (a pid is checked only while it is this command's unreaped child).
void StopStarted(const std::vector<pid_t>& pids) {
  std::vector<pid_t> running;
  for (pid_t pid : pids) {
    if (::waitpid(pid, nullptr, WNOHANG) == 0 && ::kill(pid, SIGTERM) == 0) running.push_back(pid);
  }
  for (pid_t pid : running) {
    int waited = 0;
    for (; waited < 100 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (waited == 100) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
}

void PrintStarted(const std::vector<Member>& members, int leader, const std::string& dir, const std::string& abs_dir) {
  std::cout << "anarchoredis cluster of " << members.size() << " nodes is up (data in " << abs_dir << ")\n";
  for (const Member& m : members) {
    std::cout << "  node " << m.id << ": redis-cli -p " << m.client_port
              << (absl::GetFlag(FLAGS_tls_certs).empty() ? ""
                                                         : absl::StrCat(" (TLS: --tls -p ", m.client_port + 200, ")"))
              << (m.id == leader ? "   (leader)" : "") << "\n";
  }
  std::cout << "stop it with: anarcho-admin cluster stop --dir " << dir << "\n";
}

// The last warning or error a node logged ("... n1 W raft: ..."), or empty:
// what a start that elects no leader shows of each node.
std::string LastProblem(const fs::path& log) {
  std::ifstream in(log);
  std::string last;
  for (std::string line; std::getline(in, line);) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 4));
    if (f.size() == 5 && (f[3] == "W" || f[3] == "E")) last = line;
  }
  return last;
}

// Whether a node's answer refuses this tool: no password given, a wrong one,
// or a user without the permission. Waiting does not change it.
bool Refused(const absl::Status& s) {
  const absl::string_view m = s.message();
  return absl::IsPermissionDenied(s) || absl::StartsWith(m, "NOAUTH") || absl::StartsWith(m, "WRONGPASS") ||
         absl::StartsWith(m, "NOPERM");
}

// Waits until one of the started nodes serves as leader and every one of
// them answers (so each is past its start: a majority may elect a leader
// before another fails to bind its Raft port): a leader on their ports that
// belongs to another cluster (another id) is not one of them, and a node
// that exited fails the start at once, as does a node that refuses
// this tool (a restored backup's requirepass, without --pass): it would
// never be seen to lead. On any failure the started nodes are stopped, and
// each one's last answer (or error) and last logged problem are shown.
int WaitForLeader(std::vector<Member> members, std::vector<pid_t> pids, const std::string& cluster_id,
                  const std::string& dir, const std::string& abs_dir) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s));
  std::string foreign;
  std::map<int, std::string> last;  // member id -> what it last answered
  while (std::chrono::steady_clock::now() < deadline) {
    if (const std::optional<std::string> exited = ExitedNode(&members, &pids, abs_dir)) {
      std::cerr << "cluster start: " << *exited << "stopping the other nodes\n";
      StopStarted(pids);
      return 1;
    }
    size_t answered = 0;
    int leader = 0;
    for (const Member& m : members) {
      auto st = StatusOf("127.0.0.1", m.client_port);
      if (!st.ok()) {
        last[m.id] = std::string(st.status().message());
        if (!Refused(st.status())) continue;
        std::cerr << "cluster start: node " << m.id << " (port " << m.client_port
                  << ") refuses anarcho-admin: " << st.status().message()
                  << "\n  (a cluster restored from a backup keeps its users and requirepass: give --pass, or --user "
                     "and --pass, --pass-file or REDISCLI_AUTH); stopping the nodes\n";
        StopStarted(pids);
        return 1;
      }
      auto& s = *st;
      last[m.id] = absl::StrCat("role ", s["role"], ", term ", s["term"], ", leader ", s["leader"],
                                s["state"].empty() ? "" : ", " + s["state"]);
      ++answered;
      if (s["role"] != "leader" || s["state"] != "serving") continue;
      if (!cluster_id.empty() && s["cluster_id"] != cluster_id) {
        foreign = absl::StrCat("port ", m.client_port, " is served by a leader of another cluster (", s["cluster_id"],
                               "), not by this one (", cluster_id, ")");
        continue;
      }
      leader = m.id;
    }
    if (leader != 0 && answered == members.size()) {
      PrintStarted(members, leader, dir, abs_dir);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "cluster start: no leader elected within " << absl::GetFlag(FLAGS_timeout_s) << " s"
            << (foreign.empty() ? "" : "; ") << foreign << "; stopping the nodes\n";
  for (const Member& m : members) {
    const fs::path log = fs::path(abs_dir) / absl::StrCat("n", m.id) / "node.log";
    std::cerr << "  node " << m.id << " (port " << m.client_port << "): " << last[m.id] << "\n";
    if (const std::string problem = LastProblem(log); !problem.empty()) {
      std::cerr << "    last problem in " << log.string() << ": " << problem << "\n";
    }
  }
  StopStarted(pids);
  return 1;
}

}  // namespace

int StartMembers(const char* argv0, const std::vector<Member>& members, const std::map<std::string, pid_t>& running,
                 const std::string& abs_dir, const std::string& dir);

// Some members of the cluster in `dir` run (one was killed or stopped by
// hand): the others start at the ports cluster.conf gives them, and the start
// waits for a serving leader as a whole cluster's does. What ran before is
// not stopped if it fails.
int StartTheRest(const char* argv0, const std::vector<Member>& members, const std::map<std::string, pid_t>& running,
                 const absl::flat_hash_set<std::string>& given, const std::string& dir) {
  const std::string stop_first = absl::StrCat("; stop them first: anarcho-admin cluster stop --dir ", dir, "\n");
  if (members.empty()) {
    std::cerr << "cluster start: " << dir << " is in use by " << running.size() << " running node(s) (pid "
              << running.begin()->second << ") but holds no cluster.conf" << stop_first;
    return 1;
  }
  if (!absl::GetFlag(FLAGS_restore).empty()) {
    std::cerr << "cluster start: --restore needs the cluster stopped, and " << running.size() << " of its nodes run"
              << stop_first;
    return 1;
  }
  for (const Member& m : members) {
    if (given.contains("base_port") && m.client_port != absl::GetFlag(FLAGS_base_port) + m.id - 1) {
      std::cerr << "cluster start: " << running.size() << " nodes of " << dir << " run at the ports cluster.conf "
                << "holds (node " << m.id << " at " << m.client_port << "), not at --base-port "
                << absl::GetFlag(FLAGS_base_port) << ": leave --base-port out to start the others" << stop_first;
      return 2;
    }
  }
  std::vector<std::string> starting;
  for (const Member& m : members) {
    if (!running.contains(absl::StrCat("n", m.id))) starting.push_back(absl::StrCat(m.id));
  }
  std::cout << "cluster start: " << running.size() << " of the " << members.size() << " nodes run"
            << (starting.empty() ? "" : absl::StrCat("; starting node(s) ", absl::StrJoin(starting, ", "))) << "\n";
  return StartMembers(argv0, members, running, fs::absolute(dir).string(), dir);
}

int ClusterStart(const char* argv0, const absl::flat_hash_set<std::string>& given) {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    std::cerr << "cluster start: --dir is required\n";
    return 2;
  }
  int n = absl::GetFlag(FLAGS_nodes);
  const int base = absl::GetFlag(FLAGS_base_port);
  if (n < 1 || n > 99) {
    std::cerr << "cluster start: --nodes " << n << " is out of range (1..99)\n";
    return 2;
  }
  // A directory that holds a cluster starts that cluster again, its size in
  // cluster.conf (and its membership in the nodes' logs): another --nodes
  // started nodes that are no members, each of them bootstrapping its own
  // membership. (Other ports do: the nodes reach each other at the addresses
  // on their command lines.)
  const std::vector<Member> before = ReadCluster(dir);
  const size_t had = before.size();
  if (had > 0 && given.contains("nodes") && static_cast<size_t>(n) != had) {
    std::cerr << "cluster start: " << dir << " holds a cluster of " << had << " nodes (cluster.conf); --nodes " << n
              << " would start nodes that are not its members. Start it as it is (without --nodes), then grow it "
                 "with `anarcho-admin add` (docs/operations.md, \"Adding a node\"), or use a new --dir\n";
    return 2;
  }
  // The members' ids: 1..n, or the ones cluster.conf holds (a removed
  // member left it); node i's ports follow --base-port.
  std::vector<int> ids;
  for (const Member& m : before) ids.push_back(m.id);
  if (ids.empty()) {
    for (int i = 1; i <= n; ++i) ids.push_back(i);
  }
  const int top = *std::max_element(ids.begin(), ids.end());
  if (base < 1 || base + 100 + top - 1 > 65535) {
    std::cerr << "cluster start: --base-port " << base << " leaves no room for " << top
              << " client ports and their Raft ports (base-port+100...) below 65536\n";
    return 2;
  }
  if (const std::map<std::string, pid_t> running = RunningNodes(dir); !running.empty()) {
    return StartTheRest(argv0, before, running, given, dir);
  }
  std::vector<Member> members;
  for (int i : ids) members.push_back(Member{i, base + i - 1, base + 100 + i - 1});
  fs::create_directories(dir);
  const std::string abs_dir = fs::absolute(dir).string();
  // Written now (`cluster stop` and `status` find the nodes by it while they
  // start), put back as it was if the start fails.
  WriteCluster(abs_dir, members);
  const int rc = StartMembers(argv0, members, {}, abs_dir, dir);
  if (rc != 0 && had > 0 && ReadCluster(dir).size() == members.size()) WriteCluster(abs_dir, before);
  return rc;
}

// Starts the members that do not run (`running`, by node directory name).
int StartMembers(const char* argv0, const std::vector<Member>& members, const std::map<std::string, pid_t>& running,
                 const std::string& abs_dir, const std::string& dir) {
  const std::string bin = NodeBinary(argv0);
  if (std::string missing = node::cli::MissingProgram(bin) + node::cli::MissingProgram(RedisServerOf(absl::GetFlag(FLAGS_node_args)));
      !missing.empty()) {
    std::cerr << "cluster start: " << missing;
    return 1;
  }
  const std::vector<std::string> security = PeerSecurityArgs(abs_dir, bin);
  std::vector<std::string> peers;
  for (const Member& m : members) peers.push_back(absl::StrCat(m.id, "=127.0.0.1:", m.client_port, ":", m.raft_port));
  // A running node's pid is no child of this command: the failure handling
  // (ExitedNode, StopStarted) leaves it alone.
  std::vector<pid_t> pids;
  for (const Member& m : members) {
    if (auto it = running.find(absl::StrCat("n", m.id)); it != running.end()) {
      pids.push_back(it->second);
      continue;
    }
    const fs::path ndir = fs::path(abs_dir) / absl::StrCat("n", m.id);
    fs::create_directories(ndir);
    pids.push_back(SpawnNode(NodeArgs(bin, m, absl::StrJoin(peers, ","), ndir, security), ndir));
  }
  return WaitForLeader(members, pids, ClusterIdOf(security), dir, abs_dir);
}

// SIGTERM to every node of `dir`, then a wait for them all: a graceful stop
// takes up to 60 s (a leader hands over, a long log tail is snapshotted), so
// a node still running after kStopWait is killed.
int ClusterStop() {
  constexpr auto kStopWait = std::chrono::seconds(65);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    std::cerr << "cluster stop: --dir is required\n";
    return 2;
  }
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "cluster.conf", ec)) {
    std::cerr << "cluster stop: " << dir << " holds no cluster started by anarcho-admin (no cluster.conf)\n";
    return 1;
  }
  std::vector<PidFile> stopping;
  for (const PidFile& p : PidFiles(dir)) {
    if (!IsNodeOf(p.pid, p.ndir)) {
      if (::kill(p.pid, 0) == 0) {
        std::cerr << "cluster stop: " << (p.ndir / "pid").string() << " names pid " << p.pid
                  << ", which is not this node (a stale pid file); left alone\n";
      }
      continue;
    }
    if (::kill(p.pid, SIGTERM) == 0) stopping.push_back(p);
  }
  const auto deadline = std::chrono::steady_clock::now() + kStopWait;
  // Checked by its command line each time: once the node ended, its pid may
  // be another process's.
  auto runs = [](const PidFile& p) { return ::kill(p.pid, 0) == 0 && IsNodeOf(p.pid, p.ndir); };
  while (std::any_of(stopping.begin(), stopping.end(), runs) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const PidFile& p : stopping) {
    if (!runs(p)) continue;
    std::cerr << "cluster stop: node pid " << p.pid << " still runs after " << kStopWait.count() << " s; killing it\n";
    ::kill(p.pid, SIGKILL);
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove(entry.path() / "pid", ec);
  std::cout << "stopped " << stopping.size() << " node(s)\n";
  return 0;
}

}  // namespace admin
