#include "bench/harness/selftest.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/harness/flags.h"
#include "bench/harness/load_generator.h"
#include "bench/harness/report.h"
#include "bench/harness/systems.h"
#include "bench/harness/workload.h"

namespace bench {
namespace {

bool CheckRun(const std::string& what, const LoadResult& r) {
  bool ok = true;
  auto check = [&](bool cond, const std::string& msg) {
    if (!cond) {
      std::cerr << "selftest FAILED (" << what << "): " << msg << "\n";
      ok = false;
    }
  };
  const LatencyHistogram& h = r.latency;
  check(r.error_count() == 0, absl::StrCat("errors: ", r.error_count()));
  check(r.sent > 0 && r.sent == r.completed, absl::StrCat("sent ", r.sent, ", answered ", r.completed));
  check(r.measured_ok > 0 && r.measured_ok == r.measured, absl::StrCat("measured ", r.measured, ", ok ", r.measured_ok));
  check(h.count() == r.measured_ok, "histogram count differs from measured operations");
  int64_t p50 = h.ValueAtQuantile(0.5), p90 = h.ValueAtQuantile(0.9), p99 = h.ValueAtQuantile(0.99),
          p999 = h.ValueAtQuantile(0.999);
  check(h.min() <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= h.max() && h.min() > 0,
        absl::StrCat("percentiles out of order: ", h.min(), " ", p50, " ", p90, " ", p99, " ", p999, " ", h.max()));
  uint64_t kinds = 0;
  for (uint64_t n : r.ops_by_op) kinds += n > 0;
  check(what != "mixed closed loop" || kinds == kNumOps, "not every operation kind of the mix was sent");
  std::cerr << FormatRun(r, "selftest: " + what);
  return ok;
}

// redis-server's count of connections it accepted (-1: unknown).
int64_t ConnectionsReceived(const Target& t) {
  BlockingClient c;
  if (!c.Connect(t.host, t.port).ok()) return -1;
  auto v = c.Call({"INFO", "stats"});
  if (!v.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(v->str, "\r\n")) {
    int64_t n = 0;
    if (absl::ConsumePrefix(&line, "total_connections_received:") && absl::SimpleAtoi(line, &n)) return n;
  }
  return -1;
}

// The load over TLS, and every GET on a connection of its own (plain and
// TLS): all answered, and the server accepted a connection for each.
bool SelfTestTls(Systems& systems, const WorkloadSpec& mixed) {
  if (auto st = systems.Start({"redis-tls"}); !st.ok() || systems.targets().size() < 2) {
    std::cerr << "selftest FAILED: cannot start redis-server with TLS: "
              << (systems.notes().empty() ? std::string(st.message()) : systems.notes().back()) << "\n";
    return false;
  }
  const Target& tls = systems.targets().back();
  LoadOptions o;
  o.connections = 4;
  o.pipeline = 8;
  o.warmup_s = 0.2;
  o.duration_s = 1;
  Aim(tls, o);
  bool ok = CheckRun("mixed closed loop over TLS", RunLoad(o, mixed));
  auto connect = ParseWorkload("connect");
  connect->keyspace = mixed.keyspace;
  o.pipeline = 1;
  for (const Target* t : {&systems.targets().front(), &tls}) {
    Aim(*t, o);
    const int64_t before = ConnectionsReceived(*t);
    LoadResult fresh = RunLoad(o, *connect);
    const int64_t accepted = ConnectionsReceived(*t) - before - 1;  // less the count's own
    ok = CheckRun(absl::StrCat("a new connection per GET on ", t->name), fresh) && ok;
    if (before < 0 || accepted < static_cast<int64_t>(fresh.completed)) {
      std::cerr << "selftest FAILED: " << fresh.completed << " GETs on new connections, but the server accepted "
                << accepted << "\n";
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int SelfTest() {
  Systems systems(SystemsFromFlags());
  if (auto st = systems.Start({"redis"}); !st.ok() || systems.targets().empty()) {
    std::cerr << "selftest: cannot start redis-server: "
              << (systems.notes().empty() ? std::string(st.message()) : systems.notes().front()) << "\n";
    return 1;
  }
  const Target& t = systems.targets().front();
  auto w = ParseWorkload("mixed");
  w->keyspace = 1000;
  if (auto st = Preload(t.host, t.port, *w); !st.ok()) {
    std::cerr << "selftest: preload failed: " << st.message() << "\n";
    return 1;
  }
  LoadOptions o;
  o.port = t.port;
  o.connections = 4;
  o.pipeline = 8;
  o.warmup_s = 0.2;
  o.duration_s = 1;
  bool ok = CheckRun("mixed closed loop", RunLoad(o, *w));
  o.rate = 2000;
  ok = CheckRun("mixed open loop at 2000/s", RunLoad(o, *w)) && ok;
  o.rate = 0;
  o.requests = 5000;
  LoadResult counted = RunLoad(o, *w);
  ok = CheckRun("mixed, 5000 requests", counted) && ok;
  if (counted.measured != 5000) {
    std::cerr << "selftest FAILED: asked for 5000 requests, measured " << counted.measured << "\n";
    ok = false;
  }
  ok = SelfTestTls(systems, *w) && ok;
  std::cout << (ok ? "selftest passed\n" : "selftest FAILED\n");
  return ok ? 0 : 1;
}

// This generator against redis-benchmark on plain redis, same connections and
// pipeline: if the ratio is near 1 (or above), the generator is not the limit.
int Calibrate() {
  Systems systems(SystemsFromFlags());
  if (auto st = systems.Start({"redis"}); !st.ok() || systems.targets().empty()) {
    std::cerr << "calibrate: cannot start redis-server\n";
    return 1;
  }
  const Target& t = systems.targets().front();
  int conns = absl::GetFlag(FLAGS_connections);
  int pipeline = absl::GetFlag(FLAGS_pipeline) > 1 ? absl::GetFlag(FLAGS_pipeline) : 16;
  uint64_t keyspace = Keyspace(10000);
  int value = absl::GetFlag(FLAGS_value_size);
  std::cout << absl::StrFormat("calibrate: plain redis, %d connections, pipeline %d, %d-byte values, keyspace %d\n",
                               conns, pipeline, value, keyspace);
  int status = 0;
  for (std::string test : {"set", "get"}) {
    std::vector<double> theirs, ours;
    for (int round = 0; round < 2; ++round) {
      std::string cmd = absl::StrFormat("%s -h 127.0.0.1 -p %d -c %d -P %d -n %d -r %d -d %d -t %s --csv 2>/dev/null",
                                        absl::GetFlag(FLAGS_redis_benchmark), t.port, conns, pipeline,
                                        static_cast<int>(absl::GetFlag(FLAGS_duration) * 400000), keyspace, value, test);
      double rb = 0;
      if (FILE* f = popen(cmd.c_str(), "r")) {
        char line[512];
        while (fgets(line, sizeof(line), f)) {
          std::vector<std::string> fields = absl::StrSplit(line, ',');
          if (fields.size() >= 2 && absl::AsciiStrToLower(absl::StripAsciiWhitespace(fields[0])) ==
                                        absl::StrCat("\"", test, "\"")) {
            std::string v(absl::StripAsciiWhitespace(fields[1]));
            v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
            (void)absl::SimpleAtod(v, &rb);
          }
        }
        pclose(f);
      }
      auto w = WorkloadFromFlags(test);
      if (test == "get") (void)Preload(t.host, t.port, *w);
      LoadOptions o = OptionsFromFlags();
      o.port = t.port;
      o.pipeline = pipeline;
      o.rate = 0;
      LoadResult r = RunLoad(o, *w);
      theirs.push_back(rb);
      ours.push_back(r.rps);
      if (r.error_count() > 0) status = 1;
    }
    double a = (theirs[0] + theirs[1]) / 2, b = (ours[0] + ours[1]) / 2;
    std::cout << absl::StrFormat("  %-4s redis-benchmark %9.0f ops/s   anarcho-bench %9.0f ops/s   ratio %.2f\n", test,
                                 a, b, a > 0 ? b / a : 0);
    if (a <= 0) std::cout << "  (redis-benchmark gave no figure: is it installed? --redis_benchmark)\n";
  }
  return status;
}

}  // namespace bench
