// The sender's side of a snapshot transfer against a scripted receiver: the
// frames it sends are collected, the receiver's answers are handed to it.
#include "node/cluster/snapshot_transfer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace node {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kSilence = 500ms;  // longer than the start of a test may take on a loaded machine

fs::path TestDir() { return fs::temp_directory_path() / ("snapshot-sender-test-" + std::to_string(::getpid())); }

class SnapshotSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(dir_);
    ASSERT_TRUE(store_.Open().ok());
    sender_.on_done = [this](uint64_t to, bool failed) { done_.emplace_back(to, failed); };
  }
  void TearDown() override { fs::remove_all(dir_); }

  pb::SnapshotMeta Saved(uint64_t index) {
    const std::string from = (dir_ / "saved.rdb").string();
    std::ofstream(from) << std::string(1000 + index, 'x');
    auto meta = store_.Adopt(from, index, 2);
    EXPECT_TRUE(meta.ok()) << meta.status();
    return meta.value_or(pb::SnapshotMeta());
  }
  static consensus::pb::Message SnapMessage(const pb::SnapshotMeta& meta) {
    consensus::pb::Message m;
    m.set_type(consensus::pb::MSG_SNAP);
    m.set_from(1);
    m.set_to(2);
    m.mutable_snapshot()->set_data(meta.SerializeAsString());
    return m;
  }
  static pb::SnapshotFrame Ack(const pb::SnapshotMeta& meta, uint64_t offset) {
    pb::SnapshotFrame f;
    f.set_kind(pb::SnapshotFrame::ACK);
    f.set_from(2);
    f.set_to(1);
    *f.mutable_meta() = meta;
    f.set_offset(offset);
    return f;
  }
  // Runs `then` in a turn of the loop whose ready handlers already hold the
  // expiry of the silence: a handler sleeps past it, and the loop's next look
  // at its timers queues the expiry behind `then` (posted by the sleeper).
  void InTheTurnTheSilenceEnds(std::function<void()> then) {
    asio::post(io_, [this, then] {
      std::this_thread::sleep_for(kSilence + 30ms);
      asio::post(io_, then);
    });
    io_.poll();
    io_.restart();
  }

  const fs::path dir_ = TestDir();
  SnapshotStore store_{dir_.string()};
  asio::io_context io_;
  std::vector<pb::SnapshotFrame> sent_;
  std::vector<std::pair<uint64_t, bool>> done_;
  SnapshotSender sender_{io_, 1, store_, [this](uint64_t, pb::SnapshotFrame f) { sent_.push_back(std::move(f)); },
                         kSilence};
};

TEST_F(SnapshotSenderTest, AReceiverSilentForTooLongFailsTheTransfer) {
  sender_.Start(SnapMessage(Saved(7)));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].kind(), pb::SnapshotFrame::OFFER);
  io_.run_for(kSilence * 3);
  EXPECT_EQ(done_, (std::vector<std::pair<uint64_t, bool>>{{2, true}}));
  EXPECT_EQ(sender_.active(), 0u);
}

TEST_F(SnapshotSenderTest, AnAnswerInTheTurnTheSilenceEndsKeepsTheTransfer) {
  const pb::SnapshotMeta meta = Saved(7);
  sender_.Start(SnapMessage(meta));
  InTheTurnTheSilenceEnds([&] { sender_.OnFrame(Ack(meta, 0)); });
  EXPECT_TRUE(done_.empty()) << "the expiry queued before the answer ended the transfer it re-armed";
  EXPECT_EQ(sender_.active(), 1u);
  ASSERT_GE(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].kind(), pb::SnapshotFrame::CHUNK);
  io_.run_for(kSilence * 3);  // then silence again
  EXPECT_EQ(done_, (std::vector<std::pair<uint64_t, bool>>{{2, true}}));
}

TEST_F(SnapshotSenderTest, ANewSnapshotInTheTurnTheSilenceEndsKeepsItsTransfer) {
  const pb::SnapshotMeta older = Saved(7);
  const pb::SnapshotMeta newer = Saved(9);
  sender_.Start(SnapMessage(older));
  InTheTurnTheSilenceEnds([&] { sender_.Start(SnapMessage(newer)); });
  EXPECT_TRUE(done_.empty()) << "the old transfer's expiry ended the new one";
  EXPECT_EQ(sender_.active(), 1u);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].kind(), pb::SnapshotFrame::OFFER);
  EXPECT_EQ(sent_[1].meta().index(), 9u);
}

}  // namespace
}  // namespace node
