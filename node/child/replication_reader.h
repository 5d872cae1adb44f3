// The node's replica link to its leading child: the handshake (PING,
// REPLCONF, a PSYNC that continues the stream the child had as a replica),
// then the command stream parsed with exact byte offsets. A child that cannot
// continue it (its backlog no longer holds the offset) fails the link: a full
// resync would leave out what the child wrote in between.
//
// Stream bytes become EffectRuns: whole commands, SELECTs kept in place, a
// MULTI/EXEC group never split across runs. Bytes that are not state (the
// master's `ping`, `REPLCONF GETACK`, `PUBLISH`) are dropped but still advance the
// offset. An ACK is sent every second (and after each GETACK); nothing else is
// ever written on the link, since the master drops a replica that does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asio.hpp"
#include "node/byte_block.h"
#include "node/read_buffer.h"
#include "resp/request_parser.h"

namespace node {

// Effects read in one go from the stream. Runs are contiguous: each begins at
// the previous one's end_offset and db.
struct EffectRun {
  int db = 0;          // db selected before the first command
  int end_db = 0;
  uint32_t count = 0;  // commands in `commands`
  ByteQueue commands;
  uint64_t end_offset = 0;  // replication offset after the run (skipped bytes included)
  // Where each unit ends: a command, or a whole MULTI/EXEC group. Log entries
  // may be cut between units; a unit cut in pieces is applied only once whole.
  struct Unit {
    uint64_t bytes_end = 0;  // in `commands`
    uint32_t count = 0;      // commands in the unit
    int end_db = 0;          // db selected after it
    uint64_t end_offset = 0; // replication offset after it
  };
  std::vector<Unit> units;
  // The keys its DEL and UNLINK commands delete, as gate::KeyOf(db, key):
  // evictions propagate as those (ConsistencyGate::StreamRead).
  std::vector<uint64_t> deleted;
};

class ReplicationReader {
 public:
  struct Callbacks {
    // The stream continues at `offset` under the child's new `replid`.
    std::function<void(const std::string& replid, uint64_t offset)> on_sync;
    std::function<void(EffectRun&&)> on_effects;
    // The link failed or was closed by the child; the reader is stopped, and
    // may be destroyed here (on_sync and on_effects must not destroy it).
    std::function<void(const absl::Status&)> on_error;
  };

  // `auth`: the AUTH request that opens the link (InternalAuthRequest).
  ReplicationReader(asio::io_context& io, std::string socket_path, std::string auth, int listening_port,
                    Callbacks callbacks);
  ~ReplicationReader();

  // Connects and asks to continue at (replid, offset) of the stream the child
  // had as a replica, where `db` is selected.
  void Start(std::pair<std::string, uint64_t> resume, int db);
  void Stop();

 private:
  enum class State { kIdle, kAuth, kName, kPing, kPort, kCapa, kPsync, kStreaming };

  void Send(std::string bytes);
  void Read();
  void Process();
  // One line of the handshake (AUTH to PSYNC's reply); false once it failed.
  bool Handshake(const std::string& line);
  bool OnPsyncReply(const std::string& line);  // false: the stream does not continue
  // Handshake replies are lines; returns false until a whole line is in.
  bool TakeLine(std::string* line);
  void ProcessStream();
  // One whole command of the stream: its arguments and bytes, or the block
  // that holds them (a big one, handed on without a copy).
  struct Command {
    const std::vector<std::string_view>& args;
    std::string_view bytes;
    ByteBlock big;
  };
  void Append(Command& command, ByteQueue& q);
  void AddToGroup(Command& command, EffectRun& run);
  bool AddCommand(Command& command, EffectRun& run);
  void SendAck();
  void ScheduleAck();
  void Fail(absl::Status status);

  asio::io_context& io_;
  std::string socket_path_;
  std::string auth_;
  int listening_port_;
  Callbacks cb_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<asio::local::stream_protocol::socket> socket_;
  asio::steady_timer ack_timer_;
  State state_ = State::kIdle;
  std::pair<std::string, uint64_t> resume_;
  ReadBuffer in_;
  std::string replid_;
  uint64_t offset_ = 0;          // offset after the last byte consumed
  resp::RequestParser parser_;
  int db_ = 0;                   // db after the last emitted command
  bool in_multi_ = false;
  EffectRun group_;              // an open MULTI group
};

}  // namespace node
