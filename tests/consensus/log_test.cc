// Unit tests of the pieces below the core: storage, log, quorum, progress.
#include "gtest/gtest.h"
#include "consensus/log.h"
#include "consensus/memory_storage.h"
#include "consensus/progress.h"
#include "consensus/quorum.h"

namespace consensus {
namespace {

pb::Entry E(uint64_t index, uint64_t term) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

TEST(MemoryStorage, AppendTruncatesConflictsAndCompacts) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 2)}).ok());
  ASSERT_TRUE(s.Append({E(3, 3), E(4, 3)}).ok());
  EXPECT_EQ(*s.LastIndex(), 4u);
  EXPECT_EQ(*s.Term(3), 3u);
  EXPECT_FALSE(s.Append({E(6, 3)}).ok()) << "gap";
  EXPECT_FALSE(s.Compact(2).ok()) << "no snapshot covers it";
  ASSERT_TRUE(s.CreateSnapshot(2, pb::ConfState(), "d").ok());
  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_EQ(*s.FirstIndex(), 3u);
  EXPECT_EQ(*s.Term(2), 1u);
  EXPECT_TRUE(IsErrCompacted(s.Term(1).status()));
  EXPECT_TRUE(IsErrUnavailable(s.Term(5).status()));
  EXPECT_TRUE(IsErrCompacted(s.Entries(2, 4, 100).status()));
  absl::StatusOr<std::vector<pb::Entry>> ents = s.Entries(3, 5, 0);
  ASSERT_TRUE(ents.ok());
  EXPECT_EQ(ents->size(), 1u) << "size limit still returns one entry";
}

TEST(MemoryStorage, AtReadsAnEntryInPlaceWithinTheLogOnly) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 2)}).ok());
  ASSERT_NE(s.At(3), nullptr);
  EXPECT_EQ(s.At(3)->term(), 2u);
  EXPECT_EQ(s.At(3)->index(), 3u);
  EXPECT_EQ(s.At(0), nullptr);
  EXPECT_EQ(s.At(4), nullptr) << "past the last index";
  ASSERT_TRUE(s.CreateSnapshot(2, pb::ConfState(), "d").ok());
  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_EQ(s.At(2), nullptr) << "compacted";
  ASSERT_NE(s.At(3), nullptr);
  EXPECT_EQ(s.At(3)->index(), 3u);
}

TEST(RaftLog, UnstableTailShadowsStorage) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 1)}).ok());
  RaftLog log(&s, 1 << 20);
  EXPECT_EQ(log.LastIndex(), 3u);
  EXPECT_EQ(log.PersistedLastIndex(), 3u);
  // A leader of term 2 replaces index 3.
  std::optional<uint64_t> last = log.MaybeAppend(2, 1, 0, {E(3, 2), E(4, 2)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 4u);
  EXPECT_EQ(*log.Term(3), 2u);
  EXPECT_EQ(log.PersistedLastIndex(), 2u) << "index 3 in storage is stale";
  EXPECT_FALSE(log.MaybeAppend(4, 1, 0, {}).has_value()) << "term mismatch";
  log.unstable().StableTo(4, 2);
  EXPECT_EQ(log.PersistedLastIndex(), 4u);
}

TEST(RaftLog, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 1), E(3, 4), E(4, 4), E(5, 5)}).ok());
  RaftLog log(&s, 1 << 20);
  EXPECT_EQ(log.FindConflictByTerm(5, 3), 2u);
  EXPECT_EQ(log.FindConflictByTerm(5, 4), 4u);
  EXPECT_EQ(log.FindConflictByTerm(5, 9), 5u);
}

TEST(RaftLog, CommitNeedsCurrentTerm) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append({E(1, 1), E(2, 2)}).ok());
  RaftLog log(&s, 1 << 20);
  EXPECT_FALSE(log.MaybeCommit(2, 3));
  EXPECT_TRUE(log.MaybeCommit(2, 2));
  EXPECT_EQ(log.committed(), 2u);
}

TEST(Quorum, CommittedIndexAndVotes) {
  MajorityConfig c({1, 2, 3, 4, 5});
  std::map<uint64_t, uint64_t> acked{{1, 9}, {2, 7}, {3, 5}, {4, 3}};
  EXPECT_EQ(c.CommittedIndex([&](uint64_t id) -> std::optional<uint64_t> {
    auto it = acked.find(id);
    if (it == acked.end()) return std::nullopt;
    return it->second;
  }),
            5u);
  std::map<uint64_t, bool> votes{{1, true}, {2, false}, {3, true}};
  auto v = [&](uint64_t id) -> std::optional<bool> {
    auto it = votes.find(id);
    if (it == votes.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(c.Vote(v), VoteResult::kPending);
  votes[4] = false;
  votes[5] = false;
  EXPECT_EQ(c.Vote(v), VoteResult::kLost);
  votes[5] = true;
  EXPECT_EQ(c.Vote(v), VoteResult::kWon);
}

TEST(Progress, ProbeReplicateAndWindow) {
  Progress pr(InflightLimits{2, 0});
  pr.next = 10;
  pr.SentEntries(1, 10, 100, 1);
  EXPECT_TRUE(pr.IsPaused()) << "one probe at a time";
  EXPECT_FALSE(pr.MaybeDecrTo(5, 3)) << "stale rejection";
  EXPECT_TRUE(pr.MaybeDecrTo(9, 3));
  EXPECT_EQ(pr.next, 4u);
  EXPECT_TRUE(pr.MaybeUpdate(6));
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next, 7u);
  pr.SentEntries(2, 8, 100, 2);
  pr.SentEntries(2, 10, 100, 2);
  EXPECT_TRUE(pr.IsPaused()) << "window of 2 is full";
  pr.inflights.FreeLE(8);
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.next, 11u);
}

// Big entries fill the window by bytes long before its message count: a
// follower never has more than the byte limit (plus one append) to persist.
TEST(Progress, WindowIsBoundedByBytes) {
  Progress pr(InflightLimits{256, 1000});
  pr.BecomeReplicate();
  pr.SentEntries(1, 1, 600, 1);
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(1, 2, 600, 1);
  EXPECT_TRUE(pr.IsPaused()) << "1200 bytes in flight, limit 1000";
  EXPECT_EQ(pr.inflights.Bytes(), 1200u);
  pr.inflights.FreeLE(1);
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.inflights.Bytes(), 600u);
  pr.inflights.FreeFirstOne();
  EXPECT_EQ(pr.inflights.Bytes(), 0u);
}

}  // namespace
}  // namespace consensus
