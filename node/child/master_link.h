// The node as its child's master (shared/DESIGN.md, "Followers"). Unless it
// leads, a node's child is a Redis replica of the node: it is started with
// --replicaof pointing here, and receives the committed log as a replication
// stream. A replica keeps keys whose absolute expiry passed while the stream
// is replayed and never expires keys by itself; it waits for the DEL in the
// log, exactly as Redis replicas do (replaying `SET k v PXAT <past>` then
// `PERSIST k` to a master would delete k).
//
// The link listens on loopback on a port of its own and accepts one child
// connection at a time, which must authenticate with the node's secret (the
// child's masterauth). It answers the replica handshake (PING, AUTH, REPLCONF,
// PSYNC) always with a full resync: +FULLRESYNC, the RDB the node provides
// (FullSync), then the entries it feeds, in log order. `REPLCONF GETACK *`
// after each flush makes the child say promptly how far it applied (its
// REPLCONF ACK offset), which maps back to a log index.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "asio.hpp"
#include "node/child/effect_batcher.h"
#include "node/effects.pb.h"
#include "node/output_queue.h"
#include "node/read_buffer.h"
#include "resp/request_parser.h"

namespace node {

// The smallest valid RDB (version 10, as written by Redis 7.0): no keys, and
// a zero checksum, which Redis accepts as "not computed".
std::string EmptyRdb();

class MasterLink {
 public:
  explicit MasterLink(asio::io_context& io);
  ~MasterLink();

  // Listens on 127.0.0.1, on a port the system picks; the child must AUTH with `secret`.
  absl::Status Listen(std::string secret);
  int port() const { return port_; }
  void Stop();

  // A child asked for a full sync: the node calls FullSync, then feeds every
  // committed entry after `index`.
  std::function<void()> on_sync_requested;
  // The child applied every entry up to `index`.
  std::function<void(uint64_t index)> on_applied;
  // A divergence check entry (`check_digest`) reached the feed: the link
  // pauses itself, so that once quiet() the child holds exactly the state
  // after the entry before it. The node resumes it when done.
  std::function<void(uint64_t index, const std::string& digest)> on_check;

  // Starts the child's stream: the RDB holds the state after entry `index`.
  // `rdb_path` empty: an empty RDB (the state before any entry). The file is
  // streamed in chunks, never read whole.
  // `prelude`: commands that rebuild what the RDB cannot hold (the script
  // cache), sent right after it, as part of the state at `index`.
  absl::Status FullSync(const std::string& rdb_path, uint64_t index, const std::string& prelude = "");
  // Entry `index` (the next in log order) for the child; Skip() for one that
  // changes nothing in it (a no-op, a membership change).
  void Feed(uint64_t index, pb::EffectBatch batch);
  void Skip(uint64_t index);
  // The child stops being a replica (it was promoted): what it applied stays.
  void Detach();
  // A new child process replaces the old one: it holds nothing until its
  // full sync is applied (applied() and fed() are 0 until then).
  void NewChild();
  // While paused, entries fed wait (in order) and the child gets nothing
  // new: once quiet(), its state is exactly the state after applied(), which
  // a snapshot of it can catch. Pausing with pieces of a cut command held
  // would wait for their last piece forever: callers check pieces_held().
  void Pause();
  void Resume();
  bool quiet() const;
  bool pieces_held() const { return pieces_.held_bytes() > 0; }

  bool syncing() const { return session_ != nullptr && streaming_; }
  bool paused() const { return paused_; }
  // Stream bytes fed that the child has not acknowledged: queued here, in
  // flight, or in its input. (Before it loaded the RDB: all of them.)
  uint64_t unapplied_bytes() const { return offset_ - acked_; }
  uint64_t applied() const { return applied_; }
  uint64_t fed() const { return fed_; }
  // The stream offset sent so far (the child's replication offset once quiet).
  uint64_t offset() const { return offset_; }
  // Every fed entry applied.
  bool idle() const { return fed_ == applied_; }
  // The db selected at the end of the stream so far (0 if none was: a
  // promoted child's stream selects one before its first write anyway).
  int stream_db() const { return db_ == kUnknownDb ? 0 : db_; }
  uint64_t full_syncs() const { return full_syncs_; }

 private:
  struct Session;
  void Accept();
  void Read(const std::shared_ptr<Session>& s);
  void Handle(const std::shared_ptr<Session>& s, std::span<const std::string_view> args);
  void Reply(const std::shared_ptr<Session>& s, std::string_view bytes);
  void Write();
  void OnAck(uint64_t offset);
  void Advance();
  void Keepalive();
  void Drop(const std::shared_ptr<Session>& s);

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::weak_ptr<Session> pending_;  // connected, not authenticated yet
  asio::steady_timer keepalive_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string secret_;
  int port_ = 0;
  std::shared_ptr<Session> session_;
  bool streaming_ = false;  // FULLRESYNC sent on session_

  // The RDB being sent (before the stream): its file and what is left of it.
  std::string pending_header_;  // +FULLRESYNC and the RDB's length line
  int rdb_fd_ = -1;
  uint64_t rdb_left_ = 0;
  void CloseRdb();
  bool WriteRdbChunk();

  // The stream.
  OutputQueue out_;
  WritingChunks writing_;
  bool write_busy_ = false;
  uint64_t offset_ = 0;        // master offset: stream bytes since FULLRESYNC
  uint64_t acked_ = 0;         // the child's last ACK
  bool ack_received_ = false;  // since the full sync: the child loaded the RDB
  uint64_t entries_end_ = 0;   // offset after the last fed entry (GETACKs excluded)
  uint64_t getack_at_ = 0;     // offset when the last GETACK went out
  static constexpr int kUnknownDb = -1;
  int db_ = 0;
  PieceAssembler pieces_;
  bool paused_ = false;
  std::vector<std::pair<uint64_t, std::optional<pb::EffectBatch>>> deferred_;  // fed while paused
  std::deque<std::pair<uint64_t, uint64_t>> unacked_;  // (end offset, index) fed, not applied
  uint64_t fed_ = 0;
  uint64_t applied_ = 0;
  uint64_t full_syncs_ = 0;
};

}  // namespace node
