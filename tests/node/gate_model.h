// A model world around the consistency gate, for its randomized simulation:
// clients that pipeline requests (reads, writes, writes that change nothing,
// keyspace commands, blocking pops, MULTI/EXEC, logged writes), a child that
// runs them one at a time in any interleaving of connections, serves blocked
// pops and (with ModelOptions::evictions) evicts keys before it runs one, a stream of effects that the leader proposes and commits in
// order, node entries for the logged writes, ReadIndex rounds, applies,
// clients that vanish, and leadership lost.
//
// A logged write (as XREADGROUP's read of pending entries) changes state of
// its key that the stream does not carry: the node logs it as a node entry
// after the stream's effects up to a ROLE's offset, asked once its reply
// arrived (Server::LogAfterEffects), and that state is durable only once the
// entry commits. A keyless one (SCRIPT LOAD) changes no key: only its own
// reply shows its change.
//
// The model knows what the gate does not: which committed or uncommitted
// effect every reply observed, and when each leadership confirmation began.
// After every step it checks the gate's promises against that knowledge.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "node/gate/consistency_gate.h"

namespace gatesim {

using node::gate::CoverId;
using node::gate::SessionId;
using node::gate::SlotId;

enum class Op {
  kGet, kListRead, kSet, kNoopWrite, kFailedWrite, kKeyspaceRead, kFlush, kPush, kBlockingPop, kPing,
  kMulti, kExec, kDiscard,
  kLoggedWrite,  // a keyed write the node logs (XREADGROUP reading pending entries)
  kLoggedState,  // a keyless request the node logs (SCRIPT LOAD, CONFIG SET): only its own reply shows it
};

struct ModelOptions {
  int sessions = 4;
  int keys = 3;
  int max_batch = 4;
  bool allow_client_gone = true;
  bool allow_leadership_loss = true;
  // The child evicts keys of its own accord at times (maxmemory), and the
  // node tells the gate so (SetEvictions) as the node does.
  bool evictions = false;
};

class Model {
 public:
  Model(uint64_t seed, ModelOptions options);

  // One random step; returns false once the run has found a violation.
  bool Step();
  // Stops new requests and faults, lets everything finish, and checks that
  // every request was answered and every lock released. A blocked pop nobody
  // serves and an idle MULTI stay, and must delay nobody.
  bool Quiesce();
  void BreakGate(node::gate::BrokenRule rule) { gate_.BreakForTest(rule); }
  const std::string& failure() const { return failure_; }
  uint64_t steps() const { return steps_; }
  uint64_t releases() const { return releases_; }

 private:
  // What a request is, as the child and the checker see it.
  struct Command {
    Op op = Op::kPing;
    int key = 0;
    SlotId slot = 0;      // 0: the node's cover mark, or a ROLE on its own link
    CoverId cover = 0;    // the mark's, the ROLE's
    bool queued = false;  // inside MULTI
    bool logs = false;    // the node logs it from its reply (an EXEC: what it ran)
  };
  struct Reply {
    SlotId slot = 0;
    CoverId cover = 0;
    uint64_t offset = 0;  // the offset the reply shows
    node::gate::Outcome outcome = node::gate::Outcome::kOk;
    std::vector<uint64_t> logged_seen;  // the logged changes it shows
    uint64_t logged_made = 0;           // a logged write's change
  };
  struct Pending {        // what the checker knows of a slot
    SessionId session = 0;
    uint64_t arrival_event = 0;
    bool needs_confirm = false;
    bool answered = false;
    bool unread = false;  // its client left: nobody reads the reply
    uint64_t observed = 0;  // the largest effect offset its reply showed
    std::vector<uint64_t> logged_seen;
  };
  struct Conn {            // a client and its child connection
    SessionId id = 0;
    bool gone = false;
    bool in_multi = false;             // node side: MULTI sent, EXEC/DISCARD not yet
    bool tx_logged = false;            // node side: a logged request is queued (one at most here)
    bool in_multi_child = false;       // child side: MULTI ran, EXEC/DISCARD not yet
    std::vector<Command> queued;       // child side: commands of an open MULTI
    std::deque<Command> to_child;      // sent, not yet run
    std::deque<Reply> replies;         // run, not yet read by the node
    bool blocked = false;              // child side: head of to_child is a blocked pop
    bool blocks_forever = false;       // quiescence: this pop is never served
    bool idle_multi = false;           // quiescence: this MULTI never ends
    std::optional<CoverId> kill_cover; // gone with effects in flight
    // A request the gate holds back (MayForward), and nothing routed after
    // it: sent once the gate's callback said it may go.
    std::optional<std::pair<Op, int>> held;
    std::set<SlotId> pops;  // blocking pops sent, their replies not yet at the node
    // The client left with a logged request in flight: the node leaves the
    // gate once its reply arrived (ClientSession::LoggedReplyDue).
    bool leaving = false;
  };
  struct Version {
    uint64_t offset;
    int value;
    bool evicted = false;  // the child's own DEL (maxmemory)
  };

  void SendBatch(Conn& c);
  void SendOne(Conn& c, Op op, int key);
  bool TrySend(Conn& c, Op op, int key);
  void Resume(SessionId id);
  // Checks promise 7 as logged change `id` is placed at stream offset `at`.
  void CheckPlacement(uint64_t id, uint64_t at);
  void ListChanged();
  bool RunChild(Conn& c);
  uint64_t Execute(Conn& c, const Command& cmd);
  void SeeLogged(int key);  // a reply shows `key`'s logged state
  void ProposeFollows();
  uint64_t Effect(int key, bool evicted = false);
  uint64_t EffectAll();
  uint64_t Observe(int key) const;
  // The key a failed write also reads (its error may show either's state).
  int SourceOf(int key) const { return (key + 1) % o_.keys; }
  uint64_t ObserveAll() const;
  void ServeBlocked(int key);
  void DeliverReply(Conn& c);
  void FinishReply(Conn& c, const Reply& r);
  void ProposePending();
  void CommitOne();
  void StartRound();
  void FinishRound();
  void ClientGone(Conn& c);
  bool LoggedReplyDue(const Conn& c) const;
  void ProcessKill(Conn& c);
  void LoseLeadership();
  void ToggleEvictions();
  void ReadStream();
  void MaybeEvict();
  void DrainActions();
  void Fail(const std::string& what);
  bool Quiescent() const;
  Conn& NewConn();
  uint64_t Event() { return ++events_; }

  std::mt19937_64 rng_;
  ModelOptions o_;
  node::gate::ConsistencyGate gate_;
  std::vector<node::gate::Action> actions_;  // passed to every TakeActions, as the node does
  std::vector<Conn> conns_;
  SessionId next_session_ = 1;
  std::map<SlotId, Pending> pending_;
  std::set<SlotId> released_;

  // The child's data: every key's versions (offset 0 is the initial value).
  std::vector<std::vector<Version>> data_;
  std::deque<std::pair<uint64_t, int>> list_;  // (push offset, element)
  uint64_t list_version_ = 0;                   // offset of its last change
  struct ListState {
    uint64_t version;
    std::deque<std::pair<uint64_t, int>> elements;
  };
  std::vector<ListState> list_history_;         // to roll back to the committed state
  std::deque<SessionId> blocked_order_;         // blocked pops, longest waiting first
  // The node's own link to the child (CLIENT KILL, ROLE): sent, and answered.
  std::deque<Command> control_;
  std::deque<std::pair<CoverId, uint64_t>> control_replies_;

  // Logged writes: every key's latest logged change (0: none), and the one the
  // committed log gives it (logged_key_ -1: a keyless one). Every change must
  // be logged: one that runs for a client the node already let go fails.
  uint64_t next_logged_ = 1;
  std::vector<uint64_t> logged_;
  std::vector<uint64_t> logged_committed_by_key_;
  std::map<uint64_t, int> logged_key_;
  std::set<uint64_t> logged_committed_, logged_proposed_;
  struct LoggedRun {
    uint64_t offset = 0;  // the child's stream offset when it ran
    uint64_t event = 0;
  };
  std::map<uint64_t, LoggedRun> logged_runs_;
  std::set<SessionId> may_forward_;  // the gate's MayForward callbacks that ran
  Reply* running_ = nullptr;  // the reply Execute fills in
  struct Follow {
    uint64_t offset = 0;  // the ROLE's: proposed once the stream is proposed this far
    SlotId slot = 0;
    uint64_t logged = 0;
  };
  std::deque<Follow> asking_, follows_;

  // The stream and the log.
  uint64_t offset_ = 0;          // the child's stream offset
  uint64_t read_offset_ = 0;     // what the reader passed on
  uint64_t proposed_offset_ = 0;
  struct Proposal {
    uint64_t end = 0;     // stream offset
    uint64_t begin = 0;   // event at proposal
    uint64_t logged = 0;  // a node entry's logged change
  };
  std::deque<Proposal> proposals_;
  uint64_t committed_ = 0;
  uint64_t raft_index_ = 0;      // entries committed
  uint64_t applied_ = 0;
  bool stream_has_effects_ = false;  // unproposed bytes include effects
  // Whether the child evicts (its settings say so), and as of the committed
  // stream; the changes not committed yet, (offset, setting).
  bool child_evicts_ = false;
  bool evicts_committed_ = false;
  std::deque<std::pair<uint64_t, bool>> eviction_changes_;
  std::vector<node::gate::KeyId> unread_deletions_;  // keys evicted past read_offset_

  // Leadership confirmations.
  struct Round {
    uint64_t stamp;
    uint64_t begin_event;
    uint64_t index;
  };
  std::deque<Round> rounds_;
  std::vector<std::pair<uint64_t, uint64_t>> waiting_apply_;  // (index, begin event)
  uint64_t confirmed_begin_ = 0;  // the latest begin event of a finished confirmation

  bool quiescing_ = false;
  uint64_t events_ = 0;
  uint64_t steps_ = 0;
  uint64_t releases_ = 0;
  std::string failure_;
};

}  // namespace gatesim
