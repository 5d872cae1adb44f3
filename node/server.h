// The node: serves Redis clients, runs the child redis-server, and ties the
// replicated log to it (shared/DESIGN.md).
//
// As leader: client writes run on the child; the replication reader turns the
// child's propagated effects into log entries; replies wait until the entry
// covering their stream offset commits. Reads wait for their keys' pending
// writes and for a leadership confirmation (ReadIndex). A new leader serves
// nothing before it applied every committed entry and its own no-op.
// As follower: committed entries are applied to the child; clients are
// forwarded to the leader over their own connection.
// A node that stops leading, or whose child fails, rebuilds its child from the
// committed log before it applies anything more.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio.hpp"
#include "node/byte_stream.h"
#include "node/child/child_redis.h"
#include "node/child/control_link.h"
#include "node/child/effect_batcher.h"
#include "node/child/master_link.h"
#include "node/child/replication_reader.h"
#include "node/cluster/replicated_log.h"
#include "node/front/client_view.h"
#include "node/front/command_table.h"
#include "node/front/follower_reads.h"
#include "node/front/relay_sessions.h"
#include "node/front/relay_watch.h"
#include "node/front/shared_link.h"
#include "node/front/output_limit.h"
#include "node/gate/consistency_gate.h"
#include "node/logged_state.h"
#include "node/metrics.h"
#include "node/metrics_endpoint.h"
#include "node/snapshot.pb.h"
#include "node/snapshot_schedule.h"
#include "node/tls.h"
#include "node/upstream.h"
#include "resp/value.h"
#include "resp/limits.h"
#include "storage/log_store.h"

namespace node {

// Descriptors the node keeps besides its clients': the log store's (at most
// storage::kLogStoreMaxOpenFiles), and 56 for the rest (Raft links, the
// child's links, snapshots being written or sent, listening sockets, the
// event loop's own, with room to spare: 20-26 in use were measured): see
// ClientsTheFileLimitAllows. The Raft port's links in their handshake and
// the metrics endpoint's connections come on top (NodeFiles).
inline constexpr size_t kNodeFiles = 56 + storage::kLogStoreMaxOpenFiles;
// The descriptors the node keeps besides its clients' with these options:
// kNodeFiles, the Raft port's links in their handshake, and the metrics
// endpoint's connections if it serves them.
struct ServerOptions;
size_t NodeFiles(const ServerOptions& options);
// The largest maxclients up to `wanted` that the open-file limit allows, two
// descriptors a client and `node_files` for the node, after raising the soft
// limit up to the hard one; logs when it is lower than `wanted`.
size_t ClientsTheFileLimitAllows(size_t wanted, size_t node_files = kNodeFiles);

class ClientSession;
struct SettingsCheck;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 6380;
  TlsOptions tls;  // a second client port, with TLS (tls.port 0: none)
  std::string dir;  // all state lives here
  std::string redis_server = "redis-server";
  int databases = 16;
  resp::Limits limits;
  size_t max_clients = 10000;
  OutputBufferLimits output_limits;
  // The child's busy-reply-threshold at start (CONFIG SET changes it later):
  // past it, the child answers BUSY while a script runs, as Redis does.
  int busy_reply_threshold_ms = 5000;
  // A script that kept the child answering BUSY this long is stopped by the
  // node (clients may SCRIPT KILL it before, as with Redis).
  int script_kill_after_ms = 5000;
  // A child that answered no PING and used no CPU this long is rebuilt (0: never).
  int child_timeout_ms = 30000;
  std::string test_sync_gate;  // test hook: fsyncs wait while this file exists
  // Testing only, and unsafe: one rule of the consistency gate switched off,
  // to prove that the fault tests catch what it prevents.
  gate::BrokenRule test_broken_gate_rule = gate::BrokenRule::kNone;
  ReplicatedLogOptions raft;
  int no_leader_wait_ms = 3000;  // a client waits this long for a leader, then gets TRYAGAIN
  // A snapshot is taken once about this much log (entry payload) was
  // committed since the last one (node/snapshot_schedule.h; 0: only on demand).
  uint64_t snapshot_log_bytes = 64ULL << 20;
  // A leader starts a divergence check this often (0: only on demand).
  int digest_interval_s = 0;
  int metrics_port = 0;  // Prometheus metrics on bind:metrics_port (0: none)
  // A follower serves linearizable reads from its own child (read index from
  // the leader, then its child applied that far); off: reads go to the leader.
  bool follower_reads = true;
  // Testing only, and unsafe: follower reads run without waiting for a read
  // index, to prove that the fault tests catch stale reads.
  bool test_follower_reads_no_wait = false;
  // The leader sends its sessions' plain data commands to its child on one
  // shared link (SharedLink); off: every session on its own connection.
  bool shared_child_link = true;
  // A follower sends its sessions' plain data commands to the leader on one
  // connection (the same SharedLink); off: each session on its own.
  bool shared_relay = true;
};

// A divergence check's point: the leader child's digest
// (node/child/child_digest.h) of the state after log entry `index`.
struct DigestPoint {
  uint64_t index = 0;
  std::string digest;
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options);
  ~Server();

  absl::Status Start();
  void Stop();

  // --- for ClientSession ---
  const CommandTable& commands() const { return *commands_; }
  // MONITOR (node/front/monitor.h): the sessions that monitor, and a line for
  // each of them (delivered on the next turn of the event loop).
  void AddMonitor(const std::shared_ptr<ClientSession>& session);
  bool has_monitors() const { return !monitors_.empty(); }
  void FeedMonitors(std::string line);
  const ServerOptions& options() const { return options_; }
  Upstream CurrentUpstream() const;
  gate::ConsistencyGate& gate() { return gate_; }
  // The epoch of the child's scan cursors (node/front/scan_cursor.h).
  uint32_t scan_epoch() const { return scan_epoch_; }
  // Reads this follower serves from its own child; null while it leads, or
  // with --follower_reads off.
  FollowerReads* follower_reads() { return is_leader_ || promoted_ ? nullptr : follower_reads_.get(); }
  // The link that sessions share for plain data commands: on the leader, to
  // its child (null until it serves, or with --shared_child_link off); on a
  // follower, to the leader (null with --shared_relay off).
  SharedLink* shared_link() {
    if (is_leader_) return leader_ready_ && options_.shared_child_link ? shared_link_.get() : nullptr;
    return options_.shared_relay ? shared_link_.get() : nullptr;
  }
  // CLIENT PAUSE (for `ms`) or UNPAUSE (0) goes to the child: while it holds
  // requests, new ones stay off the shared link (see SharedLink::HoldFor).
  // If the child refuses it, UndoPause puts the hold back as it was.
  std::optional<SharedLink::Hold> PauseSharedLink(int64_t ms);
  void UndoPause(const SharedLink::Hold& hold);
  // The gate may have work (released replies, a read round to start): done
  // on the next turn of the event loop.
  void GateChanged();
  // Learns the stream offset for `cover` from a ROLE sent after this turn of
  // the event loop: one ROLE covers the writes of every session that asked in
  // the meantime. Call it once the replies of the writes to cover arrived.
  // The ROLE rides the shared link's write of the turn when it can, else it
  // takes the node's control link.
  void CoverFromNow(gate::CoverId cover);
  // Learns `cover`'s offset from a ROLE on the control link (retried while
  // the child refuses it).
  void CoverOnControl(gate::CoverId cover);
  // Kills a gone client's child connection, then learns a covering offset.
  void KillChildClient(int64_t child_client_id, gate::CoverId cover);
  void SessionClosed(gate::SessionId session);
  // A session said a follower relays on it (ANARCHO.RELAY <member>): it ends
  // once that member falls silent (node/front/relay_sessions.h).
  // Returns its token (RelaySessions::Add).
  uint64_t AddRelaySession(uint64_t member, const std::shared_ptr<ClientSession>& session);
  // The follower `member` gave up the connection of its session `token`:
  // false if that session ended already.
  bool EndRelaySession(uint64_t member, uint64_t token);
  // What this node's connections to the leader's client port send first.
  const std::string& relay_preamble() const { return relay_preamble_; }
  // A connection to the leader's client port that told its session's token.
  void WatchRelay(RelayWatch::Link link);
  uint64_t leader_id() const { return leader_id_; }
  // Logs requests the leader's child ran that changed state its stream does
  // not carry (SCRIPT LOAD, CONFIG SET, XREADGROUP's reads of pending
  // entries) as node entries, which every member's child runs. They are
  // proposed right after the stream's effects up to the offset a ROLE
  // returns, asked once their replies arrived: after the requests' own
  // effects, as the leader's child ran them. `slot`'s reply waits for their
  // commit. While a leadership transfer pauses proposals they wait, as the
  // stream's effects do: the child ran the requests either way. False if this
  // node no longer leads.
  bool LogAfterEffects(std::vector<LoggedRequest> requests, gate::SlotId slot);
  // The node's own commands (ANARCHO.*, SHUTDOWN, CLIENT KILL, INFO without a
  // leader), answered here; `proto` is the client's, `caller` its session.
  // `reply` may run later (ANARCHO.SNAPSHOT waits for the snapshot).
  void NodeCommand(std::span<const std::string_view> args, int proto, gate::SessionId caller,
                   std::function<void(std::string)> reply);
  // Users (server_clients.cc). Whether any user change is in force (ACL
  // SETUSER, requirepass): until then every connection runs as Redis's
  // default user, which may run anything, and the node skips the checks below.
  bool acl_in_use() const { return logged_.acl_changes() > 0; }
  // CONFIG SET client-query-buffer-limit as committed: the sessions hold
  // their clients to it, so that no request reaches a child that would close
  // the link it came on (the client got UNKNOWN for a request never run).
  int64_t query_buffer_limit() const { return query_buffer_limit_; }
  const NodeAcl& node_acl() const { return logged_.node_acl(); }
  size_t logged_bytes() const { return logged_.bytes(); }
  // Whether Redis's default user needs no password (and is on): a new
  // connection starts authenticated. Learnt from the child after each user
  // change; a session confirms it on its own connection (HELLO).
  bool default_user_open() const { return acl_in_use() ? default_user_open_ : true; }
  // The AUTH that makes a connection to the child the node's own.
  const std::string& child_auth_request() const { return child_auth_request_; }
  // A follower's sessions' attempts to connect to the leader's client port:
  // the last failure's reason until one is answered or the leader changes.
  // Health and clients' TRYAGAIN name it: the leader is known, so nothing
  // says an election is under way.
  void NoteLeaderConnect(const asio::error_code& ec);
  // Why clients' requests have nowhere to go now (CurrentUpstream is none,
  // or the leader's port refused this node), as their TRYAGAIN says it.
  std::string NoUpstreamReason() const;
  // Whether `user` may run what `args` asks of the node itself: an ANARCHO.*
  // command by the @anarcho rules (NodeAcl), SHUTDOWN or CLIENT KILL by the
  // child's (ACL DRYRUN on the node's link). `done` gets "" if so, else the
  // NOPERM error to reply.
  void CheckPermission(const std::string& user, std::span<const std::string_view> args,
                       std::function<void(std::string)> done);
  // Clients as a client sees them (server_clients.cc): a session's addresses
  // by its connection on the leader's child; how many sessions have one;
  // CONFIG GET's reply with this node's view of the settings it owns.
  std::optional<ClientAddresses> SessionAddresses(int64_t child_client_id) const;
  // CLIENT UNBLOCK of a client in a WAIT (ClientSession::UnblockWait).
  bool UnblockWait(int64_t child_client_id, bool error);
  uint64_t ChildClientCount() const;
  std::string WithNodeSettings(std::string_view config_get_reply, int proto) const;
  // +OK if every setting `check` wants already holds (CONFIG GET's reply,
  // this node's view), else the refusal of the first that does not.
  std::string CheckSettings(const SettingsCheck& check, std::string_view config_get_reply) const;
  // A graceful stop (server_shutdown.cc): requests in flight are answered,
  // the log tail is snapshotted as `snapshot` says, then a leader hands its
  // leadership over; `done` runs once that is done (or was not needed). The
  // caller then Stop()s. Only the first call counts.
  enum class ShutdownSnapshot { kAuto, kAlways, kNever };
  void Shutdown(ShutdownSnapshot snapshot, std::function<void()> done);
  bool shutting_down() const { return shutting_down_; }
  void HandOver(std::function<void()> then);
  // The voter a leader would hand over to (the most caught-up): 0 if none.
  uint64_t HandOverTarget() const;
  // Set by the owner: SHUTDOWN asks for a graceful stop.
  std::function<void(ShutdownSnapshot)> on_shutdown_command;
  // Takes a snapshot of the child now (or joins the one under way).
  void TakeSnapshot(std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done);
  // Leader: logs a divergence check (or joins the one under way); `done`
  // once its entry committed. Every member compares its child with it.
  void CheckDigest(std::function<void(absl::StatusOr<DigestPoint>)> done);
  std::string InfoSection() const;
  int ReplicaCountForWait() const;
  // In the configuration this node knows (a voter or a learner).
  bool IsMember() const;
  Metrics& metrics() { return metrics_; }
  // The port metrics are served on (0: none).
  int metrics_port() const { return metrics_endpoint_ ? metrics_endpoint_->port() : 0; }
  // Reads the TLS certificate, key and CA files again (SIGHUP), for the
  // client port and, with --tls_peers, the peer links and the hop to the
  // leader: connections from now on use them; those open keep theirs. If
  // the files do not load, the node keeps the contexts it had.
  absl::Status ReloadTls();

 private:
  ClientSession* SessionOfChildClient(int64_t child_client_id) const;
  enum class State { kStarting, kRunning, kStopped };

  // Start's parts: the child's settings and the link it follows, the
  // replicated log and its hooks, the client ports.
  absl::Status PrepareChild();
  absl::Status MakeReplicatedLog();
  absl::Status ListenForClients();
  // One acceptor on bind:port.
  absl::StatusOr<std::unique_ptr<asio::ip::tcp::acceptor>> Listen(int port);
  void AcceptTls();
  // A client connected (after the TLS handshake on the TLS port).
  void AddSession(ByteStream stream);
  absl::Status StartMetrics();
  std::string RenderMetrics();
  absl::Status StartChild();
  void OnSoftState(const consensus::SoftState& ss);
  void OnCommitted(std::vector<consensus::pb::Entry>&& entries);
  void OnReadStates(std::vector<consensus::ReadState>&& states);
  void OnApplied(uint64_t index);
  void OnEffects(EffectRun&& run);
  void ProposePending();
  void ProposeStream();
  // Proposes the node entries (LogAfterEffects) whose offset the proposed
  // stream reached.
  void ProposeFollows();
  void AskFollowOffset(uint64_t epoch);
  // The leader child's replication offset from a ROLE on the control link,
  // asked again while the child answers BUSY, as long as `wanted()`; `then`
  // does not run if the child is no longer a master.
  void AskMasterOffset(std::function<bool()> wanted, std::function<void(uint64_t)> then);
  void AdvanceCommitted(uint64_t offset);
  void CheckLeaderReady();
  void Promote();
  void StartStream(std::pair<std::string, uint64_t> resume, int db);
  void StopStream();
  void OnChildSyncRequested();
  // Entry `index` for a child that replicates from this node, with its
  // effects if it has any (EffectsOf).
  void FeedChild(uint64_t index, std::optional<pb::EffectBatch> batch);
  // The child is fed from the log what it was not fed at once (server_child.cc).
  void ScheduleFeed();
  void FeedFromLog();
  bool FeedsAtOnce(uint64_t index) const;
  // The child is streaming, not paused, and has room in its backlog.
  bool ChildTakesMore() const;
  // Unapplied stream bytes past which the child is fed nothing more for now.
  static constexpr uint64_t kMaxChildBacklog = 32 << 20;
  // A divergence check this many entries below the commit index is skipped
  // by a child catching up.
  static constexpr uint64_t kMaxCheckLag = 1000;
  static std::optional<pb::EffectBatch> EffectsOf(const consensus::pb::Entry& e);
  // Entries the child holds: all committed ones once promoted.
  uint64_t AppliedIndex() const { return promoted_ ? committed_index_ : link_.applied(); }
  void DrainGate();
  void MaybeStartReadRound();
  // Clients of this leadership get `error`; the gate forgets everything.
  void EndLeaderEpoch(const std::string& error);
  void Drain(std::chrono::steady_clock::time_point deadline, std::function<void()> then);
  std::string ShutdownCommand(std::span<const std::string_view> args);
  // CLIENT KILL over the leader child's clients, the node's own links spared.
  void KillClients(std::span<const std::string_view> args, gate::SessionId caller,
                   std::function<void(std::string)> reply);
  size_t ClientConnections() const;
  void KillMatching(const ClientKillFilter& filter, gate::SessionId caller, const resp::Value& client_list,
                    const std::function<void(std::string)>& reply);
  void AskCoverOffset();
  void WatchBusy();
  // A child that answers nothing and does not run is rebuilt.
  void CheckChildStuck();
  // How long the watchdog's PING has been waiting for the child's answer.
  std::chrono::milliseconds ChildSilence() const;
  // Runs, and answered within kChildSilentTooLong.
  bool ChildHealthy() const;
  static constexpr std::chrono::milliseconds kChildSilentTooLong{2000};
  // A relay connection awaiting replies that heard nothing for this long is
  // given up (RelayWatch): eight of the leader's signs of life missed. The
  // leader is asked to end its session within kRelayEndTimeout, or again.
  static constexpr std::chrono::milliseconds kRelaySilence{2000};
  static constexpr std::chrono::milliseconds kRelayEndTimeout{1000};
  void OnBusy(const std::string& busy_error);
  // The child no longer matches the committed log (or died): abort client
  // work, start a fresh child and apply the committed log to it again.
  void RebuildChild(const std::string& why);
  // A child that ended by itself: says why (its log's last warning) and, if
  // it ended soon after its start, waits before the next start.
  void BackOffAfterCrash();
  void AbortSessions(const std::string& error);
  // This node was removed: its clients are told, then it exits once its last
  // messages left.
  void LeaveCluster();
  // The registry AddRelaySession fills, and the watch WatchRelay does (once
  // the replicated log exists).
  void StartRelaySessions();
  void StartSharedLink();
  // The shared link closed: the sessions of these requests get `error`.
  void LoseSharedRequests(const std::vector<SharedLink::Tag>& unanswered, const std::string& error);
  // The ROLE of the shared link asked for `covers` answered.
  void SharedLinkCovered(std::span<const uint64_t> covers, std::string_view bytes, char type);
  void NotifySessions();
  void WatchChild();
  void PollChild();
  void PromoteLearners();
  void Accept();
  void AcceptFailed(const asio::error_code& ec, asio::ip::tcp::acceptor& acceptor, std::function<void()> again);
  std::string StatusReply(int proto) const;
  std::string HealthReply(int proto) const;
  // INFO answered by this node from its own child (no leader to ask).
  void LocalInfo(std::span<const std::string_view> args, int proto, std::function<void(std::string)> reply);
  std::string MembersReply(int proto) const;
  std::string NodeCommandNow(std::span<const std::string_view> args, int proto);
  std::string MembershipCommand(const std::string& name, std::span<const std::string_view> args);
  std::optional<std::string> UnusableAddress(uint64_t id, const PeerAddress& addr,
                                             const consensus::pb::ConfState& members) const;

  // Snapshots of the child (server_snapshots.cc).
  // Each snapshot and divergence check (the leader's, and a follower's
  // comparison) has a serial number of its own. A callback of a job (a reply
  // from the child, a timer, a mark) acts only if that job is still the one
  // under way: a new job may have taken its place, even at the same address
  // or for the same log entry.
  struct SnapshotJob {
    uint64_t serial = 0;
    std::vector<std::function<void(absl::StatusOr<pb::SnapshotMeta>)>> waiters;
    std::optional<uint64_t> index;  // the log index of the state caught
    uint64_t offset = 0;            // the child's stream offset at the fork
    bool replica = false;           // taken from a replica child (feed paused)
    bool saved = false;
    bool adding = false;            // handed to the Raft host
    bool pausing = false;           // holds proposals until the fork's offset is known
    bool holding = false;           // holds logged requests until the snapshot's index is known
    std::string file;               // the saved RDB, out of the child's directory
    std::string newest_before;      // the newest snapshot's file when this one was handed over
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  };

  bool SnapshotUnderWay(uint64_t serial) const { return snap_ && snap_->serial == serial; }
  bool DigestUnderWay(uint64_t serial) const { return digest_ && digest_->serial == serial; }
  void SnapshotReplicaChild();
  void SnapshotLeaderChild();
  void WhenSettled(asio::steady_timer& timer, std::function<bool()> live, std::function<void(bool settled)> then,
                   int polls = 0);
  void EndLoggedHold(bool& holding);
  void SaveChild();
  void OnLeaderForked(const resp::Value& role);
  void PollSaved(uint64_t job);
  void OnSaved();
  void FinishSnapshot();
  void EndSnapshot(absl::StatusOr<pb::SnapshotMeta> result);
  void AbortSnapshot(const std::string& why);
  void LoggedSettingsChanged();
  void MaybeSnapshot();
  void RetrySnapshotLater();
  void LowerSaverPriority();
  void OnSnapshotInstalled(const pb::SnapshotMeta& meta);
  // A follower waits until its child applied everything fed (feed paused),
  // polling on `timer` (each user has its own: re-arming a timer drops the
  // other user's wait).
  // `live` is asked before each poll: a job that ended stops polling (and
  // leaves the timer to whoever armed it since).
  void WhenQuiet(asio::steady_timer& timer, std::function<bool()> live, std::function<void(bool quiet)> then,
                 int polls = 0);

  // The leader's child at a known stream offset (read with ROLE while
  // proposals paused): `at` gets the index of the entry after which the log
  // holds that state, once it is proposed. `follow`, if not empty, is
  // proposed right after that entry.
  struct Mark {
    uint64_t offset = 0;
    std::string follow{};
    std::function<void(uint64_t index)> at{};
  };
  absl::Status MarkOffset(Mark mark);
  static absl::StatusOr<uint64_t> MasterOffset(const resp::Value& role);

  // Backups (server_backup.cc).
  std::string BackupDir() const;
  // A snapshot whose fork comes after this call (not one already under way).
  void TakeFreshSnapshot(std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done);
  // A read round begun now: true if this node still led when it completed.
  void ConfirmLeadership(std::function<void(bool)> done);
  void EndLeadershipChecks();
  void Backup(int proto, std::function<void(std::string)> reply);
  absl::StatusOr<std::string> LinkBackup(const pb::SnapshotMeta& meta);
  std::string ReadBackup(std::span<const std::string_view> args);
  std::string EndBackup(std::span<const std::string_view> args);

  // Divergence checks (server_digest.cc).
  struct DigestJob {
    uint64_t serial = 0;
    std::vector<std::function<void(absl::StatusOr<DigestPoint>)>> waiters;
    DigestPoint point;  // index known once its entry is proposed
    bool pausing = false;  // holds proposals from the digest's request until the child answered
    bool holding = false;  // holds logged requests until the check entry's place is known
  };
  // Proposals wait while a snapshot or a divergence check needs the leader's
  // child to answer at a known offset. The pause belongs to the job: it ends
  // with the job, however the job ends (a lost child, a lost leadership).
  // Which job holds them ("snapshot", "digest"), or null.
  const char* ProposalsPausedBy() const {
    if (snap_ && snap_->pausing) return "snapshot";
    if (digest_ && digest_->pausing) return "digest";
    return nullptr;
  }
  bool ProposalsPaused() const { return ProposalsPausedBy() != nullptr; }
  void OnLeaderDigest(const absl::StatusOr<std::string>& digest, const resp::Value& role_before,
                      const resp::Value& role_after);
  void EndDigest(absl::StatusOr<DigestPoint> result);
  void DigestCommitted(uint64_t index, const std::string& digest);
  void CompareDigest(uint64_t index, const std::string& leaders_digest);
  void RecordComparison(uint64_t index, const std::string& mine, const std::string& expected);
  void RecordDigest(uint64_t index, const std::string& digest, const std::string& outcome);
  void SkipDigest(uint64_t index, const std::string& why);
  void ScheduleDigest();

  asio::io_context& io_;
  ServerOptions options_;
  ChildOptions child_options_;
  State state_ = State::kStarting;
  std::unique_ptr<storage::LogStore> store_;
  std::unique_ptr<ReplicatedLog> rlog_;
  std::unique_ptr<ChildRedis> child_;
  std::unique_ptr<CommandTable> commands_;
  gate::ConsistencyGate gate_;
  bool gate_drain_posted_ = false;
  // DrainGate's buffers, kept between drains (it runs once per commit).
  std::vector<gate::Action> released_;
  std::vector<std::shared_ptr<ClientSession>> released_to_;
  std::unique_ptr<FollowerReads> follower_reads_;
  std::unique_ptr<SharedLink> shared_link_;
  std::unique_ptr<RelaySessions> relay_sessions_;
  std::unique_ptr<RelayWatch> relay_watch_;
  std::string relay_preamble_;  // ANARCHO.RELAY <this node's id>
  std::vector<std::shared_ptr<ClientSession>> shared_touched_;  // answered on it, flushed after each batch
  std::unique_ptr<ReplicationReader> reader_;
  MasterLink link_;  // the child replicates from here unless promoted
  bool promoted_ = false;  // the child is a master: this node leads and reads its stream
  uint32_t scan_epoch_ = 0;  // drawn at each child's start (node/front/scan_cursor.h)
  std::mt19937 random_{std::random_device{}()};
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<asio::ip::tcp::acceptor> tls_acceptor_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // replaced by ReloadTls; sessions keep theirs
  // --tls_peers: the Raft links' context, and followers' hop to the leader's
  // TLS port; replaced by ReloadTls.
  std::shared_ptr<asio::ssl::context> peer_tls_context_;
  uint64_t tls_handshakes_ = 0;  // TLS clients accepted
  std::vector<std::weak_ptr<ClientSession>> monitors_;
  uint64_t tls_handshakes_failed_ = 0;
  asio::signal_set child_signals_;
  asio::steady_timer child_watch_;
  asio::steady_timer promote_timer_;
  asio::steady_timer busy_timer_;
  ControlLink control_;
  bool busy_ping_in_flight_ = false;
  bool feed_scheduled_ = false;
  std::chrono::steady_clock::time_point busy_ping_sent_;
  // The child's main thread last used CPU (seen while a PING waited).
  std::chrono::steady_clock::time_point child_ran_at_;
  uint64_t child_ticks_seen_ = 0;
  std::optional<std::chrono::steady_clock::time_point> busy_since_;  // the child first answered BUSY
  gate::SessionId next_session_ = 1;
  absl::flat_hash_map<gate::SessionId, std::shared_ptr<ClientSession>> sessions_;

  // Leadership.
  uint64_t leader_id_ = 0;
  std::chrono::steady_clock::time_point no_leader_since_ = std::chrono::steady_clock::now();
  bool is_leader_ = false;
  bool leader_ready_ = false;  // serving clients as leader
  uint64_t ready_barrier_ = 0;  // apply up to here before serving
  bool stream_starting_ = false;

  // The leader child's stream (shared/DESIGN.md, "The write path").
  std::string stream_id_;
  uint64_t committed_offset_ = 0;  // effects up to here are committed
  EffectBatcher batcher_;          // effects not yet proposed

  // Applying.
  uint64_t committed_index_ = 0;  // last committed entry handed to the applier

  uint64_t rebuilds_ = 0;
  // Children in a row that ended by themselves soon after their start: the
  // next start waits longer (BackOffAfterCrash).
  int child_crashes_in_a_row_ = 0;
  std::chrono::steady_clock::time_point child_started_{};
  consensus::Role role_ = consensus::Role::kFollower;
  Metrics metrics_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  uint64_t scripts_killed_ = 0;
  int64_t query_buffer_limit_ = resp::Limits{}.query_buffer_limit;

  // Snapshots.
  std::unique_ptr<SnapshotJob> snap_;
  asio::steady_timer snap_timer_;
  asio::steady_timer snap_retry_;  // a due snapshot that failed is tried again (RetrySnapshotLater)
  bool snap_retry_armed_ = false;
  std::chrono::milliseconds snap_retry_after_{0};  // the last wait (0: the last attempt succeeded)
  uint64_t job_serial_ = 0;  // the last job's: a snapshot, a divergence check or a follower's comparison
  uint64_t sync_serial_ = 0;  // the child's last sync request's (OnChildSyncRequested)
  uint64_t snapshots_taken_ = 0;
  SnapshotSchedule snapshot_schedule_;
  struct {
    uint64_t index = 0;
    uint64_t end = 0;  // stream offset
  } last_stream_entry_;            // the state the leader's child holds, in log terms
  std::optional<Mark> mark_;
  // Node entries to propose once the stream is proposed up to `offset`
  // (LogAfterEffects), in the order their ROLEs answered; those whose offset
  // is not known yet wait in asking_.
  struct Follow {
    uint64_t offset = 0;
    std::string payload;  // the node entry (LogAfterEffects)
    gate::SlotId slot = 0;
  };
  std::deque<Follow> follows_, asking_;
  uint64_t leader_epoch_ = 0;  // counts EndLeaderEpoch: a ROLE asked before one is stale
  asio::steady_timer compare_timer_;  // a follower's divergence check (CompareDigest)
  asio::steady_timer handover_timer_;
  asio::steady_timer drain_timer_;
  bool shutting_down_ = false;
  static constexpr auto kDrainTimeout = std::chrono::seconds(2);
  LoggedState logged_;  // scripts, settings and users as the log built them
  LoggedHistory logged_history_;  // the same as of each index since the newest snapshot
  std::string child_auth_request_;
  std::string leader_unreachable_;  // NoteLeaderConnect
  bool default_user_open_ = true;
  uint64_t acl_generation_seen_ = 0;
  uint64_t acl_changed_at_ = 0;  // the log index of the newest user change (or snapshot)
  // Asks the child whether the default user needs a password, if the users
  // changed since it last asked.
  void LearnDefaultUser();

  std::vector<gate::CoverId> covers_waiting_;  // for the control link's next ROLE (CoverOnControl)

  // Leadership confirmations of the node's own (backups): read rounds
  // whose context is "h<n>".
  uint64_t leadership_checks_seq_ = 0;
  std::map<uint64_t, std::function<void(bool)>> leadership_checks_;

  // Divergence checks.
  std::unique_ptr<DigestJob> digest_;
  asio::steady_timer digest_timer_;
  asio::steady_timer digest_settle_timer_;
  struct {
    uint64_t index = 0;   // follower: the check entry holding the feed (0: none)
    uint64_t serial = 0;  // this comparison's (as a job's): the same entry may be fed again after a re-sync
  } feed_check_;
  uint64_t digest_checks_ = 0, digest_mismatches_ = 0, digest_skipped_ = 0;
  struct {
    uint64_t index = 0;
    std::string digest;
    std::string outcome;  // "leader", "match", "MISMATCH"
  } last_digest_;
};

}  // namespace node
