// How a node's state begins (part of ReplicatedLog, replicated_log.h): a new
// cluster's bootstrap, from its voters or from a restored backup, and the
// cluster's name that every member stores and its peers check.
#include <zlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "node/cluster/replicated_log.h"
#include "node/logged_state.h"
#include "node/logging.h"

namespace node {
namespace fs = std::filesystem;

using consensus::pb::Entry;
namespace cpb = consensus::pb;

namespace {
constexpr char kRestoredFromKey[] = "restored-from";  // the --restore file and its .meta (RestoreStamp)
constexpr char kClusterIdKey[] = "cluster-id";
constexpr char kClusterOriginKey[] = "cluster-origin";  // peer::ClusterName's origin
constexpr char kNodeIdKey[] = "node-id";  // whose vote and log these are

// What a node restored from: the RDB's size and crc32, and the crc32 of the
// scripts, settings and users its .meta carried (the same RDB with another
// .meta, or none, is another restore).
std::string RestoreStamp(const ReplicatedLogOptions::Restore& r) {
  const std::string carried = r.carried.SerializeAsString();
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(carried.data()),
                          static_cast<uInt>(carried.size()));
  return absl::StrCat(r.size, " ", r.crc32, " ", crc);
}

// Whether this node's state came from the restore `r`: its stamp, or the
// stamp of a node restored before the stamp named the .meta (RDB only).
bool RestoredFrom(const std::string& stamp, const ReplicatedLogOptions::Restore& r) {
  return stamp == RestoreStamp(r) || stamp == absl::StrCat(r.size, " ", r.crc32);
}
}  // namespace

// A --dir holds one node's vote and log: started under another id, the node
// would vote and acknowledge entries as that other node, which Raft's safety
// rests on never happening. The id is recorded at the first start (of a new
// dir, or of one from before the record).
absl::Status ReplicatedLog::CheckNodeId() {
  auto stored = store_->GetMeta(kNodeIdKey);
  if (!stored.ok()) return stored.status();
  auto hard_state = store_->GetMeta(kHardStateKey);
  if (!hard_state.ok()) return hard_state.status();
  const std::string id = absl::StrCat(options_.id);
  if (stored->has_value() && **stored == id) return absl::OkStatus();
  // (A start that failed before any state was written pins nothing.)
  const bool has_state = store_->LastIndex() != 0 || hard_state->has_value();
  if (stored->has_value() && has_state) {
    return absl::FailedPreconditionError(absl::StrCat("this --dir holds node ", **stored, "'s state, not node ", id,
                                                      "'s: start it with --id ", **stored,
                                                      " (a node's vote and log are its own)"));
  }
  storage::LogWrite w;
  w.meta[kNodeIdKey] = id;
  return store_->Write(w);
}

// A new cluster: its membership is the first entries of the log.
absl::Status ReplicatedLog::Bootstrap() {
  auto stored_hs = store_->GetMeta(kHardStateKey);
  if (!stored_hs.ok()) return stored_hs.status();
  const bool has_state = store_->LastIndex() != 0 || stored_hs->has_value();
  if (options_.restore && !options_.bootstrap) {
    return absl::FailedPreconditionError(
        "--restore starts a new cluster; a node that joins one gets its state from the leader");
  }
  if (options_.restore && has_state) {
    auto from = store_->GetMeta(kRestoredFromKey);
    if (!from.ok()) return from.status();
    if (!from->has_value() || !RestoredFrom(**from, *options_.restore)) {
      return absl::FailedPreconditionError(
          "--restore starts a new cluster, but this --dir already holds a node's state (not restored from this "
          "file and its .meta): restore into an empty --dir, or restart this node without --restore");
    }
    Log(LogComponent::kRaft, LogLevel::kInfo, "this node was restored from %s before; starting from its own state", options_.restore->rdb);
    return absl::OkStatus();
  }
  if (has_state || !options_.bootstrap) return absl::OkStatus();
  std::vector<uint64_t> voters;
  for (const auto& [id, _] : options_.peers) voters.push_back(id);
  if (options_.restore) return BootstrapFromRestore(voters);
  storage::LogWrite w;
  for (Entry& e : consensus::BootstrapEntries(voters)) {
    // The context carries each member's address, for every node that applies it.
    cpb::ConfChange cc;
    cc.ParseFromString(e.data());
    cc.set_context(options_.peers[cc.node_id()].ToString());
    e.set_data(cc.SerializeAsString());
    w.entries.push_back(storage::LogEntry{e.index(), e.term(), e.SerializeAsString()});
  }
  cpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(voters.size());
  w.meta[kHardStateKey] = hs.SerializeAsString();
  RecordCluster(&w, InitialCluster());
  if (auto s = store_->Write(w); !s.ok()) return s;
  Log(LogComponent::kRaft, LogLevel::kInfo, "bootstrapped a cluster of %d voter(s)", voters.size());
  return absl::OkStatus();
}

// The members of a new cluster agree on its name without talking. Its id is
// the one given (anarcho-admin passes a random one), else one derived from
// the ids of the initial voters, which every member was started with (their
// addresses may differ between members' views). Only a given id keeps apart
// two clusters of the same ids that share a secret. Its origin is derived from
// what every member's first entries are made of: the voters' ids and the
// restore, so members bootstrapped from other --peers or another --restore
// never take each other's entries for their own.
peer::ClusterName ReplicatedLog::InitialCluster() const {
  std::string voters = "voters";
  for (const auto& [id, _] : options_.peers) absl::StrAppend(&voters, " ", id);
  std::string origin = voters;
  if (options_.restore) absl::StrAppend(&origin, " restored ", RestoreStamp(*options_.restore));
  return peer::ClusterName{options_.cluster_id.empty() ? peer::DeriveClusterId(voters) : options_.cluster_id,
                           peer::DeriveClusterId(origin)};
}

void ReplicatedLog::RecordCluster(storage::LogWrite* w, const peer::ClusterName& cluster) {
  if (!cluster.id.empty()) w->meta[kClusterIdKey] = cluster.id;
  if (!cluster.origin.empty()) w->meta[kClusterOriginKey] = cluster.origin;
}

// The cluster this node belongs to: stored at bootstrap, or when a node that
// joins first meets its cluster (empty until then).
absl::Status ReplicatedLog::LoadCluster() {
  auto id = store_->GetMeta(kClusterIdKey);
  if (!id.ok()) return id.status();
  auto origin = store_->GetMeta(kClusterOriginKey);
  if (!origin.ok()) return origin.status();
  if (origin->has_value()) cluster_.origin = **origin;
  if (id->has_value()) {
    if (!options_.cluster_id.empty() && options_.cluster_id != **id) {
      return absl::FailedPreconditionError(absl::StrCat("this node belongs to cluster ", **id,
                                                        ", not to the --cluster_id given (", options_.cluster_id, ")"));
    }
    cluster_.id = **id;
    return absl::OkStatus();
  }
  if (options_.cluster_id.empty()) return absl::OkStatus();
  storage::LogWrite w;
  RecordCluster(&w, peer::ClusterName{options_.cluster_id, ""});
  if (auto s = store_->Write(w); !s.ok()) return s;
  cluster_.id = options_.cluster_id;
  return absl::OkStatus();
}

// The worker is the store's only user while the node runs (written from
// the event loop, the id raced the worker's writes, and the store keeps its
// first and last index unguarded), and the record keeps its place among the
// log's writes. A store that cannot take it fails as the log's writes do.
void ReplicatedLog::AdoptCluster(const peer::ClusterName& cluster) {
  cluster_ = cluster;
  auto write = std::make_shared<storage::LogWrite>();
  RecordCluster(write.get(), cluster);
  asio::post(worker_, [this, write, alive = alive_] {
    absl::Status s = store_->Write(*write);
    if (s.ok()) return;
    asio::post(io_, [s, alive] {
      if (!*alive) return Log(LogComponent::kRaft, LogLevel::kError, "cannot store the cluster id: %s", s.message());
      ExitOnLogFailure("cannot store the cluster id", s);
    });
  });
}

absl::Status ReplicatedLog::BootstrapFromRestore(const std::vector<uint64_t>& voters) {
  const std::string copy = snapshots_.Path("restoring.rdb");
  std::error_code ec;
  fs::copy_file(options_.restore->rdb, copy, fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(absl::StrCat("--restore: copy ", options_.restore->rdb, ": ", ec.message()));
  const uint64_t index = voters.size();
  auto meta = snapshots_.Adopt(copy, index, 1);
  if (!meta.ok()) return meta.status();
  for (uint64_t v : voters) {
    meta->add_voters(v);
    (*meta->mutable_addresses())[v] = options_.peers[v].ToString();
  }
  LoggedState::Copy(options_.restore->carried, &*meta);
  storage::LogWrite w;
  RecordSnapshot(&w, *meta, std::nullopt);
  w.compact_to = index;  // the log starts after the snapshot
  w.meta[kRestoredFromKey] = RestoreStamp(*options_.restore);
  cpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(index);
  w.meta[kHardStateKey] = hs.SerializeAsString();
  RecordCluster(&w, InitialCluster());
  if (auto s = store_->Write(w); !s.ok()) return s;
  Log(LogComponent::kRaft, LogLevel::kInfo, "bootstrapped a cluster of %d voter(s) from %s (%d bytes, crc32 %08x)", voters.size(),
      options_.restore->rdb, meta->size(), meta->crc32());
  return absl::OkStatus();
}

}  // namespace node
