#include "node/metrics.h"

#include <limits>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace node {
namespace {

namespace pm = prometheus;

pm::Counter& NewCounter(pm::Registry& r, const std::string& name, const std::string& help) {
  return pm::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
pm::Gauge& NewGauge(pm::Registry& r, const std::string& name, const std::string& help) {
  return pm::BuildGauge().Name(name).Help(help).Register(r).Add({});
}
pm::Histogram& NewHistogram(pm::Registry& r, const std::string& name, const std::string& help,
                            pm::Histogram::BucketBoundaries bounds) {
  return pm::BuildHistogram().Name(name).Help(help).Register(r).Add({}, std::move(bounds));
}

constexpr const char* kRoles[] = {"follower", "pre-candidate", "candidate", "leader"};

// Keeps one gauge per peer in `gauges`, for exactly the peers in `values`.
template <typename V>
void SetPerPeer(pm::Family<pm::Gauge>& family, std::map<uint64_t, pm::Gauge*>& gauges, const std::map<uint64_t, V>& values) {
  for (auto it = gauges.begin(); it != gauges.end();) {
    if (values.contains(it->first)) {
      ++it;
    } else {
      family.Remove(it->second);
      it = gauges.erase(it);
    }
  }
  for (const auto& [id, v] : values) {
    pm::Gauge*& g = gauges[id];
    if (g == nullptr) g = &family.Add({{"peer", absl::StrCat(id)}});
    g->Set(static_cast<double>(v));
  }
}

}  // namespace

const char* RequestClassName(RequestClass c) {
  switch (c) {
    case RequestClass::kRead: return "read";
    case RequestClass::kWrite: return "write";
    case RequestClass::kNode: return "node";
    case RequestClass::kOther: return "other";
  }
  return "other";
}

Metrics::Metrics()
    : leader_changes_(NewCounter(registry_, "anarcho_raft_leader_changes_total", "Times this node saw a new leader.")),
      elections_(NewCounter(registry_, "anarcho_raft_elections_started_total", "Elections this node started (as candidate).")),
      log_entries_(NewCounter(registry_, "anarcho_log_entries_total", "Entries written to this node's Raft log.")),
      log_entry_bytes_(NewCounter(registry_, "anarcho_log_entry_bytes_total", "Payload bytes of the entries written.")),
      child_rebuilds_(NewCounter(registry_, "anarcho_child_rebuilds_total",
                                 "Times the redis-server child was rebuilt from the committed log.")),
      snapshots_(NewCounter(registry_, "anarcho_snapshots_total", "Snapshots this node took.")),
      errors_(pm::BuildCounter()
                  .Name("anarcho_client_errors_total")
                  .Help("Error replies the node made itself: tryagain (no leader, leadership moving), unknown "
                        "(outcome unknown), refused (commands the node does not run), other.")
                  .Register(registry_)),
      tryagain_(errors_.Add({{"kind", "tryagain"}})),
      unknown_(errors_.Add({{"kind", "unknown"}})),
      refused_(errors_.Add({{"kind", "refused"}})),
      other_errors_(errors_.Add({{"kind", "other"}})),
      fsync_seconds_(NewHistogram(registry_, "anarcho_log_fsync_duration_seconds",
                                  "Duration of the synced writes of the Raft log (group commits).",
                                  {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1})),
      batch_entries_(NewHistogram(registry_, "anarcho_log_sync_batch_entries", "Entries per synced log write.",
                                  {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})),
      snapshot_seconds_(NewHistogram(registry_, "anarcho_snapshot_duration_seconds",
                                     "Time from the start of a snapshot to its file being in place.",
                                     {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120})),
      term_(NewGauge(registry_, "anarcho_raft_term", "The current Raft term.")),
      leader_id_(NewGauge(registry_, "anarcho_raft_leader_id", "The leader this node knows (0: none).")),
      commit_(NewGauge(registry_, "anarcho_raft_commit_index", "The highest log index known committed.")),
      applied_(NewGauge(registry_, "anarcho_raft_applied_index", "The highest log index the child holds.")),
      lag_(NewGauge(registry_, "anarcho_raft_apply_lag_entries", "Committed entries the child does not hold yet.")),
      child_healthy_(NewGauge(registry_, "anarcho_child_healthy", "1 while the redis-server child runs and answers the node within 2 s.")),
      clients_(NewGauge(registry_, "anarcho_clients_connected", "Client connections to this node.")),
      snapshot_bytes_(NewGauge(registry_, "anarcho_snapshot_bytes", "Size of the latest snapshot.")),
      follower_reads_{NewCounter(registry_, "anarcho_follower_reads_total",
                                 "Reads this node served from its own child as a follower (read index confirmed).")},
      tls_handshakes_{NewCounter(registry_, "anarcho_tls_handshakes_total",
                                 "Clients accepted on the TLS client port (handshake done).")},
      tls_handshakes_failed_{NewCounter(registry_, "anarcho_tls_handshakes_failed_total",
                                        "Connections to the TLS client port whose handshake failed (no certificate "
                                        "or one the CA did not sign, not TLS, too slow).")},
      peer_handshakes_refused_{NewCounter(registry_, "anarcho_peer_handshakes_refused_total",
                                          "Peer links refused: a wrong secret, another cluster, a TLS handshake "
                                          "that failed.")},
      peer_links_silent_{NewCounter(registry_, "anarcho_peer_links_silent_total",
                                    "Outgoing peer links dialled again: what they carried went unacknowledged "
                                    "(a connection that stalled without closing).")},
      relay_sessions_ended_{NewCounter(registry_, "anarcho_relay_sessions_ended_total",
                                       "Sessions a follower relayed through this node, ended when that follower "
                                       "was not heard from on the Raft links, or gave their connection up.")},
      relay_links_stalled_{NewCounter(registry_, "anarcho_relay_links_stalled_total",
                                      "This node's connections to the leader's client port given up: they heard "
                                      "nothing while awaiting replies, and the leader's Raft messages arrived.")},
      follower_reads_waiting_(NewGauge(registry_, "anarcho_follower_reads_waiting",
                                       "Follower reads waiting for a read index or for the child to apply it.")),
      role_(pm::BuildGauge().Name("anarcho_raft_role").Help("1 for this node's Raft role.").Register(registry_)),
      peer_match_(pm::BuildGauge()
                      .Name("anarcho_peer_match_index")
                      .Help("Leader: the highest log index known replicated on each peer.")
                      .Register(registry_)),
      peer_connected_(pm::BuildGauge()
                          .Name("anarcho_peer_connected")
                          .Help("1 while this node's authenticated link to the peer is up.")
                          .Register(registry_)),
      peer_active_(pm::BuildGauge()
                       .Name("anarcho_peer_active")
                       .Help("Leader: 1 while the peer answered within the last election timeout (a stopped "
                             "peer's link may stay up).")
                       .Register(registry_)) {
  for (const char* role : kRoles) role_.Add({{"role", role}});
}

void Metrics::CountError(std::string_view error, ErrorKind otherwise, uint64_t n) {
  const absl::string_view e(error.data(), error.size());
  ErrorKind kind = otherwise;
  if (absl::StartsWith(e, "-TRYAGAIN") || absl::StartsWith(e, "TRYAGAIN")) kind = ErrorKind::kTryAgain;
  if (absl::StartsWith(e, "-UNKNOWN") || absl::StartsWith(e, "UNKNOWN")) kind = ErrorKind::kUnknown;
  pm::Counter* counters[] = {&tryagain_, &unknown_, &refused_, &other_errors_};
  counters[static_cast<size_t>(kind)]->Increment(static_cast<double>(n));
}

void Metrics::OnLogWrite(std::chrono::nanoseconds took, size_t entries, size_t bytes, bool synced) {
  log_entries_.Increment(static_cast<double>(entries));
  log_entry_bytes_.Increment(static_cast<double>(bytes));
  if (!synced) return;
  fsync_seconds_.Observe(std::chrono::duration<double>(took).count());
  batch_entries_.Observe(static_cast<double>(entries));
}

pm::MetricFamily Metrics::RequestFamily() const {
  pm::MetricFamily family{"anarcho_request_duration_seconds",
                          "Time from a request's arrival to its reply leaving, per class: read, write (also "
                          "scripts, transactions, blocking commands), node (ANARCHO.*, INFO), other.",
                          pm::MetricType::Histogram,
                          {}};
  for (RequestClass cls : {RequestClass::kRead, RequestClass::kWrite, RequestClass::kNode, RequestClass::kOther}) {
    const RequestLatency::Class& c = requests_.of(cls);
    pm::ClientMetric m;
    m.label.push_back({"class", RequestClassName(cls)});
    m.histogram.sample_count = c.count;
    m.histogram.sample_sum = c.sum_seconds;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < c.counts.size(); ++b) {
      cumulative += c.counts[b];
      const double bound = b < RequestLatency::kBoundsUs.size() ? RequestLatency::kBoundsUs[b] / 1e6
                                                                : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back({cumulative, bound});
    }
    family.metric.push_back(std::move(m));
  }
  return family;
}

void Metrics::FollowedCounter::Follow(uint64_t total) {
  if (total <= counted) return;
  counter.Increment(static_cast<double>(total - counted));
  counted = total;
}

std::string Metrics::Render(const MetricsView& v) {
  term_.Set(static_cast<double>(v.term));
  leader_id_.Set(static_cast<double>(v.leader_id));
  commit_.Set(static_cast<double>(v.commit));
  applied_.Set(static_cast<double>(v.applied));
  lag_.Set(static_cast<double>(v.commit > v.applied ? v.commit - v.applied : 0));
  child_healthy_.Set(v.child_healthy ? 1 : 0);
  clients_.Set(static_cast<double>(v.clients));
  snapshot_bytes_.Set(static_cast<double>(v.snapshot_bytes));
  follower_reads_.Follow(v.follower_reads);
  tls_handshakes_.Follow(v.tls_handshakes);
  tls_handshakes_failed_.Follow(v.tls_handshakes_failed);
  peer_handshakes_refused_.Follow(v.peer_handshakes_refused);
  peer_links_silent_.Follow(v.peer_links_silent);
  relay_sessions_ended_.Follow(v.relay_sessions_ended);
  relay_links_stalled_.Follow(v.relay_links_stalled);
  follower_reads_waiting_.Set(static_cast<double>(v.follower_reads_waiting));
  for (const char* role : kRoles) role_.Add({{"role", role}}).Set(v.role == role ? 1 : 0);
  SetPerPeer(peer_match_, match_, v.match);
  SetPerPeer(peer_connected_, connected_, v.connected);
  SetPerPeer(peer_active_, active_, v.active);
  std::vector<pm::MetricFamily> families = registry_.Collect();
  families.push_back(RequestFamily());
  std::ostringstream out;
  pm::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace node
