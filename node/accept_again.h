// The next accept after one that failed, for every listening socket of the
// node (clients, TLS clients, Raft peers, the child's replication link,
// metrics).
#pragma once

#include <functional>

#include "asio.hpp"
#include "node/logging.h"

namespace node {

// `ec` is the failed accept's error; the caller stops once its socket is
// closed (an aborted accept, a stop) and calls this for the rest; `again`
// checks that again, as a stop may come while it waits. Starts `again` at once, or 100 ms
// later when the process or the system ran out of descriptors or memory: the
// connection then stays queued and the socket readable, and accepting again
// at once would spin on the same failure. A client's leaving frees what the
// next one needs.
void AcceptAgain(asio::io_context& io, const asio::error_code& ec, LogComponent component,
                 std::function<void()> again);

}  // namespace node
