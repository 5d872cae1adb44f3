// Fail-stop for broken invariants of the Raft core.
//
// The core has no exceptions and cannot hand a broken invariant back to the
// host as a Status: a Raft node that finds its own log contradicting what it
// committed, or whose storage fails underneath it, must stop rather than risk
// acknowledging something that is not durable. Fatal() prints the reason and
// aborts. Tests (the simulation) install a hook first to print the seed and
// the trace that led there.
#pragma once

#include <string_view>

#include "absl/strings/str_cat.h"

namespace consensus {

// Called by Fatal() before it aborts. Not thread-safe to change while cores run.
using FatalHook = void (*)(std::string_view message);
void SetFatalHook(FatalHook hook);

[[noreturn]] void Fatal(std::string_view message);

}  // namespace consensus

// Aborts with the condition and `message` (any absl::StrCat arguments) when
// `cond` is false.
#define RAFT_CHECK(cond, ...)                                            \
  do {                                                                   \
    if (!(cond)) {                                                       \
      ::consensus::Fatal(::absl::StrCat("raft: check failed: " #cond " ", \
                                        ##__VA_ARGS__));                 \
    }                                                                    \
  } while (false)
