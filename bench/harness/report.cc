#include "bench/harness/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bench {

namespace {

double Us(int64_t ns) { return ns / 1000.0; }

double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string ErrorKinds(const std::map<std::string, uint64_t>& errors) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : errors) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, " ");
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out;
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Num(double v) {
  if (v >= 1000) return absl::StrFormat("%.0f", v);
  if (v >= 100) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.2f", v);
}

std::string Ratio(double v, double base) {
  if (base <= 0) return "-";
  return absl::StrFormat("%.2f", v / base);
}

const Summary* Find(const std::vector<Summary>& rows, const std::string& workload, const std::string& system) {
  for (const auto& r : rows) {
    if (r.workload == workload && r.system == system) return &r;
  }
  return nullptr;
}

// What a row's ratios compare with: plain redis-server, and redis-server with
// appendfsync always; a TLS row (`*-tls`), redis-server with TLS only.
std::string RedisFor(const std::string& system) { return absl::EndsWith(system, "-tls") ? "redis-tls" : "redis"; }
std::string RedisAofFor(const std::string& system) { return absl::EndsWith(system, "-tls") ? "" : "redis-aof"; }

std::string Cpu(double us) { return us > 0 ? Num(us) : "-"; }

// The ratio v / base->*f as "%.4f", or `none` without a base figure (or
// without a CPU figure: 0 there means not measured).
std::string RatioField(const Summary* base, double v, double Summary::*f, const std::string& none) {
  bool missing = f == &Summary::cpu_us_per_op && v <= 0;
  return base && base->*f > 0 && !missing ? absl::StrFormat("%.4f", v / (base->*f)) : none;
}

// The table as rows of cells; used by the plain and the Markdown renderings.
std::vector<std::vector<std::string>> TableCells(const CompareReport& c) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"workload", "system", "ops/s", "x redis", "x aof", "p50 us", "x redis", "x aof", "p99 us",
                   "x redis", "x aof", "p99.9 us", "max us", "cpu us/op", "x redis", "errors"});
  for (const auto& r : c.rows) {
    const Summary* a = Find(c.rows, r.workload, RedisFor(r.system));
    const Summary* b = Find(c.rows, r.workload, RedisAofFor(r.system));
    cells.push_back({r.workload, r.system, Num(r.rps), a ? Ratio(r.rps, a->rps) : "-",
                     b ? Ratio(r.rps, b->rps) : "-", Num(r.p50_us), a ? Ratio(r.p50_us, a->p50_us) : "-",
                     b ? Ratio(r.p50_us, b->p50_us) : "-", Num(r.p99_us), a ? Ratio(r.p99_us, a->p99_us) : "-",
                     b ? Ratio(r.p99_us, b->p99_us) : "-", Num(r.p999_us), Num(r.max_us), Cpu(r.cpu_us_per_op),
                     a && r.cpu_us_per_op > 0 ? Ratio(r.cpu_us_per_op, a->cpu_us_per_op) : "-",
                     r.errors ? absl::StrCat(r.errors, " (", r.error_kinds, ")") : "0"});
  }
  return cells;
}

// In how many rounds a target beat its baseline twin run in the same round
// (more ops/s, lower p99, less CPU): "ops 4/5 p99 3/5 cpu 4/5". Medians of
// a few rounds on a shared machine can point one way while most rounds
// point the other; this says which.
std::string RoundsAhead(const Summary& r, const Summary& base) {
  const auto& a = r.per_round;
  const auto& b = base.per_round;
  if (a.empty() || a.size() != b.size()) return "-";
  int ops = 0, p99 = 0, cpu = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ops += a[i].rps > b[i].rps;
    p99 += a[i].p99_us < b[i].p99_us;
    cpu += a[i].cpu_us_per_op > 0 && a[i].cpu_us_per_op < b[i].cpu_us_per_op;
  }
  const size_t n = a.size();
  std::string out = absl::StrCat("ops ", ops, "/", n, " p99 ", p99, "/", n);
  if (a.front().cpu_us_per_op > 0) absl::StrAppend(&out, " cpu ", cpu, "/", n);
  return out;
}

// Each row that has a baseline counterpart, against it; just the header if none has.
std::vector<std::vector<std::string>> BaselineCells(const CompareReport& c) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"workload", "system", "vs", "ops/s", "base ops/s", "x base", "p99 us", "base p99 us", "x base",
                   "cpu us/op", "base cpu us/op", "x base", "rounds ahead"});
  for (const auto& r : c.rows) {
    const Summary* b = Find(c.rows, r.workload, BaselineName(r.system));
    if (b == nullptr) continue;
    cells.push_back({r.workload, r.system, b->system, Num(r.rps), Num(b->rps), Ratio(r.rps, b->rps), Num(r.p99_us),
                     Num(b->p99_us), Ratio(r.p99_us, b->p99_us), Cpu(r.cpu_us_per_op), Cpu(b->cpu_us_per_op),
                     r.cpu_us_per_op > 0 ? Ratio(r.cpu_us_per_op, b->cpu_us_per_op) : "-", RoundsAhead(r, *b)});
  }
  return cells;
}

// `left`: how many leading columns are left-aligned.
std::string MarkdownTable(const std::vector<std::vector<std::string>>& cells, size_t left) {
  std::string out;
  for (size_t r = 0; r < cells.size(); ++r) {
    out += "| " + absl::StrJoin(cells[r], " | ") + " |\n";
    if (r == 0) {
      std::vector<std::string> sep;
      for (size_t i = 0; i < cells[0].size(); ++i) sep.push_back(i < left ? "---" : "---:");
      out += "|" + absl::StrJoin(sep, "|") + "|\n";
    }
  }
  return out;
}

// Aligned columns, a blank line between workloads, the workload named once.
// `left`: how many leading columns are left-aligned (the last one always is).
std::string PlainTable(const std::vector<std::vector<std::string>>& cells, size_t left) {
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (size_t r = 0; r < cells.size(); ++r) {
    if (r > 1 && cells[r][0] != cells[r - 1][0]) out += "\n";
    for (size_t i = 0; i < cells[r].size(); ++i) {
      bool l = i < left || i + 1 == cells[r].size();
      std::string cell = (r > 1 && i == 0 && cells[r][0] == cells[r - 1][0]) ? "" : cells[r][i];
      out += l ? absl::StrFormat("%-*s", width[i], cell) : absl::StrFormat("%*s", width[i], cell);
      out += i + 1 == cells[r].size() ? "\n" : "  ";
    }
  }
  return out;
}

}  // namespace

Summary Summarize(const LoadResult& r) {
  Summary s;
  s.target_rate = r.target_rate;
  s.rps = r.rps;
  s.p50_us = Us(r.latency.ValueAtQuantile(0.5));
  s.p90_us = Us(r.latency.ValueAtQuantile(0.9));
  s.p99_us = Us(r.latency.ValueAtQuantile(0.99));
  s.p999_us = Us(r.latency.ValueAtQuantile(0.999));
  s.max_us = Us(r.latency.max());
  s.mean_us = r.latency.mean() / 1000.0;
  s.ok = r.measured_ok;
  s.errors = r.error_count();
  s.error_kinds = ErrorKinds(r.errors);
  return s;
}

Summary Median(const std::vector<Summary>& rounds) {
  if (rounds.empty()) return {};
  Summary m = rounds.front();
  auto med = [&](double Summary::*f) {
    std::vector<double> v;
    for (const auto& s : rounds) v.push_back(s.*f);
    m.*f = MedianOf(v);
  };
  med(&Summary::rps);
  med(&Summary::p50_us);
  med(&Summary::p90_us);
  med(&Summary::p99_us);
  med(&Summary::p999_us);
  med(&Summary::max_us);
  med(&Summary::mean_us);
  med(&Summary::cpu_us_per_op);
  m.per_round.clear();
  if (rounds.size() > 1) {
    for (const auto& s : rounds) m.per_round.push_back({s.rps, s.p99_us, s.cpu_us_per_op});
  }
  m.ok = 0;
  m.errors = 0;
  std::map<std::string, uint64_t> kinds;
  for (const auto& s : rounds) {
    m.ok += s.ok;
    m.errors += s.errors;
    for (absl::string_view part : absl::StrSplit(s.error_kinds, ' ', absl::SkipEmpty())) {
      size_t eq = part.rfind('=');
      uint64_t n = 0;
      if (eq != std::string_view::npos && absl::SimpleAtoi(part.substr(eq + 1), &n)) {
        kinds[std::string(part.substr(0, eq))] += n;
      }
    }
  }
  m.error_kinds = ErrorKinds(kinds);
  m.rounds = static_cast<int>(rounds.size());
  return m;
}

std::string FormatRun(const LoadResult& r, const std::string& title) {
  std::string out = absl::StrCat(title, "\n");
  absl::StrAppendFormat(&out, "  %s, %.2f s measured: %.0f ops/s (%d ok, %d errors)\n",
                        r.open_loop ? absl::StrFormat("open loop at %.0f ops/s", r.target_rate) : "closed loop",
                        r.measured_seconds, r.rps, r.measured_ok, r.error_count());
  absl::StrAppendFormat(&out, "  sent %d, answered %d (warm-up included)\n", r.sent, r.completed);
  auto line = [&](std::string_view name, const LatencyHistogram& h, uint64_t n) {
    absl::StrAppendFormat(&out, "  %-7s %9d ops  p50 %9.1f  p90 %9.1f  p99 %9.1f  p99.9 %9.1f  max %9.1f us\n",
                          name, n, Us(h.ValueAtQuantile(0.5)), Us(h.ValueAtQuantile(0.9)),
                          Us(h.ValueAtQuantile(0.99)), Us(h.ValueAtQuantile(0.999)), Us(h.max()));
  };
  line("all", r.latency, r.latency.count());
  int kinds = 0;
  for (int i = 0; i < kNumOps; ++i) kinds += r.ops_by_op[i] > 0;
  if (kinds > 1) {
    for (int i = 0; i < kNumOps; ++i) {
      if (r.ops_by_op[i] > 0) line(OpName(static_cast<Op>(i)), r.latency_by_op[i], r.latency_by_op[i].count());
    }
  }
  if (!r.errors.empty()) {
    out += "  errors by kind:\n";
    for (const auto& [k, v] : r.errors) absl::StrAppendFormat(&out, "    %-30s %d\n", k, v);
  }
  if (r.connections_failed > 0) absl::StrAppendFormat(&out, "  %d connections failed\n", r.connections_failed);
  return out;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

// The mount holding `path` (longest mount point that prefixes it), as "fstype on device".
std::string FilesystemOf(const std::string& path) {
  std::ifstream mounts("/proc/mounts");
  std::string dev, dir, type, rest, best, best_dir;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
    bool prefix = path == dir || (absl::StartsWith(path, dir) && (dir == "/" || path[dir.size()] == '/'));
    if (prefix && dir.size() >= best_dir.size()) {
      best_dir = dir;
      best = absl::StrCat(type, " on ", dev);
    }
  }
  if (best.empty()) return "unknown filesystem";
  if (absl::StartsWith(best, "tmpfs")) best += " (in memory: fsync costs nothing here!)";
  return best;
}

MachineInfo DescribeMachine(const std::string& redis_server, const std::string& tmp_root) {
  MachineInfo m;
  std::string root = tmp_root;
  if (root.empty()) root = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(root, ec);
  m.storage = absl::StrCat(root, ": ", FilesystemOf(ec ? root : canonical.string()));
  std::time_t now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m.date = buf;
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (absl::StartsWith(line, "model name") && m.cpu.empty()) {
      m.cpu = std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
    }
  }
  m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream mem("/proc/meminfo");
  while (std::getline(mem, line)) {
    if (absl::StartsWith(line, "MemTotal:")) {
      double kb = std::atof(line.substr(9).c_str());
      m.memory = absl::StrFormat("%.1f GiB", kb / 1024 / 1024);
      break;
    }
  }
  utsname u;
  if (uname(&u) == 0) m.kernel = absl::StrCat(u.sysname, " ", u.release, " ", u.machine);
  std::string cmd = redis_server + " --version 2>/dev/null";
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char vbuf[256] = {0};
    if (fgets(vbuf, sizeof(vbuf), f)) {
      std::string v(absl::StripAsciiWhitespace(vbuf));
      m.redis_version = v.substr(0, v.find(" sha="));  // "Redis server v=7.0.15"
    }
    pclose(f);
  }
  m.load_before = LoadAverage();
  return m;
}

std::string MachineInfo::Describe() const {
  return absl::StrCat(date, ", ", cpu.empty() ? "unknown CPU" : cpu, ", ", cores, " cores, ", memory, ", ", kernel,
                      ", ", redis_version, ", data in ", storage, "; load average before ", load_before,
                      load_after.empty() ? "" : absl::StrCat(", after ", load_after));
}

std::string FormatCompareTable(const CompareReport& c) {
  std::string out = absl::StrCat("anarcho-bench compare: ", c.machine.Describe(), "\n", c.settings, "\n\n",
                                 PlainTable(TableCells(c), 2));
  auto base = BaselineCells(c);
  if (base.size() > 1) {
    absl::StrAppend(&out, "\nvs baseline (x base = this / its base-* counterpart; rounds ahead: the rounds this ",
                    "target beat it in):\n\n", PlainTable(base, 3));
  }
  for (const auto& n : c.notes) absl::StrAppend(&out, "note: ", n, "\n");
  return out;
}

namespace {

// One row per target of a run with rounds: its ops/s and p99 in each round,
// in round order (the median above is one of them).
std::vector<std::vector<std::string>> RoundCells(const CompareReport& c) {
  std::vector<std::vector<std::string>> cells = {{"workload", "system", "ops/s by round", "p99 us by round"}};
  for (const auto& r : c.rows) {
    if (r.per_round.empty()) continue;
    std::vector<std::string> ops, p99;
    for (const Summary::Round& x : r.per_round) {
      ops.push_back(absl::StrFormat("%.0f", x.rps));
      p99.push_back(absl::StrFormat("%.0f", x.p99_us));
    }
    cells.push_back({r.workload, r.system, absl::StrJoin(ops, " / "), absl::StrJoin(p99, " / ")});
  }
  return cells;
}

}  // namespace

std::string FormatCompareMarkdown(const CompareReport& c) {
  std::string out = absl::StrCat("Measured ", c.machine.Describe(), ".\n\n", c.settings,
                                 " Ratios are to plain Redis (`x redis`) and to Redis with "
                                 "`appendfsync always` (`x aof`), a TLS row's (`*-tls`) to Redis over TLS "
                                 "(`redis-tls`); latencies in microseconds. `cpu us/op`: CPU time "
                                 "of the system's whole process tree (every node and its redis-server) per answered "
                                 "operation, warm-up included; steadier than ops/s on a shared machine.\n\n",
                                 MarkdownTable(TableCells(c), 2));
  auto base = BaselineCells(c);
  if (base.size() > 1) {
    absl::StrAppend(&out, "\n### vs baseline\n\nEach anarcho target against the same target run from the "
                          "baseline binary (`base-*`) in the same rounds: `x base` = this / baseline (above 1 is "
                          "better for ops/s, worse for p99 and cpu); `rounds ahead`: in how many rounds this "
                          "target beat its baseline run in the same round (more ops/s, lower p99, less CPU).\n\n",
                    MarkdownTable(base, 3));
  }
  auto rounds = RoundCells(c);
  if (rounds.size() > 1) {
    absl::StrAppend(&out, "\n### Rounds\n\nEach target's figures in every round, in round order (the rounds ran "
                          "interleaved, so a ratio of two targets can be read round by round).\n\n",
                    MarkdownTable(rounds, 2));
  }
  if (!c.notes.empty()) {
    out += "\n";
    for (const auto& n : c.notes) absl::StrAppend(&out, "- ", n, "\n");
  }
  return out;
}

std::string FormatSummaryCsv(const std::vector<Summary>& rows) {
  std::string out =
      "workload,system,connections,pipeline,target_rate,ops_per_s,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,ok,"
      "errors,error_kinds,rounds,cpu_us_per_op\n";
  for (const auto& r : rows) {
    absl::StrAppendFormat(&out, "%s,%s,%d,%d,%.0f,%.1f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%d,%d,%s,%d,%.3f\n",
                          CsvField(r.workload), CsvField(r.system), r.connections, r.pipeline, r.target_rate, r.rps,
                          r.p50_us, r.p90_us, r.p99_us, r.p999_us, r.max_us, r.mean_us, r.ok, r.errors,
                          CsvField(r.error_kinds), r.rounds, r.cpu_us_per_op);
  }
  return out;
}

std::string FormatCompareCsv(const CompareReport& c) {
  std::string out =
      "workload,system,connections,pipeline,ops_per_s,ops_ratio_redis,ops_ratio_aof,p50_us,p50_ratio_redis,"
      "p50_ratio_aof,p90_us,p99_us,p99_ratio_redis,p99_ratio_aof,p999_us,p999_ratio_redis,p999_ratio_aof,max_us,"
      "mean_us,ok,errors,error_kinds,rounds,cpu_us_per_op,cpu_ratio_redis,baseline_system,ops_ratio_baseline,"
      "p99_ratio_baseline,cpu_ratio_baseline\n";
  for (const auto& r : c.rows) {
    const Summary* a = Find(c.rows, r.workload, RedisFor(r.system));
    const Summary* b = Find(c.rows, r.workload, RedisAofFor(r.system));
    const Summary* base = Find(c.rows, r.workload, BaselineName(r.system));
    auto ratio = [](const Summary* to, double v, double Summary::*f) { return RatioField(to, v, f, ""); };
    absl::StrAppendFormat(
        &out, "%s,%s,%d,%d,%.1f,%s,%s,%.2f,%s,%s,%.2f,%.2f,%s,%s,%.2f,%s,%s,%.2f,%.2f,%d,%d,%s,%d,%.3f,%s,%s,%s,%s,%s\n",
        CsvField(r.workload), CsvField(r.system), r.connections, r.pipeline, r.rps, ratio(a, r.rps, &Summary::rps),
        ratio(b, r.rps, &Summary::rps), r.p50_us, ratio(a, r.p50_us, &Summary::p50_us),
        ratio(b, r.p50_us, &Summary::p50_us), r.p90_us, r.p99_us, ratio(a, r.p99_us, &Summary::p99_us),
        ratio(b, r.p99_us, &Summary::p99_us), r.p999_us, ratio(a, r.p999_us, &Summary::p999_us),
        ratio(b, r.p999_us, &Summary::p999_us), r.max_us, r.mean_us, r.ok, r.errors, CsvField(r.error_kinds),
        r.rounds, r.cpu_us_per_op, ratio(a, r.cpu_us_per_op, &Summary::cpu_us_per_op),
        base ? CsvField(base->system) : "", ratio(base, r.rps, &Summary::rps), ratio(base, r.p99_us, &Summary::p99_us),
        ratio(base, r.cpu_us_per_op, &Summary::cpu_us_per_op));
  }
  return out;
}

namespace {

std::string JsonMachine(const MachineInfo& m) {
  return absl::StrFormat(
      "{\"date\": \"%s\", \"cpu\": \"%s\", \"cores\": %d, \"memory\": \"%s\", \"kernel\": \"%s\", "
      "\"redis\": \"%s\", \"storage\": \"%s\", \"load_before\": \"%s\", \"load_after\": \"%s\"}",
      JsonEscape(m.date), JsonEscape(m.cpu), m.cores, JsonEscape(m.memory), JsonEscape(m.kernel),
      JsonEscape(m.redis_version), JsonEscape(m.storage), m.load_before, m.load_after);
}

// A median's rounds, in round order: how far apart they were.
std::string JsonRounds(const Summary& r) {
  std::string out;
  for (const Summary::Round& x : r.per_round) {
    absl::StrAppendFormat(&out, "%s{\"ops_per_s\": %.1f, \"p99_us\": %.2f, \"cpu_us_per_op\": %.3f}",
                          out.empty() ? "" : ", ", x.rps, x.p99_us, x.cpu_us_per_op);
  }
  return out;
}

std::string JsonRow(const CompareReport& c, const Summary& r) {
  const Summary* a = Find(c.rows, r.workload, RedisFor(r.system));
  const Summary* b = Find(c.rows, r.workload, RedisAofFor(r.system));
  const Summary* base = Find(c.rows, r.workload, BaselineName(r.system));
  auto ratio = [](const Summary* to, double v, double Summary::*f) { return RatioField(to, v, f, "null"); };
  std::string vs_base = "null";
  if (base) {
    vs_base = absl::StrFormat("{\"system\": \"%s\", \"ops_per_s\": %s, \"p50\": %s, \"p99\": %s, \"cpu\": %s}",
                              JsonEscape(base->system), ratio(base, r.rps, &Summary::rps),
                              ratio(base, r.p50_us, &Summary::p50_us), ratio(base, r.p99_us, &Summary::p99_us),
                              ratio(base, r.cpu_us_per_op, &Summary::cpu_us_per_op));
  }
  return absl::StrFormat(
      "{\"workload\": \"%s\", \"system\": \"%s\", \"connections\": %d, \"pipeline\": %d, \"ops_per_s\": %.1f, "
      "\"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, "
      "\"mean_us\": %.2f, \"ok\": %d, \"errors\": %d, \"error_kinds\": \"%s\", \"rounds\": %d, "
      "\"cpu_us_per_op\": %.3f, "
      "\"ratio_to_redis\": {\"ops_per_s\": %s, \"p50\": %s, \"p99\": %s, \"p999\": %s, \"cpu\": %s}, "
      "\"ratio_to_redis_aof\": {\"ops_per_s\": %s, \"p50\": %s, \"p99\": %s, \"p999\": %s}, "
      "\"ratio_to_baseline\": %s, \"per_round\": [%s]}",
      JsonEscape(r.workload), JsonEscape(r.system), r.connections, r.pipeline, r.rps, r.p50_us, r.p90_us, r.p99_us,
      r.p999_us, r.max_us, r.mean_us, r.ok, r.errors, JsonEscape(r.error_kinds), r.rounds, r.cpu_us_per_op,
      ratio(a, r.rps, &Summary::rps), ratio(a, r.p50_us, &Summary::p50_us), ratio(a, r.p99_us, &Summary::p99_us),
      ratio(a, r.p999_us, &Summary::p999_us), ratio(a, r.cpu_us_per_op, &Summary::cpu_us_per_op),
      ratio(b, r.rps, &Summary::rps), ratio(b, r.p50_us, &Summary::p50_us), ratio(b, r.p99_us, &Summary::p99_us),
      ratio(b, r.p999_us, &Summary::p999_us), vs_base, JsonRounds(r));
}

}  // namespace

std::string FormatCompareJson(const CompareReport& c) {
  std::string out = absl::StrCat("{\n  \"machine\": ", JsonMachine(c.machine), ",\n");
  absl::StrAppendFormat(&out, "  \"settings\": \"%s\",\n  \"notes\": [", JsonEscape(c.settings));
  for (size_t i = 0; i < c.notes.size(); ++i) {
    absl::StrAppendFormat(&out, "%s\"%s\"", i ? ", " : "", JsonEscape(c.notes[i]));
  }
  out += "],\n  \"results\": [\n";
  for (size_t i = 0; i < c.rows.size(); ++i) {
    absl::StrAppend(&out, "    ", JsonRow(c, c.rows[i]), i + 1 < c.rows.size() ? ",\n" : "\n");
  }
  out += "  ]\n}\n";
  return out;
}

std::string BaselineName(const std::string& system) {
  constexpr absl::string_view kPrefix = "anarcho-";
  if (!absl::StartsWith(system, kPrefix)) return "";
  return absl::StrCat("base-", system.substr(kPrefix.size()));
}

}  // namespace bench
