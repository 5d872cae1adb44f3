#include "node/front/relay_sessions.h"

#include <map>
#include <utility>

#include "node/logging.h"

namespace node {

RelaySessions::RelaySessions(asio::io_context& io, LastHeard last_heard, std::chrono::milliseconds silence,
                             std::chrono::milliseconds period)
    : timer_(io), last_heard_(std::move(last_heard)), silence_(silence), period_(period) {}

RelaySessions::~RelaySessions() { timer_.cancel(); }

void RelaySessions::Add(uint64_t member, Clock::time_point since, std::weak_ptr<const void> alive,
                        std::function<void()> end) {
  entries_.push_back(Entry{member, since, std::move(alive), std::move(end)});
  Watch();
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
    if (Clock::now() - timer_.expiry() < period_) Check(Clock::now());
    Watch();
  });
}

}  // namespace node
