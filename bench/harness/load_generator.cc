#include "bench/harness/load_generator.h"

#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio.hpp"
#include "node/byte_stream.h"
#include "resp/reply_scanner.h"

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

Clock::time_point AtNs(int64_t ns) { return Clock::time_point(std::chrono::nanoseconds(ns)); }

// The error code of an error reply: "-WRONGTYPE Operation..." -> "WRONGTYPE".
std::string ErrorCode(std::string_view reply) {
  if (reply.empty()) return "error";
  std::string_view body = reply.substr(1);
  if (reply[0] == '!') {  // RESP3 blob error: !<len>\r\n<text>\r\n
    size_t nl = body.find('\n');
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
  }
  size_t end = body.find_first_of(" \r\n");
  std::string code(body.substr(0, end == std::string_view::npos ? body.size() : end));
  if (code.empty()) code = "error";
  if (code.size() > 40) code.resize(40);
  return code;
}

struct Pending {
  int64_t start_ns;  // batch write time (closed loop) or due time (open loop)
  Op op;
  int8_t replies_left;
  bool measured;
  bool failed = false;
};

class Runner;

class Connection {
 public:
  Connection(Runner& runner, asio::io_context& io, int index, uint64_t seed);

  void Connect(const asio::ip::tcp::endpoint& ep);
  void Begin();       // the run starts: first batch, or first open-loop tick
  void Abort(const std::string& kind);  // counts outstanding operations as `kind` errors
  bool idle() const { return dead_ || inflight_.empty(); }
  // Open loop: issues every operation due by `now` (and before the end), then flushes.
  void IssueDue(int64_t now);
  double next_due() const { return next_due_; }
  bool dead() const { return dead_; }
  size_t outstanding() const { return inflight_.size(); }

 private:
  void SendBatch();
  // New-connection workloads: the next batch goes on a new connection, its
  // latency from the moment the connect began.
  void Reconnect();
  void Open(std::function<void()> then);
  void Issue(int64_t start_ns, bool measured);
  void Flush();
  void Read();
  void OnReply(std::string_view reply, char first_byte, int64_t now);
  void Fail(const std::string& kind);

  Runner& runner_;
  int index_;
  asio::ip::tcp::endpoint ep_;
  node::ByteStream stream_;
  uint64_t generation_ = 0;  // of stream_: callbacks of a closed one do nothing
  bool used_ = false;        // a batch went on stream_
  int64_t connect_start_ns_ = 0;
  OpGenerator gen_;
  std::deque<Pending> inflight_;
  std::string out_, wbuf_;
  bool writing_ = false;
  std::string in_;
  std::vector<char> rbuf_;
  resp::ReplyScanner scanner_;
  bool dead_ = false;
  double next_due_ = 0;  // open loop, ns
  double interval_ = 0;
};

class Runner {
 public:
  Runner(const LoadOptions& opts, const WorkloadSpec& workload)
      : opts_(opts), workload_(workload), end_timer_(io_), drain_timer_(io_), tick_timer_(io_) {}

  LoadResult Run();

  // Called by connections.
  void ConnectDone(bool ok);
  void Completed(const Pending& p, int64_t now);
  void Error(const std::string& kind, uint64_t n = 1) {
    result_.errors[kind] += n;
    per_second_.Errors(NowNs(), n);
    if (opts_.progress) opts_.progress->errors.fetch_add(n, std::memory_order_relaxed);
  }
  void CountIssue(const Pending& p) {
    ++result_.sent;
    if (p.measured) {
      ++result_.measured;
      ++result_.ops_by_op[static_cast<int>(p.op)];
      if (opts_.requests > 0 && result_.measured >= opts_.requests) StopSending();
    }
  }
  void MaybeFinish();
  void StopSending();
  // Open loop: one timer for all connections, so that due operations are sent
  // together and the generator does not spend itself on timers.
  void Tick();

  const LoadOptions& opts() const { return opts_; }
  const WorkloadSpec& workload() const { return workload_; }
  bool sending() const { return sending_; }
  bool begun() const { return begun_; }
  int64_t start_ns() const { return start_ns_; }
  int64_t warm_end_ns() const { return warm_end_ns_; }
  int64_t end_ns() const { return end_ns_; }

 private:
  void Drive();  // connects, runs, drains
  void Begin();

  LoadOptions opts_;
  const WorkloadSpec& workload_;
  asio::io_context io_;
  asio::steady_timer end_timer_, drain_timer_, tick_timer_;
  std::vector<std::unique_ptr<Connection>> conns_;
  int connects_pending_ = 0;
  bool begun_ = false;
  bool sending_ = false;
  bool finished_ = false;
  int64_t start_ns_ = 0, warm_end_ns_ = 0, end_ns_ = INT64_MAX;
  int64_t last_completion_ns_ = 0;
  int64_t last_measured_completion_ns_ = 0;
  PerSecond per_second_;
  LoadResult result_;
};

Connection::Connection(Runner& runner, asio::io_context& io, int index, uint64_t seed)
    : runner_(runner), index_(index), stream_(asio::ip::tcp::socket(io)), gen_(runner.workload(), seed),
      rbuf_(64 * 1024) {}

void Connection::Connect(const asio::ip::tcp::endpoint& ep) {
  ep_ = ep;
  Open([this] {
    Read();
    runner_.ConnectDone(true);
  });
}

// A new stream_ (TLS if the run is), connected and through its handshake;
// then `then`. A failure kills the connection.
void Connection::Open(std::function<void()> then) {
  const auto& tls = runner_.opts().tls;
  asio::ip::tcp::socket socket(stream_.get_executor());
  stream_ = tls ? node::ByteStream(std::make_unique<node::ByteStream::TlsStream>(std::move(socket), *tls), tls)
                : node::ByteStream(std::move(socket));
  const uint64_t generation = ++generation_;
  stream_.socket().async_connect(ep_, [this, generation, then = std::move(then)](const asio::error_code& ec) {
    if (generation != generation_) return;
    auto failed = [this](const std::string& what) {
      const bool first = !runner_.begun();
      Fail(what);
      if (first) runner_.ConnectDone(false);
    };
    if (ec) return failed(absl::StrCat("connect: ", ec.message()));
    asio::error_code ignored;
    stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    // Closed with a reset, not into TIME_WAIT: new-connection runs open
    // thousands of them a second.
    stream_.socket().set_option(asio::socket_base::linger(true, 0), ignored);
    stream_.Handshake(asio::ssl::stream_base::client, [this, generation, then, failed](const asio::error_code& ec) {
      if (generation != generation_) return;
      if (ec) return failed(absl::StrCat("tls: ", ec.message()));
      then();
    });
  });
}

void Connection::Reconnect() {
  connect_start_ns_ = NowNs();
  stream_.Close();
  used_ = false;
  Open([this] {
    SendBatch();
    Read();
  });
}

void Connection::Begin() {
  if (dead_) return;
  const LoadOptions& o = runner_.opts();
  if (o.rate > 0) {
    interval_ = 1e9 * o.connections / o.rate;
    next_due_ = runner_.start_ns() + interval_ * index_ / o.connections;
  } else {
    SendBatch();
  }
}

void Connection::SendBatch() {
  if (dead_ || !runner_.sending()) return;
  const bool fresh = runner_.workload().new_connection;
  if (fresh && used_) return Reconnect();
  used_ = true;
  int64_t now = fresh ? connect_start_ns_ : NowNs();
  bool measured = now >= runner_.warm_end_ns() && now < runner_.end_ns();
  for (int i = 0; i < runner_.opts().pipeline && runner_.sending(); ++i) Issue(0, measured);
  // The batch's send time: taken after encoding, just before it goes to the
  // socket (on a new connection: when its connect began).
  int64_t t = fresh ? connect_start_ns_ : NowNs();
  for (auto& p : inflight_) p.start_ns = t;
  Flush();
}

void Connection::IssueDue(int64_t now) {
  if (dead_) return;
  while (runner_.sending() && next_due_ <= now) {
    int64_t due = static_cast<int64_t>(next_due_);
    if (due >= runner_.end_ns()) break;
    Issue(due, due >= runner_.warm_end_ns());
    next_due_ += interval_;
  }
  Flush();
}

void Connection::Issue(int64_t start_ns, bool measured) {
  int replies = 0;
  Op op = gen_.Append(&out_, &replies);
  inflight_.push_back(Pending{start_ns, op, static_cast<int8_t>(replies), measured});
  runner_.CountIssue(inflight_.back());
}

void Connection::Flush() {
  if (writing_ || out_.empty() || dead_) return;
  writing_ = true;
  wbuf_.swap(out_);
  out_.clear();
  stream_.async_write(asio::buffer(wbuf_), [this, generation = generation_](const asio::error_code& ec, size_t) {
    writing_ = false;
    wbuf_.clear();
    if (generation != generation_) return Flush();  // the output of the connection that replaced it
    if (ec) {
      if (ec != asio::error::operation_aborted) Fail(absl::StrCat("write: ", ec.message()));
      return;
    }
    Flush();
  });
}

void Connection::Read() {
  stream_.async_read_some(asio::buffer(rbuf_), [this, generation = generation_](const asio::error_code& ec, size_t n) {
    if (generation != generation_) return;  // a connection closed for a new one
    if (ec) {
      if (ec != asio::error::operation_aborted && !dead_) {
        Fail(ec == asio::error::eof ? std::string("disconnected") : absl::StrCat("read: ", ec.message()));
      }
      return;
    }
    int64_t now = NowNs();
    in_.append(rbuf_.data(), n);
    size_t pos = 0;
    while (pos < in_.size()) {
      size_t len = 0;
      char first = 0;
      std::string error;
      resp::ParseStatus st = scanner_.Scan(std::string_view(in_).substr(pos), &len, &first, &error);
      if (st == resp::ParseStatus::kNeedMore) break;
      if (st == resp::ParseStatus::kError) {
        Fail("protocol");
        return;
      }
      OnReply(std::string_view(in_).substr(pos, len), first, now);
      if (dead_) return;
      pos += len;
      scanner_.Reset();
    }
    in_.erase(0, pos);
    if (inflight_.empty() && !dead_) {
      if (runner_.opts().rate > 0 || !runner_.sending()) {
        runner_.MaybeFinish();
      } else {
        SendBatch();
      }
    }
    if (!dead_ && generation == generation_) Read();  // (else: a new connection reads for itself)
  });
}

void Connection::OnReply(std::string_view reply, char first_byte, int64_t now) {
  if (first_byte == '>') return;  // a push message: not a reply
  if (inflight_.empty()) {
    Fail("unexpected-reply");
    return;
  }
  Pending& p = inflight_.front();
  if (!p.failed) {
    if (first_byte == '-' || first_byte == '!') {
      p.failed = true;
      runner_.Error(ErrorCode(reply));
    } else if (p.op == Op::kMulti && p.replies_left == 1 && first_byte != '*') {
      p.failed = true;  // EXEC answered null: the transaction was aborted
      runner_.Error("exec-aborted");
    }
  }
  if (--p.replies_left == 0) {
    runner_.Completed(p, now);
    inflight_.pop_front();
  }
}

void Connection::Fail(const std::string& kind) {
  if (dead_) return;
  dead_ = true;
  runner_.Error(kind);
  if (!inflight_.empty()) runner_.Error("lost-with-connection", inflight_.size());
  inflight_.clear();
  stream_.Close();
  runner_.MaybeFinish();
}

void Connection::Abort(const std::string& kind) {
  if (dead_) return;
  if (!inflight_.empty()) runner_.Error(kind, inflight_.size());
  inflight_.clear();
  dead_ = true;
  stream_.Close();
}

LoadResult Runner::Run() {
  result_.open_loop = opts_.rate > 0;
  result_.target_rate = opts_.rate;
  Drive();
  result_.per_second = per_second_.Finish(NowNs());
  return std::move(result_);
}

void Runner::Drive() {
  if (workload_.new_connection && opts_.rate > 0) {
    Error("new-connection workloads run closed loop only");
    return;
  }
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(opts_.host, std::to_string(opts_.port), ec);
  if (ec || endpoints.empty()) {
    Error(absl::StrCat("resolve: ", ec ? ec.message() : "no address"));
    return;
  }
  asio::ip::tcp::endpoint ep = *endpoints.begin();
  connects_pending_ = opts_.connections;
  for (int i = 0; i < opts_.connections; ++i) {
    conns_.push_back(std::make_unique<Connection>(*this, io_, i, opts_.seed * 1000003 + i));
    conns_.back()->Connect(ep);
  }
  io_.run();
  for (auto& c : conns_) {
    if (c->dead()) ++result_.connections_failed;
  }
  // From the end of the warm-up to the last measured reply: operations sent in
  // the window but answered after it stretch it, so that an open-loop run the
  // server cannot keep up with shows its achieved rate, not the offered one.
  double answered_s = std::max<int64_t>(last_measured_completion_ns_ - warm_end_ns_, 1) / 1e9;
  result_.measured_seconds = opts_.requests > 0 ? answered_s : std::max(opts_.duration_s, answered_s);
  result_.rps = result_.measured_ok / result_.measured_seconds;
}

void Runner::ConnectDone(bool ok) {
  if (--connects_pending_ == 0) Begin();
}

void Runner::Begin() {
  start_ns_ = NowNs();
  warm_end_ns_ = start_ns_ + static_cast<int64_t>(opts_.warmup_s * 1e9);
  end_ns_ = opts_.requests > 0 ? INT64_MAX : warm_end_ns_ + static_cast<int64_t>(opts_.duration_s * 1e9);
  per_second_.Start(start_ns_);
  if (opts_.progress) opts_.progress->start_ns.store(start_ns_);
  begun_ = true;
  sending_ = true;
  if (opts_.requests == 0) {
    end_timer_.expires_at(AtNs(end_ns_));
    end_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) StopSending();
    });
  }
  for (auto& c : conns_) c->Begin();
  if (opts_.rate > 0) Tick();
  MaybeFinish();  // every connection may have failed
}

void Runner::Tick() {
  if (!sending_ || finished_) return;
  int64_t now = NowNs();
  double next = 1e300;
  for (auto& c : conns_) {
    if (c->dead()) continue;
    c->IssueDue(now);
    next = std::min(next, c->next_due());
  }
  if (!sending_ || next >= static_cast<double>(end_ns_)) return;  // the end timer stops the run
  if (next <= static_cast<double>(NowNs())) {
    asio::post(io_, [this] { Tick(); });  // behind: let replies be read, then catch up
  } else {
    tick_timer_.expires_at(AtNs(static_cast<int64_t>(next)));
    tick_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) Tick();
    });
  }
}

void Runner::StopSending() {
  if (!sending_) return;
  sending_ = false;
  end_timer_.cancel();
  tick_timer_.cancel();
  drain_timer_.expires_after(std::chrono::nanoseconds(static_cast<int64_t>(opts_.drain_timeout_s * 1e9)));
  drain_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    for (auto& c : conns_) c->Abort("timeout");
    finished_ = true;
    io_.stop();
  });
  // Open-loop connections waiting on their timers stop now.
  asio::post(io_, [this] { MaybeFinish(); });
}

void Runner::MaybeFinish() {
  if (finished_ || !begun_) return;
  bool any_alive = false;
  for (auto& c : conns_) {
    if (!c->dead()) any_alive = true;
  }
  if (sending_ && any_alive) return;
  for (auto& c : conns_) {
    if (!c->idle()) return;
  }
  finished_ = true;
  io_.stop();
}

void Runner::Completed(const Pending& p, int64_t now) {
  ++result_.completed;
  if (opts_.progress) opts_.progress->completed.fetch_add(1, std::memory_order_relaxed);
  last_completion_ns_ = now;
  if (p.measured) last_measured_completion_ns_ = now;
  per_second_.Answered(now, !p.failed, now - p.start_ns);
  if (p.measured && !p.failed) {
    ++result_.measured_ok;
    int64_t lat = now - p.start_ns;
    result_.latency.Record(lat);
    result_.latency_by_op[static_cast<int>(p.op)].Record(lat);
  }
}

}  // namespace

LoadResult RunLoad(const LoadOptions& opts, const WorkloadSpec& workload) {
  // Timers wake us on time, not up to 50 us late (the default slack).
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  Runner runner(opts, workload);
  return runner.Run();
}

}  // namespace bench
