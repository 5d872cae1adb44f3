#include "node/front/relay_sessions.h"

#include <algorithm>
#include <map>
#include <utility>

#include "node/logging.h"

namespace node {

RelaySessions::RelaySessions(asio::io_context& io, LastHeard last_heard, std::chrono::milliseconds silence,
                             std::chrono::milliseconds period)
    : timer_(io), last_heard_(std::move(last_heard)), silence_(silence), period_(period) {}

RelaySessions::~RelaySessions() { timer_.cancel(); }

uint64_t RelaySessions::Add(uint64_t member, Clock::time_point since, std::weak_ptr<const void> alive,
                            std::function<void()> end, std::function<void()> keepalive) {
  const uint64_t token = (uint64_t{random_()} << 32) | random_();
  entries_.push_back(Entry{member, since, std::move(alive), std::move(end), token, std::move(keepalive)});
  Watch();
  return token;
}

bool RelaySessions::End(uint64_t member, uint64_t token) {
  auto it = std::ranges::find_if(entries_, [&](const Entry& e) { return e.member == member && e.token == token; });
  if (it == entries_.end() || it->alive.expired()) return false;
  std::function<void()> end = std::move(it->end);
  entries_.erase(it);
  ++ended_;
  Log(LogComponent::kClient, LogLevel::kWarning,
      "a session relayed through node %d ended: the follower heard nothing on its connection", member);
  end();
  return true;
}

void RelaySessions::KeepAlive() {
  // (A keepalive sends on its connection: it ends or adds no session.)
  for (const Entry& e : entries_) {
    if (!e.alive.expired()) e.keepalive();
  }
}

size_t RelaySessions::Check(Clock::time_point now) {
  std::vector<std::pair<uint64_t, std::function<void()>>> due;
  std::erase_if(entries_, [&](Entry& e) {
    if (e.alive.expired()) return true;
    const std::optional<Clock::time_point> heard = last_heard_(e.member);
    if (!heard || now - *heard < silence_ || e.since > *heard + silence_) return false;
    due.emplace_back(e.member, std::move(e.end));
    return true;
  });
  // Ended once the registry is consistent: an end may close other sessions.
  std::map<uint64_t, int> per_member;
  for (auto& [member, end] : due) {
    ++per_member[member];
    end();
  }
  for (const auto& [member, n] : per_member) {
    Log(LogComponent::kClient, LogLevel::kInfo,
        "%d session(s) relayed through node %d ended: not heard from it for %d ms", n, member, silence_.count());
  }
  ended_ += due.size();
  return due.size();
}

void RelaySessions::Watch() {
  if (watching_ || entries_.empty()) return;
  watching_ = true;
  timer_.expires_after(period_);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    watching_ = false;
    // Late: this node's loop was held up (a big value, a slow disk), and
    // the members' messages that arrived meanwhile may not be handled yet.
    // Their silence is judged once they were.
    const Clock::time_point now = Clock::now();
    if (now - timer_.expiry() < period_) Check(now);
    if (now - kept_alive_ >= kAliveEvery) {
      kept_alive_ = now;
      KeepAlive();
    }
    Watch();
  });
}

}  // namespace node
