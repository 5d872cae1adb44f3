// On the leader: the sessions followers relay their clients' requests on.
// A follower's connections to the leader's client port open with
// ANARCHO.RELAY <its node id> (ClientSession::RelayPreamble), and this
// registry keeps them by member.
//
// A follower that stops hearing from its leader answers the requests it
// relayed UNKNOWN and closes their connections; through a partition the
// close does not reach the leader, which kept those sessions until the
// network healed: a request still in transit ran long after its client was
// told UNKNOWN, over newer writes, and a BLPOP blocked through the follower
// took an element pushed meanwhile, which nobody then received. So the
// sessions of a member the leader has not heard from on the Raft links for
// `silence` (a little under the election timeout the follower waits before
// its UNKNOWN) are ended as if their connections had closed.
//
// A check this node's own loop held up (its timer fired a period late or
// more) is skipped: the members' messages may be waiting behind it.
//
// A session that announced itself after `silence` had passed since the
// member was last heard stays: the follower opened it while it still saw a
// leader, so its relay works (the Raft link from it may be cut one way), and
// ending each new one would only cost its clients errors.
//
// A relay connection can also stall while the Raft links work (a middlebox
// that lost its state, a frozen proxy): neither side hears of it, and its
// requests hang. So a session gets a token (the answer to ANARCHO.RELAY
// <id>), and a sign of life (kAlivePush) every kAliveEvery while it has
// anything of its follower in hand; a follower that hears nothing on
// such a connection while it awaits replies gives it up, but first ends the
// session here (ANARCHO.RELAY <id> END <token>, on a new connection): only
// then does it answer its requests UNKNOWN, so nothing the session still held
// (a blocked BLPOP) runs after that answer (node/front/relay_watch.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "asio.hpp"

namespace node {

class RelaySessions {
 public:
  using Clock = std::chrono::steady_clock;
  // When the member was last heard on the Raft links (nullopt: never).
  using LastHeard = std::function<std::optional<Clock::time_point>(uint64_t member)>;

  RelaySessions(asio::io_context& io, LastHeard last_heard, std::chrono::milliseconds silence,
                std::chrono::milliseconds period);
  ~RelaySessions();

  static constexpr std::chrono::milliseconds kAliveEvery{250};
  static constexpr std::string_view kAlivePush = ">1\r\n$13\r\nanarcho.alive\r\n";

  // A session (alive while `alive` is) announced itself at `since` as
  // relayed through `member`; `end` ends it. Checked every `period` from now
  // on while any is registered. Its `keepalive` is called every kAliveEvery
  // (it sends kAlivePush if it has anything in hand). Returns the session's
  // token (unguessable: it is the only right to End).
  uint64_t Add(uint64_t member, Clock::time_point since, std::weak_ptr<const void> alive, std::function<void()> end,
               std::function<void()> keepalive);
  // Ends `member`'s session `token`: its follower gave its connection up.
  // False if there is none such (it ended already).
  bool End(uint64_t member, uint64_t token);
  // Ends the sessions due at `now`, forgets those gone. Returns how many it ended.
  size_t Check(Clock::time_point now);
  // Calls every session's keepalive.
  void KeepAlive();
  size_t size() const { return entries_.size(); }
  uint64_t ended() const { return ended_; }  // since the start

 private:
  struct Entry {
    uint64_t member;
    Clock::time_point since;
    std::weak_ptr<const void> alive;
    std::function<void()> end;
    uint64_t token;
    std::function<void()> keepalive;
  };
  void Watch();

  asio::steady_timer timer_;
  LastHeard last_heard_;
  std::chrono::milliseconds silence_, period_;
  std::vector<Entry> entries_;
  bool watching_ = false;
  uint64_t ended_ = 0;
  Clock::time_point kept_alive_{};
  std::random_device random_;
};

}  // namespace node
