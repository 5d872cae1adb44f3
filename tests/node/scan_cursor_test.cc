#include "node/front/scan_cursor.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace node::scan_cursor {
namespace {

constexpr uint32_t kEpoch = 77;
constexpr uint64_t kTag = uint64_t{kEpoch} << kChildBits;

std::string ScanReply(std::string_view cursor, std::string_view elements = "*1\r\n$1\r\nk\r\n") {
  std::string out = "*2\r\n$" + std::to_string(cursor.size()) + "\r\n" + std::string(cursor) + "\r\n";
  out += elements;
  return out;
}

TEST(ScanCursorTest, CursorArgumentOfEachScan) {
  EXPECT_EQ(CursorArg("scan"), 1u);
  EXPECT_EQ(CursorArg("hscan"), 2u);
  EXPECT_EQ(CursorArg("sscan"), 2u);
  EXPECT_EQ(CursorArg("zscan"), 2u);
  EXPECT_EQ(CursorArg("get"), 0u);
  EXPECT_EQ(CursorArg("scanx"), 0u);
}

TEST(ScanCursorTest, ReplyCursorCarriesTheEpochAndComesBackWithout) {
  const std::string tagged = std::to_string(kTag | 1234);
  EXPECT_EQ(ForClient(ScanReply("1234"), kEpoch), ScanReply(tagged));
  EXPECT_EQ(ForChild(tagged, kEpoch), "1234");
  // The widest epoch and child cursor stay exact in a double.
  const uint64_t widest = (uint64_t{kMaxEpoch} << kChildBits) | ((uint64_t{1} << kChildBits) - 1);
  EXPECT_LT(widest, uint64_t{1} << 53);
  EXPECT_EQ(ForClient(ScanReply(std::to_string((uint64_t{1} << kChildBits) - 1)), kMaxEpoch),
            ScanReply(std::to_string(widest)));
}

TEST(ScanCursorTest, AnotherChildsCursorStartsTheScanAgain) {
  EXPECT_EQ(ForChild(std::to_string((uint64_t{kEpoch + 1} << kChildBits) | 1234), kEpoch), "0");
}

TEST(ScanCursorTest, CursorsWithoutAnEpochPassAsTheyAre) {
  for (const std::string& cursor : std::vector<std::string>{"0", "1234", "68719476735", "+5", "-1", " 5", "x", "", "007",
                                   "18446744073709551615", "18446744073709551616",
                                   std::to_string(uint64_t{1} << 53)}) {
    EXPECT_EQ(ForChild(cursor, kEpoch), std::nullopt) << cursor;
  }
}

TEST(ScanCursorTest, RepliesTheNodeCannotTagPassAsTheyAre) {
  for (const std::string& reply : std::vector<std::string>{ScanReply("0"), ScanReply(std::to_string(uint64_t{1} << kChildBits)), std::string("-ERR invalid cursor\r\n"),
        std::string("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        std::string("*2\r\n$4\r\n12\r\n"), std::string("*3\r\n$1\r\n5\r\n*0\r\n"),
        std::string("*2\r\n$18446744073709551615\r\n5\r\n*0\r\n")}) {
    EXPECT_EQ(ForClient(reply, kEpoch), reply) << reply;
  }
}

}  // namespace
}  // namespace node::scan_cursor
