#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/byte_block.h"
#include "node/output_queue.h"
#include "node/read_buffer.h"

namespace node {
namespace {

std::string Written(const WritingChunks& w) {
  std::string out;
  for (const auto& b : w.buffers) out.append(static_cast<const char*>(b.data()), b.size());
  return out;
}

TEST(ByteQueueTest, SmallAppendsCoalesceAndKeepTheirOrder) {
  OutputQueue q;
  q.Append("+OK\r\n");
  q.Append(std::string(":1\r\n"));
  q.Append(ByteBlock(std::string("$1\r\nx\r\n")));
  EXPECT_EQ(q.size(), 16u);
  WritingChunks w;
  w.TakeFrom(q);
  EXPECT_EQ(w.chunks.size(), 1u);
  EXPECT_EQ(Written(w), "+OK\r\n:1\r\n$1\r\nx\r\n");
  EXPECT_TRUE(q.empty());
}

TEST(ByteQueueTest, BigBlocksAreNeverCopied) {
  const size_t n = OutputQueue::kCoalesce + 1;
  std::shared_ptr<char[]> owner(new char[n + 2]);
  std::fill(owner.get(), owner.get() + n + 2, 'v');
  OutputQueue q;
  q.Append("head");
  q.Append(ByteBlock(owner, 1, n));
  q.Append("tail");
  WritingChunks w;
  w.TakeFrom(q);
  ASSERT_EQ(w.buffers.size(), 3u);
  EXPECT_EQ(w.buffers[1].data(), owner.get() + 1);
  EXPECT_EQ(w.bytes(), n + 8);
}

TEST(ByteQueueTest, WrittenSmallBlocksLendTheirMemoryToLaterWrites) {
  OutputQueue q;
  WritingChunks w;
  std::vector<const void*> seen;
  for (int i = 0; i < 4; ++i) {
    q.Append(std::string(100, 'a'));
    w.TakeFrom(q);
    seen.push_back(w.buffers[0].data());
    EXPECT_EQ(Written(w), std::string(100, 'a'));
    w.Clear();  // the write completed
  }
  // Two blocks take turns: the queue's and the one being written.
  EXPECT_EQ(seen[2], seen[0]);
  EXPECT_EQ(seen[3], seen[1]);
}

TEST(ByteQueueTest, ABigWrittenBlockIsFreedNotKept) {
  OutputQueue q;
  WritingChunks w;
  q.Append("+OK\r\n");
  w.TakeFrom(q);
  w.Clear();
  q.Append(std::string(WritingChunks::kSpareBytes * 2, 'a'));
  w.TakeFrom(q);
  w.Clear();
  EXPECT_LE(w.spare.capacity(), WritingChunks::kSpareBytes);
}

TEST(ByteQueueTest, TakeCopiesAcrossBlocks) {
  OutputQueue q;
  q.Append("abc");
  q.Append(ByteBlock(std::string(OutputQueue::kCoalesce, 'x')));
  q.Append("def");
  EXPECT_EQ(q.Take(5), "abcxx");
  EXPECT_EQ(q.size(), OutputQueue::kCoalesce + 1);
  const std::string rest = q.Take(q.size());
  EXPECT_EQ(rest.substr(rest.size() - 4), "xdef");
  EXPECT_TRUE(q.empty());
}

// A run of small appends appended to a queue with no block growing keeps
// its block, and a take of exactly that block moves it out: the stream's
// bytes reach a log entry without a copy on the way.
TEST(ByteQueueTest, AQueueAppendedThenTakenWholeIsNotCopied) {
  ByteQueue run;
  run.Append(std::string(100, 'a'));
  run.Append(std::string(50, 'b'));
  const char* bytes = run.FrontBlock().data();
  ByteQueue batcher;
  batcher.Append(std::move(run));
  EXPECT_TRUE(run.empty());
  ASSERT_EQ(batcher.size(), 150u);
  EXPECT_EQ(batcher.FrontBlock().data(), bytes);
  const std::string entry = batcher.Take(150);
  EXPECT_EQ(entry.data(), bytes);
  EXPECT_EQ(entry, std::string(100, 'a') + std::string(50, 'b'));
  EXPECT_TRUE(batcher.empty());
  // The queue grows small appends again afterwards.
  batcher.Append("xy");
  batcher.Append("z");
  EXPECT_EQ(batcher.Take(3), "xyz");
}

// Room reserved ahead takes the small appends that follow without the
// block's string moving (growing step by step, it would move several times).
TEST(ByteQueueTest, ReservedRoomTakesSmallAppendsInPlace) {
  ByteQueue q;
  q.Reserve(1000);
  q.Append(std::string(10, 'a'));
  const char* bytes = q.FrontBlock().data();
  for (int i = 1; i < 100; ++i) q.Append(std::string(10, 'a' + i % 26));
  EXPECT_EQ(q.FrontBlock().data(), bytes);
  EXPECT_EQ(q.size(), 1000u);
  q.Reserve(100);  // room in the growing block itself
  q.Append(std::string(100, 'z'));
  EXPECT_EQ(q.size(), 1100u);
  EXPECT_EQ(q.Take(1100).substr(1000), std::string(100, 'z'));
}

// Appended behind a block that small appends are growing, a queue's bytes
// join it (in order); a take of part of a block copies.
TEST(ByteQueueTest, AQueueAppendedBehindAGrowingBlockJoinsIt) {
  ByteQueue q;
  q.Append("head:");
  ByteQueue run;
  run.Append("one,");
  run.Append("two");
  q.Append(std::move(run));
  q.Append(";tail");
  EXPECT_EQ(q.FrontBlock(), "head:one,two;tail");
  EXPECT_EQ(q.Take(5), "head:");
  EXPECT_EQ(q.Take(q.size()), "one,two;tail");
}

// Bytes "read" into a ReadBuffer: what a socket's read would do.
void Receive(ReadBuffer& in, std::string_view bytes) {
  asio::mutable_buffer room = in.Prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  in.Commit(bytes.size());
}

TEST(ReadBufferTest, TakeFrontMovesTheStorageAndKeepsWhatFollows) {
  ReadBuffer in;
  Receive(in, "big-value|rest");
  const char* storage = in.data().data();
  ByteBlock big = in.TakeFront(9);
  EXPECT_EQ(big.view(), "big-value");
  EXPECT_EQ(big.view().data(), storage);  // not copied
  EXPECT_EQ(in.data(), "|rest");
  Receive(in, "+more");
  EXPECT_EQ(in.data(), "|rest+more");
}

// A read in flight writes where Prepare() pointed: when taking the front
// moved the storage out, the read's bytes went with it and the buffer was
// left without memory (the node crashed parsing the next request;
// SharedLinkTest.BigRequestTakenWhileAReadIsPendingLeavesTheInputWhole).
TEST(ReadBufferTest, TakeFrontWhileAReadIsInFlightKeepsTheRead) {
  for (const std::string rest : {"", "|rest"}) {
    ReadBuffer in;
    Receive(in, "big-value" + rest);
    asio::mutable_buffer room = in.Prepare(5);  // the next read, in flight
    const char* storage = in.data().data();
    ByteBlock big = in.TakeFront(9);
    EXPECT_EQ(big.view().data(), storage);  // not copied
    std::memcpy(room.data(), "+more", 5);   // the read completes
    in.Commit(5);
    EXPECT_EQ(in.data(), rest + "+more");
    EXPECT_EQ(big.view(), "big-value");
  }
}

// Later reads never write over a block that still shares the storage:
// neither when the buffer was drained (it would start again at its front)
// nor when it drops consumed bytes (it would move the rest down).
TEST(ReadBufferTest, LaterReadsLeaveATakenBlockAlone) {
  ReadBuffer in;
  Receive(in, "big-value");
  ByteBlock big = in.TakeFront(9);
  Receive(in, "overwrite");
  EXPECT_EQ(big.view(), "big-value");
  EXPECT_EQ(in.data(), "overwrite");

  ReadBuffer compacting;
  const std::string value(3 << 19, 'a');  // past the 1 MB after which consumed bytes are dropped
  Receive(compacting, value + "tail");
  ByteBlock taken = compacting.TakeFront(value.size());
  Receive(compacting, "+more");
  EXPECT_EQ(taken.view(), value);
  EXPECT_EQ(compacting.data(), "tail+more");
}

}  // namespace
}  // namespace node
