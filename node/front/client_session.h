// One client connection. It has its own upstream connection: to the child on
// the leader (so SELECT, MULTI, WATCH, HELLO and blocking behave as in Redis), or
// to the leader's client port on a follower (which then just relays). It keeps,
// per request, a slot for the reply: replies leave in request order, each once
// it may be seen (on the leader):
//   - a write's reply once the effects it covers are durable (a ROLE pipelined
//     behind the write tells the stream offset that covers them);
//   - a read's reply once the writes that held its keys when the reply arrived
//     are durable (KeyLockTable), or, for keys a blocking write may have touched,
//     once the offset of a ROLE sent after the read is durable; and once a
//     leadership confirmation begun after the read arrived is done (ReadIndex).
// With no leader, requests wait a bounded time, then get TRYAGAIN errors.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asio.hpp"
#include "node/front/command_table.h"
#include "node/gate/key_lock_table.h"
#include "node/read_buffer.h"
#include "resp/reply_scanner.h"
#include "resp/request_parser.h"

namespace node {

class Server;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(Server& server, asio::ip::tcp::socket socket);
  ~ClientSession();

  void Start();
  // Connects to the upstream the server names, if not connected yet.
  void TryConnectUpstream();
  // The stream became durable further: held replies may leave.
  void OnCommitted();
  // The upstream is no longer valid (leader change, child rebuilt): if this
  // session uses one, its pending requests get `error` and the client is closed.
  void UpstreamLost(std::string_view error);
  // Pending requests get `error`, then the client is closed.
  void Abort(std::string_view error);


 private:
  struct Slot {
    std::string reply;
    bool have_reply = false;
    bool hold = false;          // wait for `offset` to be durable
    bool offset_known = false;
    uint64_t offset = 0;
    int waits = 0;              // key-lock waits outstanding
    bool close_after = false;
    bool passthrough = false;   // the connection became a pub/sub stream here
    bool passthrough_done = false;
    bool queued = false;        // inside MULTI: the reply is +QUEUED, no checks
    bool keyspace_read = false;
    bool blocking = false;      // a blocking write still waiting in the child
    int hello_proto = 0;        // HELLO: the protocol asked for
    bool info = false;          // INFO: the node's section is added to the reply
    std::vector<std::string> read_keys;
    std::vector<KeyLockTable::Ticket> tickets;
    std::vector<std::string> marked;
  };
  struct Expect {
    enum class Kind { kReply, kRole, kRoleForRead, kClientId, kIgnore, kPassthrough };
    explicit Expect(Kind k, Slot* s = nullptr) : kind(k), slot(s) {}
    Kind kind;
    Slot* slot = nullptr;
    std::vector<Slot*> covered;  // kRole: the write slots whose effects it covers
  };

  void ReadClient();
  void OnClientData();
  void HandleRequest(std::span<const std::string_view> args, std::string_view raw);
  Slot& NewSlot();
  Slot& ReadySlot(std::string reply);
  void Forward(std::span<const std::string_view> args, std::string_view raw);
  void AddRole();
  void ConfirmLeadership(Slot* s);
  void DropMultiLocks();
  void ReadChild();
  void OnChildData();
  void OnUpstreamConnected(bool forwarding);
  void OnChildReply(std::string_view bytes, char type);
  void OnRoleReply(Expect& e, std::string_view bytes);
  void CheckRead(Slot* slot);
  void Flush();
  void WriteClient();
  void WriteChild();
  void ClientGone();
  void MaybeFinish();
  void Close();
  std::string KeyName(std::string_view key) const;
  std::string ErrorReply(std::string_view msg) const;

  Server& server_;
  asio::ip::tcp::socket client_;
  asio::generic::stream_protocol::socket child_;  // the upstream: child or leader
  enum class UpstreamState { kWaiting, kConnecting, kConnected, kNoLeader, kGone };
  UpstreamState upstream_state_ = UpstreamState::kWaiting;
  bool forwarding_ = false;  // upstream is the leader node: relay only
  bool no_leader_deadline_passed_ = false;
  asio::steady_timer no_leader_timer_;
  std::string describe_;

  // Client input.
  ReadBuffer in_;
  resp::RequestParser parser_;
  bool reading_client_ = false;
  bool handling_input_ = false;
  bool client_open_ = true;
  bool input_closed_ = false;  // protocol error or QUIT: read no more

  // Child link.
  std::string to_child_, child_writing_buf_;
  bool child_writing_ = false;
  ReadBuffer child_in_;
  resp::ReplyScanner scanner_;
  bool child_open_ = false;
  int64_t child_client_id_ = -1;

  // Client output.
  std::string out_, out_writing_;
  bool client_writing_ = false;
  bool close_after_write_ = false;
  bool aborted_ = false;

  std::deque<Slot> slots_;
  std::deque<Expect> expects_;
  std::vector<Slot*> uncovered_;  // write slots forwarded since the last ROLE

  // Connection state as the child sees it, tracked at forward time.
  int db_ = 0;
  int proto_ = 2;
  bool in_multi_ = false;
  bool multi_poisoned_ = false;   // a refused command was queued: EXEC must abort
  std::vector<KeyLockTable::Ticket> multi_tickets_;
  std::vector<std::string> multi_marked_;
  bool pubsub_ = false;           // requests go straight through, replies stream back
  bool passthrough_active_ = false;  // child side: bytes now belong to the stream slot
  Slot* passthrough_slot_ = nullptr;
  int blocking_in_flight_ = 0;
};

}  // namespace node
