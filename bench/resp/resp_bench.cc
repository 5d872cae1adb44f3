// Micro-benchmarks of the RESP codec: request parsing (pipelines, large bulks),
// reply scanning, value decoding and reply writing.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "resp/reply_scanner.h"
#include "resp/request_parser.h"
#include "resp/value.h"
#include "resp/writer.h"

namespace resp {
namespace {

std::string SetPipeline(int n, size_t value_size) {
  std::string input;
  const std::string value(value_size, 'v');
  for (int i = 0; i < n; ++i) AppendCommand(&input, {"SET", "key:" + std::to_string(i), value});
  return input;
}

// Parses a whole pipeline, request after request, as a connection does after one read.
void ParseAll(benchmark::State& state, const std::string& input, int expected) {
  RequestParser parser;
  std::vector<std::string_view> args;
  std::string error;
  for (auto _ : state) {
    size_t offset = 0;
    int count = 0;
    while (offset < input.size()) {
      size_t consumed = 0;
      if (parser.Parse(std::string_view(input).substr(offset), &consumed, &args, &error) !=
          ParseStatus::kOk) {
        state.SkipWithError("parse failed");
        return;
      }
      offset += consumed;
      ++count;
    }
    benchmark::DoNotOptimize(count);
    if (count != expected) state.SkipWithError("wrong count");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * expected);
}

void BM_ParsePipelineOf1000Sets(benchmark::State& state) {
  ParseAll(state, SetPipeline(1000, static_cast<size_t>(state.range(0))), 1000);
}
BENCHMARK(BM_ParsePipelineOf1000Sets)->Arg(16)->Arg(256);

void BM_ParseInlinePipelineOf1000Sets(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 1000; ++i) input += "SET key:" + std::to_string(i) + " value-of-16-byte\r\n";
  ParseAll(state, input, 1000);
}
BENCHMARK(BM_ParseInlinePipelineOf1000Sets);

// The same pipeline arriving in 1460-byte reads (one TCP segment each).
void BM_ParsePipelineInSegments(benchmark::State& state) {
  const std::string input = SetPipeline(1000, 16);
  RequestParser parser;
  std::vector<std::string_view> args;
  std::string error;
  for (auto _ : state) {
    size_t offset = 0;
    size_t have = 0;
    int count = 0;
    while (offset < input.size()) {
      size_t consumed = 0;
      const ParseStatus status = parser.Parse(
          std::string_view(input).substr(offset, have - offset), &consumed, &args, &error);
      if (status == ParseStatus::kOk) {
        offset += consumed;
        ++count;
      } else {
        have = std::min(input.size(), have + 1460);
      }
    }
    benchmark::DoNotOptimize(count);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_ParsePipelineInSegments);

// One large SET arriving in 64 KB reads: the cost per read must not grow with
// what is already buffered.
void BM_ParseLargeBulk(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::string input = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$" + std::to_string(size) + "\r\n";
  input.append(size, 'x');
  input += "\r\n";
  RequestParser parser;
  std::vector<std::string_view> args;
  std::string error;
  for (auto _ : state) {
    size_t have = 0;
    size_t consumed = 0;
    ParseStatus status = ParseStatus::kNeedMore;
    while (status == ParseStatus::kNeedMore) {
      have = std::min(input.size(), have + 64 * 1024);
      status = parser.Parse(std::string_view(input).substr(0, have), &consumed, &args, &error);
    }
    benchmark::DoNotOptimize(args.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_ParseLargeBulk)->Arg(1 << 20)->Arg(64 << 20);

std::string MixedReplies(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    switch (i % 4) {
      case 0: AppendSimpleString(&out, "OK"); break;
      case 1: AppendBulkString(&out, std::string(32, 'v')); break;
      case 2: AppendInteger(&out, i); break;
      case 3: AppendNull(&out, 2); break;
    }
  }
  return out;
}

void ScanAll(benchmark::State& state, const std::string& input, int expected) {
  ReplyScanner scanner;
  std::string error;
  for (auto _ : state) {
    size_t offset = 0;
    int count = 0;
    while (offset < input.size()) {
      size_t length = 0;
      char first = 0;
      if (scanner.Scan(std::string_view(input).substr(offset), &length, &first, &error) !=
          ParseStatus::kOk) {
        state.SkipWithError("scan failed");
        return;
      }
      offset += length;
      ++count;
    }
    benchmark::DoNotOptimize(count);
    if (count != expected) state.SkipWithError("wrong count");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * expected);
}

void BM_ScanMixedReplies(benchmark::State& state) { ScanAll(state, MixedReplies(1000), 1000); }
BENCHMARK(BM_ScanMixedReplies);

// LRANGE-like: one array of 1000 bulk strings.
void BM_ScanLargeArray(benchmark::State& state) {
  std::string input;
  AppendArrayHeader(&input, 1000);
  for (int i = 0; i < 1000; ++i) AppendBulkString(&input, "element:" + std::to_string(i));
  ScanAll(state, input, 1);
}
BENCHMARK(BM_ScanLargeArray);

// HGETALL in RESP3 with attributes and nested maps.
void BM_ScanNestedResp3(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 100; ++i) {
    input += "|1\r\n+ttl\r\n:100\r\n";
    AppendMapHeader(&input, 5, 3);
    for (int j = 0; j < 5; ++j) {
      AppendBulkString(&input, "field" + std::to_string(j));
      AppendSetHeader(&input, 2, 3);
      AppendDouble(&input, j * 0.5, 3);
      AppendBoolean(&input, j % 2 == 0, 3);
    }
  }
  ScanAll(state, input, 100);
}
BENCHMARK(BM_ScanNestedResp3);

void BM_ParseValueRole(benchmark::State& state) {
  const std::string input =
      "*3\r\n$6\r\nmaster\r\n:3129659\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n"
      "$7\r\n3129242\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9002\r\n$7\r\n3129543\r\n";
  std::string error;
  for (auto _ : state) {
    Value value;
    size_t consumed = 0;
    if (ParseValue(input, &consumed, &value, &error) != ParseStatus::kOk) {
      state.SkipWithError("parse failed");
      return;
    }
    benchmark::DoNotOptimize(value.elements.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_ParseValueRole);

void BM_WriteReplies(benchmark::State& state) {
  const std::string value(32, 'v');
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 1000; ++i) {
      switch (i % 4) {
        case 0: AppendSimpleString(&out, "OK"); break;
        case 1: AppendBulkString(&out, value); break;
        case 2: AppendInteger(&out, i); break;
        case 3: AppendDouble(&out, i * 0.25, 3); break;
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_WriteReplies);

void BM_WriteCommands(benchmark::State& state) {
  const std::string value(32, 'v');
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 1000; ++i) AppendCommand(&out, {"SET", "key:123456", value});
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_WriteCommands);

}  // namespace
}  // namespace resp

BENCHMARK_MAIN();
