// ReplicatedLog on its own (issue 10): the production Raft host over memory
// log stores, an in-memory network that can cut links, and a clock that
// moves only when the test ticks it. Real threads still do the stores'
// writes and the snapshot files' work, as in the node.
#include "node/cluster/replicated_log.h"

#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "node/cluster/snapshot_store.h"
#include "storage/log_store.h"

namespace node {
namespace {

namespace cpb = consensus::pb;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FakeNet;

class FakeTransport : public RaftTransport {
 public:
  FakeTransport(FakeNet& net, uint64_t id) : net_(net), id_(id) {}
  ~FakeTransport() override { Stop(); }
  absl::Status Listen(const std::string&, int) override;
  void SetPeer(uint64_t id, const std::string&, int) override { removed_.erase(id); }
  // As the TCP transport: what is sent to a removed peer is dropped.
  void RemovePeer(uint64_t id) override { removed_.insert(id); }
  void Send(std::vector<cpb::Message> messages) override;
  void Send(uint64_t to, const pb::SnapshotFrame& frame) override;
  void Stop() override;

 private:
  FakeNet& net_;
  uint64_t id_;
  std::set<uint64_t> removed_;
};

// Delivers on the event loop, in order per link; a cut link, or a peer that
// is not running, drops (and says so, like the TCP transport).
class FakeNet {
 public:
  explicit FakeNet(asio::io_context& io) : io_(io) {}
  void Cut(uint64_t a, uint64_t b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Isolate(uint64_t a, const std::vector<uint64_t>& others) {
    for (uint64_t b : others) Cut(a, b);
  }
  void Heal() { cut_.clear(); }
  uint64_t frames() const { return frames_; }
  // Sees every Raft message as its sender hands it over.
  std::function<void(uint64_t from, const cpb::Message&)> on_send;

  template <typename M>
  bool Deliver(uint64_t from, uint64_t to, M m) {
    if (cut_.contains({from, to}) || !up_.contains(to)) return false;
    asio::post(io_, [this, to, m = std::move(m)]() mutable {
      auto it = up_.find(to);
      if (it == up_.end()) return;
      if constexpr (std::is_same_v<M, pb::SnapshotFrame>) {
        ++frames_;
        it->second->on_snapshot_frame(std::move(m));
      } else {
        it->second->on_message(std::move(m));
      }
    });
    return true;
  }
  std::map<uint64_t, FakeTransport*> up_;

 private:
  asio::io_context& io_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  uint64_t frames_ = 0;
};

absl::Status FakeTransport::Listen(const std::string&, int) {
  net_.up_[id_] = this;
  return absl::OkStatus();
}

void FakeTransport::Send(std::vector<cpb::Message> messages) {
  for (cpb::Message& m : messages) {
    if (net_.on_send) net_.on_send(id_, m);
    const uint64_t to = m.to();
    if (removed_.contains(to)) continue;
    if (!net_.Deliver(id_, to, std::move(m)) && on_unreachable) on_unreachable(to);
  }
}

void FakeTransport::Send(uint64_t to, const pb::SnapshotFrame& frame) { net_.Deliver(id_, to, frame); }

void FakeTransport::Stop() {
  if (auto it = net_.up_.find(id_); it != net_.up_.end() && it->second == this) net_.up_.erase(it);
}

// A member: its store and snapshot directory outlive restarts of its log.
struct Member {
  uint64_t id = 0;
  std::shared_ptr<storage::MemoryLogStore> store = std::make_shared<storage::MemoryLogStore>();
  std::string snapshot_dir;
  std::unique_ptr<ReplicatedLog> log;
  std::vector<std::string> applied;  // normal entries' data, in commit order, since the last start
  uint64_t applied_index = 0;
  std::optional<pb::SnapshotMeta> installed;
  consensus::SoftState soft;
};

// Holds every synced write of the stores it is hooked into until opened: a
// disk slower than an election timeout.
class SlowDisk {
 public:
  ~SlowDisk() { Open(); }
  void Slow(storage::MemoryLogStore& store) {
    store.SetSyncHook([this] {
      std::unique_lock lock(mu_);
      ++held_;
      cv_.wait(lock, [this] { return open_; });
    });
  }
  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int held() {
    std::lock_guard lock(mu_);
    return held_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int held_ = 0;
};

class ReplicatedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("rlog-test-", getpid(), "-", ++counter_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    disk_.Open();  // a test that failed while writes hang
    for (auto& m : members_) m.log.reset();
    io_.poll();
    fs::remove_all(dir_);
  }

  void Create(int n, uint64_t keep_entries = 10000, uint64_t keep_bytes = 32 << 20) {
    keep_entries_ = keep_entries;
    keep_bytes_ = keep_bytes;
    members_.resize(n);
    for (int i = 0; i < n; ++i) {
      members_[i].id = i + 1;
      members_[i].snapshot_dir = (dir_ / absl::StrCat("snap", i + 1)).string();
    }
    for (int i = 0; i < n; ++i) ASSERT_TRUE(Start(i).ok());
  }

  absl::Status Start(int i, std::shared_ptr<storage::LogStore> store = nullptr, bool bootstrap = true) {
    Member& m = members_[i];
    ReplicatedLogOptions o;
    o.id = m.id;
    o.bootstrap = bootstrap;
    for (const Member& p : members_) o.peers[p.id] = PeerAddress{"127.0.0.1", 0, static_cast<int>(p.id)};
    if (auto it = routes_.find(m.id); it != routes_.end()) o.address_book = it->second;
    o.snapshot_dir = m.snapshot_dir;
    o.keep_entries = keep_entries_;
    o.keep_bytes = keep_bytes_;
    o.external_ticks = true;
    o.make_transport = [this](uint64_t id) { return std::make_unique<FakeTransport>(net_, id); };
    m.applied.clear();
    m.applied_index = 0;
    used_stores_.push_back(store ? store : m.store);
    m.log = std::make_unique<ReplicatedLog>(io_, used_stores_.back().get(), o);
    m.log->on_soft_state = [&m](const consensus::SoftState& ss) { m.soft = ss; };
    m.log->on_committed = [&m](std::vector<cpb::Entry>&& entries) {
      for (cpb::Entry& e : entries) {
        m.applied_index = e.index();
        if (e.type() == cpb::ENTRY_CONF_CHANGE) {
          cpb::ConfChange cc;
          cc.ParseFromString(e.data());
          m.log->ApplyConfChange(e.index(), cc);
        } else if (!e.data().empty()) {
          m.applied.push_back(e.data());
        }
      }
    };
    m.log->on_snapshot = [&m](const pb::SnapshotMeta& meta) {
      m.installed = meta;
      m.applied_index = meta.index();
      m.applied.clear();
    };
    return m.log->Start();
  }

  void Stop(int i) { members_[i].log.reset(); }

  // One tick of every running member's clock, then the loop runs a little.
  void Tick() {
    for (auto& m : members_) {
      if (m.log) m.log->Tick();
    }
    io_.run_for(2ms);
  }
  bool TickUntil(const std::function<bool()>& done, int max_ticks = 400) {
    for (int t = 0; t < max_ticks; ++t) {
      if (done()) return true;
      Tick();
    }
    return done();
  }
  int Leader(std::set<int> among = {}) {
    for (int i = 0; i < static_cast<int>(members_.size()); ++i) {
      if (members_[i].log && members_[i].log->is_leader() && (among.empty() || among.contains(i))) return i;
    }
    return -1;
  }
  int WaitLeader(std::set<int> among = {}) {
    TickUntil([&] { return Leader(among) >= 0; });
    return Leader(among);
  }
  void Propose(int i, const std::string& prefix, int n) {
    for (int k = 0; k < n; ++k) ASSERT_TRUE(members_[i].log->Propose(absl::StrCat(prefix, k)).ok());
  }
  bool AllApplied(size_t count) {
    for (auto& m : members_) {
      if (m.log && m.applied.size() < count) return false;
    }
    return true;
  }
  // Writes a stand-in for the state after `index` and makes it member i's snapshot.
  absl::StatusOr<pb::SnapshotMeta> Snapshot(int i, uint64_t index) {
    const std::string file = members_[i].snapshot_dir + "/taking-" + std::to_string(index);
    std::ofstream(file) << "state after " << index << " on node " << members_[i].id;
    // Outlives this call if the answer is late.
    auto result = std::make_shared<std::optional<absl::StatusOr<pb::SnapshotMeta>>>();
    pb::SnapshotMeta carried;  // the host's scripts and settings travel with it
    carried.add_scripts("return 1");
    pb::Setting* setting = carried.add_settings();
    setting->set_name("maxmemory");
    setting->set_value("1mb");
    members_[i].log->AddSnapshot(file, index, carried, [result](absl::StatusOr<pb::SnapshotMeta> m) { *result = m; });
    TickUntil([&] { return result->has_value(); }, 200);
    if (!*result) return absl::DeadlineExceededError("snapshot not added");
    return **result;
  }

  // The snapshot files in member i's directory, once the file thread is done with them.
  std::set<std::string> SnapshotFiles(int i) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(members_[i].snapshot_dir)) names.insert(e.path().filename().string());
    return names;
  }

  // Three members; once a first entry applied, the synced writes of the leader
  // (leader_slow) or of the followers hang on disk_ while one more entry is
  // proposed and three of the longest election timeouts pass. Expects that the
  // leader stayed and nobody's term moved; returns the leader.
  int HoldWritesThroughElectionTimeouts(bool leader_slow) {
    Create(3);
    const int leader = WaitLeader();
    EXPECT_GE(leader, 0);
    if (leader < 0) return leader;
    Propose(leader, "warm", 1);
    EXPECT_TRUE(TickUntil([&] { return AllApplied(1); }));
    const uint64_t term = members_[leader].log->term();
    disk_.Close();
    for (int i = 0; i < 3; ++i) {
      if ((i == leader) == leader_slow) disk_.Slow(*members_[i].store);
    }
    Propose(leader, "slow", 1);
    EXPECT_TRUE(TickUntil([&] { return disk_.held() == (leader_slow ? 1 : 2); }, 20));
    for (int t = 0; t < 60; ++t) Tick();
    EXPECT_EQ(Leader(), leader);
    for (auto& m : members_) EXPECT_EQ(m.log->term(), term);
    return leader;
  }

  inline static int counter_ = 0;
  fs::path dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  FakeNet net_{io_};
  std::vector<Member> members_;
  std::vector<std::shared_ptr<storage::LogStore>> used_stores_;
  SlowDisk disk_;  // the stores' sync hooks point at it; TearDown opens it
  uint64_t keep_entries_ = 10000;
  uint64_t keep_bytes_ = 32 << 20;
  // A member's own routes to other nodes (its --peer-addresses), by member id.
  std::map<uint64_t, std::map<uint64_t, PeerAddress>> routes_;
};

// Time passes only when the test ticks: no election without ticks, one
// within a few election timeouts of ticks.
TEST_F(ReplicatedLogTest, ElectionsFollowTheTicksNotTheWallClock) {
  Create(3);
  io_.run_for(300ms);  // 6 election timeouts of the default 50 ms ticks, but no tick
  EXPECT_EQ(Leader(), -1);
  EXPECT_GE(WaitLeader(), 0);
  int leaders = 0;
  for (int i = 0; i < 3; ++i) leaders += members_[i].soft.role == consensus::Role::kLeader;
  EXPECT_EQ(leaders, 1);
}

TEST_F(ReplicatedLogTest, EveryMemberCommitsTheSameEntriesInOrder) {
  Create(3);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "e", 200);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(200); }));
  for (auto& m : members_) EXPECT_EQ(m.applied, members_[leader].applied) << "node " << m.id;
  EXPECT_EQ(members_[leader].applied.front(), "e0");
  EXPECT_EQ(members_[leader].applied.back(), "e199");
  // Proposals on a follower are refused, not silently dropped.
  EXPECT_FALSE(members_[(leader + 1) % 3].log->Propose("no").ok());
}

// An isolated leader's proposals never commit; the majority elects a new
// leader whose entries every member ends up with.
TEST_F(ReplicatedLogTest, IsolatedLeaderLosesOnlyWhatNeverCommitted) {
  Create(3);
  const int old = WaitLeader();
  ASSERT_GE(old, 0);
  Propose(old, "before", 10);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(10); }));
  std::vector<uint64_t> others;
  std::set<int> majority;
  for (int i = 0; i < 3; ++i) {
    if (i != old) {
      others.push_back(members_[i].id);
      majority.insert(i);
    }
  }
  net_.Isolate(members_[old].id, others);
  Propose(old, "lost", 5);
  const int fresh = WaitLeader(majority);
  ASSERT_GE(fresh, 0);
  Propose(fresh, "kept", 5);
  net_.Heal();
  ASSERT_TRUE(TickUntil([&] { return AllApplied(15) && !members_[old].log->is_leader(); }));
  for (auto& m : members_) {
    EXPECT_EQ(m.applied, members_[fresh].applied) << "node " << m.id;
    for (const std::string& d : m.applied) EXPECT_FALSE(absl::StartsWith(d, "lost")) << d;
  }
}

// A stopped member restarts from its store (hard state and log) and catches up.
TEST_F(ReplicatedLogTest, RestartRecoversFromTheStore) {
  Create(3);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "a", 20);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(20); }));
  const int f = (leader + 1) % 3;
  const uint64_t term = members_[f].log->term();
  Stop(f);
  Propose(leader, "b", 20);
  ASSERT_TRUE(TickUntil([&] { return members_[leader].applied.size() == 40; }));
  ASSERT_TRUE(Start(f).ok());
  EXPECT_GE(members_[f].log->term(), term);
  ASSERT_TRUE(TickUntil([&] { return members_[f].applied.size() == 40; }));
  EXPECT_EQ(members_[f].applied, members_[leader].applied);  // replayed from index 1, then the new ones
}

// Snapshots compact the log (keeping the previous snapshot's range); a
// follower cut off meanwhile gets the snapshot file streamed, verified and
// installed, then the entries after it.
TEST_F(ReplicatedLogTest, SnapshotCompactsAndCatchesUpAFollowerBehindIt) {
  Create(3, /*keep_entries=*/5);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  const int lagging = (leader + 1) % 3;
  const int other = (leader + 2) % 3;
  net_.Isolate(members_[lagging].id, {members_[leader].id, members_[other].id});
  Propose(leader, "x", 50);
  ASSERT_TRUE(TickUntil([&] { return members_[leader].applied.size() == 50; }));
  auto first = Snapshot(leader, members_[leader].applied_index - 20);
  ASSERT_TRUE(first.ok()) << first.status();
  Propose(leader, "y", 30);
  ASSERT_TRUE(TickUntil([&] { return members_[leader].applied.size() == 80; }));
  auto second = Snapshot(leader, members_[leader].applied_index);
  ASSERT_TRUE(second.ok()) << second.status();
  // On disk, compacted up to the previous snapshot (the tail kept is shorter
  // than that); in memory, only the tail of 5 entries stays below the newest.
  EXPECT_EQ(members_[leader].store->FirstIndex(), first->index() + 1);
  EXPECT_EQ(members_[leader].log->first_index(), second->index() - 5 + 1);
  EXPECT_EQ(members_[leader].log->snapshot()->index(), second->index());
  auto stale = Snapshot(leader, first->index());
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->file(), second->file()) << "the newest snapshot holds an older state too";
  EXPECT_EQ(members_[leader].log->snapshot()->file(), second->file());

  net_.Heal();
  Propose(leader, "z", 5);
  ASSERT_TRUE(TickUntil([&] { return members_[lagging].applied.size() == 5 && members_[lagging].installed; }));
  EXPECT_GT(net_.frames(), 0u);
  const pb::SnapshotMeta& got = *members_[lagging].installed;
  EXPECT_GE(got.index(), first->index());
  EXPECT_EQ(got.scripts_size(), 1);
  ASSERT_EQ(got.settings_size(), 1);  // InstallSnapshot carries the host's settings too
  EXPECT_EQ(got.settings(0).value(), "1mb");
  EXPECT_EQ(got.voters_size(), 3);
  SnapshotStore store(members_[lagging].snapshot_dir);
  EXPECT_TRUE(store.Verify(got).ok());
  EXPECT_EQ(std::vector<std::string>(members_[leader].applied.end() - 5, members_[leader].applied.end()),
            members_[lagging].applied);
  // Restarted, the member starts from the installed snapshot.
  Stop(lagging);
  ASSERT_TRUE(Start(lagging).ok());
  EXPECT_EQ(members_[lagging].log->snapshot()->index(), got.index());
}

// Regression (CI, compat_spread): a snapshot asked for when nothing had
// committed since the newest one ("ANARCHO.SNAPSHOT" twice, or ANARCHO.BACKUP
// after one) failed with "the log has moved past it". The newest snapshot
// holds that state: it is the answer, and the file saved again is dropped.
TEST_F(ReplicatedLogTest, ASnapshotOfStateTheNewestHoldsIsAnsweredByIt) {
  Create(1);
  ASSERT_EQ(WaitLeader(), 0);
  Propose(0, "x", 10);
  ASSERT_TRUE(TickUntil([&] { return members_[0].applied.size() == 10; }));
  auto first = Snapshot(0, members_[0].applied_index);
  ASSERT_TRUE(first.ok()) << first.status();
  for (uint64_t index : {members_[0].applied_index, members_[0].applied_index - 3}) {
    auto again = Snapshot(0, index);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->file(), first->file());
    EXPECT_EQ(again->crc32(), first->crc32());
  }
  EXPECT_TRUE(TickUntil([&] { return SnapshotFiles(0) == std::set<std::string>{first->file()}; }, 50))
      << "left: " << absl::StrJoin(SnapshotFiles(0), " ");
  EXPECT_TRUE(SnapshotStore(members_[0].snapshot_dir).Verify(*first).ok());
  Stop(0);
  ASSERT_TRUE(Start(0).ok());
  EXPECT_EQ(members_[0].log->snapshot()->file(), first->file());
}

// Regression (found reading the snapshot code after the one above): a
// follower's own snapshot adopted while one from the leader was being
// written replaced it in the store, though the log was compacted past it:
// the member could not start again. While a snapshot from the leader is
// written, the member's own is refused (its file dropped); the member then
// starts from the leader's.
TEST_F(ReplicatedLogTest, AnOwnSnapshotDoesNotReplaceOneFromTheLeaderBeingWritten) {
  Create(3, /*keep_entries=*/5);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  const int lagging = (leader + 1) % 3;
  const int other = (leader + 2) % 3;
  Propose(leader, "w", 5);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(5); }));
  net_.Isolate(members_[lagging].id, {members_[leader].id, members_[other].id});
  Propose(leader, "x", 50);
  ASSERT_TRUE(TickUntil([&] { return members_[leader].applied.size() == 55; }));
  ASSERT_TRUE(Snapshot(leader, members_[leader].applied_index).ok());
  Propose(leader, "y", 10);
  ASSERT_TRUE(TickUntil([&] { return members_[leader].applied.size() == 65; }));
  ASSERT_TRUE(Snapshot(leader, members_[leader].applied_index).ok());

  disk_.Close();
  disk_.Slow(*members_[lagging].store);
  net_.Heal();
  ASSERT_TRUE(TickUntil([&] { return disk_.held() == 1; }));  // the leader's snapshot, being written
  auto own = Snapshot(lagging, members_[lagging].applied_index);
  EXPECT_EQ(own.status().code(), absl::StatusCode::kAborted) << own.status();
  disk_.Open();
  ASSERT_TRUE(TickUntil([&] { return members_[lagging].installed.has_value(); }));
  const pb::SnapshotMeta got = *members_[lagging].installed;
  EXPECT_TRUE(TickUntil([&] { return SnapshotFiles(lagging) == std::set<std::string>{got.file()}; }, 50))
      << "left: " << absl::StrJoin(SnapshotFiles(lagging), " ");
  Stop(lagging);
  ASSERT_TRUE(Start(lagging).ok());
  EXPECT_EQ(members_[lagging].log->snapshot()->file(), got.file());
}

// Regression (ReplicatedLogTest.AnInstalledSnapshotLeavesNoStaleEntriesOnDisk):
// installing the leader's snapshot dropped the member's entries after it
// from memory but not from its store (the write only compacted up to the
// snapshot): entries of a history the snapshot does not continue (here an
// old leader's, never committed) came back after it at a restart.
TEST_F(ReplicatedLogTest, AnInstalledSnapshotLeavesNoStaleEntriesOnDisk) {
  Create(3, /*keep_entries=*/5);
  const int old = WaitLeader();
  ASSERT_GE(old, 0);
  Propose(old, "a", 5);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(5); }));
  std::vector<uint64_t> others;
  std::set<int> majority;
  for (int i = 0; i < 3; ++i) {
    if (i == old) continue;
    others.push_back(members_[i].id);
    majority.insert(i);
  }
  net_.Isolate(members_[old].id, others);
  Propose(old, "lost", 100);
  const uint64_t lost_end = members_[old].log->last_index();
  ASSERT_TRUE(TickUntil([&] { return members_[old].store->LastIndex() == lost_end; }));
  const int fresh = WaitLeader(majority);
  ASSERT_GE(fresh, 0);
  Propose(fresh, "b", 30);
  ASSERT_TRUE(TickUntil([&] { return members_[fresh].applied.size() == 35; }));
  ASSERT_TRUE(Snapshot(fresh, members_[fresh].applied_index - 10).ok());
  auto snap = Snapshot(fresh, members_[fresh].applied_index);
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_LT(snap->index(), lost_end) << "the old leader's entries must reach past the snapshot";

  net_.Heal();
  ASSERT_TRUE(TickUntil([&] { return members_[old].installed.has_value(); }));
  ASSERT_EQ(members_[old].installed->index(), snap->index());
  for (int t = 0; t < 5; ++t) Tick();
  EXPECT_EQ(members_[old].store->LastIndex(), snap->index());
  Stop(old);
  ASSERT_TRUE(Start(old).ok());
  EXPECT_EQ(members_[old].log->last_index(), snap->index()) << "entries after the snapshot came back";
}

// Regression (ReplicatedLogTest.ASnapshotBelowAnAppliedChangeRecordsTheMembershipBeforeIt):
// compaction dropped the membership history below the compacted index
// without keeping the membership in force there. A later snapshot at an
// index before a change applied already (a follower's: its index is its
// child's, which trails the log) then recorded the current membership, the
// change included.
TEST_F(ReplicatedLogTest, ASnapshotBelowAnAppliedChangeRecordsTheMembershipBeforeIt) {
  Create(3, /*keep_entries=*/5);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "a", 20);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(20); }));
  auto first = Snapshot(leader, members_[leader].applied_index - 10);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Snapshot(leader, members_[leader].applied_index).ok());
  ASSERT_GT(members_[leader].store->FirstIndex(), 4u) << "the bootstrap's changes are compacted";
  Propose(leader, "b", 5);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(25); }));
  const uint64_t before_change = members_[leader].applied_index;
  cpb::ConfChange add;
  add.set_type(cpb::CONF_CHANGE_ADD_LEARNER);
  add.set_node_id(4);
  ASSERT_TRUE(members_[leader].log->ProposeConfChange(add).ok());
  ASSERT_TRUE(TickUntil([&] { return members_[leader].log->status().conf_state.learners_size() == 1; }));
  auto below = Snapshot(leader, before_change);
  ASSERT_TRUE(below.ok()) << below.status();
  EXPECT_EQ(below->index(), before_change);
  EXPECT_EQ(below->voters_size(), 3);
  EXPECT_EQ(below->learners_size(), 0) << "the snapshot lists a learner added after its index";
}

// A snapshot directory keeps what is at or above the snapshot kept: a file
// from the leader may be in place before its metadata is written.
TEST(SnapshotStoreTest, RemoveOlderKeepsTheKeptAndNewerFiles) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("snapstore-test-", getpid());
  fs::create_directories(dir);
  SnapshotStore store(dir.string());
  pb::SnapshotMeta keep, prev;
  keep.set_index(20);
  keep.set_file(SnapshotStore::FileName(20, 2, 0xabc));
  prev.set_index(10);
  prev.set_file(SnapshotStore::FileName(10, 1, 0x123));
  pb::SnapshotMeta incoming_old, incoming_new;
  incoming_old.set_index(15);
  incoming_new.set_index(30);
  const std::vector<std::string> all = {keep.file(),
                                        prev.file(),
                                        SnapshotStore::FileName(5, 1, 1),
                                        SnapshotStore::FileName(20, 2, 0xdef),
                                        SnapshotStore::FileName(25, 2, 7),
                                        SnapshotStore::IncomingName(incoming_old),
                                        SnapshotStore::IncomingName(incoming_new),
                                        "taking-3.rdb"};
  for (const std::string& name : all) std::ofstream(dir / name) << name;
  store.RemoveOlder(keep, prev.file());
  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.insert(e.path().filename().string());
  EXPECT_EQ(left, (std::set<std::string>{keep.file(), prev.file(), SnapshotStore::FileName(25, 2, 7),
                                         SnapshotStore::IncomingName(incoming_new), "taking-3.rdb"}));
  EXPECT_EQ(SnapshotStore::IndexOf(SnapshotStore::FileName(25, 2, 7)), 25u);
  EXPECT_EQ(SnapshotStore::IndexOf("taking-3.rdb"), std::nullopt);
  fs::remove_all(dir);
}

// The tail kept below a snapshot is bounded in bytes as well as in entries.
TEST_F(ReplicatedLogTest, KeptTailIsBoundedInBytes) {
  Create(1, /*keep_entries=*/10000, /*keep_bytes=*/100);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  for (int k = 0; k < 40; ++k) ASSERT_TRUE(members_[0].log->Propose(std::string(30, 'a' + k % 26)).ok());
  ASSERT_TRUE(TickUntil([&] { return members_[0].applied.size() == 40; }));
  auto first = Snapshot(0, members_[0].applied_index - 10);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Snapshot(0, members_[0].applied_index);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(members_[0].log->first_index(), second->index() - 3 + 1);  // 3 entries of 30 bytes fit in 100
  EXPECT_EQ(members_[0].store->FirstIndex(), first->index() + 1);
}

// A store that cannot be read is an error at start, never an empty log (an
// empty log would bootstrap a new cluster and vote as if it had no history).
class UnreadableStore : public storage::MemoryLogStore {
 public:
  absl::StatusOr<std::optional<std::string>> GetMeta(const std::string&) const override {
    return absl::DataLossError("disk says no");
  }
};

TEST_F(ReplicatedLogTest, UnreadableStoreIsAnErrorNotAnEmptyLog) {
  members_.resize(1);
  members_[0].id = 1;
  members_[0].snapshot_dir = (dir_ / "snap1").string();
  absl::Status s = Start(0, std::make_shared<UnreadableStore>());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
}

// Records what each write to the log carried.
class RecordingStore : public storage::MemoryLogStore {
 public:
  absl::Status Write(const storage::LogWrite& w) override {
    size_t bytes = 0;
    for (const storage::LogEntry& e : w.entries) bytes += e.data.size();
    auto it = w.meta.find("raft.hardstate");
    cpb::HardState hs;
    {
      std::lock_guard lock(mu_);
      largest_ = std::max(largest_, bytes);
      if (it != w.meta.end() && it->second && hs.ParseFromString(*it->second)) {
        if (w.entries.empty() && !w.sync) ++hard_state_only_;
        if (!w.entries.empty()) commit_with_entries_ = std::max(commit_with_entries_, hs.commit());
      }
    }
    return MemoryLogStore::Write(w);
  }
  // The payload of the largest write.
  size_t largest() {
    std::lock_guard lock(mu_);
    return largest_;
  }
  int hard_state_only() {
    std::lock_guard lock(mu_);
    return hard_state_only_;
  }
  uint64_t commit_with_entries() {
    std::lock_guard lock(mu_);
    return commit_with_entries_;
  }

 private:
  std::mutex mu_;
  int hard_state_only_ = 0;
  uint64_t commit_with_entries_ = 0;
  size_t largest_ = 0;
};

// Records the name of the thread that made each write.
class WriterRecordingStore : public storage::MemoryLogStore {
 public:
  absl::Status Write(const storage::LogWrite& w) override {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    {
      std::lock_guard lock(mu_);
      writers_.push_back(name);
    }
    return MemoryLogStore::Write(w);
  }
  std::vector<std::string> writers() {
    std::lock_guard lock(mu_);
    return writers_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> writers_;
};

// Regression (ReplicatedLogTest.TheClusterIdIsWrittenByTheLogWorker): a node
// that joins recorded its cluster's id (once a peer proved it) from the event
// loop, while the log's worker thread may have been writing: the store is
// not made for two writers (its first and last index are unguarded fields).
TEST_F(ReplicatedLogTest, TheClusterIdIsWrittenByTheLogWorker) {
  members_.resize(1);
  members_[0].id = 1;
  members_[0].snapshot_dir = (dir_ / "snap1").string();
  auto store = std::make_shared<WriterRecordingStore>();
  ASSERT_TRUE(Start(0, store, /*bootstrap=*/false).ok());
  const size_t at_start = store->writers().size();  // (the start's own, before the worker runs: the node's id)
  EXPECT_EQ(members_[0].log->cluster_id(), "");
  ASSERT_TRUE(net_.up_.contains(1));
  net_.up_[1]->on_cluster(peer::ClusterName{"c1", "o1"});  // a peer proved it, on the event loop
  EXPECT_EQ(members_[0].log->cluster_id(), "c1");
  EXPECT_EQ(members_[0].log->cluster_origin(), "o1");
  Stop(0);  // the worker finishes what it was given
  auto stored = store->GetMeta("cluster-id");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, "c1");
  auto origin = store->GetMeta("cluster-origin");
  ASSERT_TRUE(origin.ok() && origin->has_value());
  EXPECT_EQ(**origin, "o1");
  std::vector<std::string> since = store->writers();
  since.erase(since.begin(), since.begin() + static_cast<std::ptrdiff_t>(at_start));
  EXPECT_EQ(since, std::vector<std::string>{"anarcho-log"}) << "written off the log's worker";
}

// Regression (single-client latency, CPU per request): a commit waited for
// the record of the new commit index to be written, and later still cost a
// write of its own (and a wakeup of the log's writer thread) on every node
// for every commit. The record rides on the next write to the log, and a
// node that stops writes the last one.
TEST_F(ReplicatedLogTest, TheCommitIndexRecordRidesOnTheNextLogWrite) {
  members_.resize(1);
  members_[0].id = 1;
  members_[0].snapshot_dir = (dir_ / "snap1").string();
  auto store = std::make_shared<RecordingStore>();
  ASSERT_TRUE(Start(0, store).ok());
  ASSERT_EQ(WaitLeader(), 0);
  // The leader's empty entry applied (the bootstrap's entry applies before it:
  // waiting only for an applied index above 0 took x's index for the empty
  // entry's whenever a log write was slow).
  ASSERT_TRUE(TickUntil([&] {
    return members_[0].applied_index > 1 && members_[0].applied_index == members_[0].log->last_index();
  }));
  const uint64_t x_index = members_[0].applied_index + 1;
  Propose(0, "x", 1);
  ASSERT_TRUE(TickUntil([&] { return members_[0].applied.size() == 1; }, 100));
  EXPECT_EQ(members_[0].applied_index, x_index);
  Propose(0, "y", 1);
  ASSERT_TRUE(TickUntil([&] { return members_[0].applied.size() == 2; }, 100));
  EXPECT_EQ(store->hard_state_only(), 0) << "a commit was written on its own";
  EXPECT_GE(store->commit_with_entries(), x_index) << "y's write did not record x's commit";
  Stop(0);  // the writer thread finishes what it was given
  auto hs_bytes = store->GetMeta("raft.hardstate");
  ASSERT_TRUE(hs_bytes.ok() && hs_bytes->has_value());
  cpb::HardState hs;
  ASSERT_TRUE(hs.ParseFromString(**hs_bytes));
  EXPECT_EQ(hs.commit(), x_index + 1);
}

// Regression (ClusterEdgesTest.LargeValueIsStoredWithoutAnElection failed
// on a loaded machine): a backlog of big entries went to a follower 8 MB at
// a time and came out of the core as committed entries up to 64 MB at once,
// each byte copied on the event loop several times over; a leader's first
// 100 MB value kept its loop from its timers for 250-490 ms. What one turn
// handles is now bounded by kMaxTurnBytes (and one entry over it).
TEST_F(ReplicatedLogTest, ABacklogIsWrittenAndAppliedAFewMegabytesAtATime) {
  members_.resize(3);
  std::vector<std::shared_ptr<RecordingStore>> stores;
  for (int i = 0; i < 3; ++i) {
    members_[i].id = i + 1;
    members_[i].snapshot_dir = (dir_ / absl::StrCat("snap", i + 1)).string();
    stores.push_back(std::make_shared<RecordingStore>());
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Start(i, stores[i]).ok());
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "warm", 1);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(1); }));
  std::vector<size_t> largest_apply(3, 0);
  for (int i = 0; i < 3; ++i) {
    auto apply = members_[i].log->on_committed;
    members_[i].log->on_committed = [&largest_apply, i, apply](std::vector<cpb::Entry>&& entries) {
      size_t bytes = 0;
      for (const cpb::Entry& e : entries) bytes += e.data().size();
      largest_apply[i] = std::max(largest_apply[i], bytes);
      apply(std::move(entries));
    };
  }
  constexpr size_t kEntry = 1 << 20;  // the node's largest entry (EffectBatcher)
  std::vector<std::string> backlog;
  for (int k = 0; k < 24; ++k) backlog.push_back(std::string(kEntry, static_cast<char>('a' + k)));
  ASSERT_TRUE(members_[leader].log->ProposeBatch(std::move(backlog)).ok());
  ASSERT_TRUE(TickUntil([&] { return AllApplied(25); }));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(members_[i].applied[24], std::string(kEntry, 'a' + 23)) << "member " << i;
    EXPECT_LE(largest_apply[i], kMaxTurnBytes + kEntry) << "member " << i << " applied that much at once";
    if (i != leader) EXPECT_LE(stores[i]->largest(), kMaxTurnBytes + kEntry) << "follower " << i << " wrote that much at once";
  }
}

// Regression (ClusterEdgesTest.LargeValueIsStoredWithoutAnElection failed
// now and then): while a node's log write was in progress its core handed
// out nothing, heartbeats included. A follower writing a 100 MB value for
// longer than an election timeout went silent, and the leader's check-quorum
// stepped down; a leader writing it sent no heartbeats, and the followers
// elected another. Heartbeats and their answers (and reads) no longer wait
// for the write.
TEST_F(ReplicatedLogTest, FollowersWritingSlowlyKeepTheLeader) {
  const int leader = HoldWritesThroughElectionTimeouts(/*leader_slow=*/false);
  ASSERT_GE(leader, 0);
  EXPECT_EQ(members_[leader].applied.size(), 1u) << "committed without a majority's write";
  disk_.Open();
  EXPECT_TRUE(TickUntil([&] { return AllApplied(2); }));
}

TEST_F(ReplicatedLogTest, ALeaderWritingSlowlyKeepsItsFollowersAndServesReads) {
  std::vector<consensus::ReadState> reads;
  const int leader = HoldWritesThroughElectionTimeouts(/*leader_slow=*/true);
  ASSERT_GE(leader, 0);
  members_[leader].log->on_read_states = [&](std::vector<consensus::ReadState>&& r) {
    reads.insert(reads.end(), r.begin(), r.end());
  };
  // The entry commits on the followers' writes (the leader's own is not needed
  // for a majority of three); a read asked now is confirmed by a heartbeat
  // round while the leader's write still hangs.
  ASSERT_TRUE(members_[leader].log->ReadIndex("r1").ok());
  ASSERT_TRUE(TickUntil([&] { return !reads.empty(); }, 20)) << "the read waited for the leader's write";
  EXPECT_EQ(reads[0].request_ctx, "r1");
  disk_.Open();
  EXPECT_TRUE(TickUntil([&] { return AllApplied(2); }));
}

// Regression (ReplicatedLogTest.ARestartedMembersReadIsNotAnsweredForItsPreviousProcess):
// a leader merges a member's read requests by context, and a member's
// contexts count from the start again in each process. A request left
// pending by a member's previous process (the leader could not confirm it)
// swallowed the same context asked by the restarted member, whose read was
// then answered with the old request's index, older than a write
// acknowledged before the new read began.
TEST_F(ReplicatedLogTest, ARestartedMembersReadIsNotAnsweredForItsPreviousProcess) {
  Create(5);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "a", 1);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(1); }));
  const int f = (leader + 1) % 5;
  std::vector<uint64_t> others;
  for (int i = 0; i < 5; ++i) {
    if (i != leader && i != f) others.push_back(members_[i].id);
  }
  net_.Isolate(members_[leader].id, others);  // the leader hears f only: no quorum confirms a read
  ASSERT_TRUE(members_[f].log->ReadIndex("f1").ok());
  for (int t = 0; t < 3; ++t) Tick();
  Stop(f);
  ASSERT_TRUE(Start(f).ok());
  std::vector<consensus::ReadState> reads;
  members_[f].log->on_read_states = [&](std::vector<consensus::ReadState>&& r) {
    reads.insert(reads.end(), r.begin(), r.end());
  };
  net_.Heal();
  Propose(leader, "w", 1);  // commits on appends alone: no heartbeat round yet (no tick)
  for (int i = 0; i < 1000 && members_[leader].applied.size() < 2; ++i) io_.run_for(2ms);
  ASSERT_EQ(members_[leader].applied.size(), 2u);
  const uint64_t w = members_[leader].applied_index;
  for (int i = 0; i < 1000 && members_[f].log->leader() == 0; ++i) io_.run_for(2ms);
  ASSERT_TRUE(members_[f].log->ReadIndex("f1").ok());  // the new process's first read, the same context
  ASSERT_TRUE(TickUntil([&] { return !reads.empty(); }, 50));
  for (const consensus::ReadState& r : reads) {
    EXPECT_EQ(r.request_ctx, "f1");
    EXPECT_GE(r.index, w) << "answered with the index of a read its previous process asked";
  }
}

// A leader's appends that carry no entries only tell the followers of its
// new commit index. They used to leave before the replies that commit
// released (the host posts those to its loop): each woke a follower, which
// on a busy machine took the CPU before the reply was written (468 of 1000
// unpipelined writes waited so). They now leave after the handlers queued by
// then; an append with entries still leaves at once.
TEST_F(ReplicatedLogTest, CommitNoticesLeaveAfterTheRepliesTheCommitReleased) {
  Create(3);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "warm", 1);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(1); }));
  std::vector<std::string> events;
  const uint64_t leader_id = members_[leader].id;
  net_.on_send = [&](uint64_t from, const cpb::Message& m) {
    if (from != leader_id || m.type() != cpb::MSG_APP) return;
    events.push_back(absl::StrCat(m.entries_size() > 0 ? "entries" : "notice", " commit ", m.commit()));
  };
  auto apply = members_[leader].log->on_committed;
  members_[leader].log->on_committed = [&, apply](std::vector<cpb::Entry>&& entries) {
    const uint64_t last = entries.empty() ? 0 : entries.back().index();
    apply(std::move(entries));
    asio::post(io_, [&events, last] { events.push_back(absl::StrCat("reply ", last)); });
  };
  const uint64_t x = members_[leader].log->last_index() + 1;
  Propose(leader, "x", 1);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(2); }));
  const auto reply = std::find(events.begin(), events.end(), absl::StrCat("reply ", x));
  const auto notice = std::find(events.begin(), events.end(), absl::StrCat("notice commit ", x));
  ASSERT_NE(reply, events.end()) << absl::StrJoin(events, ", ");
  ASSERT_NE(notice, events.end()) << absl::StrJoin(events, ", ");
  EXPECT_LT(reply - events.begin(), notice - events.begin()) << absl::StrJoin(events, ", ");
  EXPECT_EQ(events.front(), absl::StrCat("entries commit ", x - 1)) << "x's append waited";
}

cpb::ConfChange Removal(uint64_t id) {
  cpb::ConfChange cc;
  cc.set_type(cpb::CONF_CHANGE_REMOVE_NODE);
  cc.set_node_id(id);
  return cc;
}

bool IsVoter(const cpb::ConfState& cs, uint64_t id) {
  return std::find(cs.voters().begin(), cs.voters().end(), id) != cs.voters().end();
}

// Regression (ReplicatedLogTest.ARemovedFollowerLearnsThatItsRemovalCommitted):
// a leader dropped its link to a node as it applied that node's removal, in
// the turn whose commit notices (queued to leave after it) were the only news
// of that commit: on a quiet cluster the removed node never learnt it was
// removed, and kept running. The link now outlives the removal a little.
TEST_F(ReplicatedLogTest, ARemovedFollowerLearnsThatItsRemovalCommitted) {
  Create(3);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "a", 1);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(1); }));
  const int f = (leader + 1) % 3;
  const uint64_t removed = members_[f].id;
  ASSERT_TRUE(members_[leader].log->ProposeConfChange(Removal(removed)).ok());
  ASSERT_TRUE(TickUntil([&] { return !IsVoter(members_[leader].log->status().conf_state, removed); }));
  EXPECT_TRUE(TickUntil([&] { return !IsVoter(members_[f].log->status().conf_state, removed); }, 100))
      << "the removed node did not apply its removal";
}

// Regression (ReplicatedLogTest.RemovedIdsOutliveTheEntriesThatRemovedThem):
// nothing recorded which ids had been removed, and ANARCHO.ADD took one back,
// which cannot work (its address went with it; a node started under it again
// replays its own removal and exits). The record must outlive the removal's
// entry: snapshots carry it, and a restart from one knows it.
TEST_F(ReplicatedLogTest, RemovedIdsOutliveTheEntriesThatRemovedThem) {
  Create(3);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Propose(leader, "a", 1);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(1); }));
  const uint64_t removed = members_[(leader + 1) % 3].id;
  ASSERT_TRUE(members_[leader].log->ProposeConfChange(Removal(removed)).ok());
  ASSERT_TRUE(TickUntil([&] { return !IsVoter(members_[leader].log->status().conf_state, removed); }));
  EXPECT_TRUE(members_[leader].log->was_removed(removed));
  EXPECT_FALSE(members_[leader].log->was_removed(members_[leader].id));
  Propose(leader, "b", 5);
  ASSERT_TRUE(TickUntil([&] { return members_[leader].applied.size() == 6; }));
  auto snap = Snapshot(leader, members_[leader].applied_index);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(std::vector<uint64_t>(snap->removed().begin(), snap->removed().end()), std::vector<uint64_t>{removed});
  Stop(leader);
  ASSERT_TRUE(Start(leader).ok());  // from the snapshot: the removal's entry is not replayed
  EXPECT_TRUE(members_[leader].log->was_removed(removed));
}

constexpr char kAddedAt[] = "127.0.0.4:6380:7380";      // given to ANARCHO.ADD
constexpr char kLeadersRoute[] = "10.9.9.9:6380:7399";  // node 1's own route to node 4

class AddressesTest : public ReplicatedLogTest {
 protected:
  // Three members; member 0 (node 1) leads and has routes of its own to node
  // 4 and to node 7, which is no member; node 4 is added as a learner at
  // kAddedAt, and every member applied that change.
  void AddNode4() {
    PeerAddress route, other;
    ASSERT_TRUE(PeerAddress::Parse(kLeadersRoute, &route));
    ASSERT_TRUE(PeerAddress::Parse("10.9.9.7:6380:7397", &other));
    routes_[1] = {{4, route}, {7, other}};
    Create(3);
    int leader = WaitLeader();
    ASSERT_GE(leader, 0);
    Propose(leader, "a", 1);
    ASSERT_TRUE(TickUntil([&] { return AllApplied(1); }));
    if (leader != 0) {
      ASSERT_TRUE(members_[leader].log->TransferLeadership(1).ok());
      ASSERT_TRUE(TickUntil([&] { return Leader() == 0; }));
    }
    cpb::ConfChange add;
    add.set_type(cpb::CONF_CHANGE_ADD_LEARNER);
    add.set_node_id(4);
    add.set_context(kAddedAt);
    ASSERT_TRUE(members_[0].log->ProposeConfChange(add).ok());
    ASSERT_TRUE(TickUntil([&] {
      for (const Member& m : members_) {
        if (m.log->status().conf_state.learners_size() != 1) return false;
      }
      return true;
    }));
    for (int i = 1; i < 3; ++i) ASSERT_EQ(members_[i].log->peers().at(4).ToString(), kAddedAt) << i;
    ASSERT_EQ(members_[0].log->peers().at(4).ToString(), kLeadersRoute) << "its own route wins";
  }
};

// Regression: the leader promoted a learner with its own route to it
// (--peer-addresses, private to it) in the ADD_VOTER change, and every member
// without a route of its own adopted it in place of the address given to
// ANARCHO.ADD: behind NAT or proxies, they could no longer reach the node.
TEST_F(AddressesTest, APromotionCarriesTheAddressGivenToAddNotTheLeadersRoute) {
  AddNode4();
  if (HasFatalFailure()) return;
  // (Until its core applied the learner's change, the leader refuses another:
  // under load that may take a few ticks more than the members' conf states.)
  ASSERT_TRUE(TickUntil([&] { return members_[0].log->PromoteLearner(4).ok(); }));
  ASSERT_TRUE(TickUntil([&] {
    for (const Member& m : members_) {
      if (!IsVoter(m.log->status().conf_state, 4)) return false;
    }
    return true;
  }));
  for (int i = 1; i < 3; ++i) EXPECT_EQ(members_[i].log->peers().at(4).ToString(), kAddedAt) << i;
  EXPECT_EQ(members_[0].log->peers().at(4).ToString(), kLeadersRoute);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(members_[i].log->AnnouncedAddress(4), kAddedAt) << i;
}

// Regression: a snapshot recorded the snapshotting node's peers as it reaches
// them, its own routes included (and routes to nodes that are no members),
// and a member that installed it adopted them. It records the addresses the
// membership changes gave.
TEST_F(AddressesTest, SnapshotsRecordTheAddressesGivenToAddNotTheMembersOwnRoutes) {
  AddNode4();
  if (HasFatalFailure()) return;
  Propose(0, "b", 3);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(4); }));
  auto snap = Snapshot(0, members_[0].applied_index);
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_TRUE(snap->addresses().contains(4));
  EXPECT_EQ(snap->addresses().at(4), kAddedAt);
  EXPECT_FALSE(snap->addresses().contains(7)) << "a route to a node that is no member";
  // Restarted from it, the leader still reaches node 4 by its own route.
  Stop(0);
  ASSERT_TRUE(Start(0).ok());
  EXPECT_EQ(members_[0].log->peers().at(4).ToString(), kLeadersRoute);
  EXPECT_EQ(members_[0].log->AnnouncedAddress(4), kAddedAt);
}

// Regression: the receiver moves a received snapshot's file into the store
// before the core decides on it, and a core that refused it (here: a
// follower whose commit index is past it, as when a transfer outlives the
// follower's catching up from the log) left the file there until a later
// snapshot passed its index.
TEST_F(ReplicatedLogTest, ASnapshotTheCoreRefusesLeavesNoFileBehind) {
  Create(3);
  const int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  Propose(leader, "x", 10);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(10); }));
  auto snap = Snapshot(leader, members_[leader].applied_index);
  ASSERT_TRUE(snap.ok()) << snap.status();
  Propose(leader, "y", 2);
  ASSERT_TRUE(TickUntil([&] { return AllApplied(12); }));
  ASSERT_GT(members_[follower].log->status().commit, snap->index());

  // The leader's transfer of that snapshot, as its sender makes it.
  std::ifstream file(SnapshotStore(members_[leader].snapshot_dir).Path(snap->file()), std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_EQ(body.size(), snap->size());
  cpb::Message m;
  m.set_type(cpb::MSG_SNAP);
  m.set_from(members_[leader].id);
  m.set_to(members_[follower].id);
  m.set_term(members_[leader].log->term());
  m.mutable_snapshot()->mutable_metadata()->set_index(snap->index());
  m.mutable_snapshot()->mutable_metadata()->set_term(snap->term());
  m.mutable_snapshot()->set_data(snap->SerializeAsString());
  auto frame = [&](pb::SnapshotFrame::Kind kind) {
    pb::SnapshotFrame f;
    f.set_kind(kind);
    f.set_from(members_[leader].id);
    f.set_to(members_[follower].id);
    *f.mutable_meta() = *snap;
    if (kind == pb::SnapshotFrame::CHUNK) f.set_data(body);
    if (kind == pb::SnapshotFrame::DONE) f.set_raft_message(m.SerializeAsString());
    return f;
  };
  const std::string incoming = SnapshotStore::IncomingName(*snap);
  for (auto kind : {pb::SnapshotFrame::OFFER, pb::SnapshotFrame::CHUNK}) {
    ASSERT_TRUE(net_.Deliver(members_[leader].id, members_[follower].id, frame(kind)));
    ASSERT_TRUE(TickUntil([&] { return SnapshotFiles(follower).contains(incoming); }, 50));
  }
  ASSERT_TRUE(TickUntil([&] { return fs::file_size(fs::path(members_[follower].snapshot_dir) / incoming) == body.size(); }, 50));
  ASSERT_TRUE(net_.Deliver(members_[leader].id, members_[follower].id, frame(pb::SnapshotFrame::DONE)));
  EXPECT_TRUE(TickUntil([&] { return SnapshotFiles(follower).empty(); }, 100))
      << "left: " << absl::StrJoin(SnapshotFiles(follower), " ");
  EXPECT_FALSE(members_[follower].installed.has_value());
  EXPECT_EQ(members_[follower].applied.size(), 12u);
}

}  // namespace
}  // namespace node
