#include "node/child/rdb_header.h"

#include <fstream>

#include "absl/strings/str_cat.h"

namespace node {
namespace {

constexpr unsigned char kOpAux = 0xFA;

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool Byte(unsigned char* b) {
    if (pos_ >= d_.size()) return false;
    *b = static_cast<unsigned char>(d_[pos_++]);
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    if (d_.size() - pos_ < n) return false;
    out->assign(d_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  // rdbLoadLen and string encodings (Redis's rdb.c): a length, or an integer
  // stored as a string.
  bool String(std::string* out) {
    unsigned char b = 0;
    if (!Byte(&b)) return false;
    const int type = (b & 0xC0) >> 6;
    uint64_t len = 0;
    if (type == 0) {
      len = b & 0x3F;
    } else if (type == 1) {
      unsigned char b2 = 0;
      if (!Byte(&b2)) return false;
      len = (static_cast<uint64_t>(b & 0x3F) << 8) | b2;
    } else if (type == 2) {
      const int n = b == 0x80 ? 4 : (b == 0x81 ? 8 : 0);
      std::string raw;
      if (n == 0 || !Bytes(n, &raw)) return false;
      for (unsigned char c : raw) len = (len << 8) | c;  // big-endian
    } else {
      const int enc = b & 0x3F;
      const int n = enc == 0 ? 1 : enc == 1 ? 2 : enc == 2 ? 4 : 0;
      std::string raw;
      if (n == 0 || !Bytes(n, &raw)) return false;  // LZF: never used for aux fields
      int64_t v = 0;
      for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(raw[i]);  // little-endian
      if (n < 8 && (v >> (n * 8 - 1)) & 1) v -= int64_t{1} << (n * 8);                   // sign
      *out = absl::StrCat(v);
      return true;
    }
    return Bytes(static_cast<size_t>(len), out);
  }
  bool AtAux() const { return pos_ < d_.size() && static_cast<unsigned char>(d_[pos_]) == kOpAux; }
  void Skip(size_t n) { pos_ += n; }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseRdbAux(std::string_view rdb) {
  if (rdb.size() < 9 || rdb.substr(0, 5) != "REDIS") return absl::DataLossError("not an RDB file");
  Reader r(rdb);
  r.Skip(9);  // "REDIS" + 4-digit version
  std::map<std::string, std::string> aux;
  while (r.AtAux()) {
    r.Skip(1);
    std::string key, value;
    if (!r.String(&key) || !r.String(&value)) return absl::DataLossError("RDB header is cut short");
    aux[key] = value;
  }
  return aux;
}

absl::StatusOr<std::map<std::string, std::string>> ReadRdbAux(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string head(64 << 10, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return ParseRdbAux(head);
}

}  // namespace node
