#include "resp/reply_scanner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "resp/value.h"
#include "resp/writer.h"
#include "tests/resp/resp_drivers.h"

namespace resp {
namespace {

using testing::RandomReads;
using testing::ReplyOutcome;
using testing::RunReplyScanner;

struct Scanned {
  ParseStatus status;
  size_t length = 0;
  char first = 0;
  std::string error;
};

Scanned ScanOnce(std::string_view input, const Limits& limits = {}) {
  ReplyScanner scanner(limits);
  Scanned s;
  s.status = scanner.Scan(input, &s.length, &s.first, &s.error);
  return s;
}

// One complete value of every type, with the top-level type byte expected.
struct Shape {
  std::string bytes;
  char first;
};

std::vector<Shape> ValueShapes() {
  return {
      {"+OK\r\n", '+'},
      {"+\r\n", '+'},
      {"-ERR wrong number of arguments\r\n", '-'},
      {":0\r\n", ':'},
      {":-9223372036854775808\r\n", ':'},
      {"$3\r\nfoo\r\n", '$'},
      {"$0\r\n\r\n", '$'},
      {"$-1\r\n", '$'},
      {"$6\r\na\r\nb\r\n\r\n", '$'},  // CRLF inside a payload
      {"*-1\r\n", '*'},
      {"*0\r\n", '*'},
      {"*2\r\n$3\r\nfoo\r\n:42\r\n", '*'},
      {"*3\r\n*1\r\n*0\r\n$-1\r\n*2\r\n+a\r\n-b\r\n", '*'},
      {"_\r\n", '_'},
      {",3.14\r\n", ','},
      {",-inf\r\n", ','},
      {"#t\r\n", '#'},
      {"#f\r\n", '#'},
      {"!21\r\nSYNTAX invalid syntax\r\n", '!'},
      {"=15\r\ntxt:Some string\r\n", '='},
      {"(3492890328409238509324850943850943825024385\r\n", '('},
      {"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", '%'},
      {"%0\r\n", '%'},
      {"~3\r\n+a\r\n+b\r\n+c\r\n", '~'},
      {">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n", '>'},
      {"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
       "*2\r\n:2039123\r\n:9543892\r\n",
       '*'},
      {"|0\r\n+OK\r\n", '+'},
      {"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n-ERR x\r\n", '-'},
      {"*3\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n:3\r\n", '*'},
      {"%1\r\n|1\r\n+k\r\n+v\r\n*1\r\n:1\r\n~0\r\n", '%'},
      {"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:5\r\n", '*'},
  };
}

TEST(ReplyScannerTest, ScansEveryType) {
  for (const Shape& shape : ValueShapes()) {
    const Scanned s = ScanOnce(shape.bytes + "+NEXT\r\n");
    ASSERT_EQ(s.status, ParseStatus::kOk) << shape.bytes << s.error;
    EXPECT_EQ(s.length, shape.bytes.size()) << shape.bytes;
    EXPECT_EQ(s.first, shape.first) << shape.bytes;
  }
}

TEST(ReplyScannerTest, EveryProperPrefixNeedsMore) {
  for (const Shape& shape : ValueShapes()) {
    for (size_t n = 0; n < shape.bytes.size(); ++n) {
      EXPECT_EQ(ScanOnce(std::string_view(shape.bytes).substr(0, n)).status,
                ParseStatus::kNeedMore)
          << shape.bytes << " prefix " << n;
    }
  }
}

TEST(ReplyScannerTest, ResumesOnTheSameScanner) {
  for (const Shape& shape : ValueShapes()) {
    ReplyScanner scanner;
    size_t length = 0;
    char first = 0;
    std::string error;
    for (size_t n = 0; n < shape.bytes.size(); ++n) {
      ASSERT_EQ(scanner.Scan(std::string_view(shape.bytes).substr(0, n), &length, &first, &error),
                ParseStatus::kNeedMore);
    }
    ASSERT_EQ(scanner.Scan(shape.bytes, &length, &first, &error), ParseStatus::kOk);
    EXPECT_EQ(length, shape.bytes.size());
    EXPECT_EQ(first, shape.first);
  }
}

TEST(ReplyScannerTest, AgreesWithParseValue) {
  for (const Shape& shape : ValueShapes()) {
    Value value;
    size_t consumed = 0;
    std::string error;
    ASSERT_EQ(ParseValue(shape.bytes, &consumed, &value, &error), ParseStatus::kOk)
        << shape.bytes << error;
    EXPECT_EQ(consumed, shape.bytes.size());
  }
}

TEST(ReplyScannerTest, Errors) {
  const struct {
    std::string input;
    std::string error;
  } cases[] = {
      {"?x\r\n", "Protocol error: unexpected type byte in reply"},
      {"\r\n", "Protocol error: unexpected type byte in reply"},
      {"*1\r\nOK\r\n", "Protocol error: unexpected type byte in reply"},
      {"+OK\rX", "Protocol error: expected CRLF after a line"},
      {"$3\r\nfooXY", "Protocol error: expected CRLF after a bulk string"},
      {"$3\r\nfoo\rX", "Protocol error: expected CRLF after a bulk string"},
      {"$-2\r\n", "Protocol error: invalid bulk length"},
      {"!-1\r\n", "Protocol error: invalid bulk length"},
      {"$abc\r\n", "Protocol error: invalid bulk length"},
      {"$3\rX", "Protocol error: invalid bulk length"},
      {"$" + std::string(30, '1'), "Protocol error: invalid bulk length"},
      {"*-2\r\n", "Protocol error: invalid aggregate length"},
      {"%-1\r\n", "Protocol error: invalid aggregate length"},
      {"~-1\r\n", "Protocol error: invalid aggregate length"},
      {"*?\r\n", "Protocol error: invalid aggregate length"},
      {"%9223372036854775807\r\n", "Protocol error: invalid aggregate length"},
  };
  for (const auto& c : cases) {
    const ReplyOutcome whole = RunReplyScanner(c.input, {0});
    EXPECT_EQ(whole.error, c.error) << c.input;
    EXPECT_EQ(RunReplyScanner(c.input, {1}), whole) << c.input;
  }
}

TEST(ReplyScannerTest, DepthLimit) {
  Limits limits;
  limits.max_reply_depth = 3;
  EXPECT_EQ(ScanOnce("*1\r\n*1\r\n*1\r\n:1\r\n", limits).status, ParseStatus::kOk);
  EXPECT_EQ(ScanOnce("*1\r\n*1\r\n*1\r\n*0\r\n", limits).status, ParseStatus::kOk);
  EXPECT_EQ(ScanOnce("*1\r\n*1\r\n*1\r\n*-1\r\n", limits).status, ParseStatus::kOk);
  const Scanned deep = ScanOnce("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits);
  EXPECT_EQ(deep.status, ParseStatus::kError);
  EXPECT_EQ(deep.error, "Protocol error: reply nested too deeply");
  // Attributes count as a level for their own contents.
  EXPECT_EQ(ScanOnce("*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n", limits).status, ParseStatus::kOk);
  EXPECT_EQ(ScanOnce("*1\r\n*1\r\n|1\r\n*1\r\n:1\r\n+b\r\n:1\r\n", limits).status,
            ParseStatus::kError);

  // The default allows 64 levels.
  std::string nested;
  for (int i = 0; i < 64; ++i) nested += "*1\r\n";
  EXPECT_EQ(ScanOnce(nested + ":1\r\n").status, ParseStatus::kOk);
  EXPECT_EQ(ScanOnce("*1\r\n" + nested + ":1\r\n").status, ParseStatus::kError);
}

TEST(ReplyScannerTest, ErrorResetsTheScanner) {
  ReplyScanner scanner;
  size_t length = 0;
  char first = 0;
  std::string error;
  ASSERT_EQ(scanner.Scan("*2\r\n?", &length, &first, &error), ParseStatus::kError);
  ASSERT_EQ(scanner.Scan("+OK\r\n", &length, &first, &error), ParseStatus::kOk);
  EXPECT_EQ(length, 5u);
  EXPECT_EQ(first, '+');
}

TEST(ReplyScannerTest, ResetForgetsPartialValue) {
  ReplyScanner scanner;
  size_t length = 0;
  char first = 0;
  std::string error;
  ASSERT_EQ(scanner.Scan("*3\r\n:1\r\n", &length, &first, &error), ParseStatus::kNeedMore);
  scanner.Reset();
  ASSERT_EQ(scanner.Scan(":7\r\n", &length, &first, &error), ParseStatus::kOk);
  EXPECT_EQ(length, 4u);
  EXPECT_EQ(first, ':');
}

std::string AllShapesConcatenated() {
  std::string all;
  for (const Shape& shape : ValueShapes()) all += shape.bytes;
  return all;
}

TEST(ReplyScannerSplitTest, SplitInputMatchesWholeInput) {
  const std::string all = AllShapesConcatenated();
  const ReplyOutcome whole = RunReplyScanner(all, {0});
  ASSERT_EQ(whole.replies.size(), ValueShapes().size());
  for (size_t i = 0; i < whole.replies.size(); ++i) {
    EXPECT_EQ(whole.replies[i], ValueShapes()[i].bytes);
    EXPECT_EQ(whole.first_bytes[i], ValueShapes()[i].first);
  }
  EXPECT_EQ(RunReplyScanner(all, {1}), whole);
  EXPECT_EQ(RunReplyScanner(all, {2, 3, 5}), whole);
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    EXPECT_EQ(RunReplyScanner(all, RandomReads(seed, 100, 30)), whole) << seed;
  }
  // Truncated and broken inputs agree too.
  for (size_t cut : {all.size() / 3, all.size() / 2, all.size() - 1}) {
    std::string broken = all.substr(0, cut);
    EXPECT_EQ(RunReplyScanner(broken, {1}), RunReplyScanner(broken, {0}));
    broken += "?garbage\r\n";
    EXPECT_EQ(RunReplyScanner(broken, {1}), RunReplyScanner(broken, {0}));
  }
}

TEST(ReplyScannerSplitTest, EveryTwoWayCutMatches) {
  const std::string all = AllShapesConcatenated();
  const ReplyOutcome whole = RunReplyScanner(all, {0});
  for (size_t cut = 1; cut < all.size(); ++cut) {
    EXPECT_EQ(RunReplyScanner(all, {cut, 0}), whole) << cut;
  }
}

TEST(ReplyScannerPipelineTest, ManyReplies) {
  std::string input;
  std::vector<std::string> expected;
  for (int i = 0; i < 10000; ++i) {
    std::string one;
    switch (i % 5) {
      case 0: AppendSimpleString(&one, "OK"); break;
      case 1: AppendBulkString(&one, std::string(i % 100, 'v')); break;
      case 2: AppendInteger(&one, i); break;
      case 3:
        AppendArrayHeader(&one, 2);
        AppendBulkString(&one, "k");
        AppendNull(&one, 3);
        break;
      case 4: AppendError(&one, "ERR no"); break;
    }
    input += one;
    expected.push_back(one);
  }
  const ReplyOutcome whole = RunReplyScanner(input, {0});
  EXPECT_EQ(whole.replies, expected);
  EXPECT_EQ(RunReplyScanner(input, RandomReads(9, 1000, 1000)), whole);
}

TEST(ReplyScannerPipelineTest, LargeBulkIsNotRescanned) {
  const size_t kSize = 100 * 1024 * 1024;
  std::string input = "$" + std::to_string(kSize) + "\r\n";
  input.resize(input.size() + kSize, 'v');
  input += "\r\n";
  ReplyScanner scanner;
  size_t length = 0;
  char first = 0;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  size_t have = 0;
  ParseStatus status = ParseStatus::kNeedMore;
  while (status == ParseStatus::kNeedMore && have < input.size()) {
    have = std::min(input.size(), have + 64 * 1024);
    status = scanner.Scan(std::string_view(input).substr(0, have), &length, &first, &error);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(status, ParseStatus::kOk);
  EXPECT_EQ(length, input.size());
  EXPECT_LT(seconds, 1.0);
}

TEST(ReplyScannerPipelineTest, LargeArrayByteByByteIsLinear) {
  std::string input;
  AppendArrayHeader(&input, 20000);
  for (int i = 0; i < 20000; ++i) AppendBulkString(&input, "element");
  ReplyScanner scanner;
  size_t length = 0;
  char first = 0;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  for (size_t n = 1; n < input.size(); ++n) {
    ASSERT_EQ(scanner.Scan(std::string_view(input).substr(0, n), &length, &first, &error),
              ParseStatus::kNeedMore);
  }
  ASSERT_EQ(scanner.Scan(input, &length, &first, &error), ParseStatus::kOk);
  EXPECT_EQ(length, input.size());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
            1.0);
}

TEST(ReplyScannerPipelineTest, LongSimpleStringByteByByte) {
  const std::string input = "-" + std::string(100000, 'e') + "\r\n";
  ReplyScanner scanner;
  size_t length = 0;
  char first = 0;
  std::string error;
  for (size_t n = 1; n < input.size(); ++n) {
    ASSERT_EQ(scanner.Scan(std::string_view(input).substr(0, n), &length, &first, &error),
              ParseStatus::kNeedMore);
  }
  ASSERT_EQ(scanner.Scan(input, &length, &first, &error), ParseStatus::kOk);
  EXPECT_EQ(length, input.size());
  EXPECT_EQ(first, '-');
}

// EXEC's reply with some elements rewritten (the node's rewrites of the
// replies of queued requests): the others byte for byte, nested aggregates
// scanned whole; a transaction that did not run, or refused, as it is.
TEST(WithElementsRewrittenTest, RewritesOnlyWhatItIsAskedTo) {
  const std::string scan = "*2\r\n$2\r\n12\r\n*0\r\n", map = "%1\r\n+a\r\n-ERR x\r\n";
  const std::string exec = "*4\r\n+OK\r\n" + scan + ":3\r\n" + map;
  auto bulk = [](std::string_view v) { return absl::StrCat("$", v.size(), "\r\n", std::string(v), "\r\n"); };
  std::vector<std::pair<size_t, char>> seen;
  const std::string out = WithElementsRewritten(exec, [&](size_t i, std::string_view element, char type) {
    seen.emplace_back(i, type);
    return i == 1 || i == 3 ? std::optional<std::string>(bulk(element)) : std::optional<std::string>();
  });
  EXPECT_EQ(out, "*4\r\n+OK\r\n" + bulk(scan) + ":3\r\n" + bulk(map));
  EXPECT_EQ(seen, (std::vector<std::pair<size_t, char>>{{0, '+'}, {1, '*'}, {2, ':'}, {3, '%'}}));
  auto everything = [](size_t, std::string_view, char) { return std::optional<std::string>("+X\r\n"); };
  for (const std::string& as_is : {std::string("*-1\r\n"), std::string("-EXECABORT Transaction discarded\r\n"),
                                   std::string("*2\r\n+OK\r\n$5\r\nab")}) {
    EXPECT_EQ(WithElementsRewritten(as_is, everything), as_is);
  }
}

}  // namespace
}  // namespace resp
