#include "resp/writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace resp {
namespace {

template <typename F>
std::string Written(F f) {
  std::string out;
  f(&out);
  return out;
}

TEST(WriterTest, SimpleStringAndError) {
  EXPECT_EQ(Written([](std::string* o) { AppendSimpleString(o, "OK"); }), "+OK\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendSimpleString(o, ""); }), "+\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendError(o, "ERR unknown command"); }),
            "-ERR unknown command\r\n");
}

TEST(WriterTest, Integers) {
  EXPECT_EQ(Written([](std::string* o) { AppendInteger(o, 0); }), ":0\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendInteger(o, -1); }), ":-1\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendInteger(o, 1234567); }), ":1234567\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendInteger(o, INT64_MAX); }),
            ":9223372036854775807\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendInteger(o, INT64_MIN); }),
            ":-9223372036854775808\r\n");
}

TEST(WriterTest, BulkStrings) {
  EXPECT_EQ(Written([](std::string* o) { AppendBulkString(o, "foo"); }), "$3\r\nfoo\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendBulkString(o, ""); }), "$0\r\n\r\n");
  const std::string binary("a\r\n\0b", 5);
  EXPECT_EQ(Written([&](std::string* o) { AppendBulkString(o, binary); }),
            std::string("$5\r\na\r\n\0b\r\n", 11));
  const std::string big(100000, 'x');
  EXPECT_EQ(Written([&](std::string* o) { AppendBulkString(o, big); }),
            "$100000\r\n" + big + "\r\n");
}

TEST(WriterTest, Nulls) {
  EXPECT_EQ(Written([](std::string* o) { AppendNull(o, 2); }), "$-1\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendNull(o, 3); }), "_\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendNullArray(o, 2); }), "*-1\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendNullArray(o, 3); }), "_\r\n");
}

TEST(WriterTest, AggregateHeaders) {
  EXPECT_EQ(Written([](std::string* o) { AppendArrayHeader(o, 0); }), "*0\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendArrayHeader(o, 12); }), "*12\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendMapHeader(o, 3, 3); }), "%3\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendMapHeader(o, 3, 2); }), "*6\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendSetHeader(o, 4, 3); }), "~4\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendSetHeader(o, 4, 2); }), "*4\r\n");
}

// Redis 7.0's addReplyDouble: %.17g, inf spelled out; RESP2 sends a bulk string.
TEST(WriterTest, Doubles) {
  const struct {
    double d;
    std::string text;
  } cases[] = {
      {1.5, "1.5"},
      {3.0, "3"},
      {0.1, "0.10000000000000001"},
      {1.0 / 3, "0.33333333333333331"},
      {-0.0, "-0"},
      {1e300, "1.0000000000000001e+300"},
      {1e-7, "9.9999999999999995e-08"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Written([&](std::string* o) { AppendDouble(o, c.d, 3); }), "," + c.text + "\r\n");
    EXPECT_EQ(Written([&](std::string* o) { AppendDouble(o, c.d, 2); }),
              "$" + std::to_string(c.text.size()) + "\r\n" + c.text + "\r\n");
  }
}

TEST(WriterTest, Booleans) {
  EXPECT_EQ(Written([](std::string* o) { AppendBoolean(o, true, 3); }), "#t\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendBoolean(o, false, 3); }), "#f\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendBoolean(o, true, 2); }), ":1\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendBoolean(o, false, 2); }), ":0\r\n");
}

TEST(WriterTest, Verbatim) {
  EXPECT_EQ(Written([](std::string* o) { AppendVerbatim(o, "hello", 3); }),
            "=9\r\ntxt:hello\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendVerbatim(o, "", 3); }), "=4\r\ntxt:\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendVerbatim(o, "hello", 2); }), "$5\r\nhello\r\n");
}

TEST(WriterTest, Commands) {
  EXPECT_EQ(Written([](std::string* o) { AppendCommand(o, {"SET", "key", "value"}); }),
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  EXPECT_EQ(Written([](std::string* o) { AppendCommand(o, {}); }), "*0\r\n");
  const std::vector<std::string_view> args = {"PING", ""};
  EXPECT_EQ(Written([&](std::string* o) { AppendCommand(o, args); }),
            "*2\r\n$4\r\nPING\r\n$0\r\n\r\n");
}

TEST(WriterTest, AppendsAfterExistingBytes) {
  std::string out = "prefix|";
  AppendSimpleString(&out, "OK");
  AppendInteger(&out, 5);
  AppendBulkString(&out, "x");
  AppendCommand(&out, {"GET", "k"});
  EXPECT_EQ(out, "prefix|+OK\r\n:5\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

}  // namespace
}  // namespace resp
