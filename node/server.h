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
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio.hpp"
#include "node/child/applier.h"
#include "node/child/child_redis.h"
#include "node/front/command_table.h"
#include "node/gate/key_lock_table.h"
#include "node/cluster/replicated_log.h"
#include "node/child/replication_reader.h"
#include "resp/limits.h"
#include "storage/log_store.h"

namespace node {

class ClientSession;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 6380;
  std::string dir;  // all state lives here
  std::string redis_server = "redis-server";
  int databases = 16;
  resp::Limits limits;
  size_t max_clients = 10000;
  std::string test_sync_gate;  // test hook: fsyncs wait while this file exists
  // Testing only, and unsafe: acknowledge writes as soon as the child ran them,
  // before they commit (proves that the fault tests catch lost writes).
  bool test_unsafe_ack_before_commit = false;
  ReplicatedLogOptions raft;
  int no_leader_wait_ms = 3000;  // a client waits this long for a leader, then gets TRYAGAIN
};

// Where a client session sends its requests.
struct Upstream {
  enum class Kind { kNone, kChild, kLeader } kind = Kind::kNone;
  std::string socket_path;  // kChild
  std::string host;         // kLeader
  int port = 0;
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options);
  ~Server();

  absl::Status Start();
  void Stop();

  // --- for ClientSession ---
  const CommandTable& commands() const { return *commands_; }
  KeyLockTable& locks() { return locks_; }
  const ServerOptions& options() const { return options_; }
  Upstream CurrentUpstream() const;
  uint64_t committed_offset() const { return committed_offset_; }
  // Releases `tickets` and `marked` keys once the stream is durable up to
  // `offset`, then tells the session (if still there).
  void AwaitCommit(uint64_t offset, std::vector<KeyLockTable::Ticket> tickets,
                   std::vector<std::string> marked, std::weak_ptr<ClientSession> session);
  // Calls `done` once leadership was confirmed by a round begun after this call
  // and the state machine caught up with it (ReadIndex).
  void ConfirmRead(std::function<void()> done);
  void UnblockChildClient(int64_t child_client_id);
  void SessionClosed(ClientSession* session);
  // The node's own commands (ANARCHO.*), answered here; `proto` is the client's.
  std::string NodeCommand(std::span<const std::string_view> args, int proto);
  bool IsLocalNodeCommand(std::string_view lowercase_name) const;
  std::string InfoSection() const;
  int ReplicaCountForWait() const;

 private:
  enum class State { kStarting, kRunning, kStopped };

  absl::Status StartChild();
  void OnSoftState(const consensus::SoftState& ss);
  void OnCommitted(std::vector<consensus::pb::Entry>&& entries);
  void OnReadStates(std::vector<consensus::ReadState>&& states);
  void OnApplied(uint64_t index);
  void OnEffects(EffectRun&& run);
  void ProposePending();
  void AdvanceCommitted(uint64_t offset);
  void CheckLeaderReady();
  void StartStream();
  void StopStream();
  void StartReadRound();
  // The child no longer matches the committed log (or died): abort client
  // work, start a fresh child and apply the committed log to it again.
  void RebuildChild(const std::string& why);
  void AbortSessions(const std::string& error);
  void NotifySessions();
  void WatchChild();
  void PollChild();
  void PromoteLearners();
  void Accept();
  std::string StatusReply(int proto) const;

  asio::io_context& io_;
  ServerOptions options_;
  ChildOptions child_options_;
  State state_ = State::kStarting;
  std::unique_ptr<storage::LogStore> store_;
  std::unique_ptr<ReplicatedLog> rlog_;
  std::unique_ptr<ChildRedis> child_;
  std::unique_ptr<CommandTable> commands_;
  KeyLockTable locks_;
  std::unique_ptr<ReplicationReader> reader_;
  Applier applier_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  asio::signal_set child_signals_;
  asio::steady_timer child_watch_;
  asio::steady_timer promote_timer_;
  std::unique_ptr<asio::local::stream_protocol::socket> control_;
  std::shared_ptr<std::function<void()>> control_drain_;
  absl::flat_hash_map<ClientSession*, std::shared_ptr<ClientSession>> sessions_;

  // Leadership.
  uint64_t leader_id_ = 0;
  bool is_leader_ = false;
  bool leader_ready_ = false;  // serving clients as leader
  uint64_t ready_barrier_ = 0;  // apply up to here before serving
  bool stream_starting_ = false;

  // The leader child's stream (shared/DESIGN.md, "The write path").
  std::string stream_id_;
  uint64_t committed_offset_ = 0;  // effects up to here are committed
  uint64_t proposed_end_ = 0;      // effects up to here are proposed
  EffectRun pending_;              // effects not yet proposed
  uint64_t pending_begin_ = 0;
  struct CommitWaiter {
    std::vector<KeyLockTable::Ticket> tickets;
    std::vector<std::string> marked;
    std::weak_ptr<ClientSession> session;
  };
  std::multimap<uint64_t, CommitWaiter> commit_waiters_;

  // Applying.
  uint64_t committed_index_ = 0;  // last committed entry handed to the applier

  // Linearizable reads.
  uint64_t read_seq_ = 0;
  std::vector<std::function<void()>> read_waiting_;  // for the next round
  std::map<std::string, std::vector<std::function<void()>>> read_inflight_;
  std::multimap<uint64_t, std::function<void()>> read_ready_;  // wait for apply

  uint64_t rebuilds_ = 0;
};

}  // namespace node
