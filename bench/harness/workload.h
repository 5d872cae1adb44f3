// What the load generator sends: a command mix over a key space, encoded as
// RESP straight into a connection's output buffer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bench/harness/zipf.h"

namespace bench {

// One operation of the mix. kMulti is MULTI, SET, INCR, EXEC sent together and
// measured as one operation (latency to the EXEC reply).
enum class Op : uint8_t { kSet, kGet, kIncr, kLpush, kLrange, kHset, kZadd, kMulti };
constexpr int kNumOps = 8;
std::string_view OpName(Op op);

struct WorkloadSpec {
  std::string name;                    // as given: "set", "get", "mixed" or a mix
  std::array<double, kNumOps> weights{};  // relative, by Op
  uint64_t keyspace = 10000;
  double zipf = 0;                     // 0: uniform; > 0: Zipfian exponent
  size_t value_size = 64;
  bool random_values = false;          // see ValueSource
  // Every batch on a new connection (connect, the TLS handshake on a TLS
  // target, the batch, close), its latency from the connect: preset
  // "connect" (a GET each). Closed loop only.
  bool new_connection = false;

  bool Uses(Op op) const { return weights[static_cast<int>(op)] > 0; }
  std::string MixString() const;      // "set=1,get=1"
};

// Parses a mix: a preset ("set", "get", "incr", "lpush", "lrange", "hset",
// "zadd", "multi", "mixed", "setget" = set=1,get=1) or "op=weight,...".
// "mixed" is get=50,set=20,incr=5,lpush=5,lrange=5,hset=5,zadd=5,multi=5.
absl::StatusOr<WorkloadSpec> ParseWorkload(std::string_view mix);

// The values written (SET, LPUSH, HSET, preload): `size` bytes, either all 'v'
// (constant: RDB files and RocksDB blocks compress them to almost nothing) or
// random (a window at a random offset of a random pool, its first 8 bytes
// fresh random, so no two values are alike and nothing compresses; what disk
// and snapshot sizes should be measured with).
class ValueSource {
 public:
  ValueSource(size_t size, bool random, uint64_t seed);
  std::string_view Next();  // valid until the next call

 private:
  size_t size_;
  bool random_;
  Rng rng_;
  std::string pool_;
  std::string value_;
};

// Per-connection generator: draws operations and encodes them.
class OpGenerator {
 public:
  OpGenerator(const WorkloadSpec& spec, uint64_t seed);

  // Appends the next operation's requests to *out; returns the operation and
  // sets *replies to the number of replies it will get.
  Op Append(std::string* out, int* replies);

 private:
  uint64_t NextKey();
  std::string_view Key(char prefix, uint64_t k);

  const WorkloadSpec& spec_;
  Rng rng_;
  std::unique_ptr<ZipfGenerator> zipf_;
  std::array<double, kNumOps> cumulative_{};
  ValueSource values_;
  char key_buf_[32];
  char aux_buf_[32];
};

// Key names, shared with the preloader: one prefix per data type, so no mix can
// cause WRONGTYPE errors.
std::string KeyName(char prefix, uint64_t k);

}  // namespace bench
