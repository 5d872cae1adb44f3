#include "node/cluster/replicated_log.h"

#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "node/logging.h"

namespace node {

using consensus::pb::Entry;
using consensus::pb::Message;
namespace cpb = consensus::pb;

namespace {
constexpr char kHardStateKey[] = "raft.hardstate";
}  // namespace

std::string PeerAddress::ToString() const { return absl::StrCat(host, ":", client_port, ":", raft_port); }

bool PeerAddress::Parse(std::string_view text, PeerAddress* out) {
  std::vector<std::string> f = absl::StrSplit(absl::string_view(text.data(), text.size()), ':');
  return f.size() == 3 && !f[0].empty() && absl::SimpleAtoi(f[1], &out->client_port) &&
         absl::SimpleAtoi(f[2], &out->raft_port) && (out->host = f[0], true);
}

ReplicatedLog::ReplicatedLog(asio::io_context& io, storage::LogStore* store, ReplicatedLogOptions options)
    : io_(io), store_(store), options_(std::move(options)), ticker_(io) {}

ReplicatedLog::~ReplicatedLog() {
  Stop();
  worker_.join();
}

void ReplicatedLog::Stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  ticker_.cancel();
  if (transport_) transport_->Stop();
}

absl::Status ReplicatedLog::Start() {
  for (const auto& [id, _] : options_.peers) configured_.insert(id);
  // Bootstrap a new cluster: its membership is the first entries of the log.
  auto stored_hs = store_->GetMeta(kHardStateKey);
  if (!stored_hs.ok()) return stored_hs.status();
  if (store_->LastIndex() == 0 && !stored_hs->has_value() && options_.bootstrap) {
    std::vector<uint64_t> voters;
    for (const auto& [id, _] : options_.peers) voters.push_back(id);
    storage::LogWrite w;
    for (Entry& e : consensus::BootstrapEntries(voters)) {
      // The context carries each member's address, for every node that applies it.
      cpb::ConfChange cc;
      cc.ParseFromString(e.data());
      cc.set_context(options_.peers[cc.node_id()].ToString());
      e.set_data(cc.SerializeAsString());
      w.entries.push_back(storage::LogEntry{e.index(), e.term(), e.SerializeAsString()});
    }
    cpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(voters.size());
    w.meta[kHardStateKey] = hs.SerializeAsString();
    if (auto s = store_->Write(w); !s.ok()) return s;
    Log(LogLevel::kInfo, "bootstrapped a cluster of %d voter(s)", voters.size());
  }
  for (const auto& [id, addr] : options_.address_book) {
    if (options_.peers.emplace(id, addr).second) configured_.insert(id);
  }
  // Load the log into the core's view.
  stored_hs = store_->GetMeta(kHardStateKey);
  if (!stored_hs.ok()) return stored_hs.status();
  if (stored_hs->has_value()) {
    cpb::HardState h;
    if (!h.ParseFromString(**stored_hs)) return absl::DataLossError("raft hard state is corrupt");
    mem_.SetHardState(h);
  }
  if (store_->FirstIndex() > 1) {
    return absl::FailedPreconditionError("the log was compacted, and this node has no snapshot to start from");
  }
  std::vector<Entry> entries;
  for (uint64_t next = store_->FirstIndex(); next <= store_->LastIndex();) {
    auto batch = store_->Read(next, store_->LastIndex() + 1, 64 << 20);
    if (!batch.ok()) return batch.status();
    for (const storage::LogEntry& le : *batch) {
      Entry e;
      if (!e.ParseFromString(le.data)) return absl::DataLossError(absl::StrCat("log entry ", le.index, " is corrupt"));
      entries.push_back(std::move(e));
      next = le.index + 1;
    }
  }
  if (auto s = mem_.Append(entries); !s.ok()) return s;

  consensus::Config c;
  c.id = options_.id;
  c.election_tick = options_.election_ticks;
  c.heartbeat_tick = options_.heartbeat_ticks;
  c.storage = &mem_;
  c.applied = 0;  // the child starts empty: every committed entry is applied again
  c.pre_vote = true;
  c.check_quorum = true;
  // A follower persists at most about this much in one log write, however
  // big the entries (see EffectBatcher): its answers never wait long.
  c.max_inflight_bytes = 8 << 20;
  // Fresh randomness per process: with a seed fixed by the id, the nodes would
  // draw the same sequence of election timeouts after every restart.
  c.random_seed = (static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()) | 1;
  c.read_only_option = options_.lease_reads ? consensus::ReadOnlyOption::kLeaseBased
                                            : consensus::ReadOnlyOption::kSafe;
  auto raft = consensus::Raft::Create(c);
  if (!raft.ok()) return raft.status();
  raft_ = std::move(*raft);

  transport_ = std::make_unique<PeerTransport>(io_, options_.id, [this](Message&& m) {
    if (stopped_) return;
    (void)raft_->Step(std::move(m));
    Kick();
  });
  transport_->on_unreachable = [this](uint64_t id) { raft_->ReportUnreachable(id); };
  for (const auto& [id, addr] : options_.peers) transport_->SetPeer(id, addr.host, addr.raft_port);
  const PeerAddress& self = options_.peers[options_.id];
  if (options_.peers.size() > 1 || self.raft_port > 0) {
    if (auto s = transport_->Listen(self.host, self.raft_port); !s.ok()) return s;
  }
  Tick();
  Kick();
  return absl::OkStatus();
}

void ReplicatedLog::Tick() {
  ticker_.expires_after(std::chrono::milliseconds(options_.tick_ms));
  ticker_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    // Ticks count time only when they run: a stalled event loop delays
    // heartbeats and elections alike. Say so when it happens.
    const auto now = std::chrono::steady_clock::now();
    const auto late = now - ticker_.expiry();
    if (late > std::chrono::milliseconds(options_.tick_ms * 4)) {
      Log(LogLevel::kWarning, "event loop stalled: a raft tick ran %d ms late",
          std::chrono::duration_cast<std::chrono::milliseconds>(late).count());
    }
    raft_->Tick();
    Pump();
    Tick();
  });
}

void ReplicatedLog::Kick() {
  if (kicked_) return;
  kicked_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    kicked_ = false;
    Pump();
  });
}

absl::Status ReplicatedLog::Propose(std::string data) {
  auto s = raft_->Propose(std::move(data));
  Kick();
  return s;
}

absl::Status ReplicatedLog::ProposeBatch(std::vector<std::string> data) {
  auto s = raft_->ProposeBatch(std::move(data));
  Kick();
  return s;
}

absl::Status ReplicatedLog::ProposeConfChange(const cpb::ConfChange& cc) {
  auto s = raft_->ProposeConfChange(cc);
  Kick();
  return s;
}

absl::Status ReplicatedLog::ReadIndex(std::string context) {
  auto s = raft_->ReadIndex(std::move(context));
  Kick();
  return s;
}

absl::Status ReplicatedLog::TransferLeadership(uint64_t to) {
  auto s = raft_->TransferLeadership(to);
  Kick();
  return s;
}

void ReplicatedLog::Campaign() {
  raft_->Campaign();
  Kick();
}

cpb::ConfState ReplicatedLog::ApplyConfChange(const cpb::ConfChange& cc) {
  PeerAddress addr;
  if (cc.type() == cpb::CONF_CHANGE_REMOVE_NODE) {
    if (cc.node_id() != options_.id) {
      transport_->RemovePeer(cc.node_id());
      options_.peers.erase(cc.node_id());
    }
  } else if (PeerAddress::Parse(cc.context(), &addr) && !configured_.contains(cc.node_id())) {
    // Addresses given on this node's command line win: they are its view of
    // the network (which may differ from another node's, e.g. through proxies).
    options_.peers[cc.node_id()] = addr;
    transport_->SetPeer(cc.node_id(), addr.host, addr.raft_port);
  }
  cpb::ConfState cs = raft_->ApplyConfChange(cc);
  sole_voter_ = cs.voters_size() == 1 && cs.voters(0) == options_.id;
  return cs;
}

void ReplicatedLog::Pump() {
  if (stopped_ || persisting_) return;
  if (on_before_ready) on_before_ready();
  if (!raft_->HasReady()) return;
  consensus::Ready rd = raft_->GetReady();
  if (rd.soft_state && on_soft_state) on_soft_state(*rd.soft_state);

  // A leader's appends may travel while its own write is in progress.
  std::vector<Message> early, late;
  const bool leader = raft_->role() == consensus::Role::kLeader;
  if (LogEnabled(LogLevel::kDebug)) {
    size_t ents = 0;
    std::string detail;
    for (const Message& m : rd.messages) {
      ents += m.entries_size();
      if (m.entries_size() > 0) absl::StrAppend(&detail, " ", m.to(), ":", m.index() + 1, "+", m.entries_size());
    }
    if (ents > 20000 || rd.messages.size() > 200 || rd.committed_entries.size() > 20000) {
      Log(LogLevel::kDebug, "big ready: %d messages, %d entries, %d committed entries; appends%s", rd.messages.size(),
          ents, rd.committed_entries.size(), detail.substr(0, 400));
    }
  }
  for (Message& m : rd.messages) {
    bool now = leader && (m.type() == cpb::MSG_APP || m.type() == cpb::MSG_HEARTBEAT);
    (now ? early : late).push_back(std::move(m));
  }
  rd.messages.clear();
  if (!early.empty()) transport_->Send(std::move(early));

  if (rd.entries.empty() && !rd.hard_state) {
    Complete(std::move(rd), std::move(late), absl::OkStatus());
    return;
  }
  auto write = std::make_shared<storage::LogWrite>();
  for (const Entry& e : rd.entries) write->entries.push_back(storage::LogEntry{e.index(), e.term(), e.SerializeAsString()});
  if (rd.hard_state) write->meta[kHardStateKey] = rd.hard_state->SerializeAsString();
  write->sync = rd.must_sync;
  persisting_ = true;
  auto ready = std::make_shared<consensus::Ready>(std::move(rd));
  auto late_msgs = std::make_shared<std::vector<Message>>(std::move(late));
  asio::post(worker_, [this, write, ready, late_msgs, alive = alive_] {
    if (write->sync && options_.before_sync) options_.before_sync();
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = store_->Write(*write);
    // While a write is in progress the core's next Ready waits, heartbeats
    // included: a write this slow can cost the leadership.
    const auto took = std::chrono::steady_clock::now() - start;
    if (took > std::chrono::milliseconds(options_.tick_ms * options_.election_ticks / 2)) {
      Log(LogLevel::kWarning, "slow raft log write: %d ms for %d entries",
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), write->entries.size());
    }
    asio::post(io_, [this, ready, late_msgs, s, alive] {
      if (!*alive) return;
      ++syncs_;
      Complete(std::move(*ready), std::move(*late_msgs), s);
    });
  });
}

void ReplicatedLog::Complete(consensus::Ready rd, std::vector<Message> late, const absl::Status& s) {
  if (!s.ok()) {
    // A node that cannot make its log durable must not vote or acknowledge.
    Log(LogLevel::kError, "raft log write failed: %s; exiting", s.ToString());
    std::_Exit(70);
  }
  persisting_ = false;
  if (auto st = mem_.Append(rd.entries); !st.ok()) {
    Log(LogLevel::kError, "raft log mirror: %s; exiting", st.ToString());
    std::_Exit(70);
  }
  if (rd.hard_state) mem_.SetHardState(*rd.hard_state);
  if (!late.empty()) transport_->Send(std::move(late));
  if (!rd.committed_entries.empty() && on_committed) {
    on_committed(std::vector<Entry>(rd.committed_entries.begin(), rd.committed_entries.end()));
  }
  if (!rd.read_states.empty() && on_read_states) {
    on_read_states(std::vector<consensus::ReadState>(rd.read_states.begin(), rd.read_states.end()));
  }
  raft_->Advance(rd);
  Pump();
}

}  // namespace node
