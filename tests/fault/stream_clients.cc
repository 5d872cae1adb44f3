// The stream workload: producers XADD unique payloads to one stream, the
// consumers of one group read new entries (blocking), acknowledge most of
// them and now and then read their own pending entries back, and claimers
// take over entries left pending too long and acknowledge them. The members'
// children are compared by the divergence checks, consumer groups included
// (node/child/child_digest.h).
#include <set>

#include "absl/strings/str_cat.h"
#include "conn.h"
#include "workload.h"

namespace fault {
using itest::Client;

namespace {

constexpr const char* kStream = "stream";
constexpr const char* kGroup = "group";
constexpr const char* kField = "p";

bool Chance(std::mt19937_64& rng, int percent) { return static_cast<int>(rng() % 100) < percent; }

// The entries of an XRANGE or XREADGROUP reply: [[id, [field, value]], ...].
bool ParseEntries(const resp::Value& list, Op& op) {
  if (list.type != resp::Type::kArray) return false;
  for (const resp::Value& e : list.elements) {
    if (e.type != resp::Type::kArray || e.elements.size() != 2) return false;
    const resp::Value& fields = e.elements[1];
    if (fields.type != resp::Type::kArray || fields.elements.size() != 2) return false;
    op.ids.push_back(e.elements[0].AsString());
    op.elems.push_back(fields.elements[1].AsString());
  }
  return true;
}

// An XREADGROUP reply: nil (nothing new before the timeout) or one stream's entries.
bool ParseRead(const resp::Value& v, Op& op) {
  if (v.type == resp::Type::kNull) return true;
  return v.type == resp::Type::kArray && v.elements.size() == 1 && v.elements[0].type == resp::Type::kArray &&
         v.elements[0].elements.size() == 2 && ParseEntries(v.elements[0].elements[1], op);
}

// A flat RESP2 map reply (XINFO's) as name -> value.
std::map<std::string, const resp::Value*> Fields(const resp::Value& v) {
  std::map<std::string, const resp::Value*> out;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) out[v.elements[i].AsString()] = &v.elements[i + 1];
  return out;
}

}  // namespace

void Workload::StreamProducer(int id) {
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  int64_t seq = 0;
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op = NewOp(id, conn, OpKind::kXadd, kStream);
    op.elems = {absl::StrCat("s", id, "-", ++seq)};
    op.invoke_ns = Now();
    cl->Send(Cmd({"XADD", kStream, "*", kField, op.elems[0]}));
    auto v = conn.Read();
    op.complete_ns = Now();
    op.outcome = Classify(v, conn, &op.error);
    if (op.outcome == Outcome::kOk) {
      if (v->type == resp::Type::kBulkString) op.ids = {v->str};
      else op.outcome = Outcome::kUnknown, op.error = "XADD reply " + itest::Str(*v);
    }
    history_.Add(std::move(op));
    std::this_thread::sleep_for(o_.stream_add_pause);
  }
}

// Reads new entries (kStreamCount at most), blocking 1 s or, to leave while
// blocked, with no timeout; then XACKs them, unless it keeps them pending or
// read them with NOACK.
// One time in five it reads its own pending entries instead, and then XACKs
// those it kept that it still holds (its pending list would grow all run;
// a claimer may have taken some over). It acknowledges only entries ok reads
// gave it: what an unknown read took stays pending until a claimer takes it.
void Workload::StreamConsumer(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  const std::string consumer = absl::StrCat("c", id);
  std::set<std::string> kept;  // given by ok reads, not acknowledged yet
  while (!stop_) {
    Client* cl = conn.Get();
    if (!cl) continue;
    const bool pending = rng() % 5 == 0;
    Op op = NewOp(id, conn, pending ? OpKind::kXreadPending : OpKind::kXread, kStream);
    op.consumer = consumer;
    if (pending) {
      op.invoke_ns = Now();
      cl->Send(Cmd({"XREADGROUP", "GROUP", kGroup, consumer, "STREAMS", kStream, "0"}));
      auto v = conn.Read();
      op.complete_ns = Now();
      op.outcome = Classify(v, conn, &op.error);
      if (op.outcome == Outcome::kOk && !ParseRead(*v, op)) {
        Surprise("XREADGROUP (pending) answered " + itest::Str(*v));
        op.outcome = Outcome::kUnknown;
        conn.Drop();
      }
      op.elems.clear();
      std::vector<std::string> seen_kept;
      if (op.outcome == Outcome::kOk) {
        for (const std::string& e : op.ids) {
          if (kept.contains(e)) seen_kept.push_back(e);
        }
        kept.clear();  // those it no longer holds were claimed away
      }
      history_.Add(std::move(op));
      if (!seen_kept.empty()) AckEntries(conn, consumer, seen_kept, id, Chance(rng, o_.stream_delete_percent));
      std::this_thread::sleep_for(o_.think);
      continue;
    }
    const bool leave = Chance(rng, o_.stream_leave_percent);
    const bool noack = Chance(rng, o_.stream_noack_percent);
    const auto patience = std::chrono::milliseconds(20 + rng() % 281);
    op.via = leave ? "leaves" : "waits";
    op.value = noack ? 1 : 0;
    std::vector<std::string> args = {"XREADGROUP", "GROUP", kGroup, consumer, "COUNT", absl::StrCat(kStreamCount),
                                     "BLOCK", leave ? "0" : "1000"};
    if (noack) args.push_back("NOACK");
    for (const char* a : {"STREAMS", kStream, ">"}) args.push_back(a);
    op.invoke_ns = Now();
    cl->Send(Cmd(args));
    auto v = leave ? conn.Read(patience) : conn.Read();
    op.complete_ns = Now();
    if (leave && !v) {
      conn.Drop();
      op.outcome = Outcome::kUnknown;
      op.error = "left while blocked";
    } else {
      op.outcome = Classify(v, conn, &op.error);
      if (op.outcome == Outcome::kOk && !ParseRead(*v, op)) {
        Surprise("XREADGROUP answered " + itest::Str(*v));
        op.outcome = Outcome::kUnknown;
        conn.Drop();
      }
    }
    const std::vector<std::string> got = op.outcome == Outcome::kOk && !noack ? op.ids : std::vector<std::string>{};
    history_.Add(std::move(op));
    if (!got.empty()) {
      if (rng() % 5 != 0) AckEntries(conn, consumer, got, id, Chance(rng, o_.stream_delete_percent));
      else kept.insert(got.begin(), got.end());
    }
    std::this_thread::sleep_for(o_.think);
  }
}

// Takes over entries pending for stream_claim_idle or more (those consumers
// keep a while, and those their unknown reads took, which no consumer
// acknowledges), kStreamCount at a time, and acknowledges what it got.
void Workload::StreamClaimer(int id) {
  std::mt19937_64 rng(o_.seed * 1000 + id);
  Conn conn(c_, id % c_.size(), o_.op_timeout);
  const std::string consumer = absl::StrCat("r", id);
  while (!stop_) {
    std::this_thread::sleep_for(150ms);
    Client* cl = conn.Get();
    if (!cl) continue;
    Op op = NewOp(id, conn, OpKind::kXclaim, kStream);
    op.consumer = consumer;
    op.value = o_.stream_claim_idle.count();
    op.invoke_ns = Now();
    cl->Send(Cmd({"XAUTOCLAIM", kStream, kGroup, consumer, absl::StrCat(op.value), "0-0", "COUNT",
                  absl::StrCat(kStreamCount)}));
    auto v = conn.Read();
    op.complete_ns = Now();
    op.outcome = Classify(v, conn, &op.error);
    if (op.outcome == Outcome::kOk) {
      // [next cursor, entries, IDs of deleted entries it dropped]
      if (v->type == resp::Type::kArray && v->elements.size() == 3 && ParseEntries(v->elements[1], op) &&
          v->elements[2].type == resp::Type::kArray) {
        op.result = static_cast<int64_t>(v->elements[2].elements.size());
      } else {
        Surprise("XAUTOCLAIM answered " + itest::Str(*v));
        op.outcome = Outcome::kUnknown;
        conn.Drop();
      }
    }
    const std::vector<std::string> got = op.outcome == Outcome::kOk ? op.ids : std::vector<std::string>{};
    history_.Add(std::move(op));
    if (!got.empty()) AckEntries(conn, consumer, got, id, Chance(rng, o_.stream_delete_percent));
  }
}

// XACK of `ids`, then (if `then_delete` and the XACK was ok) XDEL of them:
// acknowledged, they are no longer pending, whoever held them.
void Workload::AckEntries(Conn& conn, const std::string& consumer, const std::vector<std::string>& ids, int id,
                          bool then_delete) {
  if (Counted(conn, OpKind::kXack, {"XACK", kStream, kGroup}, consumer, ids, id) && then_delete) {
    Counted(conn, OpKind::kXdel, {"XDEL", kStream}, consumer, ids, id);
  }
}

// `command` followed by `ids`, answered with a count (op.result); true if ok.
bool Workload::Counted(Conn& conn, OpKind kind, std::vector<std::string> command, const std::string& consumer,
                       const std::vector<std::string>& ids, int id) {
  Client* cl = conn.Get();
  if (!cl) return false;
  Op op = NewOp(id, conn, kind, kStream);
  op.consumer = consumer;
  op.ids = ids;
  command.insert(command.end(), ids.begin(), ids.end());
  op.invoke_ns = Now();
  cl->Send(Cmd(command));
  auto v = conn.Read();
  op.complete_ns = Now();
  op.outcome = Classify(v, conn, &op.error);
  if (op.outcome == Outcome::kOk) {
    if (v->type == resp::Type::kInteger) op.result = v->integer;
    else op.outcome = Outcome::kUnknown, op.error = command[0] + " reply " + itest::Str(*v);
  }
  const bool ok = op.outcome == Outcome::kOk;
  history_.Add(std::move(op));
  return ok;
}

bool Workload::ReadFinalStream(const std::function<std::optional<resp::Value>(const std::vector<std::string>&)>& read) {
  final_stream_ = StreamFinal{};
  auto range = read({"XRANGE", kStream, "-", "+"});
  Op entries;
  if (!range || !ParseEntries(*range, entries)) return false;
  for (size_t i = 0; i < entries.ids.size(); ++i) final_stream_.entries.emplace_back(entries.ids[i], entries.elems[i]);
  auto groups = read({"XINFO", "GROUPS", kStream});
  if (!groups || groups->elements.size() != 1) return false;
  auto fields = Fields(groups->elements[0]);
  if (!fields.contains("last-delivered-id")) return false;
  final_stream_.last_delivered = fields["last-delivered-id"]->AsString();
  auto pending = read({"XPENDING", kStream, kGroup, "-", "+", "1000000000"});
  if (!pending) return false;
  for (const resp::Value& p : pending->elements) {
    if (p.elements.size() != 4) return false;
    final_stream_.pending[p.elements[0].AsString()] = p.elements[1].AsString();
  }
  return true;
}

}  // namespace fault
