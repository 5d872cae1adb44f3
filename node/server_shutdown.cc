// A graceful stop (SIGTERM, SHUTDOWN): drain, hand over, snapshot.
#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/ascii.h"
#include "node/front/client_session.h"
#include "node/logging.h"
#include "node/server.h"

namespace node {

// A graceful stop: no new clients and no new requests; the requests in flight
// are answered (a leader keeps committing them); a long log tail is
// snapshotted; a leader then hands its leadership over; then `done`.
// `snapshot`: kAuto snapshots a long tail, kAlways any tail, kNever none
// (SHUTDOWN SAVE / NOSAVE). The snapshot comes first: a leader that handed
// over rebuilds its child as a replica, which cannot be snapshotted until it
// synced (the stop skipped the snapshot). A leader that hands over takes one
// only on SHUTDOWN SAVE: until its save ends it holds every write of the
// cluster, where the handover alone costs a round trip or two.
void Server::Shutdown(ShutdownSnapshot snapshot, std::function<void()> done) {
  if (shutting_down_) return;  // the first request's `done` ends the process
  shutting_down_ = true;
  Log(LogComponent::kNode, LogLevel::kInfo, "stopping: answering the %d client connection(s)' requests in flight",
      sessions_.size());
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  if (tls_acceptor_) tls_acceptor_->close(ec);
  for (auto& [_, s] : sessions_) s->StopReading();
  Drain(std::chrono::steady_clock::now() + kDrainTimeout, [this, snapshot, done = std::move(done)]() mutable {
    constexpr uint64_t kWorthASnapshot = 8 << 20;
    const bool long_tail = options_.snapshot_log_bytes > 0 &&
                           snapshot_schedule_.since() >= std::min<uint64_t>(kWorthASnapshot, options_.snapshot_log_bytes / 4);
    bool want = snapshot == ShutdownSnapshot::kAlways ? snapshot_schedule_.since() > 0
                                                      : snapshot == ShutdownSnapshot::kAuto && long_tail;
    if (want && snapshot == ShutdownSnapshot::kAuto && is_leader_ && HandOverTarget() != 0) {
      Log(LogComponent::kSnapshot, LogLevel::kInfo,
          "stopping: no snapshot (this node leads: the cluster's writes would wait for its save; SHUTDOWN SAVE takes one)");
      want = false;
    }
    if (state_ != State::kRunning || !want) return HandOver(std::move(done));
    Log(LogComponent::kSnapshot, LogLevel::kInfo, "stopping: snapshot first (%d bytes of log since the last one)",
        snapshot_schedule_.since());
    TakeSnapshot([this, done = std::move(done)](const absl::StatusOr<pb::SnapshotMeta>& taken) mutable {
      if (!taken.ok()) {
        Log(LogComponent::kSnapshot, LogLevel::kWarning,
            "stopping: no snapshot (%s); the next start replays the log since the last one", taken.status().ToString());
      }
      HandOver(std::move(done));
    });
  });
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], as Redis 7.0 parses it: the
// node stops gracefully (as on SIGTERM). SAVE snapshots any log tail, NOSAVE
// none; NOW and FORCE change nothing here (no wait for replicas, no failing
// save to force past). The client gets no reply: its connection closes with
// the node, as with Redis.
std::string Server::ShutdownCommand(std::span<const std::string_view> args) {
  bool save = false, nosave = false, abort = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string opt = absl::AsciiStrToLower(absl::string_view(args[i].data(), args[i].size()));
    if (opt == "save") {
      save = true;
    } else if (opt == "nosave") {
      nosave = true;
    } else if (opt == "abort") {
      abort = true;
    } else if (opt != "now" && opt != "force") {
      return "-ERR syntax error\r\n";
    }
  }
  if ((save && nosave) || (abort && args.size() > 2)) return "-ERR syntax error\r\n";
  if (abort) {
    return shutting_down_ ? "-ERR a node's shutdown cannot be aborted once it began\r\n"
                          : "-ERR No shutdown in progress.\r\n";
  }
  if (!on_shutdown_command) return "-ERR this node cannot be shut down by a command\r\n";
  Log(LogComponent::kNode, LogLevel::kInfo, "SHUTDOWN from a client");
  // After this reply is queued: the session's input stops with everyone's.
  asio::post(io_, [this, mode = save ? ShutdownSnapshot::kAlways : nosave ? ShutdownSnapshot::kNever
                                                                          : ShutdownSnapshot::kAuto] {
    on_shutdown_command(mode);
  });
  return "";
}

// Waits until every session answered what it read (or `deadline`).
void Server::Drain(std::chrono::steady_clock::time_point deadline, std::function<void()> then) {
  const bool idle = std::all_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s.second->idle(); });
  if (idle || state_ != State::kRunning || std::chrono::steady_clock::now() >= deadline) {
    if (!idle) Log(LogComponent::kNode, LogLevel::kWarning, "stopping: requests still in flight after the drain timeout");
    return then();
  }
  drain_timer_.expires_after(std::chrono::milliseconds(2));
  drain_timer_.async_wait([this, deadline, then = std::move(then)](const asio::error_code& ec) mutable {
    if (!ec) Drain(deadline, std::move(then));
  });
}

// A leader that stops hands its leadership to the most caught-up voter (a
// transfer takes a round trip or two) instead of leaving the others to time
// out and elect one (an election timeout or more without writes). It gives up
// after a while and stops anyway.
uint64_t Server::HandOverTarget() const {
  const consensus::RaftStatus st = rlog_->status();
  uint64_t to = 0, best = 0;
  for (uint64_t v : st.conf_state.voters()) {
    auto it = st.progress.find(v);
    if (v == st.id || it == st.progress.end()) continue;
    if (to == 0 || it->second.match > best) {
      to = v;
      best = it->second.match;
    }
  }
  return to;
}

void Server::HandOver(std::function<void()> then) {
  const uint64_t to = HandOverTarget();
  if (!is_leader_ || state_ != State::kRunning || to == 0) return then();
  const consensus::RaftStatus st = rlog_->status();
  Log(LogComponent::kNode, LogLevel::kInfo, "stopping: handing leadership to node %d (match %d of %d)", to,
      st.progress.at(to).match, st.last_index);
  if (auto s = rlog_->TransferLeadership(to); !s.ok()) {
    Log(LogComponent::kNode, LogLevel::kWarning, "stopping without a handover: %s", s.message());
    return then();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto wait = std::make_shared<std::function<void()>>();
  *wait = [this, deadline, then = std::move(then), wait]() mutable {
    if (rlog_->leader() != rlog_->id() && rlog_->leader() != 0) {
      Log(LogComponent::kNode, LogLevel::kInfo, "stopping: node %d leads now", rlog_->leader());
      auto t = std::move(then);
      *wait = nullptr;  // ends the cycle through the shared pointer
      return t();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      Log(LogComponent::kNode, LogLevel::kWarning, "stopping: the handover did not complete in time");
      auto t = std::move(then);
      *wait = nullptr;
      return t();
    }
    handover_timer_.expires_after(std::chrono::milliseconds(5));
    handover_timer_.async_wait([wait](const asio::error_code& ec) {
      if (!ec && *wait) (*wait)();
    });
  };
  (*wait)();
}

}  // namespace node
