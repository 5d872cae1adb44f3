// Snapshots of the child (docs/design.md, "Snapshots"): the child's state at
// a known log index, saved by the child itself (BGSAVE: a fork, so writes go
// on), then handed to the Raft host, which makes it the newest snapshot and
// compacts the log.
//
// The index of the state the fork caught:
//   - a follower's child is a replica fed by the master link: the feed pauses
//     until the child applied everything sent, so the fork catches exactly
//     the state after link.applied();
//   - a leader's child runs writes before they commit: proposals pause while
//     BGSAVE and ROLE go out together (Redis runs them back to back), ROLE's
//     offset O is where the fork caught the stream, and the batcher makes an
//     entry end exactly at O (if the stream had nothing after the last entry,
//     the state is that after every entry proposed so far). Its index is the
//     snapshot's, used only once it commits (a leader that loses its
//     leadership drops the snapshot). A logged request is logged after it
//     ran, as a node entry behind its effects: one that ran before the fork
//     but was logged after the snapshot's index would run twice on a child
//     rebuilt from the snapshot (XREADGROUP's delivery counts). So the fork
//     waits until the logged requests in flight committed, and new ones wait
//     until the snapshot's index is known.
// Either way the RDB's own repl-offset field must equal the offset the node
// expected, or the snapshot is thrown away.
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "node/child/rdb_header.h"
#include "node/logging.h"
#include "node/server.h"

namespace node {
namespace fs = std::filesystem;

namespace {
constexpr auto kPollEvery = std::chrono::milliseconds(20);
constexpr int kQuietPolls = 1000;  // 2 s of 2 ms polls: for a paused replica to be quiet, for logged requests to settle
}  // namespace

void Server::TakeSnapshot(std::function<void(absl::StatusOr<pb::SnapshotMeta>)> done) {
  if (snap_) {
    snap_->waiters.push_back(std::move(done));  // one at a time: share the one under way
    return;
  }
  if (state_ != State::kRunning || !child_->running()) {
    return done(absl::UnavailableError("the node's redis-server is not running"));
  }
  if (promoted_ && !leader_ready_) {
    return done(absl::UnavailableError("the leader's redis-server is catching up with the log; retry"));
  }
  snap_ = std::make_unique<SnapshotJob>();
  snap_->serial = ++job_serial_;
  snap_->waiters.push_back(std::move(done));
  if (promoted_) {
    SnapshotLeaderChild();
  } else {
    SnapshotReplicaChild();
  }
}

void Server::SnapshotReplicaChild() {
  if (!link_.syncing()) return EndSnapshot(absl::UnavailableError("the child is still syncing"));
  if (link_.pieces_held()) return EndSnapshot(absl::UnavailableError("a big command is half fed; retry"));
  if (feed_check_.index != 0) return EndSnapshot(absl::UnavailableError("a divergence check holds the feed; retry"));
  snap_->replica = true;
  link_.Pause();
  const uint64_t job = snap_->serial;
  WhenQuiet(snap_timer_, [this, job] { return SnapshotUnderWay(job); }, [this, job](bool quiet) {
    if (!SnapshotUnderWay(job)) return;
    if (!quiet) return EndSnapshot(absl::DeadlineExceededError("the child did not catch up"));
    snap_->index = link_.applied();
    snap_->offset = link_.offset();
    SaveChild();
  });
}

void Server::WhenQuiet(asio::steady_timer& timer, std::function<bool()> live, std::function<void(bool quiet)> then,
                       int polls) {
  if (link_.quiet()) return then(true);
  if (polls >= kQuietPolls || !link_.syncing()) return then(false);
  timer.expires_after(std::chrono::milliseconds(2));
  timer.async_wait(
      [this, &timer, live = std::move(live), then = std::move(then), polls](const asio::error_code& ec) mutable {
        if (!ec && live()) WhenQuiet(timer, std::move(live), std::move(then), polls + 1);
      });
}

void Server::SnapshotLeaderChild() {
  snap_->holding = true;
  gate_.HoldLogged();
  const uint64_t job = snap_->serial;
  WhenSettled(snap_timer_, [this, job] { return SnapshotUnderWay(job); }, [this](bool settled) {
    if (!settled) return EndSnapshot(absl::UnavailableError("logged requests or a divergence check did not settle; retry"));
    snap_->pausing = true;  // no entry may end past the fork before the node knows where it is
    SaveChild();
  });
}

// A leader's snapshot or divergence check catches its child's state: it waits
// for the logged requests in flight to commit (their effects are in the
// child, their entries must come before the point it takes), and for the
// other job's point of the stream to be logged.
void Server::WhenSettled(asio::steady_timer& timer, std::function<bool()> live, std::function<void(bool settled)> then,
                         int polls) {
  if (!gate_.LoggedInFlight() && !mark_ && !ProposalsPaused()) return then(true);
  if (polls >= kQuietPolls) return then(false);
  timer.expires_after(std::chrono::milliseconds(2));
  timer.async_wait([this, &timer, live = std::move(live), then = std::move(then), polls](const asio::error_code& ec) mutable {
    if (!ec && live()) WhenSettled(timer, std::move(live), std::move(then), polls + 1);
  });
}

void Server::EndLoggedHold(bool& holding) {
  if (!holding) return;
  holding = false;
  gate_.ReleaseLogged();
}

// BGSAVE and ROLE in one write: the fork and the offset it caught.
void Server::SaveChild() {
  const uint64_t job = snap_->serial;
  control_.CallTogether(
      {{"BGSAVE"}, {"ROLE"}},
      {[this, job](const resp::Value& v) {
         if (SnapshotUnderWay(job) && v.type == resp::Type::kError) {
           EndSnapshot(absl::UnavailableError(absl::StrCat("BGSAVE: ", v.str)));
         }
       },
       [this, job](const resp::Value& role) {
         if (!SnapshotUnderWay(job)) return;
         LowerSaverPriority();
         if (snap_->replica) {
           if (feed_check_.index == 0) {
             link_.Resume();  // (else the divergence check resumes it)
             ScheduleFeed();
           }
         } else {
           OnLeaderForked(role);
         }
         if (SnapshotUnderWay(job)) PollSaved(job);  // (OnLeaderForked may have ended it)
       }});
}

void Server::OnLeaderForked(const resp::Value& role) {
  snap_->pausing = false;
  rlog_->Kick();
  auto offset = MasterOffset(role);
  if (!offset.ok()) return EndSnapshot(offset.status());
  snap_->offset = *offset;
  auto st = MarkOffset({.offset = *offset, .at = [this, job = snap_->serial](uint64_t index) {
                          if (!SnapshotUnderWay(job)) return;
                          snap_->index = index;
                          EndLoggedHold(snap_->holding);
                          FinishSnapshot();
                        }});
  if (!st.ok()) EndSnapshot(st);
}

absl::StatusOr<uint64_t> Server::MasterOffset(const resp::Value& role) {
  if (role.type != resp::Type::kArray || role.elements.size() < 2 || role.elements[0].AsString() != "master" ||
      role.elements[1].type != resp::Type::kInteger) {
    return absl::InternalError("unexpected ROLE reply from the leader's child");
  }
  return static_cast<uint64_t>(role.elements[1].integer);
}

absl::Status Server::MarkOffset(Mark mark) {
  if (mark_) return absl::UnavailableError("another point of the stream is being marked; retry");
  if (mark.offset > batcher_.taken_offset()) {
    batcher_.CutAt(mark.offset);
    mark_ = std::move(mark);
    rlog_->Kick();
    return absl::OkStatus();
  }
  // Entries cover the stream up to there: only bytes that are not state
  // (pings) may follow the last one, and the state is that after every entry
  // proposed so far (node entries after the last of the stream included).
  if (mark.offset < last_stream_entry_.end) {
    return absl::InternalError("the child's offset lies inside a proposed entry");
  }
  const uint64_t at = rlog_->last_index();
  if (!mark.follow.empty()) {
    if (auto st = rlog_->Propose(mark.follow); !st.ok()) return st;
  }
  mark.at(at);
  return absl::OkStatus();
}

void Server::PollSaved(uint64_t job) {
  snap_timer_.expires_after(kPollEvery);
  snap_timer_.async_wait([this, job](const asio::error_code& ec) {
    if (ec || !SnapshotUnderWay(job)) return;
    control_.Call({"INFO", "persistence"}, [this, job](const resp::Value& info) {
      if (!SnapshotUnderWay(job)) return;
      const std::string text = info.AsString();
      if (absl::StrContains(text, "rdb_bgsave_in_progress:1")) return PollSaved(job);
      if (!absl::StrContains(text, "rdb_last_bgsave_status:ok")) {
        return EndSnapshot(absl::InternalError("the child's background save failed"));
      }
      OnSaved();
    });
  });
}

// The RDB is complete: out of the child's directory, checked against the
// offset the node expected.
void Server::OnSaved() {
  const std::string from = child_options_.dir + "/dump.rdb";
  snap_->file = absl::StrCat(rlog_->snapshot_dir(), "/taking-", snap_->serial, ".rdb");
  std::error_code ec;
  fs::rename(from, snap_->file, ec);
  if (ec) return EndSnapshot(absl::InternalError(absl::StrCat("move ", from, ": ", ec.message())));
  auto aux = ReadRdbAux(snap_->file);
  uint64_t recorded = 0;
  if (!aux.ok() || !aux->contains("repl-offset") || !absl::SimpleAtoi((*aux)["repl-offset"], &recorded) ||
      recorded != snap_->offset) {
    return EndSnapshot(absl::InternalError(absl::StrCat(
        "the snapshot caught offset ", aux.ok() && aux->contains("repl-offset") ? (*aux)["repl-offset"] : "?",
        ", not the expected ", snap_->offset)));
  }
  snap_->saved = true;
  FinishSnapshot();
}

// Called when the save is done and whenever entries commit: the snapshot is
// used only once the entry it follows is committed.
void Server::FinishSnapshot() {
  if (!snap_ || !snap_->saved || snap_->adding || !snap_->index || *snap_->index > committed_index_) return;
  snap_->adding = true;
  if (rlog_->snapshot()) snap_->newest_before = rlog_->snapshot()->file();
  pb::SnapshotMeta carried;
  logged_history_.Save(*snap_->index, &carried);
  rlog_->AddSnapshot(snap_->file, *snap_->index, std::move(carried),
                     [this, job = snap_->serial](absl::StatusOr<pb::SnapshotMeta> meta) {
                       if (SnapshotUnderWay(job)) EndSnapshot(std::move(meta));
                     });
}

void Server::EndSnapshot(absl::StatusOr<pb::SnapshotMeta> result) {
  if (!snap_) return;
  std::unique_ptr<SnapshotJob> job = std::move(snap_);
  snap_timer_.cancel();
  if (job->replica && feed_check_.index == 0) {
    link_.Resume();
    ScheduleFeed();
  }
  if (job->pausing) rlog_->Kick();
  EndLoggedHold(job->holding);
  std::error_code ec;
  if (!job->file.empty() && !result.ok()) fs::remove(job->file, ec);
  if (!result.ok()) {
    Log(LogComponent::kSnapshot, LogLevel::kWarning, "snapshot not taken: %s", result.status().ToString());
  } else if (job->index && result->index() == *job->index && result->file() != job->newest_before) {
    // (Else a snapshot that was there already holds the state caught: the newest, or one from the leader.)
    logged_history_.Advance(result->index());
    snapshot_schedule_.Restart();
    ++snapshots_taken_;
    metrics_.OnSnapshot(std::chrono::steady_clock::now() - job->started);
    Log(LogComponent::kSnapshot, LogLevel::kInfo, "snapshot %d taken (%d bytes)", result->index(), result->size());
  }
  for (auto& w : job->waiters) w(result);
}

// A rebuilt child, or a lost leadership, ends a snapshot under way: the
// state it caught may not be the log's.
void Server::AbortSnapshot(const std::string& why) {
  if (snap_ && !snap_->adding) EndSnapshot(absl::AbortedError(why));
}

// Due as node/snapshot_schedule.h says.
void Server::MaybeSnapshot() {
  if (snap_ || mark_) return;
  if (!snapshot_schedule_.Due(rlog_->snapshot() ? rlog_->snapshot()->size() : 0)) return;
  // Not while the child cannot be caught at a known index (it is loading,
  // or the leader is not serving yet).
  if (!(promoted_ ? leader_ready_ : link_.syncing()) || !child_->running()) return RetrySnapshotLater();
  TakeSnapshot([this](const absl::StatusOr<pb::SnapshotMeta>& taken) {
    if (taken.ok()) {
      snap_retry_after_ = {};
    } else {
      RetrySnapshotLater();
    }
  });
}

// A due snapshot that failed (a replica child in the middle of a big value,
// a full disk) is tried again later, commits or not: a node left idle after
// such a failure kept its whole log in memory until the next write. After 1 s,
// then twice as long after each failed retry, up to a minute (each attempt of
// a leader forks its child and pauses its proposals).
void Server::RetrySnapshotLater() {
  if (snap_retry_armed_) return;
  snap_retry_armed_ = true;
  snap_retry_after_ = std::clamp(snap_retry_after_ * 2, std::chrono::milliseconds(1000), std::chrono::milliseconds(60000));
  snap_retry_.expires_after(snap_retry_after_);
  snap_retry_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // (the node stops)
    snap_retry_armed_ = false;
    MaybeSnapshot();
  });
}

// The child's fork writes the RDB: it gets the CPU left over, so that a
// snapshot slows the clients as little as it can (on a machine with spare
// cores it changes nothing).
void Server::LowerSaverPriority() {
  std::ifstream in(absl::StrCat("/proc/", child_->pid(), "/task/", child_->pid(), "/children"));
  for (pid_t pid; in >> pid;) ::setpriority(PRIO_PROCESS, static_cast<id_t>(pid), 19);
}

}  // namespace node
