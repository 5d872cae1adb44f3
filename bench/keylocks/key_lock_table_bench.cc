// node::KeyLockTable on the write and read paths: a write takes a ticket and
// locks its keys, its commit releases them; a read checks (and maybe waits for)
// the locks of its keys. And the whole gate (node::gate::ConsistencyGate) on
// the path of pipelined writes.
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

// The gate's part of a pipelined SET: range(0) clients each send a batch of
// 16 writes (one key each, from 10000); the child answers them, one ROLE per
// batch covers them, the leader proposes and commits the offset, and the
// replies are released. Items: writes.
void BM_GatePipelinedWrites(benchmark::State& state) {
  node::gate::ConsistencyGate gate;
  auto keys = MakeKeys(10000);
  const int clients = static_cast<int>(state.range(0));
  size_t next_key = 0;
  uint64_t offset = 0;
  std::vector<node::gate::SlotId> slots;
  std::vector<node::gate::CoverId> covers;
  std::vector<node::gate::Action> actions;
  for (auto _ : state) {
    covers.clear();
    for (int c = 1; c <= clients; ++c) {
      slots.clear();
      for (int i = 0; i < 16; ++i) {
        node::gate::Request r{node::gate::Kind::kWrite, {keys[next_key]}, false};
        next_key = (next_key + 7919) % keys.size();
        slots.push_back(gate.Arrive(c, std::move(r)).slot);
      }
      covers.push_back(*gate.EndOfBatch(c));
      for (auto slot : slots) gate.ReplyArrived(slot);
    }
    for (auto cover : covers) gate.Covered(cover, offset += 16 * 40);
    gate.Proposed(offset);
    gate.Committed(offset);
    gate.TakeActions(&actions);
    if (actions.size() != static_cast<size_t>(16 * clients)) state.SkipWithError("replies not released");
  }
  state.SetItemsProcessed(state.iterations() * 16 * clients);
}
BENCHMARK(BM_GatePipelinedWrites)->Arg(1)->Arg(50);

}  // namespace
