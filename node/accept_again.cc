#include "node/accept_again.h"

#include <cerrno>
#include <chrono>
#include <memory>

namespace node {

void AcceptAgain(asio::io_context& io, const asio::error_code& ec, LogComponent component,
                 std::function<void()> again) {
  const bool exhausted = ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
                         ec == asio::error::no_memory ||
                         ec == asio::error_code(ENFILE, asio::system_category());
  if (!exhausted) return again();
  Log(component, LogLevel::kWarning, "accepting a connection: %s; trying again in 100 ms", ec.message());
  auto wait = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
  wait->async_wait([wait, again = std::move(again)](const asio::error_code& e) {
    if (!e) again();
  });
}

}  // namespace node
