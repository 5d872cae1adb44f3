// Encoders that append RESP to a std::string, so replies and requests are built
// in place in an output buffer. `proto` is 2 or 3 (the client's HELLO version);
// where RESP2 has no such type the RESP2 equivalent is written, as Redis does.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace resp {

void AppendSimpleString(std::string* out, std::string_view s);  // +s   (s must not hold CR/LF)
void AppendError(std::string* out, std::string_view msg);       // -msg (msg includes its prefix: "ERR ...")
void AppendInteger(std::string* out, int64_t n);                // :n
void AppendBulkString(std::string* out, std::string_view s);    // $len s
void AppendNull(std::string* out, int proto);                   // RESP2 $-1, RESP3 _
void AppendNullArray(std::string* out, int proto);              // RESP2 *-1, RESP3 _
void AppendArrayHeader(std::string* out, size_t n);             // *n
void AppendMapHeader(std::string* out, size_t pairs, int proto);  // RESP3 %n, RESP2 *2n
void AppendSetHeader(std::string* out, size_t n, int proto);    // RESP3 ~n, RESP2 *n
void AppendDouble(std::string* out, double d, int proto);       // RESP3 ,d  RESP2 bulk
void AppendBoolean(std::string* out, bool b, int proto);        // RESP3 #t  RESP2 :1/:0
void AppendVerbatim(std::string* out, std::string_view text, int proto);  // RESP3 =txt:  RESP2 bulk

// A request as a multibulk array of bulk strings: the form sent to the child.
void AppendCommand(std::string* out, std::span<const std::string_view> args);
void AppendCommand(std::string* out, std::initializer_list<std::string_view> args);

}  // namespace resp
