#include "node/cluster/snapshot_transfer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "node/logging.h"

namespace node {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kWindow = 4 * kChunk;         // bytes sent ahead of the receiver's ACK

bool SameSnapshot(const pb::SnapshotMeta& a, const pb::SnapshotMeta& b) {
  return a.index() == b.index() && a.term() == b.term() && a.crc32() == b.crc32() && a.size() == b.size();
}

// What is wrong with the Raft message a DONE carries ("" if nothing): it must
// be the MSG_SNAP of the snapshot offered, from the node the link
// authenticated (`from`: the frame's sender, which the link checked) to this
// node. The core steps it as it is: any other message, or one naming another
// sender, would bypass the link's check of who speaks, and a snapshot other
// than the file received would make the node load a state it does not have.
std::string WrongSnapMessage(const consensus::pb::Message& m, uint64_t from, uint64_t self,
                             const pb::SnapshotMeta& offered) {
  if (m.type() != consensus::pb::MSG_SNAP) return "the raft message is not a snapshot";
  if (m.from() != from || m.to() != self) return "the raft message names another sender or receiver";
  const consensus::pb::SnapshotMetadata& md = m.snapshot().metadata();
  pb::SnapshotMeta named;
  if (md.index() != offered.index() || md.term() != offered.term() || !named.ParseFromString(m.snapshot().data()) ||
      !SameSnapshot(named, offered) || named.file() != offered.file()) {
    return "the raft message names another snapshot than the one offered";
  }
  return "";
}

}  // namespace

// ------------------------------------------------------------------ sender

struct SnapshotSender::Transfer {
  explicit Transfer(asio::io_context& io) : timeout(io) {}
  ~Transfer() {
    if (fd >= 0) ::close(fd);
  }
  uint64_t to = 0;
  pb::SnapshotMeta meta;
  std::string raft_message;  // the MSG_SNAP, stepped by the receiver at the end
  int fd = -1;
  uint64_t acked = 0;  // the receiver has this much
  uint64_t sent = 0;   // next byte to send
  bool done_sent = false;
  asio::steady_timer timeout;
};

SnapshotSender::SnapshotSender(asio::io_context& io, uint64_t self, const SnapshotStore& store, SendFrame send,
                               std::chrono::steady_clock::duration silence)
    : io_(io), self_(self), store_(store), send_(std::move(send)), silence_(silence) {}

SnapshotSender::~SnapshotSender() {
  *alive_ = false;
  Stop();
}

void SnapshotSender::Stop() {
  transfers_.clear();
  reports_.clear();  // (their timers are cancelled: the core that asked is gone)
  failures_.clear();
}

void SnapshotSender::Start(consensus::pb::Message msg) {
  pb::SnapshotMeta meta;
  if (!meta.ParseFromString(msg.snapshot().data())) {
    Log(LogComponent::kSnapshot, LogLevel::kError, "snapshot for node %d: unreadable snapshot handle", msg.to());
    if (on_done) on_done(msg.to(), true);
    return;
  }
  const uint64_t to = msg.to();
  if (auto it = transfers_.find(to); it != transfers_.end() && SameSnapshot(it->second->meta, meta)) return;
  auto t = std::make_unique<Transfer>(io_);
  t->to = to;
  t->meta = meta;
  t->raft_message = msg.SerializeAsString();
  t->fd = ::open(store_.Path(meta.file()).c_str(), O_RDONLY);
  transfers_[to] = std::move(t);
  if (transfers_[to]->fd < 0) return Finish(to, true, absl::StrCat("cannot open ", meta.file(), ": ", strerror(errno)));
  Log(LogComponent::kSnapshot, LogLevel::kInfo, "sending snapshot %d (term %d, %d bytes) to node %d", meta.index(), meta.term(), meta.size(), to);
  pb::SnapshotFrame offer;
  offer.set_kind(pb::SnapshotFrame::OFFER);
  offer.set_from(self_);
  offer.set_to(to);
  *offer.mutable_meta() = meta;
  send_(to, std::move(offer));
  Arm(*transfers_[to]);
}

void SnapshotSender::Arm(Transfer& t) {
  t.timeout.expires_after(silence_);
  t.timeout.async_wait([this, to = t.to, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    // An expiry already queued when an answer re-armed the timer, or when a
    // new transfer to the peer replaced this one, finds a later expiry.
    auto it = transfers_.find(to);
    if (it == transfers_.end() || it->second->timeout.expiry() > std::chrono::steady_clock::now()) return;
    Finish(to, true, "no answer from the receiver");
  });
}

void SnapshotSender::OnFrame(const pb::SnapshotFrame& f) {
  auto it = transfers_.find(f.from());
  if (it == transfers_.end() || !SameSnapshot(it->second->meta, f.meta())) return;
  Transfer& t = *it->second;
  if (f.kind() == pb::SnapshotFrame::ABORT) return Finish(f.from(), true, f.error());
  if (f.installed()) return Finish(f.from(), false, "");
  // The receiver has f.offset() bytes: go on from there (after a restart or a
  // lost chunk, that may be behind what was sent).
  t.acked = f.offset();
  if (t.sent < t.acked || t.sent > t.acked + kWindow) t.sent = t.acked;
  Arm(t);
  if (t.acked >= t.meta.size()) {
    if (t.done_sent) return;
    t.done_sent = true;
    pb::SnapshotFrame done;
    done.set_kind(pb::SnapshotFrame::DONE);
    done.set_from(self_);
    done.set_to(t.to);
    *done.mutable_meta() = t.meta;
    done.set_raft_message(t.raft_message);
    send_(t.to, std::move(done));
    return;
  }
  SendChunks(t);
}

void SnapshotSender::SendChunks(Transfer& t) {
  while (t.sent < t.meta.size() && t.sent < t.acked + kWindow) {
    pb::SnapshotFrame c;
    c.set_kind(pb::SnapshotFrame::CHUNK);
    c.set_from(self_);
    c.set_to(t.to);
    *c.mutable_meta() = t.meta;
    c.set_offset(t.sent);
    std::string* data = c.mutable_data();
    data->resize(static_cast<size_t>(std::min<uint64_t>(kChunk, t.meta.size() - t.sent)));
    const ssize_t r = ::pread(t.fd, data->data(), data->size(), static_cast<off_t>(t.sent));
    if (r <= 0) return Finish(t.to, true, absl::StrCat("read ", t.meta.file(), ": ", r < 0 ? strerror(errno) : "short"));
    data->resize(static_cast<size_t>(r));
    t.sent += static_cast<uint64_t>(r);
    send_(t.to, std::move(c));
  }
}

void SnapshotSender::Finish(uint64_t to, bool failed, const std::string& why) {
  auto it = transfers_.find(to);
  if (it == transfers_.end()) return;
  const pb::SnapshotMeta meta = it->second->meta;
  transfers_.erase(it);
  if (failed) {
    Log(LogComponent::kSnapshot, LogLevel::kWarning, "snapshot %d to node %d failed: %s", meta.index(), to, why);
    return ReportFailureLater(to);
  }
  Log(LogComponent::kSnapshot, LogLevel::kInfo, "snapshot %d installed on node %d", meta.index(), to);
  failures_.erase(to);
  if (on_done) on_done(to, false);
}

void SnapshotSender::ReportFailureLater(uint64_t to) {
  const int failures = std::min(++failures_[to], 16);
  const auto wait = std::min<std::chrono::steady_clock::duration>(kFirstRetry * (1 << (failures - 1)), kMaxRetry);
  auto& timer = reports_[to];
  timer = std::make_unique<asio::steady_timer>(io_, wait);
  timer->async_wait([this, to, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    reports_.erase(to);
    if (on_done) on_done(to, true);
  });
}

// ------------------------------------------------------------------ receiver

struct SnapshotReceiver::Incoming {
  ~Incoming() {
    if (fd >= 0) ::close(fd);
  }
  uint64_t from = 0;
  pb::SnapshotMeta meta;
  std::string path;
  int fd = -1;
  uint64_t have = 0;      // bytes written
  uint64_t expected = 0;  // next byte accepted (writes may be queued)
  bool ready = false;     // the file is open
  bool finishing = false;
};

SnapshotReceiver::SnapshotReceiver(asio::io_context& io, uint64_t self, const SnapshotStore& store,
                                   asio::thread_pool& files, SendFrame send,
                                   std::function<void(consensus::pb::Message&&)> step)
    : io_(io), self_(self), store_(store), files_(files), send_(std::move(send)), step_(std::move(step)) {}

SnapshotReceiver::~SnapshotReceiver() { *alive_ = false; }

void SnapshotReceiver::OnFrame(const pb::SnapshotFrame& f) {
  switch (f.kind()) {
    case pb::SnapshotFrame::OFFER:
      return Offer(f);
    case pb::SnapshotFrame::CHUNK:
      return Chunk(f);
    case pb::SnapshotFrame::DONE:
      return Done(f);
    default:
      return;
  }
}

void SnapshotReceiver::Fail(const pb::SnapshotFrame& about, const std::string& why) {
  Log(LogComponent::kSnapshot, LogLevel::kWarning, "snapshot %d from node %d refused: %s", about.meta().index(),
      about.from(), why);
  failure_ = why;
  Reply(about, pb::SnapshotFrame::ABORT, 0, why);
}

void SnapshotReceiver::Reply(const pb::SnapshotFrame& about, pb::SnapshotFrame::Kind kind, uint64_t offset,
                             const std::string& error) {
  pb::SnapshotFrame r;
  r.set_kind(kind);
  r.set_from(self_);
  r.set_to(about.from());
  *r.mutable_meta() = about.meta();
  r.set_offset(offset);
  r.set_error(error);
  send_(about.from(), std::move(r));
}

// Opens (or reopens, to resume) the incoming file off the event loop, then
// tells the sender how much of it is there.
void SnapshotReceiver::Offer(const pb::SnapshotFrame& f) {
  if (incoming_ && SameSnapshot(incoming_->meta, f.meta())) {
    incoming_->from = f.from();
    if (incoming_->ready && !incoming_->finishing) Reply(f, pb::SnapshotFrame::ACK, incoming_->have, "");
    return;
  }
  if (!SnapshotStore::WellNamed(f.meta())) return Reply(f, pb::SnapshotFrame::ABORT, 0, "the snapshot's file name is not the store's");
  auto in = std::make_shared<Incoming>();
  in->from = f.from();
  in->meta = f.meta();
  in->path = store_.Path(SnapshotStore::IncomingName(f.meta()));
  if (incoming_ && incoming_->path != in->path) {
    // The replaced transfer never resumes (only an offer of its own snapshot
    // would, and the sender replaced it): nothing else removes its file.
    // Queued behind its writes (and its finish, which may have renamed it).
    asio::post(files_, [path = incoming_->path] {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    });
  }
  incoming_ = in;
  asio::post(files_, [this, in, f, alive = alive_] {
    in->fd = ::open(in->path.c_str(), O_WRONLY | O_CREAT, 0600);
    const int open_errno = errno;
    struct stat st;
    uint64_t have = 0;
    if (in->fd >= 0 && ::fstat(in->fd, &st) == 0) have = static_cast<uint64_t>(st.st_size);
    if (have > in->meta.size()) {
      (void)::ftruncate(in->fd, 0);
      have = 0;
    }
    asio::post(io_, [this, in, f, have, open_errno, alive] {
      if (!*alive || in != incoming_) return;
      if (in->fd < 0) return Fail(f, absl::StrCat("cannot create the incoming snapshot file: ", strerror(open_errno)));
      in->have = in->expected = have;
      in->ready = true;
      if (have > 0) Log(LogComponent::kSnapshot, LogLevel::kInfo, "resuming snapshot %d from node %d at %d bytes", in->meta.index(), f.from(), have);
      Reply(f, pb::SnapshotFrame::ACK, have, "");
    });
  });
}

void SnapshotReceiver::Chunk(const pb::SnapshotFrame& f) {
  auto in = incoming_;
  if (!in || !in->ready || in->finishing || !SameSnapshot(in->meta, f.meta())) return;
  if (f.offset() != in->expected) {
    if (f.offset() > in->expected) Reply(f, pb::SnapshotFrame::ACK, in->have, "");  // a gap: resend from have
    return;
  }
  if (f.data().size() > in->meta.size() - f.offset()) {
    incoming_.reset();
    return Reply(f, pb::SnapshotFrame::ABORT, 0, "a chunk past the snapshot's size");
  }
  in->expected += f.data().size();
  asio::post(files_, [this, in, f, alive = alive_] {
    // (A full disk first takes what fits: the write after that says why.)
    std::string_view rest = f.data();
    ssize_t w = 1;
    while (!rest.empty() && w > 0) {
      w = ::pwrite(in->fd, rest.data(), rest.size(), static_cast<off_t>(f.offset() + (f.data().size() - rest.size())));
      if (w > 0) rest.remove_prefix(static_cast<size_t>(w));
    }
    const bool ok = rest.empty();
    const std::string error = ok ? "" : w < 0 ? strerror(errno) : "nothing written";
    asio::post(io_, [this, in, f, ok, error, alive] {
      if (!*alive || in != incoming_) return;
      if (!ok) {
        // Not kept to resume: on a full disk it would leave the node's log no
        // room (a failed log write stops the node).
        incoming_.reset();
        asio::post(files_, [path = in->path] {
          std::error_code ec;
          std::filesystem::remove(path, ec);
        });
        return Fail(f, absl::StrCat("cannot write the incoming snapshot file: ", error));
      }
      in->have = std::max(in->have, f.offset() + f.data().size());
      Reply(f, pb::SnapshotFrame::ACK, in->have, "");
    });
  });
}

// The file is complete: verify it, move it into the store, and only then
// step the MSG_SNAP (the core then hands it to the host in a Ready).
void SnapshotReceiver::Done(const pb::SnapshotFrame& f) {
  auto in = incoming_;
  if (!in || !SameSnapshot(in->meta, f.meta()) || in->finishing) return;
  if (in->have < in->meta.size()) return Reply(f, pb::SnapshotFrame::ACK, in->have, "");
  consensus::pb::Message m;
  if (!m.ParseFromString(f.raft_message())) return Reply(f, pb::SnapshotFrame::ABORT, 0, "bad raft message");
  std::string wrong = f.from() != in->from ? "the snapshot was offered by another node" : "";
  if (wrong.empty()) wrong = WrongSnapMessage(m, f.from(), self_, in->meta);
  if (!wrong.empty()) {
    Log(LogComponent::kSnapshot, LogLevel::kWarning, "snapshot %d from node %d refused: %s", in->meta.index(),
        f.from(), wrong);
    return Reply(f, pb::SnapshotFrame::ABORT, 0, wrong);
  }
  in->finishing = true;
  asio::post(files_, [this, in, f, m = std::move(m), alive = alive_]() mutable {
    ::close(in->fd);
    in->fd = -1;
    absl::Status s = SnapshotStore::Fsync(in->path);
    uint32_t crc = 0;
    uint64_t size = 0;
    if (s.ok()) s = SnapshotStore::Checksum(in->path, &crc, &size);
    if (s.ok() && (crc != in->meta.crc32() || size != in->meta.size())) {
      s = absl::DataLossError(absl::StrCat("received snapshot ", in->meta.index(), " fails its checksum"));
    }
    std::error_code ec;
    if (s.ok()) {
      std::filesystem::rename(in->path, store_.Path(in->meta.file()), ec);
      if (ec) s = absl::InternalError(ec.message());
    }
    if (s.ok()) s = SnapshotStore::Fsync(store_.dir());
    if (!s.ok()) std::filesystem::remove(in->path, ec);  // never load partial state; resend from scratch
    asio::post(io_, [this, in, f, s, m = std::move(m), alive]() mutable {
      if (!*alive) return;
      if (in == incoming_) incoming_.reset();
      if (!s.ok()) return Fail(f, s.ToString());
      failure_.clear();
      step_(std::move(m));
      pb::SnapshotFrame ack;
      ack.set_kind(pb::SnapshotFrame::ACK);
      ack.set_from(self_);
      ack.set_to(f.from());
      *ack.mutable_meta() = f.meta();
      ack.set_offset(in->meta.size());
      ack.set_installed(true);
      send_(f.from(), std::move(ack));
    });
  });
}

}  // namespace node
