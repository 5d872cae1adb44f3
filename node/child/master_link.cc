#include "node/child/master_link.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "node/accept_again.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {
namespace {

constexpr std::string_view kGetAck = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
constexpr auto kKeepalive = std::chrono::seconds(1);

bool Is(std::string_view arg, std::string_view name) {
  return absl::EqualsIgnoreCase(absl::string_view(arg.data(), arg.size()),
                                absl::string_view(name.data(), name.size()));
}

std::string RandomHex(int bytes) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < bytes; ++i) absl::StrAppendFormat(&out, "%02x", rd() & 0xff);
  return out;
}

}  // namespace

std::string EmptyRdb() {
  std::string rdb = "REDIS0010";
  rdb.push_back(static_cast<char>(0xff));  // EOF opcode
  rdb.append(8, '\0');                     // checksum 0: not computed
  return rdb;
}

struct MasterLink::Session {
  explicit Session(asio::ip::tcp::socket s) : socket(std::move(s)) {}
  asio::ip::tcp::socket socket;
  ReadBuffer in;
  resp::RequestParser parser;
  bool authenticated = false;
  bool closed = false;
};

MasterLink::MasterLink(asio::io_context& io) : io_(io), acceptor_(io), keepalive_(io) {}

MasterLink::~MasterLink() {
  *alive_ = false;
  Stop();
}

absl::Status MasterLink::Listen(std::string secret) {
  secret_ = std::move(secret);
  asio::error_code ec;
  asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(4, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("master link: listen: ", ec.message()));
  port_ = acceptor_.local_endpoint().port();
  Accept();
  Keepalive();
  return absl::OkStatus();
}

void MasterLink::Stop() {
  asio::error_code ec;
  acceptor_.close(ec);
  keepalive_.cancel();
  if (session_) Drop(session_);
  if (auto p = pending_.lock()) Drop(p);
}

void MasterLink::Accept() {
  acceptor_.async_accept([this, alive = alive_](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (!*alive || !acceptor_.is_open()) return;
    if (ec) {
      return AcceptAgain(io_, ec, LogComponent::kChild, [this, alive] {
        if (*alive && acceptor_.is_open()) Accept();
      });
    }
    // One child at a time: a new connection (a restarted child) replaces
    // the old one once it authenticated (see Handle); until then it is
    // pending, and a newer pending one replaces it, so connections that
    // never authenticate neither pile up nor disturb the child's link.
    if (auto old = pending_.lock()) Drop(old);
    socket.set_option(asio::ip::tcp::no_delay(true));
    auto s = std::make_shared<Session>(std::move(socket));
    pending_ = s;
    Read(s);
    Accept();
  });
}

void MasterLink::Drop(const std::shared_ptr<Session>& s) {
  asio::error_code ec;
  s->closed = true;
  s->socket.close(ec);
  if (s == session_) {
    session_.reset();
    streaming_ = false;
    out_.Clear();
    pending_header_.clear();
    CloseRdb();
  }
}

void MasterLink::Detach() {
  if (session_) Drop(session_);
}

void MasterLink::NewChild() {
  Detach();
  applied_ = fed_ = 0;
}

void MasterLink::Read(const std::shared_ptr<Session>& s) {
  s->socket.async_read_some(s->in.Prepare(16 << 10), [this, s, alive = alive_](const asio::error_code& ec, size_t n) {
    if (!*alive || s->closed) return;
    if (ec) return Drop(s);  // the child reconnects (full sync), or it died (the node rebuilds it)
    s->in.Commit(n);
    std::vector<std::string_view> args;
    std::string error;
    while (!s->in.empty() && !s->closed) {
      size_t consumed = 0;
      const resp::ParseStatus st = s->parser.Parse(s->in.data(), &consumed, &args, &error);
      if (st == resp::ParseStatus::kNeedMore) break;
      if (st == resp::ParseStatus::kError) return Drop(s);
      if (!args.empty()) Handle(s, args);
      s->in.Consume(consumed);
    }
    if (!s->closed) Read(s);
  });
}

void MasterLink::Reply(const std::shared_ptr<Session>& s, std::string_view bytes) {
  auto buf = std::make_shared<std::string>(bytes);
  asio::async_write(s->socket, asio::buffer(*buf), [buf](const asio::error_code&, size_t) {});
}

// The replica side of Redis's handshake, then its ACKs.
void MasterLink::Handle(const std::shared_ptr<Session>& s, std::span<const std::string_view> args) {
  if (Is(args[0], "auth")) {
    s->authenticated = args.size() >= 2 && args.back() == secret_;
    if (s->authenticated && s != session_) {
      if (session_) Drop(session_);
      session_ = s;
      pending_.reset();
    }
    return Reply(s, s->authenticated ? "+OK\r\n" : "-WRONGPASS invalid password\r\n");
  }
  if (!s->authenticated) {
    // The replica's handshake PINGs first, and takes NOAUTH as "send AUTH".
    if (Is(args[0], "ping")) return Reply(s, "-NOAUTH Authentication required.\r\n");
    Log(LogComponent::kChild, LogLevel::kWarning, "master link: a connection that did not authenticate sent %s; closed",
        std::string(args[0].substr(0, 20)));
    return Drop(s);
  }
  if (Is(args[0], "ping")) return Reply(s, "+PONG\r\n");
  if (Is(args[0], "replconf")) {
    if (args.size() >= 3 && Is(args[1], "ack")) {
      uint64_t offset = 0;
      if (absl::SimpleAtoi(absl::string_view(args[2].data(), args[2].size()), &offset)) OnAck(offset);
      return;  // ACKs get no reply
    }
    return Reply(s, "+OK\r\n");
  }
  if (Is(args[0], "psync") || Is(args[0], "sync")) {
    // Whatever the child holds is replaced: a full resync from the log.
    if (on_sync_requested) on_sync_requested();
    return;
  }
  Reply(s, "-ERR only the replication handshake is served here\r\n");
}

absl::Status MasterLink::FullSync(const std::string& rdb_path, uint64_t index, const std::string& prelude) {
  if (!session_) return absl::OkStatus();
  CloseRdb();
  std::string header;
  if (rdb_path.empty()) {
    const std::string rdb = EmptyRdb();
    header = absl::StrCat("$", rdb.size(), "\r\n", rdb);
  } else {
    rdb_fd_ = ::open(rdb_path.c_str(), O_RDONLY);
    if (rdb_fd_ < 0) return absl::NotFoundError(absl::StrCat("open ", rdb_path, ": ", strerror(errno)));
    struct stat st;
    if (::fstat(rdb_fd_, &st) != 0) {
      CloseRdb();
      return absl::InternalError(absl::StrCat("stat ", rdb_path, ": ", strerror(errno)));
    }
    rdb_left_ = static_cast<uint64_t>(st.st_size);
    header = absl::StrCat("$", rdb_left_, "\r\n");
  }
  ++full_syncs_;
  streaming_ = true;
  paused_ = false;
  deferred_.clear();
  out_.Clear();
  offset_ = acked_ = getack_at_ = entries_end_ = 0;
  ack_received_ = false;
  // The child's link starts in the RDB's repl-stream-db: the db of the link
  // whose state was saved, a leader's stream or a follower child's master
  // link. The latter is where the last fed entry left it, and node entries
  // run in their client's db, which the leader's stream never selected. So
  // it is taken as unknown: the first entry fed selects its db.
  db_ = kUnknownDb;
  pieces_.Clear();
  unacked_.clear();
  // The RDB (and the prelude) hold the state after `index`: applied once the
  // child loaded it (the ACK after the prelude).
  out_.Append(prelude);
  offset_ = entries_end_ = prelude.size();
  unacked_.emplace_back(offset_, index);
  fed_ = index;
  applied_ = 0;
  // The RDB goes straight to the socket (WriteRdbChunk); entries fed meanwhile
  // queue behind it.
  pending_header_ = absl::StrCat("+FULLRESYNC ", RandomHex(20), " 0\r\n", header);
  Write();
  return absl::OkStatus();
}

void MasterLink::CloseRdb() {
  if (rdb_fd_ >= 0) ::close(rdb_fd_);
  rdb_fd_ = -1;
  rdb_left_ = 0;
}

// Writes the sync header, then the RDB file chunk by chunk; returns false
// once all of it went out.
bool MasterLink::WriteRdbChunk() {
  if (pending_header_.empty() && rdb_fd_ < 0) return false;
  std::string chunk = std::move(pending_header_);
  pending_header_.clear();
  if (rdb_fd_ >= 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(rdb_left_, 1 << 20));
    const size_t at = chunk.size();
    chunk.resize(at + want);
    size_t got = 0;
    while (got < want) {
      const ssize_t r = ::read(rdb_fd_, chunk.data() + at + got, want - got);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        break;  // the file shrank: the child gets a short RDB and fails the sync (then retries)
      }
      got += static_cast<size_t>(r);
    }
    chunk.resize(at + got);
    rdb_left_ -= got;
    if (rdb_left_ == 0 || got < want) CloseRdb();
  }
  writing_.chunks.clear();
  writing_.chunks.emplace_back(std::move(chunk));
  writing_.buffers = {asio::buffer(writing_.chunks.front().view().data(), writing_.chunks.front().size())};
  write_busy_ = true;
  auto s = session_;
  asio::async_write(s->socket, writing_.buffers, [this, s, alive = alive_](const asio::error_code& ec, size_t) {
    if (!*alive) return;
    write_busy_ = false;
    writing_.Clear();
    if (ec || s != session_) return;
    Write();
  });
  return true;
}

void MasterLink::Pause() { paused_ = true; }

void MasterLink::Resume() {
  paused_ = false;
  auto deferred = std::move(deferred_);
  deferred_.clear();
  for (auto& [index, batch] : deferred) {
    if (batch) {
      Feed(index, std::move(*batch));
    } else {
      Skip(index);
    }
  }
  Write();
}

bool MasterLink::quiet() const {
  return paused_ && streaming_ && !write_busy_ && out_.empty() && pending_header_.empty() && rdb_fd_ < 0 &&
         applied_ == fed_ && pieces_.held_bytes() == 0;
}

void MasterLink::Feed(uint64_t index, pb::EffectBatch batch) {
  if (!streaming_) return;  // the next full sync feeds it
  if (paused_) {
    deferred_.emplace_back(index, std::move(batch));
    return;
  }
  if (!batch.check_digest().empty()) {
    paused_ = true;
    deferred_.emplace_back(index, std::nullopt);  // applied as a no-op once resumed
    if (on_check) on_check(index, batch.check_digest());
    return;
  }
  std::vector<std::string> pieces;
  int db = 0;
  if (!pieces_.Complete(batch, &pieces, &db)) return Skip(index);
  uint64_t bytes = batch.commands().size();
  if (db != db_) {
    std::string select;
    resp::AppendCommand(&select, {"SELECT", absl::StrCat(db)});
    bytes += select.size();
    out_.Append(std::move(select));
  }
  for (std::string& p : pieces) {
    bytes += p.size();
    out_.Append(std::move(p));
  }
  out_.Append(std::move(*batch.mutable_commands()));
  db_ = batch.end_db();
  offset_ += bytes;
  entries_end_ = offset_;
  unacked_.emplace_back(offset_, index);
  fed_ = index;
  Write();
}

void MasterLink::Skip(uint64_t index) {
  if (!streaming_) return;
  if (paused_) {
    deferred_.emplace_back(index, std::nullopt);
    return;
  }
  unacked_.emplace_back(entries_end_, index);
  fed_ = index;
  Advance();
}

void MasterLink::Write() {
  if (write_busy_ || !session_ || !streaming_) return;
  if (WriteRdbChunk()) return;
  if (offset_ > getack_at_) {
    // Ask for an ACK right after these entries: it tells when they are applied.
    out_.Append(kGetAck);
    offset_ += kGetAck.size();
    getack_at_ = offset_;
  }
  if (out_.empty()) return;
  writing_.TakeFrom(out_);
  write_busy_ = true;
  auto s = session_;
  asio::async_write(s->socket, writing_.buffers, [this, s, alive = alive_](const asio::error_code& ec, size_t) {
    if (!*alive) return;
    write_busy_ = false;
    writing_.Clear();
    if (ec || s != session_) return;  // the read side drops the session
    Write();
  });
}

// The ACK that answers a GETACK counts the bytes before that GETACK.
void MasterLink::OnAck(uint64_t offset) {
  ack_received_ = true;
  if (offset > acked_) acked_ = offset;
  Advance();
}

void MasterLink::Advance() {
  if (!ack_received_) return;
  const uint64_t before = applied_;
  while (!unacked_.empty() && unacked_.front().first <= acked_) {
    applied_ = unacked_.front().second;
    unacked_.pop_front();
  }
  if (applied_ != before && on_applied) on_applied(applied_);
}

// A replica drops a master it has not heard from for repl-timeout: a GETACK
// every second keeps the link alive, and tells the node it is.
void MasterLink::Keepalive() {
  keepalive_.expires_after(kKeepalive);
  keepalive_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    if (streaming_ && !write_busy_ && out_.empty()) {
      out_.Append(kGetAck);
      offset_ += kGetAck.size();
      getack_at_ = offset_;
      Write();
    }
    Keepalive();
  });
}

}  // namespace node
