#include "bench/harness/workload.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "resp/writer.h"

namespace bench {

namespace {
constexpr std::string_view kOpNames[kNumOps] = {"set",    "get",  "incr", "lpush",
                                                 "lrange", "hset", "zadd", "multi"};
}

std::string_view OpName(Op op) { return kOpNames[static_cast<int>(op)]; }

std::string WorkloadSpec::MixString() const {
  std::vector<std::string> parts;
  for (int i = 0; i < kNumOps; ++i) {
    if (weights[i] > 0) parts.push_back(absl::StrCat(std::string(kOpNames[i]), "=", weights[i]));
  }
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<WorkloadSpec> ParseWorkload(std::string_view mix) {
  WorkloadSpec spec;
  spec.name = std::string(mix);
  std::string m(mix);
  if (m == "mixed") m = "get=50,set=20,incr=5,lpush=5,lrange=5,hset=5,zadd=5,multi=5";
  if (m == "setget") m = "set=1,get=1";
  if (m == "connect") {
    m = "get=1";
    spec.new_connection = true;
  }
  for (absl::string_view part : absl::StrSplit(m, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    double w = 1;
    if (kv.size() == 2 && (!absl::SimpleAtod(kv[1], &w) || w < 0)) {
      return absl::InvalidArgumentError(absl::StrCat("bad weight in workload '", std::string(mix), "': ", part));
    }
    int found = -1;
    for (int i = 0; i < kNumOps; ++i) {
      if (std::string_view(kv[0].data(), kv[0].size()) == kOpNames[i]) found = i;
    }
    if (found < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown operation '", kv[0], "' in workload '", std::string(mix),
          "' (known: set get incr lpush lrange hset zadd multi, presets mixed setget connect)"));
    }
    spec.weights[found] += w;
  }
  double total = 0;
  for (double w : spec.weights) total += w;
  if (total <= 0) return absl::InvalidArgumentError(absl::StrCat("empty workload '", std::string(mix), "'"));
  return spec;
}

std::string KeyName(char prefix, uint64_t k) { return absl::StrCat(std::string(1, prefix), ":", k); }

ValueSource::ValueSource(size_t size, bool random, uint64_t seed) : size_(size), random_(random), rng_(seed) {
  if (!random) {
    pool_.assign(size, 'v');
    return;
  }
  pool_.resize(std::max<size_t>(256 << 10, 4 * size));
  for (size_t i = 0; i < pool_.size(); i += 8) {
    uint64_t r = rng_.Next();
    for (size_t j = 0; j < 8 && i + j < pool_.size(); ++j) pool_[i + j] = static_cast<char>(r >> (8 * j));
  }
}

std::string_view ValueSource::Next() {
  if (!random_) return pool_;
  value_.assign(pool_, rng_.Below(pool_.size() - size_ + 1), size_);
  uint64_t r = rng_.Next();
  for (size_t j = 0; j < 8 && j < size_; ++j) value_[j] = static_cast<char>(r >> (8 * j));
  return value_;
}

OpGenerator::OpGenerator(const WorkloadSpec& spec, uint64_t seed)
    : spec_(spec), rng_(seed), values_(spec.value_size, spec.random_values, seed ^ 0x5eed) {
  if (spec.zipf > 0) zipf_ = std::make_unique<ZipfGenerator>(spec.keyspace, spec.zipf);
  double total = 0;
  for (double w : spec.weights) total += w;
  double acc = 0;
  for (int i = 0; i < kNumOps; ++i) {
    acc += spec.weights[i] / total;
    cumulative_[i] = acc;
  }
  cumulative_[kNumOps - 1] = 2;  // rounding: the last op with weight always catches the rest
  for (int i = kNumOps - 1; i > 0 && spec.weights[i] == 0; --i) {
    cumulative_[i] = cumulative_[i - 1];
    cumulative_[i - 1] = 2;
  }
}

uint64_t OpGenerator::NextKey() {
  if (zipf_) return zipf_->Next(rng_) - 1;
  return rng_.Below(spec_.keyspace);
}

std::string_view OpGenerator::Key(char prefix, uint64_t k) {
  key_buf_[0] = prefix;
  key_buf_[1] = ':';
  auto r = std::to_chars(key_buf_ + 2, key_buf_ + sizeof(key_buf_), k);
  return std::string_view(key_buf_, r.ptr - key_buf_);
}

Op OpGenerator::Append(std::string* out, int* replies) {
  double u = rng_.NextDouble();
  int i = 0;
  while (i < kNumOps - 1 && (u >= cumulative_[i] || spec_.weights[i] == 0)) ++i;
  Op op = static_cast<Op>(i);
  *replies = 1;
  uint64_t k = NextKey();
  switch (op) {
    case Op::kSet:
      resp::AppendCommand(out, {"SET", Key('s', k), values_.Next()});
      break;
    case Op::kGet:
      resp::AppendCommand(out, {"GET", Key('s', k)});
      break;
    case Op::kIncr:
      resp::AppendCommand(out, {"INCR", Key('c', k)});
      break;
    case Op::kLpush:
      resp::AppendCommand(out, {"LPUSH", Key('l', k), values_.Next()});
      break;
    case Op::kLrange:
      resp::AppendCommand(out, {"LRANGE", Key('l', k), "0", "9"});
      break;
    case Op::kHset: {
      auto r = std::to_chars(aux_buf_, aux_buf_ + sizeof(aux_buf_), rng_.Below(100));
      resp::AppendCommand(out, {"HSET", Key('h', k), std::string_view(aux_buf_, r.ptr - aux_buf_), values_.Next()});
      break;
    }
    case Op::kZadd: {
      auto r = std::to_chars(aux_buf_, aux_buf_ + sizeof(aux_buf_), rng_.Below(1000000));
      std::string_view score(aux_buf_, r.ptr - aux_buf_);
      resp::AppendCommand(out, {"ZADD", Key('z', k), score, score});
      break;
    }
    case Op::kMulti: {
      resp::AppendCommand(out, {"MULTI"});
      resp::AppendCommand(out, {"SET", Key('s', k), values_.Next()});
      resp::AppendCommand(out, {"INCR", Key('c', k)});
      resp::AppendCommand(out, {"EXEC"});
      *replies = 4;
      break;
    }
  }
  return op;
}

}  // namespace bench
