// Incremental parser of client requests: RESP multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
// and inline commands ("GET k\r\n"), with redis-server's limits and error texts.
//
// The parser is resumable: the caller keeps the unconsumed bytes of its input in
// one contiguous buffer, appends what it reads, and calls Parse() again with the
// buffer's unconsumed part (same start, possibly longer). The parser remembers how
// far it got, so a large request arriving in many reads is scanned once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/limits.h"

namespace resp {

enum class ParseStatus { kNeedMore, kOk, kError };

class RequestParser {
 public:
  explicit RequestParser(Limits limits = {});

  // Parses one request at the start of `data`.
  // kOk: *args holds the request's arguments as views into `data` (valid until
  //      the caller drops or moves those bytes; for an inline request with
  //      quotes, into the parser's own storage, valid until the next inline
  //      request with quotes or the parser's end); *consumed is the request's size
  //      in bytes. The parser is reset for the next request. An empty inline line
  //      yields kOk with no args (the caller skips it, as Redis does).
  // kNeedMore: all of `data` is part of an incomplete request; call again with
  //      the same start and more bytes. HintBytesNeeded() tells how many bytes at
  //      least are still missing, when known (for buffer reservation).
  // kError: *error is the text Redis replies with, without "-ERR " and CRLF
  //      (for example "Protocol error: invalid bulk length"); the connection
  //      should be answered with that error and closed, as Redis does.
  ParseStatus Parse(std::string_view data, size_t* consumed,
                    std::vector<std::string_view>* args, std::string* error);

  size_t HintBytesNeeded() const;

  // Whether the client has authenticated (default: true). While false, multibulk
  // requests are held to Limits::max_unauthenticated_*, with Redis's errors
  // "Protocol error: unauthenticated multibulk length" / "... bulk length".
  void SetAuthenticated(bool authenticated) { authenticated_ = authenticated; }

  // CONFIG SET client-query-buffer-limit, as it changes (Limits::query_buffer_limit).
  void SetQueryBufferLimit(int64_t bytes) { limits_.query_buffer_limit = bytes; }

  // Forget any partial request (after the caller discarded its buffer).
  void Reset();

 private:
  enum class Mode : uint8_t { kUnknown, kMultibulk, kInline };
  // Outcome of searching for the end of a line.
  enum class LineEnd : uint8_t { kFound, kNotYet, kHidden };

  ParseStatus ParseMultibulk(std::string_view data, size_t* consumed,
                             std::vector<std::string_view>* args, std::string* error);
  ParseStatus ParseInline(std::string_view data, size_t* consumed,
                          std::vector<std::string_view>* args, std::string* error);
  ParseStatus Fail(std::string* error, std::string_view text);
  LineEnd FindLineEnd(std::string_view data, char terminator, size_t* at);

  Limits limits_;
  bool authenticated_ = true;
  // Resumable state of the request in progress.
  Mode mode_ = Mode::kUnknown;
  bool line_end_hidden_ = false;      // a NUL precedes the current line's end
  int64_t multibulk_remaining_ = -1;  // -1: no header read yet
  int64_t bulk_len_ = -1;             // -1: next is a "$<len>" line
  size_t pos_ = 0;                    // bytes of `data` already understood
  size_t scan_pos_ = 0;               // where the search for a line end resumes
  size_t last_size_ = 0;              // size of `data` at the last call
  std::vector<std::pair<size_t, size_t>> arg_spans_;  // (offset, length) into data
  // Inline requests with quotes or escapes: the rewritten arguments, which the
  // views returned by Parse() point into until the next such request.
  std::vector<std::string> inline_args_;
};

// Splits an inline command line the way Redis's sdssplitargs does: spaces
// separate arguments, "double quotes" understand \n \r \t \b \a \\ \" and \xHH,
// 'single quotes' understand \'. Returns false on unbalanced quotes.
// Arguments are appended to *out (which owns their bytes, since escapes rewrite them).
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace resp
