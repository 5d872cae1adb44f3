#include "node/child/effect_batcher.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace node {

bool ParseEffectHeader(std::string_view data, pb::EffectBatch* out) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                            static_cast<int>(data.size()));
  std::string header;  // every field but the commands, parsed by protobuf itself
  for (;;) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (static_cast<size_t>(start) != data.size()) return false;  // a malformed tag
      break;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
    if (WireFormatLite::GetTagFieldNumber(tag) != pb::EffectBatch::kCommandsFieldNumber) {
      header.append(data.data() + start, static_cast<size_t>(in.CurrentPosition() - start));
    }
  }
  return out->ParseFromString(header);
}

void EffectBatcher::Reset(uint64_t offset) {
  cut_.reset();
  queue_.Clear();
  added_ = taken_ = 0;
  units_.clear();
  db_ = 0;
  end_offset_ = taken_offset_ = offset;
}

void EffectBatcher::Add(EffectRun&& run) {
  for (const EffectRun::Unit& u : run.units) {
    units_.push_back(Unit{added_ + u.bytes_end, u.count, u.end_db, u.end_offset});
  }
  added_ += run.commands.size();
  queue_.Append(std::move(run.commands));
  end_offset_ = run.end_offset;
}

void EffectBatcher::SkipNonState() {
  // Not past a cut point: an entry must still end there (Take).
  if (units_.empty() && !cut_) taken_offset_ = end_offset_;
}

// The next max_entry_ bytes of a unit too big for one entry.
pb::EffectBatch EffectBatcher::Piece() {
  pb::EffectBatch e;
  e.set_stream_begin(taken_offset_);
  e.set_db(db_);
  e.set_end_db(db_);
  e.set_commands(queue_.Take(max_entry_));
  taken_ += max_entry_;
  e.set_stream_end(OffsetInFrontUnit(taken_));
  e.set_continued(true);
  return e;
}

// As many whole units (the first may be the rest of a cut one) as fit, none
// ending past `limit` (a cut point, or the largest offset).
pb::EffectBatch EffectBatcher::WholeUnits(uint64_t limit) {
  pb::EffectBatch e;
  e.set_stream_begin(taken_offset_);
  e.set_db(db_);
  const uint64_t start = taken_;
  uint32_t count = 0;
  uint64_t end = taken_offset_;
  do {
    const Unit& u = units_.front();
    count += u.count;
    db_ = u.end_db;
    end = u.end_offset;
    taken_ = u.bytes_end;
    units_.pop_front();
  } while (!units_.empty() && units_.front().bytes_end - start <= max_entry_ && units_.front().end_offset <= limit);
  e.set_commands(queue_.Take(taken_ - start));
  e.set_command_count(count);
  e.set_end_db(db_);
  // Non-state bytes after the last effect go with it (up to a cut point).
  if (cut_ && (units_.empty() || units_.front().end_offset > *cut_)) {
    e.set_stream_end(std::min(end_offset_, *cut_));
  } else {
    e.set_stream_end(units_.empty() ? end_offset_ : end);
  }
  return e;
}

pb::EffectBatch EffectBatcher::EmptyTo(uint64_t offset) {
  pb::EffectBatch e;
  e.set_stream_begin(taken_offset_);
  e.set_stream_end(offset);
  e.set_db(db_);
  e.set_end_db(db_);
  return e;
}

std::vector<pb::EffectBatch> EffectBatcher::Take(size_t budget) {
  std::vector<pb::EffectBatch> out;
  size_t taken = 0;
  while (out.empty() || taken < budget) {
    if (cut_ && taken_offset_ >= *cut_) cut_.reset();
    const uint64_t limit = cut_ ? *cut_ : UINT64_MAX;
    if (units_.empty() || units_.front().end_offset > limit) {
      // Nothing to take before the cut point: only non-state bytes (or
      // nothing yet) lead up to it.
      if (!cut_ || end_offset_ < *cut_) break;
      out.push_back(EmptyTo(*cut_));
      taken_offset_ = *cut_;
      continue;
    }
    const uint64_t before = taken_;
    out.push_back(units_.front().bytes_end - taken_ > max_entry_ ? Piece() : WholeUnits(limit));
    taken += taken_ - before;
    taken_offset_ = out.back().stream_end();
  }
  return out;
}

bool PieceAssembler::Complete(const pb::EffectBatch& batch, std::vector<std::string>* pieces, int* db) {
  *db = batch.db();
  pieces->clear();
  if (partial_ && !batch.stream_id().empty()) {
    if (batch.stream_id() == partial_->stream_id && batch.stream_begin() == partial_->end) {
      *db = partial_->db;
      pieces->swap(partial_->pieces);
      if (batch.continued()) {  // a middle piece: keep holding
        pieces->swap(partial_->pieces);
      } else {
        partial_.reset();
      }
    } else {
      dropped_ += partial_->bytes;
      partial_.reset();
    }
  }
  if (!batch.continued()) return true;
  if (!partial_) partial_ = Partial{batch.stream_id(), 0, *db, {}, 0};
  partial_->pieces.push_back(batch.commands());
  partial_->bytes += batch.commands().size();
  partial_->end = batch.stream_end();
  return false;
}

}  // namespace node
