#include "node/front/follower_reads.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "node/front/client_session.h"
#include "node/logging.h"

namespace node {
namespace {

constexpr auto kRetryAfterNoLeader = std::chrono::milliseconds(20);
constexpr std::string_view kNoConfirmation =
    "-TRYAGAIN this node could not reach the leader to confirm a read; retry\r\n";
constexpr std::string_view kLeaderChanged = "-TRYAGAIN leadership changed before this read ran; retry\r\n";
constexpr std::string_view kBehind =
    "-TRYAGAIN this node has not caught up with the leader yet; retry (its reads go to the leader meanwhile)\r\n";

}  // namespace

FollowerReads::FollowerReads(asio::io_context& io, Hooks hooks)
    : io_(io),
      hooks_(std::move(hooks)),
      connect_again_(io),
      stale_check_(io),
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
  // Sent at once when it may run early (every read before it left already).
  const bool early = link_.open() && ready_.empty() && queue_.MaySendEarly();
  const auto id = early ? queue_.ArriveEarly() : queue_.Arrive();
  Pending& p = pending_.emplace(id, Pending{session, slot, db, proto, 0, std::move(request)}).first->second;
  if (early) {
    p.early = Pending::Early::kSent;
    link_.Send(id, db, proto, p.request);
  }
  const auto now = std::chrono::steady_clock::now();
  if (arrivals_.empty() || now - arrivals_.back().second > std::chrono::milliseconds(10)) arrivals_.emplace_back(id, now);
  ArmStaleCheck();
  MaybeStartRound();
  Pump();  // a test may skip the wait
}

void FollowerReads::ArmStaleCheck() {
  if (stale_check_armed_) return;
  stale_check_armed_ = true;
  stale_check_.expires_after(hooks_.give_up_after / 4);
  stale_check_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (!*alive) return;
    stale_check_armed_ = false;
    if (ec) return;
    GiveUpStale();
    if (queue_.waiting() > 0) ArmStaleCheck();
  });
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
  const bool was_behind = behind();
  std::vector<std::shared_ptr<ClientSession>> touched;
  for (const auto& dropped : queue_.DropBefore(before)) {
    auto it = pending_.find(dropped.id);
    if (it == pending_.end()) continue;
    if (dropped.index) behind_index_ = std::max(behind_index_, *dropped.index);
    std::shared_ptr<ClientSession> session = it->second.session.lock();
    const ReplySlots::Id slot = it->second.slot;
    pending_.erase(it);
    if (session && session->LocalReadAnswered(slot, dropped.index ? kBehind : kNoConfirmation, ByteBlock())) {
      touched.push_back(std::move(session));
    }
  }
  if (behind() && !was_behind) {
    Log(LogComponent::kClient, LogLevel::kWarning,
        "follower reads: the child has applied index %d, reads need %d: reads go to the leader until it catches up",
        applied_, behind_index_);
  }
  for (auto& s : touched) s->FlushReleased();
}

void FollowerReads::Confirmed(std::string_view context, uint64_t index) {
  uint64_t stamp = 0;
  absl::string_view digits(context.data(), context.size());
  if (!absl::ConsumePrefix(&digits, kContextPrefix) || !absl::SimpleAtoi(digits, &stamp)) return;
  queue_.Confirmed(stamp, index);
  DropVoided();
  // It ended the rounds that started before it too.
  for (auto it = round_timers_.begin(); it != round_timers_.end() && it->first <= stamp;) {
    it->second->cancel();
    it = round_timers_.erase(it);
  }
  MaybeStartRound();
  Pump();
  FlushTouched();  // early reads' held replies
}

// Early reads whose replies no longer stand: the ones on their way are
// dropped when they come, and the reads run again once confirmed.
void FollowerReads::DropVoided() {
  for (const auto id : queue_.TakeVoided()) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending& p = it->second;
    ++reruns_;
    if (p.early == Pending::Early::kSent) ++p.void_replies;
    p.early = Pending::Early::kNo;
    p.held = ByteBlock();
  }
}

void FollowerReads::Applied(uint64_t index) {
  applied_ = index;
  queue_.Applied(index);
  Pump();
  FlushTouched();
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
// connection, in order; early reads whose replies stand go to their sessions
// (or will, as their replies come).
void FollowerReads::Pump() {
  const std::vector<gate::FollowerReadQueue::Ready> taken = queue_.TakeReady();
  // The arrival records of reads no longer waiting are not needed to give them up.
  while (arrivals_.size() >= 2 && arrivals_[1].first <= queue_.oldest()) arrivals_.pop_front();
  for (const auto& r : taken) {
    auto it = pending_.find(r.id);
    if (it == pending_.end()) continue;
    Pending& p = it->second;
    p.index = r.index;
    p.confirmed = true;
    if (!r.early) {
      ready_.push_back(r.id);
    } else if (p.early == Pending::Early::kHeld) {
      ++served_early_;
      ByteBlock held = std::move(p.held);
      Answer(r.id, std::string_view(), std::move(held));
    }  // else its reply is on its way (OnReply)
  }
  while (!ready_.empty() && !pending_.contains(ready_.front())) ready_.pop_front();
  if (ready_.empty()) return;
  // (Connecting only once the child holds what the first read needs: a child
  // being replaced refuses connections until then.)
  if (!link_.open()) {
    if (pending_.at(ready_.front()).index <= applied_) {
      link_.Ready();
      ConnectAgainSoon();
    }
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

// A connect that fails is tried again while reads wait for the link (on an
// idle follower nothing else would call Pump).
void FollowerReads::ConnectAgainSoon() {
  if (connect_again_armed_) return;
  connect_again_armed_ = true;
  connect_again_.expires_after(kConnectAgainAfter);
  connect_again_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (!*alive) return;
    connect_again_armed_ = false;
    if (!ec) Pump();
  });
}

void FollowerReads::OnReply(gate::FollowerReadQueue::ReadId id, std::string_view bytes, ByteBlock&& big) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  if (p.void_replies > 0) {
    --p.void_replies;
    return;
  }
  if (p.early == Pending::Early::kSent) {
    if (p.confirmed) {
      ++served_early_;  // confirmed while it ran
    } else {
      p.early = Pending::Early::kHeld;
      p.held = big.empty() ? ByteBlock(std::string(bytes)) : std::move(big);
      return;
    }
  }
  Answer(id, bytes, std::move(big));
}

void FollowerReads::Answer(gate::FollowerReadQueue::ReadId id, std::string_view bytes, ByteBlock&& big) {
  auto it = pending_.find(id);
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

// The connection was lost with these reads unanswered (in the order sent; a
// read may be there twice: a voided early send and its second run).
void FollowerReads::SendAgain(const std::vector<SharedLink::Tag>& unanswered) {
  std::vector<SharedLink::Tag> again;
  absl::flat_hash_set<SharedLink::Tag> seen;
  for (const SharedLink::Tag id : unanswered) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending& p = it->second;
    p.void_replies = 0;  // they will not come either
    if (p.early == Pending::Early::kSent) {
      p.early = Pending::Early::kNo;
      if (!p.confirmed) queue_.Unsent(id);  // it waits for its round like any read
    }
    if (p.confirmed && seen.insert(id).second) again.push_back(id);
  }
  for (auto it = again.rbegin(); it != again.rend(); ++it) ready_.push_front(*it);
  Pump();
}

}  // namespace node
