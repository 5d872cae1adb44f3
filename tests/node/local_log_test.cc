// LocalLog: group commit and the rule that nothing is reported durable before
// its synced write returned.
#include "node/local_log.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"
#include "node/effects.pb.h"
#include "resp/writer.h"

namespace node {
namespace {

EffectRun Effects(uint64_t end, int n = 1) {
  EffectRun r;
  for (int i = 0; i < n; ++i) resp::AppendCommand(&r.commands, {"SET", "k", "v"});
  r.count = n;
  r.end_offset = end;
  return r;
}

// A sync hook that blocks until the test opens the gate.
class Gate {
 public:
  void Wait() {
    std::unique_lock l(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
  }
  void Open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void AwaitWaiter() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return waiting_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

TEST(LocalLogTest, CommitOnlyAfterTheSyncedWriteReturns) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);  // completions arrive from the worker thread
  storage::MemoryLogStore store;
  Gate gate;
  LocalLog log(io, &store, [&] { gate.Wait(); });
  std::vector<uint64_t> commits;
  log.on_commit = [&](uint64_t o) { commits.push_back(o); };
  log.BeginStream("r", 100);
  log.Append(Effects(150));
  gate.AwaitWaiter();
  io.poll();
  EXPECT_TRUE(commits.empty());
  EXPECT_EQ(log.committed_offset(), 100u);
  gate.Open();
  while (commits.empty()) io.run_one();
  EXPECT_EQ(commits, std::vector<uint64_t>{150});
  EXPECT_EQ(store.LastIndex(), 1u);
}

TEST(LocalLogTest, EffectsArrivingDuringASyncShareTheNextOne) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);  // completions arrive from the worker thread
  storage::MemoryLogStore store;
  Gate gate;
  LocalLog log(io, &store, [&] { gate.Wait(); });
  uint64_t committed = 0;
  log.on_commit = [&](uint64_t o) { committed = o; };
  log.BeginStream("r", 0);
  log.Append(Effects(10));
  gate.AwaitWaiter();
  for (uint64_t i = 2; i <= 100; ++i) log.Append(Effects(i * 10));
  gate.Open();
  while (committed < 1000) io.run_one();
  // One entry for the first write, one for the 99 that waited behind it.
  EXPECT_EQ(store.LastIndex(), 2u);
  EXPECT_EQ(log.syncs(), 2u);
  auto entries = static_cast<storage::LogStore&>(store).Read(1, 3);
  ASSERT_TRUE(entries.ok());
  pb::EffectBatch batch;
  ASSERT_TRUE(batch.ParseFromString((*entries)[1].data));
  EXPECT_EQ(batch.command_count(), 99u);
  EXPECT_EQ(batch.stream_begin(), 10u);
  EXPECT_EQ(batch.stream_end(), 1000u);
}

TEST(LocalLogTest, BytesWithoutStateCommitWithoutAWrite) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);  // completions arrive from the worker thread
  storage::MemoryLogStore store;
  LocalLog log(io, &store);
  uint64_t committed = 0;
  log.on_commit = [&](uint64_t o) { committed = o; };
  log.BeginStream("r", 0);
  EffectRun ping;
  ping.end_offset = 14;
  log.Append(std::move(ping));
  EXPECT_EQ(committed, 14u);
  EXPECT_EQ(store.LastIndex(), 0u);
}

TEST(LocalLogTest, WhenIdleWaitsForTheWriteInFlight) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);  // completions arrive from the worker thread
  storage::MemoryLogStore store;
  Gate gate;
  LocalLog log(io, &store, [&] { gate.Wait(); });
  log.BeginStream("r", 0);
  log.Append(Effects(10));
  bool idle = false;
  log.WhenIdle([&] { idle = true; });
  gate.AwaitWaiter();
  io.poll();
  EXPECT_FALSE(idle);
  gate.Open();
  while (!idle) io.run_one();
  EXPECT_EQ(store.LastIndex(), 1u);
}

}  // namespace
}  // namespace node
