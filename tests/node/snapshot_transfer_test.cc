// The sender's side of a snapshot transfer against a scripted receiver: the
// frames it sends are collected, the receiver's answers are handed to it. The
// receiver's side against frames a hostile peer might send.
#include "node/cluster/snapshot_transfer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
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
  // As the core makes it: the snapshot's index and term, its SnapshotMeta as data.
  static consensus::pb::Message SnapMessage(const pb::SnapshotMeta& meta) {
    consensus::pb::Message m;
    m.set_type(consensus::pb::MSG_SNAP);
    m.set_from(1);
    m.set_to(2);
    m.mutable_snapshot()->mutable_metadata()->set_index(meta.index());
    m.mutable_snapshot()->mutable_metadata()->set_term(meta.term());
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

// The receiver against frames no sender of ours sends: whatever they say, it
// writes only into its own store, and only as many bytes as it was offered.
class SnapshotReceiverTest : public SnapshotSenderTest {
 protected:
  pb::SnapshotFrame Frame(pb::SnapshotFrame::Kind kind, const pb::SnapshotMeta& meta, uint64_t offset = 0,
                          std::string data = "") {
    pb::SnapshotFrame f;
    f.set_kind(kind);
    f.set_from(1);
    f.set_to(2);
    *f.mutable_meta() = meta;
    f.set_offset(offset);
    f.set_data(std::move(data));
    f.set_raft_message(SnapMessage(meta).SerializeAsString());
    return f;
  }
  // Hands `f` to the receiver and runs the file work and its answers: the
  // file thread posts its answers back, which may post more file work. Each
  // round waits for the one file thread to finish what was posted to it (a
  // fixed wait of 100 ms was too short for a DONE's checks on a loaded machine).
  void Deliver(const pb::SnapshotFrame& f) {
    receiver_.OnFrame(f);
    for (int round = 0; round < 4; ++round) {
      std::promise<void> idle;
      asio::post(files_, [&idle] { idle.set_value(); });
      idle.get_future().wait();
      io_.restart();
      io_.poll();
    }
  }
  // A well-named snapshot at `index` of `body`, as an offer describes it.
  pb::SnapshotMeta Described(uint64_t index, const std::string& body) {
    pb::SnapshotMeta meta;
    meta.set_index(index);
    meta.set_term(2);
    meta.set_size(body.size());
    uint32_t crc = 0;
    uint64_t size = 0;
    std::ofstream(dir_ / "probe") << body;
    EXPECT_TRUE(SnapshotStore::Checksum((dir_ / "probe").string(), &crc, &size).ok());
    fs::remove(dir_ / "probe");
    meta.set_crc32(crc);
    meta.set_file(SnapshotStore::FileName(index, 2, crc));
    return meta;
  }
  std::vector<pb::SnapshotFrame> answers_;
  std::vector<consensus::pb::Message> stepped_;
  asio::thread_pool files_{1};
  SnapshotReceiver receiver_{io_, 2, store_, files_,
                             [this](uint64_t, pb::SnapshotFrame f) { answers_.push_back(std::move(f)); },
                             [this](consensus::pb::Message&& m) { stepped_.push_back(std::move(m)); }};
};

// Regression: the received file was renamed to the name the sender gave, so a
// peer could write a file anywhere the node may ("../../x").
TEST_F(SnapshotReceiverTest, ASnapshotNamedOutsideTheStoreIsRefused) {
  const std::string body = "snapshot bytes";
  pb::SnapshotMeta meta;
  meta.set_index(5);
  meta.set_term(2);
  meta.set_size(body.size());
  uint32_t crc = 0;
  uint64_t size = 0;
  std::ofstream(dir_ / "probe") << body;
  ASSERT_TRUE(SnapshotStore::Checksum((dir_ / "probe").string(), &crc, &size).ok());
  meta.set_crc32(crc);
  const std::string escaped = "escaped-" + std::to_string(::getpid()) + ".rdb";
  meta.set_file("../" + escaped);
  Deliver(Frame(pb::SnapshotFrame::OFFER, meta));
  Deliver(Frame(pb::SnapshotFrame::CHUNK, meta, 0, body));
  Deliver(Frame(pb::SnapshotFrame::DONE, meta, body.size()));
  const bool wrote_outside = fs::exists(dir_.parent_path() / escaped);
  fs::remove(dir_.parent_path() / escaped);
  EXPECT_FALSE(wrote_outside) << "a peer wrote outside the snapshot store";
  EXPECT_TRUE(stepped_.empty());
  ASSERT_FALSE(answers_.empty());
  EXPECT_EQ(answers_[0].kind(), pb::SnapshotFrame::ABORT);

  meta.set_file(SnapshotStore::FileName(5, 2, crc));  // the same snapshot, well named, goes through
  answers_.clear();
  Deliver(Frame(pb::SnapshotFrame::OFFER, meta));
  Deliver(Frame(pb::SnapshotFrame::CHUNK, meta, 0, body));
  Deliver(Frame(pb::SnapshotFrame::DONE, meta, body.size()));
  EXPECT_EQ(stepped_.size(), 1u);
  EXPECT_TRUE(store_.Verify(meta).ok());
}

// Regression: chunks were written wherever their offset and length reached,
// past the size the offer gave.
TEST_F(SnapshotReceiverTest, AChunkPastTheOfferedSizeEndsTheTransfer) {
  pb::SnapshotMeta meta;
  meta.set_index(5);
  meta.set_term(2);
  meta.set_size(4);
  meta.set_crc32(1);
  meta.set_file(SnapshotStore::FileName(5, 2, 1));
  Deliver(Frame(pb::SnapshotFrame::OFFER, meta));
  Deliver(Frame(pb::SnapshotFrame::CHUNK, meta, 0, std::string(1 << 16, 'x')));
  ASSERT_FALSE(answers_.empty());
  EXPECT_EQ(answers_.back().kind(), pb::SnapshotFrame::ABORT);
  const fs::path incoming = dir_ / SnapshotStore::IncomingName(meta);
  EXPECT_TRUE(!fs::exists(incoming) || fs::file_size(incoming) <= 4) << fs::file_size(incoming);
}

// Regression: the Raft message a DONE carries was stepped into the core as
// it was, whatever its type and sender: a peer could pass a message as any
// node (the link checks only the frame's sender), or have the node install a
// snapshot other than the file it received. Only the MSG_SNAP of the offered
// snapshot, from the frame's (the link's) sender to this node, is stepped.
TEST_F(SnapshotReceiverTest, ADoneWhoseRaftMessageIsNotTheOfferedSnapshotIsRefused) {
  const std::string body = "snapshot bytes";
  const pb::SnapshotMeta meta = Described(5, body);
  Deliver(Frame(pb::SnapshotFrame::OFFER, meta));
  Deliver(Frame(pb::SnapshotFrame::CHUNK, meta, 0, body));
  std::vector<std::pair<std::string, consensus::pb::Message>> wrong;
  auto variant = [&](const std::string& what, const std::function<void(consensus::pb::Message&)>& change) {
    consensus::pb::Message m = SnapMessage(meta);
    change(m);
    wrong.emplace_back(what, m);
  };
  variant("a vote", [](consensus::pb::Message& m) { m.set_type(consensus::pb::MSG_VOTE); });
  variant("an append", [](consensus::pb::Message& m) { m.set_type(consensus::pb::MSG_APP); });
  variant("another sender", [](consensus::pb::Message& m) { m.set_from(3); });
  variant("another receiver", [](consensus::pb::Message& m) { m.set_to(3); });
  variant("another index", [](consensus::pb::Message& m) { m.mutable_snapshot()->mutable_metadata()->set_index(9); });
  variant("another term", [](consensus::pb::Message& m) { m.mutable_snapshot()->mutable_metadata()->set_term(7); });
  variant("another snapshot's metadata", [&](consensus::pb::Message& m) {
    pb::SnapshotMeta other = meta;
    other.set_crc32(meta.crc32() + 1);
    other.set_file(SnapshotStore::FileName(5, 2, other.crc32()));
    m.mutable_snapshot()->set_data(other.SerializeAsString());
  });
  variant("no metadata", [](consensus::pb::Message& m) { m.mutable_snapshot()->clear_data(); });
  for (const auto& [what, m] : wrong) {
    answers_.clear();
    pb::SnapshotFrame done = Frame(pb::SnapshotFrame::DONE, meta, body.size());
    done.set_raft_message(m.SerializeAsString());
    Deliver(done);
    EXPECT_TRUE(stepped_.empty()) << what;
    ASSERT_EQ(answers_.size(), 1u) << what;
    EXPECT_EQ(answers_[0].kind(), pb::SnapshotFrame::ABORT) << what;
    stepped_.clear();
  }
  pb::SnapshotFrame offered_by_another = Frame(pb::SnapshotFrame::DONE, meta, body.size());
  offered_by_another.set_from(3);
  consensus::pb::Message from_3 = SnapMessage(meta);
  from_3.set_from(3);
  offered_by_another.set_raft_message(from_3.SerializeAsString());
  Deliver(offered_by_another);
  EXPECT_TRUE(stepped_.empty()) << "a DONE from a node that did not offer the snapshot";

  answers_.clear();
  Deliver(Frame(pb::SnapshotFrame::DONE, meta, body.size()));  // the real one still goes through
  ASSERT_EQ(stepped_.size(), 1u);
  EXPECT_EQ(stepped_[0].type(), consensus::pb::MSG_SNAP);
  EXPECT_EQ(stepped_[0].from(), 1u);
  EXPECT_TRUE(store_.Verify(meta).ok());
}

// Regression: an offer of another snapshot replaced the transfer under way,
// but the replaced transfer's incoming file stayed in the store for good.
TEST_F(SnapshotReceiverTest, AnOfferOfAnotherSnapshotRemovesTheReplacedIncomingFile) {
  const pb::SnapshotMeta first = Described(5, "the first snapshot");
  const pb::SnapshotMeta second = Described(8, "the second snapshot");
  Deliver(Frame(pb::SnapshotFrame::OFFER, first));
  Deliver(Frame(pb::SnapshotFrame::CHUNK, first, 0, "the first"));
  const fs::path replaced = dir_ / SnapshotStore::IncomingName(first);
  ASSERT_TRUE(fs::exists(replaced));
  Deliver(Frame(pb::SnapshotFrame::OFFER, second));
  EXPECT_FALSE(fs::exists(replaced)) << "the replaced transfer's file stayed";
  EXPECT_TRUE(fs::exists(dir_ / SnapshotStore::IncomingName(second)));
  // The same snapshot offered again resumes: its file stays.
  Deliver(Frame(pb::SnapshotFrame::CHUNK, second, 0, "the second"));
  Deliver(Frame(pb::SnapshotFrame::OFFER, second));
  EXPECT_EQ(fs::file_size(dir_ / SnapshotStore::IncomingName(second)), std::string("the second").size());
}

}  // namespace
}  // namespace node
