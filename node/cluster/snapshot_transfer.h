// InstallSnapshot over the peer links (the SnapshotFrame protocol in
// node/snapshot.proto). When the Raft core wants to send a follower a
// snapshot (MSG_SNAP), the leader's SnapshotSender streams the snapshot file
// in chunks, never holding it whole in memory: one chunk per ACK, a few in
// flight. The follower's SnapshotReceiver writes them to an incoming file off
// the event loop, and only when the file is complete and its size and crc32
// match does it move the file into the store and step the MSG_SNAP into its
// core. A transfer cut by a dropped link, a timeout or a restart of either
// end resumes where the receiver's incoming file ends (the OFFER's ACK says
// how much it has).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "asio.hpp"
#include "consensus/raft.pb.h"
#include "node/cluster/snapshot_store.h"
#include "node/snapshot.pb.h"

namespace node {

using SendFrame = std::function<void(uint64_t to, pb::SnapshotFrame frame)>;

class SnapshotSender {
 public:
  // A transfer whose receiver answers nothing for `silence` failed.
  SnapshotSender(asio::io_context& io, uint64_t self, const SnapshotStore& store, SendFrame send,
                 std::chrono::steady_clock::duration silence = std::chrono::seconds(10));
  ~SnapshotSender();

  // The core asked to send `msg` (a MSG_SNAP whose snapshot data is a
  // SnapshotMeta) to msg.to(). A transfer already running to that peer for
  // the same snapshot goes on; another one is replaced.
  void Start(consensus::pb::Message msg);
  void OnFrame(const pb::SnapshotFrame& f);  // ACK or ABORT from a receiver
  void Stop();
  size_t active() const { return transfers_.size(); }

  // The transfer to `to` ended: the core must hear ReportSnapshot(to, failed).
  // After a failure that comes later, the longer the more failed in a row
  // (kFirstRetry doubling up to kMaxRetry): the core sends another snapshot
  // once it hears, and a receiver that cannot take one (a full disk) was
  // offered one every heartbeat.
  std::function<void(uint64_t to, bool failed)> on_done;
  static constexpr auto kFirstRetry = std::chrono::milliseconds(200);
  static constexpr auto kMaxRetry = std::chrono::seconds(5);

 private:
  struct Transfer;
  void SendChunks(Transfer& t);
  void Arm(Transfer& t);
  void Finish(uint64_t to, bool failed, const std::string& why);
  void ReportFailureLater(uint64_t to);

  asio::io_context& io_;
  uint64_t self_;
  const SnapshotStore& store_;
  SendFrame send_;
  const std::chrono::steady_clock::duration silence_;
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers_;  // by peer
  // By peer: failures in a row, and the report of the last one, waiting.
  std::map<uint64_t, int> failures_;
  std::map<uint64_t, std::unique_ptr<asio::steady_timer>> reports_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class SnapshotReceiver {
 public:
  // `files` runs the file work (writes, checksum); `step` hands the verified
  // MSG_SNAP to the core: one from the node that offered the snapshot (the
  // link authenticated it) to this node, for the snapshot offered.
  SnapshotReceiver(asio::io_context& io, uint64_t self, const SnapshotStore& store, asio::thread_pool& files,
                   SendFrame send, std::function<void(consensus::pb::Message&&)> step);
  ~SnapshotReceiver();

  void OnFrame(const pb::SnapshotFrame& f);  // OFFER, CHUNK or DONE from a sender
  // Why this node could not take the last snapshot offered ("" once one was
  // installed since): for its health.
  const std::string& failure() const { return failure_; }
  bool receiving() const { return incoming_ != nullptr; }

 private:
  struct Incoming;
  // Refuses a snapshot for a reason of this node's own (a file it cannot
  // write): logged, kept in failure(), and said to the sender.
  void Fail(const pb::SnapshotFrame& about, const std::string& why);
  void Offer(const pb::SnapshotFrame& f);
  void Chunk(const pb::SnapshotFrame& f);
  void Done(const pb::SnapshotFrame& f);
  void Reply(const pb::SnapshotFrame& about, pb::SnapshotFrame::Kind kind, uint64_t offset, const std::string& error);

  asio::io_context& io_;
  uint64_t self_;
  const SnapshotStore& store_;
  asio::thread_pool& files_;
  SendFrame send_;
  std::function<void(consensus::pb::Message&&)> step_;
  std::shared_ptr<Incoming> incoming_;  // one at a time: a new offer replaces it
  std::string failure_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace node
