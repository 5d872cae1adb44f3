// ClientSession: a request on its way to the child. Its place in the gate
// (held back while it may not be forwarded, queued in a transaction, or
// arrived), the link it takes (the session's own or the shared one), a read
// a follower's own child answers instead, and the covers of its writes.
#include "node/front/client_session.h"

#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/writer.h"

namespace node {
namespace {

// The request as the child takes it: a multibulk as the client sent it, or
// an inline request written as one (into `scratch`).
std::string_view AsMultibulk(std::span<const std::string_view> args, std::string_view raw, std::string* scratch) {
  if (!raw.empty() && raw[0] == '*') return raw;
  resp::AppendCommand(scratch, args);
  return *scratch;
}

RequestClass ClassOf(gate::Kind kind) {
  switch (kind) {
    case gate::Kind::kRead: return RequestClass::kRead;
    case gate::Kind::kWrite:
    case gate::Kind::kBlocking:
    case gate::Kind::kExec: return RequestClass::kWrite;
    case gate::Kind::kStateless: return RequestClass::kOther;
  }
  return RequestClass::kOther;
}

// A follower relays without the gate, whose kind it leaves stateless: the
// class comes from the command table, as the leader's gate sees the request
// (and for a blocking request, which the gate does not tell apart).
RequestClass ClassOf(const CommandSpec* spec) {
  if (spec == nullptr) return RequestClass::kOther;
  switch (spec->cls) {
    case CommandClass::kKeyedRead:
    case CommandClass::kKeyspaceRead: return RequestClass::kRead;
    case CommandClass::kKeyedWrite:
    case CommandClass::kKeyspaceWrite: return RequestClass::kWrite;
    case CommandClass::kBlocking: return spec->write ? RequestClass::kWrite : RequestClass::kRead;  // XREAD BLOCK reads
    case CommandClass::kTransaction: return spec->name == "exec" ? RequestClass::kWrite : RequestClass::kOther;
    case CommandClass::kNodeLocal: return spec->name == "wait" ? RequestClass::kRead : RequestClass::kOther;  // WAIT changes nothing
    default: return RequestClass::kOther;
  }
}

}  // namespace

LoggedRequest ClientSession::LoggedOf(Route& r, std::span<const std::string_view> args) const {
  LoggedRequest logged{.db = router_.request_db()};
  if (r.detail && !r.detail->logged.empty()) {
    logged.args = std::move(r.detail->logged);
  } else {
    logged.args.assign(args.begin(), args.end());
  }
  return logged;
}

// Its keys stay locked until its node entry commits (an EXEC's: until the
// entry of the logged requests it ran). False: it waits for the gate, held.
bool ClientSession::MayForward(Route& r) {
  r.request.logged = r.tag == ReplyTag::kLog || (r.request.kind == gate::Kind::kExec && !tx_.logged.empty());
  auto allowed = [this]() -> std::function<void()> {
    return [weak = weak_from_this()] {
      // Not inside the gate's own call that ended the wait.
      if (auto self = weak.lock()) asio::post(self->client_.get_executor(), [weak] {
        if (auto s = weak.lock()) s->ForwardAllowed();
      });
    };
  };
  if (server_.gate().MayForward(id_, r.request, allowed)) return true;
  // Its place among the writes of its keys waits for a node entry's (see
  // MayForward). The writes before it are covered now: a logged request
  // may be waiting for their commit.
  EndOfBatch();
  held_route_ = std::move(r);
  waiting_to_forward_ = stalled_ = true;
  return false;
}

void ClientSession::CopyReplyDetail(const RouteDetail& from, ReplyTag tag, ExpectDetail& to) {
  to.count = from.count;
  to.unblock_error = from.unblock_error;
  to.auth_user = from.auth_user;
  to.acl_user = from.acl_user;
  if (tag == ReplyTag::kScan) to.scan_epoch = from.scan_epoch;
}

// The request takes its place in the gate: queued in a transaction, or
// arrived (an EXEC with what its transaction logged and scanned).
void ClientSession::EnterGate(Route& r, std::span<const std::string_view> args, Expect& e) {
  gate::ConsistencyGate& gate = server_.gate();
  // Queued in a transaction too: EXEC runs it before the gate hears of it again.
  if (r.detail && r.detail->may_evict) gate.SetEvictions(true);
  if (r.begins_transaction) gate.BeginTransaction(id_);
  if (r.drops_transaction) gate.DropTransaction(id_);
  if (r.begins_transaction || r.drops_transaction) tx_ = {};
  if (r.request.kind == gate::Kind::kExec) {
    if (!tx_.logged.empty()) {
      e.Detail().exec_logged = std::make_shared<const std::vector<std::pair<size_t, LoggedRequest>>>(std::move(tx_.logged));
    }
    if (!tx_.rewrites.empty()) {
      e.Detail().exec_rewrites = std::make_shared<const std::vector<QueuedRewrite>>(std::move(tx_.rewrites));
    }
    tx_ = {};
  }
  if (r.queued) {
    if (r.tag == ReplyTag::kLog) {
      tx_.logged.emplace_back(tx_.queued, LoggedOf(r, args));
    } else if (r.tag != ReplyTag::kNone) {
      // Rewritten inside EXEC's reply as it would be outside. (Left as the
      // child gave it, EXEC showed the node's own links in CLIENT LIST, its
      // user and password hash in ACL LIST, port 0 in CONFIG GET.)
      auto d = std::make_shared<ExpectDetail>();
      if (r.detail) CopyReplyDetail(*r.detail, r.tag, *d);
      tx_.rewrites.push_back(QueuedRewrite{tx_.queued, r.tag, std::move(d)});
    }
    ++tx_.queued;
    r.tag = ReplyTag::kNone;  // +QUEUED is not the outcome
    e.gate_slot = gate.Queue(id_, r.request, e.slot);
  } else {
    gate::Admission a = gate.Arrive(id_, std::move(r.request), e.slot);
    e.gate_slot = a.slot;
    if (a.cover_first) CoverWritesSoFar(*a.cover_first);
  }
  server_.GateChanged();
}

bool ClientSession::ForwardRequest(Route& r, std::span<const std::string_view> args, std::string_view raw) {
  if (gated() && !r.queued && !MayForward(r)) return false;
  const bool shared = UsesSharedLink(r, raw);
  if (!shared && !shared_.expects.empty()) {
    // HandleRequest holds back every request that would take the own link
    // while the shared one has some of this session's: never reached.
    Log(LogComponent::kClient, LogLevel::kError, "session %s: a request would overtake the shared link's", describe_);
    Abort("UNKNOWN the node could not keep this connection's requests in order; outcome unknown");
    return true;
  }
  RouteDetail* const detail = r.detail.get();  // the rare parts, if any
  Expect e{Expect::Kind::kReply};
  if (detail != nullptr && detail->pause_ms) e.Detail().pause = server_.PauseSharedLink(*detail->pause_ms);
  const RequestClass cls = gated() && r.request.kind != gate::Kind::kBlocking ? ClassOf(r.request.kind)
                                                                               : ClassOf(server_.commands().Lookup(args));
  e.slot = slots_.Add(RequestTiming{batch_arrived_, cls}, r.silent);
  if (r.may_block) may_block_.insert(e.slot);
  if (gated()) EnterGate(r, args, e);
  if (shared) {
    std::string scratch;
    const std::string_view request =
        detail != nullptr && !detail->rewritten.empty() ? detail->rewritten : AsMultibulk(args, raw, &scratch);
    server_.shared_link()->Send(id_, router_.db(), router_.proto(), request);
  } else if (detail != nullptr && detail->settings_check) {
    to_upstream_.Append(detail->settings_check->request);  // CONFIG GET in place of the CONFIG SET
    e.Detail().settings_check = std::move(detail->settings_check);
  } else if (detail != nullptr && !detail->rewritten.empty()) {
    to_upstream_.Append(std::move(detail->rewritten));
  } else {
    SendUpstream(args, raw);
  }
  e.tag = r.tag;
  if (detail != nullptr) CopyReplyDetail(*detail, r.tag, e.Detail());
  e.discards = r.drops_transaction && r.tag != ReplyTag::kReset;
  e.unstall = r.stall;
  e.data = !r.no_data;
  upstream_data_ += e.data;
  forwarded_this_batch_ |= e.data && !r.follower_read;  // a write (or a read only the leader serves)
  if (r.tag == ReplyTag::kLog) e.Detail().logged = std::make_shared<const LoggedRequest>(LoggedOf(r, args));
  if (r.tag == ReplyTag::kHello) {
    int64_t proto = 0;
    if (args.size() > 1 && ParseRedisInt(args[1], &proto)) e.Detail().hello_proto = static_cast<int>(proto);
  }
  (shared ? shared_.expects : expects_).push_back(std::move(e));
  if (r.stall) stalled_ = true;
  if (r.tag == ReplyTag::kReset) LearnAuthState();  // RESET makes the connection the default user's
  return true;
}

void ClientSession::ForwardAllowed() {
  if (!waiting_to_forward_) return;
  waiting_to_forward_ = false;
  Unstall();
  OnClientData();
}

bool ClientSession::UsesSharedLink(const Route& r, std::string_view raw) {
  SharedLink* link = server_.shared_link();
  // (On a follower, not past reads its own child has yet to answer: the own
  // link holds what follows them until they were, WriteUpstream.)
  if (link == nullptr || !r.shared || raw.size() > kMaxSharedRequest || local_reads_ > 0) return false;
  if (!shared_.expects.empty()) return link->open();  // after this session's requests there
  if (!expects_.empty()) return false;                // after this session's requests on its own link
  return link->Ready();
}

bool ClientSession::ReadLocally(const Route& r, std::span<const std::string_view> args, std::string_view raw) {
  FollowerReads* reads = server_.follower_reads();
  // A read after requests still on their way to the leader must see them:
  // it follows them there. A client that mixes reads and writes in its
  // pipelines keeps sending them all to the leader: a write after a read
  // served here would wait for that read's answer, a round trip lost per
  // batch.
  // With users in use, the leader's child checks each read against the
  // client's user; the link to this node's child runs as the node's own.
  // Another node's relay reaches a follower only while that node has not
  // heard of the new leader yet: its clients' WATCH and writes ran on the
  // leader through other connections, and a read served here may be older
  // than what they saw (FollowerReadsTest.AnotherNodesRelayIsNeverServedByAFollower).
  if (reads == nullptr || !reads->serving() || gated() || UsersInUse() || router_.internal_name() ||
      upstream_data_ > 0 || forwarded_this_batch_ || forwarded_last_batch_) {
    return false;
  }
  std::string scratch;
  std::string request(AsMultibulk(args, raw, &scratch));
  const ReplySlots::Id slot = slots_.Add(RequestTiming{batch_arrived_, RequestClass::kRead}, r.silent);
  ++local_reads_;
  reads->Submit(shared_from_this(), slot, r.db, router_.proto(), std::move(request));
  return true;
}

bool ClientSession::LocalReadAnswered(ReplySlots::Id slot, std::string_view bytes, ByteBlock&& big) {
  if (aborted_ || closed_) return false;
  --local_reads_;
  if (!big.empty()) {
    slots_.SetReply(slot, std::move(big));
  } else {
    slots_.SetReply(slot, std::string(bytes));
  }
  return MarkReleased(slot);
}

void ClientSession::SendUpstream(std::span<const std::string_view> args, std::string_view raw) {
  if (raw.size() >= kTakeBytes && raw[0] == '*' && raw.data() == in_.data().data()) {
    to_upstream_.Append(in_.TakeFront(raw.size()));
    input_taken_ = true;
    return;
  }
  std::string scratch;
  to_upstream_.Append(AsMultibulk(args, raw, &scratch));
}

void ClientSession::CoverWritesSoFar(gate::CoverId cover) {
  // A ROLE the child runs after these writes returns an offset that covers
  // their effects: Redis feeds a write's effects to its replication stream
  // before it runs the next command. The node asks it, not the client's
  // connection: one ROLE covers every session's writes of a turn of the
  // event loop (a ROLE behind each client's batch cost the child as much as
  // a SET), and needs no permission of the client's user.
  // (Behind this session's requests in flight: all on one of its links.)
  SharedLink* link = server_.shared_link();
  if (!shared_.expects.empty() && link != nullptr && link->open()) {
    // The link's ROLE of this turn goes behind them: no wait for the replies.
    return link->CoverBehind(cover);
  }
  // Otherwise asked once every reply before this point arrived.
  Expect e{Expect::Kind::kCover};
  e.cover = cover;
  (shared_.expects.empty() ? expects_ : shared_.expects).push_back(std::move(e));
  CoverWhenDue();
}

void ClientSession::CoverWhenDue() {
  for (RingQueue<Expect>* q : {&expects_, &shared_.expects}) {
    while (!q->empty() && q->front().kind == Expect::Kind::kCover) {
      const gate::CoverId cover = q->front().cover;
      q->pop_front();
      server_.CoverFromNow(cover);
    }
  }
}

void ClientSession::EndOfBatch() {
  if (!gated() || !upstream_open_) return;
  if (auto cover = server_.gate().EndOfBatch(id_)) {
    CoverWritesSoFar(*cover);
    server_.GateChanged();
  }
}

}  // namespace node
