#include "node/ring_queue.h"

#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace node {
namespace {

std::vector<std::string> Contents(const RingQueue<std::string>& q) {
  std::vector<std::string> out;
  for (const std::string& s : q) out.push_back(s);
  return out;
}

TEST(RingQueueTest, FifoAcrossWrapAndGrowth) {
  RingQueue<std::string> q;
  for (int i = 0; i < 6; ++i) q.push_back(std::to_string(i));
  for (int i = 0; i < 5; ++i) q.pop_front();  // head near the end of 8 cells
  for (int i = 6; i < 20; ++i) q.emplace_back(std::to_string(i));  // wraps, then grows
  ASSERT_EQ(q.size(), 15u);
  for (int i = 5; i < 20; ++i) {
    EXPECT_EQ(q.front(), std::to_string(i));
    q.pop_front();
  }
  EXPECT_TRUE(q.empty());
}

TEST(RingQueueTest, EraseKeepsOrder) {
  RingQueue<std::string> q;
  for (int i = 0; i < 3; ++i) q.push_back("x");
  for (int i = 0; i < 3; ++i) q.pop_front();
  for (const char* s : {"a", "b", "c", "d", "e", "f", "g"}) q.push_back(s);  // wrapped
  q.erase_at(1);
  EXPECT_EQ(Contents(q), (std::vector<std::string>{"a", "c", "d", "e", "f", "g"}));
  q.erase_if([](const std::string& s) { return s == "a" || s == "e" || s == "g"; });
  EXPECT_EQ(Contents(q), (std::vector<std::string>{"c", "d", "f"}));
  EXPECT_EQ(q.back(), "f");
  q.push_back("h");
  EXPECT_EQ(Contents(q), (std::vector<std::string>{"c", "d", "f", "h"}));
}

// What a cell held is freed when it leaves the queue, not when it is reused.
TEST(RingQueueTest, LeavingFreesTheValue) {
  RingQueue<std::shared_ptr<int>> q;
  auto v = std::make_shared<int>(7);
  q.push_back(v);
  q.push_back(v);
  EXPECT_EQ(v.use_count(), 3);
  q.pop_front();
  EXPECT_EQ(v.use_count(), 2);
  q.erase_if([](const auto&) { return true; });
  EXPECT_EQ(v.use_count(), 1);
  q.push_back(v);
  q.clear();
  EXPECT_EQ(v.use_count(), 1);
}

// A ring that grew large gives its cells back once empty; a small one keeps them.
TEST(RingQueueTest, AnEmptyLargeRingIsReleased) {
  RingQueue<std::string> q;
  for (int i = 0; i < 10000; ++i) q.push_back("x");
  EXPECT_GE(q.capacity(), 10000u);
  while (!q.empty()) q.pop_front();
  EXPECT_EQ(q.capacity(), 0u);
  for (int i = 0; i < 100; ++i) q.push_back("y");
  const size_t small = q.capacity();
  q.erase_if([](const std::string&) { return true; });
  EXPECT_EQ(q.capacity(), small);
  q.push_back("z");
  EXPECT_EQ(q.front(), "z");
}

// A ring that drains to empty between bursts of the same size keeps its
// cells (no regrowth per burst); once its bursts are far smaller than its
// cells, it gives them back.
TEST(RingQueueTest, ARingKeepsItsCellsForBurstsOfTheSameSize) {
  RingQueue<std::string> q;
  for (int i = 0; i < 800; ++i) q.push_back("x");
  const size_t cells = q.capacity();
  EXPECT_EQ(cells, 1024u);
  for (int burst = 0; burst < 5; ++burst) {
    while (!q.empty()) q.pop_front();
    EXPECT_EQ(q.capacity(), cells) << burst;
    for (int i = 0; i < 700; ++i) q.push_back("y");
  }
  while (!q.empty()) q.pop_front();
  for (int i = 0; i < 10; ++i) q.push_back("z");
  while (!q.empty()) q.pop_front();
  EXPECT_EQ(q.capacity(), 0u);
}

// Against std::deque under random operations.
TEST(RingQueueTest, MatchesDeque) {
  std::mt19937 rng(11);
  RingQueue<int> q;
  std::deque<int> d;
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5 || d.empty()) {
      q.push_back(step);
      d.push_back(step);
    } else if (op < 8) {
      q.pop_front();
      d.pop_front();
    } else if (op == 8) {
      const size_t i = rng() % d.size();
      q.erase_at(i);
      d.erase(d.begin() + static_cast<long>(i));
    } else {
      const int m = static_cast<int>(rng() % 7) + 2;
      q.erase_if([m](int x) { return x % m == 0; });
      std::erase_if(d, [m](int x) { return x % m == 0; });
    }
    ASSERT_EQ(q.size(), d.size());
    for (size_t i = 0; i < d.size(); ++i) ASSERT_EQ(q[i], d[i]) << "step " << step;
  }
}

}  // namespace
}  // namespace node
