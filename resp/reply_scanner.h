// Finds where one complete RESP2/RESP3 value ends, without building it, so that a
// reply from the child can be forwarded to a client byte for byte.
//
// Resumable like RequestParser: call Scan() with the same start and more bytes
// until it returns kOk; then the value is data[0, *length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resp/limits.h"
#include "resp/request_parser.h"  // ParseStatus

namespace resp {

class ReplyScanner {
 public:
  explicit ReplyScanner(Limits limits = {});

  // kOk: data[0, *length) is one complete value (any RESP2 or RESP3 type:
  // + - : $ * _ , # ! = ( % ~ > |, with nested aggregates and attributes; an
  // attribute "|" is scanned together with the value it annotates).
  // *first_byte is the type byte of the top-level value (after any attribute),
  // so the caller can tell push messages ('>') and errors ('-', '!') apart.
  // kNeedMore: incomplete; kError: not RESP (*error says why).
  ParseStatus Scan(std::string_view data, size_t* length, char* first_byte,
                   std::string* error);

  void Reset();

  // After kNeedMore: at least this many more bytes are needed, when known
  // (the rest of a bulk string), so the caller can reserve room at once.
  size_t HintBytesNeeded() const { return hint_; }

 private:
  struct Level {
    int64_t remaining;  // elements still expected at this aggregate level
    bool attribute;     // an attribute "|": once read, its value follows in the same slot
  };

  // Called when an element (a scalar or a whole aggregate) ended at pos_.
  // Returns true when the top-level value is complete.
  bool ElementDone();

  // What scanning the value at pos_ found: a complete element (pos_ past
  // it), an aggregate or attribute opened (its elements follow), too little
  // data, or not RESP.
  struct Step {
    enum Kind { kElement, kOpened, kNeedMore, kError } kind = kNeedMore;
    const char* error = nullptr;
    static Step Error(const char* why) { return {kError, why}; }
  };
  std::optional<Step> LengthLine(std::string_view data, const char* invalid, int64_t* n, size_t* after);
  Step ScanLine(std::string_view data);
  Step ScanBulk(std::string_view data, char type);
  Step ScanAggregate(std::string_view data, char type);

  Limits limits_;
  size_t pos_ = 0;       // bytes of `data` already understood
  size_t scan_pos_ = 0;  // where the search for the current line's end resumes
  std::vector<Level> remaining_;
  char top_type_ = 0;
  size_t hint_ = 0;
};

// An array reply (such as EXEC's) with each element replaced by what
// `rewrite(index, element, type byte)` makes of it (nullopt: kept as it is).
// Anything else (a null array, an error, bytes that do not scan) is returned
// as it is.
std::string WithElementsRewritten(
    std::string_view reply,
    const std::function<std::optional<std::string>(size_t index, std::string_view element, char type)>& rewrite);

}  // namespace resp
