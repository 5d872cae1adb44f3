// The child redis-server: spawned with no persistence of its own, reachable only
// through a unix socket in the node's directory, killed with the node (Linux
// PR_SET_PDEATHSIG, so even a kill -9 of the node leaves no orphan).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace node {

// The name prefix of the node's own connections to its child (CLIENT SETNAME):
// CLIENT LIST, CLIENT KILL and INFO's client count leave them out.
inline constexpr char kInternalClientPrefix[] = "anarcho:";
// The shared link's name after the prefix (SharedLink): its commands
// are clients'.
inline constexpr char kSharedLinkName[] = "shared";

// The node's own user in its child. A client's connection runs as the user the
// client authenticates as (`default` at first); the node's own links (control,
// stream, reads, start-up) authenticate as this user, which may run anything,
// so ACL SETUSER, requirepass or a restricted default user never lock the node
// out. Its password is random per node process and never leaves it: the
// child's config file holds only its SHA-256. Clients never see the user (the
// router hides it from ACL replies and refuses to authenticate as it).
inline constexpr char kInternalUser[] = "anarcho-node";
// AUTH as kInternalUser, RESP-encoded.
std::string InternalAuthRequest(std::string_view password);

// The child's replication backlog (the node is its replica). Redis counts a
// backlog in the memory maxmemory bounds, up to its configured size, so it is
// Redis's default: a bigger one evicted data (under a maxmemory below it,
// every key, and then refused every write). It grows only while a child is
// promoted (Server::Promote), where it must hold what a child over maxmemory
// evicts between the node reading its offset and the stream continuing there.
inline constexpr char kChildBacklog[] = "1mb";
inline constexpr char kPromotionBacklog[] = "64mb";

struct ChildOptions {
  std::string redis_server = "redis-server";
  std::string dir;          // the child's working dir (its log file lives here)
  std::string socket_path;  // unix socket the child listens on
  int databases = 16;
  size_t max_clients = 10000;  // the node's clients (each has its own link here) and the node's links
  std::vector<std::string> extra_args;  // more "--name value" settings
  std::string internal_password;        // kInternalUser's
  std::string master_password;          // the child's masterauth, in its config file (not its arguments)
  absl::Duration ready_timeout = absl::Seconds(20);
};

class ChildRedis {
 public:
  explicit ChildRedis(ChildOptions options) : options_(std::move(options)) {}
  ~ChildRedis() { Kill(); }

  // Spawns a fresh child (killing any previous one) and waits until it answers PING.
  absl::Status Start();
  // SIGKILL and reap. Safe to call when not running.
  void Kill();
  // Reaps the child if it exited; returns true if it is gone.
  bool Reap();
  // Whether the last child ended by itself (it exited, or a signal not the
  // node's killed it) rather than by Kill().
  bool ended_by_itself() const { return ended_by_itself_; }
  // The last warning of the child's log (Redis's "#" lines: why it exited,
  // such as "FATAL: ..."), empty if there is none.
  std::string LastLoggedWarning() const;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // CPU time (clock ticks, user and system) of the child's main thread, which
  // runs every command; nullopt if it cannot be read.
  std::optional<uint64_t> MainThreadTicks() const;
  const ChildOptions& options() const { return options_; }

 private:
  ChildOptions options_;
  pid_t pid_ = -1;
  bool ended_by_itself_ = false;
};

}  // namespace node
