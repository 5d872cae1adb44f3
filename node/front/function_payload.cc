#include "node/front/function_payload.h"

#include <lzf.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace node {
namespace {

constexpr uint8_t kFunctionOpcode = 245;  // RDB_OPCODE_FUNCTION2
constexpr size_t kFooterBytes = 10;       // RDB version, CRC64

// An RDB length (rdbLoadLen): 6, 14, 32 or 64 bits; `encoded` if it is the
// type of a specially encoded string instead (ints, LZF).
std::optional<uint64_t> Length(std::string_view* p, bool* encoded) {
  if (p->empty()) return std::nullopt;
  const uint8_t b = static_cast<uint8_t>((*p)[0]);
  *encoded = false;
  uint64_t n = 0;
  size_t used = 1;
  switch (b >> 6) {
    case 0:
      n = b & 0x3F;
      break;
    case 1:
      if (p->size() < 2) return std::nullopt;
      n = (static_cast<uint64_t>(b & 0x3F) << 8) | static_cast<uint8_t>((*p)[1]);
      used = 2;
      break;
    case 2: {
      const size_t bytes = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;  // big-endian
      if (bytes == 0 || p->size() < 1 + bytes) return std::nullopt;
      for (size_t i = 1; i <= bytes; ++i) n = (n << 8) | static_cast<uint8_t>((*p)[i]);
      used = 1 + bytes;
      break;
    }
    default:
      *encoded = true;
      n = b & 0x3F;
  }
  p->remove_prefix(used);
  return n;
}

// An RDB string (rdbGenericLoadStringObject): raw, an integer, or LZF.
std::optional<std::string> String(std::string_view* p, bool* too_big) {
  bool encoded = false;
  const std::optional<uint64_t> len = Length(p, &encoded);
  if (!len) return std::nullopt;
  if (!encoded) {
    if (p->size() < *len) return std::nullopt;
    std::string out(p->substr(0, *len));
    p->remove_prefix(*len);
    return out;
  }
  if (*len <= 2) {  // an 8, 16 or 32 bit integer, little-endian
    const size_t bytes = size_t{1} << *len;
    if (p->size() < bytes) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>((*p)[i])) << (8 * i);
    p->remove_prefix(bytes);
    const int64_t value = bytes == 1 ? static_cast<int8_t>(v) : bytes == 2 ? static_cast<int16_t>(v) : static_cast<int32_t>(v);
    return absl::StrCat(value);
  }
  if (*len != 3) return std::nullopt;
  bool ignored = false;
  const std::optional<uint64_t> compressed = Length(p, &ignored);
  const std::optional<uint64_t> plain = compressed ? Length(p, &ignored) : std::nullopt;
  if (!plain || p->size() < *compressed) return std::nullopt;
  if (*plain > kMaxCheckedLibraryBytes) {
    *too_big = true;
    p->remove_prefix(*compressed);
    return std::string();
  }
  std::string out(*plain, '\0');
  if (*plain > 0 && lzf_decompress(p->data(), static_cast<unsigned>(*compressed), out.data(),
                                   static_cast<unsigned>(*plain)) != *plain) {
    return std::nullopt;
  }
  p->remove_prefix(*compressed);
  return out;
}

}  // namespace

std::optional<FunctionPayload> ReadRdbFunctions(std::string_view head) {
  constexpr std::string_view kMagic = "REDIS";
  constexpr size_t kHeaderBytes = 9;   // "REDIS" and a 4-digit version
  constexpr uint8_t kAuxOpcode = 250;  // RDB_OPCODE_AUX: a name and a value
  if (head.size() < kHeaderBytes || !head.starts_with(kMagic)) return std::nullopt;
  std::string_view p = head.substr(kHeaderBytes);
  FunctionPayload out;
  while (!p.empty()) {
    const uint8_t opcode = static_cast<uint8_t>(p[0]);
    if (opcode != kAuxOpcode && opcode != kFunctionOpcode) return out;  // a database, module data, the end
    p.remove_prefix(1);
    bool ignored = false;
    if (opcode == kAuxOpcode && (!String(&p, &ignored) || !String(&p, &ignored))) return std::nullopt;
    if (opcode == kFunctionOpcode) {
      std::optional<std::string> code = String(&p, &out.too_big);
      if (!code) return std::nullopt;
      out.codes.push_back(std::move(*code));
    }
  }
  return std::nullopt;  // the head ended before anything that follows the libraries
}

bool NamesSetRepl(std::string_view body) {
  constexpr std::string_view kName = "set_repl";
  const auto word = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = body.find(kName); at != std::string_view::npos; at = body.find(kName, at + 1)) {
    const size_t end = at + kName.size();
    if ((at == 0 || !word(body[at - 1])) && (end == body.size() || !word(body[end]))) return true;
  }
  return false;
}

std::optional<FunctionPayload> ReadFunctionPayload(std::string_view payload) {
  if (payload.size() < kFooterBytes) return std::nullopt;
  std::string_view p = payload.substr(0, payload.size() - kFooterBytes);
  FunctionPayload out;
  while (!p.empty()) {
    if (static_cast<uint8_t>(p[0]) != kFunctionOpcode) return std::nullopt;
    p.remove_prefix(1);
    std::optional<std::string> code = String(&p, &out.too_big);
    if (!code) return std::nullopt;
    out.codes.push_back(std::move(*code));
  }
  return out;
}

}  // namespace node
