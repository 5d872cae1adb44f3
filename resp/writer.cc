// RESP encoders. Output matches what redis-server 7.0 writes for the same reply
// (networking.c addReply*), including its RESP2 fallbacks.
#include "resp/writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace resp {
namespace {

// Debian's Abseil is built with its own absl::string_view (not std::string_view),
// so absl::StrAppend cannot take our views; these helpers reserve once and append.

constexpr size_t kMaxLine = 24;  // prefix, 20 digits, CRLF

// Writes "<prefix><n>\r\n" into buf; returns its length.
template <typename Int>
inline size_t FormatLengthLine(char* buf, char prefix, Int n) {
  buf[0] = prefix;
  char* end = std::to_chars(buf + 1, buf + kMaxLine, n).ptr;
  end[0] = '\r';
  end[1] = '\n';
  return static_cast<size_t>(end + 2 - buf);
}

template <typename Int>
inline void AppendLengthLine(std::string* out, char prefix, Int n) {
  char buf[kMaxLine];
  out->append(buf, FormatLengthLine(buf, prefix, n));
}

// "<prefix><payload>\r\n"
inline void AppendLine(std::string* out, char prefix, std::string_view payload) {
  out->reserve(out->size() + payload.size() + 3);
  out->push_back(prefix);
  out->append(payload);
  out->append("\r\n", 2);
}

// "$<len>\r\n<head><body>\r\n": a bulk string whose payload is head + body.
inline void AppendBulk(std::string* out, char prefix, std::string_view head, std::string_view body) {
  char line[kMaxLine];
  const size_t line_len = FormatLengthLine(line, prefix, head.size() + body.size());
  out->reserve(out->size() + line_len + head.size() + body.size() + 2);
  out->append(line, line_len);
  out->append(head);
  out->append(body);
  out->append("\r\n", 2);
}

}  // namespace

void AppendSimpleString(std::string* out, std::string_view s) { AppendLine(out, '+', s); }

void AppendError(std::string* out, std::string_view msg) { AppendLine(out, '-', msg); }

void AppendInteger(std::string* out, int64_t n) { AppendLengthLine(out, ':', n); }

void AppendBulkString(std::string* out, std::string_view s) { AppendBulk(out, '$', {}, s); }

void AppendNull(std::string* out, int proto) { out->append(proto >= 3 ? "_\r\n" : "$-1\r\n"); }

void AppendNullArray(std::string* out, int proto) {
  out->append(proto >= 3 ? "_\r\n" : "*-1\r\n");
}

void AppendArrayHeader(std::string* out, size_t n) { AppendLengthLine(out, '*', n); }

void AppendMapHeader(std::string* out, size_t pairs, int proto) {
  if (proto >= 3) {
    AppendLengthLine(out, '%', pairs);
  } else {
    AppendLengthLine(out, '*', pairs * 2);
  }
}

void AppendSetHeader(std::string* out, size_t n, int proto) {
  AppendLengthLine(out, proto >= 3 ? '~' : '*', n);
}

void AppendDouble(std::string* out, double d, int proto) {
  // Redis 7.0 (addReplyDouble): infinities spelled out explicitly, everything
  // else with printf's %.17g (so NaN prints as glibc's "nan" or "-nan").
  char buf[64];
  std::string_view text;
  if (std::isinf(d)) {
    text = d > 0 ? "inf" : "-inf";
  } else {
    const int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
    text = std::string_view(buf, static_cast<size_t>(n));
  }
  if (proto >= 3) {
    AppendLine(out, ',', text);
  } else {
    AppendBulkString(out, text);
  }
}

void AppendBoolean(std::string* out, bool b, int proto) {
  if (proto >= 3) {
    out->append(b ? "#t\r\n" : "#f\r\n");
  } else {
    out->append(b ? ":1\r\n" : ":0\r\n");
  }
}

void AppendVerbatim(std::string* out, std::string_view text, int proto) {
  if (proto >= 3) {
    AppendBulk(out, '=', "txt:", text);
  } else {
    AppendBulkString(out, text);
  }
}

void AppendCommand(std::string* out, std::span<const std::string_view> args) {
  size_t total = 16;
  for (std::string_view arg : args) total += arg.size() + 16;
  out->reserve(out->size() + total);
  AppendArrayHeader(out, args.size());
  for (std::string_view arg : args) AppendBulkString(out, arg);
}

void AppendCommand(std::string* out, std::initializer_list<std::string_view> args) {
  AppendCommand(out, std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace resp
