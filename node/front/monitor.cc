#include "node/front/monitor.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace node {
namespace {

// Redis's sdscatrepr: in double quotes, with C escapes and \xHH for bytes that
// do not print.
void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '"': out->append("\\\""); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\a': out->append("\\a"); break;
      case '\b': out->append("\\b"); break;
      default:
        if (absl::ascii_isprint(static_cast<unsigned char>(c))) {
          out->push_back(c);
        } else {
          absl::StrAppendFormat(out, "\\x%02x", static_cast<unsigned char>(c));
        }
    }
  }
  out->push_back('"');
}

// The arguments Redis replaces with "(redacted)": AUTH's, HELLO's after AUTH,
// MIGRATE's after AUTH (one) or AUTH2 (two).
std::vector<bool> Redacted(std::span<const std::string_view> args) {
  std::vector<bool> hide(args.size(), false);
  if (args.empty()) return hide;
  const auto is = [&](size_t i, std::string_view word) {
    return i < args.size() && absl::EqualsIgnoreCase(absl::string_view(args[i].data(), args[i].size()), absl::string_view(word.data(), word.size()));
  };
  const auto cover = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n && i < args.size(); ++i) hide[i] = true;
  };
  if (is(0, "auth")) cover(1, args.size() - 1);
  for (size_t i = 1; i < args.size(); ++i) {
    if (is(0, "hello") && is(i, "auth")) cover(i + 1, 2);
    if (is(0, "migrate") && is(i, "auth")) cover(i + 1, 1);
    if (is(0, "migrate") && is(i, "auth2")) cover(i + 1, 2);
  }
  return hide;
}

}  // namespace

bool ShownToMonitors(const CommandSpec* spec, size_t argc) {
  if (spec == nullptr || spec->admin) return false;
  const size_t arity = static_cast<size_t>(spec->arity < 0 ? -spec->arity : spec->arity);
  if (spec->arity >= 0 ? argc != arity : argc < arity) return false;
  static constexpr std::string_view kScriptCalls[] = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"};
  return !spec->skip_monitor || std::find(std::begin(kScriptCalls), std::end(kScriptCalls), spec->name) != std::end(kScriptCalls);
}

std::string MonitorLine(std::chrono::system_clock::time_point when, int db, std::string_view addr,
                        std::span<const std::string_view> args) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  std::string out = absl::StrFormat("+%d.%06d [%d %s]", micros / 1000000, micros % 1000000, db,
                                    absl::string_view(addr.data(), addr.size()));
  const std::vector<bool> hide = Redacted(args);
  for (size_t i = 0; i < args.size(); ++i) {
    out.push_back(' ');
    AppendQuoted(&out, hide[i] ? std::string_view("(redacted)") : args[i]);
  }
  out.append("\r\n");
  return out;
}

}  // namespace node
