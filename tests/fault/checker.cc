#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "history.h"

namespace fault {
namespace {

// Writes use values that are multiples of kWriteSpan, so every value a later
// INCR can produce from a write is in [v, v + kWriteSpan): "derived from v".
constexpr int64_t kWriteSpan = 1000000;

bool Returns(const Op& op) { return op.outcome == Outcome::kOk; }

std::string Excerpt(const std::vector<const Op*>& ops, int64_t from_ns, int64_t to_ns, size_t max_lines = 16) {
  std::vector<std::string> lines;
  for (const Op* op : ops) {
    int64_t end = Returns(*op) ? op->complete_ns : kInf;
    if (end < from_ns || op->invoke_ns > to_ns) continue;
    lines.push_back("    " + Describe(*op));
  }
  if (lines.size() > max_lines) {
    size_t cut = lines.size() - max_lines;
    lines.erase(lines.begin(), lines.begin() + cut);
    lines.insert(lines.begin(), absl::StrCat("    ... ", cut, " earlier ops"));
  }
  return absl::StrJoin(lines, "\n");
}

// ----------------------------------------------------------------- registers

struct Entry {
  bool call;
  int op;  // index into the key's ops
  int64_t time;
  Entry* prev = nullptr;
  Entry* next = nullptr;
  Entry* match = nullptr;  // call -> its return (nullptr: never returns)
};

struct Step {
  bool ok;
  int64_t state;
};

Step Apply(int64_t state, const Op& op, bool evictions) {
  switch (op.kind) {
    case OpKind::kWrite: return {true, op.value};
    case OpKind::kRead:
      if (evictions && op.result == kNil) return {true, kNil};  // evicted just before
      return {state == op.result, state};
    case OpKind::kIncr: {
      int64_t next = (state == kNil ? 0 : state) + 1;
      if (op.outcome == Outcome::kOk) return {next == op.result, next};
      return {true, next};
    }
    default: return {false, state};
  }
}

struct CacheKey {
  std::vector<uint64_t> bits;
  int64_t state;
  bool operator==(const CacheKey& o) const { return state == o.state && bits == o.bits; }
};
struct CacheHash {
  size_t operator()(const CacheKey& k) const {
    size_t h = std::hash<int64_t>()(k.state);
    for (uint64_t b : k.bits) h = h * 1000003u ^ std::hash<uint64_t>()(b);
    return h;
  }
};

// Returns true if linearizable; false with `why` if not; nullopt if the budget ran out.
std::optional<bool> LinearizableKey(const std::vector<const Op*>& ops, int64_t budget_ms, bool evictions,
                                    std::string* why) {
  const int n = static_cast<int>(ops.size());
  std::vector<Entry> entries;
  entries.reserve(2 * n);
  std::vector<int> call_index(n), ret_index(n, -1);
  for (int i = 0; i < n; ++i) {
    entries.push_back({true, i, ops[i]->invoke_ns});
    if (Returns(*ops[i])) entries.push_back({false, i, ops[i]->complete_ns});
  }
  // Calls before returns at equal times: equal stamps count as concurrent.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.time != b.time) return a.time < b.time;
    return a.call && !b.call;
  });
  for (int i = 0; i < static_cast<int>(entries.size()); ++i) (entries[i].call ? call_index : ret_index)[entries[i].op] = i;
  Entry head{true, -1, 0};
  Entry* prev = &head;
  for (auto& e : entries) {
    prev->next = &e;
    e.prev = prev;
    prev = &e;
  }
  for (int i = 0; i < n; ++i) {
    if (ret_index[i] >= 0) entries[call_index[i]].match = &entries[ret_index[i]];
  }
  auto lift = [](Entry* e) {
    e->prev->next = e->next;
    if (e->next) e->next->prev = e->prev;
    if (Entry* m = e->match) {
      m->prev->next = m->next;
      if (m->next) m->next->prev = m->prev;
    }
  };
  auto unlift = [](Entry* e) {
    if (Entry* m = e->match) {
      m->prev->next = m;
      if (m->next) m->next->prev = m;
    }
    e->prev->next = e;
    if (e->next) e->next->prev = e;
  };

  int remaining = 0;
  for (int i = 0; i < n; ++i) remaining += Returns(*ops[i]);
  std::vector<uint64_t> bits((n + 63) / 64, 0);
  std::unordered_set<CacheKey, CacheHash> cache;
  std::vector<std::pair<Entry*, int64_t>> stack;
  // Unknown INCRs are interchangeable (same effect, no return): taking the
  // earliest-invoked one still pending is enough, which removes the symmetric
  // states that would otherwise make the search exponential in their number.
  auto free_incr = [&](const Op& op) { return op.kind == OpKind::kIncr && !Returns(op); };
  std::set<int> pending_incr;  // call entry indexes
  for (int i = 0; i < n; ++i) {
    if (free_incr(*ops[i])) pending_incr.insert(call_index[i]);
  }
  auto index_of = [&](Entry* e) { return static_cast<int>(e - entries.data()); };
  int64_t state = kNil;
  Entry* entry = head.next;
  size_t best_depth = 0;
  int stuck_op = -1;
  int64_t stuck_state = kNil;
  auto start = std::chrono::steady_clock::now();
  uint64_t iterations = 0;
  while (remaining > 0) {
    if (++iterations % 8192 == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::milliseconds(budget_ms)) {
      return std::nullopt;
    }
    if (entry != nullptr && entry->call) {
      const Op& op = *ops[entry->op];
      if (free_incr(op) && *pending_incr.begin() != index_of(entry)) {
        entry = entry->next;
        continue;
      }
      Step s = Apply(state, op, evictions);
      if (s.ok) {
        bits[entry->op / 64] |= 1ull << (entry->op % 64);
        if (cache.insert(CacheKey{bits, s.state}).second) {
          stack.push_back({entry, state});
          state = s.state;
          lift(entry);
          if (free_incr(op)) pending_incr.erase(index_of(entry));
          remaining -= Returns(op);
          entry = head.next;
          continue;
        }
        bits[entry->op / 64] &= ~(1ull << (entry->op % 64));
      }
      entry = entry->next;
      continue;
    }
    // A return whose op is not linearized yet (or the end): backtrack.
    if (entry != nullptr && stack.size() >= best_depth) {
      best_depth = stack.size();
      stuck_op = entry->op;
      stuck_state = state;
    }
    if (stack.empty()) {
      if (stuck_op >= 0) {
        const Op& op = *ops[stuck_op];
        *why = absl::StrCat("key ", op.key, ": not linearizable. ", best_depth,
                            " ops linearize, then no order explains\n    ", Describe(op),
                            "\n  (register value at that point in the longest linearization: ",
                            stuck_state == kNil ? std::string("nil") : absl::StrCat(stuck_state),
                            "). Ops around it:\n", Excerpt(ops, op.invoke_ns - 2000000000LL, op.complete_ns));
      } else {
        *why = "not linearizable";
      }
      return false;
    }
    auto [e, s] = stack.back();
    stack.pop_back();
    bits[e->op / 64] &= ~(1ull << (e->op % 64));
    state = s;
    unlift(e);
    if (free_incr(*ops[e->op])) pending_incr.insert(index_of(e));
    remaining += Returns(*ops[e->op]);
    entry = e->next;
  }
  return true;
}

}  // namespace

CheckResult CheckRegisters(const std::vector<Op>& all, int64_t budget_ms, bool evictions) {
  CheckResult r;
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : all) {
    if (op.kind != OpKind::kRead && op.kind != OpKind::kWrite && op.kind != OpKind::kIncr) continue;
    if (op.outcome == Outcome::kFail) continue;                           // never happened
    if (op.kind == OpKind::kRead && op.outcome != Outcome::kOk) continue;  // no effect, nothing seen
    by_key[op.key].push_back(&op);
  }
  for (auto& [key, ops] : by_key) {
    // An unknown write nobody observed (no read or INCR returned a value derived
    // from it) can be taken as never done: dropping it cannot hide an anomaly
    // and keeps the search small.
    std::set<int64_t> seen_families;
    for (const Op* op : ops) {
      if (op->outcome == Outcome::kOk && (op->kind == OpKind::kRead || op->kind == OpKind::kIncr) && op->result != kNil) {
        int64_t v = op->result;
        seen_families.insert(v - ((v % kWriteSpan) + kWriteSpan) % kWriteSpan);
      }
    }
    std::vector<const Op*> kept;
    for (const Op* op : ops) {
      if (op->kind == OpKind::kWrite && op->outcome == Outcome::kUnknown && op->value % kWriteSpan == 0 &&
          !seen_families.contains(op->value)) {
        continue;
      }
      kept.push_back(op);
    }
    std::string why;
    auto ok = LinearizableKey(kept, budget_ms, evictions, &why);
    if (!ok.has_value()) {
      r.search_exhausted = true;
    } else if (!*ok) {
      r.Fail(why);
    }
  }
  return r;
}

// --------------------------------------------------------------------- lists

CheckResult CheckLists(const std::vector<Op>& ops,
                       const std::vector<std::pair<std::string, std::vector<std::string>>>& final_lists) {
  CheckResult r;
  struct AppendInfo {
    std::string key;
    const Op* op;
  };
  std::map<std::string, AppendInfo> appended;  // element -> its append
  std::vector<const Op*> list_ops;
  for (const Op& op : ops) {
    if (op.kind == OpKind::kAppend && !op.elems.empty()) {
      appended[op.elems[0]] = {op.key, &op};
      list_ops.push_back(&op);
    } else if (op.kind == OpKind::kTxn) {
      for (auto& [k, e] : op.appends) appended[e] = {k, &op};
      list_ops.push_back(&op);
    } else if (op.kind == OpKind::kListRead) {
      list_ops.push_back(&op);
    }
  }
  auto ops_of = [&](const std::string& elem) -> const Op* {
    auto it = appended.find(elem);
    return it == appended.end() ? nullptr : it->second.op;
  };
  std::map<std::string, std::map<std::string, size_t>> position;  // key -> elem -> index in the final list
  std::map<std::string, const std::vector<std::string>*> finals;
  for (auto& [key, list] : final_lists) {
    finals[key] = &list;
    auto& pos = position[key];
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string& e = list[i];
      if (!pos.emplace(e, i).second) {
        r.Fail(absl::StrCat("final read of list ", key, ": element ", e, " appears more than once (at ", pos[e], " and ", i,
                            "); appended by\n    ", ops_of(e) ? Describe(*ops_of(e)) : "nobody"));
      }
      auto it = appended.find(e);
      if (it == appended.end() || it->second.key != key) {
        r.Fail(absl::StrCat("final read of list ", key, ": element ", e, " was never appended to it"));
      } else if (it->second.op->outcome == Outcome::kFail) {
        r.Fail(absl::StrCat("final read of list ", key, ": element ", e,
                            " comes from a failed (definitely not executed) append:\n    ", Describe(*it->second.op)));
      }
    }
  }
  // Every acknowledged append is in the final list (exactly once: above).
  for (auto& [elem, info] : appended) {
    if (info.op->outcome != Outcome::kOk) continue;
    auto f = position.find(info.key);
    if (f == position.end()) continue;  // no final read of that key: nothing to say
    if (!f->second.contains(elem)) {
      ++r.lost_writes;
      r.Fail(absl::StrCat("LOST WRITE: acknowledged append of ", elem, " to ", info.key,
                          " is missing from the final list (", finals[info.key]->size(), " elements):\n    ",
                          Describe(*info.op)));
    }
  }
  // Reads.
  struct Read {
    const Op* op;
    std::string key;
    const std::vector<std::string>* list;
  };
  std::vector<Read> reads;
  for (const Op* op : list_ops) {
    if (op->outcome != Outcome::kOk) continue;
    if (op->kind == OpKind::kListRead || op->kind == OpKind::kTxn) reads.push_back({op, op->key, &op->elems});
  }
  // A read that is a prefix of the final list inherits the final list's checks
  // (no duplicates, only elements appended to that key and not failed); only
  // other reads are checked element by element. Keeps the checks linear.
  std::vector<bool> is_prefix(reads.size(), false);
  for (size_t ri = 0; ri < reads.size(); ++ri) {
    const Read& rd = reads[ri];
    const auto& l = *rd.list;
    auto f = finals.find(rd.key);
    if (f != finals.end()) {
      const auto& fin = *f->second;
      is_prefix[ri] = l.size() <= fin.size() && std::equal(l.begin(), l.end(), fin.begin());
      if (!is_prefix[ri]) {
        size_t at = 0;
        while (at < l.size() && at < fin.size() && l[at] == fin[at]) ++at;
        r.Fail(absl::StrCat("read of ", rd.key, " is not a prefix of the final list: they differ at index ", at,
                            " (read has ", at < l.size() ? l[at] : "<end>", ", final has ",
                            at < fin.size() ? fin[at] : "<end>", ", read length ", l.size(), ", final length ",
                            fin.size(), "):\n    ", Describe(*rd.op)));
      }
    }
    if (!is_prefix[ri]) {
      std::set<std::string> seen;
      for (const std::string& e : l) {
        if (!seen.insert(e).second) r.Fail(absl::StrCat("read of ", rd.key, " has ", e, " twice:\n    ", Describe(*rd.op)));
        auto it = appended.find(e);
        if (it == appended.end() || it->second.key != rd.key) {
          r.Fail(absl::StrCat("read of ", rd.key, " has ", e, ", never appended to it:\n    ", Describe(*rd.op)));
        } else if (it->second.op->outcome == Outcome::kFail) {
          r.Fail(absl::StrCat("read of an aborted value: ", rd.key, " has ", e, " from a failed append\n    ",
                              Describe(*it->second.op), "\n    read: ", Describe(*rd.op)));
        }
      }
    }
    if (rd.op->kind == OpKind::kTxn) {
      // Inside MULTI/EXEC the read follows the transaction's own appends to its key.
      std::vector<std::string> own;
      for (auto& [k, e] : rd.op->appends) {
        if (k == rd.key) own.push_back(e);
      }
      bool ends = l.size() >= own.size() && std::equal(own.begin(), own.end(), l.end() - own.size());
      if (!ends) r.Fail(absl::StrCat("transaction read does not end with its own appends:\n    ", Describe(*rd.op)));
    }
  }
  // Real time, per key, one sweep over reads by invocation: a read must see
  // every append acknowledged before it was invoked, and be at least as long
  // as every read that completed before it was invoked.
  for (auto& [key, pos] : position) {
    std::vector<std::pair<int64_t, std::string>> acked;  // (complete, elem)
    for (auto& [elem, info] : appended) {
      if (info.key == key && info.op->outcome == Outcome::kOk) acked.push_back({info.op->complete_ns, elem});
    }
    std::sort(acked.begin(), acked.end());
    std::vector<size_t> rs;
    for (size_t ri = 0; ri < reads.size(); ++ri) {
      if (reads[ri].key == key) rs.push_back(ri);
    }
    std::vector<size_t> by_complete = rs;
    std::sort(rs.begin(), rs.end(), [&](size_t a, size_t b) { return reads[a].op->invoke_ns < reads[b].op->invoke_ns; });
    std::sort(by_complete.begin(), by_complete.end(),
              [&](size_t a, size_t b) { return reads[a].op->complete_ns < reads[b].op->complete_ns; });
    size_t ai = 0, ci = 0;
    int64_t need = -1;  // highest final position among appends acknowledged so far
    std::string need_elem;
    size_t longest = 0;  // longest read completed so far
    const Read* longest_read = nullptr;
    for (size_t ri : rs) {
      const Read& rd = reads[ri];
      while (ai < acked.size() && acked[ai].first < rd.op->invoke_ns) {
        auto p = pos.find(acked[ai].second);
        if (p != pos.end() && static_cast<int64_t>(p->second) > need) {
          need = static_cast<int64_t>(p->second);
          need_elem = acked[ai].second;
        }
        ++ai;
      }
      while (ci < by_complete.size() && reads[by_complete[ci]].op->complete_ns < rd.op->invoke_ns) {
        if (reads[by_complete[ci]].list->size() > longest) {
          longest = reads[by_complete[ci]].list->size();
          longest_read = &reads[by_complete[ci]];
        }
        ++ci;
      }
      if (!is_prefix[ri]) continue;  // already reported
      if (need >= 0 && static_cast<int64_t>(rd.list->size()) <= need) {
        r.Fail(absl::StrCat("STALE READ of ", key, ": misses ", need_elem, ", acknowledged before the read began\n    ",
                            Describe(*appended[need_elem].op), "\n    read: ", Describe(*rd.op)));
      } else if (longest_read && rd.list->size() < longest) {
        r.Fail(absl::StrCat("STALE READ of ", key, ": shorter (", rd.list->size(), ") than a read that completed before it began (",
                            longest, ")\n    earlier: ", Describe(*longest_read->op), "\n    later:   ", Describe(*rd.op)));
      }
    }
  }
  return r;
}

// ---------------------------------------------------------------------- bank

CheckResult CheckBank(const std::vector<Op>& ops, const std::vector<std::string>& accounts,
                      const std::vector<int64_t>& initial, const std::vector<int64_t>& final_balances) {
  CheckResult r;
  int64_t total = 0;
  for (int64_t v : initial) total += v;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < accounts.size(); ++i) index[accounts[i]] = i;
  std::vector<const Op*> bank_ops;
  for (const Op& op : ops) {
    if (op.kind == OpKind::kTransfer || op.kind == OpKind::kBalances) bank_ops.push_back(&op);
  }
  for (const Op* op : bank_ops) {
    if (op->kind != OpKind::kBalances || op->outcome != Outcome::kOk) continue;
    int64_t sum = 0;
    bool missing = op->balances.size() != accounts.size();
    for (int64_t v : op->balances) {
      if (v == kNil) missing = true;
      else sum += v;
    }
    if (missing || sum != total) {
      r.Fail(absl::StrCat("bank read sees a transfer half applied (or an account missing): sum ", sum, " != ", total,
                          "\n", Excerpt(bank_ops, op->invoke_ns - 500000000LL, op->complete_ns, 12)));
    }
  }
  if (final_balances.size() != accounts.size()) {
    r.Fail("no final read of the bank");
    return r;
  }
  int64_t final_sum = 0;
  for (int64_t v : final_balances) final_sum += v == kNil ? 0 : v;
  if (final_sum != total) r.Fail(absl::StrCat("final bank balances sum to ", final_sum, ", not ", total));
  // Residual after the acknowledged transfers: must be the effect of a subset of unknown ones.
  std::vector<int64_t> residual(accounts.size());
  for (size_t i = 0; i < accounts.size(); ++i) residual[i] = (final_balances[i] == kNil ? 0 : final_balances[i]) - initial[i];
  std::vector<const Op*> unknown;
  for (const Op* op : bank_ops) {
    if (op->kind != OpKind::kTransfer) continue;
    if (op->outcome == Outcome::kOk) {
      residual[index[op->from]] += op->value;
      residual[index[op->to]] -= op->value;
    } else if (op->outcome == Outcome::kUnknown) {
      unknown.push_back(op);
    }
  }
  bool zero = std::all_of(residual.begin(), residual.end(), [](int64_t v) { return v == 0; });
  if (zero) return r;
  if (unknown.size() > 22) return r;  // too many to search; the sums above still hold
  bool found = false;
  for (uint64_t mask = 1; mask < (1ull << unknown.size()) && !found; ++mask) {
    std::vector<int64_t> rest = residual;
    for (size_t j = 0; j < unknown.size(); ++j) {
      if (mask >> j & 1) {
        rest[index[unknown[j]->from]] += unknown[j]->value;
        rest[index[unknown[j]->to]] -= unknown[j]->value;
      }
    }
    found = std::all_of(rest.begin(), rest.end(), [](int64_t v) { return v == 0; });
  }
  if (!found) {
    std::vector<std::string> res;
    for (size_t i = 0; i < accounts.size(); ++i) res.push_back(absl::StrCat(accounts[i], ":", residual[i]));
    ++r.lost_writes;
    r.Fail(absl::StrCat("final balances are not the initial ones plus every acknowledged transfer plus some unknown ones "
                        "(lost or phantom transfer); unexplained change per account: ",
                        absl::StrJoin(res, " "), " (", unknown.size(), " unknown transfers)"));
  }
  return r;
}

// --------------------------------------------------------------------- queue

namespace {

using Taken = std::pair<std::string, std::string>;  // (taken list, element)

struct QueueOps {
  std::map<std::string, const Op*> pushed;  // element -> its push (any outcome)
  std::vector<const Op*> ok_pops;          // BLPOP or BLMOVE that returned an element
  std::vector<const Op*> unknown_blpops;
  std::map<std::string, std::vector<const Op*>> unknown_moves;  // taken list -> its unknown BLMOVEs
  std::map<Taken, const Op*> moved;        // what ok BLMOVEs moved where
  std::map<Taken, const Op*> removes;      // LREMs (any outcome; one per element at most)
  std::vector<const Op*> taken_reads;
};

QueueOps IndexQueue(const std::vector<Op>& ops) {
  QueueOps q;
  for (const Op& op : ops) {
    if (op.kind == OpKind::kPush && !op.elems.empty()) {
      q.pushed[op.elems[0]] = &op;
    } else if (op.kind == OpKind::kPop) {
      if (op.outcome == Outcome::kOk && !op.elems.empty()) {
        q.ok_pops.push_back(&op);
        if (!op.to.empty()) q.moved[{op.to, op.elems[0]}] = &op;
      }
      if (op.outcome == Outcome::kUnknown) {
        if (op.to.empty()) q.unknown_blpops.push_back(&op);
        else q.unknown_moves[op.to].push_back(&op);
      }
    } else if (op.kind == OpKind::kTakenRemove && !op.elems.empty()) {
      q.removes[{op.key, op.elems[0]}] = &op;
    } else if (op.kind == OpKind::kTakenRead && op.outcome == Outcome::kOk) {
      q.taken_reads.push_back(&op);
    }
  }
  return q;
}

std::string Excerpt(const std::vector<const Op*>& ops) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < ops.size() && i < 8; ++i) lines.push_back("    " + Describe(*ops[i]));
  if (ops.size() > 8) lines.push_back(absl::StrCat("    ... and ", ops.size() - 8, " more"));
  return absl::StrJoin(lines, "\n");
}

// The pushes no unknown op of `takers` can have taken, each taking at most one
// element pushed (invoked) no later than its close plus the grace. Decided
// greedily, latest push first: the ops a later push may go to are a subset of
// those an earlier one may go to. In order of invocation.
std::vector<const Op*> Untaken(std::vector<const Op*> pushes, const std::vector<const Op*>& takers, int64_t grace_ns) {
  std::sort(pushes.begin(), pushes.end(), [](const Op* a, const Op* b) { return a->invoke_ns > b->invoke_ns; });
  std::vector<int64_t> window_end;
  for (const Op* t : takers) window_end.push_back(t->complete_ns + grace_ns);
  std::sort(window_end.rbegin(), window_end.rend());
  size_t next = 0, free = 0;
  std::vector<const Op*> left;
  for (const Op* push : pushes) {
    while (next < window_end.size() && window_end[next] >= push->invoke_ns) ++next, ++free;
    if (free > 0) --free;
    else left.push_back(push);
  }
  std::reverse(left.begin(), left.end());
  return left;
}

// (a) Each element is delivered at most once (by an ok pop, by being in the
// final queue, or by being in a taken list no ok BLMOVE moved it to), and only
// elements an ok or unknown push may have added. Returns every element
// delivered (an element an ok BLMOVE moved is delivered by that pop).
std::set<std::string> CheckDeliveredOnce(const QueueOps& q, const std::vector<std::string>& final_queue,
                                         const std::map<std::string, std::vector<std::string>>& final_taken,
                                         CheckResult* r) {
  std::map<std::string, std::string> delivered;  // element -> how (for the report)
  auto deliver = [&](const std::string& e, const std::string& how, const Op* pop) {
    auto p = q.pushed.find(e);
    if (p == q.pushed.end()) {
      r->Fail(absl::StrCat("queue: ", how, " delivers ", e, ", which nobody pushed"));
    } else if (p->second->outcome == Outcome::kFail) {
      r->Fail(absl::StrCat("queue: ", how, " delivers ", e, " from a failed (definitely not executed) push:\n    ",
                           Describe(*p->second)));
    } else if (pop != nullptr && pop->complete_ns < p->second->invoke_ns) {
      r->Fail(absl::StrCat("queue: ", e, " was popped before its push began:\n    ", Describe(*pop), "\n    ",
                           Describe(*p->second)));
    }
    auto [it, fresh] = delivered.emplace(e, how);
    if (!fresh) {
      r->Fail(absl::StrCat("queue: DUPLICATE DELIVERY of ", e, ": ", it->second, ", and again ", how,
                           p == q.pushed.end() ? std::string() : "\n    pushed by " + Describe(*p->second)));
    }
  };
  for (const Op* pop : q.ok_pops) deliver(pop->elems[0], "popped by " + Describe(*pop), pop);
  for (size_t i = 0; i < final_queue.size(); ++i) {
    deliver(final_queue[i], absl::StrCat("at index ", i, " of the final queue"), nullptr);
  }
  for (const auto& [list, elems] : final_taken) {
    std::set<std::string> seen;
    for (size_t i = 0; i < elems.size(); ++i) {
      if (!seen.insert(elems[i]).second) {
        r->Fail(absl::StrCat("queue: DUPLICATE DELIVERY of ", elems[i], ": twice in the final ", list));
      } else if (!q.moved.contains({list, elems[i]})) {
        deliver(elems[i], absl::StrCat("at index ", i, " of the final ", list), nullptr);
      }
    }
  }
  std::set<std::string> out;
  for (auto& [e, how] : delivered) out.insert(e);
  return out;
}

// (b) What BLMOVEs moved stays where they moved it until an LREM takes it,
// and what a taken list holds beyond them its consumer's unknown BLMOVEs took.
void CheckTakenLists(const QueueOps& q, const std::map<std::string, std::vector<std::string>>& final_taken,
                     int64_t grace_ns, CheckResult* r) {
  for (const auto& [where, remove] : q.removes) {
    if (remove->outcome != Outcome::kOk || remove->result == 1) continue;
    r->Fail(absl::StrCat("queue: an LREM of an element an ok BLMOVE moved counted ", remove->result,
                         ", not 1:\n    ", Describe(*remove),
                         q.moved.contains(where) ? "\n    " + Describe(*q.moved.at(where)) : std::string()));
  }
  for (const auto& [where, move] : q.moved) {
    auto list = final_taken.find(where.first);
    if (list == final_taken.end()) {
      r->Fail(absl::StrCat("queue: no final read of ", where.first, ", where an ok BLMOVE moved ", where.second));
      continue;
    }
    const bool there = std::find(list->second.begin(), list->second.end(), where.second) != list->second.end();
    auto remove = q.removes.find(where);
    const bool removed = remove != q.removes.end() && remove->second->outcome == Outcome::kOk && remove->second->result == 1;
    const bool may_be_removed = remove != q.removes.end() && remove->second->outcome == Outcome::kUnknown;
    if (there && removed) {
      r->Fail(absl::StrCat("queue: ", where.second, " is back in ", where.first, " after an LREM removed it:\n    ",
                           Describe(*move), "\n    ", Describe(*remove->second)));
    } else if (!there && !removed && !may_be_removed) {
      ++r->lost_writes;
      r->Fail(absl::StrCat("queue: LOST MOVED ELEMENT: ", where.second, " is not in ", where.first,
                           " although an ok BLMOVE moved it there and nothing removed it:\n    ", Describe(*move)));
    }
  }
  for (const auto& [list, elems] : final_taken) {
    std::vector<const Op*> pushes;  // of the elements unknown BLMOVEs took
    for (const std::string& e : elems) {
      auto p = q.pushed.find(e);
      if (!q.moved.contains({list, e}) && p != q.pushed.end()) pushes.push_back(p->second);
    }
    auto takers = q.unknown_moves.find(list);
    std::vector<const Op*> late =
        Untaken(pushes, takers == q.unknown_moves.end() ? std::vector<const Op*>{} : takers->second, grace_ns);
    if (late.empty()) continue;
    r->Fail(absl::StrCat("queue: ", list, " holds ", late.size(),
                         " elements no ok BLMOVE moved there and none of its consumer's unknown BLMOVEs can have taken "
                         "(each takes one, pushed no later than its window's end, ",
                         grace_ns / 1000000, " ms after its close): moved after the consumer left?\n", Excerpt(late)));
  }
}

bool UnknownMoveBegan(const QueueOps& q, const std::string& list, int64_t by_ns) {
  auto moves = q.unknown_moves.find(list);
  if (moves == q.unknown_moves.end()) return false;
  return std::any_of(moves->second.begin(), moves->second.end(), [&](const Op* m) { return m->invoke_ns <= by_ns; });
}

// (c) A read of a taken list is linearizable against the BLMOVEs into it and
// the LREMs from it.
void CheckTakenReads(const QueueOps& q, CheckResult* r) {
  for (const Op* read : q.taken_reads) {
    std::set<std::string> seen(read->elems.begin(), read->elems.end());
    if (seen.size() != read->elems.size()) r->Fail("queue: a read of a taken list holds an element twice:\n    " + Describe(*read));
    for (const std::string& e : seen) {
      auto move = q.moved.find({read->key, e});
      auto remove = q.removes.find({read->key, e});
      auto push = q.pushed.find(e);
      if (move == q.moved.end() && !UnknownMoveBegan(q, read->key, read->complete_ns)) {
        r->Fail(absl::StrCat("queue: a read of ", read->key, " holds ", e,
                             ", which no ok BLMOVE moved there and no BLMOVE to it had begun to move:\n    ",
                             Describe(*read)));
      } else if (push == q.pushed.end() || push->second->invoke_ns > read->complete_ns) {
        r->Fail(absl::StrCat("queue: a read of ", read->key, " holds ", e, ", which no push had begun to add:\n    ",
                             Describe(*read)));
      } else if (move != q.moved.end() && move->second->invoke_ns > read->complete_ns) {
        r->Fail(absl::StrCat("queue: a read of ", read->key, " holds ", e, " before the BLMOVE that moved it began:\n    ",
                             Describe(*read), "\n    ", Describe(*move->second)));
      } else if (remove != q.removes.end() && remove->second->outcome == Outcome::kOk && remove->second->result == 1 &&
                 remove->second->complete_ns < read->invoke_ns) {
        r->Fail(absl::StrCat("queue: STALE READ of ", read->key, ": it holds ", e, ", which an LREM removed before:\n    ",
                             Describe(*read), "\n    ", Describe(*remove->second)));
      }
    }
    for (const auto& [where, move] : q.moved) {
      if (where.first != read->key || move->complete_ns >= read->invoke_ns || seen.contains(where.second)) continue;
      auto remove = q.removes.find(where);
      if (remove != q.removes.end() && remove->second->invoke_ns <= read->complete_ns) continue;
      r->Fail(absl::StrCat("queue: STALE READ of ", read->key, ": it misses ", where.second,
                           ", which an ok BLMOVE moved there before it began:\n    ", Describe(*read), "\n    ",
                           Describe(*move)));
    }
  }
}

// (d) Acknowledged pushes delivered nowhere were taken by unknown BLPOPs.
void CheckNothingLost(const QueueOps& q, const std::set<std::string>& delivered, int64_t grace_ns, CheckResult* r) {
  std::vector<const Op*> missing;
  for (auto& [e, push] : q.pushed) {
    if (push->outcome == Outcome::kOk && !delivered.contains(e)) missing.push_back(push);
  }
  std::vector<const Op*> lost = Untaken(missing, q.unknown_blpops, grace_ns);
  if (lost.empty()) return;
  r->lost_writes += static_cast<int64_t>(lost.size());
  const Op* last_unknown = nullptr;  // the unknown pop whose window ends last before the first lost push
  for (const Op* pop : q.unknown_blpops) {
    if (pop->complete_ns + grace_ns < lost[0]->invoke_ns &&
        (!last_unknown || pop->complete_ns > last_unknown->complete_ns)) {
      last_unknown = pop;
    }
  }
  r->Fail(absl::StrCat("queue: ", lost.size(), " LOST ELEMENTS: acknowledged pushes that no ok pop returned, that are "
                       "not in the final queue or a taken list, and that no unknown BLPOP can have taken (",
                       missing.size(), " missing, ", q.unknown_blpops.size(), " unknown BLPOPs, windows end ",
                       grace_ns / 1000000, " ms after their close):\n", Excerpt(lost),
                       last_unknown ? "\n  the unknown pop whose window ends last before the first of them:\n    " +
                                          Describe(*last_unknown)
                                    : std::string()));
}

}  // namespace

CheckResult CheckQueue(const std::vector<Op>& ops, const std::vector<std::string>& final_queue,
                       const std::map<std::string, std::vector<std::string>>& final_taken, int64_t grace_ns) {
  CheckResult r;
  QueueOps q = IndexQueue(ops);
  std::set<std::string> delivered = CheckDeliveredOnce(q, final_queue, final_taken, &r);
  CheckTakenLists(q, final_taken, grace_ns, &r);
  CheckTakenReads(q, &r);
  CheckNothingLost(q, delivered, grace_ns, &r);
  return r;
}

// ----------------------------------------------------------------------- ttl

CheckResult CheckTtl(const std::vector<Op>& ops, const std::map<std::string, int64_t>& final_values) {
  CheckResult r;
  for (const Op& op : ops) {
    if (op.kind != OpKind::kTtl || op.outcome != Outcome::kOk) continue;
    auto it = final_values.find(op.key);
    if (it == final_values.end()) {
      r.Fail(absl::StrCat("ttl: no final read of ", op.key, ", made permanent by\n    ", Describe(op)));
    } else if (it->second == kNil) {
      ++r.lost_writes;
      r.Fail(absl::StrCat("ttl: LOST WRITE: ", op.key, " is gone although its ", op.via,
                          " was acknowledged (the key had to stay for good):\n    ", Describe(op)));
    } else if (it->second != op.value) {
      r.Fail(absl::StrCat("ttl: ", op.key, " holds ", it->second, ", not the value its only SET wrote:\n    ",
                          Describe(op)));
    }
  }
  return r;
}

}  // namespace fault
