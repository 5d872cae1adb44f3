#include "node/child/replication_reader.h"

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "node/child/child_redis.h"
#include "node/gate/consistency_gate.h"
#include "node/logging.h"
#include "resp/writer.h"

namespace node {
namespace {

// How the child names the reader in ROLE and INFO (any name: no one connects to it).
constexpr char kReaderAddress[] = "anarcho-node";
constexpr size_t kTakeBytes = 1 << 20;  // a command this big is handed on without a copy

resp::Limits StreamLimits() {
  resp::Limits l;
  l.max_multibulk_len = INT_MAX;  // the master link has no count limit in Redis either
  l.max_bulk_len = INT64_MAX;
  l.query_buffer_limit = INT64_MAX;  // (a master client's has none)
  return l;
}

bool NameIs(std::string_view arg, absl::string_view name) {
  return absl::EqualsIgnoreCase(absl::string_view(arg.data(), arg.size()), name);
}

// A DEL or UNLINK (what evictions propagate as) adds its keys in `db` to `out`.
void NoteDeletions(const std::vector<std::string_view>& args, int db, std::vector<uint64_t>* out) {
  if (args.size() < 2 || !(NameIs(args[0], "del") || NameIs(args[0], "unlink"))) return;
  for (size_t i = 1; i < args.size(); ++i) out->push_back(gate::KeyOf(db, args[i]));
}

}  // namespace

ReplicationReader::ReplicationReader(asio::io_context& io, std::string socket_path, std::string auth,
                                     int listening_port, Callbacks callbacks)
    : io_(io),
      socket_path_(std::move(socket_path)),
      auth_(std::move(auth)),
      listening_port_(listening_port),
      cb_(std::move(callbacks)),
      ack_timer_(io),
      parser_(StreamLimits()) {}

ReplicationReader::~ReplicationReader() {
  *alive_ = false;
  Stop();
}

void ReplicationReader::Start(std::pair<std::string, uint64_t> resume, int db) {
  Stop();
  resume_ = std::move(resume);
  db_ = db;
  socket_ = std::make_unique<asio::local::stream_protocol::socket>(io_);
  asio::error_code ec;
  socket_->connect(asio::local::stream_protocol::endpoint(socket_path_), ec);
  if (ec) {
    Fail(absl::UnavailableError(absl::StrCat("replication link: connect: ", ec.message())));
    return;
  }
  in_ = ReadBuffer();
  parser_.Reset();
  in_multi_ = false;
  group_ = EffectRun{};
  // Named, so that CLIENT LIST and CLIENT KILL leave the node's own links out.
  state_ = State::kAuth;
  Send(absl::StrCat(auth_, "CLIENT SETNAME ", kInternalClientPrefix, "stream\r\nPING\r\n"));
  Read();
}

void ReplicationReader::Stop() {
  ack_timer_.cancel();
  if (socket_) {
    asio::error_code ec;
    socket_->close(ec);
    socket_.reset();
  }
  state_ = State::kIdle;
}

void ReplicationReader::Fail(absl::Status status) {
  Stop();
  // The owner may destroy this reader in on_error (the node rebuilds its
  // child): the callback runs from a copy, and nothing of the reader is
  // touched after it.
  if (auto on_error = cb_.on_error) on_error(status);
}

void ReplicationReader::Send(std::string bytes) {
  if (!socket_) return;
  auto buf = std::make_shared<std::string>(std::move(bytes));
  asio::async_write(*socket_, asio::buffer(*buf),
                    [buf, alive = alive_](const asio::error_code&, size_t) {});
}

void ReplicationReader::Read() {
  if (!socket_) return;
  auto* sock = socket_.get();
  if (const size_t need = parser_.HintBytesNeeded(); need > (1 << 16)) in_.Reserve(need + (1 << 16));
  sock->async_read_some(in_.Prepare(1 << 16), [this, sock, alive = alive_](const asio::error_code& ec, size_t n) {
    if (!*alive || socket_.get() != sock) return;
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat("replication link lost: ", ec.message())));
      return;
    }
    in_.Commit(n);
    Process();
    if (*alive && socket_.get() == sock) Read();  // a failure may have destroyed the reader
  });
}

bool ReplicationReader::TakeLine(std::string* line) {
  // Before its reply to PSYNC the master may send bare "\n" keep-alives.
  while (!in_.empty() && in_.data()[0] == '\n') in_.Consume(1);
  size_t eol = in_.data().find("\r\n");
  if (eol == std::string_view::npos) return false;
  line->assign(in_.data().substr(0, eol));
  in_.Consume(eol + 2);
  return true;
}

void ReplicationReader::Process() {
  std::string line;
  while (true) {
    switch (state_) {
      case State::kIdle:
        return;
      case State::kStreaming:
        ProcessStream();
        return;
      default:
        if (!TakeLine(&line) || !Handshake(line)) return;
    }
  }
}

bool ReplicationReader::Handshake(const std::string& line) {
  auto fail = [this](absl::Status s) {
    Fail(std::move(s));
    return false;
  };
  switch (state_) {
    case State::kAuth:
      if (line != "+OK") return fail(absl::UnavailableError(absl::StrCat("replication handshake: AUTH: ", line)));
      state_ = State::kName;
      return true;
    case State::kName:
      if (line != "+OK") return fail(absl::UnavailableError(absl::StrCat("replication handshake: SETNAME: ", line)));
      state_ = State::kPing;
      return true;
    case State::kPing:
      if (line.empty() || line[0] == '-') return fail(absl::UnavailableError(absl::StrCat("replication handshake: PING: ", line)));
      state_ = State::kPort;
      // An address of its own spares the child a getpeername() in every
      // ROLE (the gate's covers ask one per turn): a system call that cost
      // more than the command itself.
      Send(absl::StrCat("REPLCONF listening-port ", listening_port_, " ip-address ", kReaderAddress, "\r\n"));
      return true;
    case State::kPort:
    case State::kCapa:
      if (line != "+OK") return fail(absl::UnavailableError(absl::StrCat("replication handshake: REPLCONF: ", line)));
      if (state_ == State::kPort) {
        state_ = State::kCapa;
        Send("REPLCONF capa eof capa psync2\r\n");
      } else {
        state_ = State::kPsync;
        Send(absl::StrCat("PSYNC ", resume_.first, " ", resume_.second + 1, "\r\n"));
      }
      return true;
    case State::kPsync:
      return OnPsyncReply(line) ||
             fail(absl::UnavailableError(absl::StrCat("replication handshake: the child does not continue its stream at ",
                                                      resume_.second, ": PSYNC answered ", line)));
    default:
      return false;
  }
}

bool ReplicationReader::OnPsyncReply(const std::string& line) {
  std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (parts.empty() || parts[0] != "+CONTINUE") return false;
  replid_ = parts.size() > 1 ? parts[1] : resume_.first;
  offset_ = resume_.second;
  state_ = State::kStreaming;
  SendAck();
  ScheduleAck();
  if (cb_.on_sync) cb_.on_sync(replid_, offset_);
  return true;
}

void ReplicationReader::ProcessStream() {
  EffectRun run;
  run.db = run.end_db = db_;
  run.end_offset = offset_;
  uint64_t start_offset = offset_;
  bool ack = false;
  std::vector<std::string_view> args;
  std::string error;
  while (!in_.empty()) {
    size_t consumed = 0;
    std::string_view data = in_.data();
    resp::ParseStatus st = parser_.Parse(data, &consumed, &args, &error);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      return Fail(absl::DataLossError(absl::StrCat("replication stream: ", error)));
    }
    Command command{args, data.substr(0, consumed)};
    // A big value's bytes move on without a copy (args stay valid: the
    // block keeps the memory).
    if (consumed >= kTakeBytes) {
      command.big = in_.TakeFront(consumed);
    } else {
      in_.Consume(consumed);
    }
    offset_ += consumed;
    if (args.empty()) {
      if (!in_multi_) run.end_offset = offset_;
    } else if (in_multi_) {
      AddToGroup(command, run);
    } else {
      ack = AddCommand(command, run) || ack;
    }
  }
  if (ack) SendAck();
  if (run.end_offset > start_offset && cb_.on_effects) cb_.on_effects(std::move(run));
}

void ReplicationReader::Append(Command& command, ByteQueue& q) {
  if (command.big.empty()) {
    if (q.empty()) q.Reserve(command.bytes.size() + in_.size());  // at most the rest of this read
    q.Append(command.bytes);
  } else {
    q.Append(std::move(command.big));
  }
}

// A command of a MULTI/EXEC group: the group joins `run` whole, at its EXEC.
void ReplicationReader::AddToGroup(Command& command, EffectRun& run) {
  const std::vector<std::string_view>& args = command.args;
  Append(command, group_.commands);
  ++group_.count;
  if (NameIs(args[0], "select") && args.size() > 1) {
    (void)absl::SimpleAtoi(absl::string_view(args[1].data(), args[1].size()), &group_.end_db);
  }
  NoteDeletions(args, group_.end_db, &group_.deleted);
  if (!NameIs(args[0], "exec")) return;
  in_multi_ = false;
  if (run.count == 0) run.db = run.end_db = group_.db;
  run.deleted.insert(run.deleted.end(), group_.deleted.begin(), group_.deleted.end());
  run.commands.Append(std::move(group_.commands));
  run.count += group_.count;
  run.end_db = db_ = group_.end_db;
  run.end_offset = offset_;
  run.units.push_back(EffectRun::Unit{run.commands.size(), group_.count, db_, offset_});
  group_ = EffectRun{};
}

// A command outside a group into `run`; true if it asks for an ACK.
bool ReplicationReader::AddCommand(Command& command, EffectRun& run) {
  const std::vector<std::string_view>& args = command.args;
  const std::string_view name = args[0];
  if (NameIs(name, "ping") || NameIs(name, "publish") || NameIs(name, "spublish")) {
    run.end_offset = offset_;
    return false;
  }
  if (NameIs(name, "replconf")) {
    run.end_offset = offset_;
    return args.size() > 1 && NameIs(args[1], "getack");
  }
  if (NameIs(name, "multi")) {
    in_multi_ = true;
    group_ = EffectRun{};
    group_.db = group_.end_db = db_;
    Append(command, group_.commands);
    group_.count = 1;
    return false;
  }
  if (NameIs(name, "select") && args.size() > 1) {
    int db = 0;
    if (absl::SimpleAtoi(absl::string_view(args[1].data(), args[1].size()), &db)) db_ = db;
  }
  NoteDeletions(args, db_, &run.deleted);
  Append(command, run.commands);
  ++run.count;
  run.end_db = db_;
  run.end_offset = offset_;
  run.units.push_back(EffectRun::Unit{run.commands.size(), 1, db_, offset_});
  return false;
}

void ReplicationReader::SendAck() {
  Send(absl::StrCat("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$", absl::StrCat(offset_).size(), "\r\n",
                    offset_, "\r\n"));
}

void ReplicationReader::ScheduleAck() {
  ack_timer_.expires_after(std::chrono::seconds(1));
  ack_timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive || state_ != State::kStreaming) return;
    SendAck();
    ScheduleAck();
  });
}

}  // namespace node
