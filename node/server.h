// The node: accepts clients, owns the child, the replication reader, the key
// locks and the effect log, and ties the write path together
// (shared/DESIGN.md, "The write path" and "The read path").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio.hpp"
#include "node/child_redis.h"
#include "node/command_table.h"
#include "node/effect_log.h"
#include "node/key_lock_table.h"
#include "node/replication_reader.h"
#include "resp/limits.h"
#include "storage/log_store.h"

namespace node {

class ClientSession;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 6380;
  std::string dir;                  // all state lives here
  std::string redis_server = "redis-server";
  int databases = 16;
  resp::Limits limits;
  size_t max_clients = 10000;
  std::string test_sync_gate;       // test hook: syncs wait while this file exists
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options);
  ~Server();

  // Opens the log, starts the child, rebuilds it from the log, syncs the
  // replication link, then listens for clients.
  absl::Status Start();
  void Stop();

  // --- for ClientSession ---
  const CommandTable& commands() const { return *commands_; }
  KeyLockTable& locks() { return locks_; }
  const ServerOptions& options() const { return options_; }
  const std::string& child_socket() const { return child_options_.socket_path; }
  bool serving() const { return state_ == State::kServing; }
  uint64_t committed_offset() const { return log_->committed_offset(); }
  uint64_t child_epoch() const { return child_epoch_; }

  // Releases `tickets` and unmarks `marked` keys once the stream is durable up to
  // `offset`, then tells `session` (if still there).
  void AwaitCommit(uint64_t offset, std::vector<KeyLockTable::Ticket> tickets,
                   std::vector<std::string> marked, std::weak_ptr<ClientSession> session);
  // Asks the child to unblock a blocked client (a session leaving with a
  // blocking command in flight).
  void UnblockChildClient(int64_t child_client_id);
  void SessionClosed(ClientSession* session);
  // The node's own commands (ANARCHO.*): the reply, encoded for `proto`.
  std::string NodeCommand(std::span<const std::string_view> args, int proto);
  // Children of followers count here in the cluster; a single node has none.
  int ReplicaCountForWait() const { return 0; }

 private:
  enum class State { kStarting, kServing, kRebuilding, kStopped };
  struct CommitWaiter {
    std::vector<KeyLockTable::Ticket> tickets;
    std::vector<std::string> marked;
    std::weak_ptr<ClientSession> session;
  };

  // Starts (or restarts) the child and replays the log into it; synchronous.
  absl::Status StartChildFromLog();
  void StartReader();
  void OnCommit(uint64_t offset);
  // The child or its link failed: close sessions, rebuild the child from the log.
  void Rebuild(const std::string& why);
  void WatchChild();
  void Accept();
  void ReleaseAllWaiters();

  asio::io_context& io_;
  ServerOptions options_;
  ChildOptions child_options_;
  State state_ = State::kStarting;
  std::unique_ptr<storage::LogStore> store_;
  std::unique_ptr<EffectLog> log_;
  std::unique_ptr<ChildRedis> child_;
  std::unique_ptr<CommandTable> commands_;
  KeyLockTable locks_;
  std::unique_ptr<ReplicationReader> reader_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  asio::signal_set child_signals_;
  asio::steady_timer child_watch_;
  std::unique_ptr<asio::local::stream_protocol::socket> control_;
  std::shared_ptr<std::function<void()>> control_drain_;
  absl::flat_hash_map<ClientSession*, std::shared_ptr<ClientSession>> sessions_;
  std::multimap<uint64_t, CommitWaiter> commit_waiters_;
  uint64_t child_epoch_ = 0;
  uint64_t rebuilds_ = 0;
  uint64_t replayed_entries_ = 0;
  std::string stream_id_;
  bool accepting_ = false;
};

}  // namespace node
