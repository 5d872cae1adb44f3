// The load generator: N connections on one Asio event loop.
//
// Closed loop (rate == 0): each connection writes a batch of `pipeline`
// operations, waits for all their replies, and writes the next batch at once.
// An operation's latency runs from the moment its batch was handed to the
// socket to the moment its (last) reply was read.
//
// Open loop (rate > 0): operations are due at fixed intervals (rate/N per
// connection, connections staggered), are written when due whatever is still
// outstanding, and their latency runs from the time they were *due*, so a
// stalled server is charged for every request it delayed (no coordinated
// omission), including those the generator could only send late.
//
// Operations due before the warm-up ends are sent but not measured.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asio/ssl.hpp"
#include "bench/harness/histogram.h"
#include "bench/harness/timeseries.h"
#include "bench/harness/workload.h"

namespace bench {

// Running counts a run publishes as it goes, for a watcher in another thread
// (the soak samples throughput per interval from these, the progress line its
// rate, the time-series CPU sampler its seconds from start_ns).
struct LoadProgress {
  std::atomic<uint64_t> completed{0};  // operations fully answered, warm-up included
  std::atomic<uint64_t> errors{0};
  std::atomic<int64_t> start_ns{0};    // steady_clock, when the load began (connections up); 0 before
};

struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 50;
  int pipeline = 1;         // closed loop only
  double rate = 0;          // operations per second in total; 0 = closed loop
  double warmup_s = 1;
  double duration_s = 3;    // measured time after the warm-up
  uint64_t requests = 0;    // if > 0: stop after this many measured operations instead
  double drain_timeout_s = 10;  // how long to wait for outstanding replies at the end
  uint64_t seed = 1;
  LoadProgress* progress = nullptr;  // if set, kept up to date during the run
  std::shared_ptr<asio::ssl::context> tls;  // non-null: every connection is TLS (a client certificate, the CA)
};

struct LoadResult {
  LatencyHistogram latency;                   // measured operations that succeeded, ns
  std::array<LatencyHistogram, kNumOps> latency_by_op;
  std::array<uint64_t, kNumOps> ops_by_op{};  // measured operations, by kind
  std::map<std::string, uint64_t> errors;     // by kind: the error reply's code, or "connect", "timeout"...
  uint64_t sent = 0;          // all operations written (warm-up included)
  uint64_t completed = 0;     // all operations fully answered (warm-up included)
  uint64_t measured = 0;      // operations due/sent in the measured window
  uint64_t measured_ok = 0;   // ... that completed without an error reply
  double measured_seconds = 0;
  double rps = 0;             // measured operations completed per second
  bool open_loop = false;
  double target_rate = 0;
  int connections_failed = 0;
  // Every second from the start of the load (warm-up included) to its end,
  // drain included: the operations of `completed` and the errors of
  // `errors`, each in the second it happened (cpu_pct not measured here).
  std::vector<SecondRow> per_second;

  uint64_t error_count() const {
    uint64_t n = 0;
    for (const auto& [k, v] : errors) n += v;
    return n;
  }
};

LoadResult RunLoad(const LoadOptions& opts, const WorkloadSpec& workload);

}  // namespace bench
