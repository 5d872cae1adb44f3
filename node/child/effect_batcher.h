// Turns the leader child's stream of effects into log entries (shared/DESIGN.md,
// "The write path"). Group commit packs whatever arrived since the last Ready
// into few entries; no entry holds more than max_entry_bytes, so no log write,
// peer message or apply is ever huge, whatever the size of a value. A command
// or MULTI/EXEC group bigger than that is cut into pieces: all but the last
// are marked `continued`, and members apply them only once the last arrived.
// Socket-free; the node sets the stream id on what Take() returns.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/child/replication_reader.h"
#include "node/effects.pb.h"

namespace node {

// Parses a log entry's EffectBatch but for its `commands`, the bulk of a
// stream entry, which is skipped, not copied: the leader reads only the
// bookkeeping of the entries its own child produced. False if `data` is not
// an EffectBatch.
bool ParseEffectHeader(std::string_view data, pb::EffectBatch* out);

class EffectBatcher {
 public:
  explicit EffectBatcher(size_t max_entry_bytes = 1 << 20) : max_entry_(max_entry_bytes) {}

  // A new stream starts at `offset`, db 0 selected; nothing is pending.
  void Reset(uint64_t offset);
  void Add(EffectRun&& run);

  // Stream offset up to which bytes arrived, and up to which entries (or
  // SkipNonState) cover them.
  uint64_t end_offset() const { return end_offset_; }
  uint64_t taken_offset() const { return taken_offset_; }
  // Whether some of the bytes not covered yet are state (a command).
  bool has_effects() const { return !units_.empty(); }
  size_t pending_bytes() const { return queue_.size(); }

  // Entries covering up to about `budget` bytes of effects, in stream order
  // (at least one if any effect waits). Non-state bytes before and after the
  // effects go with them.
  std::vector<pb::EffectBatch> Take(size_t budget);
  // Only non-state bytes wait (pings): they need no entry. Not while a cut
  // point is pending, which needs one.
  void SkipNonState();
  // An entry must end exactly at stream offset `offset` (a command boundary,
  // not before what was taken): the state a snapshot of the child caught at
  // that offset is the state after that entry. Take() cuts there (with an
  // entry of no commands if only non-state bytes lead up to it), waiting for
  // the stream to get there.
  void CutAt(uint64_t offset) {
    if (offset > taken_offset_) cut_ = offset;
  }
  bool cut_pending() const { return cut_.has_value(); }

 private:
  struct Unit {
    uint64_t bytes_end;   // counted from the stream's start (Reset)
    uint32_t count;
    int end_db;
    uint64_t end_offset;
  };
  // The stream offset of byte p (counted as bytes_end), p inside the front unit.
  uint64_t OffsetInFrontUnit(uint64_t p) const {  // p: counted like bytes_end
    return units_.front().end_offset - (units_.front().bytes_end - p);
  }
  pb::EffectBatch Piece();
  pb::EffectBatch WholeUnits(uint64_t limit);
  pb::EffectBatch EmptyTo(uint64_t offset);

  size_t max_entry_;
  ByteQueue queue_;          // bytes not in entries yet
  uint64_t added_ = 0;       // bytes added since Reset
  uint64_t taken_ = 0;       // of which this many are in entries
  std::deque<Unit> units_;
  int db_ = 0;        // db selected before the queue's first byte
  uint64_t end_offset_ = 0;
  uint64_t taken_offset_ = 0;
  std::optional<uint64_t> cut_;
};

// The applying side: holds the pieces of a cut command until its last piece
// arrives. Pieces whose stream never completed them (their leader lost the
// rest) are dropped: that command never happened.
class PieceAssembler {
 public:
  // Takes entry `batch`. Returns false if it is a piece to hold (nothing to
  // apply yet); otherwise `*pieces` gets the held pieces it completes (often
  // none) and `*db` the db to select before the pieces and batch.commands().
  bool Complete(const pb::EffectBatch& batch, std::vector<std::string>* pieces, int* db);
  void Clear() { partial_.reset(); }
  size_t held_bytes() const { return partial_ ? partial_->bytes : 0; }
  uint64_t dropped_bytes() const { return dropped_; }

 private:
  struct Partial {
    std::string stream_id;
    uint64_t end = 0;  // stream offset the next piece must begin at
    int db = 0;
    std::vector<std::string> pieces;  // kept apart: never copied into one buffer
    size_t bytes = 0;
  };
  std::optional<Partial> partial_;
  uint64_t dropped_ = 0;
};

}  // namespace node
