#include "bench/harness/soak_report.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bench {

namespace {

double MiB(uint64_t b) { return b / 1048576.0; }
std::string Mb(uint64_t b) { return absl::StrFormat("%.0f MiB", MiB(b)); }

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / v.size();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1) + 0.5)];
}

std::string ErrorKindsText(const std::map<std::string, uint64_t>& errors) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : errors) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, " ");
}

const NodeSample* FindNode(const SoakSample& s, int id) {
  for (const auto& n : s.nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::vector<int> NodeIds(const std::vector<SoakSample>& samples) {
  std::vector<int> ids;
  if (!samples.empty()) {
    for (const auto& n : samples.front().nodes) ids.push_back(n.id);
  }
  return ids;
}

// Whether a snapshot finished between samples i-1 and i (on the leader of
// sample i, or on any node).
bool SnapshotIn(const std::vector<SoakSample>& samples, size_t i, bool leader_only) {
  for (const auto& n : samples[i].nodes) {
    if (leader_only && n.role != "leader") continue;
    const NodeSample* before = FindNode(samples[i - 1], n.id);
    if (before && n.answered && before->answered && n.snapshots_taken > before->snapshots_taken) return true;
  }
  return false;
}

}  // namespace

SnapshotDip ComputeSnapshotDip(const std::vector<SoakSample>& samples, bool leader_only) {
  std::vector<double> snap, other;
  for (size_t i = 1; i < samples.size(); ++i) {
    (SnapshotIn(samples, i, leader_only) ? snap : other).push_back(samples[i].ops_per_s);
  }
  SnapshotDip d;
  d.snapshot_intervals = static_cast<int>(snap.size());
  d.other_intervals = static_cast<int>(other.size());
  d.snapshot_mean = Mean(snap);
  d.other_mean = Mean(other);
  d.dip = d.other_mean > 0 && !snap.empty() ? 1 - d.snapshot_mean / d.other_mean : 0;
  return d;
}

double Slope(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() < 2 || x.size() != y.size()) return 0;
  double mx = Mean(x), my = Mean(y), sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

namespace {

// RSS trends over the second half of the samples, MiB per minute.
void RssTrends(const std::vector<SoakSample>& samples, NodeMemory* m) {
  std::vector<double> t, node, child;
  for (size_t i = samples.size() / 2; i < samples.size(); ++i) {
    const NodeSample* n = FindNode(samples[i], m->id);
    if (n == nullptr || n->node_rss == 0) continue;
    t.push_back(samples[i].t_s / 60);
    node.push_back(MiB(n->node_rss));
    child.push_back(MiB(n->child_rss));
  }
  m->node_rss_trend = Slope(t, node);
  m->child_rss_trend = Slope(t, child);
}

}  // namespace

std::vector<NodeMemory> MemoryChecks(const std::vector<SoakSample>& samples) {
  std::vector<NodeMemory> out;
  for (int id : NodeIds(samples)) {
    NodeMemory m;
    m.id = id;
    RssTrends(samples, &m);
    for (const auto& s : samples) {
      const NodeSample* n = FindNode(s, id);
      if (n == nullptr) continue;
      m.max_node_rss = std::max(m.max_node_rss, n->node_rss);
      m.max_child_rss = std::max(m.max_child_rss, n->child_rss);
      m.max_used_memory = std::max(m.max_used_memory, n->used_memory);
      if (n->snapshots_taken == 0 || n->used_memory == 0) continue;
      uint64_t total = n->node_rss + n->child_rss;
      uint64_t bound = 2 * n->used_memory + kMemorySlack;
      if (m.samples++ == 0) {
        m.node_rss_first = n->node_rss;
        m.child_rss_first = n->child_rss;
      }
      m.node_rss_last = n->node_rss;
      m.child_rss_last = n->child_rss;
      m.worst_ratio = std::max(m.worst_ratio, static_cast<double>(total) / bound);
      if (total > m.max_total) {
        m.max_total = total;
        m.used_memory_at_max = n->used_memory;
        m.bound_at_max = bound;
      }
    }
    out.push_back(m);
  }
  return out;
}

namespace {

// The median index distance between the consecutive snapshots a node took.
double MedianSnapshotDistance(const std::vector<SoakSample>& samples, int id) {
  std::vector<double> d;
  uint64_t last = 0;
  for (const auto& s : samples) {
    const NodeSample* n = FindNode(s, id);
    if (n == nullptr || n->snapshot_index == 0 || n->snapshot_index == last) continue;
    if (last != 0 && n->snapshot_index > last) d.push_back(static_cast<double>(n->snapshot_index - last));
    last = n->snapshot_index;
  }
  return Quantile(d, 0.5);
}

}  // namespace

std::vector<NodeDisk> DiskChecks(const std::vector<SoakSample>& samples, uint64_t snapshot_log_bytes,
                                 uint64_t keep_entries) {
  std::vector<NodeDisk> out;
  for (int id : NodeIds(samples)) {
    NodeDisk d;
    d.id = id;
    for (const auto& s : samples) {
      const NodeSample* n = FindNode(s, id);
      if (n == nullptr) continue;
      d.max_disk = std::max(d.max_disk, n->disk);
      d.max_log = std::max(d.max_log, n->disk_log);
      d.max_snapshots = std::max(d.max_snapshots, n->disk_snapshots);
      d.max_rdb = std::max(d.max_rdb, n->snapshot_bytes);
      d.last_disk = n->disk;
      d.last_log = n->disk_log;
      if (!n->answered) continue;
      if (d.first_log_first_index == 0) d.first_log_first_index = n->log_first_index;
      d.last_log_first_index = n->log_first_index;
      d.snapshots_taken = n->snapshots_taken;
    }
    double distance = MedianSnapshotDistance(samples, id);
    const double s = static_cast<double>(snapshot_log_bytes);
    d.mean_entry_bytes = distance > 0 ? s / distance : 0;
    d.kept_tail = static_cast<uint64_t>(std::max(s, keep_entries * d.mean_entry_bytes) + s);
    d.bound = 3 * d.max_rdb + d.kept_tail;
    out.push_back(d);
  }
  return out;
}

uint64_t FlagValue(const std::vector<std::string>& args, const std::string& name, uint64_t fallback) {
  const std::string flag = "--" + name;
  for (size_t i = 0; i < args.size(); ++i) {
    uint64_t v = 0;
    if (absl::StartsWith(args[i], flag + "=") && absl::SimpleAtoi(args[i].substr(flag.size() + 1), &v)) return v;
    if (args[i] == flag && i + 1 < args.size() && absl::SimpleAtoi(args[i + 1], &v)) return v;
  }
  return fallback;
}

std::string FormatSoakCsv(const SoakResult& r) {
  std::string out =
      "t_s,interval_ops_per_s,ops_total,errors_total,load1,node,answered,role,node_pid,child_pid,node_rss_bytes,"
      "child_rss_bytes,used_memory_bytes,disk_bytes,disk_log_bytes,disk_snapshots_bytes,snapshot_index,"
      "snapshot_bytes,snapshots_taken,log_first_index,last_index,applied_index,commit_index\n";
  for (const auto& s : r.samples) {
    for (const auto& n : s.nodes) {
      absl::StrAppendFormat(&out, "%.2f,%.1f,%d,%d,%.2f,%d,%d,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d\n",
                            s.t_s, s.ops_per_s, s.ops, s.errors, s.load1, n.id, n.answered ? 1 : 0, n.role, n.pid,
                            n.child_pid, n.node_rss, n.child_rss, n.used_memory, n.disk, n.disk_log,
                            n.disk_snapshots, n.snapshot_index, n.snapshot_bytes, n.snapshots_taken,
                            n.log_first_index, n.last_index, n.applied_index, n.commit_index);
    }
  }
  return out;
}

namespace {

std::string SettingsSection(const SoakResult& r, const SoakSettings& s) {
  const SoakOptions& o = s.options;
  std::vector<double> loads;
  for (const auto& x : r.samples) loads.push_back(x.load1);
  return absl::StrFormat(
      "Measured %s.\n\nSettings: three-node cluster (`anarcho-admin cluster start`, node binary `%s`, node flags "
      "`%s`; effective --snapshot_log_bytes %d (%s), --snapshot_keep_entries %d); closed-loop pipelined SET on %d "
      "connections to the leader, pipeline %d, keyspace %d (uniform%s), %d-byte %s values, %.0f s, sampled every %.0f "
      "s. 1-minute load average during the soak: %.2f to %.2f (median %.2f): the machine is shared, so throughput "
      "is noisy.\n",
      s.machine.Describe(), s.node_bin, s.node_args.empty() ? "(none)" : absl::StrJoin(s.node_args, " "),
      s.snapshot_log_bytes, Mb(s.snapshot_log_bytes), s.keep_entries, o.connections, o.pipeline, o.keyspace,
      o.preload ? absl::StrFormat(", preloaded in %.0f s before the soak", r.preload_s) : "", o.value_size,
      o.random_values ? "random (incompressible)" : "constant (compressible)",
      o.seconds, o.interval_s, Quantile(loads, 0), Quantile(loads, 1), Quantile(loads, 0.5));
}

std::string ThroughputSection(const SoakResult& r) {
  std::vector<double> rates, first, second;
  for (size_t i = 1; i < r.samples.size(); ++i) {
    rates.push_back(r.samples[i].ops_per_s);
    (i <= (r.samples.size() - 1) / 2 ? first : second).push_back(r.samples[i].ops_per_s);
  }
  const LoadResult& l = r.load;
  std::string out = absl::StrFormat(
      "\n## Throughput\n\n%d operations answered (%d errors%s), %.0f ops/s over the soak; latency p50 %.1f ms, p99 "
      "%.1f ms, p99.9 %.1f ms, max %.1f ms. Per interval: median %.0f, min %.0f, max %.0f ops/s; mean of the first "
      "half %.0f, of the second half %.0f. CPU of the cluster's process tree (3 nodes and their redis-servers): "
      "%.1f us per operation.\n",
      l.completed, l.error_count(), l.errors.empty() ? "" : absl::StrCat(": ", ErrorKindsText(l.errors)), l.rps,
      l.latency.ValueAtQuantile(0.5) / 1e6, l.latency.ValueAtQuantile(0.99) / 1e6,
      l.latency.ValueAtQuantile(0.999) / 1e6, l.latency.max() / 1e6, Quantile(rates, 0.5), Quantile(rates, 0),
      Quantile(rates, 1), Mean(first), Mean(second), r.cpu_us_per_op);
  SnapshotDip lead = ComputeSnapshotDip(r.samples, true), any = ComputeSnapshotDip(r.samples, false);
  absl::StrAppend(&out, "\n### Snapshot dip\n\nInterval throughput where a snapshot finished in the interval "
                        "(`snapshots_taken` grew) against the other intervals. A snapshot's BGSAVE may have begun in "
                        "the interval before, so this understates the dip somewhat.\n\n"
                        "| snapshot on | intervals with | ops/s | intervals without | ops/s | dip |\n"
                        "|---|---:|---:|---:|---:|---:|\n");
  for (auto [name, d] : {std::pair<const char*, SnapshotDip>{"the leader", lead}, {"any node", any}}) {
    bool both = d.snapshot_intervals > 0 && d.other_intervals > 0;
    absl::StrAppendFormat(&out, "| %s | %d | %.0f | %d | %.0f | %s |\n", name, d.snapshot_intervals, d.snapshot_mean,
                          d.other_intervals, d.other_mean, both ? absl::StrFormat("%.1f%%", 100 * d.dip) : "-");
  }
  return out;
}

std::string MemorySection(const SoakResult& r) {
  std::string out =
      "\n## Memory\n\nResident memory (VmRSS) of each node process and of its redis-server, in the samples after "
      "the node's first snapshot, against 2 x the child's `used_memory` + 256 MiB (the child's INFO, asked on its "
      "own socket). A BGSAVE fork's RSS is not counted (its pages are mostly shared).\n\n"
      "| node | max node RSS | max child RSS | max used_memory | max node+child | bound there | verdict | worst "
      "ratio | node RSS first -> last | child RSS first -> last | RSS trend, 2nd half (node / child) |\n"
      "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n";
  for (const auto& m : MemoryChecks(r.samples)) {
    if (m.samples == 0) {
      absl::StrAppendFormat(&out, "| n%d | %s | %s | %s | - | - | no sample after a snapshot | - | - | - | - |\n", m.id,
                            Mb(m.max_node_rss), Mb(m.max_child_rss), Mb(m.max_used_memory));
      continue;
    }
    absl::StrAppendFormat(&out, "| n%d | %s | %s | %s | %s | %s | %s | %.2f | %s -> %s | %s -> %s | %+.1f / %+.1f MiB/min |\n",
                          m.id, Mb(m.max_node_rss), Mb(m.max_child_rss), Mb(m.max_used_memory), Mb(m.max_total),
                          Mb(m.bound_at_max), m.worst_ratio <= 1 ? "within" : "EXCEEDS", m.worst_ratio,
                          Mb(m.node_rss_first), Mb(m.node_rss_last), Mb(m.child_rss_first), Mb(m.child_rss_last),
                          m.node_rss_trend, m.child_rss_trend);
  }
  return out;
}

std::string DiskSection(const SoakResult& r, const SoakSettings& s) {
  std::string out = absl::StrFormat(
      "\n## Disk\n\nEvery file under each node's --dir, against 3 x the largest RDB (newest snapshot, the previous "
      "one kept as fallback, one being written) + the log kept by design: max(S, keep_entries x E) + S, with S = "
      "snapshot_log_bytes = %s and E the mean entry size (S / median index distance between the node's "
      "snapshots; the log is kept back to the previous snapshot or keep_entries entries, whichever is more, and "
      "grows S past the newest).\n\n"
      "| node | max disk | max log/ | max snapshots/ | last disk | last log/ | max RDB | E | kept tail | bound | "
      "verdict | log_first_index first -> last | snapshots |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n",
      Mb(s.snapshot_log_bytes));
  for (const auto& d : DiskChecks(r.samples, s.snapshot_log_bytes, s.keep_entries)) {
    absl::StrAppendFormat(&out, "| n%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d -> %d | %d |\n", d.id,
                          Mb(d.max_disk), Mb(d.max_log), Mb(d.max_snapshots), Mb(d.last_disk), Mb(d.last_log),
                          Mb(d.max_rdb),
                          d.mean_entry_bytes > 0 ? absl::StrFormat("%.0f B", d.mean_entry_bytes) : "?",
                          Mb(d.kept_tail), Mb(d.bound), d.max_disk <= d.bound ? "within" : "EXCEEDS",
                          d.first_log_first_index, d.last_log_first_index, d.snapshots_taken);
  }
  return out;
}

std::string RestartSection(const SoakResult& r) {
  const RestartResult& x = r.restart;
  if (x.node == 0) return "\n## Restart\n\nNot measured.\n";
  std::string out = absl::StrFormat(
      "\n## Restart\n\nAfter the load stopped, follower n%d was stopped with SIGTERM (%.2f s until it and its "
      "redis-server were gone) and started again with its own command line. ",
      x.node, x.stop_s);
  if (x.ok) {
    absl::StrAppendFormat(&out, "It answered ANARCHO.STATUS after %.2f s and had applied the leader's commit index "
                                "%d and answered GET after **%.2f s**.",
                          x.answer_s, x.target_index, x.caught_up_s);
  } else {
    absl::StrAppendFormat(&out, "It did not catch up: %s (answered after %.2f s; target index %d).", x.error,
                          x.answer_s, x.target_index);
  }
  if (x.rdb.found) {
    absl::StrAppendFormat(&out, " Its redis-server loaded the snapshot RDB (%d keys) in %.2f s (redis.log).",
                          x.rdb.keys, x.rdb.seconds);
  } else {
    out += " No RDB load in its redis.log.";
  }
  absl::string_view log = absl::StripTrailingAsciiWhitespace(x.node_log);
  absl::StrAppend(&out, "\n\nThe node's log of the restart:\n\n```\n", log, log.empty() ? "" : "\n", "```\n");
  return out;
}

std::string TimelineSection(const SoakResult& r, const SoakSettings& s) {
  size_t every = std::max<size_t>(1, static_cast<size_t>(60 / std::max(s.options.interval_s, 0.001) + 0.5));
  std::string out = "\n## Timeline (every minute; soak.csv has every sample)\n\n| t s | ops/s |";
  std::string sep = "|---:|---:|";
  for (int id : NodeIds(r.samples)) {
    absl::StrAppendFormat(&out, " n%d role | n%d node+child RSS MiB | n%d disk MiB | n%d snaps |", id, id, id, id);
    sep += "---|---:|---:|---:|";
  }
  out += "\n" + sep + "\n";
  std::vector<size_t> rows;
  for (size_t i = 0; i < r.samples.size(); i += every) rows.push_back(i);
  if (!rows.empty() && rows.back() + 1 != r.samples.size()) rows.push_back(r.samples.size() - 1);  // and the last
  for (size_t i : rows) {
    const SoakSample& x = r.samples[i];
    absl::StrAppendFormat(&out, "| %.0f | %.0f |", x.t_s, x.ops_per_s);
    for (const auto& n : x.nodes) {
      absl::StrAppendFormat(&out, " %s | %.0f + %.0f | %.0f | %d |", n.role, MiB(n.node_rss), MiB(n.child_rss),
                            MiB(n.disk), n.snapshots_taken);
    }
    out += "\n";
  }
  return out;
}

}  // namespace

std::string FormatSoakMarkdown(const SoakResult& r, const SoakSettings& s) {
  std::string out = absl::StrCat("# anarcho-bench soak\n\n", SettingsSection(r, s), ThroughputSection(r),
                                 MemorySection(r), DiskSection(r, s), RestartSection(r), TimelineSection(r, s),
                                 "\nPlots: soak.png beside this file (RSS, disk and throughput over time).\n");
  if (!r.notes.empty()) {
    out += "\n## Notes\n\n";
    for (const auto& n : r.notes) absl::StrAppend(&out, "- ", n, "\n");
  }
  return out;
}

std::string SoakPlotData(const SoakResult& r) {
  std::string out;
  for (int id : NodeIds(r.samples)) {
    absl::StrAppendFormat(&out, "# n%d: t_s node_rss_mib child_rss_mib used_memory_mib disk_mib log_mib "
                                "snapshots_mib\n", id);
    for (const auto& s : r.samples) {
      const NodeSample* n = FindNode(s, id);
      if (n == nullptr) continue;
      absl::StrAppendFormat(&out, "%.1f %.1f %.1f %.1f %.1f %.1f %.1f\n", s.t_s, MiB(n->node_rss), MiB(n->child_rss),
                            MiB(n->used_memory), MiB(n->disk), MiB(n->disk_log), MiB(n->disk_snapshots));
    }
    out += "\n\n";
  }
  out += "# throughput: t_s interval_ops_per_s leader_snapshot_in_interval(0/1)\n";
  for (size_t i = 1; i < r.samples.size(); ++i) {
    absl::StrAppendFormat(&out, "%.1f %.1f %d\n", r.samples[i].t_s, r.samples[i].ops_per_s,
                          SnapshotIn(r.samples, i, true) ? 1 : 0);
  }
  return out;
}

std::string SoakPlotScript(const SoakResult& r, const std::string& title) {
  std::vector<int> ids = NodeIds(r.samples);
  std::string rss, disk;
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StrAppendFormat(&rss, "%s'soak.dat' index %d using 1:2 with lines lw 2 lc %d title 'n%d node', "
                                "'' index %d using 1:3 with lines lw 2 dt 2 lc %d title 'n%d redis-server', "
                                "'' index %d using 1:4 with lines lw 1 dt 3 lc %d title 'n%d used\\_memory'",
                          i ? ", \\\n     " : "", i, i + 1, ids[i], i, i + 1, ids[i], i, i + 1, ids[i]);
    absl::StrAppendFormat(&disk, "%s'soak.dat' index %d using 1:5 with lines lw 2 lc %d title 'n%d total', "
                                 "'' index %d using 1:6 with lines lw 1 dt 2 lc %d title 'n%d log/'",
                          i ? ", \\\n     " : "", i, i + 1, ids[i], i, i + 1, ids[i]);
  }
  size_t tp = ids.size();
  return absl::StrCat(
      "set terminal pngcairo size 1200,1100 background rgb 'white'\n", "set output 'soak.png'\n",
      "set multiplot layout 3,1 title \"", title, "\" noenhanced\n", "set grid\nset key outside right top\n",
      // The same plot area in every panel, whatever the width of its key.
      "set lmargin at screen 0.08\nset rmargin at screen 0.76\n",
      absl::StrFormat("set xrange [0:%.0f]\n", r.samples.empty() ? 1.0 : std::max(r.samples.back().t_s, 1.0)),
      "set xlabel 'time since the load started (s)'\n", "set ylabel 'RSS (MiB)'\n", "plot ", rss, "\n",
      "set ylabel 'disk under --dir (MiB)'\n", "plot ", disk, "\n", "set ylabel 'operations/s'\nset yrange [0:*]\n",
      absl::StrFormat("plot 'soak.dat' index %d using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc 8 title 'SET ops/s', "
                      "'' index %d using 1:($3 > 0 ? $2 : 1/0) with points pt 6 ps 1.5 lc 7 title 'snapshot (leader)'\n",
                      tp, tp),
      "unset multiplot\n");
}

}  // namespace bench
