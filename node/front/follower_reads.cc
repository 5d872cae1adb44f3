#include "node/front/follower_reads.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "node/child/child_redis.h"
#include "node/front/client_session.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kTakeBytes = 1 << 20;  // replies this big are handed over, not copied
constexpr auto kRetryAfterNoLeader = std::chrono::milliseconds(20);
constexpr std::string_view kNoConfirmation =
    "-TRYAGAIN this node could not reach the leader to confirm a read; retry\r\n";
constexpr std::string_view kLeaderChanged = "-TRYAGAIN leadership changed before this read ran; retry\r\n";

}  // namespace

FollowerReads::FollowerReads(asio::io_context& io, Hooks hooks)
    : io_(io), hooks_(std::move(hooks)), socket_(io) {}

FollowerReads::~FollowerReads() {
  *alive_ = false;
  asio::error_code ec;
  socket_.close(ec);
}

void FollowerReads::Submit(const std::shared_ptr<ClientSession>& session, ReplySlots::Id slot, int db, int proto,
                           std::string request) {
  const auto id = queue_.Arrive();
  pending_.emplace(id, Pending{session, slot, db, proto, 0, std::move(request)});
  const auto now = std::chrono::steady_clock::now();
  if (arrivals_.empty() || now - arrivals_.back().second > std::chrono::milliseconds(10)) arrivals_.emplace_back(id, now);
  MaybeStartRound();
  Pump();  // a test may skip the wait
}

// A round serves every read that arrived before it started (a few may be in
// flight: FollowerReadQueue::kMaxRounds).
void FollowerReads::MaybeStartRound() {
  if (!queue_.WantsRound()) return;
  const uint64_t stamp = queue_.StartRound();
  const bool asked = hooks_.read_index(absl::StrCat(kContextPrefix, stamp));
  auto& timer = round_timers_[stamp];
  timer = std::make_unique<asio::steady_timer>(io_);
  timer->expires_after(asked ? std::chrono::duration_cast<std::chrono::milliseconds>(kRoundTimeout)
                             : kRetryAfterNoLeader);
  timer->async_wait([this, stamp, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    round_timers_.erase(stamp);
    queue_.Failed(stamp);  // lost (a leader change, a dropped message): ask again
    GiveUpStale();
    MaybeStartRound();
  });
}

void FollowerReads::GiveUpStale() {
  // Each arrival record: the reads from its id on arrived at or after its
  // time (one record per 10 ms at most, so a read may be given up to 10 ms
  // early, never late).
  const auto cutoff = std::chrono::steady_clock::now() - hooks_.give_up_after;
  bool any_old = false;
  while (!arrivals_.empty() && arrivals_.front().second < cutoff) {
    arrivals_.pop_front();
    any_old = true;
  }
  if (!any_old) return;
  const gate::FollowerReadQueue::ReadId before = arrivals_.empty() ? UINT64_MAX : arrivals_.front().first;
  std::vector<std::shared_ptr<ClientSession>> touched;
  for (const auto id : queue_.DropUnconfirmedBefore(before)) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    std::shared_ptr<ClientSession> session = it->second.session.lock();
    const ReplySlots::Id slot = it->second.slot;
    pending_.erase(it);
    if (session && session->LocalReadAnswered(slot, kNoConfirmation, ByteBlock())) touched.push_back(std::move(session));
  }
  for (auto& s : touched) s->FlushReleased();
}

void FollowerReads::Confirmed(std::string_view context, uint64_t index) {
  uint64_t stamp = 0;
  absl::string_view digits(context.data(), context.size());
  if (!absl::ConsumePrefix(&digits, kContextPrefix) || !absl::SimpleAtoi(digits, &stamp)) return;
  queue_.Confirmed(stamp, index);
  // It ended the rounds that started before it too.
  for (auto it = round_timers_.begin(); it != round_timers_.end() && it->first <= stamp;) {
    it->second->cancel();
    it = round_timers_.erase(it);
  }
  while (arrivals_.size() >= 2 && arrivals_[1].first <= queue_.confirmed_below()) arrivals_.pop_front();
  MaybeStartRound();
  Pump();
}

void FollowerReads::Applied(uint64_t index) {
  applied_ = index;
  queue_.Applied(index);
  Pump();
}

void FollowerReads::ChildLost() {
  Applied(0);
  Disconnected();
}

void FollowerReads::Clear() {
  queue_.Clear();
  // Their sessions are being aborted; a session that is not still gets its
  // answer, so that its later requests are not held back by a read.
  std::vector<std::shared_ptr<ClientSession>> touched;
  for (auto& [id, p] : pending_) {
    std::shared_ptr<ClientSession> session = p.session.lock();
    if (session && session->LocalReadAnswered(p.slot, kLeaderChanged, ByteBlock())) touched.push_back(std::move(session));
  }
  pending_.clear();
  arrivals_.clear();
  ready_.clear();
  sent_.clear();
  for (auto& [_, timer] : round_timers_) timer->cancel();
  round_timers_.clear();
  Disconnected();
  for (auto& s : touched) s->FlushReleased();
}

// Moves reads whose round is confirmed and whose index the child holds to the
// connection, in order.
void FollowerReads::Pump() {
  for (const auto& [id, index] : queue_.TakeReady()) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    it->second.index = index;
    ready_.push_back(id);
  }
  while (!ready_.empty() && !pending_.contains(ready_.front())) ready_.pop_front();
  if (ready_.empty() || link_state_ == LinkState::kConnecting) return;
  if (link_state_ == LinkState::kClosed) {
    if (pending_.at(ready_.front()).index <= applied_) Connect();
    return;
  }
  bool any = false;
  while (!ready_.empty()) {
    auto it = pending_.find(ready_.front());
    if (it == pending_.end()) {
      ready_.pop_front();
      continue;
    }
    Pending& p = it->second;
    if (p.index > applied_) break;  // the child was replaced and has not caught up yet
    if (p.session.expired()) {
      pending_.erase(it);
      ready_.pop_front();
      continue;
    }
    if (p.proto != proto_) {
      std::string hello;
      resp::AppendCommand(&hello, {"HELLO", p.proto == 3 ? "3" : "2"});
      out_.Append(std::move(hello));
      sent_.push_back(0);
      proto_ = p.proto;
    }
    if (p.db != db_) {
      std::string select;
      resp::AppendCommand(&select, {"SELECT", absl::StrCat(p.db)});
      out_.Append(std::move(select));
      sent_.push_back(0);
      db_ = p.db;
    }
    out_.Append(std::string_view(p.request));  // kept: sent again if the connection drops
    sent_.push_back(ready_.front());
    ready_.pop_front();
    any = true;
  }
  if (any) Write();
}

void FollowerReads::Connect() {
  link_state_ = LinkState::kConnecting;
  const uint64_t epoch = link_epoch_;
  socket_ = asio::local::stream_protocol::socket(io_);
  socket_.async_connect(asio::local::stream_protocol::endpoint(hooks_.socket_path),
                        [this, epoch, alive = alive_](const asio::error_code& ec) {
                          if (!*alive || epoch != link_epoch_) return;
                          if (ec) {
                            // The child is being replaced: the next read (or apply) tries again.
                            link_state_ = LinkState::kClosed;
                            ++link_epoch_;
                            return;
                          }
                          link_state_ = LinkState::kOpen;
                          db_ = 0;
                          proto_ = 2;
                          std::string name = hooks_.auth;
                          resp::AppendCommand(&name, {"CLIENT", "SETNAME", absl::StrCat(kInternalClientPrefix, "reads")});
                          out_.Append(std::move(name));
                          sent_.push_back(0);
                          sent_.push_back(0);
                          Read();
                          Pump();
                          Write();
                        });
}

void FollowerReads::Write() {
  if (write_busy_ || out_.empty() || link_state_ != LinkState::kOpen) return;
  writing_.TakeFrom(out_);
  write_busy_ = true;
  const uint64_t epoch = link_epoch_;
  asio::async_write(socket_, writing_.buffers, [this, epoch, alive = alive_](const asio::error_code& ec, size_t) {
    if (!*alive || epoch != link_epoch_) return;
    write_busy_ = false;
    writing_.Clear();
    if (ec) return Disconnected();
    Write();
  });
}

void FollowerReads::Read() {
  if (const size_t need = scanner_.HintBytesNeeded(); need > kReadChunk) in_.Reserve(need + kReadChunk);
  const uint64_t epoch = link_epoch_;
  socket_.async_read_some(in_.Prepare(kReadChunk), [this, epoch, alive = alive_](const asio::error_code& ec, size_t n) {
    if (!*alive || epoch != link_epoch_) return;
    if (ec) return Disconnected();
    in_.Commit(n);
    OnData();
    if (epoch == link_epoch_) Read();
  });
}

void FollowerReads::OnData() {
  std::vector<std::shared_ptr<ClientSession>> touched;
  std::string error;
  while (!in_.empty()) {
    size_t len = 0;
    char type = 0;
    const resp::ParseStatus st = scanner_.Scan(in_.data(), &len, &type, &error);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError || sent_.empty()) {
      Log(LogComponent::kClient, LogLevel::kError, "follower reads: unexpected reply from the child: %s",
          sent_.empty() ? "nothing was asked" : error);
      Disconnected();
      break;
    }
    const std::string_view bytes = in_.data().substr(0, len);
    ByteBlock big;
    if (len >= kTakeBytes) {
      big = in_.TakeFront(len);
    } else {
      in_.Consume(len);
    }
    const auto id = sent_.front();
    sent_.pop_front();
    if (id == 0) continue;  // our AUTH, SELECT, HELLO or CLIENT SETNAME
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    std::shared_ptr<ClientSession> session = it->second.session.lock();
    const ReplySlots::Id slot = it->second.slot;
    pending_.erase(it);
    ++served_;
    if (session && session->LocalReadAnswered(slot, bytes, std::move(big))) touched.push_back(std::move(session));
  }
  for (auto& s : touched) s->FlushReleased();
}

// The reads sent and not answered go back to the front of the line, to be sent
// again on a new connection (reads change nothing: running one twice is fine).
void FollowerReads::Disconnected() {
  ++link_epoch_;
  link_state_ = LinkState::kClosed;
  asio::error_code ec;
  socket_.close(ec);
  out_.Clear();
  writing_.Clear();
  write_busy_ = false;
  in_.Consume(in_.size());
  scanner_.Reset();
  for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
    if (*it != 0) ready_.push_front(*it);
  }
  sent_.clear();
  Pump();
}

}  // namespace node
