#include "workload.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "conn.h"

namespace fault {
using itest::Client;

namespace {
constexpr int64_t kWriteSpan = 1000000;  // see checker.cc
}  // namespace

Workload::Workload(itest::Cluster& c, WorkloadOptions o) : c_(c), o_(o), t0_(std::chrono::steady_clock::now()) {}

Workload::~Workload() { Stop(); }

int64_t Workload::Now() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count();
}

std::vector<std::string> Workload::ListKeysOf(int64_t generation) const {
  std::vector<std::string> k;
  for (int i = 0; i < o_.list_keys; ++i) k.push_back(absl::StrCat("list", generation, "-", i));
  return k;
}

std::vector<std::string> Workload::list_keys() const {
  std::vector<std::string> k;
  for (int64_t g = 0; g <= list_generation_.load(); ++g) {
    auto gk = ListKeysOf(g);
    k.insert(k.end(), gk.begin(), gk.end());
  }
  return k;
}

std::vector<std::string> Workload::accounts() const {
  std::vector<std::string> k;
  for (int i = 0; i < o_.bank_accounts; ++i) k.push_back(absl::StrCat("acct", i));
  return k;
}

// Sends `cmd` until a node answers OK, for setup before the clients start.
// An attempt whose reply was lost may have run: `done_error` (a prefix)
// says so on the next one.
bool Workload::SetUp(const std::vector<std::string>& cmd, std::string_view done_error) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto cl = c_.Connect(attempt % c_.size());
    if (cl->connected()) {
      cl->Send(Cmd(cmd));
      auto v = cl->Read(5s);
      if (v && v->AsString() == "OK") return true;
      if (v && v->IsError() && !done_error.empty() && v->str.starts_with(done_error)) return true;
    }
    std::this_thread::sleep_for(200ms);
  }
  fprintf(stderr, "fault: setting up with %s failed\n", cmd[0].c_str());
  return false;
}

void Workload::Start() {
  if (o_.bank_clients > 0) {
    std::vector<std::string> mset = {"MSET"};
    for (auto& a : accounts()) {
      mset.push_back(a);
      mset.push_back(absl::StrCat(o_.bank_initial));
    }
    SetUp(mset);
  }
  if (o_.stream_producers + o_.stream_consumers > 0) {
    SetUp({"XGROUP", "CREATE", "stream", "group", "0", "MKSTREAM"}, "BUSYGROUP");
  }
  int id = 0;
  for (int i = 0; i < o_.register_clients; ++i, ++id) threads_.emplace_back([this, id] { RegisterClient(id, false); });
  for (int i = 0; i < o_.register_readers; ++i, ++id) threads_.emplace_back([this, id] { RegisterClient(id, true); });
  for (int i = 0; i < o_.filler_clients; ++i, ++id) threads_.emplace_back([this, id] { FillerClient(id); });
  for (int i = 0; i < o_.list_clients; ++i, ++id) threads_.emplace_back([this, id] { ListClient(id); });
  for (int i = 0; i < o_.bank_clients; ++i, ++id) threads_.emplace_back([this, id] { BankClient(id); });
  for (int i = 0; i < o_.queue_producers; ++i, ++id) threads_.emplace_back([this, id] { ProducerClient(id); });
  for (int i = 0; i < o_.queue_consumers; ++i, ++id) {
    queue_consumer_ids_.push_back(id);
    threads_.emplace_back([this, id] { ConsumerClient(id); });
  }
  for (int i = 0; i < o_.ttl_clients; ++i, ++id) threads_.emplace_back([this, id] { TtlClient(id); });
  for (int i = 0; i < o_.stream_producers; ++i, ++id) threads_.emplace_back([this, id] { StreamProducer(id); });
  for (int i = 0; i < o_.stream_consumers; ++i, ++id) threads_.emplace_back([this, id] { StreamConsumer(id); });
  for (int i = 0; i < o_.stream_claimers; ++i, ++id) threads_.emplace_back([this, id] { StreamClaimer(id); });
}

void Workload::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

namespace {

// SELECT arguments Redis refuses (its integer parsing is strict): the
// connection must stay in its db. A node that parsed them loosely would lock
// and log the next command's keys in the wrong db.
constexpr const char* kInvalidDbs[] = {"01", "+1", " 1", "-0"};

// A register op's command: reads in three flavours (GET; GETEX, a write
// command that propagates nothing; a script that only reads), SET and INCR.
std::vector<std::string> RegisterCommand(Op& op, std::mt19937_64& rng, int id, int64_t* seq, bool reader,
                                         const WorkloadOptions& o) {
  int k = reader ? 0 : static_cast<int>(rng() % 10);
  if (k < 5) {
    op.kind = OpKind::kRead;
    op.via = o.read_via[rng() % o.read_via.size()];
    if (op.via == "getex") return {"GETEX", op.key};
    if (op.via == "eval") return {"EVAL", "return redis.call('get', KEYS[1])", "1", op.key};
    op.via = "get";
    return {"GET", op.key};
  }
  if (k < 8 || !o.register_incr) {
    op.kind = OpKind::kWrite;
    op.value = ((id + 1) * 1000000LL + (++*seq)) * kWriteSpan;
    return {"SET", op.key, absl::StrCat(op.value)};
  }
  op.kind = OpKind::kIncr;
  return {"INCR", op.key};
}

}  // namespace

// Reads the replies to [an invalid SELECT and] SELECT db. Returns the db the
// next command ran in: db, unless the node refused the SELECT outright (then
// the connection stayed where it was). With the reply lost (or UNKNOWN) the
// command after it can only have run after it: db too.
int Workload::ReadSelectReplies(Conn& conn, bool invalid_first, int db) {
  const int before = conn.db();
  if (invalid_first) {
    auto v = conn.Read();
    if (!v) return db;  // dropped: the op's reply will be missing too
    if (!v->IsError()) Surprise(absl::StrCat("an invalid SELECT was answered ", itest::Str(*v), " (Redis refuses it)"));
  }
  auto v = conn.Read();
  if (v && v->IsError() && !v->str.starts_with("UNKNOWN")) return before;
  if (v && !v->IsError() && v->AsString() != "OK") Surprise("SELECT answered " + itest::Str(*v));
  if (v && !v->IsError()) conn.set_db(db);
  return db;
}

// Registers in several dbs: every op goes out pipelined behind SELECT (and
// sometimes an invalid SELECT first); the key checked is "db<n>:<key>".
void Workload::RegisterClient(int id, bool reader) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), reader ? o_.reader_timeout : o_.op_timeout);
  int64_t seq = 0;
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op;
    op.client = id;
    op.node = conn.node();
    const int db = static_cast<int>(rng() % o_.register_dbs);
    const std::string name = absl::StrCat("reg", rng() % o_.register_keys);
    op.key = name;
    std::vector<std::string> args = RegisterCommand(op, rng, id, &seq, reader, o_);
    const bool invalid_first = rng() % 4 == 0;
    std::string out;
    if (invalid_first) out += Cmd({"SELECT", kInvalidDbs[rng() % std::size(kInvalidDbs)]});
    out += Cmd({"SELECT", absl::StrCat(db)}) + Cmd(args);
    op.invoke_ns = Now();
    cl->Send(out);
    op.key = absl::StrCat("db", ReadSelectReplies(conn, invalid_first, db), ":", name);
    auto v = conn.Read();
    op.complete_ns = Now();
    op.outcome = Classify(v, conn, &op.error);
    if (op.outcome == Outcome::kOk) {
      if (op.kind == OpKind::kWrite) {
        if (v->AsString() != "OK") op.outcome = Outcome::kUnknown, op.error = "reply " + itest::Str(*v);
      } else {
        auto r = Int(*v);
        if (r) op.result = *r;
        else op.outcome = Outcome::kUnknown, op.error = "reply " + itest::Str(*v);
      }
    }
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.think);
  }
}

void Workload::FillerClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    const int db = static_cast<int>(rng() % o_.register_dbs);
    const std::string value(static_cast<size_t>(o_.filler_value_bytes), static_cast<char>('a' + rng() % 26));
    const std::string name = absl::StrCat("fill", rng() % o_.filler_keys);
    std::string key = absl::StrCat(db, ":", name);
    std::vector<std::string> set = {"SET", name, value};
    if (o_.filler_ttl_s > 0) set.insert(set.end(), {"EX", absl::StrCat(o_.filler_ttl_s)});
    cl->Send(Cmd({"SELECT", absl::StrCat(db)}) + Cmd(set));
    for (int reply = 0; reply < 2; ++reply) {
      std::string error;
      const Outcome outcome = Classify(conn.Read(), conn, &error);
      if (outcome == Outcome::kUnknown) break;
      if (reply == 1 && outcome == Outcome::kOk) {
        std::lock_guard lock(filler_mu_);
        filler_keys_stored_.insert(std::move(key));
      }
    }
    std::this_thread::sleep_for(o_.filler_pause);
  }
}

void Workload::Surprise(std::string what) {
  std::lock_guard l(surprises_mu_);
  if (surprises_.size() < 100) surprises_.push_back(std::move(what));
}

void Workload::ListClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  int64_t seq = 0;
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    // Lists move to new keys every so often: each read returns the whole list,
    // so a list that grew for the whole run would make the history quadratic.
    const int64_t generation = Now() / o_.list_key_lifetime_ns;
    int64_t seen = list_generation_.load();
    while (seen < generation && !list_generation_.compare_exchange_weak(seen, generation)) {
    }
    const auto keys = ListKeysOf(generation);
    Op op;
    op.client = id;
    op.node = conn.node();
    op.key = keys[rng() % keys.size()];
    int k = static_cast<int>(rng() % 10);
    op.invoke_ns = Now();
    if (k < 6) {
      op.kind = OpKind::kAppend;
      op.elems = {absl::StrCat("c", id, "-", ++seq)};
      cl->Send(Cmd({"RPUSH", op.key, op.elems[0]}));
      auto v = conn.Read();
      op.outcome = Classify(v, conn, &op.error);
      if (op.outcome == Outcome::kOk && v->type != resp::Type::kInteger) op.outcome = Outcome::kUnknown, op.error = itest::Str(*v);
    } else if (k < 9) {
      op.kind = OpKind::kListRead;
      cl->Send(Cmd({"LRANGE", op.key, "0", "-1"}));
      auto v = conn.Read();
      op.outcome = Classify(v, conn, &op.error);
      if (op.outcome == Outcome::kOk) {
        for (auto& e : v->elements) op.elems.push_back(e.AsString());
      }
    } else {
      // MULTI; RPUSH key e1; RPUSH other e2; LRANGE key; EXEC. MULTI alone first:
      // if it failed, pipelined commands would run outside a transaction.
      op.kind = OpKind::kTxn;
      std::string other = keys[rng() % keys.size()];
      op.appends = {{op.key, absl::StrCat("c", id, "-", ++seq)}, {other, absl::StrCat("c", id, "-", ++seq)}};
      cl->Send(Cmd({"MULTI"}));
      auto m = conn.Read();
      if (!m || m->IsError()) {
        op.outcome = Outcome::kFail;  // nothing queued: nothing can run
        op.error = m ? m->str : "no reply to MULTI";
        conn.Drop();
      } else {
        cl->Send(Cmd({"RPUSH", op.key, op.appends[0].second}) + Cmd({"RPUSH", other, op.appends[1].second}) +
                 Cmd({"LRANGE", op.key, "0", "-1"}) + Cmd({"EXEC"}));
        std::optional<resp::Value> v;
        for (int i = 0; i < 4; ++i) {
          v = conn.Read();
          if (!v) break;
        }
        op.outcome = Classify(v, conn, &op.error);
        if (op.outcome == Outcome::kOk) {
          if (v->type != resp::Type::kArray || v->elements.size() != 3) {
            op.outcome = Outcome::kUnknown;
            op.error = "EXEC reply " + itest::Str(*v);
          } else {
            for (auto& e : v->elements[2].elements) op.elems.push_back(e.AsString());
          }
        }
      }
    }
    op.complete_ns = Now();
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.think);
  }
}

namespace {

// Moves ARGV[1] from KEYS[1] to KEYS[2] unless KEYS[1] has less: 1 if moved, 0 if refused.
constexpr const char* kTransferScript =
    "local have = tonumber(redis.call('get', KEYS[1]) or '0') "
    "local n = tonumber(ARGV[1]) "
    "if have < n then return 0 end "
    "redis.call('decrby', KEYS[1], n) "
    "redis.call('incrby', KEYS[2], n) "
    "return 1";

// The reply to EXEC of a two-command transfer: its outcome.
void ClassifyExec(const std::optional<resp::Value>& v, Conn& conn, Op& op) {
  if (v && v->type == resp::Type::kNull) {
    op.outcome = Outcome::kFail;  // a watched key changed: EXEC ran nothing
    op.error = "EXEC nil (watched key changed)";
    return;
  }
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome == Outcome::kOk && (v->type != resp::Type::kArray || v->elements.size() != 2)) {
    op.outcome = Outcome::kUnknown;
    op.error = "EXEC reply " + itest::Str(*v);
  }
}

// Reads `n` replies; the last one (nullopt as soon as one is missing).
std::optional<resp::Value> ReadReplies(Conn& conn, int n) {
  std::optional<resp::Value> v;
  for (int i = 0; i < n; ++i) {
    v = conn.Read();
    if (!v) break;
  }
  return v;
}

}  // namespace

void Workload::BankClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  auto accts = accounts();
  while (!stop_) {
    if (!conn.Get()) continue;
    Op op;
    const int k = static_cast<int>(rng() % 10);
    if (k < 4) {
      op = ReadBalances(conn, accts);
    } else {
      op.kind = OpKind::kTransfer;
      size_t a = rng() % accts.size(), b = (a + 1 + rng() % (accts.size() - 1)) % accts.size();
      op.from = accts[a];
      op.to = accts[b];
      op.value = 1 + static_cast<int64_t>(rng() % 10);
      if (k < 6) {
        op = TransferMulti(conn, std::move(op));
      } else if (k < 8) {
        auto done = TransferWatch(conn, std::move(op));
        if (!done) {  // funds short: nothing was tried
          std::this_thread::sleep_for(o_.think);
          continue;
        }
        op = std::move(*done);
      } else {
        op = TransferScript(conn, std::move(op));
      }
    }
    op.client = id;
    op.complete_ns = Now();
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.think);
  }
}

Op Workload::ReadBalances(Conn& conn, const std::vector<std::string>& accts) {
  Op op;
  op.kind = OpKind::kBalances;
  op.node = conn.node();
  op.invoke_ns = Now();
  std::vector<std::string> args = {"MGET"};
  args.insert(args.end(), accts.begin(), accts.end());
  conn.Get()->Send(Cmd(args));
  auto v = conn.Read();
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome == Outcome::kOk) {
    for (auto& e : v->elements) op.balances.push_back(Int(e).value_or(kNil));
  }
  return op;
}

// MULTI, DECRBY from, INCRBY to, EXEC. MULTI alone first: if it failed,
// pipelined commands would run outside a transaction.
Op Workload::TransferMulti(Conn& conn, Op op) {
  op.via = "multi";
  op.node = conn.node();
  op.invoke_ns = Now();
  conn.Get()->Send(Cmd({"MULTI"}));
  auto m = conn.Read();
  if (!m || m->IsError()) {
    op.outcome = Outcome::kFail;  // nothing queued: nothing can run
    op.error = m ? m->str : "no reply to MULTI";
    conn.Drop();
    return op;
  }
  conn.Get()->Send(Cmd({"DECRBY", op.from, absl::StrCat(op.value)}) + Cmd({"INCRBY", op.to, absl::StrCat(op.value)}) +
                   Cmd({"EXEC"}));
  ClassifyExec(ReadReplies(conn, 3), conn, op);
  return op;
}

// Check-and-set: WATCH both accounts, read them, and if `from` has enough,
// SET both new balances in MULTI/EXEC. A nil EXEC means a watched key changed
// and nothing ran. Returns nullopt when nothing was tried (funds short, or the
// WATCH or the read failed: no write was sent).
std::optional<Op> Workload::TransferWatch(Conn& conn, Op op) {
  op.via = "watch";
  op.node = conn.node();
  op.invoke_ns = Now();
  conn.Get()->Send(Cmd({"WATCH", op.from, op.to}) + Cmd({"MGET", op.from, op.to}));
  auto w = conn.Read();
  auto g = w ? conn.Read() : std::nullopt;
  if (!w || w->IsError() || !g || g->IsError() || g->type != resp::Type::kArray || g->elements.size() != 2) {
    conn.Drop();  // closing the connection forgets the WATCH
    return std::nullopt;
  }
  const int64_t have = Int(g->elements[0]).value_or(kNil), other = Int(g->elements[1]).value_or(kNil);
  if (have == kNil || other == kNil || have < op.value) {
    conn.Get()->Send(Cmd({"UNWATCH"}));
    if (!conn.Read()) conn.Drop();
    return std::nullopt;
  }
  op.balances = {have, other};
  conn.Get()->Send(Cmd({"MULTI"}));
  auto m = conn.Read();
  if (!m || m->IsError()) {
    op.outcome = Outcome::kFail;
    op.error = m ? m->str : "no reply to MULTI";
    conn.Drop();
    return op;
  }
  conn.Get()->Send(Cmd({"SET", op.from, absl::StrCat(have - op.value)}) +
                   Cmd({"SET", op.to, absl::StrCat(other + op.value)}) + Cmd({"EXEC"}));
  ClassifyExec(ReadReplies(conn, 3), conn, op);
  return op;
}

// One EVAL reads `from`, refuses (0) if it is short, else moves the amount (1).
Op Workload::TransferScript(Conn& conn, Op op) {
  op.via = "eval";
  op.node = conn.node();
  op.invoke_ns = Now();
  conn.Get()->Send(Cmd({"EVAL", kTransferScript, "2", op.from, op.to, absl::StrCat(op.value)}));
  auto v = conn.Read();
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome != Outcome::kOk) return op;
  if (v->type == resp::Type::kInteger && v->integer == 0) {
    op.outcome = Outcome::kFail;  // refused by the script: it moved nothing
    op.error = "script refused: funds short";
  } else if (v->type != resp::Type::kInteger || v->integer != 1) {
    op.outcome = Outcome::kUnknown;
    op.error = "script reply " + itest::Str(*v);
  }
  return op;
}

// ---------------------------------------------------------------------- queue

namespace {
constexpr const char* kQueueKey = "queue";

// A BLPOP reply: [key, element] or nil (timed out with nothing).
void ClassifyPop(const std::optional<resp::Value>& v, Conn& conn, Op& op) {
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome != Outcome::kOk || v->type == resp::Type::kNull) return;
  if (op.to.empty() && v->type == resp::Type::kArray && v->elements.size() == 2) {
    op.elems = {v->elements[1].AsString()};
  } else if (!op.to.empty() && v->type == resp::Type::kBulkString) {
    op.elems = {v->AsString()};
  } else {
    op.outcome = Outcome::kUnknown;
    op.error = absl::StrCat(op.to.empty() ? "BLPOP" : "BLMOVE", " reply ", itest::Str(*v));
    conn.Drop();
  }
}
}  // namespace

void Workload::ProducerClient(int id) {
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  int64_t seq = 0;
  while (!stop_) {
    if (Now() < o_.queue_producers_from_ns) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op = NewOp(id, conn, OpKind::kPush, kQueueKey);
    op.elems = {absl::StrCat("p", id, "-", ++seq)};
    op.invoke_ns = Now();
    cl->Send(Cmd({"RPUSH", op.key, op.elems[0]}));
    auto v = conn.Read();
    op.complete_ns = Now();
    op.outcome = Classify(v, conn, &op.error);
    if (op.outcome == Outcome::kOk && v->type != resp::Type::kInteger) op.outcome = Outcome::kUnknown, op.error = itest::Str(*v);
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.queue_push_pause);
  }
}

std::string TakenKey(int consumer) { return absl::StrCat("taken:c", consumer); }

// Either BLPOP with a 1 s timeout and wait for the reply, or BLPOP with none
// and leave (close the connection) after 20-300 ms if still blocked: the pop
// is then unknown, closed at complete_ns. A correct node kills the blocked
// command in its child; one that kept it would pop an element nobody gets.
// Some of the time BLMOVE to the consumer's own taken list instead (a queue
// whose consumers keep what they work on), waiting or leaving the same way;
// four elements in five an ok BLMOVE took are then removed from the taken
// list with LREM, and now and then the consumer reads its taken list.
void Workload::ConsumerClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  while (!stop_) {
    if (Now() >= o_.queue_consumers_until_ns) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    Client* cl = conn.Get();
    if (!cl) continue;
    if (rng() % 8 == 0) {
      ReadTaken(conn, id);
      continue;
    }
    Op op = NewOp(id, conn, OpKind::kPop, kQueueKey);
    const bool leave = static_cast<int>(rng() % 100) < o_.queue_leave_percent;
    if (static_cast<int>(rng() % 100) < o_.queue_move_percent) op.to = TakenKey(id);
    const auto patience = std::chrono::milliseconds(20 + rng() % 281);
    const char* timeout = leave ? "0" : "1";
    op.via = absl::StrCat(op.to.empty() ? "" : "blmove, ", leave ? "leaves" : "waits");
    op.invoke_ns = Now();
    cl->Send(op.to.empty() ? Cmd({"BLPOP", op.key, timeout}) : Cmd({"BLMOVE", op.key, op.to, "LEFT", "RIGHT", timeout}));
    auto v = leave ? conn.Read(patience) : conn.Read();
    if (leave && !v) {
      conn.Drop();
      op.outcome = Outcome::kUnknown;
      op.error = "left while blocked";
    } else {
      ClassifyPop(v, conn, op);
    }
    op.complete_ns = Now();
    const bool remove = op.outcome == Outcome::kOk && !op.to.empty() && !op.elems.empty() && rng() % 5 != 0;
    const std::string taken = remove ? op.elems[0] : "";
    history_.Add(std::move(op));
    if (remove) RemoveTaken(conn, id, taken);
    std::this_thread::sleep_for(o_.think);
  }
}

void Workload::RemoveTaken(Conn& conn, int id, const std::string& elem) {
  Op op = NewOp(id, conn, OpKind::kTakenRemove, TakenKey(id));
  op.elems = {elem};
  op.invoke_ns = Now();
  conn.Get()->Send(Cmd({"LREM", op.key, "1", elem}));
  auto v = conn.Read();
  op.complete_ns = Now();
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome == Outcome::kOk && v->type == resp::Type::kInteger) {
    op.result = v->integer;
  } else if (op.outcome == Outcome::kOk) {
    op.outcome = Outcome::kUnknown;
    op.error = "LREM reply " + itest::Str(*v);
  }
  history_.Add(std::move(op));
}

void Workload::ReadTaken(Conn& conn, int id) {
  Op op = NewOp(id, conn, OpKind::kTakenRead, TakenKey(id));
  op.invoke_ns = Now();
  conn.Get()->Send(Cmd({"LRANGE", op.key, "0", "-1"}));
  auto v = conn.Read();
  op.complete_ns = Now();
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome == Outcome::kOk && v->type == resp::Type::kArray) {
    for (auto& e : v->elements) op.elems.push_back(e.AsString());
  } else if (op.outcome == Outcome::kOk) {
    op.outcome = Outcome::kUnknown;
    op.error = "LRANGE reply " + itest::Str(*v);
  }
  history_.Add(std::move(op));
}

// ------------------------------------------------------------------------ ttl

// SET with a TTL of 1-1.5 s and, pipelined behind it, PERSIST or EXPIRE for
// ~28 h. A reply of 1 to the second command is a promise: the key stays.
void Workload::TtlClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  int64_t seq = 0;
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op = NewOp(id, conn, OpKind::kTtl, absl::StrCat("t", id, "-", ++seq));
    op.value = (id + 1) * 1000000000LL + seq;
    const bool persist = rng() % 2 == 0;
    op.via = persist ? "persist" : "expire";
    const std::string value = absl::StrCat(op.value);
    op.invoke_ns = Now();
    cl->Send(persist ? Cmd({"SET", op.key, value, "PX", "1500"}) + Cmd({"PERSIST", op.key})
                     : Cmd({"SET", op.key, value, "EX", "1"}) + Cmd({"EXPIRE", op.key, "100000"}));
    auto set = conn.Read();
    auto v = set ? conn.Read() : std::nullopt;
    op.complete_ns = Now();
    op.outcome = Classify(v, conn, &op.error);
    if (op.outcome == Outcome::kOk) {
      if (v->type == resp::Type::kInteger && v->integer == 0) {
        op.outcome = Outcome::kFail;  // no promise: the key was gone (or the SET refused)
        op.error = absl::StrCat(op.via, " returned 0 (SET replied ", set ? itest::Str(*set) : "nothing", ")");
      } else if (v->type != resp::Type::kInteger || v->integer != 1) {
        op.outcome = Outcome::kUnknown;
        op.error = absl::StrCat(op.via, " reply ", itest::Str(*v));
      }
    }
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.think);
  }
}

int64_t Workload::FillerBytesStored() const {
  std::lock_guard lock(filler_mu_);
  return static_cast<int64_t>(filler_keys_stored_.size()) * o_.filler_value_bytes;
}

bool Workload::ReadFinal(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  final_lists_.clear();
  final_balances_.clear();
  final_queue_.clear();
  final_taken_.clear();
  final_ttl_.clear();
  int n = 0;
  auto attempt = [&](const std::vector<std::string>& args) -> std::optional<resp::Value> {
    while (std::chrono::steady_clock::now() < deadline) {
      auto owned = c_.Connect(n++ % c_.size());
      Client& cl = *owned;
      if (!cl.connected()) continue;
      cl.Send(Cmd(args));
      auto v = cl.Read(5s);
      if (v && !v->IsError()) return v;
      std::this_thread::sleep_for(200ms);
    }
    return std::nullopt;
  };
  auto read_list = [&](const std::string& key, std::vector<std::string>* out) {
    auto v = attempt({"LRANGE", key, "0", "-1"});
    if (!v) return false;
    for (auto& e : v->elements) out->push_back(e.AsString());
    return true;
  };
  if (o_.list_clients > 0) {
    for (auto& k : list_keys()) {
      std::vector<std::string> l;
      if (!read_list(k, &l)) return false;
      final_lists_.push_back({k, l});
    }
  }
  if (o_.bank_clients > 0) {
    std::vector<std::string> args = {"MGET"};
    auto accts = accounts();
    args.insert(args.end(), accts.begin(), accts.end());
    auto v = attempt(args);
    if (!v) return false;
    for (auto& e : v->elements) final_balances_.push_back(Int(e).value_or(kNil));
  }
  if (o_.queue_producers + o_.queue_consumers > 0 && !read_list(kQueueKey, &final_queue_)) return false;
  for (int consumer : queue_consumer_ids_) {
    if (!read_list(TakenKey(consumer), &final_taken_[TakenKey(consumer)])) return false;
  }
  if (o_.stream_producers + o_.stream_consumers > 0 && !ReadFinalStream(attempt)) return false;
  return o_.ttl_clients == 0 || ReadFinalTtl(attempt);
}

// Reads every key an acknowledged PERSIST or EXPIRE made permanent, once the
// TTLs they had before (at most 1.5 s) are over: a lost promise shows then.
bool Workload::ReadFinalTtl(const std::function<std::optional<resp::Value>(const std::vector<std::string>&)>& read) {
  std::this_thread::sleep_for(2500ms);
  std::vector<std::string> keys;
  for (const Op& op : history_.ops()) {
    if (op.kind == OpKind::kTtl && op.outcome == Outcome::kOk) keys.push_back(op.key);
  }
  for (size_t at = 0; at < keys.size(); at += 200) {
    std::vector<std::string> args = {"MGET"};
    args.insert(args.end(), keys.begin() + at, keys.begin() + std::min(keys.size(), at + 200));
    auto v = read(args);
    if (!v || v->elements.size() != args.size() - 1) return false;
    for (size_t i = 0; i < v->elements.size(); ++i) final_ttl_[args[i + 1]] = Int(v->elements[i]).value_or(kNil);
  }
  return true;
}

CheckResult Workload::Check(int64_t register_budget_ms) const {
  auto ops = history_.ops();
  CheckResult r = CheckRegisters(ops, register_budget_ms, o_.evictions);
  if (o_.list_clients > 0) r.Merge(CheckLists(ops, final_lists_));
  if (o_.bank_clients > 0) {
    std::vector<int64_t> initial(o_.bank_accounts, o_.bank_initial);
    r.Merge(CheckBank(ops, accounts(), initial, final_balances_));
  }
  if (o_.queue_producers + o_.queue_consumers > 0) r.Merge(CheckQueue(ops, final_queue_, final_taken_));
  if (o_.ttl_clients > 0) r.Merge(CheckTtl(ops, final_ttl_));
  if (o_.stream_producers + o_.stream_consumers > 0) r.Merge(CheckStream(ops, final_stream_, kStreamCount));
  std::lock_guard l(surprises_mu_);
  for (const std::string& s : surprises_) r.Fail("unexpected reply: " + s);
  return r;
}

std::vector<std::string> Workload::errors_seen() const {
  std::map<std::string, int> count;
  for (auto& op : history_.ops()) {
    if (op.error.empty()) continue;
    count[op.error.substr(0, std::min<size_t>(op.error.find(' ') == std::string::npos ? 40 : op.error.find(' '), 40))]++;
  }
  std::vector<std::string> out;
  for (auto& [e, n] : count) out.push_back(absl::StrCat(e, " x", n));
  return out;
}

}  // namespace fault
