// Protocol limits, with the same defaults and meaning as redis-server's.
#pragma once

#include <cstdint>
#include <climits>
#include <cstddef>

namespace resp {

struct Limits {
  // proto-max-bulk-len: the largest bulk string a client may send.
  int64_t max_bulk_len = 512LL * 1024 * 1024;
  // client-query-buffer-limit: Redis closes a client whose query buffer
  // outgrows it, which a bulk and its CRLF do (Redis reads a big bulk into a
  // buffer of its own size). Refused as a protocol error here.
  int64_t query_buffer_limit = 1LL << 30;
  // The largest element count of a multibulk request (Redis 7.0: INT_MAX; a
  // client that has to AUTH is capped below).
  int64_t max_multibulk_len = INT_MAX;
  // PROTO_INLINE_MAX_SIZE: the longest inline request line, and the longest
  // "*<count>" / "$<len>" header line.
  size_t max_inline_len = 64 * 1024;
  // Nesting depth accepted in replies (the child's replies; RESP3 maps of arrays...).
  int max_reply_depth = 64;
  // Redis 7.0's caps for a client that still has to AUTH (CVE-2021-32675): at most
  // 10 arguments and 16384-byte bulks. Applied only after
  // RequestParser::SetAuthenticated(false).
  int64_t max_unauthenticated_multibulk_len = 10;
  int64_t max_unauthenticated_bulk_len = 16384;
};

}  // namespace resp
