#include "node/gate/key_lock_table.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/gate/consistency_gate.h"

namespace node {
namespace {

// "db:key" -> its lock.
KeyLockTable::KeyId Id(std::string_view name) {
  const size_t colon = name.find(':');
  int db = 0;
  EXPECT_TRUE(absl::SimpleAtoi(absl::string_view(name.data(), colon), &db));
  return gate::KeyOf(db, name.substr(colon + 1));
}
std::vector<KeyLockTable::KeyId> K(std::initializer_list<const char*> keys) {
  std::vector<KeyLockTable::KeyId> out;
  for (const char* k : keys) out.push_back(Id(k));
  return out;
}

TEST(KeyLockTableTest, CleanKeysAreReadyAtOnce) {
  KeyLockTable t;
  auto w = t.Begin();
  t.Lock(w, Id("0:a"));
  bool called = false;
  EXPECT_TRUE(t.WaitClear(K({"0:b"}), false, [&] { called = true; }));
  EXPECT_FALSE(called);
}

TEST(KeyLockTableTest, ReadWaitsForTheWritesHoldingItsKey) {
  KeyLockTable t;
  auto w1 = t.Begin();
  t.Lock(w1, Id("0:a"));
  int ready = 0;
  EXPECT_FALSE(t.WaitClear(K({"0:a"}), false, [&] { ++ready; }));
  t.Release(w1);
  EXPECT_EQ(ready, 1);
}

TEST(KeyLockTableTest, LaterWritersDoNotStarveAReader) {
  KeyLockTable t;
  auto w1 = t.Begin();
  t.Lock(w1, Id("0:hot"));
  int ready = 0;
  EXPECT_FALSE(t.WaitClear(K({"0:hot"}), false, [&] { ++ready; }));
  auto w2 = t.Begin();  // a write after the read's reply arrived
  t.Lock(w2, Id("0:hot"));
  t.Release(w1);
  EXPECT_EQ(ready, 1);  // w2 cannot have been observed by the read
  t.Release(w2);
  EXPECT_EQ(ready, 1);
}

TEST(KeyLockTableTest, ReleaseOutOfOrderWaitsForAllEarlierHolders) {
  KeyLockTable t;
  auto w1 = t.Begin();
  auto w2 = t.Begin();
  t.Lock(w1, Id("0:a"));
  t.Lock(w2, Id("0:a"));
  int ready = 0;
  EXPECT_FALSE(t.WaitClear(K({"0:a"}), false, [&] { ++ready; }));
  t.Release(w2);
  EXPECT_EQ(ready, 0);
  t.Release(w1);
  EXPECT_EQ(ready, 1);
}

TEST(KeyLockTableTest, MultiKeyReadWaitsForEveryKey) {
  KeyLockTable t;
  auto w1 = t.Begin();
  auto w2 = t.Begin();
  t.Lock(w1, Id("0:a"));
  t.Lock(w2, Id("0:b"));
  int ready = 0;
  EXPECT_FALSE(t.WaitClear(K({"0:a", "0:b", "0:c"}), false, [&] { ++ready; }));
  t.Release(w1);
  EXPECT_EQ(ready, 0);
  t.Release(w2);
  EXPECT_EQ(ready, 1);
}

TEST(KeyLockTableTest, DatabasesAreSeparateKeys) {
  KeyLockTable t;
  auto w = t.Begin();
  t.Lock(w, Id("1:a"));
  EXPECT_TRUE(t.WaitClear(K({"0:a"}), false, [] {}));
  EXPECT_FALSE(t.WaitClear(K({"1:a"}), false, [] {}));
}

TEST(KeyLockTableTest, WholeKeyspaceLockBlocksEveryKeyedRead) {
  KeyLockTable t;
  auto w = t.Begin();
  t.LockAll(w);
  int ready = 0;
  EXPECT_FALSE(t.WaitClear(K({"0:anything"}), false, [&] { ++ready; }));
  EXPECT_FALSE(t.WaitClear({}, false, [&] { ++ready; }));
  t.Release(w);
  EXPECT_EQ(ready, 2);
}

TEST(KeyLockTableTest, BarrierWaitsForEveryLiveWriteIssuedBefore) {
  KeyLockTable t;
  auto w1 = t.Begin();
  t.Lock(w1, Id("0:a"));
  auto w2 = t.Begin();  // holds no key (e.g. a write queued for later)
  int ready = 0;
  EXPECT_FALSE(t.WaitClear({}, true, [&] { ++ready; }));
  auto w3 = t.Begin();
  t.Release(w1);
  EXPECT_EQ(ready, 0);
  t.Release(w2);
  EXPECT_EQ(ready, 1);
  t.Release(w3);
  EXPECT_EQ(t.live_tickets(), 0u);
  EXPECT_EQ(t.locked_keys(), 0u);
}

// Tickets end out of order: a barrier waits for the oldest live ticket
// issued before it, however many later ones end first, and a long-lived
// ticket keeps the ones after it (ended or not) counted correctly.
TEST(KeyLockTableTest, BarrierAfterOutOfOrderReleases) {
  KeyLockTable t;
  std::vector<KeyLockTable::Ticket> w;
  for (int i = 0; i < 40; ++i) {
    w.push_back(t.Begin());
    t.Lock(w.back(), Id(absl::StrCat("0:k", i)));
  }
  int ready = 0;
  EXPECT_FALSE(t.WaitClear({}, true, [&] { ++ready; }));
  const auto late = t.Begin();  // after the barrier: not waited for
  for (int i = 39; i >= 1; --i) t.Release(w[i]);
  EXPECT_EQ(ready, 0);
  EXPECT_EQ(t.live_tickets(), 2u);
  t.Release(w[0]);
  EXPECT_EQ(ready, 1);
  EXPECT_EQ(t.live_tickets(), 1u);
  EXPECT_TRUE(t.WaitClear(K({"0:k3"}), false, [] {}));
  EXPECT_FALSE(t.WaitClear({}, true, [&] { ++ready; }));
  t.Release(late);
  EXPECT_EQ(ready, 2);
  EXPECT_EQ(t.locked_keys(), 0u);
  EXPECT_TRUE(t.WaitClear({}, true, [] {}));
}

// Releasing twice, or a ticket never issued, changes nothing; locking with an
// ended ticket takes no lock.
TEST(KeyLockTableTest, EndedAndUnknownTicketsAreIgnored) {
  KeyLockTable t;
  auto a = t.Begin();
  auto b = t.Begin();
  t.Lock(b, Id("0:x"));
  t.Release(a);
  t.Release(a);
  t.Release(12345);
  t.Lock(a, Id("0:y"));
  EXPECT_TRUE(t.WaitClear(K({"0:y"}), false, [] {}));
  EXPECT_FALSE(t.WaitClear(K({"0:x"}), false, [] {}));
  EXPECT_EQ(t.live_tickets(), 1u);
  t.Release(b);
  EXPECT_EQ(t.live_tickets(), 0u);
  EXPECT_EQ(t.locked_keys(), 0u);
}

TEST(KeyLockTableTest, MarksCountAndClear) {
  KeyLockTable t;
  EXPECT_FALSE(t.AnyMarked());
  t.Mark(Id("0:q"));
  t.Mark(Id("0:q"));
  EXPECT_TRUE(t.AnyMarked(K({"0:x", "0:q"})));
  EXPECT_FALSE(t.AnyMarked(K({"0:x"})));
  t.Unmark(Id("0:q"));
  EXPECT_TRUE(t.AnyMarked());
  t.Unmark(Id("0:q"));
  EXPECT_FALSE(t.AnyMarked());
}

TEST(KeyLockTableTest, CallbackMayReenterTheTable) {
  KeyLockTable t;
  auto w1 = t.Begin();
  t.Lock(w1, Id("0:a"));
  int ready = 0;
  EXPECT_FALSE(t.WaitClear(K({"0:a"}), false, [&] {
    ++ready;
    auto w2 = t.Begin();
    t.Lock(w2, Id("0:a"));
    t.Release(w2);
  }));
  t.Release(w1);
  EXPECT_EQ(ready, 1);
}

}  // namespace
}  // namespace node
