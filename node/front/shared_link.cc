#include "node/front/shared_link.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "node/child/child_redis.h"
#include "node/front/relay_watch.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kTakeBytes = 1 << 20;  // replies this big are handed over, not copied

}  // namespace

SharedLink::SharedLink(asio::io_context& io, Hooks hooks)
    : io_(io), hooks_(std::move(hooks)), stream_(asio::generic::stream_protocol::socket(io)) {}

SharedLink::~SharedLink() {
  *alive_ = false;
  stream_.Close();
}

bool SharedLink::Ready() {
  if (state_ == State::kClosed) Connect();
  return state_ == State::kOpen && !held();
}

bool SharedLink::held() const {
  return held_until_ != std::chrono::steady_clock::time_point{} && std::chrono::steady_clock::now() < held_until_;
}

SharedLink::Hold SharedLink::HoldFor(std::chrono::milliseconds d) {
  const auto before = held_until_;
  held_until_ = d.count() > 0 ? std::max(held_until_, std::chrono::steady_clock::now() + d)
                              : std::chrono::steady_clock::time_point{};
  return {before, held_until_};
}

void SharedLink::Undo(const Hold& hold) {
  if (held_until_ == hold.after) held_until_ = hold.before;
}

void SharedLink::Connect() {
  const Upstream target = hooks_.target();
  if (target.kind == Upstream::Kind::kNone) return;
  state_ = State::kConnecting;
  kind_ = target.kind;
  const uint64_t epoch = epoch_;
  ConnectUpstream(io_.get_executor(), target, &stream_, [this, epoch, alive = alive_](const asio::error_code& ec) {
    if (!*alive || epoch != epoch_) return;
    if (ec) {
      // The child is being replaced, or the leader went away: the next
      // Ready() tries again.
      state_ = State::kClosed;
      ++epoch_;
      return;
    }
    OnConnected();
  });
}

void SharedLink::OnConnected() {
  state_ = State::kOpen;
  connection_ = std::make_shared<int>(0);
  db_ = 0;
  proto_ = 2;
  if (kind_ == Upstream::Kind::kChild && !hooks_.auth.empty()) Append(0, hooks_.auth);
  if (kind_ == Upstream::Kind::kLeader && !hooks_.to_leader.empty()) Append(kRelayTag, hooks_.to_leader);
  // Named as the node's own (also on the leader, which takes a follower's
  // relay as a client of its own): no client sees it in CLIENT LIST or INFO,
  // and no CLIENT KILL filter ends it.
  std::string name;
  resp::AppendCommand(&name, {"CLIENT", "SETNAME", absl::StrCat(kInternalClientPrefix, hooks_.name)});
  Append(0, name);
  if (kind_ == Upstream::Kind::kChild) {
    std::string no_evict;
    // Clients' memory is the node's to bound (its output limits), never a
    // reason for the child to drop every session's requests at once.
    resp::AppendCommand(&no_evict, {"CLIENT", "NO-EVICT", "ON"});
    Append(0, no_evict);
  }
  Read();
  ScheduleWrite();
  if (hooks_.connected) hooks_.connected();
}

void SharedLink::Append(Tag tag, std::string_view request) {
  out_.Append(request);
  sent_.push_back(tag);
}

void SharedLink::Send(Tag tag, int db, int proto, std::string_view request) {
  if (proto != proto_) {
    std::string hello;
    resp::AppendCommand(&hello, {"HELLO", proto == 3 ? "3" : "2"});
    Append(0, hello);
    proto_ = proto;
  }
  if (db != db_) {
    std::string select;
    resp::AppendCommand(&select, {"SELECT", absl::StrCat(db)});
    Append(0, select);
    db_ = db;
  }
  Append(tag, request);
  ++requests_;
  ++unanswered_;
  ScheduleWrite();
}

void SharedLink::CoverBehind(uint64_t cover) {
  covers_next_.push_back(cover);
  ScheduleWrite();
}

// At the end of this turn of the event loop: every session handled in it
// has added its requests by then.
void SharedLink::ScheduleWrite() {
  if (write_scheduled_ || write_busy_) return;
  write_scheduled_ = true;
  asio::post(io_, [this, epoch = epoch_, alive = alive_] {
    if (!*alive || epoch != epoch_) return;
    write_scheduled_ = false;
    Write();
  });
}

void SharedLink::Write() {
  if (write_busy_ || state_ != State::kOpen) return;
  if (!covers_next_.empty() && !covers_sent_) {
    // Behind every request appended so far: the turn's are all in. One ROLE
    // in flight at a time: the covers of the turns until it is answered wait
    // for the next, so a busy link sends one per round trip to the child,
    // not one per turn.
    Append(kCoverTag, "*1\r\n$4\r\nROLE\r\n");
    covers_sent_ = std::move(covers_next_);
    covers_next_.clear();
  }
  if (out_.empty()) return;
  writing_.TakeFrom(out_);
  write_busy_ = true;
  if (kind_ == Upstream::Kind::kLeader) progress_ = std::chrono::steady_clock::now();
  stream_.async_write(writing_.buffers, [this, epoch = epoch_, alive = alive_](const asio::error_code& ec, size_t) {
    if (!*alive || epoch != epoch_) return;
    write_busy_ = false;
    writing_.Clear();
    if (ec) return Failed();
    Write();
  });
}

void SharedLink::Read() {
  if (const size_t need = scanner_.HintBytesNeeded(); need > kReadChunk) in_.Reserve(need + kReadChunk);
  stream_.async_read_some(in_.Prepare(kReadChunk), [this, epoch = epoch_, alive = alive_](const asio::error_code& ec,
                                                                                          size_t n) {
    if (!*alive || epoch != epoch_) return;
    if (ec) return Failed();
    in_.Commit(n);
    if (kind_ == Upstream::Kind::kLeader) progress_ = std::chrono::steady_clock::now();
    OnData();
    if (epoch == epoch_) Read();
  });
}

void SharedLink::OnData() {
  const uint64_t epoch = epoch_;
  std::string error;
  bool any = false;
  while (!in_.empty()) {
    size_t len = 0;
    char type = 0;
    const resp::ParseStatus st = scanner_.Scan(in_.data(), &len, &type, &error);
    if (st == resp::ParseStatus::kNeedMore) break;
    const bool push = st == resp::ParseStatus::kOk && type == '>';  // the link subscribes to and tracks nothing
    if (st == resp::ParseStatus::kError || (sent_.empty() && !push)) {
      Log(LogComponent::kClient, LogLevel::kError, "shared link (%s): unexpected reply: %s", hooks_.name,
          sent_.empty() ? "nothing was asked" : error);
      Failed();
      return;
    }
    const std::string_view bytes = in_.data().substr(0, len);
    ByteBlock big;
    if (len >= kTakeBytes) {
      big = in_.TakeFront(len);
    } else {
      in_.Consume(len);
    }
    if (push) continue;
    Tag tag = sent_.front();
    sent_.pop_front();
    if (tag == kCoverTag) {
      std::vector<uint64_t> covers = std::move(*covers_sent_);
      covers_sent_.reset();
      hooks_.covered(covers, bytes, type);
      if (epoch != epoch_) return;
      if (!covers_next_.empty()) ScheduleWrite();
      continue;
    }
    if (tag == kRelayTag) {
      if (const std::optional<uint64_t> token = RelayToken(bytes); token && hooks_.watch) hooks_.watch(*token);
      tag = 0;  // (an error is said as for the link's other requests)
    }
    if (tag == 0) {
      if (type == '-') {
        // (A leader that applied a user change before this follower did
        // refuses the relay's name: it then shows among the leader's clients
        // until the follower applied it and stops relaying.)
        Log(LogComponent::kClient, kind_ == Upstream::Kind::kChild ? LogLevel::kError : LogLevel::kWarning,
            "shared link (%s): the %s refused the link's own request: %s", hooks_.name,
            kind_ == Upstream::Kind::kChild ? "child" : "leader", bytes);
      }
      continue;
    }
    any = true;
    --unanswered_;
    hooks_.reply(tag, bytes, type, std::move(big));
    if (epoch != epoch_) return;  // a hook closed the link
  }
  if (any && hooks_.replies_done) hooks_.replies_done();
}

std::vector<SharedLink::Tag> SharedLink::Close(std::vector<uint64_t>* covers) {
  std::vector<Tag> unanswered;
  for (const Tag t : sent_) {
    if (t != 0 && t != kCoverTag && t != kRelayTag) unanswered.push_back(t);
  }
  if (covers != nullptr) {
    if (covers_sent_) covers->insert(covers->end(), covers_sent_->begin(), covers_sent_->end());
    covers->insert(covers->end(), covers_next_.begin(), covers_next_.end());
  }
  covers_sent_.reset();
  covers_next_.clear();
  ++epoch_;
  state_ = State::kClosed;
  connection_.reset();
  stream_.Close();
  out_.Clear();
  writing_.Clear();
  write_busy_ = false;
  write_scheduled_ = false;
  in_.Consume(in_.size());
  scanner_.Reset();
  sent_.clear();
  unanswered_ = 0;
  return unanswered;
}

std::optional<std::chrono::steady_clock::time_point> SharedLink::QuietSince() const {
  // (A write about to begin is progress: what it carries is not overdue.)
  if (state_ != State::kOpen || sent_.empty() || write_scheduled_) return std::nullopt;
  return progress_;
}

void SharedLink::GiveUp() {
  if (state_ == State::kOpen) Failed();
}

void SharedLink::Failed() {
  std::vector<uint64_t> covers;
  std::vector<Tag> unanswered = Close(&covers);
  if (hooks_.lost) hooks_.lost(std::move(unanswered), std::move(covers));
}

}  // namespace node
