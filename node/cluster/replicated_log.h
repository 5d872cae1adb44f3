// The node's Raft log: the consensus core driven on the event loop, its state
// made durable in the node's LogStore, its messages carried by PeerTransport.
//
// The host loop follows consensus/raft.h: each Ready's entries and hard state
// go to the LogStore in one synced write on a worker thread (group commit: what
// is proposed during a write waits for the next one, so many writes share one
// fsync); a leader's appends leave before its own write finishes (the core
// counts its own entries only once durable); everything else leaves after.
// The core reads the stable log from a MemoryStorage mirror that is updated
// after each write returns, so the worker is the only user of the LogStore.
//
// Snapshots (docs/design.md, "Snapshots"): the state at an index, as an RDB
// file in the snapshot directory, named in the LogStore's metadata. A new
// local snapshot (AddSnapshot) compacts the log up to the previous one, so
// that if the newest file is ever found corrupt the previous one and the log
// after it still rebuild the state. The mirror holds only the entries since
// the previous snapshot. A follower behind the compacted log gets the
// snapshot file streamed (SnapshotSender/Receiver), and the host installs it
// (on_snapshot) before applying anything after it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "asio.hpp"
#include "asio/ssl.hpp"
#include "consensus/memory_storage.h"
#include "consensus/raft.h"
#include "node/cluster/peer_transport.h"
#include "node/cluster/snapshot_store.h"
#include "node/cluster/snapshot_transfer.h"
#include "storage/log_store.h"

namespace node {

struct PeerAddress {
  std::string host = "127.0.0.1";
  int client_port = 0;
  int raft_port = 0;
  std::string ToString() const;
  static bool Parse(std::string_view text, PeerAddress* out);  // host:client_port:raft_port
};

// One write of the log (entries and Raft state), for the node's metrics.
struct LogWriteStats {
  std::chrono::nanoseconds took{0};
  size_t entries = 0;
  size_t bytes = 0;    // entry payload
  bool synced = false;  // fsynced (group commit: everything the core had ready)
};

// The most entry payload one turn of the event loop takes on: what a leader
// proposes for one Ready, what it sends a follower ahead of its answers (so
// what a follower writes at once), and the committed entries one Ready hands
// out. Each byte is copied several times on its way (into its entry, to the
// store, to every follower, to the state machine), most of them into memory
// just allocated; with 8 MB (64 MB committed) a leader's first 100 MB value
// kept its loop from its timers for 250-490 ms at a time, and on a loaded
// machine for longer than an election timeout.
inline constexpr uint64_t kMaxTurnBytes = 2 << 20;

struct ReplicatedLogOptions {
  uint64_t id = 1;
  std::map<uint64_t, PeerAddress> peers;  // every known node, this one included
  bool bootstrap = true;  // an empty log starts a cluster of `peers` as voters
  // Where this node reaches nodes that are not members yet but may be added
  // later, whatever address their ANARCHO.ADD gives (this node's view of the
  // network, e.g. through proxies or NAT).
  std::map<uint64_t, PeerAddress> address_book;
  int tick_ms = 50;
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool lease_reads = false;
  std::string snapshot_dir;           // snapshot files live here
  // The tail kept below a new snapshot for followers slightly behind: at
  // most this many entries and this much payload (whichever is less).
  uint64_t keep_entries = 10000;
  uint64_t keep_bytes = 32ULL << 20;
  // Freed memory the process keeps after a compaction rather than giving it
  // back to the system, besides the snapshot's size: what one snapshot cycle
  // allocates again (--snapshot_log_bytes of log, its kept tail, the store's
  // memtables). Given back, it came back as page faults on every write (a
  // ninth of a follower's CPU under SET P=16); only a surplus is given back.
  uint64_t keep_free_bytes = 256ULL << 20;
  std::function<void()> before_sync;  // test hook, runs on the worker before each fsync
  std::function<void(const LogWriteStats&)> on_write;  // on the event loop, after each log write
  // Tests: the peer links (default: TCP, PeerTransport), and a clock of
  // their own (the host's ticker is not started; the test calls Tick()).
  std::function<std::unique_ptr<RaftTransport>(uint64_t id)> make_transport;
  bool external_ticks = false;
  // A new cluster starts from this state (a backup, or any Redis RDB)
  // instead of an empty one: the bootstrap makes it the first snapshot.
  // Every initial member must start from the same file. A node whose --dir
  // was already bootstrapped from the same file (size and crc32) restarts
  // as usual; any other state in --dir is refused.
  struct Restore {
    std::string rdb;                   // copied into the snapshot directory
    pb::SnapshotMeta carried;          // its scripts, settings and users (LoggedState)
    uint64_t size = 0;
    uint32_t crc32 = 0;
  };
  std::optional<Restore> restore;
  // Peer authentication (peer_auth.h): the cluster secret (empty: none), and
  // the cluster's id if given (else derived at bootstrap, or adopted by a
  // node that joins).
  std::string cluster_secret;
  std::string cluster_id;
  // The links' TLS context (MakeTlsPeerContext); null: plain TCP.
  std::shared_ptr<asio::ssl::context> peer_tls;
  uint32_t client_tls_port = 0;  // announced to peers (followers forward to it)
};

class ReplicatedLog {
 public:
  ReplicatedLog(asio::io_context& io, storage::LogStore* store, ReplicatedLogOptions options);
  ~ReplicatedLog();

  // Loads the durable state (or bootstraps), creates the core, listens for peers.
  absl::Status Start();
  void Stop();

  absl::Status Propose(std::string data);
  absl::Status ProposeBatch(std::vector<std::string> data);
  absl::Status ProposeConfChange(const consensus::pb::ConfChange& cc);
  // Asks for a read index; on_read_states gets it with this context. The
  // context travels with a prefix of this process's own: a leader merges a
  // member's requests by context, and answers one asked by a previous process
  // of this member (its contexts count from the start again) to that one
  // only, not to a new read that happens to have the same context.
  absl::Status ReadIndex(std::string context);
  absl::Status TransferLeadership(uint64_t to);
  // Starts an election now (a lone voter need not wait for a timeout).
  void Campaign();
  // Makes the committed membership change at `index` take effect (the host
  // calls it while applying the entry); also updates peer addresses from the
  // change's context. The membership as of each index is kept for snapshots.
  consensus::pb::ConfState ApplyConfChange(uint64_t index, const consensus::pb::ConfChange& cc);
  // Leader: proposes that learner `id` become a voter. The change carries
  // the address that added the learner (AnnouncedAddress), never this node's
  // own route to it: a member without a route of its own adopts the
  // change's address.
  absl::Status PromoteLearner(uint64_t id);
  // The address the membership changes gave node `id` (ANARCHO.ADD's, or the
  // bootstrap's), as every member applied it; "" if none. Not this node's
  // own route to it (--peers, --peer-addresses), which may hold only here.
  std::string AnnouncedAddress(uint64_t id) const;

  // This node applied its own removal and is about to exit: what it still
  // holds for the peers leaves first (the commit notices of this turn; a
  // leader's news that the removal committed and its handover to the most
  // caught-up voter), and `then` runs once the links wrote it (at most
  // kLeaveLimit later), after the commit of the removal is recorded (so that
  // a restart replays it and exits again). Exiting at once lost them: a
  // removed leader of two voters left the other unable to ever elect itself.
  void Leave(std::function<void()> then);
  static constexpr std::chrono::milliseconds kLeaveLimit{1000};

  // The newest snapshot this node can load (nullopt: none yet).
  const std::optional<pb::SnapshotMeta>& snapshot() const { return snapshot_; }
  std::string SnapshotPath(const pb::SnapshotMeta& m) const { return snapshots_.Path(m.file()); }
  const std::string& snapshot_dir() const { return snapshots_.dir(); }
  // The state after committed entry `index` was written to `file` (on the
  // snapshot directory's filesystem): it becomes the newest snapshot, and the
  // log is compacted. `done` gets its metadata, on the event loop. If a
  // snapshot at or past `index` is there already, `file` is dropped and `done`
  // gets that one; if one from the leader is being installed, an error.
  void AddSnapshot(std::string file, uint64_t index, pb::SnapshotMeta carried,
                   std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done);
  // A snapshot from the leader replaced the log: the host loads it into the
  // state machine before it applies the committed entries that follow.
  std::function<void(const pb::SnapshotMeta&)> on_snapshot;
  uint64_t first_index() const { return mem_.FirstIndex().value_or(1); }
  size_t snapshot_transfers() const { return sender_ ? sender_->active() : 0; }
  // Why this node could not take the last snapshot offered to it ("" if it could).
  std::string snapshot_receive_failure() const { return receiver_ ? receiver_->failure() : ""; }
  bool snapshot_incoming() const { return receiver_ && receiver_->receiving(); }

  consensus::RaftStatus status() const { return raft_->Status(); }
  uint64_t id() const { return options_.id; }
  bool is_leader() const { return raft_ && raft_->role() == consensus::Role::kLeader; }
  uint64_t leader() const { return raft_ ? raft_->leader() : 0; }
  uint64_t term() const { return raft_ ? raft_->term() : 0; }
  uint64_t last_index() const { return raft_ ? raft_->log().LastIndex() : 0; }
  const std::map<uint64_t, PeerAddress>& peers() const { return options_.peers; }
  const consensus::MemoryStorage& storage() const { return mem_; }
  uint64_t syncs() const { return syncs_; }
  const std::string& cluster_id() const { return cluster_.id; }
  const std::string& cluster_origin() const { return cluster_.origin; }
  PeerLinkStats link_stats() const { return transport_ ? transport_->stats() : PeerLinkStats{}; }
  int peer_tls_port(uint64_t id) const { return transport_ ? transport_->PeerTlsPort(id) : 0; }
  // When a message from node `id` last arrived (nullopt: none since the start).
  std::optional<std::chrono::steady_clock::time_point> LastHeard(uint64_t id) const {
    auto it = heard_.find(id);
    if (it == heard_.end()) return std::nullopt;
    return it->second;
  }
  // The peer links' TLS context from now on (ReplicatedLogOptions::peer_tls);
  // open links keep theirs.
  void SetPeerTls(std::shared_ptr<asio::ssl::context> tls) {
    options_.peer_tls = tls;
    if (transport_) transport_->SetTls(std::move(tls));
  }
  // This node is the only voter (kept current as membership changes apply).
  bool sole_voter() const { return sole_voter_; }
  // Node `id` was removed from the cluster (by a change this node applied,
  // or one its snapshot covers): the id cannot be a member again.
  bool was_removed(uint64_t id) const { return removed_.contains(id); }
  // Whether the core would take a proposal now: it leads (which it may have
  // stopped doing since the last Ready told the host) and no leadership
  // transfer is under way.
  bool accepting_proposals() const {
    return raft_ && raft_->role() == consensus::Role::kLeader && raft_->lead_transferee() == 0;
  }

  // Runs at the top of each Ready cycle: the host's last chance to add
  // proposals to the batch that the next write makes durable.
  std::function<void()> on_before_ready;
  std::function<void(const consensus::SoftState&)> on_soft_state;
  std::function<void(std::vector<consensus::pb::Entry>&&)> on_committed;
  std::function<void(std::vector<consensus::ReadState>&&)> on_read_states;

  // Asks for a Ready cycle soon (coalesced).
  void Kick();
  // One tick of the core's clock (every tick_ms, unless external_ticks).
  void Tick();

 private:
  static constexpr char kHardStateKey[] = "raft.hardstate";  // the store's record of the core's hard state
  void ScheduleTick();
  void Pump();
  void SyncClock();
  // On the worker: raises the stored commit index to `index` (an entry this
  // node holds durably) if it is lower.
  absl::Status RecordCommitAtLeast(uint64_t index);
  // Sends what may leave before the Ready's write, applies its committed
  // entries; returns the messages that wait for the write.
  std::vector<consensus::pb::Message> SendAndApply(consensus::Ready& rd);
  // What the Ready needs written to the log before it completes (null: nothing).
  std::shared_ptr<storage::LogWrite> TakeWrite(const consensus::Ready& rd);
  // While a write is in progress: what the core lets leave before it ends.
  void SendUnblocked();
  void LogBigReady(const consensus::Ready& rd);
  // Every Raft message leaves through these two, so each peer gets its
  // messages in the order the core made them. Send sends what was deferred
  // first; SendAfterTurn sends once the handlers already queued on the loop
  // have run (the replies a commit just released).
  void Send(std::vector<consensus::pb::Message> messages);
  void SendAfterTurn(std::vector<consensus::pb::Message> messages);
  // Read states of this process's requests, without their prefix, to on_read_states.
  void DeliverReadStates(std::vector<consensus::ReadState> states);
  // The Ready's write is done (`wrote`) or it had nothing to write.
  void Complete(consensus::Ready rd, std::vector<consensus::pb::Message> late, const absl::Status& s, bool wrote);
  absl::Status CheckNodeId();
  absl::Status Bootstrap();
  // The bootstrap of a restored cluster: the membership and the state as a
  // snapshot (index = number of voters, term 1), no entries.
  absl::Status BootstrapFromRestore(const std::vector<uint64_t>& voters);
  peer::ClusterName InitialCluster() const;
  static void RecordCluster(storage::LogWrite* w, const peer::ClusterName& cluster);
  // At Start, before the worker writes anything.
  absl::Status LoadCluster();
  // A node met its cluster and learned of its name what it did not know: it
  // is recorded on the worker.
  void AdoptCluster(const peer::ClusterName& cluster);
  absl::Status LoadSnapshot();
  absl::Status LoadLog();
  absl::Status StartTransport();
  consensus::pb::ConfState ConfStateAt(uint64_t index) const;
  // The metadata records of a new newest snapshot, and of the previous one
  // (none: dropped).
  static void RecordSnapshot(storage::LogWrite* w, const pb::SnapshotMeta& meta,
                             const std::optional<pb::SnapshotMeta>& prev);
  uint64_t TailFloor(uint64_t index) const;
  std::optional<absl::StatusOr<pb::SnapshotMeta>> Superseded(uint64_t index) const;
  void Discard(const std::string& path, absl::StatusOr<pb::SnapshotMeta> answer,
               const std::function<void(absl::StatusOr<pb::SnapshotMeta>)>& done);
  void Adopted(const pb::SnapshotMeta& meta, std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done);
  // The core's view follows a new snapshot: its mirror keeps the entries
  // after `mirror_to` (the store keeps those after `compact_to`).
  void InstallCompacted(const pb::SnapshotMeta& meta, uint64_t compact_to, uint64_t mirror_to);
  // Drops the link to removed node `id` after kRemovedPeerGrace, unless it
  // is a peer again by then.
  void RetirePeer(uint64_t id);
  // The removals a snapshot covers, into removed_.
  void LearnRemovals(const pb::SnapshotMeta& m);
  // The addresses the snapshot records (announced_), and this node's routes
  // to the members it has none of its own for.
  void LearnAddresses(const pb::SnapshotMeta& m);
  void InstallReceived(const consensus::pb::Snapshot& snap);
  // Steps a received snapshot's MSG_SNAP; removes its file if the core refused it.
  void StepReceivedSnapshot(consensus::pb::Message&& m);
  // A node that cannot make its log durable must not vote or acknowledge.
  [[noreturn]] static void ExitOnLogFailure(std::string_view what, const absl::Status& s);

  asio::io_context& io_;
  storage::LogStore* store_;
  ReplicatedLogOptions options_;
  consensus::MemoryStorage mem_;
  std::unique_ptr<consensus::Raft> raft_;
  std::unique_ptr<RaftTransport> transport_;
  asio::steady_timer ticker_;
  asio::thread_pool worker_{1};
  asio::thread_pool files_{1};  // snapshot files: checksums, transfers, space reclaim
  SnapshotStore snapshots_;
  std::optional<pb::SnapshotMeta> snapshot_, prev_snapshot_;
  std::optional<std::string> installing_;  // the file of a snapshot from the leader, until installed
  std::map<uint64_t, consensus::pb::ConfState> conf_history_;  // index -> membership from then on
  std::map<uint64_t, uint64_t> removed_;  // node id -> index of its removal (at most: a snapshot's)
  // Node id -> the address its membership change gave (AnnouncedAddress):
  // what snapshots record, unlike options_.peers, which holds this node's
  // own routes too.
  std::map<uint64_t, std::string> announced_;
  std::unique_ptr<SnapshotSender> sender_;
  std::unique_ptr<SnapshotReceiver> receiver_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool persisting_ = false;
  // A hard state that moved only its commit index, not written yet: it goes
  // with the next write to the log (or at Stop), unless a membership change
  // was applied since the last one written (commit_membership_now_).
  std::optional<std::string> unwritten_hard_state_;
  bool commit_membership_now_ = false;
  bool kicked_ = false;
  // The core's clock: ticks it was given (run or skipped) since clock_origin_.
  std::chrono::steady_clock::time_point clock_origin_;
  uint64_t clock_ticks_ = 0;
  const std::string read_prefix_;  // ReadIndex: "<random hex>."
  std::vector<consensus::pb::Message> deferred_;  // SendAfterTurn's, not sent yet
  bool stopped_ = false;
  uint64_t syncs_ = 0;
  bool sole_voter_ = false;
  absl::flat_hash_set<uint64_t> configured_;  // peers named on the command line
  absl::flat_hash_map<uint64_t, std::chrono::steady_clock::time_point> heard_;  // LastHeard
  peer::ClusterName cluster_;  // empty: a node that joins and has not met its cluster yet
};

}  // namespace node
