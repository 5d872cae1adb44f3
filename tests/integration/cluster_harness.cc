#include "cluster_harness.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "node/child/sync_client.h"
#include "resp/writer.h"

namespace itest {

struct FaultProxy::Conn {
  explicit Conn(asio::io_context& io) : a(io), b(io) {}
  asio::ip::tcp::socket a, b;  // a: accepted, b: to the target
  std::array<char, 65536> buf_ab, buf_ba;
  bool frozen = false;
  // Per direction (0: a->b), while frozen: stopped with that many bytes read
  // and not forwarded yet (kClosed: its end closed, which nothing tells the
  // other end yet).
  static constexpr size_t kClosed = ~size_t{0};
  std::optional<size_t> held[2];
  void Close() {
    asio::error_code ec;
    a.close(ec);
    b.close(ec);
  }
};

FaultProxy::FaultProxy(int target_port)
    : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), target_(target_port) {
  port_ = acceptor_.local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { io_.run(); });
}

FaultProxy::~FaultProxy() {
  asio::post(io_, [this] {
    asio::error_code ec;
    acceptor_.close(ec);
    for (auto& w : conns_) {
      if (auto c = w.lock()) c->Close();
    }
  });
  io_.stop();
  thread_.join();
}

void FaultProxy::SetBlocked(bool blocked, bool close_open) {
  blocked_ = blocked;
  if (!blocked) return Thaw();
  if (!close_open) return Freeze();
  asio::post(io_, [this] {
    for (auto& w : conns_) {
      if (auto c = w.lock()) c->Close();
    }
    conns_.clear();
    frozen_.clear();
  });
}

void FaultProxy::Freeze() {
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    for (auto& w : conns_) {
      if (auto c = w.lock(); c && !c->frozen) {
        c->frozen = true;
        frozen_.push_back(c);
      }
    }
    done.set_value();
  });
  done.get_future().wait();
}

void FaultProxy::Thaw() {
  asio::post(io_, [this] {
    for (auto& c : frozen_) {
      c->frozen = false;
      for (bool upstream : {true, false}) {
        std::optional<size_t> held = std::exchange(c->held[upstream ? 0 : 1], std::nullopt);
        if (held) Forward(c, upstream, *held);
      }
    }
    frozen_.clear();
  });
}

void FaultProxy::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket s) {
    if (ec) {
      // A connection reset before it was accepted (ECONNABORTED) must not stop
      // the proxy: later connections would wait in the backlog forever.
      if (ec != asio::error::operation_aborted && acceptor_.is_open()) Accept();
      return;
    }
    if (blocked_) {
      asio::error_code ec2;
      s.close(ec2);
    } else {
      auto c = std::make_shared<Conn>(io_);
      c->a = std::move(s);
      conns_.push_back(c);
      c->b.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), target_),
                         [this, c](const asio::error_code& ec2) {
                           if (ec2 || blocked_) return c->Close();
                           Pump(c, true);
                           Pump(c, false);
                         });
    }
    Accept();
  });
}

void FaultProxy::Pump(std::shared_ptr<Conn> c, bool upstream) {
  auto& from = upstream ? c->a : c->b;
  auto& buf = upstream ? c->buf_ab : c->buf_ba;
  from.async_read_some(asio::buffer(buf), [this, c, upstream](const asio::error_code& ec, size_t n) {
    Forward(c, upstream, ec ? Conn::kClosed : n);
  });
}

// Writes the n bytes read, then reads on; a frozen connection stops before
// (frozen_ holds it open, and Thaw goes on from there).
void FaultProxy::Forward(std::shared_ptr<Conn> c, bool upstream, size_t n) {
  if (c->frozen) {
    c->held[upstream ? 0 : 1] = n;
    return;
  }
  if (n == Conn::kClosed || blocked_) return c->Close();
  if (n == 0) return Pump(c, upstream);
  auto& to = upstream ? c->b : c->a;
  auto& buf = upstream ? c->buf_ab : c->buf_ba;
  asio::async_write(to, asio::buffer(buf.data(), n), [this, c, upstream](const asio::error_code& ec, size_t) {
    if (ec) return c->Close();
    Forward(c, upstream, 0);
  });
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), dir_(MakeTempDir("anarcho-cluster")) {
  if (options_.peer_secret) {
    std::ofstream(absl::StrCat(dir_, "/cluster.secret")) << "harness secret " << FreePort() << "-" << getpid() << "\n";
  }
  for (int i = 0; i < options_.nodes; ++i) {
    ports_.push_back(FreePort());
    raft_ports_.push_back(FreePort());
    if (!options_.tls_certs.empty()) tls_ports_.push_back(FreePort());
    ids_.push_back(i + 1);
    generation_.push_back(0);
  }
  if (options_.proxies) {
    for (int i = 0; i < options_.nodes; ++i) {
      for (int j = 0; j < options_.nodes; ++j) {
        if (i == j) continue;
        proxies_[{i, j}] = std::make_unique<FaultProxy>(raft_ports_[j]);
        if (options_.relay_proxies) relay_proxies_[{i, j}] = std::make_unique<FaultProxy>(ports_[j]);
      }
    }
  }
  for (int i = 0; i < options_.nodes; ++i) {
    nodes_.push_back(std::make_unique<Node>(absl::StrCat(dir_, "/n", i + 1), ports_[i], NodeArgs(i)));
  }
  // Start them together: none answers before a leader is elected.
  for (auto& n : nodes_) n->Launch();
  for (int i = 0; i < size(); ++i) {
    if (!options_.never_ready.contains(i)) nodes_[i]->WaitUntilReady();
  }
}

Cluster::~Cluster() {
  nodes_.clear();
  proxies_.clear();
  if (::testing::Test::HasFailure()) {
    // What the nodes logged is how an intermittent failure gets explained.
    std::cerr << "the cluster's directory (the nodes' logs) is kept: " << dir_ << "\n";
  } else {
    RemoveDir(dir_);
  }
}

std::vector<std::string> Cluster::NodeArgs(int i) {
  // Node i reaches node j through the proxy of the link i->j, whatever id j has.
  auto address = [&](int j) {
    int raft = (i == j || !options_.proxies) ? raft_ports_[j] : proxies_[{i, j}]->port();
    int client = relay_proxies_.contains({i, j}) ? relay_proxies_[{i, j}]->port() : ports_[j];
    return absl::StrCat("127.0.0.1:", client, ":", raft);
  };
  std::vector<std::string> peers, book;
  for (int j = 0; j < options_.nodes; ++j) {
    peers.push_back(absl::StrCat(ids_[j], "=", address(j)));
    // With proxies, the ids a replaced node j may come back under (see
    // Replace) must be reached through them too.
    for (int g = 1; g <= kSpareGenerations && j != i && options_.proxies; ++g) {
      book.push_back(absl::StrCat(SpareId(j, g), "=", address(j)));
    }
  }
  std::vector<std::string> args = {"--id", absl::StrCat(ids_[i]), "--raft_port", absl::StrCat(raft_ports_[i]),
                                   "--peers", absl::StrJoin(peers, ",")};
  if (!book.empty()) args.insert(args.end(), {"--peer_addresses", absl::StrJoin(book, ",")});
  if (generation_[i] > 0) args.push_back("--join");
  for (const std::string& a : SecretArgs()) args.push_back(a);
  if (const std::string& certs = options_.tls_certs; !certs.empty()) {
    args.insert(args.end(), {absl::StrCat("--tls_port=", tls_ports_[i]), "--tls_peers",
                             "--tls_cert_file=" + certs + "/server.crt", "--tls_key_file=" + certs + "/server.key",
                             "--tls_ca_cert_file=" + certs + "/ca.crt"});
  }
  args.insert(args.end(), options_.node_args.begin(), options_.node_args.end());
  if (auto it = options_.args_of.find(i); it != options_.args_of.end()) {
    args.insert(args.end(), it->second.begin(), it->second.end());
  }
  return args;
}

std::vector<std::string> Cluster::SecretArgs() const {
  if (!options_.peer_secret) return {};
  return {"--cluster_secret_file", absl::StrCat(dir_, "/cluster.secret")};
}

void Cluster::Authenticate(Client& c) const {
  if (auth_ && c.connected()) c.Call({"AUTH", auth_->first, auth_->second});
}

std::unique_ptr<Client> Cluster::Connect(int i) const {
  auto c = std::make_unique<Client>(ports_[i]);
  Authenticate(*c);
  return c;
}

pid_t Cluster::ChildPid(int i) {
  int pid = -1;
  return absl::SimpleAtoi(Status(i)["child_pid"], &pid) ? pid : -1;
}

std::map<std::string, std::string> Cluster::Status(int i) {
  std::map<std::string, std::string> out;
  Client c(ports_[i]);
  if (!c.connected()) return out;
  // Bounded as a whole: a node without a leader makes AUTH wait too.
  if (auth_) {
    std::string auth;
    resp::AppendCommand(&auth, {"AUTH", auth_->first, auth_->second});
    c.Send(auth);
    if (!c.Read(std::chrono::seconds(2))) return out;
  }
  c.Send("*1\r\n$14\r\nANARCHO.STATUS\r\n");
  auto v = c.Read(std::chrono::seconds(2));
  if (!v || v->IsError()) return out;
  for (size_t k = 0; k + 1 < v->elements.size(); k += 2) out[v->elements[k].AsString()] = v->elements[k + 1].AsString();
  return out;
}

int Cluster::WaitForLeader(std::chrono::milliseconds timeout, std::set<int> among) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < size(); ++i) {
      if (!among.empty() && !among.contains(i)) continue;
      if (!nodes_[i]->process().Running()) continue;
      auto s = Status(i);
      if (s["role"] == "leader" && s["state"] == "serving") return i;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

void Cluster::Kill9(int i) { nodes_[i]->Kill9(); }

void Cluster::Restart(int i) {
  nodes_[i]->Kill9();
  nodes_[i] = std::make_unique<Node>(nodes_[i]->dir(), ports_[i], NodeArgs(i));
  nodes_[i]->Start();
}

void Cluster::WipeAndRestart(int i) {
  nodes_[i]->Kill9();
  std::string dir = nodes_[i]->dir();
  RemoveDir(dir);
  nodes_[i] = std::make_unique<Node>(dir, ports_[i], NodeArgs(i));
  nodes_[i]->Start();
}

std::string Cluster::Replace(int i) {
  if (generation_[i] >= kSpareGenerations) return "no spare id left";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // The node to replace is never the leader asked; once wiped, it has none.
  std::set<int> others;
  for (int k = 0; k < size(); ++k) {
    if (k != i) others.insert(k);
  }
  auto voters_of = [&](int leader) -> std::set<std::string> {
    std::vector<std::string> v = absl::StrSplit(Status(leader)["voters"], ',', absl::SkipEmpty());
    return {v.begin(), v.end()};
  };
  // Asks the leader (which may change meanwhile) until it accepts.
  auto ask = [&](const std::vector<std::string>& args) -> std::string {
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      int leader = WaitForLeader(std::chrono::seconds(10), others);
      if (leader < 0) return "no leader other than the node to replace";
      Client c(ports_[leader]);
      Authenticate(c);
      resp::Value v = c.Call(args);
      if (!v.IsError()) return "";
      last = v.str;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return absl::StrCat(args[0], " failed: ", last);
  };
  auto wait_voters = [&](const std::string& id, bool present) {
    while (std::chrono::steady_clock::now() < deadline) {
      int leader = WaitForLeader(std::chrono::seconds(10), others);
      if (leader >= 0 && voters_of(leader).contains(id) == present) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  const std::string old_id = absl::StrCat(ids_[i]);
  if (auto e = ask({"ANARCHO.REMOVE", old_id}); !e.empty()) return e;
  if (!wait_voters(old_id, false)) return absl::StrCat("node ", old_id, " still a voter after its removal");
  nodes_[i]->Kill9();  // it may not have learned of its removal (partitioned, paused)
  std::string dir = nodes_[i]->dir();
  RemoveDir(dir);
  ++generation_[i];
  ids_[i] = SpareId(i, generation_[i]);
  const std::string new_id = absl::StrCat(ids_[i]);
  nodes_[i] = std::make_unique<Node>(dir, ports_[i], NodeArgs(i));
  nodes_[i]->Launch();
  // The address in the entry is for nodes without an address book entry; ours
  // reach it through their proxies.
  if (auto e = ask({"ANARCHO.ADD", new_id, absl::StrCat("127.0.0.1:", ports_[i], ":", raft_ports_[i])}); !e.empty()) {
    return e;
  }
  if (!wait_voters(new_id, true)) return absl::StrCat("node ", new_id, " was not promoted to voter within 30 s");
  return "";
}

std::vector<FaultProxy*> Cluster::LinksFrom(int from, int to) {
  std::vector<FaultProxy*> out = {proxies_.at({from, to}).get()};
  if (auto it = relay_proxies_.find({from, to}); it != relay_proxies_.end()) out.push_back(it->second.get());
  return out;
}

void Cluster::Partition(const std::set<int>& a, const std::set<int>& b, bool silently) {
  for (int i : a) {
    for (int j : b) {
      for (FaultProxy* p : LinksFrom(i, j)) p->SetBlocked(true, !silently);
      for (FaultProxy* p : LinksFrom(j, i)) p->SetBlocked(true, !silently);
    }
  }
}

void Cluster::CutOneWay(const std::set<int>& from, const std::set<int>& to) {
  for (int i : from) {
    for (int j : to) {
      for (FaultProxy* p : LinksFrom(i, j)) p->SetBlocked(true);
    }
  }
}

void Cluster::StallLinks(const std::set<int>& a, const std::set<int>& b) {
  for (int i : a) {
    for (int j : b) {
      for (FaultProxy* p : LinksFrom(i, j)) p->Freeze();
      for (FaultProxy* p : LinksFrom(j, i)) p->Freeze();
    }
  }
}

void Cluster::StallRelay(int from, int to) { relay_proxies_.at({from, to})->Freeze(); }

void Cluster::Heal() {
  for (auto& [_, p] : proxies_) p->SetBlocked(false);
  for (auto& [_, p] : relay_proxies_) p->SetBlocked(false);
}

std::string Cluster::ChildSyncsAgain(int i) {
  const std::string syncs = Status(i)["child_full_syncs"];
  auto killed = ChildCall(i, {"CLIENT", "KILL", "TYPE", "master"});
  if (!killed.ok()) return killed.status().ToString();
  if (killed->integer != 1) return "the child had no link to its node";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Status(i)["child_full_syncs"] == syncs) {
    if (std::chrono::steady_clock::now() > deadline) return "the child did not sync again";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return "";
}

absl::StatusOr<resp::Value> Cluster::ChildCall(int i, const std::vector<std::string>& args) {
  asio::io_context io;
  node::SyncClient c(io);
  if (auto s = c.Connect(nodes_[i]->dir() + "/child/redis.sock"); !s.ok()) return s;
  std::vector<std::string_view> views(args.begin(), args.end());
  std::string request;
  if (auth_) resp::AppendCommand(&request, {"AUTH", auth_->first, auth_->second});
  resp::AppendCommand(&request, views);
  resp::Value reply;
  if (auto s = c.Pipeline(request, auth_ ? 2 : 1, [&](const resp::Value& v) { reply = v; }); !s.ok()) return s;
  return reply;
}

absl::Status Cluster::WriteBehindTheLog(int i, const std::string& key) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"CONFIG", "SET", "replica-read-only", "no"}, {"SET", key, "1"}}) {
    absl::StatusOr<resp::Value> v = ChildCall(i, args);
    if (!v.ok()) return v.status();
    if (v->AsString() != "OK") return absl::InternalError(absl::StrCat(args[0], ": ", v->str));
  }
  return absl::OkStatus();
}

std::string Cluster::ChildDigest(int i) {
  auto v = ChildCall(i, {"DEBUG", "DIGEST"});
  return v.ok() ? v->AsString() : "";
}

// Logs divergence checks through the leader until every running member
// compared its child with the leader's at the same log index. Any mismatch a
// member ever counted (periodic checks included) fails.
bool Cluster::WaitConverged(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int leader = WaitForLeader(std::chrono::seconds(5));
    if (leader < 0) continue;
    Client c(ports_[leader]);
    Authenticate(c);
    resp::Value v = c.Call({"ANARCHO.DIGEST"});
    if (v.IsError() || v.elements.size() != 4) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const uint64_t index = static_cast<uint64_t>(v.elements[1].integer);
    const std::string digest = v.elements[3].AsString();
    auto wait_until = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    while (std::chrono::steady_clock::now() < wait_until) {
      bool all = true;
      for (int i = 0; i < size(); ++i) {
        if (!nodes_[i]->process().Running()) continue;
        auto st = Status(i);
        if (st["digest_mismatches"] != "0" && !st["digest_mismatches"].empty()) {
          std::cerr << "node " << i + 1 << " counted " << st["digest_mismatches"] << " digest mismatches\n";
          return false;
        }
        uint64_t at = 0;
        if (!absl::SimpleAtoi(st["last_digest_index"], &at) || at < index) {
          all = false;
        } else if (at == index && st["last_digest"] != digest) {
          std::cerr << "node " << i + 1 << " has digest " << st["last_digest"] << " at index " << index
                    << ", the leader " << digest << "\n";
          return false;
        }
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return false;
}

}  // namespace itest
