// A decoded RESP2/RESP3 value, for the replies the node itself must read
// (ROLE, COMMAND INFO, INFO, HELLO). Client replies are never decoded: they are
// forwarded as bytes (see ReplyScanner).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/limits.h"
#include "resp/request_parser.h"  // ParseStatus

namespace resp {

enum class Type {
  kSimpleString,  // +
  kError,         // -  and RESP3 blob error !
  kInteger,       // :
  kBulkString,    // $  and RESP3 verbatim string = (the "txt:" prefix removed)
  kArray,         // *  and RESP3 set ~ and push >
  kMap,           // RESP3 % : elements hold key, value, key, value...
  kNull,          // $-1, *-1, RESP3 _
  kDouble,        // RESP3 , (text kept in str, value in dbl)
  kBoolean,       // RESP3 # (integer 1 or 0)
  kBigNumber,     // RESP3 ( (digits kept in str)
};

struct Value {
  Type type = Type::kNull;
  std::string str;       // simple, error, bulk, double text, big number
  int64_t integer = 0;   // integer, boolean
  double dbl = 0;
  std::vector<Value> elements;  // array, set, push, map (flattened pairs)
  bool is_push = false;

  bool IsError() const { return type == Type::kError; }
  // Convenience for tests and for reading small replies: the value as text
  // (str for string types, decimal for integers), "" otherwise.
  std::string AsString() const;
};

// Decodes one value at the start of data (attributes are read and dropped).
// Not resumable: meant for small replies already known complete, or retried
// from the start when kNeedMore.
ParseStatus ParseValue(std::string_view data, size_t* consumed, Value* out,
                       std::string* error, const Limits& limits = {});

}  // namespace resp
