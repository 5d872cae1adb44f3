#include "bench/harness/timeseries.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bench {

namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr char kCsvHeader[] = "t_s,ops,errors,p50_us,p99_us,max_us,server_cpu_pct";

// The cumulative CPU at t_s, linear between the samples around it (clamped to
// the first and last).
double CpuAt(const std::vector<CpuSample>& s, double t_s) {
  if (t_s <= s.front().t_s) return s.front().cpu_s;
  for (size_t i = 1; i < s.size(); ++i) {
    if (t_s <= s[i].t_s) {
      double span = s[i].t_s - s[i - 1].t_s;
      double f = span > 0 ? (t_s - s[i - 1].t_s) / span : 1;
      return s[i - 1].cpu_s + f * (s[i].cpu_s - s[i - 1].cpu_s);
    }
  }
  return s.back().cpu_s;
}

// A gnuplot single-quoted string.
std::string Quoted(const std::string& s) { return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'"); }

}  // namespace

void PerSecond::Start(int64_t start_ns) { next_ns_ = start_ns + kSecondNs; }

void PerSecond::Answered(int64_t now_ns, bool ok, int64_t latency_ns) {
  Advance(now_ns);
  ++current_.ops;
  if (ok) latency_.Record(latency_ns);
}

void PerSecond::Errors(int64_t now_ns, uint64_t n) {
  Advance(now_ns);
  current_.errors += n;
}

std::vector<SecondRow> PerSecond::Finish(int64_t end_ns) {
  Advance(end_ns);
  Close();
  return std::move(rows_);
}

void PerSecond::Advance(int64_t now_ns) {
  while (now_ns >= next_ns_) {
    Close();
    next_ns_ += kSecondNs;
  }
}

void PerSecond::Close() {
  if (latency_.count() > 0) {
    current_.p50_ns = latency_.ValueAtQuantile(0.5);
    current_.p99_ns = latency_.ValueAtQuantile(0.99);
    current_.max_ns = latency_.max();
    latency_.Clear();
  }
  rows_.push_back(current_);
  current_ = SecondRow{.second = current_.second + 1};
}

void AttachCpu(const std::vector<CpuSample>& samples, std::vector<SecondRow>* rows) {
  if (samples.empty()) return;
  constexpr double kSlack = 0.1;
  for (SecondRow& r : *rows) {
    const double from = static_cast<double>(r.second), to = from + 1;
    if (samples.front().t_s > from + kSlack || samples.back().t_s < to - kSlack) continue;
    r.cpu_pct = 100 * std::max(0.0, CpuAt(samples, to) - CpuAt(samples, from));
  }
}

std::string FormatTimeSeriesCsv(const std::vector<SecondRow>& rows) {
  std::string out = absl::StrCat(kCsvHeader, "\n");
  for (const SecondRow& r : rows) {
    absl::StrAppendFormat(&out, "%d,%d,%d,%.1f,%.1f,%.1f,%s\n", r.second, r.ops, r.errors, r.p50_ns / 1e3,
                          r.p99_ns / 1e3, r.max_ns / 1e3, r.cpu_pct < 0 ? "" : absl::StrFormat("%.1f", r.cpu_pct));
  }
  return out;
}

absl::StatusOr<std::vector<SecondRow>> ParseTimeSeriesCsv(const std::string& text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty() || absl::StripTrailingAsciiWhitespace(lines[0]) != kCsvHeader) {
    return absl::InvalidArgumentError(absl::StrCat("not a time series: the first line is not ", kCsvHeader));
  }
  std::vector<SecondRow> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(absl::StripTrailingAsciiWhitespace(lines[i]), ',');
    SecondRow r;
    double us[3];
    bool ok = f.size() == 7 && absl::SimpleAtoi(f[0], &r.second) && absl::SimpleAtoi(f[1], &r.ops) &&
              absl::SimpleAtoi(f[2], &r.errors) && absl::SimpleAtod(f[3], &us[0]) && absl::SimpleAtod(f[4], &us[1]) &&
              absl::SimpleAtod(f[5], &us[2]) && (f[6].empty() || absl::SimpleAtod(f[6], &r.cpu_pct));
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("time series line ", i + 1, ": '", lines[i], "'"));
    r.p50_ns = std::llround(us[0] * 1e3);
    r.p99_ns = std::llround(us[1] * 1e3);
    r.max_ns = std::llround(us[2] * 1e3);
    rows.push_back(r);
  }
  return rows;
}

std::string TimeSeriesPlotScript(const std::string& csv, const std::string& png, const std::string& title,
                                 bool with_cpu) {
  const std::string data = Quoted(csv);
  std::string ops_plot = absl::StrCat("plot ", data, " skip 1 using 1:2 with steps lw 2 lc 1 title 'ops/s'");
  if (with_cpu) {
    absl::StrAppend(&ops_plot,
                    ", '' skip 1 using 1:7 axes x1y2 with steps lw 1 dt 2 lc 7 title 'server CPU (right axis)'");
  }
  return absl::StrCat("set terminal pngcairo size 1200,800 background rgb 'white'\n", "set output ", Quoted(png), "\n",
                      "set datafile separator comma\n", "set multiplot layout 2,1 title \"",
                      absl::StrReplaceAll(title, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
                      "\" noenhanced font ',11'\n", "set grid\nset key outside right top\n",
                      // The same plot area in both panels, whatever the width of its key.
                      "set lmargin at screen 0.08\nset rmargin at screen 0.78\n",
                      "set xlabel 'seconds since the load started (warm-up included)'\n",
                      "set ylabel 'operations answered per second'\nset yrange [0:*]\n",
                      with_cpu ? "set y2tics\nset format y2 '%g%%'\nset y2range [0:*]\n" : "", ops_plot, "\n",
                      "unset y2tics\n", "set ylabel 'latency (us)'\nset logscale y\nset yrange [*:*]\n", "plot ", data,
                      " skip 1 using 1:($5 > 0 ? $5 : 1/0) with steps lw 2 lc 1 title 'p99', ",
                      "'' skip 1 using 1:($4 > 0 ? $4 : 1/0) with steps lw 1 lc 2 title 'p50', ",
                      "'' skip 1 using 1:($6 > 0 ? $6 : 1/0) with steps lw 1 dt 3 lc 8 title 'max'\n",
                      "unset multiplot\n");
}

}  // namespace bench
