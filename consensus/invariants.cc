#include "consensus/invariants.h"

#include <functional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace consensus {

namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t DataHash(const pb::Entry& e) {
  return Mix(std::hash<std::string_view>()(e.data()) ^ (static_cast<uint64_t>(e.type()) << 56));
}

uint64_t ChainHash(uint64_t prev, const pb::Entry& e) {
  return Mix(prev ^ Mix(e.term() * 0x100000001B3ull ^ DataHash(e)));
}

}  // namespace

absl::Status InvariantChecker::RecordChain(uint64_t index, uint64_t term, uint64_t hash) {
  auto [it, inserted] = chains_.try_emplace({index, term}, hash);
  if (!inserted && it->second != hash) {
    return absl::InternalError(absl::StrCat("log matching violated: two logs have entry (index ",
                                            index, ", term ", term, ") with different prefixes"));
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveLeader(uint64_t node, uint64_t term, const RaftLog& log) {
  auto [it, inserted] = leader_of_term_.try_emplace(term, node);
  if (!inserted && it->second != node) {
    return absl::InternalError(
        absl::StrCat("election safety violated: nodes ", it->second, " and ", node,
                     " both leader in term ", term));
  }
  if (!inserted) return absl::OkStatus();  // completeness checked on first sight
  // The newest index committed in an earlier term.
  uint64_t i = max_committed_;
  while (i > 0 && commit_term_[i] >= term) --i;
  if (i == 0) return absl::OkStatus();
  uint64_t check = std::max(i, log.FirstIndex() - 1);
  if (check > max_committed_ || committed_term_[check] == 0) return absl::OkStatus();
  absl::StatusOr<uint64_t> t = log.Term(check);
  if (!t.ok() || *t != committed_term_[check]) {
    return absl::InternalError(absl::StrCat(
        "leader completeness violated: leader ", node, " of term ", term, " lacks committed entry ",
        check, " (term ", committed_term_[check], "), has ",
        t.ok() ? absl::StrCat("term ", *t) : t.status().ToString()));
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveAppend(uint64_t node, const std::vector<pb::Entry>& entries) {
  NodeLog& nl = Node(node);
  for (const pb::Entry& e : entries) {
    uint64_t idx = e.index();
    if (idx <= nl.base) continue;
    if (idx > nl.last() + 1) {
      return absl::InternalError(absl::StrCat("node ", node, " appended ", idx,
                                              " leaving a gap after ", nl.last()));
    }
    uint64_t pos = idx - nl.base;
    uint64_t h = ChainHash(nl.chain[pos - 1], e);
    if (pos < nl.chain.size()) {
      if (idx <= nl.commit && nl.chain[pos] != h) {
        return absl::InternalError(absl::StrCat("node ", node, " overwrote entry ", idx,
                                                " at or below its commit index ", nl.commit));
      }
      nl.chain.resize(pos);
      nl.terms.resize(pos);
    }
    nl.chain.push_back(h);
    nl.terms.push_back(e.term());
    absl::Status s = RecordChain(idx, e.term(), h);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveSnapshot(uint64_t node, const pb::SnapshotMetadata& meta) {
  NodeLog& nl = Node(node);
  auto it = chains_.find({meta.index(), meta.term()});
  if (it == chains_.end()) {
    return absl::InternalError(absl::StrCat("node ", node, " got a snapshot at (", meta.index(),
                                            ", ", meta.term(), ") that no log ever held"));
  }
  if (meta.index() <= max_committed_ && committed_term_[meta.index()] != 0 &&
      committed_term_[meta.index()] != meta.term()) {
    return absl::InternalError(absl::StrCat("snapshot at ", meta.index(), " term ", meta.term(),
                                            " contradicts the committed term ",
                                            committed_term_[meta.index()]));
  }
  nl.base = meta.index();
  nl.chain.assign(1, it->second);
  nl.terms.assign(1, meta.term());
  nl.commit = std::max(nl.commit, meta.index());
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveCommit(uint64_t node, uint64_t term, uint64_t commit) {
  NodeLog& nl = Node(node);
  if (commit < nl.commit) {
    return absl::InternalError(
        absl::StrCat("node ", node, " commit went back from ", nl.commit, " to ", commit));
  }
  if (absl::Status s = ObserveLearntCommit(node, term, commit); !s.ok()) return s;
  nl.commit = commit;
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveLearntCommit(uint64_t node, uint64_t term, uint64_t commit) {
  NodeLog& nl = Node(node);
  if (commit > nl.last() || commit < nl.base) {
    return absl::InternalError(absl::StrCat("node ", node, " committed ", commit,
                                            " outside its durable log (", nl.base, ", ", nl.last(),
                                            "]"));
  }
  auto chain_at = [&nl](uint64_t i) { return nl.chain[i - nl.base]; };
  uint64_t upto = std::min(commit, max_committed_);
  if (upto >= nl.base && upto > 0 && committed_chain_[upto] != 0 && chain_at(upto) != committed_chain_[upto]) {
    return absl::InternalError(absl::StrCat("committed entry ", upto, " differs on node ", node));
  }
  if (commit > max_committed_) {
    committed_chain_.resize(commit + 1, 0);
    committed_term_.resize(commit + 1, 0);
    commit_term_.resize(commit + 1, term);
    for (uint64_t i = std::max(max_committed_ + 1, nl.base); i <= commit; ++i) {
      committed_chain_[i] = chain_at(i);
      committed_term_[i] = nl.terms[i - nl.base];
    }
    max_committed_ = commit;
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveApply(uint64_t node, const pb::Entry& entry) {
  NodeLog& nl = Node(node);
  if (entry.index() != nl.applied + 1) {
    return absl::InternalError(absl::StrCat("node ", node, " applied ", entry.index(),
                                            " after ", nl.applied));
  }
  nl.applied = entry.index();
  if (entry.index() > max_committed_) {
    return absl::InternalError(absl::StrCat("node ", node, " applied ", entry.index(),
                                            " which is not known committed (", max_committed_, ")"));
  }
  if (committed_term_[entry.index()] != 0 && committed_term_[entry.index()] != entry.term()) {
    return absl::InternalError(absl::StrCat("node ", node, " applied entry ", entry.index(),
                                            " of term ", entry.term(), " but term ",
                                            committed_term_[entry.index()], " was committed"));
  }
  if (applied_.size() <= entry.index()) applied_.resize(entry.index() + 1, {0, 0});
  std::pair<uint64_t, uint64_t> got{entry.term(), DataHash(entry)};
  auto& want = applied_[entry.index()];
  if (want.first == 0) {
    want = got;
  } else if (want != got) {
    return absl::InternalError(absl::StrCat("state machine safety violated: node ", node,
                                            " applied a different entry at ", entry.index()));
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::ObserveApplySnapshot(uint64_t node,
                                                    const pb::SnapshotMetadata& meta) {
  NodeLog& nl = Node(node);
  if (meta.index() < nl.applied) {
    return absl::InternalError(absl::StrCat("node ", node, " installed snapshot ", meta.index(),
                                            " behind its applied index ", nl.applied));
  }
  if (meta.index() > max_committed_) {
    return absl::InternalError(absl::StrCat("node ", node, " installed snapshot ", meta.index(),
                                            " past anything committed (", max_committed_, ")"));
  }
  nl.applied = meta.index();
  return absl::OkStatus();
}

void InvariantChecker::ObserveRestart(uint64_t node, uint64_t applied) { Node(node).applied = applied; }

absl::Status InvariantChecker::ObserveRead(uint64_t node, uint64_t floor, uint64_t read_index) {
  if (read_index < floor) {
    return absl::InternalError(absl::StrCat("read safety violated: node ", node, " got read index ",
                                            read_index, " below ", floor,
                                            ", committed before the read was asked"));
  }
  return absl::OkStatus();
}

std::string DescribeMessage(const pb::Message& m) {
  std::string s = absl::StrFormat("%d->%d %s t%d", m.from(), m.to(), pb::MessageType_Name(m.type()),
                                  m.term());
  switch (m.type()) {
    case pb::MSG_APP:
      absl::StrAppendFormat(&s, " prev=%d/%d commit=%d n=%d", m.index(), m.log_term(), m.commit(),
                            m.entries_size());
      break;
    case pb::MSG_APP_RESP:
      absl::StrAppendFormat(&s, " index=%d%s", m.index(),
                            m.reject() ? absl::StrFormat(" reject hint=%d/%d", m.reject_hint(),
                                                         m.log_term())
                                       : "");
      break;
    case pb::MSG_VOTE:
    case pb::MSG_PRE_VOTE:
      absl::StrAppendFormat(&s, " last=%d/%d%s", m.index(), m.log_term(), m.force() ? " force" : "");
      break;
    case pb::MSG_VOTE_RESP:
    case pb::MSG_PRE_VOTE_RESP:
      if (m.reject()) s += " reject";
      break;
    case pb::MSG_HEARTBEAT:
      absl::StrAppendFormat(&s, " commit=%d", m.commit());
      break;
    case pb::MSG_SNAP:
      absl::StrAppendFormat(&s, " snap=%d/%d", m.snapshot().metadata().index(),
                            m.snapshot().metadata().term());
      break;
    case pb::MSG_READ_INDEX_RESP:
      absl::StrAppendFormat(&s, " index=%d", m.index());
      break;
    default:
      break;
  }
  return s;
}

}  // namespace consensus
