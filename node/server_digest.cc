// Divergence checks (docs/design.md, "Divergence check"): every member's child
// must hold the same data after the same log entry. The leader takes its
// child's digest (node/child/child_digest.h) with proposals paused, reads the
// stream offset it belongs to (ROLE, in the same write), and logs a check entry right after
// the entry that ends at that offset. Each follower, when the check entry
// reaches its feed, holds the feed until its child applied everything before
// it, takes the child's digest and compares. A mismatch is logged and counted
// (ANARCHO.STATUS digest_mismatches); a follower whose child cannot be
// compared then (loading a full sync) skips the check and counts that.
#include "absl/strings/str_cat.h"
#include "node/child/child_digest.h"
#include "node/logging.h"
#include "node/server.h"

namespace node {

void Server::CheckDigest(std::function<void(absl::StatusOr<DigestPoint>)> done) {
  if (!is_leader_ || !leader_ready_ || !promoted_) {
    return done(absl::UnavailableError("this node is not a serving leader"));
  }
  if (digest_) {
    digest_->waiters.push_back(std::move(done));
    return;
  }
  if (mark_ || ProposalsPaused()) return done(absl::UnavailableError("a snapshot is being taken; retry"));
  digest_ = std::make_unique<DigestJob>();
  digest_->serial = ++job_serial_;
  digest_->waiters.push_back(std::move(done));
  digest_->holding = true;
  gate_.HoldLogged();
  const uint64_t job = digest_->serial;
  WhenSettled(
      digest_settle_timer_, [this, job] { return DigestUnderWay(job); },
      [this, job](bool settled) {
        if (!settled) return EndDigest(absl::UnavailableError("logged requests or a snapshot did not settle; retry"));
        digest_->pausing = true;  // the digest and the offset must describe the same state
        TakeChildDigest(control_, LeaderParts(options_.busy_reply_threshold_ms), /*offsets=*/true,
                        [this, job](absl::StatusOr<std::string> digest, const resp::Value& before,
                                    const resp::Value& after) {
                          if (DigestUnderWay(job)) OnLeaderDigest(digest, before, after);
                        });
      });
}

void Server::OnLeaderDigest(const absl::StatusOr<std::string>& digest, const resp::Value& role_before,
                            const resp::Value& role_after) {
  digest_->pausing = false;
  rlog_->Kick();
  if (!digest.ok()) return EndDigest(digest.status());
  auto offset = MasterOffset(role_after);
  if (!offset.ok()) return EndDigest(offset.status());
  // A child that may evict may have deleted keys between the digest's parts
  // or after them: the digest then belongs to no offset. (Without eviction,
  // only the script's own expiry DELs move the offset, before DEBUG DIGEST.)
  if (gate_.evictions() && MasterOffset(role_before).value_or(0) != *offset) {
    ++digest_skipped_;
    return EndDigest(absl::UnavailableError("the child's offset moved while its digest was taken (evictions); retry"));
  }
  digest_->point.digest = *digest;
  pb::EffectBatch check;  // no stream id: a node entry
  check.set_check_digest(digest_->point.digest);
  auto st = MarkOffset({.offset = *offset, .follow = check.SerializeAsString(), .at = [this, job = digest_->serial](uint64_t) {
                          if (DigestUnderWay(job)) EndLoggedHold(digest_->holding);
                        }});
  if (!st.ok()) return EndDigest(st);
}

void Server::EndDigest(absl::StatusOr<DigestPoint> result) {
  if (!digest_) return;
  std::unique_ptr<DigestJob> job = std::move(digest_);
  digest_settle_timer_.cancel();
  if (job->pausing) rlog_->Kick();  // the child never answered: what waited is proposed
  EndLoggedHold(job->holding);
  if (!result.ok())
    Log(LogComponent::kNode, LogLevel::kWarning, "divergence check not logged: %s", result.status().ToString());
  for (auto& w : job->waiters) w(result);
}

// A check entry committed at `index` on the leader that logged it (or on a
// successor whose child was promoted since: as a follower, it compared its
// own child with it when the feed reached it).
void Server::DigestCommitted(uint64_t index, const std::string& digest) {
  if (last_digest_.index < index) RecordDigest(index, digest, "leader");
  if (digest_ && digest_->point.digest == digest) {
    digest_->point.index = index;
    EndDigest(digest_->point);
  }
}

// Follower: the feed reached check entry `index` and paused there.
void Server::CompareDigest(uint64_t index, const std::string& leaders_digest) {
  const std::string expected = InThisForm(leaders_digest);
  const uint64_t serial = ++job_serial_;
  feed_check_ = {index, serial};
  auto resume = [this, index, serial](const std::string& skipped) {
    if (feed_check_.serial != serial) return false;
    feed_check_ = {};
    link_.Resume();
    ScheduleFeed();
    if (!skipped.empty()) SkipDigest(index, skipped.c_str());
    return true;
  };
  auto live = [this, serial] { return feed_check_.serial == serial; };
  WhenQuiet(compare_timer_, live, [this, index, serial, expected, resume](bool quiet) {
    if (feed_check_.serial != serial) return;
    if (!quiet || link_.applied() + 1 != index) {
      resume(quiet ? absl::StrCat("the child applied up to ", link_.applied()) : "the child did not catch up");
      return;
    }
    TakeChildDigest(control_, PartsToMatch(expected), /*offsets=*/false,
                    [this, index, expected, resume](absl::StatusOr<std::string> mine, const resp::Value&,
                                                    const resp::Value&) {
                      if (!resume(mine.ok() ? "" : std::string(mine.status().message())) || !mine.ok()) return;
                      RecordComparison(index, *mine, expected);
                    });
  });
}

void Server::RecordComparison(uint64_t index, const std::string& mine, const std::string& expected) {
  if (mine == expected) return RecordDigest(index, mine, "match");
  ++digest_mismatches_;
  Log(LogComponent::kNode, LogLevel::kError,
      "DIVERGENCE at log index %d: this node's redis-server has digest %s, the leader's had %s", index, mine, expected);
  RecordDigest(index, mine, "MISMATCH");
}

void Server::SkipDigest(uint64_t index, const std::string& why) {
  ++digest_skipped_;
  Log(LogComponent::kNode, LogLevel::kInfo, "divergence check at log index %d skipped: %s", index, why);
}

void Server::RecordDigest(uint64_t index, const std::string& digest, const std::string& outcome) {
  ++digest_checks_;
  last_digest_ = {index, digest, outcome};
}

// The periodic check: only a serving leader starts one; a busy moment is
// skipped, not queued.
void Server::ScheduleDigest() {
  if (options_.digest_interval_s <= 0 || state_ == State::kStopped) return;
  digest_timer_.expires_after(std::chrono::seconds(options_.digest_interval_s));
  digest_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    if (is_leader_ && leader_ready_ && promoted_ && !digest_ && !mark_ && !ProposalsPaused()) {
      CheckDigest([](const absl::StatusOr<DigestPoint>&) {});
    }
    ScheduleDigest();
  });
}

}  // namespace node
