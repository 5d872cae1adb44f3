// On a follower: its connections to the leader's client port that relay its
// clients' requests (a session's own, and the shared one), watched for a
// stall while the Raft links work. node/front/relay_sessions.h says why, and
// what the leader does.
//
// A connection that awaits replies and has read nothing, nor begun a write,
// for `silence` (the leader sends a sign of life every
// RelaySessions::kAliveEvery while it holds anything of the session), while
// the leader's Raft messages have kept arriving for the last kSteady (its
// loop turns, and would have sent those signs: a leader held up is not taken
// for a stalled connection, nor is this node's own loop held up), is given
// up. The watch first asks the leader, on a new connection, to end the
// connection's session; once the leader said so, the connection fails and
// its requests get UNKNOWN. Nothing the session held on the leader (a
// blocked BLPOP) can run after that answer. A leader that cannot be asked is
// asked again at the next check; one that falls silent meanwhile ends the
// session itself (RelaySessions) before this node, which lost its leader,
// answers UNKNOWN.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "asio.hpp"
#include "node/upstream.h"

namespace node {

class RelayWatch {
 public:
  using Clock = std::chrono::steady_clock;
  struct Link {
    std::weak_ptr<const void> alive;  // while the connection is (not its session)
    uint64_t leader = 0;              // whose client port it connects to
    uint64_t token = 0;               // of its session there (the answer to ANARCHO.RELAY <id>)
    // Since when it has awaited replies, read nothing and begun no write;
    // nullopt while it awaits none.
    std::function<std::optional<Clock::time_point>()> quiet_since;
    // The leader ended its session: the connection fails (UNKNOWN).
    std::function<void()> ended;
  };
  static constexpr std::chrono::milliseconds kSteady{1000};
  struct Hooks {
    // The leader, if its Raft messages arrive (at `now`); 0 if none does.
    std::function<uint64_t(Clock::time_point now)> heard_leader;
    // Asks the leader to end session `token`: `done(true)` once it did (or
    // the session had ended), false if it could not be asked.
    std::function<void(uint64_t token, std::function<void(bool)> done)> end_session;
  };

  RelayWatch(asio::io_context& io, Hooks hooks, std::chrono::milliseconds silence, std::chrono::milliseconds period);
  ~RelayWatch();

  void Add(Link link);
  // Begins to give up the connections due at `now`; forgets those gone.
  // Returns how many it began with. `held_up`: this node's loop was (the
  // check is late): the leader's steady hearing starts again.
  size_t Check(Clock::time_point now, bool held_up = false);
  size_t size() const { return entries_.size(); }
  uint64_t given_up() const { return given_up_; }  // connections failed since the start

 private:
  struct Entry {
    Link link;
    bool ending = false;  // the leader is being asked
  };
  void Watch();

  asio::steady_timer timer_;
  Hooks hooks_;
  std::chrono::milliseconds silence_, period_;
  std::vector<std::shared_ptr<Entry>> entries_;
  bool watching_ = false;
  uint64_t given_up_ = 0;
  // The leader heard at every check since heard_since_ (0: none).
  uint64_t heard_leader_ = 0;
  Clock::time_point heard_since_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The token in the leader's answer to ANARCHO.RELAY <id> (`+OK <token>`);
// nullopt for any other answer (an earlier version's error).
std::optional<uint64_t> RelayToken(std::string_view preamble_reply);

// Asks the leader at `up` (on a new connection of its own, given up after
// `timeout`) to end `member`'s relayed session `token`; `done(true)` once it
// answered that the session is gone.
void EndRelayedSession(asio::any_io_executor executor, const Upstream& up, uint64_t member, uint64_t token,
                       std::chrono::milliseconds timeout, std::function<void(bool)> done);

}  // namespace node
