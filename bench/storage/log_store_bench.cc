// storage::LogStore appends through OpenRocksLogStore, 1, 100 and 1000 entries
// per synced write (the store syncs every write): what one group commit
// costs; entries/s shows how much grouping buys.
//
// The database lives under $TMPDIR (or /tmp): run it on the disk you care about.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "storage/log_store.h"

namespace {

class TempDir {
 public:
  TempDir() {
    const char* root = getenv("TMPDIR");
    std::string templ = std::string(root ? root : "/tmp") + "/anarcho-storage-bench-XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// range(0): entries per write; range(1): payload bytes.
void BM_Append(benchmark::State& state) {
  TempDir dir;
  auto store = storage::OpenRocksLogStore(dir.path() + "/log");
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  const int per_write = static_cast<int>(state.range(0));
  storage::LogWrite w;
  std::string payload(static_cast<size_t>(state.range(1)), 'e');
  for (int i = 0; i < per_write; ++i) w.entries.push_back({0, 1, payload});
  uint64_t next = (*store)->LastIndex() + 1;
  for (auto _ : state) {
    for (auto& e : w.entries) e.index = next++;
    w.meta["hard_state"] = std::to_string(next);  // as the node records its commit with the entries
    absl::Status st = (*store)->Write(w);
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_write);
  state.SetBytesProcessed(state.iterations() * per_write * static_cast<int64_t>(payload.size()));
  state.counters["entries_per_write"] = per_write;
}
BENCHMARK(BM_Append)
    ->ArgNames({"entries", "bytes"})
    ->ArgsProduct({{1, 100, 1000}, {100}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Reading back a batch of 100 entries (a follower catching up, a restart replay).
void BM_Read100(benchmark::State& state) {
  TempDir dir;
  auto store = storage::OpenRocksLogStore(dir.path() + "/log");
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  storage::LogWrite w;
  for (uint64_t i = 1; i <= 10000; ++i) w.entries.push_back({i, 1, std::string(100, 'e')});
  if (!(*store)->Write(w).ok()) {
    state.SkipWithError("fill failed");
    return;
  }
  uint64_t lo = 1;
  for (auto _ : state) {
    auto entries = (*store)->Read(lo, lo + 100);
    benchmark::DoNotOptimize(entries);
    lo = lo + 100 > 9900 ? 1 : lo + 100;
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_Read100)->Unit(benchmark::kMicrosecond);

}  // namespace
