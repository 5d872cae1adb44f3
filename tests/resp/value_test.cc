#include "resp/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "resp/writer.h"

namespace resp {
namespace {

Value Parse(std::string_view input, const Limits& limits = {}) {
  Value value;
  size_t consumed = 0;
  std::string error;
  const ParseStatus status = ParseValue(input, &consumed, &value, &error, limits);
  EXPECT_EQ(status, ParseStatus::kOk) << input << ": " << error;
  EXPECT_EQ(consumed, input.size()) << input;
  return value;
}

std::string ErrorOf(std::string_view input, const Limits& limits = {}) {
  Value value;
  size_t consumed = 0;
  std::string error;
  EXPECT_EQ(ParseValue(input, &consumed, &value, &error, limits), ParseStatus::kError) << input;
  return error;
}

TEST(ValueTest, Scalars) {
  Value v = Parse("+OK\r\n");
  EXPECT_EQ(v.type, Type::kSimpleString);
  EXPECT_EQ(v.str, "OK");
  EXPECT_FALSE(v.IsError());

  v = Parse("-ERR bad\r\n");
  EXPECT_EQ(v.type, Type::kError);
  EXPECT_EQ(v.str, "ERR bad");
  EXPECT_TRUE(v.IsError());

  v = Parse(":-42\r\n");
  EXPECT_EQ(v.type, Type::kInteger);
  EXPECT_EQ(v.integer, -42);
  EXPECT_EQ(v.AsString(), "-42");

  v = Parse("$5\r\na\r\nbc\r\n");
  EXPECT_EQ(v.type, Type::kBulkString);
  EXPECT_EQ(v.str, "a\r\nbc");

  v = Parse("$0\r\n\r\n");
  EXPECT_EQ(v.type, Type::kBulkString);
  EXPECT_EQ(v.str, "");
}

TEST(ValueTest, Nulls) {
  for (std::string input : {"$-1\r\n", "*-1\r\n", "_\r\n"}) {
    const Value v = Parse(input);
    EXPECT_EQ(v.type, Type::kNull) << input;
    EXPECT_EQ(v.AsString(), "");
  }
}

TEST(ValueTest, Resp3Scalars) {
  Value v = Parse("!21\r\nSYNTAX invalid syntax\r\n");
  EXPECT_EQ(v.type, Type::kError);
  EXPECT_EQ(v.str, "SYNTAX invalid syntax");

  v = Parse("=15\r\ntxt:Some string\r\n");
  EXPECT_EQ(v.type, Type::kBulkString);
  EXPECT_EQ(v.str, "Some string");

  v = Parse("=4\r\nmkd:\r\n");
  EXPECT_EQ(v.type, Type::kBulkString);
  EXPECT_EQ(v.str, "");

  v = Parse("#t\r\n");
  EXPECT_EQ(v.type, Type::kBoolean);
  EXPECT_EQ(v.integer, 1);
  EXPECT_EQ(v.AsString(), "1");
  v = Parse("#f\r\n");
  EXPECT_EQ(v.integer, 0);

  v = Parse("(3492890328409238509324850943850943825024385\r\n");
  EXPECT_EQ(v.type, Type::kBigNumber);
  EXPECT_EQ(v.str, "3492890328409238509324850943850943825024385");
  EXPECT_EQ(Parse("(-12\r\n").str, "-12");
}

TEST(ValueTest, Doubles) {
  Value v = Parse(",3.14\r\n");
  EXPECT_EQ(v.type, Type::kDouble);
  EXPECT_EQ(v.str, "3.14");
  EXPECT_DOUBLE_EQ(v.dbl, 3.14);
  EXPECT_EQ(v.AsString(), "3.14");

  EXPECT_DOUBLE_EQ(Parse(",-1.5e10\r\n").dbl, -1.5e10);
  EXPECT_DOUBLE_EQ(Parse(",10\r\n").dbl, 10);
  EXPECT_TRUE(std::isinf(Parse(",inf\r\n").dbl));
  EXPECT_GT(Parse(",inf\r\n").dbl, 0);
  EXPECT_LT(Parse(",-inf\r\n").dbl, 0);
  EXPECT_TRUE(std::isnan(Parse(",nan\r\n").dbl));
  EXPECT_TRUE(std::isnan(Parse(",-nan\r\n").dbl));
  EXPECT_EQ(Parse(",0.10000000000000001\r\n").dbl, 0.1);
}

TEST(ValueTest, Aggregates) {
  Value v = Parse("*3\r\n:1\r\n$1\r\na\r\n*0\r\n");
  ASSERT_EQ(v.type, Type::kArray);
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].integer, 1);
  EXPECT_EQ(v.elements[1].str, "a");
  EXPECT_EQ(v.elements[2].type, Type::kArray);
  EXPECT_TRUE(v.elements[2].elements.empty());
  EXPECT_FALSE(v.is_push);
  EXPECT_EQ(v.AsString(), "");

  v = Parse("%2\r\n+first\r\n:1\r\n+second\r\n#f\r\n");
  ASSERT_EQ(v.type, Type::kMap);
  ASSERT_EQ(v.elements.size(), 4u);
  EXPECT_EQ(v.elements[0].str, "first");
  EXPECT_EQ(v.elements[1].integer, 1);
  EXPECT_EQ(v.elements[2].str, "second");
  EXPECT_EQ(v.elements[3].type, Type::kBoolean);

  v = Parse("~2\r\n+a\r\n+b\r\n");
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_FALSE(v.is_push);
  EXPECT_EQ(v.elements.size(), 2u);

  v = Parse(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_TRUE(v.is_push);
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[2].str, "hi");
}

TEST(ValueTest, AttributesAreDropped) {
  Value v = Parse("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n:2\r\n");
  ASSERT_EQ(v.type, Type::kArray);
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[1].integer, 2);

  v = Parse("*2\r\n|1\r\n+ttl\r\n:10\r\n+a\r\n|0\r\n+b\r\n");
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].str, "a");
  EXPECT_EQ(v.elements[1].str, "b");

  v = Parse("|1\r\n+x\r\n+y\r\n|1\r\n+z\r\n+w\r\n:7\r\n");
  EXPECT_EQ(v.integer, 7);
}

TEST(ValueTest, RoleReplyOfAMaster) {
  const Value v = Parse(
      "*3\r\n$6\r\nmaster\r\n:3129659\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n"
      "$7\r\n3129242\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9002\r\n$7\r\n3129543\r\n");
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].AsString(), "master");
  EXPECT_EQ(v.elements[1].integer, 3129659);
  ASSERT_EQ(v.elements[2].elements.size(), 2u);
  EXPECT_EQ(v.elements[2].elements[1].elements[1].AsString(), "9002");
}

TEST(ValueTest, HelloReplyInResp3) {
  std::string reply;
  AppendMapHeader(&reply, 3, 3);
  AppendBulkString(&reply, "server");
  AppendBulkString(&reply, "redis");
  AppendBulkString(&reply, "proto");
  AppendInteger(&reply, 3);
  AppendBulkString(&reply, "modules");
  AppendArrayHeader(&reply, 0);
  const Value v = Parse(reply);
  ASSERT_EQ(v.type, Type::kMap);
  ASSERT_EQ(v.elements.size(), 6u);
  EXPECT_EQ(v.elements[3].integer, 3);
  EXPECT_EQ(v.elements[5].type, Type::kArray);
}

TEST(ValueTest, WriterRoundTrips) {
  for (int proto : {2, 3}) {
    std::string out;
    AppendArrayHeader(&out, 9);
    AppendSimpleString(&out, "OK");
    AppendError(&out, "ERR x");
    AppendInteger(&out, -5);
    AppendBulkString(&out, std::string("\0\r\n", 3));
    AppendNull(&out, proto);
    AppendDouble(&out, 0.25, proto);
    AppendBoolean(&out, true, proto);
    AppendVerbatim(&out, "text", proto);
    AppendSetHeader(&out, 1, proto);
    AppendNullArray(&out, proto);
    const Value v = Parse(out);
    ASSERT_EQ(v.elements.size(), 9u);
    EXPECT_EQ(v.elements[0].AsString(), "OK");
    EXPECT_TRUE(v.elements[1].IsError());
    EXPECT_EQ(v.elements[2].integer, -5);
    EXPECT_EQ(v.elements[3].str, std::string("\0\r\n", 3));
    EXPECT_EQ(v.elements[4].type, Type::kNull);
    EXPECT_EQ(v.elements[5].AsString(), "0.25");
    EXPECT_EQ(v.elements[6].AsString(), "1");
    EXPECT_EQ(v.elements[7].AsString(), "text");
    ASSERT_EQ(v.elements[8].elements.size(), 1u);
    EXPECT_EQ(v.elements[8].elements[0].type, Type::kNull);
  }
}

TEST(ValueTest, IncompleteNeedsMore) {
  const std::string input = "|1\r\n+a\r\n+b\r\n%2\r\n+k\r\n*2\r\n:1\r\n$3\r\nabc\r\n=5\r\ntxt:x\r\n,1.5\r\n";
  Value full = Parse(input);
  for (size_t n = 0; n < input.size(); ++n) {
    Value v;
    size_t consumed = 0;
    std::string error;
    EXPECT_EQ(ParseValue(std::string_view(input).substr(0, n), &consumed, &v, &error),
              ParseStatus::kNeedMore)
        << n;
  }
}

TEST(ValueTest, HugeCountsDoNotAllocate) {
  Value v;
  size_t consumed = 0;
  std::string error;
  EXPECT_EQ(ParseValue("*2000000000\r\n:1\r\n", &consumed, &v, &error), ParseStatus::kNeedMore);
  EXPECT_EQ(ParseValue("%4611686018427387903\r\n", &consumed, &v, &error),
            ParseStatus::kNeedMore);
  EXPECT_EQ(ParseValue("$9223372036854775807\r\nab", &consumed, &v, &error),
            ParseStatus::kNeedMore);
}

TEST(ValueTest, Errors) {
  EXPECT_EQ(ErrorOf("?\r\n"), "Protocol error: unexpected type byte in reply");
  EXPECT_EQ(ErrorOf(":abc\r\n"), "Protocol error: invalid integer");
  EXPECT_EQ(ErrorOf(":1\rx"), "Protocol error: expected CRLF after a line");
  EXPECT_EQ(ErrorOf("_x\r\n"), "Protocol error: invalid null");
  EXPECT_EQ(ErrorOf(",abc\r\n"), "Protocol error: invalid double");
  EXPECT_EQ(ErrorOf(",\r\n"), "Protocol error: invalid double");
  EXPECT_EQ(ErrorOf("#x\r\n"), "Protocol error: invalid boolean");
  EXPECT_EQ(ErrorOf("(12a\r\n"), "Protocol error: invalid big number");
  EXPECT_EQ(ErrorOf("(\r\n"), "Protocol error: invalid big number");
  EXPECT_EQ(ErrorOf("$x\r\n"), "Protocol error: invalid length");
  EXPECT_EQ(ErrorOf("$-2\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("!-1\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("$3\r\nabcde"), "Protocol error: expected CRLF after a bulk string");
  EXPECT_EQ(ErrorOf("=3\r\nabc\r\n"), "Protocol error: invalid verbatim string");
  EXPECT_EQ(ErrorOf("=5\r\ntxt-x\r\n"), "Protocol error: invalid verbatim string");
  EXPECT_EQ(ErrorOf("*-2\r\n"), "Protocol error: invalid aggregate length");
  EXPECT_EQ(ErrorOf("~-1\r\n"), "Protocol error: invalid aggregate length");
  EXPECT_EQ(ErrorOf("|-1\r\n"), "Protocol error: invalid attribute length");
  EXPECT_EQ(ErrorOf("*2\r\n:1\r\n?\r\n"), "Protocol error: unexpected type byte in reply");
}

TEST(ValueTest, DepthLimit) {
  Limits limits;
  limits.max_reply_depth = 2;
  Parse("*1\r\n*1\r\n:1\r\n", limits);
  Parse("*1\r\n*1\r\n*0\r\n", limits);
  EXPECT_EQ(ErrorOf("*1\r\n*1\r\n*1\r\n:1\r\n", limits), "Protocol error: reply nested too deeply");
  EXPECT_EQ(ErrorOf("*1\r\n*1\r\n|1\r\n:1\r\n:1\r\n:1\r\n", limits),
            "Protocol error: reply nested too deeply");
  // Deep nesting with the default limit fails cleanly instead of overflowing the stack.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "*1\r\n";
  EXPECT_EQ(ErrorOf(deep + ":1\r\n"), "Protocol error: reply nested too deeply");
  std::string attrs;
  for (int i = 0; i < 100000; ++i) attrs += "|0\r\n";
  Parse(attrs + ":1\r\n");
}

TEST(ValueTest, AsString) {
  Value v;
  EXPECT_EQ(v.AsString(), "");  // default: null
  v.type = Type::kBigNumber;
  v.str = "123";
  EXPECT_EQ(v.AsString(), "123");
  v.type = Type::kMap;
  EXPECT_EQ(v.AsString(), "");
  v.type = Type::kInteger;
  v.integer = INT64_MIN;
  EXPECT_EQ(v.AsString(), "-9223372036854775808");
}

}  // namespace
}  // namespace resp
