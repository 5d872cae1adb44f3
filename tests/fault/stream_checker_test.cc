// The stream checker on hand-written histories: a valid one with unknown
// reads, acknowledgements and pending reads, and each anomaly it must reject.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "history.h"

namespace fault {
namespace {

Op Add(const std::string& payload, const std::string& id, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  Op op;
  op.kind = OpKind::kXadd;
  op.key = "stream";
  op.elems = {payload};
  if (o == Outcome::kOk) op.ids = {id};
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = o;
  return op;
}

// entries: (id, payload) delivered to `consumer`.
Op Read(const std::string& consumer, std::vector<std::pair<std::string, std::string>> entries, int64_t t0, int64_t t1,
        Outcome o = Outcome::kOk) {
  Op op;
  op.kind = OpKind::kXread;
  op.key = "stream";
  op.consumer = consumer;
  for (auto& [id, payload] : entries) {
    op.ids.push_back(id);
    op.elems.push_back(payload);
  }
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = o;
  return op;
}

// An op of `consumer` naming `ids`: an XACK or a read of its own pending entries.
Op Own(OpKind kind, const std::string& consumer, std::vector<std::string> ids, int64_t t0, int64_t t1,
       Outcome o = Outcome::kOk) {
  Op op;
  op.kind = kind;
  op.key = "stream";
  op.consumer = consumer;
  op.ids = std::move(ids);
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = o;
  return op;
}

Op Ack(const std::string& consumer, std::vector<std::string> ids, int64_t acked, int64_t t0, int64_t t1,
       Outcome o = Outcome::kOk) {
  Op op = Own(OpKind::kXack, consumer, std::move(ids), t0, t1, o);
  op.result = acked;
  return op;
}

Op Del(const std::string& consumer, std::vector<std::string> ids, int64_t deleted, int64_t t0, int64_t t1,
       Outcome o = Outcome::kOk) {
  Op op = Own(OpKind::kXdel, consumer, std::move(ids), t0, t1, o);
  op.result = deleted;
  return op;
}

Op Pending(const std::string& consumer, std::vector<std::string> ids, int64_t t0, int64_t t1) {
  return Own(OpKind::kXreadPending, consumer, std::move(ids), t0, t1);
}

constexpr int64_t S = 1000000000;  // ns in a second

std::vector<Op> Numbered(std::vector<Op> ops) {
  for (size_t i = 0; i < ops.size(); ++i) ops[i].id = static_cast<int64_t>(i);
  return ops;
}

bool Mentions(const CheckResult& r, const std::string& what) {
  for (const std::string& a : r.anomalies) {
    if (a.find(what) != std::string::npos) return true;
  }
  return false;
}

// Three entries: c1 reads and acknowledges 1-0 and 2-0, c2 reads 3-0 and
// keeps it pending; c1 reads its (empty) pending list.
std::vector<Op> Valid() {
  return Numbered({Add("a", "1-0", 0, 10), Add("b", "2-0", 20, 30), Add("c", "3-0", 40, 50),
                   Read("c1", {{"1-0", "a"}, {"2-0", "b"}}, 35, 38), Ack("c1", {"1-0", "2-0"}, 2, 60, 70),
                   Read("c2", {{"3-0", "c"}}, 45, 55), Pending("c1", {}, 80, 90), Pending("c2", {"3-0"}, 80, 90)});
}

StreamFinal ValidFinal() {
  return {.entries = {{"1-0", "a"}, {"2-0", "b"}, {"3-0", "c"}}, .last_delivered = "3-0", .pending = {{"3-0", "c2"}}};
}

TEST(StreamChecker, ValidHistory) {
  auto r = CheckStream(Valid(), ValidFinal(), 2);
  EXPECT_TRUE(r.valid) << r.Summary();
}

TEST(StreamChecker, UnknownOpsMayOrMayNotHaveHappened) {
  // An unknown XADD that happened, one that did not; a consumer that left
  // while blocked took d (pending for it) or nothing; an unknown XACK.
  auto ops = Numbered({Add("a", "1-0", 0, 10), Add("u", "", 12, 14, Outcome::kUnknown),
                       Add("v", "", 15, 16, Outcome::kUnknown), Add("d", "4-0", 20, 30),
                       Read("c1", {{"1-0", "a"}}, 5, 11), Ack("c1", {"1-0"}, 0, 40, 50, Outcome::kUnknown),
                       Read("c2", {}, 25, 35, Outcome::kUnknown), Pending("c1", {"1-0"}, 60, 70)});
  StreamFinal taken{.entries = {{"1-0", "a"}, {"2-0", "u"}, {"4-0", "d"}}, .last_delivered = "4-0",
                    .pending = {{"1-0", "c1"}, {"2-0", "c2"}, {"4-0", "c2"}}};
  auto r = CheckStream(ops, taken, 2);
  EXPECT_TRUE(r.valid) << r.Summary();
  // The unknown XACK happened; the consumer that left took nothing.
  StreamFinal left{.entries = {{"1-0", "a"}, {"4-0", "d"}}, .last_delivered = "1-0", .pending = {}};
  auto r2 = CheckStream(ops, left, 2);
  EXPECT_TRUE(r2.valid) << r2.Summary();
}

TEST(StreamChecker, RejectsLostAndPhantomEntries) {
  StreamFinal lost = ValidFinal();
  lost.entries.erase(lost.entries.begin() + 1);  // 2-0 gone
  auto r = CheckStream(Valid(), lost, 2);
  EXPECT_EQ(r.lost_writes, 1);
  EXPECT_TRUE(Mentions(r, "LOST WRITE")) << r.Summary();
  EXPECT_TRUE(Mentions(r, "does not hold so")) << r.Summary();  // and 2-0 was delivered
  StreamFinal phantom = ValidFinal();
  phantom.entries.push_back({"5-0", "zz"});
  EXPECT_TRUE(Mentions(CheckStream(Valid(), phantom, 2), "which no XADD wrote"));
  auto failed = Valid();
  failed.push_back(Add("f", "", 100, 110, Outcome::kFail));
  StreamFinal with_failed = ValidFinal();
  with_failed.entries.push_back({"6-0", "f"});
  EXPECT_TRUE(Mentions(CheckStream(Numbered(failed), with_failed, 2), "from a failed XADD"));
  StreamFinal moved = ValidFinal();
  moved.entries[2].first = "3-1";
  EXPECT_TRUE(Mentions(CheckStream(Valid(), moved, 2), "not at the ID its XADD returned"));
}

TEST(StreamChecker, RejectsDuplicateAndStaleDelivery) {
  auto twice = Valid();
  twice.push_back(Read("c2", {{"2-0", "b"}}, 100, 110));
  auto r = CheckStream(Numbered(twice), ValidFinal(), 2);
  EXPECT_TRUE(Mentions(r, "DUPLICATE DELIVERY of 2-0")) << r.Summary();
  // c2 began after c1's read of 2-0 completed, and got the older 1-0.
  auto ops = Numbered({Add("a", "1-0", 0, 10), Add("b", "2-0", 20, 30), Read("c1", {{"2-0", "b"}}, 31, 35),
                       Read("c2", {{"1-0", "a"}}, 40, 45)});
  StreamFinal f{.entries = {{"1-0", "a"}, {"2-0", "b"}}, .last_delivered = "2-0",
                .pending = {{"1-0", "c2"}, {"2-0", "c1"}}};
  auto stale = CheckStream(ops, f, 2);
  EXPECT_TRUE(Mentions(stale, "STALE DELIVERY")) << stale.Summary();
  // Concurrent, the same two reads are fine.
  ops[3].invoke_ns = 33;
  EXPECT_TRUE(CheckStream(ops, f, 2).valid) << CheckStream(ops, f, 2).Summary();
}

TEST(StreamChecker, RejectsAGroupThatWentBack) {
  StreamFinal behind = ValidFinal();
  behind.last_delivered = "2-0";
  behind.pending = {};
  auto r = CheckStream(Valid(), behind, 2);
  EXPECT_TRUE(Mentions(r, "last-delivered ID 2-0 is behind 3-0")) << r.Summary();
  // Covered by the group but delivered to no read, with no unknown read to take it.
  auto ops = Numbered({Add("a", "1-0", 0, 10), Add("b", "2-0", 20, 30), Read("c1", {{"2-0", "b"}}, 25, 35),
                       Ack("c1", {"2-0"}, 1, 40, 50)});
  StreamFinal skipped{.entries = {{"1-0", "a"}, {"2-0", "b"}}, .last_delivered = "2-0", .pending = {}};
  EXPECT_TRUE(Mentions(CheckStream(ops, skipped, 2), "LOST PENDING ENTRY: 1 of 1-0 (covered"));
}

// Entries the group passed that no ok read delivered were taken by unknown
// reads: pending for a consumer whose unknown reads can have taken them (two
// each, added before the read's close plus the grace).
TEST(StreamChecker, EntriesTakenByUnknownReadsAreAccountedPerConsumer) {
  auto ops = Numbered({Add("a", "1-0", 0, 10), Add("b", "2-0", 20, 30), Add("c", "3-0", 40, 50),
                       Read("c2", {}, 5, 1 * S, Outcome::kUnknown)});
  const StreamFinal two{.entries = {{"1-0", "a"}, {"2-0", "b"}, {"3-0", "c"}}, .last_delivered = "2-0",
                        .pending = {{"1-0", "c2"}, {"2-0", "c2"}}};
  auto r = CheckStream(ops, two, 2, 8 * S);
  EXPECT_TRUE(r.valid) << r.Summary();
  // Three entries for one unknown read of two.
  StreamFinal three = two;
  three.last_delivered = "3-0";
  three.pending["3-0"] = "c2";
  EXPECT_TRUE(Mentions(CheckStream(ops, three, 2, 8 * S), "1 of the 3 entries pending for c2"));
  // Pending for a consumer that had no unknown read.
  StreamFinal other = two;
  other.pending = {{"1-0", "c2"}, {"2-0", "c1"}};
  EXPECT_TRUE(Mentions(CheckStream(ops, other, 2, 8 * S), "pending for c1"));
  // Added after the read's close plus the grace.
  auto late = ops;
  late[1].invoke_ns = 10 * S;
  late[1].complete_ns = 10 * S + 10;
  EXPECT_TRUE(Mentions(CheckStream(late, two, 2, 8 * S), "cannot have been taken"));
  // A read of c2's own pending entries may show what its unknown read took,
  // but no more than it can have taken.
  auto seen = ops;
  seen.push_back(Pending("c2", {"1-0", "2-0"}, 2 * S, 2 * S + 10));
  EXPECT_TRUE(CheckStream(Numbered(seen), two, 2, 8 * S).valid);
  seen.back().ids.push_back("3-0");
  EXPECT_TRUE(Mentions(CheckStream(Numbered(seen), three, 2, 8 * S), "more than its 1 unknown reads"));
}

TEST(StreamChecker, RejectsDeliveryBeforeTheAddAndMalformedIds) {
  auto early = Numbered({Read("c1", {{"1-0", "a"}}, 0, 5), Add("a", "1-0", 10, 20)});
  StreamFinal f{.entries = {{"1-0", "a"}}, .last_delivered = "1-0", .pending = {{"1-0", "c1"}}};
  EXPECT_TRUE(Mentions(CheckStream(early, f, 2), "before its XADD began"));
  auto bad = Numbered({Add("a", "1-0", 0, 10), Add("b", "junk", 20, 30)});
  StreamFinal g{.entries = {{"1-0", "a"}}, .last_delivered = "0-0", .pending = {}};
  EXPECT_TRUE(Mentions(CheckStream(bad, g, 2), "malformed entry ID \"junk\""));
}

TEST(StreamChecker, RejectsLostOrWrongPendingEntries) {
  // c2's 3-0 was never acknowledged but is not pending at the end.
  StreamFinal dropped = ValidFinal();
  dropped.pending.clear();
  EXPECT_TRUE(Mentions(CheckStream(Valid(), dropped, 2), "LOST PENDING ENTRY: 3-0"));
  // Pending for the wrong consumer.
  StreamFinal wrong = ValidFinal();
  wrong.pending = {{"3-0", "c1"}};
  EXPECT_FALSE(CheckStream(Valid(), wrong, 2).valid);
  // Acknowledged, yet still pending.
  StreamFinal kept = ValidFinal();
  kept.pending["1-0"] = "c1";
  EXPECT_TRUE(Mentions(CheckStream(Valid(), kept, 2), "still pending at the end"));
  // An XACK that found fewer of its entries pending than it named.
  auto short_ack = Valid();
  short_ack[4].result = 1;
  EXPECT_TRUE(Mentions(CheckStream(short_ack, ValidFinal(), 2), "counted 1 of them"));
  // A read of c2's pending entries that lacks 3-0, and one of c1's that holds
  // 1-0 after its acknowledgement.
  auto reads = Valid();
  reads[7].ids = {};
  reads[6].ids = {"1-0"};
  auto r = CheckStream(reads, ValidFinal(), 2);
  EXPECT_TRUE(Mentions(r, "LOST PENDING ENTRIES: c2")) << r.Summary();
  EXPECT_TRUE(Mentions(r, "c1's pending entries hold 1-0")) << r.Summary();
}

// XAUTOCLAIM by `consumer` of entries idle for idle_ms, returning `entries`.
Op Claim(const std::string& consumer, std::vector<std::pair<std::string, std::string>> entries, int64_t idle_ms,
         int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  Op op = Read(consumer, std::move(entries), t0, t1, o);
  op.kind = OpKind::kXclaim;
  op.value = idle_ms;
  op.result = 0;
  return op;
}

// c1 reads a and keeps it pending; two seconds later the claimer r takes it
// over and acknowledges it; c1's next read of its pending entries lacks it.
std::vector<Op> Claimed() {
  return Numbered({Add("a", "1-0", 0, 10), Read("c1", {{"1-0", "a"}}, 1 * S, 1 * S + 10),
                   Claim("r", {{"1-0", "a"}}, 2000, 4 * S, 4 * S + 10), Ack("r", {"1-0"}, 1, 4 * S + 20, 4 * S + 30),
                   Pending("c1", {}, 5 * S, 5 * S + 10)});
}
const StreamFinal kClaimedFinal{.entries = {{"1-0", "a"}}, .last_delivered = "1-0", .pending = {}};

TEST(StreamChecker, ClaimsTakeOverIdleEntries) {
  auto r = CheckStream(Claimed(), kClaimedFinal, 2);
  EXPECT_TRUE(r.valid) << r.Summary();
  // c1 acknowledged it meanwhile too: either XACK may count it.
  auto both = Claimed();
  both.push_back(Ack("c1", {"1-0"}, 0, 4 * S + 5, 4 * S + 40));
  EXPECT_TRUE(CheckStream(Numbered(both), kClaimedFinal, 2).valid) << CheckStream(Numbered(both), kClaimedFinal, 2).Summary();
  // The claimer's XACK was unknown: it is pending for the claimer, or gone.
  auto unknown_ack = Claimed();
  unknown_ack[3] = Ack("r", {"1-0"}, 0, 4 * S + 20, 4 * S + 30, Outcome::kUnknown);
  StreamFinal with_r = kClaimedFinal;
  with_r.pending = {{"1-0", "r"}};
  EXPECT_TRUE(CheckStream(unknown_ack, with_r, 2).valid) << CheckStream(unknown_ack, with_r, 2).Summary();
  EXPECT_TRUE(CheckStream(unknown_ack, kClaimedFinal, 2).valid);
  StreamFinal with_c1 = kClaimedFinal;  // but not pending for c1 again
  with_c1.pending = {{"1-0", "c1"}};
  EXPECT_TRUE(Mentions(CheckStream(unknown_ack, with_c1, 2), "pending for c1"));
  // An unknown claim may have taken it: c1's pending read may lack it, and at
  // the end it may be pending for the claimer.
  auto unknown_claim = Claimed();
  unknown_claim[2] = Claim("r", {}, 2000, 4 * S, 4 * S + 10, Outcome::kUnknown);
  unknown_claim.erase(unknown_claim.begin() + 3);
  EXPECT_TRUE(CheckStream(unknown_claim, with_r, 2).valid) << CheckStream(unknown_claim, with_r, 2).Summary();
}

TEST(StreamChecker, RejectsWrongClaims) {
  auto early = Claimed();  // idle 1 s, not 2
  early[2].invoke_ns = 2 * S;
  early[2].complete_ns = 2 * S + 10;
  EXPECT_TRUE(Mentions(CheckStream(early, kClaimedFinal, 2), "given out less than that before"));
  auto reread = Claimed();  // c1 read it as pending 1 s before the claim
  reread.push_back(Pending("c1", {"1-0"}, 3 * S, 3 * S + 10));
  EXPECT_TRUE(Mentions(CheckStream(Numbered(reread), kClaimedFinal, 2), "given out less than that before"));
  auto acked = Claimed();  // c1 acknowledged it before the claim began
  acked.push_back(Ack("c1", {"1-0"}, 1, 2 * S, 2 * S + 10));
  EXPECT_TRUE(Mentions(CheckStream(Numbered(acked), kClaimedFinal, 2), "acknowledged before it began"));
  auto deleted = Claimed();
  deleted[2].result = 1;
  EXPECT_TRUE(Mentions(CheckStream(deleted, kClaimedFinal, 2), "deleted entries"));
  auto beyond = Numbered({Add("a", "1-0", 0, 10), Add("b", "2-0", 20, 30), Read("c1", {{"1-0", "a"}}, 1 * S, 1 * S + 10),
                          Claim("r", {{"2-0", "b"}}, 2000, 4 * S, 4 * S + 10)});
  StreamFinal f{.entries = {{"1-0", "a"}, {"2-0", "b"}}, .last_delivered = "1-0", .pending = {{"1-0", "c1"}, {"2-0", "r"}}};
  EXPECT_TRUE(Mentions(CheckStream(beyond, f, 2), "which the group never delivered"));
  // c1's pending entries: still holding it after the claim completed, or
  // lacking it before any claim began.
  auto stale = Claimed();
  stale[3] = Ack("r", {"1-0"}, 0, 4 * S + 20, 4 * S + 30, Outcome::kUnknown);
  stale[4].ids = {"1-0"};
  EXPECT_TRUE(Mentions(CheckStream(stale, kClaimedFinal, 2), "claimed away before"));
  auto lacking = Claimed();
  lacking[4].invoke_ns = 3 * S;
  lacking[4].complete_ns = 3 * S + 10;
  EXPECT_TRUE(Mentions(CheckStream(Numbered(lacking), kClaimedFinal, 2), "LOST PENDING ENTRIES: c1"));
  // The claimer's XACK counted nothing, with nobody else acknowledging it.
  auto short_ack = Claimed();
  short_ack[3].result = 0;
  EXPECT_TRUE(Mentions(CheckStream(short_ack, kClaimedFinal, 2), "counted 0 of them"));
}

// A read with NOACK (value 1) of `entries` by `consumer`.
Op NoackRead(const std::string& consumer, std::vector<std::pair<std::string, std::string>> entries, int64_t t0,
             int64_t t1, Outcome o = Outcome::kOk) {
  Op op = Read(consumer, std::move(entries), t0, t1, o);
  op.value = 1;
  return op;
}

// c1 reads 1-0 with NOACK: nobody holds it and nobody acknowledges it. 2-0
// is covered by the last-delivered ID, pending for no one and never
// acknowledged: c2's unknown read with NOACK took it.
TEST(StreamChecker, NoackReadsLeaveNothingPending) {
  auto ops = Numbered({Add("a", "1-0", 0, 10), Add("b", "2-0", 20, 30), NoackRead("c1", {{"1-0", "a"}}, 12, 15),
                       NoackRead("c2", {}, 25, 35, Outcome::kUnknown), Pending("c1", {}, 40, 50)});
  StreamFinal final_state{.entries = {{"1-0", "a"}, {"2-0", "b"}}, .last_delivered = "2-0", .pending = {}};
  auto r = CheckStream(ops, final_state, 2);
  EXPECT_TRUE(r.valid) << r.Summary();
  // The same with c2's unknown read without NOACK: 2-0 would be pending for c2.
  ops[3].value = 0;
  r = CheckStream(ops, final_state, 2);
  EXPECT_TRUE(Mentions(r, "LOST PENDING ENTRY")) << r.Summary();
  // An unknown read with NOACK that ended long before 2-0 was added cannot have taken it.
  ops[3] = NoackRead("c2", {}, 1, 2, Outcome::kUnknown);
  ops[3].id = 3;
  r = CheckStream(ops, final_state, 2, /*grace_ns=*/5);
  EXPECT_TRUE(Mentions(r, "unknown reads with NOACK can have taken")) << r.Summary();
}

TEST(StreamChecker, RejectsNoackEntriesThatBecamePending) {
  auto ops = Numbered({Add("a", "1-0", 0, 10), NoackRead("c1", {{"1-0", "a"}}, 12, 15)});
  StreamFinal clean{.entries = {{"1-0", "a"}}, .last_delivered = "1-0", .pending = {}};
  ASSERT_TRUE(CheckStream(ops, clean, 2).valid);
  StreamFinal held = clean;
  held.pending = {{"1-0", "c1"}};
  auto r = CheckStream(ops, held, 2);
  EXPECT_TRUE(Mentions(r, "although a read with NOACK delivered it")) << r.Summary();
  auto shown = ops;
  shown.push_back(Pending("c1", {"1-0"}, 20, 30));
  r = CheckStream(Numbered(shown), clean, 2);
  EXPECT_TRUE(Mentions(r, "delivered to another consumer or with NOACK")) << r.Summary();
  auto claimed = ops;
  claimed.push_back(Claim("r1", {{"1-0", "a"}}, 1, 20 * S, 20 * S + 10));
  r = CheckStream(Numbered(claimed), clean, 2);
  EXPECT_TRUE(Mentions(r, "which a read with NOACK delivered")) << r.Summary();
}

// c1 deletes what it acknowledged: 1-0 and 2-0 are then neither lost writes
// nor entries its reads delivered that the final stream lacks; an unknown
// XDEL may or may not have happened.
TEST(StreamChecker, DeletedEntriesAreNeitherLostNorMissing) {
  auto deleted = Valid();
  deleted.push_back(Del("c1", {"1-0", "2-0"}, 2, 72, 75));
  StreamFinal without = ValidFinal();
  without.entries.erase(without.entries.begin(), without.entries.begin() + 2);
  auto r = CheckStream(Numbered(deleted), without, 2);
  EXPECT_TRUE(r.valid) << r.Summary();
  auto unknown = Valid();
  unknown.push_back(Del("c1", {"1-0"}, kNil, 72, 75, Outcome::kUnknown));
  StreamFinal one_gone = ValidFinal();
  one_gone.entries.erase(one_gone.entries.begin());
  EXPECT_TRUE(CheckStream(Numbered(unknown), one_gone, 2).valid);
  EXPECT_TRUE(CheckStream(Numbered(unknown), ValidFinal(), 2).valid);
  // Two consumers delete the same entry: the second counts 0 or 1.
  auto both = Valid();
  both.push_back(Del("c1", {"1-0"}, 1, 72, 75));
  both.push_back(Del("c2", {"1-0"}, 0, 73, 76));
  StreamFinal gone = ValidFinal();
  gone.entries.erase(gone.entries.begin());
  EXPECT_TRUE(CheckStream(Numbered(both), gone, 2).valid);
}

TEST(StreamChecker, RejectsDeletedEntriesThatCameBackAndWrongCounts) {
  auto deleted = Valid();
  deleted.push_back(Del("c1", {"1-0"}, 1, 72, 75));
  auto back = CheckStream(Numbered(deleted), ValidFinal(), 2);
  EXPECT_TRUE(Mentions(back, "DELETED ENTRY CAME BACK")) << back.Summary();
  // An entry just acknowledged that an XDEL did not find was gone already.
  auto short_count = Valid();
  short_count.push_back(Del("c1", {"1-0", "2-0"}, 1, 72, 75));
  StreamFinal without = ValidFinal();
  without.entries.erase(without.entries.begin(), without.entries.begin() + 2);
  EXPECT_TRUE(Mentions(CheckStream(Numbered(short_count), without, 2), "counted 1 of them (0 may have"));
  // A delete excuses the entry it names, not a read of another payload there.
  auto other = Valid();
  other.push_back(Del("c1", {"1-0"}, 1, 72, 75));
  other[3].elems[0] = "b";  // c1's read: 1-0 as "b", which XADD wrote at 2-0
  StreamFinal one_gone = ValidFinal();
  one_gone.entries.erase(one_gone.entries.begin());
  EXPECT_TRUE(Mentions(CheckStream(Numbered(other), one_gone, 2), "nor was it written so and deleted"));
  // Without an XDEL naming it, an acknowledged entry's absence is a lost write.
  auto lost = CheckStream(Valid(), one_gone, 2);
  EXPECT_EQ(lost.lost_writes, 1) << lost.Summary();
}

}  // namespace
}  // namespace fault
