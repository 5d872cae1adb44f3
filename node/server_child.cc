// Server: the child redis-server's life. Started empty as a replica of this
// node and fed the log; rebuilt from the log when it exits, when a snapshot
// from the leader replaces the log, or when a script that wrote keeps it
// busy; watched for exits and for BUSY.
#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "node/child/sync_client.h"
#include "node/front/scan_cursor.h"
#include "node/front/client_session.h"
#include "node/logging.h"
#include "node/server.h"
#include "resp/value.h"

namespace node {
namespace cpb = consensus::pb;

// ------------------------------------------------------------------ the child

// A fresh, empty child, started as a replica of this node: it connects to the
// master link, which full-syncs it from the log (OnChildSyncRequested).
absl::Status Server::StartChild() {
  promoted_ = false;
  child_started_ = std::chrono::steady_clock::now();
  if (auto s = child_->Start(); !s.ok()) return s;
  // Its hash function is seeded anew: no cursor of an earlier child holds.
  scan_epoch_ = std::uniform_int_distribution<uint32_t>(1, scan_cursor::kMaxEpoch)(random_);
  asio::io_context sync_io;
  SyncClient client(sync_io);
  if (auto s = client.Connect(child_options_.socket_path); !s.ok()) return s;
  if (auto s = client.Auth(kInternalUser, child_options_.internal_password); !s.ok()) return s;
  if (!commands_) {
    auto reply = client.Call({"COMMAND"});
    if (!reply.ok()) return reply.status();
    auto table = CommandTable::FromCommandReply(*reply);
    if (!table.ok()) return table.status();
    commands_ = std::make_unique<CommandTable>(std::move(*table));
    Log(LogComponent::kNode, LogLevel::kInfo, "command table: %d commands", commands_->size());
  }
  // The node's own requests (CLIENT KILL, ROLE, promotion, the busy watchdog).
  control_.on_error = [this](const absl::Status& st) { RebuildChild(std::string(st.message())); };
  busy_ping_in_flight_ = false;
  if (auto st = control_.Connect(child_options_.socket_path); !st.ok()) return st;
  control_.Call({"AUTH", kInternalUser, child_options_.internal_password}, [this](const resp::Value& v) {
    if (v.type == resp::Type::kError) RebuildChild(absl::StrCat("the child refused the node's user: ", v.str));
  });
  control_.Call({"CLIENT", "SETNAME", absl::StrCat(kInternalClientPrefix, "control")}, [](const resp::Value&) {});
  // As the shared link: clients' memory is the node's to bound. Evicted under
  // maxmemory-clients, this link's loss would rebuild the child and abort
  // every client's requests.
  control_.Call({"CLIENT", "NO-EVICT", "ON"}, [](const resp::Value&) {});
  acl_generation_seen_ = 0;  // a new child: learnt again once its users are in
  return absl::OkStatus();
}

// The child asked its master (this node) for a sync: the state before any
// entry, then every committed entry, as its replication stream.
void Server::OnChildSyncRequested() {
  if (promoted_ || state_ != State::kRunning) return;
  // A child that syncs again on its own (its link dropped; not rebuilt)
  // loads the snapshot, older than what it applied: reads wait until it
  // applied their index again, as after a rebuild.
  if (follower_reads_) follower_reads_->ChildLost();
  const uint64_t serial = ++sync_serial_;
  auto sync = [this, serial] {
    if (serial != sync_serial_ || promoted_ || state_ != State::kRunning) return;
    if (const auto& snap = rlog_->snapshot()) {
      if (auto s = link_.FullSync(rlog_->SnapshotPath(*snap), snap->index(), LoggedState::Prelude(*snap)); !s.ok()) {
        Log(LogComponent::kNode, LogLevel::kError, "sync from snapshot %d: %s; exiting", snap->index(), s.ToString());
        std::_Exit(1);
      }
    } else {
      (void)link_.FullSync("", 0);
    }
    ScheduleFeed();
  };
  if (!control_.connected()) return sync();  // (the prelude still has the settings)
  control_.Call({"ACL", "USERS"}, [this, sync](const resp::Value& users) {
    // A child that syncs again on its own (not rebuilt) still has its users
    // when the prelude replays their changes, which assumes a child without
    // them: each selector a change adds came twice. The users go first (the
    // prelude makes them anew), and the default user's selectors.
    std::vector<std::vector<std::string>> requests = {{"ACL", "SETUSER", "default", "clearselectors"}};
    std::vector<std::string> deluser = {"ACL", "DELUSER"};
    for (const resp::Value& u : users.elements) {
      if (u.str != "default" && u.str != kInternalUser) deluser.push_back(u.str);
    }
    if (deluser.size() > 2) requests.push_back(std::move(deluser));
    // The snapshot's settings are in force before its RDB loads (and again
    // in its prelude, after it): loaded under a child's start-up settings,
    // keys took other encodings than the live children's (a 600-field hash
    // under hash-max-listpack-entries 1000 a hashtable, a list its
    // compression) and lost their LFU counters (read only under an LFU policy).
    if (const auto& snap = rlog_->snapshot()) {
      for (auto& setting : LoggedState::SettingRequests(*snap)) requests.push_back(std::move(setting));
    }
    std::vector<ControlLink::Callback> dones(requests.size());
    dones.back() = [sync](const resp::Value&) { sync(); };  // a lost link never calls it: the child is rebuilt
    control_.CallTogether(requests, std::move(dones));
  });
}

// The child is fed the committed log from the log itself, kMaxTurnBytes of
// entries a turn, while it has less than kMaxChildBacklog unapplied. Fed in
// one turn, a full sync's tail (up to the data set's size with big values)
// stalled the node for seconds (elections followed, and a hand-over stalled
// the old leader again), and a child that stopped reading had every new
// entry queued for it in memory without bound. A committed entry goes to the
// child at once when nothing is waiting before it (FeedsAtOnce), the common
// case; else this reaches it.
void Server::ScheduleFeed() {
  if (feed_scheduled_ || promoted_) return;
  feed_scheduled_ = true;
  asio::post(io_, [this] {
    feed_scheduled_ = false;
    FeedFromLog();
  });
}

bool Server::ChildTakesMore() const {
  return link_.syncing() && !link_.paused() && link_.unapplied_bytes() < kMaxChildBacklog;
}

bool Server::FeedsAtOnce(uint64_t index) const { return link_.fed() + 1 == index && ChildTakesMore(); }

void Server::FeedFromLog() {
  if (promoted_ || state_ != State::kRunning) return;
  const consensus::MemoryStorage& log = rlog_->storage();
  uint64_t bytes = 0;
  while (link_.fed() < committed_index_ && ChildTakesMore() && bytes < kMaxTurnBytes) {
    auto entries = log.Entries(link_.fed() + 1, committed_index_ + 1, kMaxTurnBytes);
    if (!entries.ok()) {
      // Compacted below what the child needs: it starts again from the snapshot.
      return RebuildChild(absl::StrCat("the child's feed cannot read the log: ", entries.status().message()));
    }
    for (const cpb::Entry& e : *entries) {
      bytes += e.data().size();
      FeedChild(e.index(), EffectsOf(e));
      if (link_.paused()) break;  // a divergence check: resumed by its end
    }
  }
  // Within the backlog bound, the next turn goes on; past it, the child's
  // next acknowledgement does (OnApplied).
  if (link_.fed() < committed_index_ && ChildTakesMore()) ScheduleFeed();
}

std::optional<pb::EffectBatch> Server::EffectsOf(const cpb::Entry& e) {
  pb::EffectBatch batch;
  if (e.type() != cpb::ENTRY_NORMAL || e.data().empty() || !batch.ParseFromString(e.data())) return std::nullopt;
  return batch;
}

void Server::FeedChild(uint64_t index, std::optional<pb::EffectBatch> batch) {
  if (!batch) return link_.Skip(index);
  if (!batch->check_digest().empty() && !link_.syncing()) SkipDigest(index, "the child is loading a full sync");
  if (!batch->check_digest().empty() && index + kMaxCheckLag < committed_index_) {
    // A child catching up would stop at every old check for a whole digest.
    SkipDigest(index, "the child is catching up");
    return link_.Skip(index);
  }
  link_.Feed(index, std::move(*batch));
}

// The child is killed and started again as a replica; the master link then
// gives it the committed log. Its clients get UNKNOWN.
void Server::RebuildChild(const std::string& why) {
  if (state_ != State::kRunning) return;
  ++rebuilds_;
  metrics_.OnChildRebuild();
  Log(LogComponent::kNode, LogLevel::kWarning, "rebuilding the child redis-server from the committed log: %s", why);
  AbortSnapshot(absl::StrCat("the child was rebuilt: ", why));
  EndDigest(absl::AbortedError(absl::StrCat("the child was rebuilt: ", why)));
  feed_check_ = {};
  StopStream();
  // A follower's clients run on the leader, not on this child (its own reads
  // are sent again to the new one, ChildLost): they keep their connections.
  // Before, installing a snapshot on a follower closed every one of them.
  if (is_leader_ || promoted_) {
    EndLeaderEpoch(absl::StrCat("UNKNOWN this node's redis-server is being rebuilt (", why,
                                "); the outcome of this request is unknown"));
  }
  // The new child holds nothing until its full sync: a leader promotes it
  // only once it applied the log (CheckLeaderReady), even with no entry
  // appended since the last promotion.
  link_.NewChild();
  if (follower_reads_) follower_reads_->ChildLost();
  child_->Kill();
  if (child_->ended_by_itself()) BackOffAfterCrash();
  if (auto s = StartChild(); !s.ok()) {
    // Serving without a child that matches the log would break every
    // guarantee; a supervisor (or the operator) restarts the node.
    Log(LogComponent::kNode, LogLevel::kError, "cannot rebuild the child: %s; exiting", s.ToString());
    std::_Exit(1);
  }
  if (is_leader_) {
    leader_ready_ = false;
    ready_barrier_ = rlog_->last_index();
    CheckLeaderReady();
  }
}

// A child that keeps failing (a snapshot it cannot load, a setting it
// refuses) would otherwise be started again as fast as it dies; one that
// ran a while (killed by the OOM killer, say) is started again at once. Blocking the
// loop is what the wait costs: a node whose child cannot run serves nothing,
// and a leader's followers elect another meanwhile.
void Server::BackOffAfterCrash() {
  constexpr auto kShortLife = std::chrono::seconds(2);
  const bool short_life = std::chrono::steady_clock::now() - child_started_ < kShortLife;
  child_crashes_in_a_row_ = short_life ? child_crashes_in_a_row_ + 1 : 0;
  const std::string warning = child_->LastLoggedWarning();
  const auto wait = std::chrono::milliseconds(
      child_crashes_in_a_row_ == 0 ? 0 : std::min(50 << std::min(child_crashes_in_a_row_ - 1, 5), 1000));
  Log(LogComponent::kChild, LogLevel::kWarning, "the child redis-server ended by itself%s%s%s",
      warning.empty() ? "" : "; its log says: ", warning,
      wait.count() == 0 ? "" : absl::StrCat(" (", child_crashes_in_a_row_, " in a row; the next starts in ",
                                            wait.count(), " ms)"));
  std::this_thread::sleep_for(wait);
}

// A snapshot from the leader replaced this follower's log: its child starts
// again from it.
void Server::OnSnapshotInstalled(const pb::SnapshotMeta& meta) {
  if (rlog_->was_removed(rlog_->id())) {
    // Its removal committed before the snapshot (the leader sent one already
    // under way): the log that would have told it is behind the snapshot.
    Log(LogComponent::kNode, LogLevel::kWarning, "this node was removed from the cluster (snapshot %d says so); exiting",
        meta.index());
    return LeaveCluster();
  }
  committed_index_ = meta.index();
  snapshot_schedule_.Restart();
  logged_.Load(meta);
  LoggedSettingsChanged();
  logged_history_.Reset(meta);
  acl_changed_at_ = meta.index();
  RebuildChild(absl::StrCat("loading snapshot ", meta.index(), " from the leader"));
}

void Server::WatchChild() {
  child_signals_.async_wait([this](const asio::error_code& ec, int) {
    if (ec || state_ == State::kStopped) return;
    if (state_ == State::kRunning && child_->Reap()) RebuildChild("child redis-server exited");
    WatchChild();
  });
}

// Signals can coalesce; a periodic look costs nothing.
void Server::PollChild() {
  child_watch_.expires_after(std::chrono::seconds(1));
  child_watch_.async_wait([this](const asio::error_code& ec) {
    if (ec || state_ == State::kStopped) return;
    if (state_ == State::kRunning && child_->Reap()) RebuildChild("child redis-server exited");
    PollChild();
  });
}

// ------------------------------------------------------------------ busy child

// A script that runs past busy-reply-threshold makes the child answer BUSY to
// everyone; clients may then SCRIPT KILL it, as with Redis. Once the child
// kept answering BUSY for --script_kill_after, the node stops the script
// itself: one that only read is killed (SCRIPT KILL); one that has written
// cannot be, but none of its effects were propagated yet (a script's effects
// reach the stream when it ends), so the child is rebuilt from the log:
// nothing committed is lost, and the script's writes never happen.
//
// The same PING finds a child that answers nothing at all: past
// --child_timeout without an answer and without running (its main thread used
// no CPU: stopped, or waiting on something that never comes) it is rebuilt
// from the log, as after a crash. A child held by one long command (FLUSHALL
// of a huge data set, the node's own DEBUG DIGEST) is working, and is left to
// finish. Before, a leader whose child hung kept its leadership (its Raft side
// heartbeat on), every request waited, and its health said ok.
void Server::WatchBusy() {
  busy_timer_.expires_after(std::chrono::milliseconds(std::clamp(options_.script_kill_after_ms / 10, 20, 500)));
  busy_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || state_ == State::kStopped) return;
    if (state_ == State::kRunning) CheckChildStuck();
    if (state_ == State::kRunning && control_.connected() && !busy_ping_in_flight_) {
      busy_ping_in_flight_ = true;
      busy_ping_sent_ = std::chrono::steady_clock::now();
      control_.Call({"PING"}, [this](const resp::Value& v) {
        busy_ping_in_flight_ = false;
        if (v.type != resp::Type::kError || !absl::StartsWith(v.str, "BUSY")) {
          busy_since_.reset();
          return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (!busy_since_) busy_since_ = now;
        if (now - *busy_since_ >= std::chrono::milliseconds(options_.script_kill_after_ms)) {
          busy_since_.reset();
          OnBusy(v.str);
        }
      });
    }
    WatchBusy();
  });
}

void Server::CheckChildStuck() {
  if (!busy_ping_in_flight_) return;
  const auto now = std::chrono::steady_clock::now();
  if (const auto ticks = child_->MainThreadTicks(); ticks && *ticks != child_ticks_seen_) {
    child_ticks_seen_ = *ticks;
    child_ran_at_ = now;
  }
  const auto stuck = now - std::max(busy_ping_sent_, child_ran_at_);
  if (options_.child_timeout_ms == 0 || stuck < std::chrono::milliseconds(options_.child_timeout_ms)) return;
  RebuildChild(absl::StrCat("the child answered nothing and did not run for ",
                            std::chrono::duration_cast<std::chrono::milliseconds>(stuck).count(), " ms"));
}

bool Server::ChildHealthy() const { return child_->running() && ChildSilence() < kChildSilentTooLong; }

std::chrono::milliseconds Server::ChildSilence() const {
  if (!busy_ping_in_flight_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - busy_ping_sent_);
}

void Server::OnBusy(const std::string& busy_error) {
  const bool function = absl::StrContains(busy_error, "FUNCTION KILL");
  control_.Call({function ? "FUNCTION" : "SCRIPT", "KILL"}, [this](const resp::Value& v) {
    if (v.type != resp::Type::kError) {
      ++scripts_killed_;
      Log(LogComponent::kNode, LogLevel::kWarning, "stopped a read-only script that kept the child busy for %d ms",
          options_.script_kill_after_ms);
      return;
    }
    if (!absl::StartsWith(v.str, "UNKILLABLE")) return;  // NOTBUSY: it just ended
    ++scripts_killed_;
    // (Every request in flight gets this: the script's own did not happen,
    // the others' outcome is unknown, as at any rebuild.)
    RebuildChild(absl::StrCat("a script that had written kept the child busy for ", options_.script_kill_after_ms,
                              " ms: that script was discarded, none of its writes took effect"));
  });
}

// The committed settings the node itself follows (LoggedState; eviction's
// is the gate's, at the child's sync).
void Server::LoggedSettingsChanged() {
  uint64_t limit = static_cast<uint64_t>(resp::Limits{}.query_buffer_limit);
  if (const std::optional<std::string> v = logged_.Setting({"client-query-buffer-limit"})) ParseMemory(*v, &limit);
  query_buffer_limit_ = static_cast<int64_t>(std::min<uint64_t>(limit, INT64_MAX));
}

}  // namespace node
