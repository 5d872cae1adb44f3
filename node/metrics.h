// The node's Prometheus metrics: prometheus-cpp's data model and text format,
// served over HTTP by MetricsEndpoint (node/metrics_endpoint.h). The node is single
// threaded: counters and histograms are bumped on the event loop as things
// happen, gauges are read from the node's state when a scrape arrives (on
// the same loop), so every scrape sees current values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "node/request_latency.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace node {

// What the node's state says at scrape time.
struct MetricsView {
  std::string role;  // follower, pre-candidate, candidate, leader
  uint64_t term = 0, leader_id = 0, commit = 0, applied = 0;
  bool child_healthy = false;
  uint64_t clients = 0, snapshot_bytes = 0;
  uint64_t follower_reads = 0;          // served by this follower's child so far (a count that only grows)
  uint64_t follower_reads_waiting = 0;  // for a read index or for the child to apply it
  // Counts that only grow, kept by the node (ANARCHO.STATUS shows them too).
  uint64_t tls_handshakes = 0, tls_handshakes_failed = 0;  // the TLS client port's
  uint64_t peer_handshakes_refused = 0;                   // peer links refused (secret, cluster, TLS)
  uint64_t peer_links_silent = 0;                         // peer links dialled again for missing acknowledgements
  uint64_t relay_sessions_ended = 0;                      // followers' relayed sessions ended (silence, stall)
  uint64_t relay_links_stalled = 0;                       // this node's relay connections given up as stalled
  std::map<uint64_t, uint64_t> match;     // leader: per peer
  std::map<uint64_t, bool> connected;     // per peer: the link is up
  std::map<uint64_t, bool> active;        // leader: per peer, heard from within an election timeout
};

class Metrics {
 public:
  Metrics();

  // The kinds of error replies the node makes itself.
  enum class ErrorKind { kTryAgain, kUnknown, kRefused, kOther };
  // TRYAGAIN and UNKNOWN by their prefix; anything else is `otherwise`.
  void CountError(std::string_view error, ErrorKind otherwise, uint64_t n = 1);
  void OnLogWrite(std::chrono::nanoseconds took, size_t entries, size_t bytes, bool synced);
  void OnLeaderChange() { leader_changes_.Increment(); }
  void OnElection() { elections_.Increment(); }
  void OnChildRebuild() { child_rebuilds_.Increment(); }
  void OnSnapshot(std::chrono::nanoseconds took) {
    snapshots_.Increment();
    snapshot_seconds_.Observe(std::chrono::duration<double>(took).count());
  }
  RequestLatency& requests() { return requests_; }

  // The text exposition of everything, gauges from `view`.
  std::string Render(const MetricsView& view);

 private:
  prometheus::MetricFamily RequestFamily() const;

  prometheus::Registry registry_;
  prometheus::Counter &leader_changes_, &elections_, &log_entries_, &log_entry_bytes_, &child_rebuilds_,
      &snapshots_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter &tryagain_, &unknown_, &refused_, &other_errors_;
  prometheus::Histogram &fsync_seconds_, &batch_entries_, &snapshot_seconds_;
  prometheus::Gauge &term_, &leader_id_, &commit_, &applied_, &lag_, &child_healthy_, &clients_, &snapshot_bytes_;
  // A counter that follows a count kept elsewhere (one that only grows).
  struct FollowedCounter {
    prometheus::Counter& counter;
    uint64_t counted = 0;
    void Follow(uint64_t total);
  };
  FollowedCounter follower_reads_, tls_handshakes_, tls_handshakes_failed_, peer_handshakes_refused_;
  FollowedCounter peer_links_silent_, relay_sessions_ended_, relay_links_stalled_;
  prometheus::Gauge& follower_reads_waiting_;
  prometheus::Family<prometheus::Gauge>& role_;
  prometheus::Family<prometheus::Gauge>& peer_match_;
  prometheus::Family<prometheus::Gauge>& peer_connected_;
  prometheus::Family<prometheus::Gauge>& peer_active_;
  std::map<uint64_t, prometheus::Gauge*> match_, connected_, active_;
  RequestLatency requests_;
};

}  // namespace node
