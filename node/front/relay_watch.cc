#include "node/front/relay_watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {

RelayWatch::RelayWatch(asio::io_context& io, Hooks hooks, std::chrono::milliseconds silence,
                       std::chrono::milliseconds period)
    : timer_(io), hooks_(std::move(hooks)), silence_(silence), period_(period) {}

RelayWatch::~RelayWatch() {
  *alive_ = false;
  timer_.cancel();
}

void RelayWatch::Add(Link link) {
  if (!watching_) heard_leader_ = 0;  // no check heard it since the last
  entries_.push_back(std::make_shared<Entry>(Entry{std::move(link)}));
  Watch();
}

size_t RelayWatch::Check(Clock::time_point now, bool held_up) {
  std::erase_if(entries_, [](const std::shared_ptr<Entry>& e) { return e->link.alive.expired(); });
  const uint64_t leader = held_up ? 0 : hooks_.heard_leader(now);
  if (leader != heard_leader_) {
    heard_leader_ = leader;
    heard_since_ = now;
  }
  if (heard_leader_ == 0 || now - heard_since_ < kSteady) return 0;
  size_t began = 0;
  for (const std::shared_ptr<Entry>& e : entries_) {
    if (e->ending || e->link.leader != heard_leader_) continue;
    const std::optional<Clock::time_point> quiet = e->link.quiet_since();
    if (!quiet || now - *quiet < silence_) continue;
    e->ending = true;
    ++began;
    Log(LogComponent::kClient, LogLevel::kWarning,
        "a connection to the leader's client port heard nothing for %d ms while it awaited replies (the leader's Raft "
        "messages arrive): asking the leader to end its session, then its requests get UNKNOWN",
        std::chrono::duration_cast<std::chrono::milliseconds>(now - *quiet).count());
    std::weak_ptr<Entry> weak = e;
    hooks_.end_session(e->link.token, [this, weak, alive = alive_](bool ended) {
      auto entry = weak.lock();
      if (!*alive || !entry) return;
      entry->ending = false;
      if (!ended) return;  // asked again at the next check, if it still stalls
      auto connection = entry->link.alive.lock();
      entry->link.alive.reset();  // forgotten at the next check
      if (!connection) return;    // closed meanwhile
      ++given_up_;
      entry->link.ended();
    });
  }
  return began;
}

void RelayWatch::Watch() {
  if (watching_ || entries_.empty()) return;
  watching_ = true;
  timer_.expires_after(period_);
  timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    watching_ = false;
    const Clock::time_point now = Clock::now();
    Check(now, /*held_up=*/now - timer_.expiry() >= period_);
    Watch();
  });
}

std::optional<uint64_t> RelayToken(std::string_view reply) {
  uint64_t token = 0;
  if (!reply.starts_with("+OK ") || !reply.ends_with("\r\n") ||
      !absl::SimpleAtoi(absl::string_view(reply.data() + 4, reply.size() - 6), &token) || token == 0) {
    return std::nullopt;
  }
  return token;
}

namespace {

// One request on a connection of its own, and the first line of its reply.
struct EndCall {
  explicit EndCall(asio::any_io_executor executor)
      : stream(asio::generic::stream_protocol::socket(executor)), timer(executor) {}
  UpstreamStream stream;
  asio::steady_timer timer;
  std::string request, reply;
  std::array<char, 64> buf{};
  std::function<void(bool)> done;

  void Finish(bool ended) {
    if (!done) return;
    timer.cancel();
    stream.Close();
    std::exchange(done, nullptr)(ended);
  }
  void Read(const std::shared_ptr<EndCall>& self) {
    stream.async_read_some(asio::buffer(buf), [self](const asio::error_code& ec, size_t n) {
      if (ec) return self->Finish(false);
      self->reply.append(self->buf.data(), n);
      const size_t eol = self->reply.find("\r\n");
      if (eol == std::string::npos) return self->reply.size() > 256 ? self->Finish(false) : self->Read(self);
      // :1 it ended the session, :0 it had ended; an error: a leader that
      // knows no such request, or is not the leader any more.
      self->Finish(self->reply.starts_with(":"));
    });
  }
};

}  // namespace

void EndRelayedSession(asio::any_io_executor executor, const Upstream& up, uint64_t member, uint64_t token,
                       std::chrono::milliseconds timeout, std::function<void(bool)> done) {
  if (up.kind != Upstream::Kind::kLeader) return done(false);
  auto call = std::make_shared<EndCall>(executor);
  call->done = std::move(done);
  resp::AppendCommand(&call->request, {"ANARCHO.RELAY", absl::StrCat(member), "END", absl::StrCat(token)});
  call->timer.expires_after(timeout);
  call->timer.async_wait([call](const asio::error_code& ec) {
    if (!ec) call->Finish(false);
  });
  ConnectUpstream(executor, up, &call->stream, [call](const asio::error_code& ec) {
    if (ec) return call->Finish(false);
    call->stream.async_write(asio::buffer(call->request), [call](const asio::error_code& ec, size_t) {
      if (ec) return call->Finish(false);
      call->Read(call);
    });
  });
}

}  // namespace node
