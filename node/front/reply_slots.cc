#include "node/front/reply_slots.h"

namespace node {

ReplySlots::Slot* ReplySlots::Find(Id id) {
  if (id < first_ || id - first_ >= slots_.size()) return nullptr;
  return &slots_[id - first_];
}

ReplySlots::Id ReplySlots::Add(RequestTiming timing, bool silent) {
  Slot& s = slots_.emplace_back();
  s.timing = timing;
  s.silent = silent;
  return first_ + slots_.size() - 1;
}

void ReplySlots::AddReady(std::string reply, bool close_after, bool silent) {
  if (silent) reply.clear();
  buffered_ += reply.size();
  if (stream_ && *stream_ == first_ + slots_.size() - 1) {
    Slot& s = slots_.back();
    s.before.append(reply);
    s.close_after = s.close_after || close_after;
    if (close_after) EndStream();
    return;
  }
  Slot& s = slots_.emplace_back();
  s.reply = ByteBlock(std::move(reply));
  s.have_reply = s.released = true;
  s.close_after = close_after;
}

void ReplySlots::SetReply(Id id, ByteBlock reply) {
  Slot* s = Find(id);
  if (s == nullptr) return;
  buffered_ += reply.size() - s->reply.size();
  s->reply = std::move(reply);
  s->have_reply = true;
}

void ReplySlots::Release(Id id) {
  if (Slot* s = Find(id)) s->released = true;
}

void ReplySlots::PushBefore(std::optional<Id> id, std::string_view bytes) {
  Slot* s = id ? Find(*id) : nullptr;
  if (s == nullptr) return AddReady(std::string(bytes));
  buffered_ += bytes.size();
  s->before.append(bytes);
}

void ReplySlots::OpenStream() {
  Slot& s = slots_.emplace_back();
  s.stream = true;
  stream_ = first_ + slots_.size() - 1;
}

void ReplySlots::EndStream() {
  if (Slot* s = stream_ ? Find(*stream_) : nullptr) {
    s->stream = false;
    s->have_reply = s->released = true;
  }
  stream_.reset();
}

ReplySlots::Id ReplySlots::AddEmpty() {
  Slot& s = slots_.emplace_back();
  s.have_reply = s.released = true;
  return first_ + slots_.size() - 1;
}

void ReplySlots::Hold(Id id) {
  if (Slot* s = Find(id)) ++s->holds;
}

void ReplySlots::Unhold(Id id) {
  if (Slot* s = Find(id); s != nullptr && s->holds > 0) --s->holds;
}

bool ReplySlots::Flush(OutputQueue* out, RequestLatency* latency) {
  std::chrono::steady_clock::time_point now{};  // read once, when a timed reply leaves
  while (!slots_.empty()) {
    Slot& s = slots_.front();
    if (s.holds > 0) return false;
    if (!s.before.empty()) {
      buffered_ -= s.before.size();
      out->Append(std::move(s.before));
      s.before.clear();
    }
    if (s.stream || !s.have_reply || !s.released) return false;
    buffered_ -= s.reply.size();
    if (!s.silent) out->Append(std::move(s.reply));
    if (latency != nullptr && s.timing.arrived != std::chrono::steady_clock::time_point{}) {
      if (now == std::chrono::steady_clock::time_point{}) now = std::chrono::steady_clock::now();
      latency->Observe(s.timing.cls, now - s.timing.arrived);
    }
    const bool close = s.close_after;
    slots_.pop_front();
    ++first_;
    if (close) return true;
  }
  return false;
}

ReplySlots::Aborted ReplySlots::AbortAll(std::string_view error, std::string_view read_error, OutputQueue* out) {
  Aborted aborted;
  for (Slot& s : slots_) {
    if (s.holds == 0) out->Append(std::move(s.before));  // held messages may tell of writes that never commit
    if (s.stream) continue;
    if (s.silent) continue;
    if (s.have_reply && s.released) {
      out->Append(std::move(s.reply));
    } else if (s.timing.cls == RequestClass::kRead) {
      out->Append(read_error);
      ++aborted.read_errors;
    } else {
      out->Append(error);
      ++aborted.errors;
    }
  }
  first_ += slots_.size();
  slots_.clear();
  stream_.reset();
  buffered_ = 0;
  return aborted;
}

}  // namespace node
