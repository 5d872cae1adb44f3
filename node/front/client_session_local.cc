// ClientSession: the requests the node answers itself, with the client's
// permission where users are in use: the node's own commands (ANARCHO.*,
// SHUTDOWN, CLIENT KILL), WAIT, and MONITOR and its lines.
#include "node/front/client_session.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/front/monitor.h"
#include "node/server.h"
#include "resp/writer.h"

namespace node {

void ClientSession::AnswerNodeCommand(std::span<const std::string_view> args, bool silent) {
  const ReplySlots::Id slot = slots_.Add(RequestTiming{batch_arrived_, RequestClass::kNode}, silent);
  auto answer = [weak = weak_from_this(), slot](std::string reply) {
    auto self = weak.lock();
    if (!self) return;
    self->slots_.SetReply(slot, std::move(reply));
    self->slots_.Release(slot);
    self->Flush();
  };
  if (!authenticated_) return answer(ErrorReply("NOAUTH Authentication required."));
  // The protocol as the request found it (a HELLO or RESET after it changes it at once).
  const int proto = router_.proto();
  if (!UsersInUse()) return server_.NodeCommand(args, proto, id_, std::move(answer));
  // The node acts with its own user's rights: the client's user must have them.
  auto owned = std::make_shared<std::vector<std::string>>(args.begin(), args.end());
  server_.CheckPermission(user_, args, [weak = weak_from_this(), owned, answer, proto](std::string denied) {
    auto self = weak.lock();
    if (!self) return;
    if (!denied.empty()) return answer(self->ErrorReply(denied));
    const std::vector<std::string_view> views(owned->begin(), owned->end());
    self->server_.NodeCommand(views, proto, self->id_, answer);
  });
}

// Monitors see the requests that run (not those refused before, as Redis
// shows what it ran), after the routing, in the db they run in; not those of
// the node's own links (a follower's relay: its SELECT and HELLO are the
// node's, and its clients' requests are shown on their follower).
void ClientSession::ShowToMonitors(std::span<const std::string_view> args, const Route& r) {
  if (r.action == Route::Action::kMonitor || (r.action == Route::Action::kReply && r.reply.starts_with('-'))) return;
  if (router_.internal_name() || !ShownToMonitors(server_.commands().Lookup(args), args.size())) return;
  server_.FeedMonitors(MonitorLine(std::chrono::system_clock::now(), router_.db(), describe_, args));
}

// The node answers MONITOR itself: with users in use, only for a user who may
// run it (it shows every client's requests).
void ClientSession::StartMonitor(bool silent) {
  const ReplySlots::Id slot = slots_.Add({}, silent);
  auto answer = [weak = weak_from_this(), slot](std::string denied) {
    auto self = weak.lock();
    if (!self) return;
    if (denied.empty()) {
      self->server_.AddMonitor(self);
      self->slots_.SetReply(slot, std::string("+OK\r\n"));
    } else {
      self->router_.MonitorRefused();
      self->slots_.SetReply(slot, self->ErrorReply(denied));
    }
    self->slots_.Release(slot);
  };
  if (!UsersInUse()) return answer("");
  const std::vector<std::string_view> args = {"MONITOR"};
  server_.CheckPermission(user_, args, [answer, weak = weak_from_this()](std::string denied) {
    answer(std::move(denied));
    if (auto self = weak.lock()) self->Flush();
  });
}

void ClientSession::Monitored(std::string line) {
  if (!router_.monitoring() || !client_open_) return;
  slots_.AddReady(std::move(line), false, false);
  Flush();
}

// Every acknowledged write is already durable on a majority; WAIT answers how
// many replicas that is, after its timeout if the client asked for more. The
// node answers it, so with users in use it asks first whether the client's
// user may run WAIT.
void ClientSession::AnswerWait(const Route& r) {
  // Not timed; cut short by a leader change, it gets a read's TRYAGAIN (it changed nothing).
  const ReplySlots::Id slot = slots_.Add(RequestTiming{{}, RequestClass::kRead}, r.silent);
  // Until WaitAnswered: the requests after it wait, as after any command
  // that waits on others (RequestRouter::MayBlock).
  may_block_.insert(slot);
  stalled_ = true;
  const RouteDetail& wait = r.DetailOrNone();
  if (!UsersInUse()) return ReplyToWait(slot, wait.wait_replicas, wait.wait_timeout_ms);
  const std::string replicas = absl::StrCat(wait.wait_replicas), timeout = absl::StrCat(wait.wait_timeout_ms);
  const std::vector<std::string_view> args = {"WAIT", replicas, timeout};
  server_.CheckPermission(user_, args, [weak = weak_from_this(), slot, replicas = wait.wait_replicas,
                                        timeout_ms = wait.wait_timeout_ms](std::string denied) {
    auto self = weak.lock();
    if (!self) return;
    if (denied.empty()) {
      self->ReplyToWait(slot, replicas, timeout_ms);
    } else {
      self->WaitAnswered(slot, self->ErrorReply(denied));
    }
    self->OnClientData();
  });
}

void ClientSession::ReplyToWait(ReplySlots::Id slot, int64_t replicas, int64_t timeout_ms) {
  std::string reply;
  const int have = server_.ReplicaCountForWait();
  resp::AppendInteger(&reply, have);
  if (have >= replicas) return WaitAnswered(slot, std::move(reply));
  wait_ = PendingWait{slot, reply, nullptr};
  // As Redis: 0 waits until enough replicas (or CLIENT UNBLOCK), and so does
  // a timeout of more than ~35 years (in nanoseconds it overflowed the clock:
  // WAIT 5 9223372036854775807 came back at once).
  constexpr int64_t kForeverMs = int64_t{1} << 40;
  if (timeout_ms == 0 || timeout_ms > kForeverMs) return;
  auto timer = std::make_shared<asio::steady_timer>(client_.get_executor());
  wait_->timer = timer;
  timer->expires_after(std::chrono::milliseconds(timeout_ms));
  timer->async_wait([weak = weak_from_this(), slot, reply](const asio::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->WaitAnswered(slot, reply);
    self->OnClientData();  // the requests after it go on (and what is answered leaves)
  });
}

void ClientSession::WaitAnswered(ReplySlots::Id slot, std::string reply) {
  if (wait_ && wait_->slot == slot) {
    if (wait_->timer) wait_->timer->cancel();
    wait_.reset();
  }
  slots_.SetReply(slot, std::move(reply));
  slots_.Release(slot);
  may_block_.erase(slot);
  Unstall();
}

bool ClientSession::UnblockWait(bool error) {
  if (!wait_) return false;
  const ReplySlots::Id slot = wait_->slot;
  WaitAnswered(slot, error ? ErrorReply("UNBLOCKED client unblocked via CLIENT UNBLOCK") : wait_->reply);
  asio::post(client_.get_executor(), [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->OnClientData();  // not inside the unblocking client's reply
  });
  return true;
}

}  // namespace node
