#include "bench/harness/workload.h"

#include <set>

#include "gtest/gtest.h"
#include "resp/request_parser.h"

namespace bench {
namespace {

TEST(Workload, ParsesPresetsAndMixes) {
  auto set = ParseWorkload("set");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->MixString(), "set=1");
  auto mixed = ParseWorkload("mixed");
  ASSERT_TRUE(mixed.ok());
  for (int i = 0; i < kNumOps; ++i) EXPECT_GT(mixed->weights[i], 0) << i;
  auto custom = ParseWorkload("get=3,set=1");
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ(custom->MixString(), "set=1,get=3");
  EXPECT_FALSE(custom->new_connection);
  auto connect = ParseWorkload("connect");
  ASSERT_TRUE(connect.ok());
  EXPECT_EQ(connect->MixString(), "get=1");
  EXPECT_TRUE(connect->new_connection);
  EXPECT_FALSE(ParseWorkload("frobnicate").ok());
  EXPECT_FALSE(ParseWorkload("set=-1").ok());
  EXPECT_FALSE(ParseWorkload("set=0").ok());
}

TEST(Workload, ValuesAreConstantOrAllDifferent) {
  ValueSource constant(64, false, 1);
  EXPECT_EQ(constant.Next(), std::string(64, 'v'));
  ValueSource random(64, true, 1);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string_view v = random.Next();
    ASSERT_EQ(v.size(), 64u);
    seen.emplace(v);
  }
  EXPECT_EQ(seen.size(), 1000u);
  std::set<char> bytes(seen.begin()->begin(), seen.begin()->end());
  EXPECT_GT(bytes.size(), 40u);  // random bytes, not a repeated pattern
  ValueSource big(1 << 20, true, 2);
  EXPECT_EQ(big.Next().size(), 1u << 20);
}

TEST(Workload, GeneratesWellFormedRequestsInProportion) {
  auto w = ParseWorkload("get=3,set=1,multi=1");
  ASSERT_TRUE(w.ok());
  w->keyspace = 100;
  OpGenerator gen(*w, 5);
  std::array<int, kNumOps> counts{};
  std::string out;
  int expected_replies = 0;
  for (int i = 0; i < 5000; ++i) {
    int replies = 0;
    Op op = gen.Append(&out, &replies);
    ++counts[static_cast<int>(op)];
    expected_replies += replies;
    EXPECT_EQ(replies, op == Op::kMulti ? 4 : 1);
  }
  EXPECT_EQ(counts[static_cast<int>(Op::kIncr)], 0);
  EXPECT_NEAR(counts[static_cast<int>(Op::kGet)], 3000, 200);
  EXPECT_NEAR(counts[static_cast<int>(Op::kSet)], 1000, 150);
  EXPECT_NEAR(counts[static_cast<int>(Op::kMulti)], 1000, 150);
  // Every request parses, and there is one per expected reply.
  resp::RequestParser parser;
  size_t pos = 0;
  int requests = 0;
  while (pos < out.size()) {
    size_t consumed = 0;
    std::vector<std::string_view> args;
    std::string error;
    ASSERT_EQ(parser.Parse(std::string_view(out).substr(pos), &consumed, &args, &error), resp::ParseStatus::kOk)
        << error;
    ASSERT_FALSE(args.empty());
    pos += consumed;
    ++requests;
  }
  EXPECT_EQ(requests, expected_replies);
}

}  // namespace
}  // namespace bench
