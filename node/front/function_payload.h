// What a FUNCTION RESTORE payload holds (Redis 7.0's FUNCTION DUMP format):
// for each library, the RDB opcode 245 and the library's code as an RDB
// string, which Redis stores LZF-compressed when that saves space (most
// libraries); then the RDB version (2 bytes) and a CRC64 (8 bytes). The node
// reads the codes to refuse what it cannot keep in step (ScriptRefusal): a
// check of the raw payload missed every compressed library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace node {

// A library code bigger than this is not decompressed to be checked (a
// payload may claim any size; Redis's own are far smaller).
inline constexpr size_t kMaxCheckedLibraryBytes = 64 << 20;

struct FunctionPayload {
  std::vector<std::string> codes;
  bool too_big = false;  // a code past kMaxCheckedLibraryBytes: not read
};

// The libraries' codes; nullopt if `payload` is not in that format (Redis
// then refuses it too).
std::optional<FunctionPayload> ReadFunctionPayload(std::string_view payload);

// The libraries an RDB file holds: they come after its header and aux
// fields, before its first database, in the same form. `head` is the file's
// beginning; nullopt if it ends before the libraries do (read more of the
// file) or is not an RDB's.
std::optional<FunctionPayload> ReadRdbFunctions(std::string_view head);

// Whether a script names set_repl: that word, not a longer name holding it
// (offset_replay, asset_replace were refused). Writes a script keeps out of
// replication never reach the stream, so never the log: the node refuses
// such a script wherever it comes from (ScriptRefusal, a restored RDB). A
// body that builds the name at run time passes (README, "What we do not
// give").
bool NamesSetRepl(std::string_view body);

}  // namespace node
