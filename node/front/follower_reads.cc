#include "node/front/follower_reads.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "node/front/client_session.h"

namespace node {
namespace {

constexpr auto kRetryAfterNoLeader = std::chrono::milliseconds(20);
constexpr std::string_view kNoConfirmation =
    "-TRYAGAIN this node could not reach the leader to confirm a read; retry\r\n";
constexpr std::string_view kLeaderChanged = "-TRYAGAIN leadership changed before this read ran; retry\r\n";

}  // namespace

FollowerReads::FollowerReads(asio::io_context& io, Hooks hooks)
    : io_(io),
      hooks_(std::move(hooks)),
      link_(io, SharedLink::Hooks{
                    .target =
                        [this] {
                          return Upstream{.kind = Upstream::Kind::kChild, .socket_path = hooks_.socket_path};
                        },
                    .auth = hooks_.auth,
                    .name = "reads",
                    .reply = [this](SharedLink::Tag id, std::string_view bytes, char,
                                    ByteBlock&& big) { OnReply(id, bytes, std::move(big)); },
                    .replies_done = [this] { FlushTouched(); },
                    .lost = [this](std::vector<SharedLink::Tag> unanswered,
                                   std::vector<uint64_t>) { SendAgain(unanswered); },
                    .connected = [this] { Pump(); },
                }) {}

FollowerReads::~FollowerReads() { *alive_ = false; }

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
  SendAgain(link_.Close());
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
  for (auto& [_, timer] : round_timers_) timer->cancel();
  round_timers_.clear();
  link_.Close();
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
  if (ready_.empty()) return;
  // (Connecting only once the child holds what the first read needs: a child
  // being replaced refuses connections until then.)
  if (!link_.open()) {
    if (pending_.at(ready_.front()).index <= applied_) link_.Ready();
    return;
  }
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
    link_.Send(ready_.front(), p.db, p.proto, p.request);  // kept: sent again if the connection drops
    ready_.pop_front();
  }
}

void FollowerReads::OnReply(gate::FollowerReadQueue::ReadId id, std::string_view bytes, ByteBlock&& big) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::shared_ptr<ClientSession> session = it->second.session.lock();
  const ReplySlots::Id slot = it->second.slot;
  pending_.erase(it);
  ++served_;
  if (session && session->LocalReadAnswered(slot, bytes, std::move(big))) touched_.push_back(std::move(session));
}

void FollowerReads::FlushTouched() {
  std::vector<std::shared_ptr<ClientSession>> touched = std::move(touched_);
  touched_.clear();
  for (auto& s : touched) s->FlushReleased();
}

void FollowerReads::SendAgain(const std::vector<SharedLink::Tag>& unanswered) {
  for (auto it = unanswered.rbegin(); it != unanswered.rend(); ++it) ready_.push_front(*it);
  Pump();
}

}  // namespace node
