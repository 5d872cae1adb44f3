// The auxiliary fields at the start of an RDB file (redis-ver, repl-id,
// repl-offset, ...). A snapshot of the child is checked against them: the
// `repl-offset` Redis records at the fork must be the stream offset the node
// believes the snapshot holds.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace node {

// Reads the AUX fields before the first data opcode of the RDB at `path`.
absl::StatusOr<std::map<std::string, std::string>> ReadRdbAux(const std::string& path);
// The same, from bytes already read.
absl::StatusOr<std::map<std::string, std::string>> ParseRdbAux(std::string_view rdb);

}  // namespace node
