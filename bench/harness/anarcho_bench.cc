// anarcho-bench: how much throughput a durable Redis keeps, and what latency it
// adds, compared with the Redis you know.
//
//   anarcho-bench run --port 6380 [--workload mixed --connections 50 --pipeline 16 ...]
//   anarcho-bench run --port 6380 --rate 20000          (open loop)
//   anarcho-bench compare [--out_dir bench/results --curve]
//   anarcho-bench curve --out_dir bench/results
//   anarcho-bench selftest
//   anarcho-bench calibrate                             (this generator vs redis-benchmark)
//   anarcho-bench soak [--soak_seconds 600 --out_dir bench/results]   (sustained SET on a cluster)
//   anarcho-bench run --port 6380 --duration 60 --timeseries /tmp/ts.csv   (per second, plotted to /tmp/ts.png)
//   anarcho-bench compare --timeseries_dir /tmp/ts   (one per-second CSV and plot per system, workload, round)
//   anarcho-bench plot --timeseries /tmp/ts.csv [--out /tmp/ts.png]
//   anarcho-bench failover [--failover_kinds handover,kill --failover_trials 5 --out_dir bench/results]
//                                                       (write stall when a cluster's leader stops or is killed)
//
// run, compare, curve, soak and failover show their progress on stderr (run k of n,
// elapsed, ETA; --progress=false turns it off); stdout carries only the report.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "bench/harness/failover.h"
#include "bench/harness/flags.h"
#include "bench/harness/load_generator.h"
#include "bench/harness/procfs.h"
#include "bench/harness/progress.h"
#include "bench/harness/report.h"
#include "bench/harness/selftest.h"
#include "bench/harness/soak.h"
#include "bench/harness/soak_report.h"
#include "bench/harness/systems.h"
#include "bench/harness/timeseries.h"
#include "bench/harness/workload.h"
#include "node/cli.h"


namespace bench {
namespace {

namespace fs = std::filesystem;

std::string WorkloadLabel(const std::string& mix, int pipeline) { return absl::StrCat(mix, " P=", pipeline); }

// The width of the terminal stderr is, or 0 if it is none.
int StderrColumns() {
  if (!isatty(STDERR_FILENO)) return 0;
  winsize ws{};
  return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

// What the ETA plans for a run: its warm-up and measured seconds (with
// --requests, only the warm-up: the rest is learnt as overhead).
double PlannedSeconds(const LoadOptions& o) { return o.warmup_s + (o.requests > 0 ? 0 : o.duration_s); }

// Runs gnuplot on `script` in `dir`, where the script's relative paths point.
bool Gnuplot(const fs::path& dir, const std::string& script) {
  std::string cmd = absl::StrCat("cd '", dir.string(), "' && gnuplot '", script, "'");
  return std::system(cmd.c_str()) == 0;
}

fs::path PlotPathFor(const fs::path& csv) { return fs::path(csv).replace_extension(".png"); }

// Plots the time series `csv` to `png` with gnuplot, through a script beside
// the PNG (.gp).
absl::Status PlotTimeSeries(const fs::path& csv, const fs::path& png, const std::vector<SecondRow>& rows,
                            const std::string& title) {
  const bool with_cpu = std::any_of(rows.begin(), rows.end(), [](const SecondRow& r) { return r.cpu_pct >= 0; });
  const fs::path gp = fs::absolute(png).replace_extension(".gp");
  std::ofstream out(gp);
  out << TimeSeriesPlotScript(fs::absolute(csv).string(), fs::absolute(png).string(), title, with_cpu);
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", gp.string()));
  if (!Gnuplot(gp.parent_path(), gp.filename().string())) {
    return absl::InternalError(absl::StrCat("gnuplot failed on ", gp.string(), ": no ", png.string()));
  }
  return absl::OkStatus();
}

// Writes `rows` to `csv` (FormatTimeSeriesCsv) and plots them beside it.
absl::Status WriteTimeSeries(const fs::path& csv, const std::vector<SecondRow>& rows, const std::string& title) {
  std::error_code ec;
  if (csv.has_parent_path()) fs::create_directories(csv.parent_path(), ec);
  std::ofstream out(csv);
  out << FormatTimeSeriesCsv(rows);
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", csv.string()));
  return PlotTimeSeries(csv, PlotPathFor(csv), rows, title);
}

// The CSV of one run of compare/curve under --timeseries_dir (empty without
// it): the parts joined by '_', other characters than [A-Za-z0-9.-] as '_'.
std::string TimeSeriesPath(const std::vector<std::string>& parts) {
  const std::string dir = absl::GetFlag(FLAGS_timeseries_dir);
  if (dir.empty()) return "";
  std::string name = absl::StrJoin(parts, "_");
  for (char& ch : name) {
    if (!absl::ascii_isalnum(ch) && ch != '-' && ch != '.') ch = '_';
  }
  return (fs::path(dir) / (name + ".csv")).string();
}

// How a run is watched: its line in `progress` and, if `timeseries` is set,
// its per-second CSV and plot, titled `title`.
struct Watch {
  Progress* progress;
  std::string label;
  std::string timeseries;
  std::string title;
};

// RunLoad under a RunWatcher, which keeps the progress line up to date and,
// for a time series, samples the CPU of the process trees of `roots` each
// second.
LoadResult RunWatched(LoadOptions o, const WorkloadSpec& w, const std::vector<pid_t>& roots, const Watch& watch) {
  LoadProgress live;
  o.progress = &live;
  const bool series = !watch.timeseries.empty();
  watch.progress->Start(watch.label);
  RunWatcher watcher(live, series ? roots : std::vector<pid_t>{},
                     [&] { watch.progress->Tick(live.completed.load()); });
  LoadResult r = RunLoad(o, w);
  AttachCpu(watcher.Stop(), &r.per_second);
  watch.progress->Finish();
  if (series) {
    absl::Status st = WriteTimeSeries(watch.timeseries, r.per_second, watch.title);
    watch.progress->Log(st.ok() ? absl::StrCat("wrote ", watch.timeseries, " and ",
                                               PlotPathFor(watch.timeseries).string())
                                : std::string(st.message()));
  }
  return r;
}

// One run against a target, with the CPU its system's processes used meanwhile
// per answered operation.
Summary RunOn(const Target& t, LoadOptions o, const WorkloadSpec& w, const Watch& watch) {
  Aim(t, o);
  const std::vector<pid_t> roots = SystemRoots(t);
  const double before = TreeCpuSeconds(roots);
  LoadResult r = RunWatched(o, w, roots, watch);
  const double cpu_s = TreeCpuSeconds(roots) - before;
  Summary s = Summarize(r);
  s.system = t.name;
  s.connections = o.connections;
  s.pipeline = o.pipeline;
  s.cpu_us_per_op = r.completed > 0 ? cpu_s * 1e6 / r.completed : 0;
  return s;
}

bool WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    return false;
  }
  std::cerr << "wrote " << path.string() << "\n";
  return true;
}

// The processes of the server `run` loads, for its CPU: those listening on
// --port, if --host is this machine.
std::vector<pid_t> LocalServerPids(const LoadOptions& o) {
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1") return {};
  return PidsListeningOn(o.port);
}

int Run() {
  LoadOptions o = OptionsFromFlags();
  if (o.port <= 0) {
    std::cerr << "run: --port is required\n";
    return 2;
  }
  if (o.port == 6379) std::cerr << "warning: loading port 6379\n";
  auto w = WorkloadFromFlags(absl::GetFlag(FLAGS_workload));
  if (!w.ok()) {
    std::cerr << w.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_preload)) {
    if (auto st = Preload(o.host, o.port, *w); !st.ok()) {
      std::cerr << "preload failed: " << st.message() << "\n";
      return 1;
    }
  }
  std::string title = absl::StrFormat("%s:%d  workload %s (%s), %d connections, pipeline %d, keyspace %d %s, value %d B",
                                      o.host, o.port, w->name, w->MixString(), o.connections, o.pipeline, w->keyspace,
                                      w->zipf > 0 ? absl::StrFormat("zipf %.2f", w->zipf) : "uniform", w->value_size);
  Progress progress(absl::GetFlag(FLAGS_progress), StderrColumns(), std::cerr);
  progress.Plan({PlannedSeconds(o)});
  const std::string series = absl::GetFlag(FLAGS_timeseries);
  const std::vector<pid_t> server = series.empty() ? std::vector<pid_t>{} : LocalServerPids(o);
  if (!series.empty() && server.empty()) {
    std::cerr << "run: no process this user can see listens on port " << o.port << ": no server CPU in "
              << series << "\n";
  }
  const std::string label = absl::StrCat(o.host, ":", o.port, " ", WorkloadLabel(w->name, o.pipeline));
  LoadResult r = RunWatched(o, *w, server, {&progress, label, series, absl::StrReplaceAll(title, {{"  ", "\n"}})});
  progress.Done();
  Summary s = Summarize(r);
  s.system = absl::StrCat(o.host, ":", o.port);
  s.workload = WorkloadLabel(w->name, o.pipeline);
  s.connections = o.connections;
  s.pipeline = o.pipeline;
  std::string format = absl::GetFlag(FLAGS_format);
  if (format == "csv") {
    std::cout << FormatSummaryCsv({s});
  } else if (format == "json") {
    CompareReport c;
    c.machine = DescribeMachine(absl::GetFlag(FLAGS_redis_server), absl::GetFlag(FLAGS_tmp_dir));
    c.rows = {s};
    c.settings = title;
    std::cout << FormatCompareJson(c);
  } else {
    std::cout << FormatRun(r, title);
  }
  return r.error_count() == 0 ? 0 : 3;
}

struct Cell {
  std::string mix;
  int pipeline;
};

absl::StatusOr<std::vector<Cell>> ParseCells(const std::string& spec) {
  std::vector<Cell> cells;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<std::string> mp = absl::StrSplit(part, absl::MaxSplits('@', 1));
    Cell c{mp[0], 1};
    if (mp.size() == 2 && (!absl::SimpleAtoi(mp[1], &c.pipeline) || c.pipeline < 1)) {
      return absl::InvalidArgumentError(absl::StrCat("bad workload '", part, "' (expected mix@pipeline)"));
    }
    if (auto w = ParseWorkload(c.mix); !w.ok()) return w.status();
    cells.push_back(c);
  }
  return cells;
}

// Fills, on every target, the keys any workload reads.
void PreloadAll(const std::vector<Target>& targets, std::vector<std::string>* notes) {
  auto w = WorkloadFromFlags("get=1,lrange=1");
  for (const auto& t : targets) {
    if (auto st = Preload(t.host, t.port, *w); !st.ok()) {
      notes->push_back(absl::StrCat("preload of ", t.name, " failed: ", st.message()));
    }
  }
}

// --curve_fractions: the curve's open-loop rates, as fractions of each peak.
std::vector<double> CurveFractions() {
  std::vector<double> fractions;
  for (absl::string_view f : absl::StrSplit(absl::GetFlag(FLAGS_curve_fractions), ',', absl::SkipEmpty())) {
    double v;
    if (absl::SimpleAtod(f, &v) && v > 0) fractions.push_back(v);
  }
  return fractions;
}

// The curve's runs: every target's options, with a point's duration.
LoadOptions CurveOptions() {
  LoadOptions base = OptionsFromFlags();
  base.duration_s = absl::GetFlag(FLAGS_curve_duration);
  return base;
}

// Each target's closed-loop throughput at --curve_probe_pipeline, which the
// curve's rates are fractions of.
std::vector<double> ProbePeaks(const std::vector<Target>& targets, const WorkloadSpec& w, Progress& progress) {
  std::vector<double> peak;
  for (const auto& t : targets) {
    LoadOptions o = CurveOptions();
    Aim(t, o);
    o.rate = 0;
    o.pipeline = absl::GetFlag(FLAGS_curve_probe_pipeline);
    LoadResult r = RunWatched(o, w, {}, {&progress, absl::StrCat("curve: peak of ", t.name), "", ""});
    peak.push_back(r.rps);
    progress.Log(absl::StrFormat("curve: %s peak %.0f ops/s (closed loop, pipeline %d)", t.name, r.rps, o.pipeline));
  }
  return peak;
}

// One open-loop curve point per (system, fraction), interleaved across systems.
std::vector<Summary> MeasureCurve(const std::vector<Target>& targets, Progress& progress,
                                  std::vector<std::string>* notes) {
  std::vector<Summary> points;
  auto w = WorkloadFromFlags(absl::GetFlag(FLAGS_curve_workload));
  if (!w.ok()) {
    notes->push_back(std::string(w.status().message()));
    return points;
  }
  const std::vector<double> peak = ProbePeaks(targets, *w, progress);
  for (double f : CurveFractions()) {
    for (size_t i = 0; i < targets.size(); ++i) {
      if (peak[i] <= 0) {
        progress.Skip();
        continue;
      }
      LoadOptions o = CurveOptions();
      o.rate = peak[i] * f;
      const std::string label = absl::StrFormat("curve: %s at %.2f x peak", targets[i].name, f);
      Summary s = RunOn(targets[i], o, *w,
                        {&progress, label, TimeSeriesPath({"curve", targets[i].name, absl::StrFormat("x%.2f", f)}),
                         absl::StrFormat("%s, %.0f ops/s offered, open loop", label, o.rate)});
      s.workload = absl::StrCat(w->name, " open loop");
      s.pipeline = 0;
      progress.Log(absl::StrFormat(
          "curve: %-20s target %8.0f achieved %8.0f ops/s  p50 %8.1f p99 %9.1f us  cpu %6.1f us/op  errors %d",
          s.system, o.rate, s.rps, s.p50_us, s.p99_us, s.cpu_us_per_op, s.errors));
      points.push_back(s);
    }
  }
  return points;
}

// Writes curve.dat/.gp/.csv and renders curve.svg and curve.png with gnuplot.
void PlotCurve(const std::vector<Summary>& points, const std::vector<Target>& targets, const MachineInfo& machine,
               const fs::path& dir, std::vector<std::string>* notes) {
  std::string dat;
  std::vector<std::string> names;
  for (const auto& t : targets) {
    std::string block;
    for (const auto& p : points) {
      if (p.system == t.name) {
        absl::StrAppendFormat(&block, "%.0f %.1f %.2f %.2f %.2f\n", p.target_rate, p.rps, p.p50_us, p.p99_us,
                              p.p999_us);
      }
    }
    if (block.empty()) continue;
    absl::StrAppend(&dat, "# ", t.name, ": target_ops_per_s achieved_ops_per_s p50_us p99_us p999_us\n", block,
                    "\n\n");
    names.push_back(t.name);
  }
  WriteFile(dir / "curve.dat", dat);
  WriteFile(dir / "curve.csv", FormatSummaryCsv(points));
  std::string title = absl::StrFormat(
      "Latency vs throughput, open loop, %s, %d connections (%s, %d cores, %s)", absl::GetFlag(FLAGS_curve_workload),
      absl::GetFlag(FLAGS_connections), machine.date.substr(0, 10), machine.cores, machine.cpu);
  std::string plot;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppendFormat(&plot, "%s'curve.dat' index %d using 2:4 with linespoints lw 2 lc %d pt 7 title '%s p99', "
                                 "'' index %d using 2:3 with linespoints lw 1 lc %d dt 2 pt 6 title '%s p50'",
                          i ? ", \\\n     " : "", i, i + 1, names[i], i, i + 1, names[i]);
  }
  std::string common = absl::StrCat(
      "set title \"", title, "\" noenhanced\n", "set xlabel 'achieved throughput (operations/s)'\n",
      "set ylabel 'latency from intended send time (us)'\n", "set logscale xy\n", "set format y '%g'\n", "set grid\n",
      "set key outside right top noenhanced\n", "set format x '%.0s%c'\n", "plot ", plot, "\n");
  std::string gp = absl::StrCat("set terminal svg size 1100,600 dynamic background rgb 'white'\n",
                                "set output 'curve.svg'\n", common,
                                "set terminal pngcairo size 1100,600 background rgb 'white'\n",
                                "set output 'curve.png'\n", "replot\n");
  WriteFile(dir / "curve.gp", gp);
  if (!Gnuplot(dir, "curve.gp")) notes->push_back("gnuplot failed: no curve.svg/curve.png");
}

// Every workload on every target, `rounds` times round robin; the median per target.
std::vector<Summary> MeasureTable(const std::vector<Cell>& cells, const std::vector<Target>& targets,
                                  const LoadOptions& base, int rounds, Progress& progress) {
  std::vector<Summary> rows;
  for (const auto& cell : cells) {
    auto w = WorkloadFromFlags(cell.mix);
    std::vector<std::vector<Summary>> per_target(targets.size());
    for (int round = 0; round < rounds; ++round) {
      for (size_t k = 0; k < targets.size(); ++k) {
        size_t i = (k + round) % targets.size();  // rotate who goes first
        LoadOptions o = base;
        o.pipeline = cell.pipeline;
        o.rate = 0;
        o.seed = base.seed + round;
        const std::string label = absl::StrFormat("round %d/%d %s on %s", round + 1, rounds,
                                                  WorkloadLabel(cell.mix, cell.pipeline), targets[i].name);
        Summary s = RunOn(targets[i], o, *w,
                          {&progress, label,
                           TimeSeriesPath({targets[i].name, cell.mix, absl::StrCat("P", cell.pipeline),
                                           absl::StrCat("round", round + 1)}),
                           label});
        progress.Log(absl::StrFormat(
            "round %d  %-16s %-18s %9.0f ops/s  p50 %8.1f  p99 %8.1f us  cpu %6.1f us/op  errors %d", round + 1,
            WorkloadLabel(cell.mix, cell.pipeline), targets[i].name, s.rps, s.p50_us, s.p99_us, s.cpu_us_per_op,
            s.errors));
        per_target[i].push_back(s);
      }
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      Summary m = Median(per_target[i]);
      m.system = targets[i].name;
      m.workload = WorkloadLabel(cell.mix, cell.pipeline);
      m.connections = base.connections;
      m.pipeline = cell.pipeline;
      rows.push_back(m);
    }
  }
  return rows;
}

void WriteCompare(const CompareReport& report, const std::vector<Summary>& points, const std::vector<Target>& targets,
                  bool table, bool curve) {
  std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (!out_dir.empty()) {
    fs::create_directories(out_dir);
    std::vector<std::string> notes = report.notes;
    if (curve) PlotCurve(points, targets, report.machine, out_dir, &notes);
    if (table) {
      std::string md = FormatCompareMarkdown(report);
      if (curve) md += "\nLatency versus throughput (open loop): curve.svg / curve.png beside this file.\n";
      WriteFile(fs::path(out_dir) / "latest.md", md);
      WriteFile(fs::path(out_dir) / "compare.csv", FormatCompareCsv(report));
      WriteFile(fs::path(out_dir) / "compare.json", FormatCompareJson(report));
    }
  }
  std::string format = absl::GetFlag(FLAGS_format);
  if (table) {
    if (format == "csv") {
      std::cout << FormatCompareCsv(report);
    } else if (format == "json") {
      std::cout << FormatCompareJson(report);
    } else if (format == "markdown") {
      std::cout << FormatCompareMarkdown(report);
    } else {
      std::cout << FormatCompareTable(report);
    }
  } else {
    std::cout << FormatSummaryCsv(points);
    for (const auto& n : report.notes) std::cout << "note: " << n << "\n";
  }
}

// The planned seconds of compare's runs: `table_runs` of the table, then, for
// the curve, a probe and a point per fraction for each of `targets`.
std::vector<double> PlannedRuns(size_t table_runs, size_t targets, const LoadOptions& base, bool curve) {
  std::vector<double> plan(table_runs, PlannedSeconds(base));
  if (curve) plan.insert(plan.end(), targets * (1 + CurveFractions().size()), PlannedSeconds(CurveOptions()));
  return plan;
}

int Compare(bool table, bool curve) {
  std::vector<Cell> cells;
  if (table) {
    auto c = ParseCells(absl::GetFlag(FLAGS_workloads));
    if (!c.ok()) {
      std::cerr << c.status().message() << "\n";
      return 2;
    }
    cells = *c;
  }
  std::vector<std::string> names = absl::StrSplit(absl::GetFlag(FLAGS_systems), ',', absl::SkipEmpty());
  Progress progress(absl::GetFlag(FLAGS_progress), StderrColumns(), std::cerr);  // elapsed counts from here
  CompareReport report;
  report.machine = DescribeMachine(absl::GetFlag(FLAGS_redis_server), absl::GetFlag(FLAGS_tmp_dir));
  std::cerr << "machine: " << report.machine.Describe() << "\n";
  Systems systems(SystemsFromFlags());
  if (auto st = systems.Start(names); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  for (const auto& n : systems.notes()) std::cerr << "note: " << n << "\n";
  const std::vector<Target> targets = systems.targets();
  if (targets.empty()) {
    std::cerr << "no system could be started\n";
    return 1;
  }
  for (const auto& t : targets) {
    std::cerr << "started " << t.name << " on port " << t.port << ": " << t.description << " (CPU of "
              << ProcessTree(SystemRoots(t), ListProcesses()).size() << " processes counted)\n";
  }
  PreloadAll(targets, &report.notes);

  int rounds = std::max(absl::GetFlag(FLAGS_rounds), 1);
  LoadOptions base = OptionsFromFlags();
  report.settings = absl::StrFormat(
      "%d connections, keyspace %d (%s), %d-byte %s values, %.1f s warm-up + %.1f s measured per run, %d rounds "
      "interleaved round robin, median reported.",
      base.connections, Keyspace(10000),
      absl::GetFlag(FLAGS_zipf) > 0 ? absl::StrFormat("zipf %.2f", absl::GetFlag(FLAGS_zipf)) : "uniform",
      absl::GetFlag(FLAGS_value_size), RandomValues(false) ? "random" : "constant", base.warmup_s, base.duration_s,
      rounds);
  progress.Plan(PlannedRuns(cells.size() * rounds * targets.size(), targets.size(), base, curve));
  report.rows = MeasureTable(cells, targets, base, rounds, progress);
  std::vector<Summary> points;
  if (curve) points = MeasureCurve(targets, progress, &report.notes);
  progress.Done();
  report.machine.load_after = LoadAverage();
  systems.Stop();
  for (const auto& n : systems.notes()) report.notes.push_back(n);
  WriteCompare(report, points, targets, table, curve);
  return 0;
}

SoakSettings SoakSettingsFromFlags() {
  SoakSettings s;
  SoakOptions& o = s.options;
  o.seconds = absl::GetFlag(FLAGS_soak_seconds);
  o.interval_s = std::max(absl::GetFlag(FLAGS_soak_interval), 0.5);
  o.keyspace = Keyspace(1000000);
  o.value_size = absl::GetFlag(FLAGS_value_size);
  o.random_values = RandomValues(true);
  o.pipeline = absl::GetFlag(FLAGS_pipeline) > 0 ? absl::GetFlag(FLAGS_pipeline) : 16;
  o.connections = std::max(absl::GetFlag(FLAGS_connections), 1);
  o.preload = absl::GetFlag(FLAGS_soak_preload);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.restart_timeout_s = absl::GetFlag(FLAGS_soak_restart_timeout);
  o.progress = absl::GetFlag(FLAGS_progress);
  o.cpu_per_second = !absl::GetFlag(FLAGS_timeseries).empty();
  s.node_args = absl::StrSplit(absl::GetFlag(FLAGS_node_args), ',', absl::SkipEmpty());
  s.snapshot_log_bytes = FlagValue(s.node_args, "snapshot_log_bytes", 64ULL << 20);
  s.keep_entries = FlagValue(s.node_args, "snapshot_keep_entries", 10000);
  s.node_bin = FindBinary(absl::GetFlag(FLAGS_anarchoredis), "node/anarchoredis", "anarchoredis");
  s.machine = DescribeMachine(absl::GetFlag(FLAGS_redis_server), absl::GetFlag(FLAGS_tmp_dir));
  return s;
}

// soak.csv, soak.md, soak.dat, soak.gp and soak.png (gnuplot) in --out_dir.
void WriteSoak(const SoakResult& r, const SoakSettings& s, const std::string& md) {
  fs::path dir = absl::GetFlag(FLAGS_out_dir);
  fs::create_directories(dir);
  WriteFile(dir / "soak.csv", FormatSoakCsv(r));
  WriteFile(dir / "soak.md", md);
  WriteFile(dir / "soak.dat", SoakPlotData(r));
  std::string title = absl::StrFormat(
      "anarcho-bench soak: 3 nodes, SET pipeline %d, %d connections, keyspace %d, %d B values (%s, %d cores, %s)",
      s.options.pipeline, s.options.connections, s.options.keyspace, s.options.value_size,
      s.machine.date.substr(0, 10), s.machine.cores, s.machine.cpu);
  WriteFile(dir / "soak.gp", SoakPlotScript(r, title));
  if (!Gnuplot(dir, "soak.gp")) std::cerr << "gnuplot failed: no soak.png\n";
}

// Starts the three-node cluster of soak and failover (`mode`, for messages):
// its leader's target, or null (said on stderr).
const Target* StartCluster(Systems& systems, const std::string& mode) {
  if (auto st = systems.Start({"cluster"}); !st.ok()) {
    std::cerr << st.message() << "\n";
    return nullptr;
  }
  for (const auto& t : systems.targets()) {
    if (t.name == "anarcho-3-leader") {
      std::cerr << mode << ": cluster in " << t.cluster_dir << ", leader on port " << t.port << "\n";
      return &t;
    }
  }
  std::cerr << mode << ": the cluster did not start: " << (systems.notes().empty() ? "" : systems.notes().front())
            << "\n";
  return nullptr;
}

int Soak() {
  SoakSettings settings = SoakSettingsFromFlags();
  std::cerr << "machine: " << settings.machine.Describe() << "\n";
  Systems systems(SystemsFromFlags());
  const Target* leader = StartCluster(systems, "soak");
  if (leader == nullptr) return 1;
  SoakResult r = RunSoak(settings.options, *leader);
  settings.machine.load_after = LoadAverage();
  if (r.restart.pid > 0) Terminate(r.restart.pid);  // ours now; `cluster stop` would wait on it
  systems.Stop();
  for (const auto& n : systems.notes()) r.notes.push_back(n);
  std::string md = FormatSoakMarkdown(r, settings);
  if (!absl::GetFlag(FLAGS_out_dir).empty()) WriteSoak(r, settings, md);
  if (const std::string series = absl::GetFlag(FLAGS_timeseries); !series.empty()) {
    absl::Status st = WriteTimeSeries(series, r.load.per_second, "anarcho-bench soak: SET on the cluster's leader");
    std::cerr << (st.ok() ? absl::StrCat("wrote ", series, " and ", PlotPathFor(series).string())
                          : std::string(st.message()))
              << "\n";
  }
  std::cout << md;
  return r.restart.ok && r.load.error_count() == 0 ? 0 : 3;
}

// anarcho-bench failover: the table on stdout; failover.md and failover.csv in --out_dir.
int Failover() {
  FailoverOptions o;
  o.kinds = absl::StrSplit(absl::GetFlag(FLAGS_failover_kinds), ',', absl::SkipEmpty());
  o.trials = absl::GetFlag(FLAGS_failover_trials);
  const bool known = std::all_of(o.kinds.begin(), o.kinds.end(), [](const std::string& k) {
    return k == "handover" || k == "kill";
  });
  if (o.kinds.empty() || !known || o.trials < 1) {
    std::cerr << "failover: --failover_kinds takes handover and/or kill, --failover_trials at least 1\n";
    return 2;
  }
  MachineInfo machine = DescribeMachine(absl::GetFlag(FLAGS_redis_server), absl::GetFlag(FLAGS_tmp_dir));
  std::cerr << "machine: " << machine.Describe() << "\n";
  Progress progress(absl::GetFlag(FLAGS_progress), StderrColumns(), std::cerr);
  Systems systems(SystemsFromFlags());
  const Target* leader = StartCluster(systems, "failover");
  if (leader == nullptr) return 1;
  auto trials = RunFailover(o, leader->cluster_dir, progress);
  progress.Done();
  systems.Stop();
  for (const auto& n : systems.notes()) std::cerr << "note: " << n << "\n";
  if (!trials.ok()) {
    std::cerr << "failover: " << trials.status().message() << "\n";
    return 1;
  }
  std::cout << FormatFailoverTable(SummarizeFailover(*trials));
  if (const fs::path dir = absl::GetFlag(FLAGS_out_dir); !dir.empty()) {
    fs::create_directories(dir);
    const std::string header = absl::StrFormat(
        "Machine: %s.\n\nA three-node cluster (anarcho-admin, node flags: %s); per trial one writer, one connection "
        "through a follower that survives, one SET at a time on new keys: %.0f s of writes, then the leader's "
        "signal, then writes until they have gone on for %.0f s; the stopped node is started again and caught up "
        "before the next trial.",
        machine.Describe(), absl::GetFlag(FLAGS_node_args).empty() ? "none" : absl::GetFlag(FLAGS_node_args),
        o.before_s, o.after_s);
    WriteFile(dir / "failover.md", FormatFailoverMarkdown(*trials, header));
    WriteFile(dir / "failover.csv", FormatFailoverCsv(*trials));
  }
  const bool all_ran = trials->size() == o.kinds.size() * static_cast<size_t>(o.trials);
  const bool clean = std::all_of(trials->begin(), trials->end(), [](const FailoverTrial& t) {
    return t.failure.empty();
  });
  return all_ran && clean ? 0 : 3;
}

// anarcho-bench plot --timeseries FILE [--out FILE.png]
int Plot() {
  const fs::path csv = absl::GetFlag(FLAGS_timeseries);
  if (csv.empty()) {
    std::cerr << "plot: --timeseries FILE is required\n";
    return 2;
  }
  std::ifstream in(csv);
  std::stringstream text;
  text << in.rdbuf();
  auto rows = ParseTimeSeriesCsv(text.str());
  if (!in || !rows.ok() || rows->empty()) {
    std::cerr << "plot: " << csv.string() << ": "
              << (!in ? "cannot read" : !rows.ok() ? rows.status().message() : "no rows") << "\n";
    return 1;
  }
  const fs::path png = absl::GetFlag(FLAGS_out).empty() ? PlotPathFor(csv) : fs::path(absl::GetFlag(FLAGS_out));
  if (auto st = PlotTimeSeries(csv, png, *rows, csv.filename().string()); !st.ok()) {
    std::cerr << "plot: " << st.message() << "\n";
    return 1;
  }
  std::cerr << "wrote " << png.string() << "\n";
  return 0;
}

void OnSignal(int sig) {
  KillAllSpawned();
  _exit(128 + sig);
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  static const node::cli::Program program{
      "anarcho-bench",
      "benchmarks Redis-compatible servers: anarchoredis against the Redis you know",
      "  anarcho-bench run --port P [--workload mixed --connections 50 --pipeline 16 | --rate R]\n"
      "  anarcho-bench compare [--systems ... --workloads set@1,get@16 --rounds 2 --out-dir DIR --curve]\n"
      "  anarcho-bench curve --out-dir DIR      latency-versus-throughput curve only\n"
      "  anarcho-bench selftest                 1 s of mixed load on a temporary redis-server, checked\n"
      "  anarcho-bench calibrate                this generator vs redis-benchmark on plain redis\n"
      "  anarcho-bench soak [--soak-seconds 600 --soak-interval 5 --node-args=... --out-dir DIR]\n"
      "                                         sustained SET on a 3-node cluster: memory, disk, snapshots, restart\n"
      "  anarcho-bench plot --timeseries FILE.csv [--out FILE.png]\n"
      "                                         plots a per-second CSV of run/soak --timeseries or --timeseries-dir\n"
      "  anarcho-bench failover [--failover-kinds handover,kill --failover-trials 5 --out-dir DIR]   write stalls\n"
      "run, compare, curve and soak show progress and an ETA on stderr (--progress=false: off).\n",
      "bench/harness/flags.cc",
      {}};
  const node::cli::Parsed parsed = node::cli::Parse(argc, argv, program);
  if (parsed.exit_code) return *parsed.exit_code;
  signal(SIGINT, bench::OnSignal);
  signal(SIGTERM, bench::OnSignal);
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = parsed.positional.empty() ? "" : parsed.positional[0];
  if (mode == "run") return bench::Run();
  if (mode == "compare") return bench::Compare(true, absl::GetFlag(FLAGS_curve));
  if (mode == "curve") return bench::Compare(false, true);
  if (mode == "selftest") return bench::SelfTest();
  if (mode == "calibrate") return bench::Calibrate();
  if (mode == "soak") return bench::Soak();
  if (mode == "plot") return bench::Plot();
  if (mode == "failover") return bench::Failover();
  std::cerr << "usage: anarcho-bench run|compare|curve|selftest|calibrate|soak|plot|failover [flags]; "
               "--help for flags\n";
  return 2;
}
