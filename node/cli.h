// Conventional command lines for the node and the tools, over Abseil flags:
// flags spelled with dashes or underscores alike (--raft-port, --raft_port),
// -h/--help (exit 0; per subcommand where a program has them) and --version,
// help that lists only the program's own flags, without source paths, and
// testing-only flags (named test_*) hidden from help and refused in config
// files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace node::cli {

struct Subcommand {
  std::vector<std::string> words;  // {"cluster", "start"}
  std::string usage;               // one or more lines, without the program name
  std::vector<std::string> flags;  // flags that apply (underscored names)
};

struct Program {
  std::string name;         // "anarchoredis"
  std::string summary;      // what it is, one line
  std::string usage;        // usage lines printed by --help (general help)
  std::string flags_file;   // the program's own flags: defined in a file whose path contains this
  std::vector<Subcommand> subcommands;
};

struct Parsed {
  std::vector<std::string> positional;      // the words that are not flags (argv[0] excluded)
  absl::flat_hash_set<std::string> given;   // flags given on the command line (underscored)
  std::optional<int> exit_code;             // set: exit now (help or version printed, or an error)
};

// "anarchoredis 0.5.0 (git 1a2b3c4d5e, RelWithDebInfo)".
std::string VersionLine(std::string_view program);

// The underscored name of a flag given as "raft-port" or "raft_port".
std::string CanonicalName(std::string_view name);
bool IsTestingFlag(std::string_view canonical_name);

// Rewrites dashed flag names in argv to the underscored ones Abseil knows
// (only names of defined flags; values are left alone), then handles
// -h/--help/--helpfull and --version, then parses the flags.
Parsed Parse(int argc, char** argv, const Program& program);

// The help text: general, or of the subcommand that `words` starts with.
std::string Help(const Program& program, const std::vector<std::string>& words);

// Applies a config file's settings ("name value" per line; '#' comments;
// names as the flags, dashed or underscored) to the flags not in `given`.
// Testing-only flags and `config` itself are refused. Returns an error
// message, empty on success.
std::string LoadConfigFile(const std::string& path, const absl::flat_hash_set<std::string>& given);

// Empty if `program` (a path, or a name looked up in PATH) can be run; else
// why not, as a line for the user.
std::string MissingProgram(const std::string& program);

// The IP address of `host`: itself if it is one, else the first IPv4
// address a name lookup gives (the first of any kind without one). Empty, with `error` set, if it does not resolve.
std::string ResolveHost(const std::string& host, std::string* error);

// "name=value" for every flag of the program (testing-only ones left out
// unless set), for the node's startup log line.
std::string EffectiveSettings(const Program& program);

}  // namespace node::cli
