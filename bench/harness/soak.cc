#include "bench/harness/soak.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/harness/procfs.h"
#include "bench/harness/progress.h"
#include "bench/harness/report.h"
#include "bench/harness/workload.h"

namespace bench {

namespace fs = std::filesystem;

namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void SleepS(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

uint64_t U64(const std::map<std::string, std::string>& m, const std::string& key) {
  uint64_t v = 0;
  auto it = m.find(key);
  if (it != m.end()) (void)absl::SimpleAtoi(it->second, &v);
  return v;
}

// "field:value" of an INFO reply.
uint64_t InfoField(absl::string_view info, absl::string_view field) {
  for (absl::string_view line : absl::StrSplit(info, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, field) && absl::ConsumePrefix(&line, ":")) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(line, &v)) return v;
    }
  }
  return 0;
}

// The child's used_memory, asked on its own socket: INFO through a follower
// node is answered by the leader's child.
uint64_t ChildUsedMemory(const ClusterNode& n) {
  BlockingClient c;
  if (!c.ConnectUnix(n.dir + "/child/redis.sock", 5).ok()) return 0;
  auto v = c.Call({"INFO", "memory"});
  if (!v.ok() || v->IsError()) return 0;
  return InfoField(v->AsString(), "used_memory");
}

// What a file holds from byte `from` on.
std::string ReadFrom(const std::string& path, uint64_t from) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

pid_t ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// "HH:MM:SS.mmm" somewhere in a log line, as seconds of the day; -1 if none.
double TimeOfDay(absl::string_view line) {
  for (size_t i = 0; i + 12 <= line.size(); ++i) {
    absl::string_view t = line.substr(i, 12);
    if (t[2] != ':' || t[5] != ':' || t[8] != '.') continue;
    int h, m, s, ms;
    if (absl::SimpleAtoi(t.substr(0, 2), &h) && absl::SimpleAtoi(t.substr(3, 2), &m) &&
        absl::SimpleAtoi(t.substr(6, 2), &s) && absl::SimpleAtoi(t.substr(9, 3), &ms)) {
      return h * 3600 + m * 60 + s + ms / 1000.0;
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<std::vector<ClusterNode>> ReadClusterNodes(const std::string& cluster_dir) {
  std::ifstream in(fs::path(cluster_dir) / "cluster.conf");
  if (!in) return absl::NotFoundError(absl::StrCat("no cluster.conf in ", cluster_dir));
  std::vector<ClusterNode> nodes;
  int id, client, raft;
  while (in >> id >> client >> raft) {
    nodes.push_back({id, client, (fs::path(cluster_dir) / absl::StrCat("n", id)).string()});
  }
  if (nodes.empty()) return absl::DataLossError(absl::StrCat("empty cluster.conf in ", cluster_dir));
  return nodes;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t sum = 0;
  std::error_code ec;
  // Files come and go while RocksDB compacts: skip what vanished.
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fe;
    if (it->is_regular_file(fe) && !it->is_symlink(fe)) {
      uint64_t n = it->file_size(fe);
      if (!fe) sum += n;
    }
  }
  return sum;
}

NodeSample SampleNode(const ClusterNode& n) {
  NodeSample s;
  s.id = n.id;
  s.pid = ReadPidFile(n.dir + "/pid");
  if (auto st = AnarchoStatus("127.0.0.1", n.port); st.ok()) {
    const auto& m = *st;
    s.answered = true;
    s.role = m.count("role") ? m.at("role") : "";
    s.child_pid = static_cast<pid_t>(U64(m, "child_pid"));
    s.snapshot_index = U64(m, "snapshot_index");
    s.snapshot_bytes = U64(m, "snapshot_bytes");
    s.snapshots_taken = U64(m, "snapshots_taken");
    s.log_first_index = U64(m, "log_first_index");
    s.last_index = U64(m, "last_index");
    s.applied_index = U64(m, "applied_index");
    s.commit_index = U64(m, "commit_index");
  }
  s.node_rss = s.pid > 0 ? ReadRssBytes(s.pid) : 0;
  s.child_rss = s.child_pid > 0 ? ReadRssBytes(s.child_pid) : 0;
  s.used_memory = ChildUsedMemory(n);
  s.disk = DirBytes(n.dir);
  s.disk_log = DirBytes(n.dir + "/log");
  s.disk_snapshots = DirBytes(n.dir + "/snapshots");
  return s;
}

RdbLoad ParseRdbLoad(std::string_view log) {
  absl::string_view redis_log(log.data(), log.size());
  RdbLoad r;
  double start = -1;
  for (absl::string_view line : absl::StrSplit(redis_log, '\n')) {
    if (absl::StrContains(line, "Loading DB in memory")) start = TimeOfDay(line);
    constexpr absl::string_view kDone = "Done loading RDB, keys loaded: ";
    constexpr absl::string_view kFromDisk = "DB loaded from disk: ";
    size_t at = line.find(kDone);
    if (at != absl::string_view::npos && start >= 0) {
      double end = TimeOfDay(line);
      if (end < start) end += 24 * 3600;  // past midnight
      r.found = end >= 0;
      r.seconds = end - start;
      absl::string_view keys = line.substr(at + kDone.size());
      (void)absl::SimpleAtoi(keys.substr(0, keys.find_first_of(",. ")), &r.keys);
      start = -1;
    }
    at = line.find(kFromDisk);
    if (at != absl::string_view::npos) {
      absl::string_view v = line.substr(at + kFromDisk.size());
      r.found = absl::SimpleAtod(v.substr(0, v.find(' ')), &r.seconds);
    }
  }
  return r;
}

absl::StatusOr<NodeProcess> FindNodeProcess(const ClusterNode& n) {
  NodeProcess p;
  p.pid = ReadPidFile(n.dir + "/pid");
  if (p.pid > 0) p.argv = ReadCmdline(p.pid);
  auto status = AnarchoStatus("127.0.0.1", n.port);
  if (p.argv.empty() || !status.ok()) {
    return absl::NotFoundError(absl::StrCat("node ", n.id, " (pid ", p.pid, ") not found or not answering"));
  }
  p.child_pid = static_cast<pid_t>(U64(*status, "child_pid"));
  p.node_log_from = FileSize(n.dir + "/node.log");
  p.child_log_from = FileSize(n.dir + "/child/redis.log");
  return p;
}

double StopNode(const NodeProcess& p, int sig, double timeout_s) {
  double t = Seconds();
  kill(p.pid, sig);
  while (ProcessAlive(p.pid) || (p.child_pid > 0 && ProcessAlive(p.child_pid))) {
    if (Seconds() - t > timeout_s) {
      kill(p.pid, SIGKILL);
      if (p.child_pid > 0) kill(p.child_pid, SIGKILL);
    }
    SleepS(0.01);
  }
  return Seconds() - t;
}

namespace {

// Polls the restarted node until it answers, has applied `r->target_index`
// and answers GET; false on timeout or exit.
bool WaitCaughtUp(const ClusterNode& n, double t0, double timeout_s, RestartResult* r) {
  while (Seconds() - t0 < timeout_s) {
    if (!ProcessAlive(r->pid)) {  // the caller reaps it (Terminate)
      r->error = "the restarted node exited";
      return false;
    }
    auto st = AnarchoStatus("127.0.0.1", n.port);
    if (st.ok()) {
      if (r->answer_s == 0) r->answer_s = Seconds() - t0;
      if (U64(*st, "applied_index") >= r->target_index) {
        BlockingClient c;
        if (c.Connect("127.0.0.1", n.port, 5).ok()) {
          auto v = c.Call({"GET", KeyName('s', 0)});
          if (v.ok() && !v->IsError()) {
            r->caught_up_s = Seconds() - t0;
            return true;
          }
        }
      }
    }
    SleepS(0.02);
  }
  r->error = absl::StrCat("not caught up within ", timeout_s, " s");
  return false;
}

}  // namespace

void StartNodeAgain(const ClusterNode& n, const NodeProcess& p, const ClusterNode& leader, double timeout_s,
                    RestartResult* r) {
  auto lst = AnarchoStatus("127.0.0.1", leader.port);
  if (!lst.ok()) {
    r->error = absl::StrCat("the leader does not answer: ", lst.status().message());
    return;
  }
  r->target_index = U64(*lst, "commit_index");
  const double t0 = Seconds();
  const std::string node_log = n.dir + "/node.log";
  auto spawned = Spawn(p.argv, node_log);  // its own command line: same --dir, --pidfile, flags
  if (!spawned.ok()) {
    r->error = std::string(spawned.status().message());
    return;
  }
  r->pid = *spawned;
  r->ok = WaitCaughtUp(n, t0, timeout_s, r);
  SleepS(0.2);  // the child's last lines
  r->rdb = ParseRdbLoad(ReadFrom(n.dir + "/child/redis.log", p.child_log_from));
  r->node_log = ReadFrom(node_log, p.node_log_from);
}

RestartResult RestartNode(const ClusterNode& n, const ClusterNode& leader, double timeout_s) {
  RestartResult r;
  r.node = n.id;
  auto p = FindNodeProcess(n);
  if (!p.ok()) {
    r.error = std::string(p.status().message());
    return r;
  }
  r.stop_s = StopNode(*p, SIGTERM, 60);
  StartNodeAgain(n, *p, leader, timeout_s, &r);
  return r;
}

namespace {

SoakSample Sample(const std::vector<ClusterNode>& nodes, double t_s, const LoadProgress& progress,
                  const SoakSample* prev) {
  SoakSample s;
  s.t_s = t_s;
  s.ops = progress.completed.load();
  s.errors = progress.errors.load();
  if (prev && t_s > prev->t_s) s.ops_per_s = (s.ops - prev->ops) / (t_s - prev->t_s);
  std::ifstream("/proc/loadavg") >> s.load1;
  for (const auto& n : nodes) s.nodes.push_back(SampleNode(n));
  return s;
}

// The time left is the load's: the follower restart after it is not included.
void PrintSample(const SoakSample& s, const SoakOptions& o) {
  std::string line =
      o.progress ? absl::StrFormat("soak %6.0f/%.0f s ETA %s", s.t_s, o.seconds, FormatDuration(o.seconds - s.t_s))
                 : absl::StrFormat("soak %6.0f s", s.t_s);
  absl::StrAppendFormat(&line, " %8.0f ops/s  errors %d |", s.ops_per_s, s.errors);
  for (const auto& n : s.nodes) {
    absl::StrAppendFormat(&line, " n%d %s rss %.0f+%.0f MB disk %.0f MB snaps %d first %d |", n.id,
                          n.role.empty() ? "?" : n.role.substr(0, 1), n.node_rss / 1048576.0, n.child_rss / 1048576.0,
                          n.disk / 1048576.0, n.snapshots_taken, n.log_first_index);
  }
  std::cerr << line << "\n";
}

// Samples every interval from t0 until the soak's end.
void SampleLoad(const SoakOptions& o, double t0, const LoadProgress& progress, SoakResult* out) {
  for (int k = 0;; ++k) {
    double at = k * o.interval_s;
    if (at > o.seconds + 1e-6) break;
    double wait = t0 + at - Seconds();
    if (wait > 0) SleepS(wait);
    const SoakSample* prev = out->samples.empty() ? nullptr : &out->samples.back();
    out->samples.push_back(Sample(out->nodes, Seconds() - t0, progress, prev));
    PrintSample(out->samples.back(), o);
  }
}

const ClusterNode* NodeWithRole(const SoakResult& r, const std::string& role) {
  if (r.samples.empty()) return nullptr;
  for (const auto& s : r.samples.back().nodes) {
    if (s.role == role) {
      for (const auto& n : r.nodes) {
        if (n.id == s.id) return &n;
      }
    }
  }
  return nullptr;
}

}  // namespace

SoakResult RunSoak(const SoakOptions& o, const Target& leader) {
  SoakResult r;
  auto nodes = ReadClusterNodes(leader.cluster_dir);
  if (!nodes.ok()) {
    r.notes.push_back(std::string(nodes.status().message()));
    return r;
  }
  r.nodes = *nodes;
  auto w = ParseWorkload("set");
  w->keyspace = o.keyspace;
  w->value_size = o.value_size;
  w->random_values = o.random_values;
  if (o.preload) {
    auto fill = ParseWorkload("get");  // Preload fills the keys reads touch
    fill->keyspace = o.keyspace;
    fill->value_size = o.value_size;
    fill->random_values = o.random_values;
    double t = Seconds();
    if (auto st = Preload(leader.host, leader.port, *fill); !st.ok()) {
      r.notes.push_back(absl::StrCat("preload failed: ", st.message()));
    }
    r.preload_s = Seconds() - t;
    std::cerr << absl::StrFormat("soak: preloaded %d keys in %.1f s\n", o.keyspace, r.preload_s);
  }
  LoadOptions lo;
  lo.host = leader.host;
  lo.port = leader.port;
  lo.connections = o.connections;
  lo.pipeline = o.pipeline;
  lo.warmup_s = 0;
  lo.duration_s = o.seconds;
  lo.seed = o.seed;
  LoadProgress progress;
  lo.progress = &progress;
  const std::vector<pid_t> roots = SystemRoots(leader);
  const double cpu_before = TreeCpuSeconds(roots);
  const double t0 = Seconds();
  std::optional<RunWatcher> cpu_meter;
  if (o.cpu_per_second) cpu_meter.emplace(progress, roots, nullptr);
  std::thread load([&] { r.load = RunLoad(lo, *w); });
  SampleLoad(o, t0, progress, &r);
  load.join();
  if (cpu_meter) AttachCpu(cpu_meter->Stop(), &r.load.per_second);
  const double cpu = TreeCpuSeconds(roots) - cpu_before;
  r.cpu_us_per_op = r.load.completed ? cpu * 1e6 / r.load.completed : 0;
  const ClusterNode* follower = NodeWithRole(r, "follower");
  const ClusterNode* lead = NodeWithRole(r, "leader");
  if (follower == nullptr || lead == nullptr) {
    r.notes.push_back("no leader and follower in the last sample: no restart measured");
    return r;
  }
  std::cerr << "soak: restarting node " << follower->id << "\n";
  r.restart = RestartNode(*follower, *lead, o.restart_timeout_s);
  return r;
}

}  // namespace bench
