#include "node/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asio.hpp"
#include "node/version.h"

namespace node::cli {
namespace {

constexpr size_t kWidth = 80;

std::string_view View(absl::string_view s) { return {s.data(), s.size()}; }

// The program's own flags by underscored name, testing-only ones left out.
std::map<std::string, absl::CommandLineFlag*> OwnFlags(const Program& program) {
  std::map<std::string, absl::CommandLineFlag*> out;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), program.flags_file) || IsTestingFlag(View(name))) continue;
    out.emplace(std::string(name), flag);
  }
  return out;
}

// Words of `text` wrapped at kWidth, each line starting with `indent`.
std::string Wrap(std::string_view text, std::string_view indent) {
  std::string out;
  std::string line(indent);
  for (absl::string_view word : absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty())) {
    if (line.size() > indent.size() && line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(&out, line, "\n");
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line += ' ';
    absl::StrAppend(&line, word);
  }
  if (line.size() > indent.size()) absl::StrAppend(&out, line, "\n");
  return out;
}

std::string FlagEntry(const std::string& name, const absl::CommandLineFlag& flag) {
  std::string dashed = name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  std::string head = absl::StrCat("  --", dashed);
  if (!flag.IsOfType<bool>()) absl::StrAppend(&head, " VALUE");
  const std::string def = flag.DefaultValue();
  absl::StrAppend(&head, def.empty() ? "" : absl::StrCat("  (default: ", def, ")"), "\n");
  return head + Wrap(flag.Help(), "      ");
}

const Subcommand* FindSubcommand(const Program& program, const std::vector<std::string>& words) {
  const Subcommand* best = nullptr;
  for (const Subcommand& s : program.subcommands) {
    if (words.size() >= s.words.size() && std::equal(s.words.begin(), s.words.end(), words.begin()) &&
        (best == nullptr || s.words.size() > best->words.size())) {
      best = &s;
    }
  }
  return best;
}

// The flag a command-line word names ("--raft-port=1", "-nojoin"), as its
// canonical spelling, or empty if it names no defined flag.
std::string DefinedFlag(std::string_view word) {
  absl::string_view w(word.data(), word.size());
  if (!absl::ConsumePrefix(&w, "-")) return "";
  absl::ConsumePrefix(&w, "-");
  const std::string name = CanonicalName(View(w.substr(0, w.find('='))));
  if (name.empty()) return "";
  if (absl::FindCommandLineFlag(name) != nullptr) return name;
  if (absl::StartsWith(name, "no")) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name.substr(2));
    if (flag != nullptr && flag->IsOfType<bool>()) return name;
  }
  return "";
}

// Why the flags in `words` cannot be parsed (a flag nobody defined, a value
// its flag does not take, a missing value), or empty. Abseil's parser would
// exit with status 1 on these; a configuration error exits 2.
std::string FlagError(const std::vector<std::string>& words) {
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--") break;
    if (w.size() < 2 || w[0] != '-') continue;
    const std::string name = DefinedFlag(w);
    if (name.empty()) return absl::StrCat("unknown flag ", w.substr(0, w.find('=')), " (see --help)");
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;  // --noNAME of a boolean flag
    const size_t eq = w.find('=');
    if (eq == std::string::npos && flag->IsOfType<bool>()) continue;
    if (eq == std::string::npos && i + 1 == words.size()) return absl::StrCat("flag ", w, " needs a value");
    const std::string value = eq == std::string::npos ? words[++i] : w.substr(eq + 1);
    std::string error;
    if (!flag->ParseFrom(value, &error)) return absl::StrCat("--", name, ": ", error);
  }
  return "";
}

}  // namespace

std::string VersionLine(std::string_view program) {
  return absl::StrCat(absl::string_view(program.data(), program.size()), " ", kVersion, " (git ", kRevision, ", ",
                      kBuildType, ")");
}

std::string CanonicalName(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

bool IsTestingFlag(std::string_view canonical_name) { return canonical_name.starts_with("test_"); }

std::string Help(const Program& program, const std::vector<std::string>& words) {
  const auto own = OwnFlags(program);
  std::string out = absl::StrCat(program.name, ": ", program.summary, "\n\n");
  if (const Subcommand* sub = FindSubcommand(program, words)) {
    absl::StrAppend(&out, "Usage:\n");
    for (absl::string_view line : absl::StrSplit(sub->usage, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, "  ", program.name, " ", line, "\n");
    }
    if (!sub->flags.empty()) absl::StrAppend(&out, "\nFlags:\n");
    for (const std::string& name : sub->flags) {
      if (auto it = own.find(name); it != own.end()) out += FlagEntry(name, *it->second);
    }
    return out;
  }
  absl::StrAppend(&out, "Usage:\n", program.usage);
  for (const Subcommand& sub : program.subcommands) {
    for (absl::string_view line : absl::StrSplit(sub.usage, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, "  ", program.name, " ", line, "\n");
    }
  }
  if (!program.subcommands.empty()) {
    absl::StrAppend(&out, "\n'", program.name, " COMMAND --help' shows one command's flags.\n");
  }
  absl::StrAppend(&out, "\nFlags (dashes and underscores alike):\n");
  for (const auto& [name, flag] : own) out += FlagEntry(name, *flag);
  absl::StrAppend(&out, "  -h, --help\n      This help.\n  --version\n      The version and git revision.\n");
  return out;
}

Parsed Parse(int argc, char** argv, const Program& program) {
  Parsed parsed;
  std::vector<std::string> words(argv, argv + argc);
  bool help = false, version = false;
  std::vector<std::string> positional;
  for (size_t i = 1; i < words.size(); ++i) {
    std::string& w = words[i];
    if (w == "--") break;
    if (w == "-h" || w == "--help" || w == "-help" || w == "--helpfull" || w == "--helpshort") {
      help = true;
      continue;
    }
    if (w == "--version" || w == "-version") {
      version = true;
      continue;
    }
    if (w.size() > 1 && w[0] == '-') {
      if (std::string name = DefinedFlag(w); !name.empty()) {
        const size_t eq = w.find('=');
        w = absl::StrCat("--", name, eq == std::string::npos ? "" : w.substr(eq));
        parsed.given.insert(name);
        if (absl::StartsWith(name, "no")) parsed.given.insert(name.substr(2));
        const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
        if (eq == std::string::npos && flag != nullptr && !flag->IsOfType<bool>()) ++i;  // its value
      }
    } else {
      positional.push_back(w);  // only used here to pick a subcommand's help
    }
  }
  if (version) {
    std::cout << VersionLine(program.name) << "\n";
    parsed.exit_code = 0;
    return parsed;
  }
  if (help) {
    std::cout << Help(program, positional);
    parsed.exit_code = 0;
    return parsed;
  }
  if (const std::string error = FlagError(words); !error.empty()) {
    std::cerr << program.name << ": " << error << "\n";
    parsed.exit_code = 2;
    return parsed;
  }
  std::vector<char*> args;
  for (std::string& w : words) args.push_back(w.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  parsed.positional.assign(rest.begin() + 1, rest.end());
  return parsed;
}

std::string LoadConfigFile(const std::string& path, const absl::flat_hash_set<std::string>& given) {
  // A directory opens as a stream and reads as empty: its settings would all
  // be the defaults, without a word.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return absl::StrCat("config file ", path, " is a directory");
  std::ifstream in(path);
  if (!in) return absl::StrCat("cannot read config file ", path);
  std::string line;
  int lineno = 0;
  absl::flat_hash_map<std::string, int> seen;  // setting -> its line
  while (std::getline(in, line)) {
    ++lineno;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(l, absl::MaxSplits(absl::ByAnyChar(" \t="), 1));
    const std::string name = CanonicalName(View(absl::StripAsciiWhitespace(kv.first)));
    absl::string_view v = absl::StripAsciiWhitespace(kv.second);
    if (absl::ConsumePrefix(&v, "=")) v = absl::StripAsciiWhitespace(v);  // "name = value"
    // A '#' at the value's start or after a blank starts a comment outside
    // quotes ("dir /data # x" had named the directory "/data # x").
    const size_t quoted_end = absl::StartsWith(v, "\"") ? v.find('"', 1) : 0;
    for (size_t i = quoted_end == absl::string_view::npos ? v.size() : quoted_end; i < v.size(); ++i) {
      if (v[i] == '#' && (i == 0 || absl::ascii_isspace(static_cast<unsigned char>(v[i - 1])))) {
        v = absl::StripAsciiWhitespace(v.substr(0, i));
        break;
      }
    }
    std::string value(v);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    const std::string where = absl::StrCat(path, ":", lineno, ": ");
    if (auto [it, fresh] = seen.emplace(name, lineno); !fresh) {
      return absl::StrCat(where, "'", name, "' is set again (first on line ", it->second, ")");
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || name == "config") return absl::StrCat(where, "unknown setting '", name, "'");
    if (IsTestingFlag(name)) return absl::StrCat(where, "'", name, "' is for tests only and not taken from a file");
    if (given.contains(name)) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) return absl::StrCat(where, name, ": ", error);
  }
  return "";
}

std::string MissingProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0 ? "" : absl::StrCat(program, " is missing or not executable\n");
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view d : absl::StrSplit(path ? path : "", ':', absl::SkipEmpty())) {
    if (::access(absl::StrCat(d, "/", program).c_str(), X_OK) == 0) return "";
  }
  return absl::StrCat(program, " is not found in PATH",
                      program == "redis-server" ? " (on Debian: apt-get install redis-server)" : "", "\n");
}

std::string ResolveHost(const std::string& host, std::string* error) {
  asio::error_code ec;
  if (asio::ip::make_address(host, ec), !ec) return host;
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) {
    *error = absl::StrCat("cannot resolve '", host, "': ", ec ? ec.message() : "no address");
    return "";
  }
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) return r.endpoint().address().to_string();  // as most of Redis's users expect
  }
  return results.begin()->endpoint().address().to_string();
}

std::string EffectiveSettings(const Program& program) {
  std::vector<std::string> items;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), program.flags_file)) continue;
    const std::string value = flag->CurrentValue();
    if (IsTestingFlag(View(name)) && value == flag->DefaultValue()) continue;
    items.push_back(absl::StrCat(name, "=", value));
  }
  std::sort(items.begin(), items.end());
  return absl::StrJoin(items, " ");
}

}  // namespace node::cli
