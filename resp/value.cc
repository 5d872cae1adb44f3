// Full decoding of one RESP2/RESP3 value into resp::Value (recursive descent,
// bounded by Limits::max_reply_depth).
#include "resp/value.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/numbers.h"
#include "resp/internal.h"

namespace resp {
namespace {

constexpr size_t kNpos = std::string_view::npos;

class Decoder {
 public:
  Decoder(std::string_view data, const Limits& limits, std::string* error)
      : data_(data), limits_(limits), error_(error) {}

  size_t pos() const { return pos_; }

  ParseStatus Decode(Value* out, int depth) {
    if (ParseStatus s = SkipAttributes(depth); s != ParseStatus::kOk) return s;
    *out = Value();
    const char type = data_[pos_];
    switch (type) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '#':
      case '(':
        return DecodeLine(type, out);
      case '$':
      case '!':
      case '=':
        return DecodeBulk(type, out);
      case '*':
      case '~':
      case '>':
      case '%':
        return DecodeAggregate(type, out, depth);
      default:
        return Fail("Protocol error: unexpected type byte in reply");
    }
  }

 private:
  // Attributes ("|") are read and dropped; the value they annotate follows
  // (kOk: pos_ is at its type byte).
  ParseStatus SkipAttributes(int depth) {
    while (true) {
      if (pos_ >= data_.size()) return ParseStatus::kNeedMore;
      if (data_[pos_] != '|') return ParseStatus::kOk;
      int64_t pairs = 0;
      if (ParseStatus s = LengthLine(&pairs); s != ParseStatus::kOk) return s;
      if (pairs < 0 || pairs > INT64_MAX / 2) return Fail("Protocol error: invalid attribute length");
      if (pairs > 0 && depth >= limits_.max_reply_depth) {
        return Fail("Protocol error: reply nested too deeply");
      }
      Value ignored;
      for (int64_t i = 0; i < pairs * 2; ++i) {
        if (ParseStatus s = Decode(&ignored, depth + 1); s != ParseStatus::kOk) return s;
      }
    }
  }

  // A value on one line: simple string, error, integer, null, double, boolean, big number.
  ParseStatus DecodeLine(char type, Value* out) {
    std::string_view text;
    if (ParseStatus s = Line(&text); s != ParseStatus::kOk) return s;
    switch (type) {
      case '+':
      case '-':
        out->type = type == '+' ? Type::kSimpleString : Type::kError;
        out->str.assign(text);
        return ParseStatus::kOk;
      case ':':
        if (!internal::ParseStrictInt64(text, &out->integer)) return Fail("Protocol error: invalid integer");
        out->type = Type::kInteger;
        return ParseStatus::kOk;
      case '_':
        if (!text.empty()) return Fail("Protocol error: invalid null");
        out->type = Type::kNull;
        return ParseStatus::kOk;
      case ',':
        if (!ParseDouble(text, &out->dbl)) return Fail("Protocol error: invalid double");
        out->type = Type::kDouble;
        out->str.assign(text);
        return ParseStatus::kOk;
      case '#':
        if (text != "t" && text != "f") return Fail("Protocol error: invalid boolean");
        out->type = Type::kBoolean;
        out->integer = text == "t" ? 1 : 0;
        return ParseStatus::kOk;
      default:  // '('
        if (!IsBigNumber(text)) return Fail("Protocol error: invalid big number");
        out->type = Type::kBigNumber;
        out->str.assign(text);
        return ParseStatus::kOk;
    }
  }

  // A bulk string ($), bulk error (!) or verbatim string (=).
  ParseStatus DecodeBulk(char type, Value* out) {
    int64_t len = 0;
    if (ParseStatus s = LengthLine(&len); s != ParseStatus::kOk) return s;
    if (len == -1 && type == '$') {
      out->type = Type::kNull;
      return ParseStatus::kOk;
    }
    if (len < 0) return Fail("Protocol error: invalid bulk length");
    const size_t n = static_cast<size_t>(len);
    if (data_.size() - pos_ < n || data_.size() - pos_ - n < 2) return ParseStatus::kNeedMore;
    if (data_[pos_ + n] != '\r' || data_[pos_ + n + 1] != '\n') {
      return Fail("Protocol error: expected CRLF after a bulk string");
    }
    std::string_view payload = data_.substr(pos_, n);
    pos_ += n + 2;
    if (type == '=') {
      // "txt:..." / "mkd:...": the format and its colon are dropped.
      if (payload.size() < 4 || payload[3] != ':') return Fail("Protocol error: invalid verbatim string");
      payload.remove_prefix(4);
    }
    out->type = type == '!' ? Type::kError : Type::kBulkString;
    out->str.assign(payload);
    return ParseStatus::kOk;
  }

  // An array (*), set (~), push (>) or map (%), its elements decoded in turn.
  ParseStatus DecodeAggregate(char type, Value* out, int depth) {
    int64_t count = 0;
    if (ParseStatus s = LengthLine(&count); s != ParseStatus::kOk) return s;
    if (count == -1 && type == '*') {
      out->type = Type::kNull;
      return ParseStatus::kOk;
    }
    if (count < 0 || count > INT64_MAX / 2) return Fail("Protocol error: invalid aggregate length");
    const int64_t elements = type == '%' ? count * 2 : count;
    // Depth counts open aggregates, as ReplyScanner does: an empty one opens none.
    if (elements > 0 && depth >= limits_.max_reply_depth) {
      return Fail("Protocol error: reply nested too deeply");
    }
    out->type = type == '%' ? Type::kMap : Type::kArray;
    out->is_push = type == '>';
    // Every element takes at least 3 bytes: do not trust the count for more.
    const size_t plausible = (data_.size() - pos_) / 3;
    out->elements.reserve(std::min(static_cast<size_t>(elements), plausible));
    for (int64_t i = 0; i < elements; ++i) {
      out->elements.emplace_back();
      if (ParseStatus s = Decode(&out->elements.back(), depth + 1); s != ParseStatus::kOk) return s;
    }
    return ParseStatus::kOk;
  }

  ParseStatus Fail(std::string_view text) {
    error_->assign(text);
    return ParseStatus::kError;
  }

  // The rest of the line after the type byte at pos_; pos_ moves past its CRLF.
  ParseStatus Line(std::string_view* text) {
    const size_t cr = internal::FindByte(data_, pos_ + 1, '\r');
    if (cr == kNpos || cr + 1 >= data_.size()) return ParseStatus::kNeedMore;
    if (data_[cr + 1] != '\n') return Fail("Protocol error: expected CRLF after a line");
    *text = data_.substr(pos_ + 1, cr - pos_ - 1);
    pos_ = cr + 2;
    return ParseStatus::kOk;
  }

  ParseStatus LengthLine(int64_t* n) {
    std::string_view text;
    if (ParseStatus s = Line(&text); s != ParseStatus::kOk) return s;
    if (!internal::ParseStrictInt64(text, n)) return Fail("Protocol error: invalid length");
    return ParseStatus::kOk;
  }

  static bool ParseDouble(std::string_view text, double* d) {
    if (text == "inf" || text == "+inf") {
      *d = std::numeric_limits<double>::infinity();
      return true;
    }
    if (text == "-inf") {
      *d = -std::numeric_limits<double>::infinity();
      return true;
    }
    if (text == "nan" || text == "-nan") {
      *d = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    if (text.empty() || text.front() == ' ' || text.back() == ' ') return false;
    return absl::SimpleAtod(absl::string_view(text.data(), text.size()), d);
  }

  static bool IsBigNumber(std::string_view text) {
    if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
    if (text.empty()) return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

  std::string_view data_;
  const Limits& limits_;
  std::string* error_;
  size_t pos_ = 0;
};

}  // namespace

std::string Value::AsString() const {
  switch (type) {
    case Type::kSimpleString:
    case Type::kError:
    case Type::kBulkString:
    case Type::kDouble:
    case Type::kBigNumber:
      return str;
    case Type::kInteger:
    case Type::kBoolean:
      return std::to_string(integer);
    case Type::kArray:
    case Type::kMap:
    case Type::kNull:
      return "";
  }
  return "";
}

ParseStatus ParseValue(std::string_view data, size_t* consumed, Value* out, std::string* error,
                       const Limits& limits) {
  Decoder decoder(data, limits, error);
  const ParseStatus status = decoder.Decode(out, 0);
  if (status == ParseStatus::kOk) *consumed = decoder.pos();
  return status;
}

}  // namespace resp
