#include "history.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fault {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kFail: return "fail";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kRead: return "get";
    case OpKind::kWrite: return "set";
    case OpKind::kIncr: return "incr";
    case OpKind::kAppend: return "rpush";
    case OpKind::kListRead: return "lrange";
    case OpKind::kTxn: return "multi-append";
    case OpKind::kTransfer: return "transfer";
    case OpKind::kBalances: return "mget";
    case OpKind::kPush: return "push";
    case OpKind::kPop: return "blpop";
    case OpKind::kTakenRemove: return "lrem-taken";
    case OpKind::kTakenRead: return "lrange-taken";
    case OpKind::kTtl: return "ttl-set";
    case OpKind::kXadd: return "xadd";
    case OpKind::kXread: return "xreadgroup";
    case OpKind::kXack: return "xack";
    case OpKind::kXreadPending: return "xreadgroup-pending";
    case OpKind::kXclaim: return "xautoclaim";
    case OpKind::kXdel: return "xdel";
  }
  return "?";
}

namespace {
std::string V(int64_t v) { return v == kNil ? std::string("nil") : absl::StrCat(v); }
std::string Ms(int64_t ns) { return ns == kInf ? std::string("inf") : absl::StrCat(ns / 1000000.0); }
std::string ShortList(const std::vector<std::string>& l) {
  if (l.size() <= 8) return absl::StrCat("[", absl::StrJoin(l, " "), "]");
  std::vector<std::string> tail(l.end() - 4, l.end());
  return absl::StrCat("[", l[0], " ", l[1], " ... (", l.size(), " elements) ... ", absl::StrJoin(tail, " "), "]");
}
}  // namespace

std::string Describe(const Op& op) {
  std::string s = absl::StrCat("#", op.id, " c", op.client, "@n", op.node + 1, " [", Ms(op.invoke_ns), "ms, ",
                               op.outcome == Outcome::kUnknown ? std::string("?") : Ms(op.complete_ns), "ms] ",
                               OpKindName(op.kind), " ");
  if (!op.via.empty()) absl::StrAppend(&s, "(", op.via, ") ");
  switch (op.kind) {
    case OpKind::kRead: absl::StrAppend(&s, op.key, " -> ", V(op.result)); break;
    case OpKind::kWrite: absl::StrAppend(&s, op.key, " ", op.value); break;
    case OpKind::kIncr: absl::StrAppend(&s, op.key, " -> ", V(op.result)); break;
    case OpKind::kAppend: absl::StrAppend(&s, op.key, " ", op.elems.empty() ? "" : op.elems[0]); break;
    case OpKind::kListRead: absl::StrAppend(&s, op.key, " -> ", ShortList(op.elems)); break;
    case OpKind::kTxn: {
      std::vector<std::string> a;
      for (auto& [k, e] : op.appends) a.push_back(absl::StrCat(k, "+=", e));
      absl::StrAppend(&s, absl::StrJoin(a, " "), "; lrange ", op.key, " -> ", ShortList(op.elems));
      break;
    }
    case OpKind::kTransfer:
      absl::StrAppend(&s, op.value, " from ", op.from, " to ", op.to);
      if (op.balances.size() == 2) absl::StrAppend(&s, " (read ", V(op.balances[0]), ", ", V(op.balances[1]), ")");
      break;
    case OpKind::kPush: absl::StrAppend(&s, op.key, " ", op.elems.empty() ? "" : op.elems[0]); break;
    case OpKind::kPop:
      absl::StrAppend(&s, op.key, " -> ", op.elems.empty() ? "nil" : op.elems[0]);
      if (!op.to.empty()) absl::StrAppend(&s, " into ", op.to);
      if (op.outcome == Outcome::kUnknown) absl::StrAppend(&s, " (connection closed at ", Ms(op.complete_ns), "ms)");
      break;
    case OpKind::kTakenRemove:
      absl::StrAppend(&s, op.key, " ", op.elems.empty() ? "" : op.elems[0], " -> ", V(op.result));
      break;
    case OpKind::kTakenRead: absl::StrAppend(&s, op.key, " -> ", ShortList(op.elems)); break;
    case OpKind::kTtl: absl::StrAppend(&s, op.key, " ", op.value); break;
    case OpKind::kXadd:
      absl::StrAppend(&s, op.key, " ", op.elems.empty() ? "" : op.elems[0], " -> ", op.ids.empty() ? "?" : op.ids[0]);
      break;
    case OpKind::kXread:
    case OpKind::kXreadPending:
      absl::StrAppend(&s, op.consumer, " -> ", op.ids.empty() ? std::string("nil") : ShortList(op.ids));
      if (op.kind == OpKind::kXread && op.outcome == Outcome::kUnknown) {
        absl::StrAppend(&s, " (connection closed at ", Ms(op.complete_ns), "ms)");
      }
      break;
    case OpKind::kXack:
    case OpKind::kXdel: absl::StrAppend(&s, op.consumer, " ", ShortList(op.ids), " -> ", V(op.result)); break;
    case OpKind::kXclaim:
      absl::StrAppend(&s, op.consumer, " idle ", op.value, "ms -> ", ShortList(op.ids));
      if (op.outcome == Outcome::kOk) absl::StrAppend(&s, ", ", op.result, " deleted");
      break;
    case OpKind::kBalances: {
      std::vector<std::string> b;
      int64_t sum = 0;
      for (int64_t v : op.balances) {
        b.push_back(V(v));
        if (v != kNil) sum += v;
      }
      absl::StrAppend(&s, "-> [", absl::StrJoin(b, " "), "] sum ", sum);
      break;
    }
  }
  absl::StrAppend(&s, " : ", OutcomeName(op.outcome));
  if (!op.error.empty()) absl::StrAppend(&s, " (", op.error.substr(0, 80), ")");
  return s;
}

void History::Add(Op op) {
  std::lock_guard l(mu_);
  op.id = static_cast<int64_t>(ops_.size());
  ops_.push_back(std::move(op));
}

std::vector<Op> History::ops() const {
  std::lock_guard l(mu_);
  std::vector<Op> out = ops_;
  std::stable_sort(out.begin(), out.end(), [](const Op& a, const Op& b) { return a.invoke_ns < b.invoke_ns; });
  return out;
}

size_t History::size() const {
  std::lock_guard l(mu_);
  return ops_.size();
}

void CheckResult::Merge(const CheckResult& o) {
  valid = valid && o.valid;
  search_exhausted = search_exhausted || o.search_exhausted;
  anomalies.insert(anomalies.end(), o.anomalies.begin(), o.anomalies.end());
  lost_writes += o.lost_writes;
}

std::string CheckResult::Summary(size_t max_anomalies) const {
  std::string s = absl::StrCat(valid ? "valid" : "INVALID", search_exhausted ? " (search budget exhausted for some key)" : "",
                               ", anomalies: ", anomalies.size(), ", acknowledged writes lost: ", lost_writes, "\n");
  for (size_t i = 0; i < anomalies.size() && i < max_anomalies; ++i) absl::StrAppend(&s, "--- ", anomalies[i], "\n");
  if (anomalies.size() > max_anomalies) absl::StrAppend(&s, "... and ", anomalies.size() - max_anomalies, " more\n");
  return s;
}

}  // namespace fault
