#include "node/server.h"

#include <filesystem>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "node/client_session.h"
#include "node/effects.pb.h"
#include "node/local_log.h"
#include "node/logging.h"
#include "node/sync_client.h"
#include "resp/writer.h"

namespace node {
namespace fs = std::filesystem;

namespace {
// sockaddr_un holds 108 bytes.
constexpr size_t kMaxSocketPath = 100;
}  // namespace

Server::Server(asio::io_context& io, ServerOptions options)
    : io_(io), options_(std::move(options)), child_signals_(io, SIGCHLD), child_watch_(io) {}

Server::~Server() { Stop(); }

absl::Status Server::Start() {
  std::error_code ec;
  fs::create_directories(fs::path(options_.dir) / "log", ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", options_.dir, ": ", ec.message()));
  options_.dir = fs::absolute(options_.dir).string();

  auto store = storage::OpenRocksLogStore((fs::path(options_.dir) / "log").string());
  if (!store.ok()) return store.status();
  store_ = std::move(*store);

  std::function<void()> before_sync;
  if (!options_.test_sync_gate.empty()) {
    before_sync = [gate = options_.test_sync_gate] {
      while (fs::exists(gate)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    };
  }
  auto log = std::make_unique<LocalLog>(io_, store_.get(), std::move(before_sync));
  log->on_commit = [this](uint64_t offset) { OnCommit(offset); };
  log_ = std::move(log);

  child_options_.redis_server = options_.redis_server;
  child_options_.dir = (fs::path(options_.dir) / "child").string();
  child_options_.socket_path = (fs::path(options_.dir) / "child" / "redis.sock").string();
  child_options_.databases = options_.databases;
  if (child_options_.socket_path.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dir is too long for a unix socket path: ", child_options_.socket_path));
  }
  child_ = std::make_unique<ChildRedis>(child_options_);

  // Bind first, so a busy port fails the start before any work.
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io_);
  asio::ip::tcp::endpoint ep(asio::ip::make_address(options_.bind),
                             static_cast<uint16_t>(options_.port));
  asio::error_code aec;
  acceptor_->open(ep.protocol(), aec);
  if (!aec) acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true), aec);
  if (!aec) acceptor_->bind(ep, aec);
  if (!aec) acceptor_->listen(asio::socket_base::max_listen_connections, aec);
  if (aec) {
    return absl::UnavailableError(absl::StrCat("listen on ", options_.bind, ":", options_.port, ": ",
                                               aec.message()));
  }

  if (auto s = StartChildFromLog(); !s.ok()) return s;
  WatchChild();
  StartReader();
  return absl::OkStatus();
}

void Server::Stop() {
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  child_signals_.cancel(ec);
  child_watch_.cancel();
  if (reader_) reader_->Stop();
  if (control_) control_->close(ec);
  for (auto& [_, s] : sessions_) s->Abort("UNKNOWN the node is shutting down; outcome unknown");
  if (child_) child_->Kill();
}

absl::Status Server::StartChildFromLog() {
  const absl::Time start = absl::Now();
  if (auto s = child_->Start(); !s.ok()) return s;
  ++child_epoch_;
  asio::io_context sync_io;
  SyncClient client(sync_io);
  if (auto s = client.Connect(child_options_.socket_path); !s.ok()) return s;

  if (!commands_) {
    auto reply = client.Call({"COMMAND"});
    if (!reply.ok()) return reply.status();
    auto table = CommandTable::FromCommandReply(*reply);
    if (!table.ok()) return table.status();
    commands_ = std::make_unique<CommandTable>(std::move(*table));
    Log(LogLevel::kInfo, "command table: %d commands", commands_->size());
  }

  // Replay the log: the child becomes what the log says.
  uint64_t next = store_->FirstIndex();
  const uint64_t last = store_->LastIndex();
  int db = 0;
  uint64_t commands = 0, failures = 0;
  replayed_entries_ = 0;
  std::string requests;
  while (next <= last) {
    auto entries = store_->Read(next, last + 1, 16 << 20);
    if (!entries.ok()) return entries.status();
    requests.clear();
    size_t count = 0;
    for (const storage::LogEntry& e : *entries) {
      pb::EffectBatch batch;
      if (!batch.ParseFromString(e.data)) {
        return absl::DataLossError(absl::StrCat("log entry ", e.index, " is not an effect batch"));
      }
      if (batch.db() != db) {
        std::string n = absl::StrCat(batch.db());
        resp::AppendCommand(&requests, {"SELECT", n});
        ++count;
      }
      requests.append(batch.commands());
      count += batch.command_count();
      db = batch.end_db();
      next = e.index + 1;
      ++replayed_entries_;
    }
    commands += count;
    auto s = client.Pipeline(requests, count, [&](const resp::Value& v) {
      if (v.IsError() && failures++ < 10) Log(LogLevel::kWarning, "replay: %s", v.str);
    });
    if (!s.ok()) return s;
  }
  Log(LogLevel::kInfo, "child rebuilt from the log: %d entries, %d commands (%d failed) in %s",
      replayed_entries_, commands, failures, absl::FormatDuration(absl::Now() - start));

  // A control link for the node's own requests (CLIENT UNBLOCK); its replies
  // are read and dropped.
  control_ = std::make_unique<asio::local::stream_protocol::socket>(io_);
  asio::error_code ec;
  control_->connect(asio::local::stream_protocol::endpoint(child_options_.socket_path), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("control link: ", ec.message()));
  auto buf = std::make_shared<std::array<char, 4096>>();
  auto drain = std::make_shared<std::function<void()>>();
  *drain = [sock = control_.get(), buf, drain_weak = std::weak_ptr(drain)] {
    sock->async_read_some(asio::buffer(*buf), [buf, drain_weak](const asio::error_code& ec, size_t) {
      if (ec) return;
      if (auto d = drain_weak.lock()) (*d)();
    });
  };
  control_drain_ = drain;
  (*drain)();
  return absl::OkStatus();
}

void Server::StartReader() {
  ReplicationReader::Callbacks cb;
  cb.on_sync = [this](const std::string& replid, uint64_t offset, bool resumed) {
    if (!resumed) {
      stream_id_ = replid;
      log_->BeginStream(replid, offset);
    }
    Log(LogLevel::kInfo, "replication link %s at %s:%d", resumed ? "resumed" : "synced", replid, offset);
    if (state_ != State::kStopped) state_ = State::kServing;
    if (!accepting_) {
      accepting_ = true;
      Accept();
    }
  };
  cb.on_effects = [this](EffectRun&& run) { log_->Append(std::move(run)); };
  cb.on_error = [this](const absl::Status& s) {
    if (state_ == State::kStopped || state_ == State::kRebuilding) return;
    Rebuild(std::string(s.message()));
  };
  reader_ = std::make_unique<ReplicationReader>(io_, child_options_.socket_path, options_.port, std::move(cb));
  reader_->Start();
}

void Server::OnCommit(uint64_t offset) {
  std::vector<std::shared_ptr<ClientSession>> notify;
  while (!commit_waiters_.empty() && commit_waiters_.begin()->first <= offset) {
    CommitWaiter w = std::move(commit_waiters_.begin()->second);
    commit_waiters_.erase(commit_waiters_.begin());
    for (auto t : w.tickets) locks_.Release(t);
    for (const auto& k : w.marked) locks_.Unmark(k);
    if (auto s = w.session.lock()) notify.push_back(std::move(s));
  }
  for (auto& s : notify) s->OnCommitted();
}

void Server::AwaitCommit(uint64_t offset, std::vector<KeyLockTable::Ticket> tickets,
                         std::vector<std::string> marked, std::weak_ptr<ClientSession> session) {
  if (offset <= log_->committed_offset()) {
    for (auto t : tickets) locks_.Release(t);
    for (const auto& k : marked) locks_.Unmark(k);
    return;
  }
  commit_waiters_.emplace(offset, CommitWaiter{std::move(tickets), std::move(marked), std::move(session)});
}

void Server::ReleaseAllWaiters() {
  commit_waiters_.clear();
  locks_ = KeyLockTable();
}

void Server::UnblockChildClient(int64_t child_client_id) {
  if (!control_) return;
  auto req = std::make_shared<std::string>();
  resp::AppendCommand(req.get(), {"CLIENT", "UNBLOCK", absl::StrCat(child_client_id)});
  asio::async_write(*control_, asio::buffer(*req), [req](const asio::error_code&, size_t) {});
}

void Server::SessionClosed(ClientSession* session) { sessions_.erase(session); }

void Server::Rebuild(const std::string& why) {
  if (state_ == State::kRebuilding || state_ == State::kStopped) return;
  state_ = State::kRebuilding;
  ++rebuilds_;
  Log(LogLevel::kWarning, "rebuilding the child redis-server from the log: %s", why);
  reader_->Stop();
  asio::error_code ec;
  if (control_) control_->close(ec);
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [_, s] : sessions) {
    s->Abort("UNKNOWN the node's redis-server failed and is being rebuilt from the log; the outcome of "
             "this request is unknown");
  }
  ReleaseAllWaiters();
  log_->WhenIdle([this] {
    if (state_ == State::kStopped) return;
    child_->Kill();
    absl::Status s = StartChildFromLog();
    if (!s.ok()) {
      // Serving without a child that matches the log would break every
      // guarantee; a supervisor (or the operator) restarts the node.
      Log(LogLevel::kError, "cannot rebuild the child: %s; exiting", s.ToString());
      std::_Exit(1);
    }
    StartReader();
  });
}

void Server::WatchChild() {
  child_signals_.async_wait([this](const asio::error_code& ec, int) {
    if (ec || state_ == State::kStopped) return;
    if (state_ != State::kRebuilding && child_->Reap()) Rebuild("child redis-server exited");
    WatchChild();
  });
  // Signals can coalesce; a periodic look costs nothing.
  child_watch_.expires_after(std::chrono::seconds(1));
  child_watch_.async_wait([this](const asio::error_code& ec) {
    if (ec || state_ == State::kStopped) return;
    if (state_ != State::kRebuilding && child_->Reap()) Rebuild("child redis-server exited");
    child_watch_.expires_after(std::chrono::seconds(1));
    WatchChild();
  });
}

void Server::Accept() {
  acceptor_->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (state_ == State::kStopped) return;
      Log(LogLevel::kWarning, "accept: %s", ec.message());
      Accept();
      return;
    }
    socket.set_option(asio::ip::tcp::no_delay(true));
    if (state_ != State::kServing || sessions_.size() >= options_.max_clients) {
      auto msg = std::make_shared<std::string>(
          state_ != State::kServing
              ? "-LOADING anarchoredis is rebuilding its redis-server from the log; retry\r\n"
              : "-ERR max number of clients reached\r\n");
      auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      asio::async_write(*sock, asio::buffer(*msg), [msg, sock](const asio::error_code&, size_t) {
        asio::error_code ec2;
        sock->close(ec2);
      });
    } else {
      auto session = std::make_shared<ClientSession>(*this, std::move(socket));
      sessions_.emplace(session.get(), session);
      session->Start();
    }
    Accept();
  });
}

std::string Server::NodeCommand(std::span<const std::string_view> args, int proto) {
  std::string name = absl::AsciiStrToLower(absl::string_view(args[0].data(), args[0].size()));
  std::string out;
  if (name == "anarcho.status") {
    std::vector<std::pair<std::string, std::string>> fields = {
        {"role", "leader"},
        {"state", state_ == State::kServing ? "serving" : state_ == State::kRebuilding ? "rebuilding" : "starting"},
        {"members", "1"},
        {"log_first_index", absl::StrCat(store_->FirstIndex())},
        {"log_last_index", absl::StrCat(store_->LastIndex())},
        {"commit_index", absl::StrCat(store_->LastIndex())},
        {"applied_index", absl::StrCat(store_->LastIndex())},
        {"stream_id", stream_id_},
        {"stream_committed_offset", absl::StrCat(log_->committed_offset())},
        {"stream_read_offset", absl::StrCat(reader_ ? reader_->offset() : 0)},
        {"child_pid", absl::StrCat(child_->pid())},
        {"child_healthy", child_->running() && state_ == State::kServing ? "yes" : "no"},
        {"child_rebuilds", absl::StrCat(rebuilds_)},
        {"replayed_entries", absl::StrCat(replayed_entries_)},
        {"clients", absl::StrCat(sessions_.size())},
        {"locked_keys", absl::StrCat(locks_.locked_keys())},
        {"writes_in_flight", absl::StrCat(locks_.live_tickets())},
        {"commit_waiters", absl::StrCat(commit_waiters_.size())},
    };
    resp::AppendMapHeader(&out, fields.size(), proto);
    for (auto& [k, v] : fields) {
      resp::AppendBulkString(&out, k);
      resp::AppendBulkString(&out, v);
    }
    return out;
  }
  resp::AppendError(&out, absl::StrCat("ERR unknown anarchoredis command '", name,
                                       "'; known: ANARCHO.STATUS"));
  return out;
}

}  // namespace node
