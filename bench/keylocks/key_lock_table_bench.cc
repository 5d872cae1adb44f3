// node::KeyLockTable on the write and read paths: a write takes a ticket and
// locks its keys, its commit releases them; a read checks (and maybe waits for)
// the locks of its keys.
#include <deque>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "node/gate/consistency_gate.h"
#include "node/gate/key_lock_table.h"

namespace {

using KeyId = node::KeyLockTable::KeyId;

// Locks are named by node::gate::KeyOf (hashed once, when a request is routed).
std::vector<KeyId> MakeKeys(int n) {
  std::vector<KeyId> keys;
  for (int i = 0; i < n; ++i) keys.push_back(node::gate::KeyOf(0, "key:" + std::to_string(i)));
  return keys;
}

// One write with range(0) keys: Begin, Lock each, Release. No other write live.
void BM_LockRelease(benchmark::State& state) {
  node::KeyLockTable t;
  auto keys = MakeKeys(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto ticket = t.Begin();
    for (const auto& k : keys) t.Lock(ticket, k);
    t.Release(ticket);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LockRelease)->Arg(1)->Arg(10)->Arg(100);

// Steady state under load: range(0) writes in flight (awaiting commit), each
// locking one key of a 10000-key space; every iteration starts one write and
// commits the oldest.
void BM_LockReleaseInFlight(benchmark::State& state) {
  node::KeyLockTable t;
  auto keys = MakeKeys(10000);
  std::deque<node::KeyLockTable::Ticket> live;
  size_t next_key = 0;
  auto start_one = [&] {
    auto ticket = t.Begin();
    t.Lock(ticket, keys[next_key]);
    next_key = (next_key + 7919) % keys.size();
    live.push_back(ticket);
  };
  for (int i = 0; i < state.range(0); ++i) start_one();
  for (auto _ : state) {
    start_one();
    t.Release(live.front());
    live.pop_front();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LockReleaseInFlight)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);

// A read of a key nobody holds, with range(0) writes to other keys in flight.
void BM_WaitClearClean(benchmark::State& state) {
  node::KeyLockTable t;
  auto keys = MakeKeys(static_cast<int>(state.range(0)) + 1);
  for (int i = 0; i < state.range(0); ++i) t.Lock(t.Begin(), keys[i]);
  std::vector<KeyId> read_keys = {keys.back()};
  for (auto _ : state) {
    bool clear = t.WaitClear(read_keys, false, [] {});
    benchmark::DoNotOptimize(clear);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WaitClearClean)->Arg(0)->Arg(1000);

// A read of a hot key: a write locks it, the read waits, the commit wakes it.
void BM_WaitClearHeld(benchmark::State& state) {
  node::KeyLockTable t;
  std::vector<KeyId> read_keys = {node::gate::KeyOf(0, "hot")};
  int woken = 0;
  for (auto _ : state) {
    auto ticket = t.Begin();
    t.Lock(ticket, read_keys[0]);
    bool clear = t.WaitClear(read_keys, false, [&] { ++woken; });
    benchmark::DoNotOptimize(clear);
    t.Release(ticket);
  }
  if (woken != static_cast<int>(state.iterations())) state.SkipWithError("a waiting read was not woken");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WaitClearHeld);

// A keyspace-wide read (barrier) with range(0) writes in flight, all released.
void BM_BarrierWithWritesInFlight(benchmark::State& state) {
  node::KeyLockTable t;
  auto keys = MakeKeys(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::vector<node::KeyLockTable::Ticket> tickets;
    for (const auto& k : keys) {
      tickets.push_back(t.Begin());
      t.Lock(tickets.back(), k);
    }
    bool woken = false;
    t.WaitClear({}, true, [&] { woken = true; });
    for (auto ticket : tickets) t.Release(ticket);
    if (!woken) state.SkipWithError("barrier not woken");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BarrierWithWritesInFlight)->Arg(10)->Arg(1000);

}  // namespace
