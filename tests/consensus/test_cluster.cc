#include "tests/consensus/test_cluster.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace consensus::testing {

TestCluster::TestCluster(int n, Config base) : base_(base) {
  std::vector<uint64_t> voters;
  for (int i = 1; i <= n; ++i) voters.push_back(static_cast<uint64_t>(i));
  for (uint64_t id : voters) {
    Config c = base_;
    c.random_seed = id * 1000 + 7;
    nodes_[id] = std::make_unique<NodeHost>(id, voters, c, &checker_);
    absl::Status s = nodes_[id]->Start();
    if (!s.ok()) Fail(s);
  }
  Stabilize();  // applies the bootstrap membership
}

NodeHost& TestCluster::AddEmptyNode(uint64_t id) {
  Config c = base_;
  c.random_seed = id * 1000 + 7;
  nodes_[id] = std::make_unique<NodeHost>(id, std::vector<uint64_t>{}, c, &checker_);
  absl::Status s = nodes_[id]->Start();
  if (!s.ok()) Fail(s);
  return *nodes_[id];
}

void TestCluster::Fail(const absl::Status& s) {
  if (status_.ok()) status_ = s;
  ADD_FAILURE() << s << "\n" << Transcript();
}

bool TestCluster::Blocked(const pb::Message& m) const {
  if (cut_.contains({m.from(), m.to()})) return true;
  if (drop && drop(m)) return true;
  auto it = nodes_.find(m.to());
  return it == nodes_.end() || !it->second->up();
}

void TestCluster::Deliver(pb::Message m) {
  if (Blocked(m)) {
    transcript_.push_back(absl::StrCat("  dropped ", DescribeMessage(m)));
    return;
  }
  if (mutate) mutate(m);
  transcript_.push_back(DescribeMessage(m));
  absl::Status s = nodes_.at(m.to())->raft().Step(std::move(m));
  if (!s.ok()) Fail(s);
}

void TestCluster::Stabilize() {
  for (int round = 0; round < 100000; ++round) {
    bool moved = false;
    for (auto& [id, node] : nodes_) {
      if (!node->up()) continue;
      absl::StatusOr<std::vector<pb::Message>> msgs = node->DrainReady();
      if (!msgs.ok()) {
        Fail(msgs.status());
        return;
      }
      for (pb::Message& m : *msgs) queue_.push_back(std::move(m));
    }
    while (!queue_.empty()) {
      moved = true;
      pb::Message m = std::move(queue_.front());
      queue_.pop_front();
      Deliver(std::move(m));
    }
    if (!moved) return;
  }
  Fail(absl::InternalError("cluster did not stabilize"));
}

void TestCluster::Tick(int n, std::vector<uint64_t> ids) {
  if (ids.empty()) ids = this->ids();
  for (int i = 0; i < n; ++i) {
    for (uint64_t id : ids) {
      if (nodes_.at(id)->up()) nodes_.at(id)->raft().Tick();
    }
    Stabilize();
  }
}

bool TestCluster::TickUntil(const std::function<bool()>& pred, int max_ticks) {
  for (int i = 0; i < max_ticks; ++i) {
    if (pred()) return true;
    Tick(1);
  }
  return pred();
}

void TestCluster::Campaign(uint64_t id) {
  raft(id).Campaign();
  Stabilize();
}

void TestCluster::Cut(uint64_t a, uint64_t b) {
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void TestCluster::Isolate(uint64_t id) {
  for (uint64_t other : ids()) {
    if (other != id) Cut(id, other);
  }
}

void TestCluster::Heal() { cut_.clear(); }

void TestCluster::Restart(uint64_t id) {
  absl::Status s = nodes_.at(id)->Start();
  if (!s.ok()) Fail(s);
}

absl::Status TestCluster::Propose(uint64_t id, const std::string& data) {
  absl::Status s = raft(id).Propose(data);
  Stabilize();
  return s;
}

uint64_t TestCluster::Leader() const {
  uint64_t best = 0, best_term = 0;
  for (const auto& [id, node] : nodes_) {
    if (node->up() && node->raft().role() == Role::kLeader && node->raft().term() >= best_term) {
      best = id;
      best_term = node->raft().term();
    }
  }
  return best;
}

std::vector<uint64_t> TestCluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, node] : nodes_) out.push_back(id);
  return out;
}

std::string TestCluster::Transcript(size_t last_lines) const {
  size_t from = transcript_.size() > last_lines ? transcript_.size() - last_lines : 0;
  return absl::StrJoin(transcript_.begin() + from, transcript_.end(), "\n");
}

}  // namespace consensus::testing
