// The child redis-server: spawned with no persistence of its own, reachable only
// through a unix socket in the node's directory, killed with the node (Linux
// PR_SET_PDEATHSIG, so even a kill -9 of the node leaves no orphan).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace node {

// The name prefix of the node's own connections to its child (CLIENT SETNAME):
// CLIENT LIST, CLIENT KILL and INFO's client count leave them out.
inline constexpr char kInternalClientPrefix[] = "anarcho:";

struct ChildOptions {
  std::string redis_server = "redis-server";
  std::string dir;          // the child's working dir (its log file lives here)
  std::string socket_path;  // unix socket the child listens on
  int databases = 16;
  std::vector<std::string> extra_args;  // more "--name value" settings
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

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  const ChildOptions& options() const { return options_; }

 private:
  ChildOptions options_;
  pid_t pid_ = -1;
};

}  // namespace node
