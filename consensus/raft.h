// The Raft core: a deterministic state machine with no I/O.
//
// The host (node/) owns the clock, the disk and the network. It drives the
// core with Tick() (one logical clock tick), Step() (a message from a peer)
// and the local requests below, and collects the resulting work as a Ready.
//
// THE HOST LOOP (the contract):
//
//   if (raft.HasReady()) {
//     Ready rd = raft.GetReady();
//     1. Persist, durably and in this order:
//          rd.snapshot (if any: replaces the log, see MemoryStorage::ApplySnapshot),
//          rd.entries (append; an entry at an existing index replaces it and
//                      everything after it),
//          rd.hard_state (if any).
//        rd.must_sync says whether this needs an fsync (new entries, term or
//        vote); a commit-only change may be written lazily.
//     2. Send rd.messages. (Persist-then-send is always correct. Messages
//        SendableBeforeWrite() allows (a leader's MSG_APP/MSG_HEARTBEAT, in a
//        term already durable) and MSG_SNAP may leave before or while
//        persisting, because the core counts the leader's own entries toward
//        commit only once Advance() reports them durable; every other
//        message, notably votes and append responses, must wait for step 1.)
//     3. Apply rd.committed_entries in order. They are durable on this node
//        already (never among rd.entries), so they may be applied at once,
//        before or while step 1 runs. For an ENTRY_CONF_CHANGE entry, parse
//        its data as pb::ConfChange, call ApplyConfChange() and persist the
//        returned ConfState with the applied index. Install rd.snapshot into
//        the state machine (if any) after step 1 (a Ready with a snapshot
//        carries no committed entries).
//     4. Serve rd.read_states once the applied index reaches their index.
//     5. raft.Advance(rd).
//   }
//
// Tick/Step/Propose/... may be called between GetReady() and Advance() (for
// example while a worker thread persists); their effects come out in the next
// Ready. GetReady() must not be called again before Advance().
//
// MEMBERSHIP CHANGES: one server at a time (Raft thesis §4.1), not joint
// consensus. Any two configurations that differ by one voter have
// overlapping majorities, so no joint quorum is needed; the admin workflow
// (add a learner, let it catch up, promote it; remove a node; transfer
// leadership) only ever needs single steps. Safety needs two rules the core
// enforces: a leader accepts a new ConfChange only when the previous one has
// been applied (pending_conf_index), and only after it has committed an entry
// of its own term (the no-op it appends on election sets pending_conf_index,
// which closes the known single-server-change bug of leaders changing with a
// change in flight). A configuration takes effect when the host applies the
// committed entry through ApplyConfChange() (as etcd does), and a node with a
// committed but unapplied change does not campaign. A leader that applies its
// own removal steps down and tells the most caught-up voter to campaign at
// once. A removed node that never learned of its removal keeps timing out and
// asking for votes; with check_quorum (the default) members in contact with a
// leader ignore it, but the host should still stop removed nodes.
//
// A fresh cluster is bootstrapped by writing BootstrapEntries(voters) (conf
// changes at term 1) to every initial member's storage with a HardState of
// term 1 and commit = voters.size(); the first Ready hands them back to be
// applied like any other change. A node joining later starts with empty
// storage and receives the log (or a snapshot) from the leader.
//
// SNAPSHOTS: the host takes a snapshot of its state machine at an applied
// index, stores it (with the ConfState as of that index) where Storage::
// Snapshot() returns it, and may then compact the log below it. When a
// follower needs compacted entries the leader sends MSG_SNAP; the host must
// call ReportSnapshot() when the transfer finishes or fails. A follower that
// accepts one hands it back in Ready::snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "consensus/log.h"
#include "consensus/progress.h"
#include "consensus/raft.pb.h"
#include "consensus/read_only.h"
#include "consensus/storage.h"

namespace consensus {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role r);

enum class ReadOnlyOption {
  // ReadIndex confirmed by a heartbeat round with a majority.
  kSafe,
  // ReadIndex answered from the leader lease: requires check_quorum; relies on
  // clocks not drifting by more than the election timeout.
  kLeaseBased,
};

struct Config {
  uint64_t id = 0;  // non-zero
  // Ticks without hearing from a leader before a follower campaigns (the
  // actual timeout is randomized in [election_tick, 2*election_tick)).
  int election_tick = 10;
  // Ticks between leader heartbeats; must be < election_tick.
  int heartbeat_tick = 1;
  const Storage* storage = nullptr;  // not owned
  // Index the state machine had applied when the node (re)started: at least
  // the storage's snapshot index (0 means exactly that). A host whose state
  // machine is not durable (a fresh child redis loaded from the snapshot)
  // passes the snapshot index and gets the rest of the log to apply again.
  uint64_t applied = 0;
  // Upper bound on the bytes of entries in one MSG_APP (one entry at least).
  uint64_t max_size_per_msg = 1 << 20;
  // Upper bound on the bytes of committed entries in one Ready.
  uint64_t max_committed_size_per_ready = 64 << 20;
  // Appends in flight per follower in the replicate state.
  size_t max_inflight_msgs = 256;
  // Bytes of entry payload in flight per follower (0: no limit beyond the
  // message count). Bounds what a follower must persist in one go.
  uint64_t max_inflight_bytes = 0;
  // Campaign with a pre-vote round first, so a node that cannot win (cut off,
  // or with a stale log) does not bump everybody's term.
  bool pre_vote = true;
  // A leader that has not heard from a majority for an election timeout steps
  // down; a follower that heard from its leader within that time ignores
  // vote requests (the leader lease).
  bool check_quorum = true;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // kLeaseBased: the lease ends this many ticks before the election timeout
  // measured from the send time of the heartbeat a majority acknowledged
  // (covers tick granularity and clock drift). Must be < election_tick.
  int lease_margin_ticks = 2;
  // Seeds the election timeout randomization. 0 means derive it from id.
  uint64_t random_seed = 0;
};

struct SoftState {
  uint64_t leader = 0;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// A linearizable read may be served once the state machine applied `index`.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

// One batch of work for the host (see the loop at the top of this file).
struct Ready {
  std::optional<SoftState> soft_state;     // set when leader or role changed
  std::optional<pb::HardState> hard_state;  // set when term, vote or commit changed
  std::vector<ReadState> read_states;
  std::vector<pb::Entry> entries;           // to persist
  std::optional<pb::Snapshot> snapshot;     // to persist and install
  std::vector<pb::Entry> committed_entries;  // to apply (durable on this node already)
  std::vector<pb::Message> messages;        // to send
  bool must_sync = false;
  // What Advance() reads of `entries` (set by GetReady), so that the host
  // may move them out, into its storage (0: none). (The committed entries
  // handed out are counted by the log itself: RaftLog::applying().)
  uint64_t last_entry_index = 0;
  uint64_t last_entry_term = 0;
};

struct ProgressInfo {
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  bool is_learner = false;
  bool recent_active = false;
  uint64_t pending_snapshot = 0;
  size_t inflight = 0;
};

// A snapshot of the core's state for INFO/ANARCHO.STATUS output.
struct RaftStatus {
  uint64_t id = 0;
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t leader = 0;
  uint64_t lead_transferee = 0;
  Role role = Role::kFollower;
  pb::ConfState conf_state;
  absl::btree_map<uint64_t, ProgressInfo> progress;  // leader only
  uint64_t ignored_non_members = 0;  // messages from outside the configuration, ignored
};

// Entries that bootstrap a new cluster with these voters: one
// CONF_CHANGE_ADD_VOTER per voter at term 1, indexes 1..n.
std::vector<pb::Entry> BootstrapEntries(const std::vector<uint64_t>& voters);

class Raft {
 public:
  // Loads the persisted state from config.storage. Fails on an invalid config
  // or inconsistent storage.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& config);

  // Advances the logical clock by one tick.
  void Tick();
  // The host's clock passed `ticks` ticks that never reached Tick (its event
  // loop ran late). They count for what is measured in time from this node's
  // own clock (the leader's lease, an unanswered append window, the restart
  // guard of lease mode): a lease counted only in ticks that ran outlasted
  // the election timeout of followers whose ticks ran on time. Elections and
  // heartbeats still count only the ticks that ran.
  void ClockSkipped(uint64_t ticks) { now_ += ticks; }

  // Processes a message from a peer. Fails only for message types a peer may
  // not send; messages from stale terms or unknown peers are ignored.
  absl::Status Step(pb::Message m);

  // Appends a normal entry (leader only). The payload is committed later or
  // lost if leadership changes: the host learns which from the committed
  // entries (match them by index/term, or by something in the payload; the
  // index assigned is log().LastIndex() right after the call).
  // FailedPrecondition when not leader or while leadership is transferred.
  absl::Status Propose(std::string payload);
  // Appends several entries at once (one append message for all of them).
  absl::Status ProposeBatch(std::vector<std::string> payloads);

  // Appends a membership change (leader only). FailedPrecondition while
  // another change is not yet applied; InvalidArgument for a change that makes
  // no sense (removing the last voter, node id 0).
  absl::Status ProposeConfChange(const pb::ConfChange& cc);

  // Makes a committed change take effect (called by the host on apply, on
  // every node). Returns the membership to persist. A leader that removes or
  // demotes itself steps down (after asking a caught-up voter to campaign).
  pb::ConfState ApplyConfChange(const pb::ConfChange& cc);

  // Asks for a linearizable read. The answer comes as a ReadState with the
  // same context in a later Ready (possibly never, if leadership changes:
  // the host should fail reads still pending when soft_state changes).
  // Contexts must be unique among pending reads. Unavailable without a leader.
  absl::Status ReadIndex(std::string context);

  // Asks the leader to hand leadership to `transferee`, which must be a voter.
  // A follower forwards the request to its leader.
  absl::Status TransferLeadership(uint64_t transferee);

  // Starts an election now (tests, or a host that knows the leader is gone).
  void Campaign();

  // The transport could not reach `id`: a leader stops streaming appends to it.
  void ReportUnreachable(uint64_t id);
  // `id`'s process looks gone (its connection closed or was refused): a
  // follower for which `id` is the leader campaigns soon if the leader stays
  // silent for two more ticks (pre-vote only; not under lease reads).
  void ReportPeerGone(uint64_t id);
  // Whether `id` keeps the promise a lease rests on (it runs with lease reads:
  // it refuses votes for an election timeout after it heard from a leader,
  // also after its own restart). A leader's lease counts only acks of peers
  // that keep it; a peer never reported keeps it.
  void SetLeasePromise(uint64_t id, bool keeps);
  // The snapshot transfer to `id` finished (or failed).
  void ReportSnapshot(uint64_t id, bool failed);

  // Whether GetReady() has work. False while a Ready is outstanding (between
  // GetReady() and Advance()).
  bool HasReady() const;
  Ready GetReady();
  // Whether `m` (of a Ready, or of TakeUnblocked) may leave before the write
  // of the Ready that holds it (or that is in progress) ends: it promises
  // nothing about this node's log or vote (heartbeats and their responses, a
  // leader's appends and transfer orders, read-index requests and answers),
  // and its term is on disk here. (A sole voter leads from the step that
  // raised its term: appends it sent a learner before that term was written,
  // then lost in a crash, could meet different entries at the same index and
  // term after it won the same term again.) Append and vote responses wait.
  bool SendableBeforeWrite(const pb::Message& m) const;
  // What may leave while the host still persists the outstanding Ready
  // (SendableBeforeWrite), and the host's own read states (a leader's pending
  // read round is sent now). Append and vote responses, and messages of a
  // term not written yet, stay for the next Ready: they speak of what the
  // write stores. A slow log write so keeps the
  // leader's authority and the followers' liveness, and reads do not queue
  // behind it.
  // Also committed entries this node holds durably already (none while the
  // outstanding Ready installs a snapshot): a commit learnt during the write
  // is applied at once instead of after it. The host applies them after the
  // outstanding Ready's own committed entries; Advance() counts them applied.
  struct Unblocked {
    std::vector<pb::Message> messages;
    std::vector<ReadState> read_states;
    std::vector<pb::Entry> committed_entries;
  };
  Unblocked TakeUnblocked();
  // The host finished every step of the Ready returned by the last GetReady().
  void Advance(const Ready& rd);

  RaftStatus Status() const;

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t leader() const { return lead_; }
  Role role() const { return role_; }
  // Non-zero while this leader hands leadership over (proposals are refused).
  uint64_t lead_transferee() const { return lead_transferee_; }
  const RaftLog& log() const { return log_; }
  pb::ConfState conf_state() const { return trk_.ConfState(); }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit Raft(const Config& c);

  static pb::Message NewMessage(pb::MessageType type, uint64_t to);
  // Read-index requests and transfer orders carry no term (see raft.proto).
  static bool IsTermless(pb::MessageType t);

  // Role transitions.
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartCampaign(CampaignType t);
  void ResetRandomizedElectionTimeout();
  void CampaignSoonIfLeaderLost();
  bool Promotable() const;
  bool HasUnappliedConfChanges() const;
  bool PastElectionTimeout() const;
  // Whether a vote request now would break a promise made to a leader.
  bool InLease() const;
  // Whether this leader's lease covers the current tick (kLeaseBased).
  bool LeaseValid() const;

  void TickElection();
  void TickHeartbeat();

  // Message handling by role.
  void StepLeader(pb::Message& m);
  void StepCandidate(pb::Message& m);
  void StepFollower(pb::Message& m);
  bool IgnoresNonMember(const pb::Message& m, bool is_vote) const;
  void HandleVoteRequest(const pb::Message& m);
  void HandleAppendEntries(pb::Message& m);
  void HandleHeartbeat(const pb::Message& m);
  void HandleSnapshot(pb::Message& m);
  void HandleAppendResponse(const pb::Message& m);
  void HandleHeartbeatResponse(const pb::Message& m);
  absl::Status HandleTransferLeader(uint64_t transferee);
  void HandleReadIndexOnLeader(ReadRequest req);
  // A follower's request that is, with the leader, already a majority's
  // confirmation (see raft.cc).
  bool AskerCompletesQuorum(const ReadRequest& req) const;
  // Answers a confirmed read: a ReadState locally, a message to a follower.
  void RespondRead(const ReadRequest& req, uint64_t index);
  bool Restore(pb::Snapshot s);

  // Replication.
  void Send(pb::Message m);
  // Sends an append (or a snapshot) to `to` unless paused; with
  // send_if_empty=false only when there are entries. Returns whether sent.
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  // Keeps sending while the window allows (replicate state).
  void SendAppends(uint64_t to, bool send_if_empty);
  void SendHeartbeat(uint64_t to, const std::string& context);
  // The last message to a node being removed: what it needs to apply its
  // removal (raft_replication.cc).
  void SendParting(uint64_t to);
  void BcastAppend(bool send_if_empty);
  void BcastHeartbeat(const std::string& context);
  void SendTimeoutNow(uint64_t to);
  // Recomputes the commit index from the voters' match; true if it advanced.
  bool MaybeCommit();
  // Called whenever the leader's commit advanced.
  void OnCommitAdvanced();
  bool CommittedEntryInCurrentTerm() const;
  void AppendEntries(std::vector<pb::Entry> entries);
  void AbortLeaderTransfer() { lead_transferee_ = 0; }
  // Sends the broadcasts deferred since the last Ready, so that many
  // proposals (or commit advances, or reads) share one message per peer.
  void FlushBroadcasts();
  // The leader's own progress follows what the host made durable.
  void UpdateSelfProgress();

  pb::HardState HardState() const;
  SoftState GetSoftState() const { return SoftState{lead_, role_}; }

  // Configuration.
  uint64_t id_;
  int election_tick_;
  int heartbeat_tick_;
  bool pre_vote_;
  bool check_quorum_;
  ReadOnlyOption read_only_option_;
  absl::btree_set<uint64_t> lease_breakers_;  // peers that do not keep the lease's promise
  uint64_t lease_floor_ = 0;  // the lease counts acks of heartbeats sent from this tick on (SendTimeoutNow)
  uint64_t max_size_per_msg_;
  int lease_margin_ticks_;

  // Persistent state (mirrored in HardState).
  uint64_t term_ = 0;
  uint64_t vote_ = 0;
  RaftLog log_;

  // Volatile state.
  Role role_ = Role::kFollower;
  uint64_t lead_ = 0;
  uint64_t lead_transferee_ = 0;
  uint64_t ignored_non_members_ = 0;
  // Index of the latest conf change appended by this leader; a new one waits
  // until applied >= this.
  uint64_t pending_conf_index_ = 0;
  ProgressTracker trk_;
  ReadOnlyQueue read_only_;
  // A MSG_TIMEOUT_NOW arrived while a committed conf change was unapplied
  // (typically the leader removing itself): campaign once it is applied.
  bool campaign_after_apply_ = false;
  // Reads that arrived before this leader committed an entry of its term.
  std::vector<ReadRequest> reads_waiting_for_commit_;
  int election_elapsed_ = 0;
  bool leader_link_lost_ = false;  // follower: the link to the leader broke since we last heard it
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  // Ticks since this core was created (with those the host skipped): the
  // leader's clock for its lease, and the restart guard of lease mode.
  uint64_t now_ = 0;
  std::mt19937_64 rng_;

  // Deferred broadcasts (see FlushBroadcasts).
  bool pending_bcast_entries_ = false;
  bool pending_bcast_commit_ = false;
  bool pending_read_heartbeat_ = false;

  // Output not yet handed out.
  std::vector<pb::Message> msgs_;
  std::vector<ReadState> read_states_;
  pb::HardState prev_hard_state_;
  uint64_t durable_term_ = 0;  // the term of the last hard state written (Advance)
  SoftState prev_soft_state_;
  bool ready_outstanding_ = false;
};

}  // namespace consensus
