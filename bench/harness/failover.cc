#include "bench/harness/failover.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/harness/soak.h"
#include "bench/harness/systems.h"

namespace bench {

StallFigures ComputeStall(const std::vector<WriteRecord>& writes, double signal_s) {
  StallFigures f;
  std::vector<double> acks;
  double first_ack = -1;
  for (const WriteRecord& w : writes) {
    if (!w.ok) continue;
    acks.push_back(w.end_s);
    if (w.start_s >= signal_s && (first_ack < 0 || w.end_s < first_ack)) first_ack = w.end_s;
  }
  f.resumed = first_ack >= 0;
  if (!f.resumed) return f;
  f.first_write_s = first_ack - signal_s;
  std::sort(acks.begin(), acks.end());
  double prev = signal_s;  // the last acknowledgement before the signal, once passed
  for (size_t i = 0; i < acks.size(); ++i) {
    if (acks[i] <= signal_s) {
      if (i > 0) f.quiet_gap_s = std::max(f.quiet_gap_s, acks[i] - acks[i - 1]);
    } else if (acks[i] - prev > f.stall_s) {
      f.stall_s = acks[i] - prev;
      f.stall_end_s = acks[i] - signal_s;
    }
    prev = acks[i];
  }
  return f;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<FailoverSummary> SummarizeFailover(const std::vector<FailoverTrial>& trials) {
  std::vector<std::string> kinds;
  for (const FailoverTrial& t : trials) {
    if (std::find(kinds.begin(), kinds.end(), t.kind) == kinds.end()) kinds.push_back(t.kind);
  }
  std::vector<FailoverSummary> out;
  for (const std::string& kind : kinds) {
    FailoverSummary s;
    s.kind = kind;
    std::vector<double> stalls, firsts;
    for (const FailoverTrial& t : trials) {
      if (t.kind != kind) continue;
      ++s.trials;
      s.failed += !t.failure.empty();
      s.errors += t.errors;
      s.lost += t.lost;
      if (!t.stall.resumed) continue;
      stalls.push_back(t.stall.stall_s * 1e3);
      firsts.push_back(t.stall.first_write_s * 1e3);
    }
    s.median_stall_ms = Percentile(stalls, 0.5);
    s.p90_stall_ms = Percentile(stalls, 0.9);
    s.max_stall_ms = Percentile(stalls, 1);
    s.median_first_write_ms = Percentile(firsts, 0.5);
    out.push_back(s);
  }
  return out;
}

std::string FormatFailoverTable(const std::vector<FailoverSummary>& summaries) {
  std::string out = absl::StrFormat("%-9s %6s %6s %13s %13s %13s %18s %7s %5s\n", "kind", "trials", "failed",
                                    "stall p50 ms", "stall p90 ms", "stall max ms", "first write p50 ms", "errors",
                                    "lost");
  for (const FailoverSummary& s : summaries) {
    absl::StrAppendFormat(&out, "%-9s %6d %6d %13.1f %13.1f %13.1f %18.1f %7d %5d\n", s.kind, s.trials, s.failed,
                          s.median_stall_ms, s.p90_stall_ms, s.max_stall_ms, s.median_first_write_ms, s.errors,
                          s.lost);
  }
  return out;
}

namespace {

// A CSV field: quoted (quotes doubled) if it holds a comma or a quote.
std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string FormatFailoverCsv(const std::vector<FailoverTrial>& trials) {
  std::string out =
      "kind,trial,old_leader,new_leader,writer_node,resumed,stall_ms,stall_end_ms,first_write_ms,quiet_gap_ms,writes,"
      "acked,errors,error_kinds,lost,exit_s,rejoin_s,failure\n";
  for (const FailoverTrial& t : trials) {
    const StallFigures& f = t.stall;
    absl::StrAppendFormat(&out, "%s,%d,%d,%d,%d,%d,%.2f,%.2f,%.2f,%.2f,%d,%d,%d,%s,%d,%.3f,%.3f,%s\n", t.kind,
                          t.trial, t.old_leader, t.new_leader, t.writer_node, f.resumed ? 1 : 0, f.stall_s * 1e3,
                          f.stall_end_s * 1e3, f.first_write_s * 1e3, f.quiet_gap_s * 1e3, t.writes, t.acked,
                          t.errors, CsvField(t.error_kinds), t.lost, t.exit_s, t.rejoin_s, CsvField(t.failure));
  }
  return out;
}

std::string FormatFailoverMarkdown(const std::vector<FailoverTrial>& trials, const std::string& header) {
  std::string out = absl::StrCat(
      "# anarcho-bench failover\n\n", header,
      "\n\nStall: the longest gap between consecutive acknowledged writes, from the last acknowledgement before the "
      "signal on; stall ended at: when that gap ended, from the signal. Quiet gap: the longest gap before the signal "
      "(the machine's noise alone). First write: from the signal to the acknowledgement of the first write sent "
      "after it. Errors: writes answered with an error or whose connection failed (allowed; the writer then "
      "reconnects to the same follower). Lost: acknowledged keys missing when read back through the new leader. "
      "Stall figures are over the trials whose writes resumed.\n\n## Summary\n\n"
      "| kind | trials | failed | stall p50 ms | stall p90 ms | stall max ms | first write p50 ms | errors | lost |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const FailoverSummary& s : SummarizeFailover(trials)) {
    absl::StrAppendFormat(&out, "| %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %d | %d |\n", s.kind, s.trials, s.failed,
                          s.median_stall_ms, s.p90_stall_ms, s.max_stall_ms, s.median_first_write_ms, s.errors,
                          s.lost);
  }
  out +=
      "\n## Trials\n\n| kind | trial | leader | new leader | writer via | stall ms | stall ended at ms | first write "
      "ms | quiet gap ms | writes | errors | lost | old leader gone s | rejoined s | failure |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|\n";
  for (const FailoverTrial& t : trials) {
    const StallFigures& f = t.stall;
    absl::StrAppendFormat(&out,
                          "| %s | %d | n%d | n%d | n%d | %.1f | %.1f | %.1f | %.1f | %d | %d %s | %d | %.2f | %.2f | "
                          "%s |\n",
                          t.kind, t.trial, t.old_leader, t.new_leader, t.writer_node, f.stall_s * 1e3,
                          f.stall_end_s * 1e3, f.first_write_s * 1e3, f.quiet_gap_s * 1e3, t.writes, t.errors,
                          t.error_kinds, t.lost, t.exit_s, t.rejoin_s, t.failure);
  }
  return out;
}

namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void SleepS(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

void Fail(FailoverTrial* t, const std::string& why) {
  t->failure = t->failure.empty() ? why : absl::StrCat(t->failure, "; ", why);
}

// One connection to 127.0.0.1:`port`, one SET at a time (key = value =
// `prefix` and a sequence number), from construction until Stop(). After a
// failed write (an error reply, or a connection that failed: a node closes a
// client whose requests got UNKNOWN) it writes on a new connection to the
// same port.
class SteadyWriter {
 public:
  SteadyWriter(int port, std::string prefix) : port_(port), prefix_(std::move(prefix)), thread_([this] { Loop(); }) {}
  ~SteadyWriter() { Stop(); }

  // When the first write sent at or after `t` was acknowledged; < 0 if none yet.
  double FirstAckSentAfter(double t) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const WriteRecord& w : records_) {
      if (w.ok && w.start_s >= t) return w.end_s;
    }
    return -1;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // After Stop():
  const std::vector<WriteRecord>& records() const { return records_; }
  const std::vector<std::string>& acked_keys() const { return acked_; }
  const std::map<std::string, uint64_t>& errors() const { return errors_; }

 private:
  void Loop();
  void Record(const WriteRecord& w, std::string key, const absl::StatusOr<resp::Value>& reply);

  const int port_;
  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<WriteRecord> records_;
  std::vector<std::string> acked_;
  std::map<std::string, uint64_t> errors_;  // by the error reply's first word, or "connection", "timeout"
  std::thread thread_;                      // last: starts once the rest is built
};

void SteadyWriter::Loop() {
  std::unique_ptr<BlockingClient> c;
  for (uint64_t seq = 0; !stop_;) {
    if (!c) {
      c = std::make_unique<BlockingClient>();
      if (!c->Connect("127.0.0.1", port_, 10).ok()) {
        c.reset();
        SleepS(0.005);
        continue;
      }
    }
    const std::string key = absl::StrCat(prefix_, seq++);
    WriteRecord w;
    w.start_s = Seconds();
    auto reply = c->Call({"SET", key, key});
    w.end_s = Seconds();
    w.ok = reply.ok() && reply->type == resp::Type::kSimpleString && reply->str == "OK";
    if (!w.ok) c.reset();
    Record(w, key, reply);
  }
}

void SteadyWriter::Record(const WriteRecord& w, std::string key, const absl::StatusOr<resp::Value>& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  records_.push_back(w);
  if (w.ok) {
    acked_.push_back(std::move(key));
  } else if (!reply.ok()) {
    ++errors_[absl::IsDeadlineExceeded(reply.status()) ? "timeout" : "connection"];
  } else {
    ++errors_[reply->IsError() ? reply->str.substr(0, reply->str.find(' ')) : "unexpected"];
  }
}

struct Roles {
  const ClusterNode* leader = nullptr;  // leading and serving
  std::vector<const ClusterNode*> followers;
};

// Waits until, of `nodes` other than node `without`, one leads and serves and
// all the others follow.
absl::StatusOr<Roles> WaitRoles(const std::vector<ClusterNode>& nodes, int without, double timeout_s) {
  const double deadline = Seconds() + timeout_s;
  const size_t expected = nodes.size() - (without != 0 ? 1 : 0);
  std::string last;
  while (true) {
    Roles r;
    for (const ClusterNode& n : nodes) {
      if (n.id == without) continue;
      auto st = AnarchoStatus("127.0.0.1", n.port);
      if (!st.ok()) {
        last = absl::StrCat("n", n.id, ": ", st.status().message());
        continue;
      }
      auto& m = *st;
      if (m["role"] == "leader" && (m["state"].empty() || m["state"] == "serving")) r.leader = &n;
      if (m["role"] == "follower") r.followers.push_back(&n);
      if (m["role"] != "follower" && r.leader != &n) last = absl::StrCat("n", n.id, ": ", m["role"], " ", m["state"]);
    }
    if (r.leader != nullptr && r.followers.size() + 1 == expected) return r;
    if (Seconds() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no serving leader with the other nodes following within ", timeout_s, " s (", last, ")"));
    }
    SleepS(0.05);
  }
}

// How many of `keys` the node on `port` does not have (EXISTS, a thousand at a time).
absl::StatusOr<uint64_t> CountMissing(int port, const std::vector<std::string>& keys) {
  BlockingClient c;
  if (auto st = c.Connect("127.0.0.1", port, 10); !st.ok()) return st;
  uint64_t missing = 0;
  for (size_t i = 0; i < keys.size(); i += 1000) {
    std::vector<std::string> args = {"EXISTS"};
    args.insert(args.end(), keys.begin() + i, keys.begin() + std::min(keys.size(), i + 1000));
    auto v = c.Call(args);
    if (!v.ok()) return v.status();
    if (v->type != resp::Type::kInteger) return absl::InternalError(absl::StrCat("EXISTS answered ", v->str));
    missing += args.size() - 1 - static_cast<uint64_t>(v->integer);
  }
  return missing;
}

// The writer through `via` for `before_s`, the signal to the leader `p`, the
// writer until writes have resumed for `after_s` (or `resume_timeout_s`).
// The keys acknowledged go to *acked.
void Measure(const FailoverOptions& o, const ClusterNode& via, const NodeProcess& p, FailoverTrial* t,
             std::vector<std::string>* acked) {
  SteadyWriter writer(via.port, absl::StrCat("failover:", t->kind, ":", t->trial, ":"));
  SleepS(o.before_s);
  const double signal_s = Seconds();
  t->exit_s = StopNode(p, t->kind == "kill" ? SIGKILL : SIGTERM, 60);
  while (Seconds() - signal_s < o.resume_timeout_s) {
    const double ack = writer.FirstAckSentAfter(signal_s);
    if (ack >= 0 && Seconds() - ack >= o.after_s) break;
    SleepS(0.01);
  }
  writer.Stop();
  t->stall = ComputeStall(writer.records(), signal_s);
  t->writes = writer.records().size();
  t->acked = writer.acked_keys().size();
  for (const auto& [kind, n] : writer.errors()) t->errors += n;
  t->error_kinds = absl::StrJoin(writer.errors(), " ", absl::PairFormatter("="));
  if (!t->stall.resumed) Fail(t, absl::StrCat("writes did not resume within ", o.resume_timeout_s, " s"));
  *acked = writer.acked_keys();
}

// Reaps `pid` if it is one of `ours` (a node this process restarted).
void Reap(pid_t pid, std::vector<pid_t>* ours) {
  auto it = std::find(ours->begin(), ours->end(), pid);
  if (it == ours->end()) return;
  Terminate(pid);
  ours->erase(it);
}

// Starts the stopped node `n` again and waits until it has caught up with `leader`.
bool Rejoin(const FailoverOptions& o, const ClusterNode& n, const NodeProcess& p, const ClusterNode& leader,
            FailoverTrial* t, std::vector<pid_t>* ours) {
  RestartResult r;
  StartNodeAgain(n, p, leader, o.rejoin_timeout_s, &r);
  if (r.pid > 0) ours->push_back(r.pid);
  t->rejoin_s = r.caught_up_s;
  if (!r.ok) Fail(t, absl::StrCat("n", n.id, " did not rejoin: ", r.error));
  return r.ok;
}

// One trial; false if the cluster is not whole again after it.
bool RunTrial(const FailoverOptions& o, const std::vector<ClusterNode>& nodes, FailoverTrial* t,
              std::vector<pid_t>* ours) {
  auto before = WaitRoles(nodes, 0, 60);
  if (!before.ok()) {
    Fail(t, std::string(before.status().message()));
    return false;
  }
  const ClusterNode& old = *before->leader;
  t->old_leader = old.id;
  t->writer_node = before->followers.front()->id;
  auto p = FindNodeProcess(old);
  if (!p.ok()) {
    Fail(t, std::string(p.status().message()));
    return false;
  }
  std::vector<std::string> acked;
  Measure(o, *before->followers.front(), *p, t, &acked);
  Reap(p->pid, ours);
  auto after = WaitRoles(nodes, old.id, o.resume_timeout_s);
  if (!after.ok()) {
    Fail(t, absl::StrCat("after the signal: ", after.status().message()));
    return false;
  }
  t->new_leader = after->leader->id;
  auto missing = CountMissing(after->leader->port, acked);
  if (!missing.ok()) Fail(t, absl::StrCat("reading the keys back: ", missing.status().message()));
  t->lost = missing.value_or(0);
  if (t->lost > 0) Fail(t, absl::StrCat(t->lost, " acknowledged writes lost"));
  return Rejoin(o, old, *p, *after->leader, t, ours);
}

std::string TrialLine(const FailoverTrial& t) {
  return absl::StrFormat(
      "failover: %s %d: n%d -> n%d (writer via n%d): stall %.1f ms (ended at %.1f ms), first write %.1f ms, quiet gap "
      "%.1f ms, %d writes, %d errors %s, %d lost; old leader gone after %.2f s, rejoined in %.2f s%s",
      t.kind, t.trial, t.old_leader, t.new_leader, t.writer_node, t.stall.stall_s * 1e3, t.stall.stall_end_s * 1e3,
      t.stall.first_write_s * 1e3, t.stall.quiet_gap_s * 1e3, t.writes, t.errors, t.error_kinds, t.lost, t.exit_s,
      t.rejoin_s,
      t.failure.empty() ? "" : absl::StrCat(" FAILED: ", t.failure));
}

}  // namespace

absl::StatusOr<std::vector<FailoverTrial>> RunFailover(const FailoverOptions& o, const std::string& cluster_dir,
                                                       Progress& progress) {
  auto nodes = ReadClusterNodes(cluster_dir);
  if (!nodes.ok()) return nodes.status();
  progress.Plan(std::vector<double>(o.kinds.size() * o.trials, o.before_s + o.after_s));
  std::vector<FailoverTrial> trials;
  std::vector<pid_t> ours;
  bool whole = true;
  for (size_t k = 0; k < o.kinds.size() && whole; ++k) {
    for (int i = 1; i <= o.trials && whole; ++i) {
      FailoverTrial t;
      t.kind = o.kinds[k];
      t.trial = i;
      progress.Start(absl::StrFormat("failover: %s %d/%d", t.kind, i, o.trials));
      whole = RunTrial(o, *nodes, &t, &ours);
      progress.Finish();
      progress.Log(TrialLine(t));
      trials.push_back(t);
    }
  }
  if (!whole) progress.Log("failover: the cluster is not whole again: no more trials");
  for (pid_t pid : ours) Terminate(pid, 30);
  return trials;
}

}  // namespace bench
