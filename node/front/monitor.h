// MONITOR: a node shows its monitors the requests of its own clients, as
// Redis shows the commands it runs. The node formats the lines itself: the
// child's MONITOR would show the node's own links (the control link and its
// ROLE calls, the replication stream) and every session under the child's
// socket address, and a follower's child runs the log, not its clients.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "node/front/command_table.h"

namespace node {

// Whether monitors see a request of `spec` with `argc` arguments (the name
// included) as Redis shows what it runs: not an unknown command (nullptr) or
// one of the wrong arity, which Redis refuses before it runs; not admin
// commands, nor those flagged skip_monitor, except a script's call (EVAL,
// FCALL and their variants), which Redis shows before the script runs.
bool ShownToMonitors(const CommandSpec* spec, size_t argc);

// One MONITOR line: "+<seconds>.<micros> [<db> <addr>] "<arg>" ...\r\n", each
// argument quoted as Redis quotes it, and passwords redacted as Redis
// redacts them (AUTH, HELLO ... AUTH, MIGRATE ... AUTH/AUTH2).
std::string MonitorLine(std::chrono::system_clock::time_point when, int db, std::string_view addr,
                        std::span<const std::string_view> args);

}  // namespace node
