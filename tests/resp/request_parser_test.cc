#include "resp/request_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "resp/writer.h"
#include "tests/resp/resp_drivers.h"

namespace resp {
namespace {

using testing::RandomReads;
using testing::RequestOutcome;
using testing::Rng;
using testing::RunRequestParser;
using Args = std::vector<std::string>;

struct One {
  ParseStatus status;
  Args args;
  size_t consumed = 0;
  std::string error;
};

// One Parse() call on the whole input.
One ParseOnce(std::string_view input, const Limits& limits = {}) {
  RequestParser parser(limits);
  One one;
  std::vector<std::string_view> args;
  one.status = parser.Parse(input, &one.consumed, &args, &one.error);
  one.args.assign(args.begin(), args.end());
  return one;
}

// The error the input ends in, fed whole and fed byte by byte (they must agree).
std::string ErrorOf(std::string_view input, const Limits& limits = {}) {
  const RequestOutcome whole = RunRequestParser(input, {0}, limits);
  const RequestOutcome bytes = RunRequestParser(input, {1}, limits);
  EXPECT_EQ(whole, bytes) << "input: " << ::testing::PrintToString(std::string(input));
  return whole.error;
}

Limits SmallLimits() {
  Limits limits;
  limits.max_bulk_len = 10;
  limits.max_multibulk_len = 3;
  limits.max_inline_len = 16;
  return limits;
}

// ---------------------------------------------------------------------------
// Multibulk requests

TEST(RequestParserTest, ParsesMultibulk) {
  const One one = ParseOnce("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, (Args{"GET", "key"}));
  EXPECT_EQ(one.consumed, 22u);
}

// client-query-buffer-limit: a bulk and its CRLF must fit.
TEST(RequestParserTest, ABulkPastTheQueryBufferLimitIsAnError) {
  Limits limits;
  limits.query_buffer_limit = 100;
  EXPECT_EQ(ErrorOf("*1\r\n$98\r\n" + std::string(98, 'x') + "\r\n", limits), "");
  EXPECT_EQ(ErrorOf("*1\r\n$99\r\n", limits),
            "Protocol error: a bulk longer than the client-query-buffer-limit (Redis closes the connection)");
  RequestParser parser(limits);
  parser.SetQueryBufferLimit(1000);
  size_t consumed = 0;
  std::vector<std::string_view> args;
  std::string error;
  const std::string big = "*1\r\n$99\r\n" + std::string(99, 'x') + "\r\n";
  EXPECT_EQ(parser.Parse(big, &consumed, &args, &error), ParseStatus::kOk) << error;
}

TEST(RequestParserTest, ConsumesOnlyTheFirstRequest) {
  const std::string input = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
  const One one = ParseOnce(input);
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, Args{"PING"});
  EXPECT_EQ(one.consumed, input.size() / 2);
}

TEST(RequestParserTest, ArgsAreViewsIntoTheInput) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t consumed = 0;
  std::string error;
  ASSERT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kOk);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].data(), input.data() + 8);
  EXPECT_EQ(args[1].data(), input.data() + 17);
}

TEST(RequestParserTest, BinarySafeBulks) {
  std::string arg("a\r\nb\0c*$\n", 10);
  std::string input;
  AppendCommand(&input, {"SET", arg, ""});
  const One one = ParseOnce(input);
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, (Args{"SET", arg, ""}));
  EXPECT_EQ(one.consumed, input.size());
}

TEST(RequestParserTest, EmptyMultibulkIsAnEmptyRequest) {
  for (std::string input : {"*0\r\n", "*-1\r\n", "*-5\r\n"}) {
    const One one = ParseOnce(input + "*1\r\n$1\r\nx\r\n");
    ASSERT_EQ(one.status, ParseStatus::kOk) << input;
    EXPECT_TRUE(one.args.empty());
    EXPECT_EQ(one.consumed, input.size());
  }
}

TEST(RequestParserTest, IncompleteMultibulkNeedsMore) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  for (size_t n = 0; n < input.size(); ++n) {
    RequestParser parser;
    std::vector<std::string_view> args;
    size_t consumed = 0;
    std::string error;
    EXPECT_EQ(parser.Parse(std::string_view(input).substr(0, n), &consumed, &args, &error),
              ParseStatus::kNeedMore)
        << n;
  }
}

// Redis ends a "*<n>" or "$<n>" line at its '\r' and skips the next byte
// unchecked, and skips the two bytes after a bulk payload unchecked.
TEST(RequestParserTest, LikeRedisDoesNotCheckTheByteAfterCr) {
  One one = ParseOnce("*1\rX$1\rYa\r\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, Args{"a"});
  EXPECT_EQ(one.consumed, 11u);

  one = ParseOnce("*1\r\n$1\r\naXY");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, Args{"a"});
  EXPECT_EQ(one.consumed, 11u);
}

TEST(RequestParserTest, PayloadOverrunLeavesTheRestAsTheNextRequest) {
  // "$1" but "ab": Redis takes "a", skips "b\r", and "\n" is an empty inline line.
  const RequestOutcome out = RunRequestParser("*1\r\n$1\r\nab\r\n", {0});
  ASSERT_EQ(out.requests.size(), 2u);
  EXPECT_EQ(out.requests[0], Args{"a"});
  EXPECT_TRUE(out.requests[1].empty());
  EXPECT_EQ(out.sizes, (std::vector<size_t>{11, 1}));
  EXPECT_EQ(out.error, "");
}

TEST(RequestParserTest, HintBytesNeeded) {
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t consumed = 0;
  std::string error;
  std::string input = "*2\r\n$3\r\nSET\r\n$10\r\nabc";
  ASSERT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kNeedMore);
  EXPECT_EQ(parser.HintBytesNeeded(), 9u);  // 7 more payload bytes and CRLF
  input += "defghij\r";
  ASSERT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kNeedMore);
  EXPECT_EQ(parser.HintBytesNeeded(), 1u);
  input += "\n";
  ASSERT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kOk);
  EXPECT_EQ(args[1], "abcdefghij");
  EXPECT_EQ(parser.HintBytesNeeded(), 0u);

  // Unknown while a header line is incomplete.
  ASSERT_EQ(parser.Parse("*2\r\n$3", &consumed, &args, &error), ParseStatus::kNeedMore);
  EXPECT_EQ(parser.HintBytesNeeded(), 0u);
  parser.Reset();
  ASSERT_EQ(parser.Parse("*1\r\n$536870912\r\n", &consumed, &args, &error),
            ParseStatus::kNeedMore);
  EXPECT_EQ(parser.HintBytesNeeded(), 536870914u);
}

TEST(RequestParserTest, ResetForgetsAPartialRequest) {
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t consumed = 0;
  std::string error;
  ASSERT_EQ(parser.Parse("*3\r\n$3\r\nSET\r\n$1", &consumed, &args, &error),
            ParseStatus::kNeedMore);
  parser.Reset();
  ASSERT_EQ(parser.Parse("PING\r\n", &consumed, &args, &error), ParseStatus::kOk);
  EXPECT_EQ(args, std::vector<std::string_view>{"PING"});
}

// ---------------------------------------------------------------------------
// Errors: every text and what triggers it.

TEST(RequestParserErrorTest, InvalidMultibulkLength) {
  const std::string kText = "Protocol error: invalid multibulk length";
  for (std::string count : {"abc", "1x", "+1", "01", "", " 1", "1 ", "-0", "--1", "1.0",
                            "99999999999999999999", "9223372036854775808", "2147483648"}) {
    EXPECT_EQ(ErrorOf("*" + count + "\r\n"), kText) << count;
  }
  // The limit is inclusive, and Redis 7.0's: more than 1024*1024 arguments are
  // fine (regression: the node refused them, where Redis runs SADD with 1.1M members).
  EXPECT_EQ(ErrorOf("*1048577\r\n"), "");
  EXPECT_EQ(ErrorOf("*2147483647\r\n"), "");
  EXPECT_EQ(ErrorOf("*3\r\n", SmallLimits()), "");
  EXPECT_EQ(ErrorOf("*4\r\n", SmallLimits()), kText);
}

TEST(RequestParserErrorTest, InvalidBulkLength) {
  const std::string kText = "Protocol error: invalid bulk length";
  for (std::string len : {"abc", "-1", "-2", "+1", "01", "", "1x", "536870913",
                          "9223372036854775808"}) {
    EXPECT_EQ(ErrorOf("*1\r\n$" + len + "\r\n"), kText) << len;
  }
  EXPECT_EQ(ErrorOf("*1\r\n$536870912\r\n"), "");
  // Later arguments too.
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n$x\r\n"), kText);
  EXPECT_EQ(ErrorOf("*1\r\n$10\r\n0123456789\r\n", SmallLimits()), "");
  EXPECT_EQ(ErrorOf("*1\r\n$11\r\n01234567890\r\n", SmallLimits()), kText);
}

TEST(RequestParserErrorTest, ExpectedDollar) {
  EXPECT_EQ(ErrorOf("*1\r\nGET\r\n"), "Protocol error: expected '$', got 'G'");
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
  EXPECT_EQ(ErrorOf("*1\r\n*1\r\n"), "Protocol error: expected '$', got '*'");
  // CR and LF are shown as spaces, as Redis's addReplyErrorFormat does.
  EXPECT_EQ(ErrorOf("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
  EXPECT_EQ(ErrorOf("*1\r\n\n\r\n"), "Protocol error: expected '$', got ' '");
  // A NUL where '$' belongs hides the line's end (see NulHidesLineEnds).
  EXPECT_EQ(ErrorOf(std::string("*1\r\n\0\r\n", 7)), "");
  EXPECT_EQ(ErrorOf("*1\r\n\xff\r\n"), "Protocol error: expected '$', got '\xff'");
  // Only once the line is complete.
  EXPECT_EQ(ErrorOf("*1\r\nGET"), "");
  EXPECT_EQ(ErrorOf("*1\r\nGET\r"), "");
}

TEST(RequestParserErrorTest, TooBigInlineRequest) {
  const std::string kText = "Protocol error: too big inline request";
  // Default limit: 64 KB before the '\n' is fine, one byte more is not.
  EXPECT_EQ(ErrorOf(std::string(64 * 1024, 'a') + "\n"), "");
  EXPECT_EQ(ErrorOf(std::string(64 * 1024 + 1, 'a') + "\n"), kText);
  EXPECT_EQ(ErrorOf(std::string(64 * 1024, 'a') + "\r\n"), kText);  // the '\r' counts
  EXPECT_EQ(ErrorOf(std::string(64 * 1024, 'a')), "");                // waits
  EXPECT_EQ(ErrorOf(std::string(64 * 1024 + 1, 'a')), kText);          // no need to wait
  const Limits small = SmallLimits();
  EXPECT_EQ(ErrorOf(std::string(16, 'a') + "\n", small), "");
  EXPECT_EQ(ErrorOf(std::string(17, 'a') + "\n", small), kText);
  EXPECT_EQ(ErrorOf("PING\r\n" + std::string(17, 'a'), small), kText);
}

TEST(RequestParserErrorTest, TooBigMbulkCountString) {
  const std::string kText = "Protocol error: too big mbulk count string";
  EXPECT_EQ(ErrorOf("*" + std::string(64 * 1024, '1')), kText);
  EXPECT_EQ(ErrorOf("*" + std::string(64 * 1024 - 1, '1')), "");  // waits
  const Limits small = SmallLimits();
  EXPECT_EQ(ErrorOf("*" + std::string(16, '1'), small), kText);
  EXPECT_EQ(ErrorOf("*" + std::string(16, '1') + "\r\n", small), kText);
  // Shorter lines are read, then found invalid.
  EXPECT_EQ(ErrorOf("*" + std::string(15, '1') + "\r\n", small),
            "Protocol error: invalid multibulk length");
}

TEST(RequestParserErrorTest, TooBigBulkCountString) {
  const std::string kText = "Protocol error: too big bulk count string";
  EXPECT_EQ(ErrorOf("*1\r\n$" + std::string(64 * 1024, '1')), kText);
  EXPECT_EQ(ErrorOf("*1\r\n" + std::string(64 * 1024 + 1, 'x')), kText);
  const Limits small = SmallLimits();
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n$" + std::string(16, '1'), small), kText);
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n$" + std::string(15, '1'), small), "");
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n$" + std::string(15, '1') + "\r\n", small),
            "Protocol error: invalid bulk length");
}

TEST(RequestParserErrorTest, UnbalancedQuotes) {
  const std::string kText = "Protocol error: unbalanced quotes in request";
  for (std::string line : {"SET \"a b", "SET 'a b", "SET \"a\"b", "SET 'a'b", "\"", "'",
                           "SET \"a\\\"", "GET \"abc\\"}) {
    EXPECT_EQ(ErrorOf(line + "\r\n"), kText) << line;
  }
}

// Redis 7.0 searches line ends with strchr(), so a NUL before a line's end hides
// it: the request grows until it is too big. These are the "Protocol desync
// regression" cases of Redis's tests/unit/protocol.tcl, and their variants.
TEST(RequestParserErrorTest, NulHidesLineEnds) {
  auto repeat_to = [](std::string prefix, std::string_view fill, size_t n) {
    while (prefix.size() < n) prefix += fill;
    return prefix;
  };
  const std::string payload = std::string(1024, 'A') + "\n";
  EXPECT_EQ(ErrorOf(repeat_to(std::string("\0", 1), payload, 70 << 10)),
            "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf(repeat_to(std::string("*\0", 2), payload, 70 << 10)),
            "Protocol error: too big mbulk count string");
  EXPECT_EQ(ErrorOf(repeat_to(std::string("$\0", 2), payload, 70 << 10)),
            "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf(repeat_to(std::string("PING\0\n", 6), "A\n", 70 << 10)),
            "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf(repeat_to(std::string("*1\r\n$4\0\r\n", 9), "A\r\n", 70 << 10)),
            "Protocol error: too big bulk count string");
  // Short of the limit, it waits.
  const RequestOutcome waits = RunRequestParser(std::string("GET a\0b\r\nPING\r\n", 16), {0});
  EXPECT_TRUE(waits.requests.empty());
  EXPECT_EQ(waits.error, "");
  EXPECT_EQ(waits.leftover, 16u);
  // A NUL inside a bulk payload is just data.
  const One one = ParseOnce(std::string("*1\r\n$3\r\n\0\0\0\r\n", 13));
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, Args{std::string(3, '\0')});
}

TEST(RequestParserErrorTest, UnauthenticatedLimits) {
  auto error_of = [](std::string_view input, size_t read) {
    RequestParser parser;
    parser.SetAuthenticated(false);
    std::vector<std::string_view> args;
    std::string error;
    size_t consumed = 0;
    ParseStatus status = ParseStatus::kNeedMore;
    size_t have = 0;
    while (status == ParseStatus::kNeedMore && have < input.size()) {
      have = std::min(input.size(), have + read);
      status = parser.Parse(input.substr(0, have), &consumed, &args, &error);
    }
    return status == ParseStatus::kError ? error : std::string("ok");
  };
  for (size_t read : {size_t{1}, size_t{1000000}}) {
    EXPECT_EQ(error_of("*11\r\n", read), "Protocol error: unauthenticated multibulk length");
    std::string ten;
    AppendCommand(&ten, {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"});
    EXPECT_EQ(error_of(ten, read), "ok");
    EXPECT_EQ(error_of("*1\r\n$16385\r\n", read), "Protocol error: unauthenticated bulk length");
    std::string big;
    AppendCommand(&big, {std::string(16384, 'x')});
    EXPECT_EQ(error_of(big, read), "ok");
    // Invalid lengths are reported as such first.
    EXPECT_EQ(error_of("*3000000000\r\n", read), "Protocol error: invalid multibulk length");
    EXPECT_EQ(error_of("*1\r\n$-1\r\n", read), "Protocol error: invalid bulk length");
    // Inline requests have no argument cap.
    EXPECT_EQ(error_of("a b c d e f g h i j k l\r\n", read), "ok");
  }
  // Authenticated again: no caps.
  RequestParser parser;
  parser.SetAuthenticated(false);
  parser.SetAuthenticated(true);
  std::vector<std::string_view> args;
  std::string error;
  size_t consumed = 0;
  EXPECT_EQ(parser.Parse("*11\r\n", &consumed, &args, &error), ParseStatus::kNeedMore);
}

TEST(RequestParserErrorTest, ErrorsAfterGoodRequestsKeepThem) {
  const RequestOutcome out = RunRequestParser("PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n", {1});
  EXPECT_EQ(out.requests, (std::vector<Args>{{"PING"}, {"PING"}}));
  EXPECT_EQ(out.error, "Protocol error: invalid multibulk length");
}

// ---------------------------------------------------------------------------
// Inline requests

TEST(RequestParserInlineTest, ParsesInline) {
  One one = ParseOnce("GET key\r\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, (Args{"GET", "key"}));
  EXPECT_EQ(one.consumed, 9u);

  one = ParseOnce("PING\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, Args{"PING"});
  EXPECT_EQ(one.consumed, 5u);

  one = ParseOnce("  SET\tk   v \r\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, (Args{"SET", "k", "v"}));
}

TEST(RequestParserInlineTest, EmptyLinesAreEmptyRequests) {
  for (std::string line : {"\r\n", "\n", "   \r\n", " \t \n", "\r\r\n"}) {
    const One one = ParseOnce(line + "PING\r\n");
    ASSERT_EQ(one.status, ParseStatus::kOk) << line;
    EXPECT_TRUE(one.args.empty()) << line;
    EXPECT_EQ(one.consumed, line.size());
  }
}

TEST(RequestParserInlineTest, OnlyOneCrIsStripped) {
  // "a\r\r\n": the line is "a\r", and '\r' separates arguments.
  const One one = ParseOnce("a\rb\r\r\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, (Args{"a", "b"}));
}

TEST(RequestParserInlineTest, QuotedArgumentsAreDecoded) {
  const One one = ParseOnce("SET \"a b\\x41\\n\" 'it\\'s'\r\n");
  ASSERT_EQ(one.status, ParseStatus::kOk);
  EXPECT_EQ(one.args, (Args{"SET", "a bA\n", "it's"}));
}

TEST(RequestParserInlineTest, NeedsMoreUntilNewline) {
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t consumed = 0;
  std::string error;
  std::string input = "GET ke";
  EXPECT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kNeedMore);
  input += "y\r";
  EXPECT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kNeedMore);
  input += "\n";
  ASSERT_EQ(parser.Parse(input, &consumed, &args, &error), ParseStatus::kOk);
  EXPECT_EQ(args, (std::vector<std::string_view>{"GET", "key"}));
  EXPECT_EQ(consumed, input.size());
}

TEST(RequestParserInlineTest, QuotedArgsStayValidAcrossMultibulkRequests) {
  const std::string input = "SET \"a b\" c\r\n*1\r\n$4\r\nPING\r\n";
  RequestParser parser;
  std::vector<std::string_view> first;
  std::vector<std::string_view> second;
  size_t consumed = 0;
  std::string error;
  ASSERT_EQ(parser.Parse(input, &consumed, &first, &error), ParseStatus::kOk);
  ASSERT_EQ(parser.Parse(std::string_view(input).substr(consumed), &consumed, &second, &error),
            ParseStatus::kOk);
  EXPECT_EQ(first, (std::vector<std::string_view>{"SET", "a b", "c"}));
  EXPECT_EQ(second, std::vector<std::string_view>{"PING"});
}

// ---------------------------------------------------------------------------
// SplitInlineArgs, case by case against sdssplitargs.

struct SplitCase {
  std::string line;
  bool ok;
  Args args;
};

TEST(SplitInlineArgsTest, MatchesSdssplitargs) {
  const std::vector<SplitCase> cases = {
      {"", true, {}},
      {"   ", true, {}},
      {"a", true, {"a"}},
      {" a  b\tc ", true, {"a", "b", "c"}},
      {"\"a b\" c", true, {"a b", "c"}},
      {"\"\"", true, {""}},
      {"\"\" ''", true, {"", ""}},
      {"\"\\x41\\x4a\\x4A\"", true, {"AJJ"}},
      {"\"\\x4\"", true, {"x4"}},          // not a hex escape: '\x' gives 'x'
      {"\"\\xzz\"", true, {"xzz"}},
      {"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", true, {"\n\r\t\b\a\\\"q"}},
      {"'a\\nb'", true, {"a\\nb"}},        // single quotes keep backslashes
      {"'it\\'s'", true, {"it's"}},
      {"'a\\\\'", false, {}},            // the second backslash escapes the quote
      {"'a\\b'", true, {"a\\b"}},
      {"ab\"cd ef\"", true, {"abcd ef"}},  // a quote inside a bare word opens quoting
      {"ab'c d'", true, {"abc d"}},
      {"\"a\"\tb", true, {"a", "b"}},
      {"\"a\"\vb", true, {"a", "b"}},      // isspace() after a closing quote
      {"a\vb", true, {"a\vb"}},            // but \v does not end a bare word
      {"\va\f", true, {"a\f"}},
      {"a\rb\nc", true, {"a", "b", "c"}},
      {std::string("a\0b c", 5), true, {"a"}},  // a NUL ends the C string
      {"\"abc", false, {}},
      {"'abc", false, {}},
      {"\"a\"b", false, {}},
      {"'a'b", false, {}},
      {"\"a\\\"", false, {}},
      {"x \"", false, {}},
      {std::string("\"a\0\"", 4), false, {}},
  };
  for (const SplitCase& c : cases) {
    std::vector<std::string> out = {"keep"};
    EXPECT_EQ(SplitInlineArgs(c.line, &out), c.ok) << ::testing::PrintToString(c.line);
    Args expected = {"keep"};
    if (c.ok) expected.insert(expected.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(out, expected) << ::testing::PrintToString(c.line);
  }
}

// ---------------------------------------------------------------------------
// Split input gives the same result as whole input.

std::vector<std::string> RequestShapes() {
  std::vector<std::string> shapes;
  std::string s;
  AppendCommand(&s, {"SET", "key", "value"});
  shapes.push_back(s);
  s.clear();
  AppendCommand(&s, {"SET", std::string(1000, 'x'), std::string("\r\n\0", 3)});
  AppendCommand(&s, {""});
  shapes.push_back(s + "PING\r\nGET \"a b\" 'c'\n\r\n\n*0\r\n*-1\r\n");
  shapes.push_back("*1\r\n$4\r\nPING\r\n  \r\nECHO \"\\x00\\xff\"\r\n");
  shapes.push_back("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv");  // incomplete
  shapes.push_back("*2\r\n$3\r\nGET\r\n:1\r\n");               // error
  shapes.push_back("PING\r\n*1\r\n$-3\r\n");
  shapes.push_back("PING\r\nSET \"unbalanced\r\n");
  shapes.push_back("*1\rX$1\rYaZZ*1\r\n$1\r\nb\r\n");
  shapes.push_back(std::string(70000, 'a'));
  shapes.push_back("*" + std::string(70000, '1'));
  shapes.push_back("*1\r\n$" + std::string(70000, '1'));
  shapes.push_back(std::string("\0\r\n*1\r\n$1\r\n\0\r\n", 14));
  return shapes;
}

TEST(RequestParserSplitTest, SplitInputMatchesWholeInput) {
  for (const std::string& shape : RequestShapes()) {
    const RequestOutcome whole = RunRequestParser(shape, {0});
    EXPECT_EQ(RunRequestParser(shape, {1}), whole) << shape.substr(0, 80);
    EXPECT_EQ(RunRequestParser(shape, {2, 3, 5, 7}), whole) << shape.substr(0, 80);
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      EXPECT_EQ(RunRequestParser(shape, RandomReads(seed, 64, 40)), whole) << seed;
    }
  }
}

TEST(RequestParserSplitTest, EveryTwoWayCutMatches) {
  std::string input;
  AppendCommand(&input, {"MSET", "a", "1", "b", "22"});
  input += "GET \"x y\" z\r\n*0\r\n";
  AppendCommand(&input, {"DEL", "a"});
  const RequestOutcome whole = RunRequestParser(input, {0});
  ASSERT_EQ(whole.requests.size(), 4u);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    EXPECT_EQ(RunRequestParser(input, {cut, 0}), whole) << cut;
  }
}

// ---------------------------------------------------------------------------
// Pipelines and large requests.

TEST(RequestParserPipelineTest, ThousandsOfRequests) {
  std::string input;
  std::vector<Args> expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const std::string value(i % 50, static_cast<char>('a' + i % 26));
    if (i % 7 == 3) {
      input += "SET " + key + " \"" + value + "\"\r\n";
    } else {
      AppendCommand(&input, {"SET", key, value});
    }
    expected.push_back({"SET", key, value});
  }
  const RequestOutcome whole = RunRequestParser(input, {0});
  EXPECT_EQ(whole.requests, expected);
  EXPECT_EQ(whole.error, "");
  EXPECT_EQ(whole.leftover, 0u);
  EXPECT_EQ(RunRequestParser(input, {4096}), whole);
  EXPECT_EQ(RunRequestParser(input, RandomReads(7, 1000, 600)), whole);
}

TEST(RequestParserPipelineTest, PipelineParsesInPlaceWithoutCopies) {
  std::string input;
  for (int i = 0; i < 2000; ++i) AppendCommand(&input, {"SET", "k" + std::to_string(i), "v"});
  RequestParser parser;
  std::vector<std::string_view> args;
  std::string error;
  size_t offset = 0;
  int count = 0;
  while (offset < input.size()) {
    size_t consumed = 0;
    std::string_view rest = std::string_view(input).substr(offset);
    ASSERT_EQ(parser.Parse(rest, &consumed, &args, &error), ParseStatus::kOk);
    ASSERT_EQ(args.size(), 3u);
    EXPECT_GE(args[1].data(), rest.data());
    EXPECT_LT(args[1].data(), rest.data() + consumed);
    offset += consumed;
    ++count;
  }
  EXPECT_EQ(count, 2000);
}

// A 100 MB bulk read in 64 KB pieces: the parser must not rescan what it has seen
// (rescanning would take minutes; this takes milliseconds).
TEST(RequestParserPipelineTest, LargeBulkIsNotRescanned) {
  const size_t kSize = 100 * 1024 * 1024;
  std::string input = "*2\r\n$3\r\nSET\r\n$" + std::to_string(kSize) + "\r\n";
  const size_t header = input.size();
  input.resize(header + kSize, 'v');
  input += "\r\n";
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t consumed = 0;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  size_t have = 0;
  ParseStatus status = ParseStatus::kNeedMore;
  size_t calls = 0;
  while (status == ParseStatus::kNeedMore && have < input.size()) {
    have = std::min(input.size(), have + 64 * 1024);
    status = parser.Parse(std::string_view(input).substr(0, have), &consumed, &args, &error);
    ++calls;
    if (status == ParseStatus::kNeedMore && have > header) {
      ASSERT_EQ(parser.HintBytesNeeded(), input.size() - have);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(status, ParseStatus::kOk);
  EXPECT_EQ(consumed, input.size());
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[1].size(), kSize);
  EXPECT_EQ(args[1].data(), input.data() + header);
  EXPECT_GT(calls, 1500u);
  EXPECT_LT(seconds, 1.0);
}

// A long inline line arriving byte by byte is searched once, not once per byte.
TEST(RequestParserPipelineTest, LongInlineLineByteByByte) {
  std::string line = "SET k " + std::string(60000, 'x') + "\r\n";
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t consumed = 0;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  for (size_t n = 1; n < line.size(); ++n) {
    ASSERT_EQ(parser.Parse(std::string_view(line).substr(0, n), &consumed, &args, &error),
              ParseStatus::kNeedMore);
  }
  ASSERT_EQ(parser.Parse(line, &consumed, &args, &error), ParseStatus::kOk);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(args.size(), 3u);
  EXPECT_LT(seconds, 0.5);
}

TEST(RequestParserPipelineTest, ManyArgumentsNearTheLimit) {
  Limits limits;
  limits.max_multibulk_len = 20000;
  std::vector<std::string> owned;
  for (int i = 0; i < 20000; ++i) owned.push_back(std::to_string(i));
  std::vector<std::string_view> views(owned.begin(), owned.end());
  std::string input;
  AppendCommand(&input, views);
  const RequestOutcome out = RunRequestParser(input, RandomReads(3, 500, 300), limits);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0], owned);
  owned.push_back("one too many");
  views.assign(owned.begin(), owned.end());
  input.clear();
  AppendCommand(&input, views);
  EXPECT_EQ(RunRequestParser(input, {0}, limits).error,
            "Protocol error: invalid multibulk length");
}

// ---------------------------------------------------------------------------
// Round trips: AppendCommand -> RequestParser.

TEST(RequestParserRoundTripTest, RandomBinaryCommands) {
  Rng rng(42);
  for (int round = 0; round < 300; ++round) {
    std::vector<Args> commands;
    std::string input;
    const size_t n = 1 + rng.Below(20);
    for (size_t i = 0; i < n; ++i) {
      Args args;
      const size_t argc = 1 + rng.Below(6);
      for (size_t j = 0; j < argc; ++j) {
        std::string arg(rng.Below(rng.Below(4) == 0 ? 3000 : 20), '\0');
        for (char& c : arg) c = static_cast<char>(rng.Below(256));
        args.push_back(std::move(arg));
      }
      std::vector<std::string_view> views(args.begin(), args.end());
      AppendCommand(&input, views);
      commands.push_back(std::move(args));
    }
    const RequestOutcome out = RunRequestParser(input, RandomReads(round, 100, 500));
    EXPECT_EQ(out.requests, commands);
    EXPECT_EQ(out.error, "");
    EXPECT_EQ(out.leftover, 0u);
  }
}

}  // namespace
}  // namespace resp
