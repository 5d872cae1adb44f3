// The nemeses of the fault runs (kill, pause, partition, transfer, replace,
// snapshot), each ended by a heal and an acknowledged write; and what a run
// reports per nemesis (operations and the longest unavailability) and keeps
// (every node's logs and the history).
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "workload.h"

namespace fault {
namespace fs = std::filesystem;
using itest::Client;

// -------------------------------------------------------------------- nemesis

int Nemesis::Leader() {
  int l = c_.WaitForLeader(10s);
  return l >= 0 ? l : 0;
}

// Cluster::Restart aborts the whole test binary when a node does not answer
// within 30 s, losing the history and the logs; restart the same Nodes (same
// dirs, ports and flags) and report instead. All are launched before any is
// waited for: a node alone serves nothing until a majority is back.
void Nemesis::Restart(const std::vector<int>& victims, FaultEvent& ev) {
  for (int i : victims) {
    c_.node(i).Kill9();
    c_.node(i).Launch();
  }
  for (int i : victims) {
    if (itest::WaitReady(c_.port(i), 30s)) continue;
    ev.problem += absl::StrCat("node ", i + 1, " restarted after kill -9 did not serve within 30 s; ");
    if (!itest::WaitReady(c_.port(i), 30s)) ev.problem += "nor 30 s later; ";
  }
}

// After a heal a leader that says it serves must also acknowledge a write: a
// node can be "serving" while its writes hang (a pause that outlived its
// cause), which only a real write shows.
bool Nemesis::WriteAcknowledged(std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (int n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
    const int leader = c_.WaitForLeader(5s);
    if (leader >= 0) {
      auto cl = c_.Connect(leader);
      cl->Send(itest::Req({"SET", "nemesis:probe", absl::StrCat(n)}));
      auto v = cl->Read(5s);
      if (v && v->AsString() == "OK") return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

int Nemesis::Other(int not_this) { return (not_this + 1 + static_cast<int>(rng_() % (c_.size() - 1))) % c_.size(); }

// Every nemesis by name, with the family that injects it.
const std::map<std::string, Nemesis::Family>& Nemesis::Families() {
  static const auto* families = new std::map<std::string, Family>{
      {"kill-leader", &Nemesis::Kills},
      {"kill-follower", &Nemesis::Kills},
      {"kill-majority", &Nemesis::Kills},
      {"kill-all", &Nemesis::Kills},
      {"kill-child-leader", &Nemesis::SignalsToOne},
      {"kill-child-follower", &Nemesis::SignalsToOne},
      {"pause-leader", &Nemesis::SignalsToOne},
      {"pause-follower", &Nemesis::SignalsToOne},
      {"pause-leader-kill-child", &Nemesis::SignalsToOne},
      {"partition-leader", &Nemesis::Cuts},
      {"partition-follower", &Nemesis::Cuts},
      {"partition-follower-bulk", &Nemesis::Cuts},
      {"partition-bridge", &Nemesis::Cuts},
      {"oneway-from-leader", &Nemesis::Cuts},
      {"oneway-to-leader", &Nemesis::Cuts},
      {"partition-leader-kill", &Nemesis::Cuts},
      {"transfer-leader", &Nemesis::Operations},
      {"replace-follower", &Nemesis::Operations},
      {"snapshot-all", &Nemesis::Operations},
      {"snapshot-kill-follower", &Nemesis::Operations},
  };
  return *families;
}

std::vector<std::string> Nemesis::All() {
  std::vector<std::string> all;
  for (const auto& [kind, _] : Families()) all.push_back(kind);
  return all;
}

FaultEvent Nemesis::Run(const std::string& kind, std::chrono::milliseconds hold) {
  FaultEvent ev;
  ev.nemesis = kind;
  Roles roles;
  roles.leader = Leader();
  roles.other = Other(roles.leader);
  for (int i = 0; i < c_.size(); ++i) {
    if (i != roles.leader) roles.rest.insert(i);
  }
  ev.start_ns = w_.Now();
  auto family = Families().find(kind);
  if (family == Families().end()) {
    ev.detail = "unknown nemesis";
  } else {
    (this->*family->second)(kind, roles, hold, ev);
  }
  if (!WriteAcknowledged(30s)) ev.problem += "no write acknowledged within 30 s after the heal; ";
  ev.end_ns = w_.Now();
  events_.push_back(ev);
  return ev;
}

// kill -9 of nodes (and so their children), then restarts from their own disks.
void Nemesis::Kills(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev) {
  const auto& [leader, other, rest] = roles;
  if (kind == "kill-leader" || kind == "kill-follower") {
    int victim = kind == "kill-leader" ? leader : other;
    ev.detail = absl::StrCat("kill -9 node ", victim + 1);
    c_.Kill9(victim);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    Restart({victim}, ev);
  } else if (kind == "kill-majority") {
    // The leader and a follower die together: the survivor alone must serve
    // nothing (no quorum). The follower comes back first, then the old
    // leader, behind what the two wrote meanwhile.
    ev.detail = absl::StrCat("kill -9 nodes ", leader + 1, " (the leader) and ", other + 1, ", restart ", other + 1,
                             ", then ", leader + 1);
    c_.Kill9(leader);
    c_.Kill9(other);
    std::this_thread::sleep_for(hold / 2);
    Restart({other}, ev);
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
    Restart({leader}, ev);
  } else if (kind == "kill-all") {
    // Every node (and so every child) dies at once; each comes back from its
    // own disk: its snapshot and its log, the commit index learned again
    // from a new leader.
    ev.detail = "kill -9 every node, restart them all";
    std::vector<int> all;
    for (int i = 0; i < c_.size(); ++i) {
      all.push_back(i);
      c_.Kill9(i);
    }
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    Restart(all, ev);
  }
}

// Signals to one process: a child killed, a node paused (SIGSTOP/SIGCONT).
void Nemesis::SignalsToOne(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev) {
  const auto& [leader, other, rest] = roles;
  if (kind == "kill-child-leader" || kind == "kill-child-follower") {
    int victim = kind == "kill-child-leader" ? leader : other;
    pid_t child = c_.ChildPid(victim);
    ev.detail = absl::StrCat("kill -9 the child (pid ", child, ") of node ", victim + 1);
    if (child > 0) ::kill(child, SIGKILL);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
  } else if (kind == "pause-leader" || kind == "pause-follower") {
    int victim = kind == "pause-leader" ? leader : other;
    ev.detail = absl::StrCat("SIGSTOP node ", victim + 1, " for ", hold.count(), " ms");
    c_.node(victim).process().Signal(SIGSTOP);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.node(victim).process().Signal(SIGCONT);
  } else if (kind == "pause-leader-kill-child") {
    // Pause the leader; kill the child of a follower meanwhile.
    ev.detail = absl::StrCat("SIGSTOP leader ", leader + 1, ", kill -9 the child of node ", other + 1);
    c_.node(leader).process().Signal(SIGSTOP);
    pid_t child = c_.ChildPid(other);
    if (child > 0) ::kill(child, SIGKILL);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.node(leader).process().Signal(SIGCONT);
  }
}

// Writes 4 MB values to keys of its own (bulk:0..7, outside the checked
// history) through one node until stopped. Their convergence on every member
// is checked with the rest at the end of the run.
class BulkWriter {
 public:
  BulkWriter(itest::Cluster& c, int node)
      : thread_([this, &c, node] {
          auto owned = c.Connect(node);
          Client& cl = *owned;
          const std::string value(4 << 20, 'b');
          for (int n = 0; !stop_; ++n) {
            resp::Value v = cl.Call({"SET", absl::StrCat("bulk:", n % 8), value});
            if (v.AsString() == "OK") {
              ++acknowledged_;
            } else {
              errors_ = absl::StrCat(errors_, v.IsError() ? v.str : "no reply", "; ");
              if (!v.IsError()) return;  // the connection is gone
            }
          }
        }) {}
  ~BulkWriter() { Stop(nullptr); }
  // Joins the writer; returns how many writes were acknowledged. A run
  // without one, or any reply but OK, is a problem: the node it writes
  // through stays the leader and reachable all along.
  int Stop(std::string* problem) {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (problem != nullptr && acknowledged_ == 0) *problem += "no 4 MB write acknowledged; ";
    if (problem != nullptr && !errors_.empty()) *problem += absl::StrCat("4 MB writes failed: ", errors_.substr(0, 300));
    return acknowledged_;
  }

 private:
  std::atomic<bool> stop_{false};
  int acknowledged_ = 0;
  std::string errors_;
  std::thread thread_;
};

// Cut Raft links (both ways or one way), healed after the hold.
void Nemesis::Cuts(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev) {
  const auto& [leader, other, rest] = roles;
  if (kind == "partition-leader" || kind == "partition-follower" || kind == "partition-follower-bulk") {
    int victim = kind == "partition-leader" ? leader : other;
    std::set<int> others;
    for (int i = 0; i < c_.size(); ++i) {
      if (i != victim) others.insert(i);
    }
    ev.detail = absl::StrCat("isolate node ", victim + 1, kind == "partition-leader" ? " (the leader)" : "");
    // -bulk: 4 MB values written through the leader all along, so that the
    // follower comes back to tens of MB of big entries to catch up on (its
    // window of appends in flight refills only as it answers) while the
    // checked clients go on.
    std::optional<BulkWriter> bulk;
    if (kind == "partition-follower-bulk") bulk.emplace(c_, leader);
    c_.Partition({victim}, others);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.Heal();
    if (bulk) {
      std::this_thread::sleep_for(hold / 2);
      absl::StrAppend(&ev.detail, " while 4 MB values were written (", bulk->Stop(&ev.problem), " of them)");
    }
  } else if (kind == "partition-bridge") {
    // Leader and one follower cannot talk; the third node talks to both.
    ev.detail = absl::StrCat("cut link ", leader + 1, "<->", other + 1, " (bridge through the third node)");
    c_.Partition({leader}, {other});
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.Heal();
  } else if (kind == "oneway-from-leader" || kind == "oneway-to-leader") {
    // Half a partition: the leader's messages to the others are lost while
    // theirs reach it (it hears a new leader's higher term), or the reverse
    // (its heartbeats arrive, no answer comes back: only its check of a
    // quorum can depose it, and its pre-votes must not unseat the next).
    const bool from = kind == "oneway-from-leader";
    ev.detail = absl::StrCat("cut the Raft links ", from ? "from" : "to", " leader ", leader + 1, ", one way");
    if (from) {
      c_.CutOneWay({leader}, rest);
    } else {
      c_.CutOneWay(rest, {leader});
    }
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.Heal();
  } else if (kind == "partition-leader-kill") {
    // Isolate the leader, then kill -9 it while isolated; heal; restart it.
    ev.detail = absl::StrCat("isolate leader ", leader + 1, ", kill -9 it, heal, restart it");
    c_.Partition({leader}, rest);
    std::this_thread::sleep_for(hold / 2);
    c_.Kill9(leader);
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
    c_.Heal();
    Restart({leader}, ev);
  }
}

// What operators do under load: transfers, replacing a member, snapshots.
void Nemesis::Operations(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev) {
  const auto& [leader, other, rest] = roles;
  if (kind == "transfer-leader") {
    // Hand leadership to a follower under load, twice (there and back to a
    // third): the old leader steps down and rebuilds its child each time.
    ev.detail = absl::StrCat("transfer leadership ", leader + 1, " -> ", other + 1);
    auto transfer = [&](int from, int to) {
      auto owned = c_.Connect(from);
      Client& cl = *owned;
      auto v = cl.Call({"ANARCHO.TRANSFER", absl::StrCat(to + 1)});
      if (v.IsError()) absl::StrAppend(&ev.detail, " (", v.str, ")");
    };
    transfer(leader, other);
    std::this_thread::sleep_for(hold / 2);
    int now = Leader();
    int next = Other(now);
    absl::StrAppend(&ev.detail, ", then ", now + 1, " -> ", next + 1);
    transfer(now, next);
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
  } else if (kind == "replace-follower") {
    // Membership change under load: remove a follower, wipe it, add it back
    // under a new id (learner, then voter once caught up).
    ev.detail = absl::StrCat("remove node ", other + 1, " (id ", c_.id(other), "), wipe it, add it back as id ");
    std::string problem = c_.Replace(other);
    absl::StrAppend(&ev.detail, c_.id(other));
    if (!problem.empty()) ev.problem += problem + "; ";
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
  } else if (kind == "snapshot-all") {
    // Every node snapshots its child and compacts its log at once (the
    // leader through its cut, followers with their feed paused), twice.
    ev.detail = "ANARCHO.SNAPSHOT on every node, twice";
    for (int round = 0; round < 2; ++round) {
      std::vector<std::thread> takers;
      for (int i = 0; i < c_.size(); ++i) {
        takers.emplace_back([this, i, &ev] {
          auto owned = c_.Connect(i);
          Client& cl = *owned;
          auto v = cl.Call({"ANARCHO.SNAPSHOT"});
          if (v.IsError()) absl::StrAppend(&ev.detail, " (node ", i + 1, ": ", v.str, ")");
        });
      }
      for (auto& t : takers) t.join();
      std::this_thread::sleep_for(hold / 2);
    }
    ev.heal_ns = w_.Now();
  } else if (kind == "snapshot-kill-follower") {
    // A follower is killed while it takes a snapshot; the others compact
    // while it is down, so it may come back behind their logs.
    ev.detail = absl::StrCat("kill -9 node ", other + 1, " while it snapshots; the others snapshot meanwhile");
    {
      auto owned = c_.Connect(other);
      Client& cl = *owned;
      cl.Send("*1\r\n$16\r\nANARCHO.SNAPSHOT\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 40));
      c_.Kill9(other);
    }
    for (int i : rest) {
      if (i == other) continue;
      auto owned = c_.Connect(i);
      Client& cl = *owned;
      cl.Call({"ANARCHO.SNAPSHOT"});
    }
    Client(c_.port(leader)).Call({"ANARCHO.SNAPSHOT"});
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    Restart({other}, ev);
  }
}

// -------------------------------------------------------------------- summary

std::string Summarize(const std::vector<Op>& ops, const std::vector<FaultEvent>& events, const CheckResult& check) {
  std::map<std::string, std::array<int64_t, 3>> by_kind;
  std::array<int64_t, 3> total{};
  for (auto& op : ops) {
    std::string kind = OpKindName(op.kind);
    if (!op.via.empty()) absl::StrAppend(&kind, "(", op.via, ")");
    by_kind[kind][static_cast<int>(op.outcome)]++;
    total[static_cast<int>(op.outcome)]++;
  }
  std::string s = absl::StrCat("operations: ", ops.size(), " (ok ", total[0], ", failed ", total[1], ", unknown ", total[2], ")\n");
  for (auto& [k, c] : by_kind) absl::StrAppend(&s, "  ", k, ": ok ", c[0], ", failed ", c[1], ", unknown ", c[2], "\n");
  int64_t moved = 0, claimed = 0, unacked = 0, deleted = 0;  // by ok ops: how much the ops that take things over carried
  for (auto& op : ops) {
    if (op.outcome != Outcome::kOk) continue;
    if (op.kind == OpKind::kPop && !op.to.empty()) moved += static_cast<int64_t>(op.elems.size());
    if (op.kind == OpKind::kXclaim) claimed += static_cast<int64_t>(op.ids.size());
    if (op.kind == OpKind::kXread && op.value == 1) unacked += static_cast<int64_t>(op.ids.size());
    if (op.kind == OpKind::kXdel) deleted += op.result;
  }
  absl::StrAppend(&s, "queue elements moved to taken lists: ", moved, ", stream entries claimed: ", claimed,
                  ", delivered with NOACK: ", unacked, ", deleted: ", deleted, "\n");
  absl::StrAppend(&s, "faults injected: ", events.size(), "\n");
  struct Agg {
    int n = 0;
    std::array<int64_t, 3> c{};
    int64_t longest_gap = 0;
  };
  std::map<std::string, Agg> per;
  std::vector<int64_t> ok_done;
  for (auto& op : ops) {
    if (op.outcome == Outcome::kOk) ok_done.push_back(op.complete_ns);
  }
  std::sort(ok_done.begin(), ok_done.end());
  for (auto& ev : events) {
    Agg& a = per[ev.nemesis];
    a.n++;
    for (auto& op : ops) {
      if (op.invoke_ns >= ev.start_ns && op.invoke_ns < ev.end_ns) a.c[static_cast<int>(op.outcome)]++;
    }
    int64_t last = ev.start_ns, gap = 0;
    for (auto it = std::lower_bound(ok_done.begin(), ok_done.end(), ev.start_ns); it != ok_done.end(); ++it) {
      gap = std::max(gap, *it - last);
      last = *it;
      if (*it > ev.end_ns) break;
    }
    a.longest_gap = std::max(a.longest_gap, gap);
  }
  for (auto& [name, a] : per) {
    double n = std::max<int64_t>(1, a.c[0] + a.c[1] + a.c[2]);
    absl::StrAppend(&s, "  ", name, " x", a.n, ": ops ", a.c[0] + a.c[1] + a.c[2], ", ok ", absl::StrFormat("%.3f", a.c[0] / n),
                    " failed ", absl::StrFormat("%.3f", a.c[1] / n), " unknown ", absl::StrFormat("%.3f", a.c[2] / n),
                    ", longest unavailability ", a.longest_gap / 1000000, " ms\n");
  }
  absl::StrAppend(&s, "anomalies found: ", check.anomalies.size(), "\nacknowledged writes lost: ", check.lost_writes, "\n");
  if (check.search_exhausted) absl::StrAppend(&s, "WARNING: linearizability search budget exhausted on some key (no verdict there)\n");
  return s;
}

std::string KeepLogs(itest::Cluster& c, const std::string& name, const std::vector<Op>& ops,
                     const std::vector<FaultEvent>& events, const std::string& report) {
  std::string dir = absl::StrCat("/tmp/fault-logs/", name, "-", std::chrono::system_clock::now().time_since_epoch().count() / 1000000);
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (int i = 0; i < c.size(); ++i) {
    std::string src = c.node(i).dir();
    for (auto& entry : fs::recursive_directory_iterator(src, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string p = entry.path().string();
      if (p.ends_with(".log") || p.find("LOG") != std::string::npos) {
        fs::path dst = fs::path(dir) / absl::StrCat("n", i + 1) / fs::relative(entry.path(), src);
        fs::create_directories(dst.parent_path(), ec);
        fs::copy_file(entry.path(), dst, fs::copy_options::overwrite_existing, ec);
      }
    }
  }
  std::ofstream h(dir + "/history.txt");
  for (auto& ev : events) {
    h << "FAULT " << ev.nemesis << " (" << ev.detail << ") start " << ev.start_ns / 1e6 << "ms heal " << ev.heal_ns / 1e6
      << "ms end " << ev.end_ns / 1e6 << "ms\n";
  }
  for (auto& op : ops) h << Describe(op) << "\n";
  std::ofstream r(dir + "/report.txt");
  r << report;
  return dir;
}

}  // namespace fault
