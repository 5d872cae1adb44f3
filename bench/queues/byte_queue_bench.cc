// node::ByteQueue on the leader's stream path: the replication reader
// appends each command of a read to a run, the effect batcher appends the
// run to its queue, and a log entry takes the queue's bytes (a string for
// its protobuf). Commands of ~100 bytes (a SET of a 64-byte value), runs of
// `commands` commands, one entry per run (as at 50 clients x 16 pipelined);
// `reserved`: the run reserves what the read brought first.
#include <string>

#include "benchmark/benchmark.h"
#include "node/byte_block.h"

namespace {

void BM_RunIntoEntry(benchmark::State& state) {
  const int commands = static_cast<int>(state.range(0));
  const std::string command =
      "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000001234\r\n$64\r\n" + std::string(64, 'v') + "\r\n";
  node::ByteQueue batcher;
  size_t bytes = 0;
  for (auto _ : state) {
    node::ByteQueue run;
    if (state.range(1)) run.Reserve(commands * command.size());  // what the read brought
    for (int i = 0; i < commands; ++i) run.Append(std::string_view(command));
    batcher.Append(std::move(run));
    std::string entry = batcher.Take(batcher.size());
    bytes += entry.size();
    benchmark::DoNotOptimize(entry.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations() * commands);
}
BENCHMARK(BM_RunIntoEntry)->ArgsProduct({{1, 16, 235}, {0, 1}})->ArgNames({"commands", "reserved"});

}  // namespace
