// Proposals per second through a 3-node cluster of Raft cores with in-memory
// storage and an instant in-process network: what the core itself costs,
// without disks or sockets. Batch size 1 runs a full Ready round trip per
// proposal (no batching); larger batches propose many entries per Ready cycle,
// as the node does with the writes of one event-loop turn.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "consensus/memory_storage.h"
#include "consensus/raft.h"

namespace consensus {
namespace {

class BenchCluster {
 public:
  explicit BenchCluster(int n) {
    std::vector<uint64_t> voters;
    for (int i = 1; i <= n; ++i) voters.push_back(static_cast<uint64_t>(i));
    for (uint64_t id : voters) {
      auto storage = std::make_unique<MemoryStorage>();
      std::vector<pb::Entry> boot = BootstrapEntries(voters);
      (void)storage->Append(boot);
      pb::HardState hs;
      hs.set_term(1);
      hs.set_commit(boot.size());
      storage->SetHardState(hs);
      Config c;
      c.id = id;
      c.storage = storage.get();
      c.max_size_per_msg = 1 << 20;
      c.max_inflight_msgs = 256;
      storages_.push_back(std::move(storage));
      nodes_.push_back(*Raft::Create(c));
    }
    Pump();
    nodes_[0]->Campaign();
    Pump();
  }

  Raft& leader() { return *nodes_[0]; }
  uint64_t applied() const { return applied_; }

  // Processes Readies and delivers messages until nothing moves.
  void Pump() {
    for (;;) {
      bool moved = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        Raft& r = *nodes_[i];
        while (r.HasReady()) {
          moved = true;
          Ready rd = r.GetReady();
          MemoryStorage& s = *storages_[i];
          if (rd.snapshot) (void)s.ApplySnapshot(*rd.snapshot);
          if (!rd.entries.empty()) (void)s.Append(rd.entries);
          if (rd.hard_state) s.SetHardState(*rd.hard_state);
          for (pb::Message& m : rd.messages) queue_.push_back(std::move(m));
          for (const pb::Entry& e : rd.committed_entries) {
            if (e.type() == pb::ENTRY_CONF_CHANGE) {
              pb::ConfChange cc;
              cc.ParseFromString(e.data());
              r.ApplyConfChange(cc);
            } else if (i == 0 && !e.data().empty()) {
              ++applied_;
            }
          }
          r.Advance(rd);
        }
      }
      while (!queue_.empty()) {
        moved = true;
        pb::Message m = std::move(queue_.front());
        queue_.pop_front();
        (void)nodes_[m.to() - 1]->Step(std::move(m));
      }
      if (!moved) return;
    }
  }

  // Keeps memory bounded: snapshot and compact every node's log.
  void Compact() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      uint64_t applied = nodes_[i]->log().applied();
      if (applied == 0) continue;
      (void)storages_[i]->CreateSnapshot(applied, nodes_[i]->conf_state(), "");
      (void)storages_[i]->Compact(applied);
    }
  }

 private:
  std::vector<std::unique_ptr<MemoryStorage>> storages_;
  std::vector<std::unique_ptr<Raft>> nodes_;
  std::deque<pb::Message> queue_;
  uint64_t applied_ = 0;
};

void BM_ProposeCommit3(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  BenchCluster c(3);
  const std::string payload(100, 'x');
  uint64_t rounds = 0;
  for (auto _ : state) {
    std::vector<std::string> b(batch, payload);
    if (!c.leader().ProposeBatch(std::move(b)).ok()) state.SkipWithError("not leader");
    c.Pump();
    ++rounds;
    if (rounds * batch % 4096 < static_cast<uint64_t>(batch)) c.Compact();
  }
  if (c.applied() != rounds * batch) state.SkipWithError("not everything committed");
  state.SetItemsProcessed(static_cast<int64_t>(rounds) * batch);
  state.counters["batch"] = batch;
}
BENCHMARK(BM_ProposeCommit3)->Arg(1)->Arg(16)->Arg(256);

}  // namespace
}  // namespace consensus

BENCHMARK_MAIN();
