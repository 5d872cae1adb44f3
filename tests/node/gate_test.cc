// Scenario tests of the consistency gate: each finding of the consistency gate
// issue, and the basic rules, as a short story of events.
#include "node/gate/consistency_gate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace node::gate {
namespace {

KeyId K(std::string_view key) { return KeyOf(0, key); }

class GateTest : public ::testing::Test {
 protected:
  // Slots released since the last call.
  std::vector<SlotId> Released() {
    std::vector<SlotId> out;
    gate_.TakeActions(&actions_);
    for (const Action& a : actions_) {
      if (a.type == Action::Type::kRelease) out.push_back(a.slot);
    }
    return out;
  }
  // A round started now and confirmed at once (a healthy leader).
  void ConfirmNow() {
    ASSERT_TRUE(gate_.WantsReadRound());
    gate_.ReadConfirmed(gate_.StartReadRound(), 0);
  }
  SlotId Write(SessionId s, std::string_view key) { return gate_.Arrive(s, {Kind::kWrite, {K(key)}, false}).slot; }
  SlotId Read(SessionId s, std::string_view key) { return gate_.Arrive(s, {Kind::kRead, {K(key)}, false}).slot; }
  // A write whose request the node logs (HoldForEntry), answered, its effects
  // committed at `offset`; its entry not proposed yet.
  SlotId LoggedWrite(SessionId s, std::string_view key) {
    Request q{Kind::kWrite, {K(key)}, false};
    q.logged = true;
    return gate_.Arrive(s, q).slot;
  }
  SlotId LoggedWriteCommitted(SessionId s, std::string_view key, uint64_t offset) {
    const SlotId w = LoggedWrite(s, key);
    const CoverId c = *gate_.EndOfBatch(s);
    gate_.HoldForEntry(w);
    gate_.ReplyArrived(w);
    gate_.Covered(c, offset);
    gate_.Proposed(offset);
    gate_.Committed(offset);
    return w;
  }

  ConsistencyGate gate_;
  std::vector<Action> actions_;  // passed to every TakeActions, as the node does
};

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST_F(GateTest, WriteReplyWaitsForItsOffsetToCommit) {
  const SlotId w = Write(1, "k");
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(w);
  gate_.Covered(c, 10);
  gate_.Proposed(10);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.Committed(10);  // also confirms: proposed after the write arrived
  EXPECT_THAT(Released(), ElementsAre(w));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

TEST_F(GateTest, ReadWaitsForTheUncommittedWriteItMayHaveSeen) {
  const SlotId w = Write(1, "k");
  const CoverId c = *gate_.EndOfBatch(1);
  const SlotId r = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(r);  // the child ran the read after the write
  EXPECT_THAT(Released(), IsEmpty());
  gate_.ReplyArrived(w);
  gate_.Covered(c, 5);
  gate_.Proposed(5);
  gate_.Committed(5);
  EXPECT_THAT(Released(), UnorderedElementsAre(w, r));  // sessions are independent
}

TEST_F(GateTest, ReadOfAnotherKeyDoesNotWait) {
  Write(1, "k");
  gate_.EndOfBatch(1);
  const SlotId r = Read(2, "other");
  ConfirmNow();
  gate_.ReplyArrived(r);
  EXPECT_THAT(Released(), ElementsAre(r));
}

// Finding 2: a write that propagated nothing (SET NX GET on an existing key,
// GETEX, a failed write) shows data; a deposed leader must not answer it.
TEST_F(GateTest, WriteThatChangedNothingWaitsForALeadershipConfirmation) {
  gate_.Committed(100);
  const SlotId w = Write(1, "k");
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(w);
  gate_.Covered(c, 100);  // no new effect: the offset was already committed
  EXPECT_THAT(Released(), IsEmpty());
  ASSERT_TRUE(gate_.WantsReadRound());
  const uint64_t stamp = gate_.StartReadRound();
  EXPECT_THAT(Released(), IsEmpty());
  gate_.ReadConfirmed(stamp, 0);
  EXPECT_THAT(Released(), ElementsAre(w));
}

// A write the child refused (WRONGTYPE, a bad argument, EXECABORT, BUSY while
// a script runs) changed nothing: it needs no commit (whose ROLE could wait
// behind a busy script), but its error shows its keys' state, so it waits for
// the uncommitted writes it may have seen, like a read, and for a confirmation.
TEST_F(GateTest, FailedWriteNeedsNoCommitButWaitsLikeARead) {
  const SlotId w1 = Write(1, "k");
  const CoverId c1 = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(w1);
  const SlotId failed = Write(2, "k");  // WRONGTYPE against w1's uncommitted value
  gate_.EndOfBatch(2);                  // its cover's offset never comes (busy child)
  const SlotId other = Write(3, "x");   // refused too, on a key nobody holds
  gate_.EndOfBatch(3);
  gate_.ReplyArrived(failed, Outcome::kError);
  gate_.ReplyArrived(other, Outcome::kError);
  EXPECT_THAT(Released(), IsEmpty());  // no confirmation yet
  ConfirmNow();
  EXPECT_THAT(Released(), ElementsAre(other));
  gate_.Covered(c1, 10);
  gate_.Proposed(10);
  gate_.Committed(10);
  EXPECT_THAT(Released(), UnorderedElementsAre(w1, failed));
}

// Regression (GateTest.FailedWriteWaitsForTheWritesOfTheKeysItOnlyReads): a
// write names only the keys it writes, and its error waited only for those.
// SINTERSTORE d k1 k2's WRONGTYPE, when an uncommitted SET made k1 a string,
// was answered before that SET committed: a state that a failover could undo.
TEST_F(GateTest, FailedWriteWaitsForTheWritesOfTheKeysItOnlyReads) {
  const SlotId set = Write(1, "k1");
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(set);
  Request store{Kind::kWrite, {K("d")}, false};
  store.read_only_keys = {K("k1"), K("k2")};
  const SlotId failed = gate_.Arrive(2, store).slot;
  gate_.EndOfBatch(2);
  gate_.ReplyArrived(failed, Outcome::kError);
  if (gate_.WantsReadRound()) ConfirmNow();
  EXPECT_THAT(Released(), IsEmpty()) << "the error showed an uncommitted write";
  gate_.Covered(c, 10);
  gate_.Proposed(10);
  gate_.Committed(10);  // also confirms: proposed after the error's request arrived
  EXPECT_THAT(Released(), UnorderedElementsAre(set, failed));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// Regression: a read-only script that returned Redis's own BUSY or EXECABORT
// text as its error (which it may choose from what it read) was taken as never
// run and left before the write of its key was durable.
TEST_F(GateTest, AScriptsErrorIsNeverTakenAsNotRun) {
  const SlotId set = Write(1, "k");
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(set);
  Request eval_ro{Kind::kRead, {K("k")}, false};
  eval_ro.script = true;
  const SlotId script = gate_.Arrive(2, eval_ro).slot;
  gate_.ReplyArrived(script, Outcome::kNotRun);
  if (gate_.WantsReadRound()) ConfirmNow();
  EXPECT_THAT(Released(), IsEmpty()) << "the script's reply showed an uncommitted write";
  gate_.Covered(c, 10);
  gate_.Proposed(10);
  gate_.Committed(10);
  EXPECT_THAT(Released(), UnorderedElementsAre(set, script));
}

// Regression (GateTest.SettingsReadWaitsForALoggedChangeAndAConfirmation):
// CONFIG GET, SCRIPT EXISTS and ACL listings were stateless: they showed an
// uncommitted CONFIG SET (or SCRIPT LOAD, ACL SETUSER) at once, and a deposed
// leader answered them from its own state.
TEST_F(GateTest, SettingsReadWaitsForALoggedChangeAndAConfirmation) {
  Request set{Kind::kStateless, {}, false};  // CONFIG SET: keyless, logged
  set.logged = true;
  const SlotId change = gate_.Arrive(1, set).slot;
  gate_.HoldForEntry(change);
  gate_.ReplyArrived(change);
  Request get{Kind::kRead, {}, false};
  get.settings = true;
  const SlotId read = gate_.Arrive(2, get).slot;
  gate_.ReplyArrived(read);
  const SlotId info = gate_.Arrive(3, {Kind::kRead, {}, false}).slot;  // INFO
  gate_.ReplyArrived(info);
  EXPECT_THAT(Released(), IsEmpty()) << "answered before a confirmation";
  ConfirmNow();
  EXPECT_THAT(Released(), ElementsAre(info)) << "INFO waits for no change";
  gate_.WaitForEntry(change, 7);
  gate_.IndexCommitted(6);
  EXPECT_THAT(Released(), IsEmpty()) << "showed a change not yet durable";
  gate_.IndexCommitted(7);
  EXPECT_THAT(Released(), UnorderedElementsAre(change, read));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// A request that changed state the stream does not carry (XREADGROUP's reads
// of pending entries, SCRIPT LOAD) is logged once its reply arrived, after a
// ROLE: its reply, and its keys' lock, are held until the entry is proposed
// and committed, even when its own effects committed first.
TEST_F(GateTest, ReplyOfALoggedRequestWaitsForItsEntry) {
  gate_.IndexCommitted(4);
  const SlotId w = LoggedWriteCommitted(1, "k", 10);
  const SlotId r = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(r);
  EXPECT_THAT(Released(), IsEmpty()) << "released before the entry was even proposed";
  gate_.WaitForEntry(w, 7);
  gate_.IndexCommitted(6);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.IndexCommitted(7);
  EXPECT_THAT(Released(), UnorderedElementsAre(w, r));
  // Its entry known only once that index had committed: released then.
  const SlotId late = LoggedWriteCommitted(1, "k", 12);
  const SlotId r2 = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(r2);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.IndexCommitted(9);
  gate_.WaitForEntry(late, 8);
  EXPECT_THAT(Released(), UnorderedElementsAre(late, r2));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// A logged request's client left before its entry was proposed: its locks
// stay until that entry commits, not forever.
TEST_F(GateTest, LockOfALoggedRequestWhoseClientLeftEndsWithItsEntry) {
  const SlotId w = LoggedWriteCommitted(1, "k", 5);
  EXPECT_FALSE(gate_.ClientGone(1).has_value());
  const SlotId r = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(r);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.WaitForEntry(w, 3);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.IndexCommitted(3);
  EXPECT_THAT(Released(), ElementsAre(r));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// A write's reply may show a logged write's change too (XGROUP CREATECONSUMER
// answers 0 for a consumer an XREADGROUP with an ID made): writes, which never
// wait for other writes' locks, wait for a logged write's entry. Found by the
// gate simulation once it modelled logged writes.
TEST_F(GateTest, WriteReplyWaitsForTheEntryOfALoggedWriteOnItsKeys) {
  const SlotId w = LoggedWriteCommitted(1, "k", 5);
  const SlotId other = Write(2, "k");
  const SlotId elsewhere = Write(2, "j");
  const CoverId c = *gate_.EndOfBatch(2);
  gate_.ReplyArrived(other);
  gate_.ReplyArrived(elsewhere);
  gate_.Covered(c, 6);
  gate_.Proposed(6);
  gate_.Committed(6);  // also confirms them: proposed after they arrived
  EXPECT_THAT(Released(), ElementsAre(elsewhere)) << "a write of k answered before k's logged change was durable";
  gate_.WaitForEntry(w, 3);
  gate_.IndexCommitted(3);
  EXPECT_THAT(Released(), UnorderedElementsAre(w, other));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// A logged write that failed (NOGROUP) logs nothing: its lock ends with its
// reply, and its client leaving before its reply arrived leaves no lock
// behind (the node never logs what it did not see answered).
TEST_F(GateTest, LoggedWriteThatLogsNothingHoldsNoLock) {
  const SlotId failed = LoggedWrite(1, "k");
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(failed, Outcome::kError);
  gate_.Covered(c, 1);
  gate_.Committed(1);
  const SlotId r = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(r);
  EXPECT_THAT(Released(), UnorderedElementsAre(failed, r));
  LoggedWrite(3, "k");
  const CoverId kill = *gate_.ClientGone(3);
  gate_.Covered(kill, 2);
  gate_.Committed(2);
  const SlotId r2 = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(r2);
  EXPECT_THAT(Released(), ElementsAre(r2));
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// Promise 7: a logged request is forwarded once the writes that held its
// keys committed; a write of its keys that comes after it is forwarded once
// its entry committed; writes of other keys, reads, and requests of other
// keyless logged requests' kind follow their own rules.
TEST_F(GateTest, WritesOfALoggedRequestsKeysAreForwardedInTheirOrder) {
  const SlotId before = Write(1, "k");
  const CoverId c1 = *gate_.EndOfBatch(1);
  Request logged{Kind::kWrite, {K("k")}, false};
  logged.logged = true;
  int logged_ready = 0, write_ready = 0;
  auto count = [](int* n) { return [n]() -> std::function<void()> { return [n] { ++*n; }; }; };
  EXPECT_FALSE(gate_.MayForward(2, logged, count(&logged_ready))) << "ahead of a write of k in flight";
  const Request write_k{Kind::kWrite, {K("k")}, false};
  EXPECT_FALSE(gate_.MayForward(3, write_k, count(&write_ready))) << "a write of k after the logged request";
  EXPECT_TRUE(gate_.MayForward(3, Request{Kind::kWrite, {K("j")}, false}, count(&write_ready)));
  EXPECT_TRUE(gate_.MayForward(3, Request{Kind::kRead, {K("k")}, false}, count(&write_ready)));
  gate_.ReplyArrived(before);
  gate_.Covered(c1, 1);
  gate_.Proposed(1);
  gate_.Committed(1);
  EXPECT_EQ(logged_ready, 1);
  EXPECT_EQ(write_ready, 0);
  EXPECT_TRUE(gate_.MayForward(2, logged, count(&logged_ready))) << "it waited once";
  const SlotId l = gate_.Arrive(2, logged).slot;
  const CoverId c2 = *gate_.EndOfBatch(2);
  gate_.HoldForEntry(l);
  gate_.ReplyArrived(l);
  gate_.Covered(c2, 1);
  gate_.WaitForEntry(l, 2);
  EXPECT_EQ(write_ready, 0) << "forwarded before the logged request's entry committed";
  gate_.IndexCommitted(2);
  EXPECT_EQ(write_ready, 1);
  EXPECT_TRUE(gate_.MayForward(3, write_k, count(&write_ready)));
  // Keyless logged requests (SCRIPT LOAD, SCRIPT FLUSH) take turns.
  Request load{Kind::kStateless, {}, false};
  load.logged = true;
  EXPECT_TRUE(gate_.MayForward(4, load, count(&logged_ready)));
  const SlotId first = gate_.Arrive(4, load).slot;
  EXPECT_FALSE(gate_.MayForward(5, load, count(&logged_ready)));
  gate_.HoldForEntry(first);
  gate_.ReplyArrived(first);
  gate_.WaitForEntry(first, 3);
  gate_.IndexCommitted(3);
  EXPECT_EQ(logged_ready, 2);
  EXPECT_TRUE(gate_.MayForward(5, load, count(&logged_ready)));
  // A transaction that ran one (MULTI, SCRIPT LOAD, EXEC) waits for it too.
  Request exec{Kind::kExec, {}, false};
  exec.logged = true;
  gate_.BeginTransaction(6);
  EXPECT_FALSE(gate_.MayForward(6, exec, count(&logged_ready)));
  EXPECT_FALSE(gate_.ClientGone(5).has_value());  // its reservation ends with it
  EXPECT_EQ(logged_ready, 3);
  EXPECT_FALSE(gate_.ClientGone(6).has_value());
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// A leader's snapshot holds logged requests across its fork (HoldLogged; a
// divergence check across its digest):
// one that has not reserved its place waits until ReleaseLogged, one that
// reserved it before the hold goes, and the snapshot can tell when none is in
// flight. Other writes and reads are not held.
TEST_F(GateTest, HeldLoggedRequestsWaitForTheRelease) {
  Request logged{Kind::kWrite, {K("k")}, false};
  logged.logged = true;
  int ready = 0;
  auto count = [&ready]() -> std::function<void()> { return [&ready] { ++ready; }; };
  ASSERT_TRUE(gate_.MayForward(1, logged, count));  // reserved before the hold
  EXPECT_TRUE(gate_.LoggedInFlight());
  gate_.HoldLogged();
  EXPECT_FALSE(gate_.MayForward(2, logged, count)) << "a logged request went ahead during the hold";
  Request load{Kind::kStateless, {}, false};
  load.logged = true;
  EXPECT_FALSE(gate_.MayForward(3, load, count));
  EXPECT_TRUE(gate_.MayForward(4, Request{Kind::kWrite, {K("j")}, false}, count));
  EXPECT_TRUE(gate_.MayForward(4, Request{Kind::kRead, {K("k")}, false}, count));
  EXPECT_TRUE(gate_.MayForward(1, logged, count)) << "reserved before the hold";
  const SlotId l = gate_.Arrive(1, logged).slot;
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.HoldForEntry(l);
  gate_.ReplyArrived(l);
  gate_.Covered(c, 1);
  gate_.Proposed(1);
  gate_.Committed(1);
  gate_.WaitForEntry(l, 2);
  EXPECT_TRUE(gate_.LoggedInFlight()) << "in flight until its entry commits";
  gate_.IndexCommitted(2);
  EXPECT_FALSE(gate_.LoggedInFlight());
  EXPECT_EQ(ready, 0);
  gate_.ReleaseLogged();
  EXPECT_EQ(ready, 2);
  EXPECT_TRUE(gate_.MayForward(2, logged, count));
  EXPECT_TRUE(gate_.LoggedInFlight());
}

// A snapshot and a divergence check may hold logged requests at once: the
// first release leaves the other's hold in place.
TEST_F(GateTest, LoggedHoldsCount) {
  Request logged{Kind::kWrite, {K("k")}, false};
  logged.logged = true;
  int ready = 0;
  auto count = [&ready]() -> std::function<void()> { return [&ready] { ++ready; }; };
  gate_.HoldLogged();
  gate_.HoldLogged();
  EXPECT_FALSE(gate_.MayForward(1, logged, count));
  gate_.ReleaseLogged();
  EXPECT_EQ(ready, 0) << "released while another job still held logged requests";
  EXPECT_FALSE(gate_.MayForward(2, logged, count));
  gate_.ReleaseLogged();
  EXPECT_EQ(ready, 2);
  gate_.ReleaseLogged();  // one release too many changes nothing
  EXPECT_TRUE(gate_.MayForward(3, logged, count));
}

// EVALSHA may run a script a SCRIPT LOAD loaded before that load's entry
// committed: a script's reply waits for keyless logged requests, other
// replies do not.
TEST_F(GateTest, ScriptReplyWaitsForAScriptLoadsEntry) {
  Request load{Kind::kStateless, {}, false};
  load.logged = true;
  const SlotId l = gate_.Arrive(1, load).slot;
  gate_.HoldForEntry(l);
  gate_.ReplyArrived(l);
  const SlotId script = gate_.Arrive(2, Request{Kind::kRead, {K("k")}, false, /*script=*/true}).slot;
  const SlotId read = Read(2, "k");
  ConfirmNow();
  gate_.ReplyArrived(script);
  gate_.ReplyArrived(read);
  EXPECT_THAT(Released(), ElementsAre(read)) << "a script's reply left before the SCRIPT LOAD was durable";
  gate_.WaitForEntry(l, 1);
  gate_.IndexCommitted(1);
  EXPECT_THAT(Released(), UnorderedElementsAre(l, script));
}

// BUSY (a script runs) and EXECABORT: the request never ran and saw nothing,
// so not even a whole-keyspace writer (that script) holds its reply back.
TEST_F(GateTest, WriteThatNeverRanWaitsOnlyForAConfirmation) {
  const SlotId script = gate_.Arrive(1, {Kind::kWrite, {}, true, /*script=*/true}).slot;
  gate_.EndOfBatch(1);
  const SlotId busy = Write(2, "k");
  gate_.EndOfBatch(2);
  gate_.ReplyArrived(busy, Outcome::kNotRun);
  const SlotId busy_read = Read(3, "k");
  gate_.ReplyArrived(busy_read, Outcome::kNotRun);
  EXPECT_THAT(Released(), IsEmpty());
  ConfirmNow();
  EXPECT_THAT(Released(), UnorderedElementsAre(busy, busy_read));
  EXPECT_TRUE(gate_.InFlight(script));
}

// A script may have written before its error: its reply still waits for the commit.
TEST_F(GateTest, FailedScriptStillWaitsForItsCommit) {
  const SlotId script = gate_.Arrive(1, {Kind::kWrite, {}, true, /*script=*/true}).slot;
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.ReplyArrived(script, Outcome::kError);
  EXPECT_FALSE(gate_.WantsReadRound());  // it waits for its commit, which also confirms
  EXPECT_THAT(Released(), IsEmpty());
  gate_.Covered(c, 3);
  gate_.Proposed(3);
  gate_.Committed(3);
  EXPECT_THAT(Released(), ElementsAre(script));
}

TEST_F(GateTest, ConfirmationBegunBeforeTheRequestDoesNotCount) {
  const SlotId r1 = Read(1, "a");
  const uint64_t early = gate_.StartReadRound();
  const SlotId r2 = Read(2, "b");
  gate_.ReplyArrived(r1);
  gate_.ReplyArrived(r2);
  gate_.ReadConfirmed(early, 0);
  EXPECT_THAT(Released(), ElementsAre(r1));
  ConfirmNow();
  EXPECT_THAT(Released(), ElementsAre(r2));
}

TEST_F(GateTest, ReadsWaitForTheStateMachineToReachTheReadIndex) {
  const SlotId r = Read(1, "a");
  gate_.ReplyArrived(r);
  gate_.ReadConfirmed(gate_.StartReadRound(), 7);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.Applied(7);
  EXPECT_THAT(Released(), ElementsAre(r));
}

// Finding 3: a blocked pop holds no lock, but a read of its key cannot trust
// the locks: it waits for an offset taken after it ran.
TEST_F(GateTest, ReadOfAKeyABlockedPopMayChangeWaitsForAnOffsetAfterIt) {
  const Admission pop = gate_.Arrive(1, {Kind::kBlocking, {K("list")}, false});
  EXPECT_FALSE(pop.cover_first);
  const CoverId pop_cover = *gate_.EndOfBatch(1);
  const SlotId r = Read(2, "list");
  ConfirmNow();
  const std::optional<CoverId> after = gate_.ReplyArrived(r);
  ASSERT_TRUE(after);
  gate_.Covered(*after, 20);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.Proposed(20);
  gate_.Committed(20);
  EXPECT_THAT(Released(), ElementsAre(r));
  // The pop is served later; its reply waits for its own offset.
  gate_.ReplyArrived(pop.slot);
  gate_.Covered(pop_cover, 25);
  gate_.Proposed(25);
  gate_.Committed(25);
  EXPECT_THAT(Released(), ElementsAre(pop.slot));
  EXPECT_EQ(gate_.Stats().marked_keys, 0u);
}

TEST_F(GateTest, WritesBeforeABlockingCommandGetTheirOwnCover) {
  const SlotId w = Write(1, "k");
  const Admission pop = gate_.Arrive(1, {Kind::kBlocking, {K("list")}, false});
  ASSERT_TRUE(pop.cover_first);  // a ROLE before the pop, or the write waits for the pop
  gate_.ReplyArrived(w);
  gate_.Covered(*pop.cover_first, 3);
  gate_.Proposed(3);
  gate_.Committed(3);
  EXPECT_THAT(Released(), ElementsAre(w));
}

// Finding 3 and 4: a client gone with a blocked pop or a write in flight
// leaves nothing behind once the kill's covering offset commits.
TEST_F(GateTest, ClientGoneWhileBlockedReleasesItsMarksAfterTheKill) {
  gate_.Arrive(1, {Kind::kBlocking, {K("list")}, false});
  gate_.EndOfBatch(1);
  Write(1, "k");  // pipelined behind the pop, never run
  EXPECT_EQ(gate_.Stats().marked_keys, 1u);
  const std::optional<CoverId> kill = gate_.ClientGone(1);
  ASSERT_TRUE(kill);
  EXPECT_EQ(gate_.Stats().slots, 0u);
  gate_.Covered(*kill, 40);
  EXPECT_EQ(gate_.Stats().marked_keys, 1u);
  gate_.Committed(40);
  EXPECT_EQ(gate_.Stats().marked_keys, 0u);
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
  // Readers of the key are not held any more.
  const SlotId r = Read(2, "k");
  ConfirmNow();
  EXPECT_FALSE(gate_.ReplyArrived(r));
  EXPECT_THAT(Released(), ElementsAre(r));
}

TEST_F(GateTest, ClientGoneWithNothingInFlightNeedsNoKill) {
  const SlotId r = Read(1, "k");
  gate_.ReplyArrived(r);
  EXPECT_FALSE(gate_.ClientGone(1));
  EXPECT_EQ(gate_.Stats().slots, 0u);
}

TEST_F(GateTest, ClientGoneAfterItsOffsetIsKnownKeepsTheLockUntilCommit) {
  Write(1, "k");
  const CoverId c = *gate_.EndOfBatch(1);
  gate_.Covered(c, 9);
  EXPECT_FALSE(gate_.ClientGone(1));  // the child already ran it; its offset is known
  EXPECT_EQ(gate_.Stats().live_tickets, 1u);
  gate_.Committed(9);
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
}

// Finding 5: MULTI locks at EXEC, so an idle transaction delays nobody.
TEST_F(GateTest, IdleMultiDelaysNoReader) {
  gate_.BeginTransaction(1);
  gate_.Queue(1, {Kind::kWrite, {K("hk")}, false});
  gate_.Queue(1, {Kind::kWrite, {}, true});  // FLUSHALL queued
  gate_.EndOfBatch(1);
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
  const SlotId r = Read(2, "hk");
  const SlotId all = gate_.Arrive(2, {Kind::kRead, {}, true}).slot;  // DBSIZE
  ConfirmNow();
  gate_.ReplyArrived(r);
  gate_.ReplyArrived(all);
  EXPECT_THAT(Released(), ElementsAre(r, all));
}

TEST_F(GateTest, ExecLocksWhatTheTransactionWrites) {
  gate_.BeginTransaction(1);
  const SlotId q = gate_.Queue(1, {Kind::kWrite, {K("hk")}, false});
  gate_.ReplyArrived(q);
  EXPECT_THAT(Released(), ElementsAre(q));  // +QUEUED shows no data
  const SlotId exec = gate_.Arrive(1, {Kind::kExec, {}, false}).slot;
  const CoverId c = *gate_.EndOfBatch(1);
  EXPECT_EQ(gate_.Stats().live_tickets, 1u);
  const SlotId r = Read(2, "hk");
  ConfirmNow();
  gate_.ReplyArrived(r);
  gate_.ReplyArrived(exec);
  gate_.Covered(c, 4);
  EXPECT_THAT(Released(), IsEmpty());
  gate_.Proposed(4);
  gate_.Committed(4);
  EXPECT_THAT(Released(), UnorderedElementsAre(exec, r));
}

TEST_F(GateTest, DiscardedTransactionLocksNothing) {
  gate_.BeginTransaction(1);
  gate_.Queue(1, {Kind::kWrite, {K("hk")}, false});
  gate_.DropTransaction(1);
  const SlotId exec_like = gate_.Arrive(1, {Kind::kExec, {}, false}).slot;
  EXPECT_EQ(gate_.Stats().live_tickets, 0u);
  (void)exec_like;
}

TEST_F(GateTest, ResetEndsEverything) {
  Write(1, "k");
  gate_.EndOfBatch(1);
  gate_.Arrive(2, {Kind::kBlocking, {K("l")}, false});
  Read(3, "k");
  gate_.Reset();
  const GateStats st = gate_.Stats();
  EXPECT_EQ(st.slots, 0u);
  EXPECT_EQ(st.live_tickets, 0u);
  EXPECT_EQ(st.marked_keys, 0u);
  EXPECT_EQ(st.covers_waiting, 0u);
  EXPECT_FALSE(gate_.WantsReadRound());
}

TEST_F(GateTest, StatelessRepliesLeaveAtOnce) {
  const SlotId ping = gate_.Arrive(1, {Kind::kStateless, {}, false}).slot;
  gate_.ReplyArrived(ping);
  EXPECT_THAT(Released(), ElementsAre(ping));
  EXPECT_FALSE(gate_.WantsReadRound());
}

}  // namespace
}  // namespace node::gate
