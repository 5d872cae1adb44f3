#include "consensus/fatal.h"

#include <cstdio>
#include <cstdlib>

namespace consensus {
namespace {
FatalHook g_hook = nullptr;
}  // namespace

void SetFatalHook(FatalHook hook) { g_hook = hook; }

void Fatal(std::string_view message) {
  if (g_hook != nullptr) g_hook(message);
  std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  std::abort();
}

}  // namespace consensus
