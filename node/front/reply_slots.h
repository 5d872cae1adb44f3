// The replies of one client connection, kept in request order: each request
// takes a slot when it is forwarded; its reply fills the slot when it arrives
// and leaves once released (the consistency gate decides when) and every
// earlier slot has left. Bytes that are not replies to a request (RESP3
// pushes, a RESP2 subscribed stream) go out before the slot they precede.
// Socket-free: the session moves what Flush() returns to the socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "node/output_queue.h"
#include "node/ring_queue.h"
#include "node/request_latency.h"

namespace node {

class ReplySlots {
 public:
  using Id = uint64_t;

  // A slot for a reply still to come; timed requests are counted in the
  // latency Flush() is given when their reply leaves.
  Id Add(RequestTiming timing = {}, bool silent = false);
  // A reply the node made itself: it may leave as soon as its turn comes. While
  // a stream is open at the end, it joins the stream.
  // A silent slot's reply is dropped when its turn comes (CLIENT REPLY OFF/SKIP).
  void AddReady(std::string reply, bool close_after = false, bool silent = false);
  // The reply of slot `id` arrived (it leaves once released too).
  void SetReply(Id id, ByteBlock reply);
  void Release(Id id);
  // Bytes that leave right before slot `id` (out-of-band pushes), or at the
  // end when `id` is empty.
  void PushBefore(std::optional<Id> id, std::string_view bytes);
  // A slot with no reply of its own, for pushes at the end.
  Id AddEmpty();
  // While a slot is held (a pub/sub message before it waits for the gate),
  // nothing leaves from it on, the bytes before it included. Holds count.
  void Hold(Id id);
  void Unhold(Id id);

  // A RESP2 subscribed stream begins: everything the upstream sends goes out
  // in arrival order (PushBefore(stream_id())) until EndStream().
  void OpenStream();
  void EndStream();
  bool stream_open() const { return stream_.has_value(); }
  std::optional<Id> stream_id() const { return stream_; }

  // Appends to `out` everything that may leave now, in order, and counts the
  // timed replies among them in `latency` (if given). Returns true if a slot
  // asked to close the connection after its reply.
  bool Flush(OutputQueue* out, RequestLatency* latency = nullptr);
  // Appends every reply that was released, and an error for each slot that
  // was not: `read_error` for a read's (it changed nothing, so the client may
  // simply send it again), `error` for any other's. The connection ends after
  // this.
  struct Aborted {
    size_t errors = 0;
    size_t read_errors = 0;
  };
  Aborted AbortAll(std::string_view error, std::string_view read_error, OutputQueue* out);

  size_t size() const { return slots_.size(); }
  // The oldest slot still held (when not empty): the next reply to leave.
  Id front_id() const { return first_; }
  bool empty() const { return slots_.empty(); }
  // Bytes held for the client (replies waiting, ready, pushes): what Redis
  // counts against client-output-buffer-limit.
  size_t buffered_bytes() const { return buffered_; }

 private:
  struct Slot {
    std::string before;  // pushes or stream bytes that precede the reply
    ByteBlock reply;
    bool have_reply = false;
    bool released = false;
    bool close_after = false;
    bool stream = false;  // an open stream: its `before` keeps growing
    int holds = 0;        // Hold() minus Unhold()
    RequestTiming timing;
    bool silent = false;
  };
  Slot* Find(Id id);

  RingQueue<Slot> slots_;
  Id first_ = 1;  // id of slots_.front()
  std::optional<Id> stream_;
  size_t buffered_ = 0;
};

}  // namespace node
