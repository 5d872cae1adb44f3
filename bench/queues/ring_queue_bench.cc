// node::RingQueue as a session uses it: bursts of requests in flight that
// drain to empty between them (a follower's relay on the leader carries
// ~800 requests in flight at 50 clients x 16 pipelined, and is empty for a
// moment after each commit).
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "node/ring_queue.h"

namespace {

// The shape of a session's expected reply: small fields, two strings and a
// few shared pointers (~160 bytes).
struct Cell {
  uint64_t slot = 0;
  uint64_t gate_slot = 0;
  int tag = 0;
  std::string user;
  std::string other;
  std::shared_ptr<int> a, b, c;
  bool flag = false;
};

void BM_BurstsThatDrain(benchmark::State& state) {
  const int burst = static_cast<int>(state.range(0));
  node::RingQueue<Cell> q;
  for (auto _ : state) {
    for (int i = 0; i < burst; ++i) q.emplace_back(Cell{.slot = static_cast<uint64_t>(i)});
    while (!q.empty()) q.pop_front();
  }
  state.SetItemsProcessed(state.iterations() * burst);
}
BENCHMARK(BM_BurstsThatDrain)->Arg(16)->Arg(800)->Arg(3000);

}  // namespace
