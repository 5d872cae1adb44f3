// Client request parsing with redis-server's rules (networking.c,
// processMultibulkBuffer / processInlineBuffer), made independent of how the
// input is split into reads:
//
// - Redis reports "too big ..." when more than PROTO_INLINE_MAX_SIZE bytes are
//   buffered and no line end is among them, which depends on read sizes. Here
//   the limit applies to the line itself: a line whose end lies more than
//   max_inline_len bytes after its start is rejected however it arrives (that is
//   what Redis does when the bytes trickle in).
// - Redis 7.0 finds line ends with strchr() on its NUL-terminated query buffer,
//   so a NUL byte before a line's end hides that end for good: the request can
//   only grow until it is "too big". We do the same (Redis's own protocol tests
//   rely on it: a stray NUL must end in a protocol error, not desynchronize).
// - Like Redis, a "*<n>" / "$<n>" line ends at the first '\r', and the byte after
//   it is skipped without being checked; the two bytes after a bulk's payload are
//   skipped unchecked too.
#include "resp/request_parser.h"

#include <algorithm>
#include <cstring>

#include "resp/internal.h"

namespace resp {
namespace {

constexpr std::string_view kInvalidMultibulkLength = "Protocol error: invalid multibulk length";
constexpr std::string_view kInvalidBulkLength = "Protocol error: invalid bulk length";
constexpr std::string_view kTooBigInline = "Protocol error: too big inline request";
constexpr std::string_view kTooBigMbulkCount = "Protocol error: too big mbulk count string";
constexpr std::string_view kTooBigBulkCount = "Protocol error: too big bulk count string";
constexpr std::string_view kQueryBufferLimit =
    "Protocol error: a bulk longer than the client-query-buffer-limit (Redis closes the connection)";
constexpr std::string_view kUnbalancedQuotes = "Protocol error: unbalanced quotes in request";
constexpr std::string_view kUnauthenticatedMultibulkLength =
    "Protocol error: unauthenticated multibulk length";
constexpr std::string_view kUnauthenticatedBulkLength = "Protocol error: unauthenticated bulk length";

constexpr size_t kNpos = std::string_view::npos;

// The text Redis sends for a bulk header that does not start with '$'. Redis
// formats it with %c and maps CR and LF to spaces. (The byte is never NUL: a NUL
// would have hidden the header's end.)
std::string ExpectedDollarError(char got) {
  std::string text = "Protocol error: expected '$', got '";
  text.push_back(got == '\r' || got == '\n' ? ' ' : got);
  text.push_back('\'');
  return text;
}

// C isspace() in the "C" locale, which sdssplitargs uses between arguments.
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The characters that end an unquoted argument in sdssplitargs (\v and \f do not).
inline bool EndsBareArg(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

inline bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Splits a line holding no quotes, NULs or backslash escapes into views (the
// common inline case: "PING", "GET key").
void SplitPlain(std::string_view line, std::vector<std::string_view>* out) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return;
    const size_t start = i;
    while (i < n && !EndsBareArg(line[i])) ++i;
    out->emplace_back(line.data() + start, i - start);
  }
}

// The line as sdssplitargs sees it: a C string, so '\0' past its end.
struct CText {
  std::string_view s;
  char operator[](size_t i) const { return i < s.size() ? s[i] : '\0'; }
};

// What one step inside a quoted argument found: a byte of it (taken), its
// closing quote, or a quote that does not end the argument / no closing quote.
enum class QuotedStep { kByte, kClosed, kInvalid };

// The closing quote at p must be followed by a space or the end.
QuotedStep Closing(CText t, size_t p) {
  return t[p + 1] == '\0' || IsSpace(t[p + 1]) ? QuotedStep::kClosed : QuotedStep::kInvalid;
}

char Unescaped(char e) {
  switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return e;
  }
}

// Inside "...": \xHH, a backslash escape, the closing quote, or a byte.
QuotedStep DoubleQuoted(CText t, size_t* p, std::string* current) {
  const char c = t[*p];
  if (c == '\\' && t[*p + 1] == 'x' && IsHexDigit(t[*p + 2]) && IsHexDigit(t[*p + 3])) {
    current->push_back(static_cast<char>(HexValue(t[*p + 2]) * 16 + HexValue(t[*p + 3])));
    *p += 3;
    return QuotedStep::kByte;
  }
  if (c == '\\' && t[*p + 1] != '\0') {
    ++*p;
    current->push_back(Unescaped(t[*p]));
    return QuotedStep::kByte;
  }
  if (c == '"') return Closing(t, *p);
  if (c == '\0') return QuotedStep::kInvalid;
  current->push_back(c);
  return QuotedStep::kByte;
}

// Inside '...': only \' is an escape.
QuotedStep SingleQuoted(CText t, size_t* p, std::string* current) {
  const char c = t[*p];
  if (c == '\\' && t[*p + 1] == '\'') {
    ++*p;
    current->push_back('\'');
    return QuotedStep::kByte;
  }
  if (c == '\'') return Closing(t, *p);
  if (c == '\0') return QuotedStep::kInvalid;
  current->push_back(c);
  return QuotedStep::kByte;
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  // sdssplitargs works on a C string: a NUL ends the input.
  if (const void* nul = std::memchr(line.data(), '\0', line.size())) {
    line = line.substr(0, static_cast<const char*>(nul) - line.data());
  }
  const size_t original_size = out->size();
  const size_t n = line.size();
  const CText t{line};
  size_t p = 0;
  while (true) {
    while (p < n && IsSpace(line[p])) ++p;
    if (p >= n) return true;
    std::string current;
    enum class Mode { kBare, kDouble, kSingle } mode = Mode::kBare;
    bool done = false;
    while (!done) {
      QuotedStep step = QuotedStep::kByte;
      if (mode == Mode::kDouble) {
        step = DoubleQuoted(t, &p, &current);
      } else if (mode == Mode::kSingle) {
        step = SingleQuoted(t, &p, &current);
      } else if (const char c = t[p]; c == '"' || c == '\'') {
        mode = c == '"' ? Mode::kDouble : Mode::kSingle;  // even inside an argument, as Redis does
      } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0') {
        done = true;  // not \v or \f: those a bare argument keeps, as Redis's does
      } else {
        current.push_back(c);
      }
      if (step == QuotedStep::kInvalid) {
        out->resize(original_size);
        return false;
      }
      done = done || step == QuotedStep::kClosed;
      if (p < n) ++p;
    }
    out->push_back(std::move(current));
  }
}

RequestParser::RequestParser(Limits limits) : limits_(limits) {}

void RequestParser::Reset() {
  mode_ = Mode::kUnknown;
  line_end_hidden_ = false;
  multibulk_remaining_ = -1;
  bulk_len_ = -1;
  pos_ = 0;
  scan_pos_ = 0;
  last_size_ = 0;
  arg_spans_.clear();
}

size_t RequestParser::HintBytesNeeded() const {
  if (mode_ != Mode::kMultibulk || bulk_len_ < 0) return 0;
  const size_t want = static_cast<size_t>(bulk_len_) + 2;
  const size_t have = last_size_ > pos_ ? last_size_ - pos_ : 0;
  return want > have ? want - have : 0;
}

ParseStatus RequestParser::Fail(std::string* error, std::string_view text) {
  error->assign(text);
  Reset();
  return ParseStatus::kError;
}

RequestParser::LineEnd RequestParser::FindLineEnd(std::string_view data, char terminator,
                                                  size_t* at) {
  if (line_end_hidden_) return LineEnd::kHidden;
  const size_t n = data.size();
  size_t i = scan_pos_;
  // Header lines are a few bytes long: a plain loop beats two memchr calls.
  for (const size_t short_end = std::min(n, i + 16); i < short_end; ++i) {
    if (data[i] == terminator) {
      *at = i;
      return LineEnd::kFound;
    }
    if (data[i] == '\0') {
      line_end_hidden_ = true;
      return LineEnd::kHidden;
    }
  }
  if (i < n) {
    const size_t found = internal::FindByte(data, i, terminator);
    const size_t end = found == kNpos ? n : found;
    if (std::memchr(data.data() + i, '\0', end - i) != nullptr) {
      line_end_hidden_ = true;
      return LineEnd::kHidden;
    }
    if (found != kNpos) {
      *at = found;
      return LineEnd::kFound;
    }
  }
  scan_pos_ = n;
  return LineEnd::kNotYet;
}

ParseStatus RequestParser::Parse(std::string_view data, size_t* consumed,
                                 std::vector<std::string_view>* args, std::string* error) {
  last_size_ = data.size();
  if (mode_ == Mode::kUnknown) {
    if (data.empty()) return ParseStatus::kNeedMore;
    mode_ = data[0] == '*' ? Mode::kMultibulk : Mode::kInline;
  }
  if (mode_ == Mode::kMultibulk) return ParseMultibulk(data, consumed, args, error);
  return ParseInline(data, consumed, args, error);
}

ParseStatus RequestParser::ParseInline(std::string_view data, size_t* consumed,
                                       std::vector<std::string_view>* args,
                                       std::string* error) {
  size_t newline = 0;
  if (FindLineEnd(data, '\n', &newline) != LineEnd::kFound) {
    if (data.size() > limits_.max_inline_len) return Fail(error, kTooBigInline);
    return ParseStatus::kNeedMore;
  }
  if (newline > limits_.max_inline_len) return Fail(error, kTooBigInline);

  std::string_view line = data.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  args->clear();
  bool plain = true;  // no quotes: sdssplitargs just splits at blanks
  for (char c : line) {
    if (c == '"' || c == '\'') {
      plain = false;
      break;
    }
  }
  if (plain) {
    SplitPlain(line, args);
  } else {
    inline_args_.clear();
    if (!SplitInlineArgs(line, &inline_args_)) return Fail(error, kUnbalancedQuotes);
    for (const std::string& arg : inline_args_) args->emplace_back(arg);
  }
  *consumed = newline + 1;
  Reset();
  return ParseStatus::kOk;
}

ParseStatus RequestParser::ParseMultibulk(std::string_view data, size_t* consumed,
                                          std::vector<std::string_view>* args,
                                          std::string* error) {
  if (multibulk_remaining_ < 0) {
    // "*<count>\r\n": the line ends at the first '\r' and needs one more byte.
    size_t cr = 0;
    if (FindLineEnd(data, '\r', &cr) != LineEnd::kFound) {
      if (data.size() > limits_.max_inline_len) return Fail(error, kTooBigMbulkCount);
      return ParseStatus::kNeedMore;
    }
    if (cr > limits_.max_inline_len) return Fail(error, kTooBigMbulkCount);
    if (cr + 1 >= data.size()) {
      scan_pos_ = cr;
      return ParseStatus::kNeedMore;
    }
    int64_t count = 0;
    if (!internal::ParseStrictInt64(data.substr(1, cr - 1), &count) ||
        count > limits_.max_multibulk_len) {
      return Fail(error, kInvalidMultibulkLength);
    }
    if (!authenticated_ && count > limits_.max_unauthenticated_multibulk_len) {
      return Fail(error, kUnauthenticatedMultibulkLength);
    }
    pos_ = cr + 2;
    if (count <= 0) {
      // "*0" and "*-1" are empty requests, which Redis skips.
      args->clear();
      *consumed = pos_;
      Reset();
      return ParseStatus::kOk;
    }
    multibulk_remaining_ = count;
    bulk_len_ = -1;
    scan_pos_ = pos_;
    arg_spans_.clear();
    arg_spans_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
  }

  while (multibulk_remaining_ > 0) {
    if (bulk_len_ < 0) {
      // "$<len>\r\n"
      size_t cr = 0;
      if (FindLineEnd(data, '\r', &cr) != LineEnd::kFound) {
        if (data.size() - pos_ > limits_.max_inline_len) return Fail(error, kTooBigBulkCount);
        return ParseStatus::kNeedMore;
      }
      if (cr - pos_ > limits_.max_inline_len) return Fail(error, kTooBigBulkCount);
      if (cr + 1 >= data.size()) {
        scan_pos_ = cr;
        return ParseStatus::kNeedMore;
      }
      if (data[pos_] != '$') return Fail(error, ExpectedDollarError(data[pos_]));
      int64_t len = 0;
      if (!internal::ParseStrictInt64(data.substr(pos_ + 1, cr - pos_ - 1), &len) || len < 0 ||
          len > limits_.max_bulk_len) {
        return Fail(error, kInvalidBulkLength);
      }
      if (len > limits_.query_buffer_limit - 2) return Fail(error, kQueryBufferLimit);
      if (!authenticated_ && len > limits_.max_unauthenticated_bulk_len) {
        return Fail(error, kUnauthenticatedBulkLength);
      }
      pos_ = cr + 2;
      bulk_len_ = len;
    }
    // The payload and the two bytes after it (not checked, as in Redis).
    const size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (data.size() - pos_ < need) return ParseStatus::kNeedMore;
    arg_spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += need;
    scan_pos_ = pos_;
    bulk_len_ = -1;
    --multibulk_remaining_;
  }

  args->clear();
  args->reserve(arg_spans_.size());
  for (const auto& [offset, length] : arg_spans_) args->emplace_back(data.data() + offset, length);
  *consumed = pos_;
  Reset();
  return ParseStatus::kOk;
}

}  // namespace resp
