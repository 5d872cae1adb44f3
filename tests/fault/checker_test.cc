// The checkers must bite: histories with known anomalies are rejected, and
// correct ones (including unknown outcomes taking effect late or never) pass.
#include <random>

#include "gtest/gtest.h"
#include "history.h"

namespace fault {
namespace {

constexpr int64_t M = 1000000;  // write values are multiples of this (see checker.cc)

Op Reg(OpKind kind, const std::string& key, int64_t v, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  Op op;
  op.kind = kind;
  op.key = key;
  if (kind == OpKind::kWrite) op.value = v;
  else op.result = v;
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = o;
  return op;
}
Op W(int64_t v, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) { return Reg(OpKind::kWrite, "x", v, t0, t1, o); }
Op R(int64_t v, int64_t t0, int64_t t1) { return Reg(OpKind::kRead, "x", v, t0, t1); }
Op I(int64_t v, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) { return Reg(OpKind::kIncr, "x", v, t0, t1, o); }

std::vector<Op> Numbered(std::vector<Op> ops) {
  for (size_t i = 0; i < ops.size(); ++i) ops[i].id = static_cast<int64_t>(i);
  return ops;
}

// An op of `kind` on `key` that carries elements (lists, the queue).
Op Elems(OpKind kind, const std::string& key, std::vector<std::string> elems, int64_t t0, int64_t t1,
         Outcome o = Outcome::kOk) {
  Op op;
  op.kind = kind;
  op.key = key;
  op.elems = std::move(elems);
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = o;
  return op;
}

TEST(RegisterChecker, SequentialHistoryIsValid) {
  auto r = CheckRegisters(Numbered({R(kNil, 0, 1), W(1 * M, 2, 3), R(1 * M, 4, 5), I(1 * M + 1, 6, 7),
                                    R(1 * M + 1, 8, 9), W(2 * M, 10, 11), R(2 * M, 12, 13)}));
  EXPECT_TRUE(r.valid) << r.Summary();
  EXPECT_FALSE(r.search_exhausted);
}

TEST(RegisterChecker, ConcurrentReadMaySeeEitherValue) {
  // write 2 overlaps both reads: one sees 1, the next sees 2.
  auto r = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 20, 100), R(1 * M, 30, 40), R(2 * M, 50, 60)}));
  EXPECT_TRUE(r.valid) << r.Summary();
  // ...but not 2 then 1 (the second read began after the first ended).
  auto bad = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 20, 100), R(2 * M, 30, 40), R(1 * M, 50, 60)}));
  EXPECT_FALSE(bad.valid);
}

TEST(RegisterChecker, RejectsStaleRead) {
  auto r = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 20, 30), R(1 * M, 40, 50)}));
  EXPECT_FALSE(r.valid);
  ASSERT_EQ(r.anomalies.size(), 1u);
  EXPECT_NE(r.anomalies[0].find("not linearizable"), std::string::npos) << r.anomalies[0];
}

TEST(RegisterChecker, RejectsLostWrite) {
  // Acknowledged write, then every later read shows the value before it.
  auto r = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 20, 30), R(1 * M, 40, 50), R(1 * M, 60, 70)}));
  EXPECT_FALSE(r.valid);
  auto r2 = CheckRegisters(Numbered({W(1 * M, 0, 10), R(kNil, 20, 30)}));
  EXPECT_FALSE(r2.valid);
}

TEST(RegisterChecker, RejectsReadOfAbortedValue) {
  auto r = CheckRegisters(Numbered({W(1 * M, 0, 10), W(5 * M, 20, 30, Outcome::kFail), R(5 * M, 40, 50)}));
  EXPECT_FALSE(r.valid);
  // The same value from an unknown write is fine: it may have happened.
  auto ok = CheckRegisters(Numbered({W(1 * M, 0, 10), W(5 * M, 20, 30, Outcome::kUnknown), R(5 * M, 40, 50)}));
  EXPECT_TRUE(ok.valid) << ok.Summary();
}

TEST(RegisterChecker, UnknownWriteMayTakeEffectLateOrNever) {
  // Takes effect long after its call (after a read that did not see it).
  auto late = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 5, 6, Outcome::kUnknown), R(1 * M, 20, 30),
                                       R(2 * M, 40, 50), R(2 * M, 60, 70)}));
  EXPECT_TRUE(late.valid) << late.Summary();
  // Never.
  auto never = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 5, 6, Outcome::kUnknown), R(1 * M, 20, 30)}));
  EXPECT_TRUE(never.valid) << never.Summary();
  // But once seen it cannot be undone.
  auto undone = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 5, 6, Outcome::kUnknown), R(2 * M, 20, 30),
                                         R(1 * M, 40, 50)}));
  EXPECT_FALSE(undone.valid);
  // Nor take effect before it was called.
  auto early = CheckRegisters(Numbered({W(1 * M, 0, 10), R(2 * M, 20, 30), W(2 * M, 40, 41, Outcome::kUnknown)}));
  EXPECT_FALSE(early.valid);
}

TEST(RegisterChecker, Increments) {
  auto ok = CheckRegisters(Numbered({I(1, 0, 10), I(2, 20, 30), I(3, 25, 35), I(4, 31, 40, Outcome::kUnknown), R(4, 50, 60),
                                     I(5, 70, 80)}));
  EXPECT_TRUE(ok.valid) << ok.Summary();
  // Two INCRs returning the same value: one increment was lost.
  auto dup = CheckRegisters(Numbered({I(1, 0, 10), I(1, 20, 30)}));
  EXPECT_FALSE(dup.valid);
  // A read that misses an acknowledged INCR.
  auto lost = CheckRegisters(Numbered({I(1, 0, 10), I(2, 20, 30), R(1, 40, 50)}));
  EXPECT_FALSE(lost.valid);
}

// Under maxmemory with an allkeys policy the server deletes keys of its own
// accord: a read may find any key absent, but an evicted key never returns
// with its old value (the eviction rule's promise across a failover).
TEST(RegisterChecker, WithEvictionsAKeyMayVanishButNeverComeBack) {
  constexpr int64_t kBudget = 20000;
  auto vanished = Numbered({W(1 * M, 0, 10), R(kNil, 20, 30), R(kNil, 40, 50), W(2 * M, 60, 70), R(2 * M, 80, 90)});
  EXPECT_TRUE(CheckRegisters(vanished, kBudget, true).valid);
  EXPECT_FALSE(CheckRegisters(vanished, kBudget, false).valid);  // without evictions: a lost write
  auto back = CheckRegisters(Numbered({W(1 * M, 0, 10), R(kNil, 20, 30), R(1 * M, 40, 50)}), kBudget, true);
  EXPECT_FALSE(back.valid) << "an evicted key came back";
  // A write concurrent with both reads explains a value after the absence.
  auto rewritten = CheckRegisters(
      Numbered({W(1 * M, 0, 10), W(3 * M, 15, 60, Outcome::kUnknown), R(kNil, 20, 30), R(3 * M, 40, 50)}), kBudget,
      true);
  EXPECT_TRUE(rewritten.valid) << rewritten.Summary();
  // Reads of values still need their writes, in order.
  auto stale = CheckRegisters(Numbered({W(1 * M, 0, 10), W(2 * M, 20, 30), R(1 * M, 40, 50)}), kBudget, true);
  EXPECT_FALSE(stale.valid);
}

TEST(RegisterChecker, KeysAreIndependent) {
  auto r = CheckRegisters(Numbered({Reg(OpKind::kWrite, "a", M, 0, 10), Reg(OpKind::kWrite, "b", 2 * M, 0, 10),
                                    Reg(OpKind::kRead, "a", M, 20, 30), Reg(OpKind::kRead, "b", M, 20, 30)}));
  EXPECT_FALSE(r.valid);
  ASSERT_EQ(r.anomalies.size(), 1u);
  EXPECT_NE(r.anomalies[0].find("key b"), std::string::npos) << r.anomalies[0];
}

// Reads through GETEX (a write command that propagates nothing) and through a
// read-only script are register reads like GET: a stale one is rejected.
TEST(RegisterChecker, RejectsStaleReadThroughGetexAndEval) {
  for (const char* via : {"getex", "eval"}) {
    Op stale = Reg(OpKind::kRead, "db0:reg1", 1 * M, 40, 50);
    stale.via = via;
    auto r = CheckRegisters(Numbered({Reg(OpKind::kWrite, "db0:reg1", 1 * M, 0, 10),
                                      Reg(OpKind::kWrite, "db0:reg1", 2 * M, 20, 30), stale}));
    EXPECT_FALSE(r.valid) << via;
    ASSERT_EQ(r.anomalies.size(), 1u) << via;
    EXPECT_NE(r.anomalies[0].find(std::string("(") + via + ")"), std::string::npos) << r.anomalies[0];
  }
}

// The key includes the db: a value written in db 0 read in db 1 is an
// anomaly of db 1's register, and so is a dirty read there (a value whose
// write certainly did not happen).
TEST(RegisterChecker, RejectsDirtyReadInAnotherDb) {
  auto dirty = CheckRegisters(Numbered({Reg(OpKind::kWrite, "db1:reg2", 1 * M, 0, 10),
                                        Reg(OpKind::kWrite, "db1:reg2", 2 * M, 20, 30, Outcome::kFail),
                                        Reg(OpKind::kRead, "db1:reg2", 2 * M, 25, 35)}));
  EXPECT_FALSE(dirty.valid);
  // An unknown write seen by a read, then undone (the read was dirty).
  auto undone = CheckRegisters(Numbered({Reg(OpKind::kWrite, "db1:reg2", 1 * M, 0, 10),
                                         Reg(OpKind::kWrite, "db1:reg2", 2 * M, 20, 30, Outcome::kUnknown),
                                         Reg(OpKind::kRead, "db1:reg2", 2 * M, 25, 35),
                                         Reg(OpKind::kRead, "db1:reg2", 1 * M, 40, 50)}));
  EXPECT_FALSE(undone.valid);
  auto crossed = CheckRegisters(Numbered({Reg(OpKind::kWrite, "db0:reg2", 5 * M, 0, 10),
                                          Reg(OpKind::kRead, "db0:reg2", 5 * M, 20, 30),
                                          Reg(OpKind::kRead, "db1:reg2", 5 * M, 20, 30)}));
  EXPECT_FALSE(crossed.valid);
  ASSERT_EQ(crossed.anomalies.size(), 1u);
  EXPECT_NE(crossed.anomalies[0].find("key db1:reg2"), std::string::npos) << crossed.anomalies[0];
}

// A random history produced by a real linearizable register (each op takes
// effect at a random instant inside its interval), with 10 clients (about 3
// ops of the key in flight at a time, as in the cluster runs), unknown
// outcomes, thousands of ops: valid, and checked fast. Then one read is made
// stale: rejected.
std::vector<Op> RandomLinearizableHistory(std::mt19937_64& rng, int n_ops, int clients) {
  struct Pending {
    Op op;
    int64_t effect;
  };
  std::vector<Op> out;
  std::vector<int64_t> free_at(clients, 0);
  std::vector<Pending> pend;
  int64_t seq = 0;
  for (int i = 0; i < n_ops; ++i) {
    int c = static_cast<int>(rng() % clients);
    Op op;
    op.client = c;
    op.key = "x";
    // About 3 ops in flight at a time: 10 clients spread over a few keys.
    op.invoke_ns = free_at[c] + static_cast<int64_t>(rng() % 600);
    op.complete_ns = op.invoke_ns + 1 + static_cast<int64_t>(rng() % 200);
    free_at[c] = op.complete_ns + 1;
    int k = static_cast<int>(rng() % 10);
    op.kind = k < 5 ? OpKind::kRead : k < 8 ? OpKind::kWrite : OpKind::kIncr;
    if (op.kind == OpKind::kWrite) op.value = (++seq) * M;
    op.outcome = rng() % 20 == 0 ? Outcome::kUnknown : Outcome::kOk;
    int64_t effect = op.invoke_ns + static_cast<int64_t>(rng() % (op.complete_ns - op.invoke_ns + 1));
    if (op.outcome == Outcome::kUnknown && rng() % 3 == 0) effect = kInf;  // never
    if (op.outcome == Outcome::kUnknown && op.kind != OpKind::kRead && effect != kInf && rng() % 2 == 0) effect += 5000;
    pend.push_back({op, effect});
  }
  std::stable_sort(pend.begin(), pend.end(), [](auto& a, auto& b) { return a.effect < b.effect; });
  int64_t state = kNil;
  for (auto& p : pend) {
    if (p.effect == kInf) {
      out.push_back(p.op);
      continue;
    }
    switch (p.op.kind) {
      case OpKind::kWrite: state = p.op.value; break;
      case OpKind::kRead: p.op.result = state; break;
      case OpKind::kIncr: state = (state == kNil ? 0 : state) + 1; p.op.result = state; break;
      default: break;
    }
    out.push_back(p.op);
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.invoke_ns < b.invoke_ns; });
  return Numbered(out);
}

TEST(RegisterChecker, LargeRandomHistoriesValidAndMutatedInvalid) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 rng(seed);
    auto h = RandomLinearizableHistory(rng, 3000, 10);
    // The checker's budget is wall time; here it only guards against a
    // search that explodes (which shows as search_exhausted), so it is far
    // above what the searches take (the stale read's refutation: a few
    // seconds alone, past 10 s under a loaded ctest -j2, which made a 10 s
    // budget fail now and then). Timing belongs in benchmarks.
    constexpr int64_t kGuardMs = 180000;
    auto r = CheckRegisters(h, kGuardMs);
    EXPECT_TRUE(r.valid) << "seed " << seed << ": " << r.Summary();
    EXPECT_FALSE(r.search_exhausted) << "seed " << seed << " (search too big in a fixture is a failure)";
    // Make one late ok read return the very first value written: stale.
    int64_t first_write = kNil;
    for (auto& op : h) {
      if (op.kind == OpKind::kWrite && op.outcome == Outcome::kOk) {
        first_write = op.value;
        break;
      }
    }
    for (size_t i = h.size() - 1; i > h.size() / 2; --i) {
      if (h[i].kind == OpKind::kRead && h[i].outcome == Outcome::kOk && h[i].result != first_write) {
        h[i].result = first_write;
        break;
      }
    }
    auto bad = CheckRegisters(h, kGuardMs);
    EXPECT_FALSE(bad.valid) << "seed " << seed;
    EXPECT_FALSE(bad.search_exhausted) << "seed " << seed;
  }
}

// ---------------------------------------------------------------------- lists

Op App(const std::string& key, const std::string& e, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  return Elems(OpKind::kAppend, key, {e}, t0, t1, o);
}
Op LR(const std::string& key, std::vector<std::string> l, int64_t t0, int64_t t1) {
  return Elems(OpKind::kListRead, key, std::move(l), t0, t1);
}

TEST(ListChecker, ValidHistory) {
  Op txn;
  txn.kind = OpKind::kTxn;
  txn.key = "l";
  txn.appends = {{"l", "c"}, {"m", "z"}};
  txn.elems = {"a", "b", "c"};
  txn.invoke_ns = 45;
  txn.complete_ns = 55;
  txn.outcome = Outcome::kOk;
  auto ops = Numbered({App("l", "a", 0, 10), App("l", "b", 5, 40), LR("l", {"a"}, 20, 30), App("l", "u", 21, 22, Outcome::kUnknown),
                       App("l", "f", 23, 24, Outcome::kFail), txn, LR("l", {"a", "b", "c"}, 60, 70)});
  auto r = CheckLists(ops, {{"l", {"a", "b", "c", "u"}}, {"m", {"z"}}});
  EXPECT_TRUE(r.valid) << r.Summary();
  // The unknown append may also never happen.
  auto r2 = CheckLists(ops, {{"l", {"a", "b", "c"}}, {"m", {"z"}}});
  EXPECT_TRUE(r2.valid) << r2.Summary();
}

TEST(ListChecker, RejectsLostAppend) {
  auto ops = Numbered({App("l", "a", 0, 10), App("l", "b", 20, 30), LR("l", {"a", "b"}, 40, 50)});
  auto r = CheckLists(ops, {{"l", {"a"}}});
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.lost_writes, 1);
}

TEST(ListChecker, RejectsReadOfAbortedValue) {
  auto ops = Numbered({App("l", "a", 0, 10), App("l", "f", 20, 30, Outcome::kFail), LR("l", {"a", "f"}, 40, 50)});
  auto r = CheckLists(ops, {{"l", {"a", "f"}}});
  EXPECT_FALSE(r.valid);
}

TEST(ListChecker, RejectsStaleRead) {
  auto ops = Numbered({App("l", "a", 0, 10), App("l", "b", 20, 30), LR("l", {"a"}, 40, 50)});
  EXPECT_FALSE(CheckLists(ops, {{"l", {"a", "b"}}}).valid);
  // Shorter than a read that completed before it.
  auto ops2 = Numbered({App("l", "a", 0, 10), App("l", "b", 5, 100), LR("l", {"a", "b"}, 20, 30), LR("l", {"a"}, 40, 50)});
  EXPECT_FALSE(CheckLists(ops2, {{"l", {"a", "b"}}}).valid);
}

TEST(ListChecker, RejectsReorderAndDuplicates) {
  auto ops = Numbered({App("l", "a", 0, 10), App("l", "b", 0, 10), LR("l", {"b", "a"}, 40, 50)});
  EXPECT_FALSE(CheckLists(ops, {{"l", {"a", "b"}}}).valid);
  auto dup = Numbered({App("l", "a", 0, 10, Outcome::kUnknown)});
  EXPECT_FALSE(CheckLists(dup, {{"l", {"a", "a"}}}).valid);
}

// ----------------------------------------------------------------------- bank

Op Transfer(const std::string& from, const std::string& to, int64_t amount, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  Op op;
  op.kind = OpKind::kTransfer;
  op.from = from;
  op.to = to;
  op.value = amount;
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = o;
  return op;
}
Op Balances(std::vector<int64_t> b, int64_t t0, int64_t t1) {
  Op op;
  op.kind = OpKind::kBalances;
  op.balances = std::move(b);
  op.invoke_ns = t0;
  op.complete_ns = t1;
  op.outcome = Outcome::kOk;
  return op;
}

TEST(BankChecker, ValidHistory) {
  auto ops = Numbered({Transfer("a", "b", 5, 0, 10), Balances({95, 105, 100}, 20, 30),
                       Transfer("b", "c", 7, 40, 50, Outcome::kUnknown), Transfer("c", "a", 3, 40, 50, Outcome::kFail),
                       Balances({95, 98, 107}, 60, 70)});
  auto r = CheckBank(ops, {"a", "b", "c"}, {100, 100, 100}, {95, 98, 107});
  EXPECT_TRUE(r.valid) << r.Summary();
}

TEST(BankChecker, RejectsHalfAppliedTransfer) {
  auto ops = Numbered({Transfer("a", "b", 5, 0, 10), Balances({95, 100, 100}, 5, 8)});
  auto r = CheckBank(ops, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 100});
  EXPECT_FALSE(r.valid);
}

TEST(BankChecker, RejectsLostTransferAndAppliedFailedOne) {
  auto lost = Numbered({Transfer("a", "b", 5, 0, 10), Transfer("b", "c", 2, 20, 30)});
  auto r = CheckBank(lost, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 100});
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.lost_writes, 1);
  auto failed = Numbered({Transfer("a", "b", 5, 0, 10, Outcome::kFail)});
  EXPECT_FALSE(CheckBank(failed, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 100}).valid);
  auto unknown = Numbered({Transfer("a", "b", 5, 0, 10, Outcome::kUnknown)});
  EXPECT_TRUE(CheckBank(unknown, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 100}).valid);
}

// A check-and-set transfer (WATCH, MGET, MULTI SET SET EXEC) whose EXEC
// returned nil certainly did not happen. A node that ran it anyway, after a
// concurrent transfer changed the balances it read, creates money.
TEST(BankChecker, RejectsWatchTransferAppliedAfterNilExec) {
  Op cas = Transfer("a", "b", 5, 5, 20, Outcome::kFail);
  cas.via = "watch";
  cas.balances = {100, 100};  // read before the a->c transfer: a=100, b=100
  cas.error = "EXEC nil (watched key changed)";
  // Applied anyway: SET a 95, SET b 105 over a=90 -> 10 created.
  auto ops = Numbered({Transfer("a", "c", 10, 0, 10), cas, Balances({95, 105, 110}, 30, 40)});
  auto r = CheckBank(ops, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 110});
  EXPECT_FALSE(r.valid);
  EXPECT_NE(r.Summary().find("sum 310"), std::string::npos) << r.Summary();
  // Without the conflict the sums hold, but a failed transfer explains nothing.
  auto alone = Numbered({cas});
  auto r2 = CheckBank(alone, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 100});
  EXPECT_FALSE(r2.valid);
  // Unknown instead of failed: it may have happened.
  alone[0].outcome = Outcome::kUnknown;
  EXPECT_TRUE(CheckBank(alone, {"a", "b", "c"}, {100, 100, 100}, {95, 105, 100}).valid);
}

// ---------------------------------------------------------------------- queue

constexpr int64_t S = 1000000000;  // ns in a second

Op Push(const std::string& e, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  return Elems(OpKind::kPush, "queue", {e}, t0, t1, o);
}
// elem "" is a nil reply; an unknown pop closed its connection at t1.
Op Pop(const std::string& e, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  return Elems(OpKind::kPop, "queue", e.empty() ? std::vector<std::string>{} : std::vector<std::string>{e}, t0, t1, o);
}

TEST(QueueChecker, ValidHistory) {
  auto ops = Numbered({Push("a", 0, 10), Pop("a", 5, 15), Pop("", 20, 30), Push("b", 40, 50), Pop("", 35, 60, Outcome::kUnknown),
                       Push("c", 70, 80), Push("d", 90, 95, Outcome::kUnknown), Push("e", 100, 110, Outcome::kFail)});
  // b was taken by the consumer that left; c is still queued; d never happened.
  auto r = CheckQueue(ops, {"c"});
  EXPECT_TRUE(r.valid) << r.Summary();
  // Or d happened and is queued too.
  auto r2 = CheckQueue(ops, {"c", "d"});
  EXPECT_TRUE(r2.valid) << r2.Summary();
}

TEST(QueueChecker, RejectsDuplicateDelivery) {
  auto twice = CheckQueue(Numbered({Push("a", 0, 10), Pop("a", 5, 15), Pop("a", 20, 30)}), {});
  EXPECT_FALSE(twice.valid);
  ASSERT_EQ(twice.anomalies.size(), 1u);
  EXPECT_NE(twice.anomalies[0].find("DUPLICATE DELIVERY of a"), std::string::npos) << twice.anomalies[0];
  // Popped, and still in the queue at the end.
  auto stays = CheckQueue(Numbered({Push("a", 0, 10), Pop("a", 5, 15)}), {"a"});
  EXPECT_FALSE(stays.valid);
  EXPECT_FALSE(CheckQueue(Numbered({Push("a", 0, 10)}), {"a", "a"}).valid);
}

TEST(QueueChecker, RejectsElementsNeverPushed) {
  EXPECT_FALSE(CheckQueue(Numbered({Push("a", 0, 10), Pop("z", 20, 30)}), {"a"}).valid);
  EXPECT_FALSE(CheckQueue(Numbered({Push("f", 0, 10, Outcome::kFail)}), {"f"}).valid);
  EXPECT_FALSE(CheckQueue(Numbered({Pop("a", 0, 10), Push("a", 20, 30)}), {}).valid);  // popped before pushed
  EXPECT_TRUE(CheckQueue(Numbered({Push("u", 0, 10, Outcome::kUnknown), Pop("u", 20, 30)}), {}).valid);
}

TEST(QueueChecker, RejectsLostElement) {
  auto r = CheckQueue(Numbered({Push("a", 0, 10), Push("b", 20, 30), Pop("a", 25, 35)}), {});
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.lost_writes, 1);
  EXPECT_NE(r.Summary().find("LOST ELEMENTS"), std::string::npos) << r.Summary();
}

// A consumer that left while blocked may take one element until its close
// time plus the grace: not one pushed after that, and not two.
TEST(QueueChecker, RejectsElementPoppedAfterTheConsumersWindow) {
  const Op left = Pop("", 0, 1 * S, Outcome::kUnknown);
  const int64_t end = 1 * S + kUnknownPopGraceNs;
  auto in_window = CheckQueue(Numbered({left, Push("a", end - 1, end + 10)}), {});
  EXPECT_TRUE(in_window.valid) << in_window.Summary();
  auto after = CheckQueue(Numbered({left, Push("a", end + 1 * S, end + 1 * S + 10)}), {});
  EXPECT_FALSE(after.valid);
  EXPECT_EQ(after.lost_writes, 1);
  auto two = CheckQueue(Numbered({left, Push("a", 2 * S, 2 * S + 10), Push("b", 3 * S, 3 * S + 10)}), {});
  EXPECT_FALSE(two.valid);
  EXPECT_EQ(two.lost_writes, 1);
  // Two consumers that left: the later one's window covers the later push.
  auto matched = CheckQueue(Numbered({left, Pop("", 5 * S, 6 * S, Outcome::kUnknown), Push("a", 2 * S, 2 * S + 10),
                                      Push("b", end + 1 * S, end + 1 * S + 10)}),
                            {});
  EXPECT_TRUE(matched.valid) << matched.Summary();
}

// BLMOVE of the head of the queue to `to`, as Pop.
Op Move(const std::string& e, const std::string& to, int64_t t0, int64_t t1, Outcome o = Outcome::kOk) {
  Op op = Pop(e, t0, t1, o);
  op.to = to;
  return op;
}
Op Lrem(const std::string& e, const std::string& list, int64_t t0, int64_t t1, int64_t count,
        Outcome o = Outcome::kOk) {
  Op op = Elems(OpKind::kTakenRemove, list, {e}, t0, t1, o);
  op.result = o == Outcome::kOk ? count : kNil;
  return op;
}
Op ReadTaken(const std::string& list, std::vector<std::string> seen, int64_t t0, int64_t t1) {
  return Elems(OpKind::kTakenRead, list, std::move(seen), t0, t1);
}
using TakenLists = std::map<std::string, std::vector<std::string>>;

// a moved and removed, b moved and kept, c moved by a consumer that left
// (its move unknown), d moved with its LREM unknown (gone or not).
std::vector<Op> TakenHistory() {
  return Numbered({Push("a", 0, 10), Push("b", 20, 30), Push("c", 40, 50), Push("d", 60, 70),
                   Move("a", "t1", 5, 15), Lrem("a", "t1", 16, 18, 1), ReadTaken("t1", {}, 19, 21),
                   Move("b", "t1", 25, 35), ReadTaken("t1", {"b"}, 36, 38), Move("", "t2", 39, 45, Outcome::kUnknown),
                   Move("d", "t1", 65, 75), Lrem("d", "t1", 76, 78, 0, Outcome::kUnknown),
                   ReadTaken("t1", {"b"}, 77, 79)});
}

TEST(QueueChecker, MovedElementsStayInTheirTakenListUntilRemoved) {
  for (const TakenLists& final : {TakenLists{{"t1", {"b"}}, {"t2", {"c"}}},
                                  TakenLists{{"t1", {"b", "d"}}, {"t2", {"c"}}}}) {
    auto r = CheckQueue(TakenHistory(), {}, final);
    EXPECT_TRUE(r.valid) << r.Summary();
  }
  // b lost from its taken list.
  auto lost = CheckQueue(TakenHistory(), {}, {{"t1", {}}, {"t2", {"c"}}});
  EXPECT_FALSE(lost.valid);
  EXPECT_EQ(lost.lost_writes, 1);
  EXPECT_NE(lost.Summary().find("LOST MOVED ELEMENT: b"), std::string::npos) << lost.Summary();
  // a back after its LREM; b also in the queue; c also in t1.
  EXPECT_FALSE(CheckQueue(TakenHistory(), {}, {{"t1", {"a", "b"}}, {"t2", {"c"}}}).valid);
  EXPECT_FALSE(CheckQueue(TakenHistory(), {"b"}, {{"t1", {"b"}}, {"t2", {"c"}}}).valid);
  EXPECT_FALSE(CheckQueue(TakenHistory(), {}, {{"t1", {"b", "c"}}, {"t2", {"c"}}}).valid);
  EXPECT_FALSE(CheckQueue(TakenHistory(), {}, {{"t1", {"b", "b"}}, {"t2", {"c"}}}).valid);
  // An LREM that found nothing to remove.
  auto ops = TakenHistory();
  ops.push_back(Lrem("b", "t1", 90, 95, 0));
  EXPECT_FALSE(CheckQueue(Numbered(ops), {}, {{"t1", {"b"}}, {"t2", {"c"}}}).valid);
}

// An unknown BLMOVE leaves what it took in the taken list: it cannot explain
// an element missing everywhere, and it takes one element, in its window.
TEST(QueueChecker, UnknownMovesTakeOneElementIntoTheirTakenList) {
  const Op left = Move("", "t", 0, 1 * S, Outcome::kUnknown);
  auto gone = CheckQueue(Numbered({left, Push("a", 10, 20)}), {}, {{"t", {}}});
  EXPECT_FALSE(gone.valid);
  EXPECT_EQ(gone.lost_writes, 1);
  const int64_t end = 1 * S + kUnknownPopGraceNs;
  EXPECT_TRUE(CheckQueue(Numbered({left, Push("a", end - 1, end + 10)}), {}, {{"t", {"a"}}}).valid);
  auto late = CheckQueue(Numbered({left, Push("a", end + 1, end + 10)}), {}, {{"t", {"a"}}});
  EXPECT_FALSE(late.valid);
  EXPECT_EQ(late.lost_writes, 0);
  EXPECT_NE(late.Summary().find("moved after the consumer left"), std::string::npos) << late.Summary();
  EXPECT_FALSE(CheckQueue(Numbered({left, Push("a", 10, 20), Push("b", 30, 40)}), {}, {{"t", {"a", "b"}}}).valid);
  // Another consumer's unknown move does not count for this list.
  EXPECT_FALSE(CheckQueue(Numbered({Move("", "u", 0, 1 * S, Outcome::kUnknown), Push("a", 10, 20)}), {},
                          {{"t", {"a"}}, {"u", {}}})
                   .valid);
}

TEST(QueueChecker, RejectsStaleReadsOfTakenLists) {
  auto base = TakenHistory();
  const TakenLists final = {{"t1", {"b"}}, {"t2", {"c"}}};
  auto with = [&](Op read) {
    auto ops = base;
    ops.push_back(std::move(read));
    return CheckQueue(Numbered(ops), {}, final);
  };
  EXPECT_TRUE(with(ReadTaken("t1", {"b"}, 80, 90)).valid);
  auto misses = with(ReadTaken("t1", {}, 80, 90));  // b was moved at 35
  EXPECT_FALSE(misses.valid);
  EXPECT_NE(misses.Summary().find("STALE READ of t1: it misses b"), std::string::npos) << misses.Summary();
  EXPECT_FALSE(with(ReadTaken("t1", {"a", "b"}, 80, 90)).valid);  // a removed at 18
  EXPECT_FALSE(with(ReadTaken("t1", {"b", "c"}, 80, 90)).valid);  // c went to t2
  EXPECT_FALSE(with(ReadTaken("t1", {"b"}, 22, 24)).valid);       // b's move began at 25
  EXPECT_FALSE(with(ReadTaken("t1", {"b", "b"}, 80, 90)).valid);
  EXPECT_TRUE(with(ReadTaken("t2", {"c"}, 80, 90)).valid);
  EXPECT_TRUE(with(ReadTaken("t2", {}, 80, 90)).valid);  // the unknown move had not happened yet
}

// ------------------------------------------------------------------------ ttl

Op TtlPair(const std::string& key, int64_t value, const std::string& via, Outcome o) {
  Op op;
  op.kind = OpKind::kTtl;
  op.key = key;
  op.value = value;
  op.via = via;
  op.invoke_ns = 0;
  op.complete_ns = 10;
  op.outcome = o;
  return op;
}

TEST(TtlChecker, AcknowledgedKeysMustStay) {
  auto ops = Numbered({TtlPair("t1", 11, "persist", Outcome::kOk), TtlPair("t2", 12, "expire", Outcome::kOk),
                       TtlPair("t3", 13, "persist", Outcome::kFail), TtlPair("t4", 14, "expire", Outcome::kUnknown)});
  auto ok = CheckTtl(ops, {{"t1", 11}, {"t2", 12}, {"t3", kNil}, {"t4", kNil}});
  EXPECT_TRUE(ok.valid) << ok.Summary();
  // The PERSISTed key expired anyway: lost.
  auto lost = CheckTtl(ops, {{"t1", kNil}, {"t2", 12}});
  EXPECT_FALSE(lost.valid);
  EXPECT_EQ(lost.lost_writes, 1);
  EXPECT_NE(lost.Summary().find("t1"), std::string::npos) << lost.Summary();
  EXPECT_FALSE(CheckTtl(ops, {{"t1", 11}, {"t2", 99}}).valid);  // another value
}

}  // namespace
}  // namespace fault
