// Finds the end of one RESP value. The scanner keeps, across calls, the offset of
// the first element not yet complete and a stack of open aggregates, so each byte
// is examined about once however the reply is split into reads. Bulk payloads are
// never looked at: only their length and the CRLF after them.
#include "resp/reply_scanner.h"

#include <algorithm>
#include <optional>

#include "absl/base/attributes.h"
#include "absl/strings/numbers.h"

#include "resp/internal.h"

namespace resp {
namespace {

constexpr size_t kNpos = std::string_view::npos;
// "-9223372036854775808" is 20 bytes: a longer length line is not a length.
constexpr size_t kMaxLengthDigits = 20;

enum class HeaderResult { kOk, kNeedMore, kError };

// Reads the "<type><n>\r\n" line at data[pos]; *after is the offset past its CRLF.
HeaderResult ReadLengthLine(std::string_view data, size_t pos, int64_t* n, size_t* after) {
  const size_t limit = pos + 1 + kMaxLengthDigits + 1;  // room for the digits and '\r'
  std::string_view window = data.substr(0, std::min(data.size(), limit));
  const size_t cr = internal::FindByte(window, pos + 1, '\r');
  if (cr == kNpos) {
    return data.size() >= limit ? HeaderResult::kError : HeaderResult::kNeedMore;
  }
  if (cr + 1 >= data.size()) return HeaderResult::kNeedMore;
  if (data[cr + 1] != '\n') return HeaderResult::kError;
  if (!internal::ParseStrictInt64(data.substr(pos + 1, cr - pos - 1), n)) {
    return HeaderResult::kError;
  }
  *after = cr + 2;
  return HeaderResult::kOk;
}

}  // namespace

ReplyScanner::ReplyScanner(Limits limits) : limits_(limits) {
  remaining_.reserve(8);
}

void ReplyScanner::Reset() {
  pos_ = 0;
  scan_pos_ = 0;
  remaining_.clear();
  top_type_ = 0;
}

bool ReplyScanner::ElementDone() {
  while (!remaining_.empty()) {
    Level& level = remaining_.back();
    if (--level.remaining > 0) return false;
    const bool attribute = level.attribute;
    remaining_.pop_back();
    // An attribute's pairs are read; the value it annotates takes the slot.
    if (attribute) return false;
  }
  return true;
}

// The three kinds of value are scanned in their own functions, inlined into
// Scan's loop: as calls they made scanning 1000 mixed replies ~30% slower.

// A one-line value: up to its CRLF, found by a search that resumes where the
// last read's data ended.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline ReplyScanner::Step ReplyScanner::ScanLine(std::string_view data) {
  const size_t cr = internal::FindByte(data, std::max(scan_pos_, pos_ + 1), '\r');
  if (cr == kNpos) {
    scan_pos_ = data.size();
    return {Step::kNeedMore};
  }
  if (cr + 1 >= data.size()) {
    scan_pos_ = cr;
    return {Step::kNeedMore};
  }
  if (data[cr + 1] != '\n') return Step::Error("Protocol error: expected CRLF after a line");
  pos_ = cr + 2;
  scan_pos_ = pos_;
  return {Step::kElement};
}

// The "<type><n>\r\n" line at pos_, into *n and *after (the offset past its
// CRLF); a step to return instead when it is incomplete or not a length.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline std::optional<ReplyScanner::Step> ReplyScanner::LengthLine(
    std::string_view data, const char* invalid, int64_t* n, size_t* after) {
  switch (ReadLengthLine(data, pos_, n, after)) {
    case HeaderResult::kNeedMore:
      return Step{Step::kNeedMore};
    case HeaderResult::kError:
      return Step::Error(invalid);
    case HeaderResult::kOk:
      break;
  }
  return std::nullopt;
}

// A bulk value (string, error, verbatim): its length line, then the payload
// skipped unread, then its CRLF.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline ReplyScanner::Step ReplyScanner::ScanBulk(std::string_view data, char type) {
  int64_t len = 0;
  size_t after = 0;
  if (auto stop = LengthLine(data, "Protocol error: invalid bulk length", &len, &after)) return *stop;
  if (len == -1 && type == '$') {  // RESP2 null bulk
    pos_ = after;
  } else {
    if (len < 0) return Step::Error("Protocol error: invalid bulk length");
    const size_t end = after + static_cast<size_t>(len);
    if (data.size() < end || data.size() - end < 2) {
      hint_ = end + 2 - data.size();
      return {Step::kNeedMore};
    }
    hint_ = 0;
    if (data[end] != '\r' || data[end + 1] != '\n') {
      return Step::Error("Protocol error: expected CRLF after a bulk string");
    }
    pos_ = end + 2;
  }
  scan_pos_ = pos_;
  return {Step::kElement};
}

// An aggregate's header: a level opens for its elements (two per map or
// attribute pair), unless it has none (complete at once; an empty attribute
// annotates the value that follows) or is RESP2's null array.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline ReplyScanner::Step ReplyScanner::ScanAggregate(std::string_view data, char type) {
  int64_t count = 0;
  size_t after = 0;
  if (auto stop = LengthLine(data, "Protocol error: invalid aggregate length", &count, &after)) return *stop;
  pos_ = after;
  scan_pos_ = pos_;
  if (count == -1 && type == '*') return {Step::kElement};  // RESP2 null array
  if (count < 0) return Step::Error("Protocol error: invalid aggregate length");
  if (type == '%' || type == '|') {
    if (count > INT64_MAX / 2) return Step::Error("Protocol error: invalid aggregate length");
    count *= 2;
  }
  if (count == 0) return {type == '|' ? Step::kOpened : Step::kElement};
  if (remaining_.size() >= static_cast<size_t>(limits_.max_reply_depth)) {
    return Step::Error("Protocol error: reply nested too deeply");
  }
  remaining_.push_back(Level{count, type == '|'});
  return {Step::kOpened};
}

ParseStatus ReplyScanner::Scan(std::string_view data, size_t* length, char* first_byte,
                               std::string* error) {
  while (true) {
    if (pos_ >= data.size()) return ParseStatus::kNeedMore;
    const char type = data[pos_];
    if (remaining_.empty() && type != '|') top_type_ = type;
    Step step;
    switch (type) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '#':
      case '(':
        step = ScanLine(data);
        break;
      case '$':
      case '!':
      case '=':
        step = ScanBulk(data, type);
        break;
      case '*':
      case '~':
      case '>':
      case '%':
      case '|':
        step = ScanAggregate(data, type);
        break;
      default:
        step = Step::Error("Protocol error: unexpected type byte in reply");
    }
    switch (step.kind) {
      case Step::kNeedMore:
        return ParseStatus::kNeedMore;
      case Step::kError:
        error->assign(step.error);
        Reset();
        return ParseStatus::kError;
      case Step::kElement:
        if (!ElementDone()) break;
        *length = pos_;
        *first_byte = top_type_;
        Reset();
        return ParseStatus::kOk;
      case Step::kOpened:
        break;
    }
  }
}

std::string WithElementsRewritten(
    std::string_view reply,
    const std::function<std::optional<std::string>(size_t index, std::string_view element, char type)>& rewrite) {
  const size_t header_end = reply.find("\r\n");
  uint64_t n = 0;
  if (!reply.starts_with('*') || header_end == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(reply.data() + 1, header_end - 1), &n)) {
    return std::string(reply);  // *-1 (a transaction that did not run), an error
  }
  std::string out(reply.substr(0, header_end + 2));
  size_t pos = header_end + 2;
  for (uint64_t i = 0; i < n; ++i) {
    ReplyScanner scanner;
    size_t length = 0;
    char type = 0;
    std::string error;
    if (scanner.Scan(reply.substr(pos), &length, &type, &error) != ParseStatus::kOk) return std::string(reply);
    const std::string_view element = reply.substr(pos, length);
    if (std::optional<std::string> replaced = rewrite(i, element, type)) {
      out += *replaced;
    } else {
      out += element;
    }
    pos += length;
  }
  out += reply.substr(pos);
  return out;
}

}  // namespace resp
