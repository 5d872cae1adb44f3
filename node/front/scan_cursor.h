// Cursors of SCAN, HSCAN, SSCAN and ZSCAN across the cluster's children.
//
// A Redis cursor is a position in one process's hash tables, whose hash
// function is seeded at random when the process starts: a cursor one
// redis-server returned means nothing to another. Redis still promises that a
// full iteration returns every element present from its start to its end.
// Through a cluster that promise would break wherever a scan goes on in
// another child than the one that began it: a client whose connections span
// nodes, a leader change, a child rebuilt. A cursor the node hands out
// therefore carries the epoch of the child that made it (a random number drawn
// each time a child starts) above the child's own bits. A cursor that comes
// back with the serving child's epoch goes to it without the epoch; one with
// another child's epoch starts the scan again from 0, which returns every
// element present (some perhaps twice, which a scan allows) and still ends.
// Scans run on the leader's child only (a follower forwards them), so a
// client may move between nodes mid-scan.
//
// Cursors stay under 2^53, so clients that read them as a double (JavaScript)
// keep them exact. A cursor without an epoch (one a script returned, or a
// child's cursor of 36 bits or more, which the node leaves as it is) passes
// through unchanged, as does anything Redis parses by other rules ("+5",
// "-1", "x": Redis's own answer stands). Socket-free and pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace node::scan_cursor {

inline constexpr int kChildBits = 36;  // a child's cursor: a table of up to 2^36 buckets
inline constexpr int kEpochBits = 17;  // 53 bits in all
inline constexpr uint32_t kMaxEpoch = (uint32_t{1} << kEpochBits) - 1;

// The argument that holds the cursor: 1 for SCAN, 2 for HSCAN, SSCAN and
// ZSCAN (after the key); 0 for any other command. `name` is lowercase. The
// command table asks once per command (CommandSpec::scan_cursor_arg).
size_t CursorArg(std::string_view name);

// What the child running at `epoch` (1..kMaxEpoch) is to be given for a
// client's cursor, when not the client's own bytes: the child's part of a
// cursor it made, or "0" for a cursor another child made.
std::optional<std::string> ForChild(std::string_view cursor, uint32_t epoch);

// A scan's reply (an array of the cursor and the elements) as the client is
// to see it: the cursor carries `epoch` unless it is 0 or too wide. Anything
// else (an error) is returned as it is.
std::string ForClient(std::string_view reply, uint32_t epoch);

}  // namespace node::scan_cursor
