// Committed entries reach the host while it still writes the next ones
// (Raft::TakeUnblocked): only those this node holds durably, each once, and
// none while a received snapshot waits to be stored.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "consensus/memory_storage.h"
#include "consensus/raft.h"
#include "gtest/gtest.h"

namespace consensus {
namespace {

// Node 1 of a new cluster {1, 2, 3}, its bootstrap membership applied.
class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<pb::Entry> boot = BootstrapEntries({1, 2, 3});
    ASSERT_TRUE(storage_.Append(boot).ok());
    pb::HardState hs;
    hs.set_term(1);
    hs.set_commit(boot.size());
    storage_.SetHardState(hs);
    Config cfg;
    cfg.id = 1;
    cfg.storage = &storage_;
    cfg.pre_vote = false;
    auto r = Raft::Create(cfg);
    ASSERT_TRUE(r.ok()) << r.status();
    raft_ = *std::move(r);
    Drain();
  }

  // The host's write of a Ready: snapshot, entries and hard state stored.
  void Store(const Ready& rd) {
    if (rd.snapshot) ASSERT_TRUE(storage_.ApplySnapshot(*rd.snapshot).ok());
    ASSERT_TRUE(storage_.Append(rd.entries).ok());
    if (rd.hard_state) storage_.SetHardState(*rd.hard_state);
  }

  // Every Ready stored, its membership changes applied, advanced.
  void Drain() {
    while (raft_->HasReady()) {
      Ready rd = raft_->GetReady();
      Store(rd);
      for (const pb::Entry& e : rd.committed_entries) {
        pb::ConfChange cc;
        if (e.type() == pb::ENTRY_CONF_CHANGE && cc.ParseFromString(e.data())) raft_->ApplyConfChange(cc);
      }
      raft_->Advance(rd);
    }
  }

  // A message to node 1 in the current term.
  pb::Message To1(pb::MessageType type, uint64_t from, uint64_t index) {
    pb::Message m;
    m.set_type(type);
    m.set_from(from);
    m.set_to(1);
    m.set_term(raft_->term());
    m.set_index(index);
    return m;
  }

  static std::vector<std::string> Payloads(const std::vector<pb::Entry>& entries) {
    std::vector<std::string> out;
    for (const pb::Entry& e : entries) out.push_back(e.data());
    return out;
  }

  MemoryStorage storage_;
  std::unique_ptr<Raft> raft_;
};

// Node 1 as the leader of term 2, its no-op committed and applied.
class ApplyDuringWriteTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    raft_->Campaign();
    Drain();
    ASSERT_TRUE(raft_->Step(To1(pb::MSG_VOTE_RESP, 2, 0)).ok());
    ASSERT_EQ(raft_->role(), Role::kLeader);
    Drain();  // the new leader's no-op, stored
    noop_ = raft_->log().LastIndex();
    ASSERT_TRUE(raft_->Step(To1(pb::MSG_APP_RESP, 2, noop_)).ok());
    Drain();
    ASSERT_EQ(raft_->log().applied(), noop_);
  }

  // Node `removed`'s removal is stored on this leader, then "b" is proposed
  // and its write begun; node `acker` stores both, so the removal commits and
  // is applied during that write. The messages made meanwhile are in `sent`.
  struct RemovalDuringAWrite {
    uint64_t removal = 0;  // the removal's index
    Ready write;           // "b"'s, still under way
    std::vector<pb::Message> sent;
  };
  RemovalDuringAWrite RemoveDuringAWrite(uint64_t removed, uint64_t acker) {
    RemovalDuringAWrite r;
    pb::ConfChange cc;
    cc.set_type(pb::CONF_CHANGE_REMOVE_NODE);
    cc.set_node_id(removed);
    EXPECT_TRUE(raft_->ProposeConfChange(cc).ok());
    Drain();
    r.removal = raft_->log().LastIndex();
    EXPECT_TRUE(raft_->Propose("b").ok());
    r.write = raft_->GetReady();
    EXPECT_TRUE(raft_->Step(To1(pb::MSG_APP_RESP, acker, r.removal + 1)).ok());
    Raft::Unblocked early = raft_->TakeUnblocked();
    EXPECT_EQ(early.committed_entries.size(), 1u);
    if (!early.committed_entries.empty()) EXPECT_EQ(early.committed_entries[0].index(), r.removal);
    raft_->ApplyConfChange(cc);
    r.sent = std::move(early.messages);
    for (pb::Message& m : raft_->TakeUnblocked().messages) r.sent.push_back(std::move(m));
    return r;
  }

  uint64_t noop_ = 0;
};

TEST_F(ApplyDuringWriteTest, ACommitLearntDuringAWriteIsAppliedAtOnce) {
  ASSERT_TRUE(raft_->Propose("a").ok());
  Drain();  // "a" stored on the leader
  const uint64_t a = raft_->log().LastIndex();
  ASSERT_TRUE(raft_->Propose("b").ok());
  Ready write = raft_->GetReady();  // "b" is being written
  ASSERT_EQ(Payloads(write.entries), std::vector<std::string>{"b"});

  // Follower 2 stores both: "a" commits (leader and 2); "b" too, but the
  // leader does not hold it durably yet.
  ASSERT_TRUE(raft_->Step(To1(pb::MSG_APP_RESP, 2, a + 1)).ok());
  Raft::Unblocked early = raft_->TakeUnblocked();
  EXPECT_EQ(Payloads(early.committed_entries), std::vector<std::string>{"a"});
  EXPECT_TRUE(raft_->TakeUnblocked().committed_entries.empty()) << "handed out once";

  // Follower 3 too: "b" is committed by the two followers, still not stored here.
  ASSERT_TRUE(raft_->Step(To1(pb::MSG_APP_RESP, 3, a + 1)).ok());
  EXPECT_EQ(raft_->log().committed(), a + 1);
  EXPECT_TRUE(raft_->TakeUnblocked().committed_entries.empty()) << "not durable on this node yet";

  Store(write);
  raft_->Advance(write);
  EXPECT_EQ(raft_->log().applied(), a);
  Ready next = raft_->GetReady();
  EXPECT_EQ(Payloads(next.committed_entries), std::vector<std::string>{"b"}) << "\"a\" is not handed out again";
  Store(next);
  raft_->Advance(next);
  EXPECT_EQ(raft_->log().applied(), a + 1);
}

TEST_F(ApplyDuringWriteTest, NothingIsHandedOutWithoutAnOutstandingReady) {
  ASSERT_TRUE(raft_->Propose("a").ok());
  Drain();
  ASSERT_TRUE(raft_->Step(To1(pb::MSG_APP_RESP, 2, raft_->log().LastIndex())).ok());
  EXPECT_TRUE(raft_->TakeUnblocked().committed_entries.empty()) << "the next Ready carries them";
  Ready rd = raft_->GetReady();
  EXPECT_EQ(Payloads(rd.committed_entries), std::vector<std::string>{"a"});
  raft_->Advance(rd);
}

// Regression (ApplyDuringWriteTest.ALeaderRemovedDuringAWriteTellsTheOthersItCommitted):
// a leader that learnt during a write that its own removal committed applied
// it at once and stepped down, which dropped the broadcast of that commit
// (made only at the next Ready). Its handover (TIMEOUT_NOW) then reached a
// voter that did not know the removal had committed: it campaigned under the
// old configuration, which still counted the departed node. The others now
// hear of the commit first.
TEST_F(ApplyDuringWriteTest, ALeaderRemovedDuringAWriteTellsTheOthersItCommitted) {
  // Follower 2 stores both: the removal commits, and is applied at once.
  RemovalDuringAWrite r = RemoveDuringAWrite(1, 2);
  EXPECT_EQ(raft_->role(), Role::kFollower);
  const uint64_t removal = r.removal;
  const std::vector<pb::Message>& sent = r.sent;
  int told = -1, handover = -1;
  for (int i = 0; i < static_cast<int>(sent.size()); ++i) {
    const pb::Message& m = sent[i];
    if (m.to() != 2) continue;
    const bool carries_commit = m.type() == pb::MSG_APP || m.type() == pb::MSG_HEARTBEAT;
    if (told < 0 && carries_commit && m.commit() >= removal) told = i;
    if (m.type() == pb::MSG_TIMEOUT_NOW) handover = i;
  }
  ASSERT_GE(handover, 0) << "node 2, caught up, is not asked to campaign";
  ASSERT_GE(told, 0) << "node 2 never hears that the removal committed";
  EXPECT_LT(told, handover);
  Store(r.write);
  raft_->Advance(r.write);
}

// Regression (ApplyDuringWriteTest.ANodeRemovedDuringAWriteHearsThatItsRemovalCommitted):
// a leader that learnt during a write that a node's removal committed
// applied it at once, dropping the node's progress before the next Ready
// broadcast the commit: the removed node never heard that its removal
// committed, and kept running. It now gets a last heartbeat that says so.
TEST_F(ApplyDuringWriteTest, ANodeRemovedDuringAWriteHearsThatItsRemovalCommitted) {
  // Node 3 stores both (so nothing is left to append to it): the removal commits.
  RemovalDuringAWrite r = RemoveDuringAWrite(3, 3);
  const uint64_t removal = r.removal;
  std::vector<pb::Message>& sent = r.sent;
  Store(r.write);
  raft_->Advance(r.write);
  Ready next = raft_->GetReady();
  for (pb::Message& m : next.messages) sent.push_back(std::move(m));
  raft_->Advance(next);
  const bool told = std::any_of(sent.begin(), sent.end(), [&](const pb::Message& m) {
    const bool carries_commit = m.type() == pb::MSG_APP || m.type() == pb::MSG_HEARTBEAT;
    return m.to() == 3 && carries_commit && m.commit() >= removal;
  });
  EXPECT_TRUE(told) << "node 3 never hears that its removal committed";
}

// Node 1 as a follower of node 2, leader of term 2.
using ApplyDuringWriteFollowerTest = CoreTest;

// A follower that receives a snapshot while it writes entries hands out no
// committed entry until the snapshot is stored; the next batch carries the
// snapshot alone, and entries after it wait for their own write.
TEST_F(ApplyDuringWriteFollowerTest, NothingIsHandedOutWhileASnapshotWaitsToBeStored) {
  auto from_leader = [&](pb::MessageType type, uint64_t index) {
    pb::Message m = To1(type, 2, index);
    m.set_term(2);
    return m;
  };
  auto append = [&](uint64_t prev, uint64_t prev_term, const std::string& data, uint64_t commit) {
    pb::Message m = from_leader(pb::MSG_APP, prev);
    m.set_log_term(prev_term);
    m.set_commit(commit);
    pb::Entry* e = m.add_entries();
    e->set_index(prev + 1);
    e->set_term(2);
    e->set_data(data);
    return m;
  };

  ASSERT_TRUE(raft_->Step(append(3, 1, "x", 4)).ok());
  Ready write = raft_->GetReady();  // entry 4 is being written (committed already)
  ASSERT_EQ(write.entries.size(), 1u);
  EXPECT_TRUE(write.committed_entries.empty());
  EXPECT_TRUE(raft_->TakeUnblocked().committed_entries.empty()) << "not durable here yet";
  pb::Message snap = from_leader(pb::MSG_SNAP, 0);
  snap.mutable_snapshot()->mutable_metadata()->set_index(20);
  snap.mutable_snapshot()->mutable_metadata()->set_term(2);
  for (uint64_t v : {1, 2, 3}) snap.mutable_snapshot()->mutable_metadata()->mutable_conf_state()->add_voters(v);
  ASSERT_TRUE(raft_->Step(snap).ok());
  EXPECT_EQ(raft_->log().committed(), 20u);
  EXPECT_TRUE(raft_->TakeUnblocked().committed_entries.empty());
  Store(write);
  raft_->Advance(write);

  Ready install = raft_->GetReady();
  ASSERT_TRUE(install.snapshot.has_value());
  EXPECT_TRUE(install.committed_entries.empty());
  Store(install);
  raft_->Advance(install);
  EXPECT_EQ(raft_->log().applied(), 20u);

  ASSERT_TRUE(raft_->Step(append(20, 2, "y", 21)).ok());  // committed as it arrives
  Ready with_y = raft_->GetReady();
  EXPECT_EQ(with_y.entries.size(), 1u);
  EXPECT_TRUE(with_y.committed_entries.empty()) << "not durable here before this write";
  Store(with_y);
  raft_->Advance(with_y);
  Ready after = raft_->GetReady();
  EXPECT_EQ(Payloads(after.committed_entries), std::vector<std::string>{"y"});
  raft_->Advance(after);
}
}  // namespace
}  // namespace consensus
