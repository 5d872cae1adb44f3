// One connection that carries the requests of many sessions, in order, each
// tagged with whom its reply is for. It switches the connection's database
// and protocol as each request needs (SELECT and HELLO of its own, whose
// replies it drops), so sessions in any database and on either protocol
// share it. The requests of all sessions handled in one turn of the event
// loop leave in one write and their replies come back in one read, where a
// connection per client took a write and a read at each end for each
// client's batch.
//
// Three users: on the leader, the plain data commands of every client
// session (ClientSession), to its child; on a follower, the same sessions'
// requests that go to the leader, to the leader's client port (the relay);
// and the reads a follower's own child serves (FollowerReads).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asio.hpp"
#include "node/byte_block.h"
#include "node/byte_stream.h"
#include "node/output_queue.h"
#include "node/read_buffer.h"
#include "node/ring_queue.h"
#include "node/upstream.h"
#include "resp/reply_scanner.h"

namespace node {

class SharedLink {
 public:
  using Tag = uint64_t;  // whom a reply is for (never 0 or ~0: the link's own requests)
  struct Hooks {
    // Where to connect, asked at each connection (kNone: nowhere for now).
    std::function<Upstream()> target;
    // To a child: the AUTH request that opens the link (InternalAuthRequest).
    // To either: its CLIENT SETNAME, after kInternalClientPrefix. (The leader
    // takes the link as a client of its own, hidden from its clients.)
    std::string auth;
    std::string name;
    // To the leader: the request that opens the link before its name
    // (ANARCHO.RELAY: the leader ends the link's session once it stops
    // hearing from this node).
    std::string to_leader{};
    // A request's reply (`big` owns `bytes` when it was too big to copy).
    std::function<void(Tag tag, std::string_view bytes, char type, ByteBlock&& big)> reply;
    // After the replies of one read from the socket: callers flush once for many.
    std::function<void()> replies_done;
    // The ROLE asked for `covers` (CoverBehind) answered.
    std::function<void(std::span<const uint64_t> covers, std::string_view bytes, char type)> covered{};
    // The connection failed: the requests sent and not answered (they may or
    // may not have run), oldest first, and the covers whose ROLE was not
    // answered. Not called by Close().
    std::function<void(std::vector<Tag> unanswered, std::vector<uint64_t> covers)> lost;
    std::function<void()> connected;  // optional: the link just opened
    // To the leader: its answer to `to_leader` told the session's token
    // (RelayToken): the connection may be watched (RelayWatch).
    std::function<void(uint64_t token)> watch{};
  };

  SharedLink(asio::io_context& io, Hooks hooks);
  ~SharedLink();
  SharedLink(const SharedLink&) = delete;
  SharedLink& operator=(const SharedLink&) = delete;

  // Connected and not held: Send() may be called. If closed, starts
  // connecting (if the target is somewhere).
  bool Ready();
  // What a HoldFor changed: the hold before and after it.
  struct Hold {
    std::chrono::steady_clock::time_point before, after;
  };
  // The child holds requests for up to `d` (CLIENT PAUSE; 0: UNPAUSE):
  // Ready() says no until then, so that no session's read waits behind
  // another session's held write. (Those sent before it still may.) As in
  // Redis, a pause never shortens one already running.
  Hold HoldFor(std::chrono::milliseconds d);
  // The child refused the pause (or UNPAUSE): the hold is as before it,
  // unless another has changed it since.
  void Undo(const Hold& hold);
  bool open() const { return state_ == State::kOpen; }
  // `request` (a complete RESP command) for `tag`, to run in database `db`
  // with protocol `proto`. The requests of one turn of the event loop leave
  // together at its end. Only while open().
  void Send(Tag tag, int db, int proto, std::string_view request);
  // A ROLE behind every request sent so far and every one sent later in this
  // turn of the event loop, for `cover` (the caller's): the child runs them
  // first, so its offset covers their effects. One ROLE serves all the covers
  // of a turn and leaves in the same write as the turn's requests: the child
  // answers it in the same wake-up. While one is in flight, the covers wait
  // for its answer and go with the next write. Only while open().
  void CoverBehind(uint64_t cover);
  // Within a hold (HoldFor): what is sent now waits for the pause to end.
  bool held() const;
  // Drops the connection. Returns the requests sent and not answered, oldest
  // first: they never will be (they may or may not have run); the covers
  // whose ROLE was not answered go to `covers`. Ready() connects again.
  std::vector<Tag> Close(std::vector<uint64_t>* covers = nullptr);
  // Requests sent since the start (the link's own not counted).
  uint64_t sent() const { return requests_; }
  // Requests sent and not answered yet (the link's own not counted).
  size_t in_flight() const { return unanswered_; }
  // While the current connection is (for RelayWatch).
  std::weak_ptr<const void> connection() const { return connection_; }
  // Since when the open connection has awaited replies, read nothing and
  // begun no write; nullopt while it awaits none.
  std::optional<std::chrono::steady_clock::time_point> QuietSince() const;
  // Fails the connection as if it broke (`lost` gets its requests).
  void GiveUp();

 private:
  enum class State { kClosed, kConnecting, kOpen };
  static constexpr Tag kCoverTag = ~Tag{0};
  static constexpr Tag kRelayTag = ~Tag{0} - 1;  // the leader's answer to `to_leader`
  void Connect();
  void OnConnected();
  void Append(Tag tag, std::string_view request);
  void ScheduleWrite();
  void Write();
  void Read();
  void OnData();
  void Failed();

  asio::io_context& io_;
  Hooks hooks_;
  State state_ = State::kClosed;
  UpstreamStream stream_;
  Upstream::Kind kind_ = Upstream::Kind::kNone;  // of the connection
  uint64_t epoch_ = 0;       // bumped when the connection is dropped: older callbacks do nothing
  int db_ = 0, proto_ = 2;  // the connection's, after what was sent
  RingQueue<Tag> sent_;      // by reply order (0: a request of the link's own; kCoverTag: a ROLE)
  std::vector<uint64_t> covers_next_;                // for the ROLE of this turn's write
  std::optional<std::vector<uint64_t>> covers_sent_;  // those of the ROLE in flight
  OutputQueue out_;
  // Every client's requests share this link: under load a write carries tens
  // of KB, so the block kept for the next appends may be as big as a
  // coalescing block grows (up to twice its bytes, by doubling), one per
  // node. With a connection's 16 KB it regrew from empty after every write.
  WritingChunks writing_{2 * ByteQueue::kCoalesce};
  bool write_busy_ = false;
  bool write_scheduled_ = false;
  ReadBuffer in_;
  resp::ReplyScanner scanner_;
  std::chrono::steady_clock::time_point held_until_{};
  uint64_t requests_ = 0;
  size_t unanswered_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<const void> connection_;                   // while open
  std::chrono::steady_clock::time_point progress_{};        // last read or write begun (to the leader)
};

}  // namespace node
