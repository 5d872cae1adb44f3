#include "workload.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "resp/writer.h"

namespace fault {
namespace fs = std::filesystem;
using itest::Client;

namespace {

constexpr int64_t kWriteSpan = 1000000;  // see checker.cc

std::string Cmd(const std::vector<std::string>& args) {
  std::vector<std::string_view> v(args.begin(), args.end());
  std::string out;
  resp::AppendCommand(&out, v);
  return out;
}

std::optional<int64_t> Int(const resp::Value& v) {
  if (v.type == resp::Type::kInteger) return v.integer;
  if (v.type == resp::Type::kNull) return kNil;
  if (v.IsError()) return std::nullopt;
  try {
    return std::stoll(v.AsString());
  } catch (...) {
    return std::nullopt;
  }
}

// One client's connection: prefers its own node, falls back to the others.
class Conn {
 public:
  Conn(itest::Cluster& c, int preferred, std::chrono::milliseconds timeout)
      : c_(c), preferred_(preferred), timeout_(timeout) {}
  // Connected client, or nullptr (after a short sleep) if no node accepts.
  Client* Get() {
    if (cl_) return cl_.get();
    for (int k = 0; k < c_.size(); ++k) {
      int n = (preferred_ + k) % c_.size();
      auto cl = std::make_unique<Client>(c_.port(n));
      if (cl->connected()) {
        cl_ = std::move(cl);
        node_ = n;
        return cl_.get();
      }
    }
    std::this_thread::sleep_for(100ms);
    return nullptr;
  }
  void Drop() { cl_.reset(); }
  int node() const { return node_; }
  std::optional<resp::Value> Read() { return cl_->Read(timeout_); }

 private:
  itest::Cluster& c_;
  int preferred_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Client> cl_;
  int node_ = 0;
};

// Outcome of a reply; drops the connection when its state is uncertain.
Outcome Classify(const std::optional<resp::Value>& v, Conn& conn, std::string* error) {
  if (!v) {
    *error = "no reply";
    conn.Drop();
    return Outcome::kUnknown;
  }
  if (!v->IsError()) return Outcome::kOk;
  *error = v->str;
  if (v->str.starts_with("TRYAGAIN") || v->str.starts_with("EXECABORT")) return Outcome::kFail;
  conn.Drop();  // UNKNOWN closes the connection; anything else: start clean
  return Outcome::kUnknown;
}

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

void Workload::Start() {
  if (o_.bank_clients > 0) {
    std::vector<std::string> mset = {"MSET"};
    for (auto& a : accounts()) {
      mset.push_back(a);
      mset.push_back(absl::StrCat(o_.bank_initial));
    }
    bool ok = false;
    for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
      Client cl(c_.port(attempt % c_.size()));
      if (cl.connected()) {
        cl.Send(Cmd(mset));
        auto v = cl.Read(5s);
        ok = v && v->AsString() == "OK";
      }
      if (!ok) std::this_thread::sleep_for(200ms);
    }
    if (!ok) fprintf(stderr, "fault: could not write the bank's initial balances\n");
  }
  int id = 0;
  for (int i = 0; i < o_.register_clients; ++i, ++id) threads_.emplace_back([this, id] { RegisterClient(id); });
  for (int i = 0; i < o_.list_clients; ++i, ++id) threads_.emplace_back([this, id] { ListClient(id); });
  for (int i = 0; i < o_.bank_clients; ++i, ++id) threads_.emplace_back([this, id] { BankClient(id); });
}

void Workload::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Workload::RegisterClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  int64_t seq = 0;
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op;
    op.client = id;
    op.node = conn.node();
    op.key = absl::StrCat("reg", rng() % o_.register_keys);
    int k = static_cast<int>(rng() % 10);
    std::vector<std::string> args;
    if (k < 5) {
      op.kind = OpKind::kRead;
      args = {"GET", op.key};
    } else if (k < 8) {
      op.kind = OpKind::kWrite;
      op.value = ((id + 1) * 1000000LL + (++seq)) * kWriteSpan;
      args = {"SET", op.key, absl::StrCat(op.value)};
    } else {
      op.kind = OpKind::kIncr;
      args = {"INCR", op.key};
    }
    op.invoke_ns = Now();
    cl->Send(Cmd(args));
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

void Workload::BankClient(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  auto accts = accounts();
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op;
    op.client = id;
    op.node = conn.node();
    op.invoke_ns = Now();
    if (rng() % 2 == 0) {
      op.kind = OpKind::kBalances;
      std::vector<std::string> args = {"MGET"};
      args.insert(args.end(), accts.begin(), accts.end());
      cl->Send(Cmd(args));
      auto v = conn.Read();
      op.outcome = Classify(v, conn, &op.error);
      if (op.outcome == Outcome::kOk) {
        for (auto& e : v->elements) op.balances.push_back(Int(e).value_or(kNil));
      }
    } else {
      op.kind = OpKind::kTransfer;
      size_t a = rng() % accts.size(), b = (a + 1 + rng() % (accts.size() - 1)) % accts.size();
      op.from = accts[a];
      op.to = accts[b];
      op.value = 1 + static_cast<int64_t>(rng() % 10);
      cl->Send(Cmd({"MULTI"}));
      auto m = conn.Read();
      if (!m || m->IsError()) {
        op.outcome = Outcome::kFail;
        op.error = m ? m->str : "no reply to MULTI";
        conn.Drop();
      } else {
        cl->Send(Cmd({"DECRBY", op.from, absl::StrCat(op.value)}) + Cmd({"INCRBY", op.to, absl::StrCat(op.value)}) +
                 Cmd({"EXEC"}));
        std::optional<resp::Value> v;
        for (int i = 0; i < 3; ++i) {
          v = conn.Read();
          if (!v) break;
        }
        op.outcome = Classify(v, conn, &op.error);
        if (op.outcome == Outcome::kOk && (v->type != resp::Type::kArray || v->elements.size() != 2)) {
          op.outcome = Outcome::kUnknown;
          op.error = "EXEC reply " + itest::Str(*v);
        }
      }
    }
    op.complete_ns = Now();
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.think);
  }
}

bool Workload::ReadFinal(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  final_lists_.clear();
  final_balances_.clear();
  int n = 0;
  auto attempt = [&](const std::vector<std::string>& args) -> std::optional<resp::Value> {
    while (std::chrono::steady_clock::now() < deadline) {
      Client cl(c_.port(n++ % c_.size()));
      if (!cl.connected()) continue;
      cl.Send(Cmd(args));
      auto v = cl.Read(5s);
      if (v && !v->IsError()) return v;
      std::this_thread::sleep_for(200ms);
    }
    return std::nullopt;
  };
  if (o_.list_clients > 0) {
    for (auto& k : list_keys()) {
      auto v = attempt({"LRANGE", k, "0", "-1"});
      if (!v) return false;
      std::vector<std::string> l;
      for (auto& e : v->elements) l.push_back(e.AsString());
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
  return true;
}

CheckResult Workload::Check(int64_t register_budget_ms) const {
  auto ops = history_.ops();
  CheckResult r = CheckRegisters(ops, register_budget_ms);
  if (o_.list_clients > 0) r.Merge(CheckLists(ops, final_lists_));
  if (o_.bank_clients > 0) {
    std::vector<int64_t> initial(o_.bank_accounts, o_.bank_initial);
    r.Merge(CheckBank(ops, accounts(), initial, final_balances_));
  }
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

// -------------------------------------------------------------------- nemesis

std::vector<std::string> Nemesis::All() {
  return {"kill-leader",       "kill-follower",      "kill-child-leader", "kill-child-follower",
          "pause-leader",      "pause-follower",     "partition-leader",  "partition-follower",
          "partition-bridge",  "partition-leader-kill", "pause-leader-kill-child", "transfer-leader", "replace-follower"};
}

int Nemesis::Leader() {
  int l = c_.WaitForLeader(10s);
  return l >= 0 ? l : 0;
}

// Cluster::Restart aborts the whole test binary when the node does not answer
// within 30 s, losing the history and the logs; restart the same Node (same
// dir, port and flags) and report instead.
void Nemesis::Restart(int i, FaultEvent& ev) {
  c_.node(i).Kill9();
  c_.node(i).Launch();
  if (!itest::WaitReady(c_.port(i), 30s)) {
    ev.problem += absl::StrCat("node ", i + 1, " restarted after kill -9 did not answer PING within 30 s; ");
    if (!itest::WaitReady(c_.port(i), 30s)) ev.problem += "nor 30 s later; ";
  }
}

int Nemesis::Other(int not_this) { return (not_this + 1 + static_cast<int>(rng_() % (c_.size() - 1))) % c_.size(); }

FaultEvent Nemesis::Run(const std::string& kind, std::chrono::milliseconds hold) {
  FaultEvent ev;
  ev.nemesis = kind;
  int leader = Leader();
  int other = Other(leader);
  std::set<int> rest;
  for (int i = 0; i < c_.size(); ++i) {
    if (i != leader) rest.insert(i);
  }
  ev.start_ns = w_.Now();
  if (kind == "kill-leader" || kind == "kill-follower") {
    int victim = kind == "kill-leader" ? leader : other;
    ev.detail = absl::StrCat("kill -9 node ", victim + 1);
    c_.Kill9(victim);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    Restart(victim, ev);
  } else if (kind == "kill-child-leader" || kind == "kill-child-follower") {
    int victim = kind == "kill-child-leader" ? leader : other;
    pid_t child = c_.node(victim).ChildPid();
    ev.detail = absl::StrCat("kill -9 the child (pid ", child, ") of node ", victim + 1);
    if (child > 0) ::kill(child, SIGKILL);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
  } else if (kind == "pause-leader" || kind == "pause-follower") {
    int victim = kind == "pause-leader" ? leader : other;
    ev.detail = absl::StrCat("SIGSTOP node ", victim + 1, " for ", hold.count(), " ms");
    c_.node(victim).process().Signal(SIGSTOP);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.node(victim).process().Signal(SIGCONT);
  } else if (kind == "partition-leader" || kind == "partition-follower") {
    int victim = kind == "partition-leader" ? leader : other;
    std::set<int> others;
    for (int i = 0; i < c_.size(); ++i) {
      if (i != victim) others.insert(i);
    }
    ev.detail = absl::StrCat("isolate node ", victim + 1, kind == "partition-leader" ? " (the leader)" : "");
    c_.Partition({victim}, others);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.Heal();
  } else if (kind == "partition-bridge") {
    // Leader and one follower cannot talk; the third node talks to both.
    ev.detail = absl::StrCat("cut link ", leader + 1, "<->", other + 1, " (bridge through the third node)");
    c_.Partition({leader}, {other});
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.Heal();
  } else if (kind == "partition-leader-kill") {
    // Isolate the leader, then kill -9 it while isolated; heal; restart it.
    ev.detail = absl::StrCat("isolate leader ", leader + 1, ", kill -9 it, heal, restart it");
    c_.Partition({leader}, rest);
    std::this_thread::sleep_for(hold / 2);
    c_.Kill9(leader);
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
    c_.Heal();
    Restart(leader, ev);
  } else if (kind == "pause-leader-kill-child") {
    // Pause the leader; kill the child of a follower meanwhile.
    ev.detail = absl::StrCat("SIGSTOP leader ", leader + 1, ", kill -9 the child of node ", other + 1);
    c_.node(leader).process().Signal(SIGSTOP);
    pid_t child = c_.node(other).ChildPid();
    if (child > 0) ::kill(child, SIGKILL);
    std::this_thread::sleep_for(hold);
    ev.heal_ns = w_.Now();
    c_.node(leader).process().Signal(SIGCONT);
  } else if (kind == "transfer-leader") {
    // Hand leadership to a follower under load, twice (there and back to a
    // third): the old leader steps down and rebuilds its child each time.
    ev.detail = absl::StrCat("transfer leadership ", leader + 1, " -> ", other + 1);
    auto transfer = [&](int from, int to) {
      Client cl(c_.port(from));
      auto v = cl.Call({"ANARCHO.TRANSFER", absl::StrCat(to + 1)});
      if (v.IsError()) absl::StrAppend(&ev.detail, " (", v.str, ")");
    };
    transfer(leader, other);
    std::this_thread::sleep_for(hold / 2);
    int now = Leader();
    int next = Other(now);
    absl::StrAppend(&ev.detail, ", then ", now + 1, " -> ", next + 1);
    transfer(now, next);
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
  } else if (kind == "replace-follower") {
    // Membership change under load: remove a follower, wipe it, add it back
    // under a new id (learner, then voter once caught up).
    ev.detail = absl::StrCat("remove node ", other + 1, " (id ", c_.id(other), "), wipe it, add it back as id ");
    std::string problem = c_.Replace(other);
    absl::StrAppend(&ev.detail, c_.id(other));
    if (!problem.empty()) ev.problem += problem + "; ";
    std::this_thread::sleep_for(hold / 2);
    ev.heal_ns = w_.Now();
  } else {
    ev.detail = "unknown nemesis";
  }
  if (c_.WaitForLeader(30s) < 0) ev.problem += "no serving leader within 30 s after the heal; ";
  ev.end_ns = w_.Now();
  events_.push_back(ev);
  return ev;
}

// -------------------------------------------------------------------- summary

std::string Summarize(const std::vector<Op>& ops, const std::vector<FaultEvent>& events, const CheckResult& check) {
  std::map<std::string, std::array<int64_t, 3>> by_kind;
  std::array<int64_t, 3> total{};
  for (auto& op : ops) {
    by_kind[OpKindName(op.kind)][static_cast<int>(op.outcome)]++;
    total[static_cast<int>(op.outcome)]++;
  }
  std::string s = absl::StrCat("operations: ", ops.size(), " (ok ", total[0], ", failed ", total[1], ", unknown ", total[2], ")\n");
  for (auto& [k, c] : by_kind) absl::StrAppend(&s, "  ", k, ": ok ", c[0], ", failed ", c[1], ", unknown ", c[2], "\n");
  absl::StrAppend(&s, "faults injected: ", events.size(), "\n");
  struct Agg {
    int n = 0;
    std::array<int64_t, 3> c{};
    int64_t longest_gap = 0;
  };
  std::map<std::string, Agg> per;
  std::vector<int64_t> ok_done;
  for (auto& op : ops) {
    if (op.outcome == Outcome::kOk) ok_done.push_back(op.complete_ns);
  }
  std::sort(ok_done.begin(), ok_done.end());
  for (auto& ev : events) {
    Agg& a = per[ev.nemesis];
    a.n++;
    for (auto& op : ops) {
      if (op.invoke_ns >= ev.start_ns && op.invoke_ns < ev.end_ns) a.c[static_cast<int>(op.outcome)]++;
    }
    int64_t last = ev.start_ns, gap = 0;
    for (auto it = std::lower_bound(ok_done.begin(), ok_done.end(), ev.start_ns); it != ok_done.end(); ++it) {
      gap = std::max(gap, *it - last);
      last = *it;
      if (*it > ev.end_ns) break;
    }
    a.longest_gap = std::max(a.longest_gap, gap);
  }
  for (auto& [name, a] : per) {
    double n = std::max<int64_t>(1, a.c[0] + a.c[1] + a.c[2]);
    absl::StrAppend(&s, "  ", name, " x", a.n, ": ops ", a.c[0] + a.c[1] + a.c[2], ", ok ", absl::StrFormat("%.3f", a.c[0] / n),
                    " failed ", absl::StrFormat("%.3f", a.c[1] / n), " unknown ", absl::StrFormat("%.3f", a.c[2] / n),
                    ", longest unavailability ", a.longest_gap / 1000000, " ms\n");
  }
  absl::StrAppend(&s, "anomalies found: ", check.anomalies.size(), "\nacknowledged writes lost: ", check.lost_writes, "\n");
  if (check.search_exhausted) absl::StrAppend(&s, "WARNING: linearizability search budget exhausted on some key (no verdict there)\n");
  return s;
}

std::string KeepLogs(itest::Cluster& c, const std::string& name, const std::vector<Op>& ops,
                     const std::vector<FaultEvent>& events, const std::string& report) {
  std::string dir = absl::StrCat("/tmp/fault-logs/", name, "-", std::chrono::system_clock::now().time_since_epoch().count() / 1000000);
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (int i = 0; i < c.size(); ++i) {
    std::string src = c.node(i).dir();
    for (auto& entry : fs::recursive_directory_iterator(src, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string p = entry.path().string();
      if (p.ends_with(".log") || p.find("LOG") != std::string::npos) {
        fs::path dst = fs::path(dir) / absl::StrCat("n", i + 1) / fs::relative(entry.path(), src);
        fs::create_directories(dst.parent_path(), ec);
        fs::copy_file(entry.path(), dst, fs::copy_options::overwrite_existing, ec);
      }
    }
  }
  std::ofstream h(dir + "/history.txt");
  for (auto& ev : events) {
    h << "FAULT " << ev.nemesis << " (" << ev.detail << ") start " << ev.start_ns / 1e6 << "ms heal " << ev.heal_ns / 1e6
      << "ms end " << ev.end_ns / 1e6 << "ms\n";
  }
  for (auto& op : ops) h << Describe(op) << "\n";
  std::ofstream r(dir + "/report.txt");
  r << report;
  return dir;
}

}  // namespace fault
