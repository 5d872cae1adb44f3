// Runs the libFuzzer target fuzz_resp.cc inside the ordinary test suite, for a
// bounded time and without clang: a seeded generator mutates RESP-shaped seeds
// (the corpus in tests/resp/corpus plus built-in ones) and feeds each input to
// LLVMFuzzerTestOneInput, which aborts on any violated property.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/resp/resp_drivers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace resp {
namespace {

using testing::Rng;

int RunOne(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds = {
      "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\nPING\r\n",
      "SET \"a b\\x41\" 'c\\'d'\r\n\r\n*0\r\n*-1\r\n",
      "*1\r\n$-1\r\n",
      "*1\r\nGET\r\n",
      "+OK\r\n-ERR x\r\n:12\r\n$3\r\nfoo\r\n$-1\r\n*-1\r\n",
      "*3\r\n:1\r\n*2\r\n+a\r\n$0\r\n\r\n_\r\n",
      "%2\r\n+k\r\n,1.5\r\n+b\r\n#t\r\n~1\r\n(123\r\n",
      ">2\r\n+msg\r\n=8\r\ntxt:abcd\r\n!3\r\nERR\r\n",
      "|1\r\n+ttl\r\n:1\r\n*1\r\n|0\r\n+x\r\n",
      "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
  };
#ifdef RESP_CORPUS_DIR
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(RESP_CORPUS_DIR, ec)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Corpus files carry the fuzzer's mode byte first; keep the payload.
    if (bytes.size() > 1) seeds.push_back(bytes.substr(1));
  }
#endif
  return seeds;
}

// Fragments that steer mutations toward interesting RESP.
const char* const kTokens[] = {
    "\r\n", "\r", "\n", "*", "$", "*1\r\n", "$1\r\n", "$0\r\n\r\n", "*-1\r\n", "$-1\r\n",
    ":", "+", "-", "_\r\n", ",", "#t\r\n", "!", "=", "(", "%1\r\n", "~", ">", "|1\r\n",
    "\"", "'", "\\", "\\x", " ", "\t", "0", "9", "-1", "99999999999999999999",
    "" /* a NUL byte */, "1048577", "536870913",
};

std::string Mutate(Rng& rng, const std::vector<std::string>& seeds) {
  std::string s = seeds[rng.Below(seeds.size())];
  const size_t steps = 1 + rng.Below(6);
  for (size_t i = 0; i < steps; ++i) {
    switch (rng.Below(8)) {
      case 0:  // flip a byte
        if (!s.empty()) s[rng.Below(s.size())] = static_cast<char>(rng.Below(256));
        break;
      case 1: {  // insert a token
        std::string token = kTokens[rng.Below(std::size(kTokens))];
        if (token.empty()) token.push_back('\0');
        s.insert(rng.Below(s.size() + 1), token);
        break;
      }
      case 2:  // delete a range
        if (!s.empty()) {
          const size_t at = rng.Below(s.size());
          s.erase(at, 1 + rng.Below(std::min<size_t>(8, s.size() - at)));
        }
        break;
      case 3:  // duplicate a range
        if (!s.empty()) {
          const size_t at = rng.Below(s.size());
          const size_t len = 1 + rng.Below(std::min<size_t>(32, s.size() - at));
          s.insert(rng.Below(s.size() + 1), s.substr(at, len));
        }
        break;
      case 4:  // splice another seed
        s += seeds[rng.Below(seeds.size())];
        break;
      case 5:  // truncate
        s.resize(rng.Below(s.size() + 1));
        break;
      case 6:  // change a digit
        for (size_t tries = 0; tries < 8 && !s.empty(); ++tries) {
          const size_t at = rng.Below(s.size());
          if (s[at] >= '0' && s[at] <= '9') {
            s[at] = static_cast<char>('0' + rng.Below(10));
            break;
          }
        }
        break;
      default:  // random bytes
        for (size_t n = rng.Below(4); n > 0; --n) {
          s.insert(rng.Below(s.size() + 1), 1, static_cast<char>(rng.Below(256)));
        }
        break;
    }
  }
  // The mode byte: limits and read pattern.
  s.insert(s.begin(), static_cast<char>(rng.Below(256)));
  return s;
}

TEST(FuzzRespTest, SeedsInEveryMode) {
  for (const std::string& seed : Seeds()) {
    for (int mode = 0; mode < 256; ++mode) {
      RunOne(std::string(1, static_cast<char>(mode)) + seed);
    }
  }
}

// A few hundred thousand mutated inputs, stopped early after ~2.5 s on slow machines.
TEST(FuzzRespTest, MutatedInputsForBoundedTime) {
  const std::vector<std::string> seeds = Seeds();
  Rng rng(20240601);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  const int kMaxInputs = 600000;
  int runs = 0;
  for (; runs < kMaxInputs; ++runs) {
    if ((runs & 1023) == 0 && std::chrono::steady_clock::now() > deadline) break;
    RunOne(Mutate(rng, seeds));
  }
  RecordProperty("inputs", runs);
  std::printf("fuzz_resp: %d inputs\n", runs);
  EXPECT_GT(runs, 10000);
}

}  // namespace
}  // namespace resp
