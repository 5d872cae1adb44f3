// Workloads, nemeses and a whole fault run against a real cluster (issue 6).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.h"
#include "history.h"

namespace fault {

using namespace std::chrono_literals;

class Conn;  // a client's connection (workload.cc)

struct WorkloadOptions {
  int register_clients = 6;
  int register_keys = 4;  // per db
  int register_dbs = 3;   // each register op SELECTs one of them first
  // Register clients that only read. A client whose write hangs (on a leader
  // cut off from the others) stops asking; readers keep asking, and give up a
  // read after reader_timeout (one may wait behind such a write) to ask again
  // on a fresh connection.
  int register_readers = 0;
  std::chrono::milliseconds reader_timeout = 5s;
  // How register reads are made, picked at random: "get", "getex" (a write
  // command that propagates nothing), "eval" (a script that only reads).
  std::vector<std::string> read_via = {"get", "getex", "eval"};
  bool register_incr = true;  // a fifth of a writer's ops are INCRs (else SETs)
  int list_clients = 3;
  int list_keys = 3;                         // in use at a time
  int64_t list_key_lifetime_ns = 10'000'000'000;  // then the list clients move to new keys
  int bank_clients = 3;
  int bank_accounts = 5;
  int64_t bank_initial = 100;
  // Queue: producers RPUSH unique elements; consumers BLPOP (or BLMOVE to a
  // list of their own) with a 1 s timeout, or (queue_leave_percent of the
  // time) with none and close the connection 20-300 ms later if still blocked.
  int queue_producers = 1;
  int queue_consumers = 2;
  int queue_leave_percent = 50;
  // Percent of the pops that are BLMOVEs to the consumer's own taken list
  // (queue_leave_percent of them leave too); the rest are BLPOPs.
  int queue_move_percent = 50;
  // Between pushes: slower than the consumers, so that they mostly wait
  // blocked (and those that leave, leave while blocked).
  std::chrono::milliseconds queue_push_pause = 60ms;
  int64_t queue_producers_from_ns = 0;              // producers wait until then
  int64_t queue_consumers_until_ns = kInf;          // consumers stop then
  // SET with a short TTL, then PERSIST or EXPIRE far away: acknowledged keys
  // must stay, across child rebuilds too (children replay the log as replicas).
  int ttl_clients = 1;
  // Stream: producers XADD unique payloads to one stream; the consumers of one
  // group read new entries (kStreamCount at most), blocking 1 s or (leave
  // percent of the time) with no timeout and leaving 20-300 ms later if still
  // blocked; they XACK four reads in five and now and then read their own
  // pending entries back. noack percent of their reads of new entries are
  // with NOACK: what those deliver never becomes pending. After delete
  // percent of their ok XACKs (and the claimers'), they XDEL what it named:
  // only entries that are no longer pending are ever deleted.
  int stream_producers = 1;
  int stream_consumers = 2;
  int stream_leave_percent = 30;
  int stream_noack_percent = 15;
  int stream_delete_percent = 25;
  // Claimers take over entries pending for stream_claim_idle or more
  // (XAUTOCLAIM, kStreamCount at a time, every 150 ms) and acknowledge them.
  // Short enough to race the consumers' own reads of the entries they keep.
  int stream_claimers = 1;
  std::chrono::milliseconds stream_claim_idle = 500ms;
  std::chrono::milliseconds stream_add_pause = 40ms;
  // Fillers SET values of filler_value_bytes to filler_keys keys spread over
  // the register dbs, filler_pause apart: under a maxmemory a little above
  // what the cluster holds otherwise, each such write makes the leader's
  // child evict keys, registers among them. Their replies are not checked.
  int filler_clients = 0;
  int filler_keys = 300;
  int filler_value_bytes = 32 * 1024;
  std::chrono::milliseconds filler_pause = 20ms;
  // With a TTL (seconds, far beyond the run) the fillers' keys are the only
  // volatile ones: a volatile-* policy evicts them alone, so every other
  // workload's checker still applies while the child evicts.
  int filler_ttl_s = 0;
  // The server may evict any key (maxmemory with an allkeys policy): the
  // register checker lets a read find a key absent (CheckRegisters).
  bool evictions = false;
  std::chrono::milliseconds op_timeout = 5s;  // no reply within it: unknown
  std::chrono::milliseconds think = 3ms;      // pause between a client's ops
  uint64_t seed = 1;
};

inline constexpr int kStreamCount = 2;  // entries one read of new entries takes at most

// Concurrent clients against every node of the cluster, recording each op.
class Workload {
 public:
  Workload(itest::Cluster& c, WorkloadOptions o);
  ~Workload();
  void Start();  // writes the bank's initial balances, then starts the clients
  void Stop();
  int64_t Now() const;  // ns since the workload was created
  History& history() { return history_; }
  const WorkloadOptions& options() const { return o_; }
  std::vector<std::string> list_keys() const;  // every list key used so far
  std::vector<std::string> accounts() const;
  // Final reads after every fault is healed (retried until they succeed).
  bool ReadFinal(std::chrono::milliseconds timeout = 30s);
  const std::vector<std::pair<std::string, std::vector<std::string>>>& final_lists() const { return final_lists_; }
  const std::vector<int64_t>& final_balances() const { return final_balances_; }
  const std::vector<std::string>& final_queue() const { return final_queue_; }
  CheckResult Check(int64_t register_budget_ms = 30000) const;
  std::vector<std::string> errors_seen() const;
  // What the fillers' acknowledged writes stored, counting each key once:
  // more than maxmemory allows at once proves that the child evicted.
  int64_t FillerBytesStored() const;

 private:
  void RegisterClient(int id, bool reader);
  void FillerClient(int id);
  int ReadSelectReplies(Conn& conn, bool invalid_first, int db);
  void ListClient(int id);
  void BankClient(int id);
  Op ReadBalances(Conn& conn, const std::vector<std::string>& accts);
  Op TransferMulti(Conn& conn, Op op);
  std::optional<Op> TransferWatch(Conn& conn, Op op);
  Op TransferScript(Conn& conn, Op op);
  void ProducerClient(int id);
  void ConsumerClient(int id);
  void RemoveTaken(Conn& conn, int id, const std::string& elem);
  void ReadTaken(Conn& conn, int id);
  void TtlClient(int id);
  bool ReadFinalTtl(const std::function<std::optional<resp::Value>(const std::vector<std::string>&)>& read);
  void StreamProducer(int id);
  void StreamConsumer(int id);
  void StreamClaimer(int id);
  void AckEntries(Conn& conn, const std::string& consumer, const std::vector<std::string>& ids, int id, bool then_delete);
  bool Counted(Conn& conn, OpKind kind, std::vector<std::string> command, const std::string& consumer,
               const std::vector<std::string>& ids, int id);
  bool ReadFinalStream(const std::function<std::optional<resp::Value>(const std::vector<std::string>&)>& read);
  bool SetUp(const std::vector<std::string>& cmd, std::string_view done_error = {});
  void Surprise(std::string what);  // a reply Redis would never give: reported as an anomaly
  std::vector<std::string> ListKeysOf(int64_t generation) const;

  itest::Cluster& c_;
  WorkloadOptions o_;
  std::chrono::steady_clock::time_point t0_;
  History history_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> list_generation_{0};  // the newest generation of list keys in use
  std::vector<std::thread> threads_;
  std::vector<std::pair<std::string, std::vector<std::string>>> final_lists_;
  std::vector<int64_t> final_balances_;
  std::vector<std::string> final_queue_;
  std::vector<int> queue_consumer_ids_;
  std::map<std::string, std::vector<std::string>> final_taken_;  // each consumer's taken list
  std::map<std::string, int64_t> final_ttl_;
  StreamFinal final_stream_;
  mutable std::mutex filler_mu_;
  std::set<std::string> filler_keys_stored_;  // "<db>:<key>" acknowledged by a filler
  mutable std::mutex surprises_mu_;
  std::vector<std::string> surprises_;
};

struct FaultEvent {
  std::string nemesis;
  std::string detail;
  int64_t start_ns = 0, heal_ns = 0, end_ns = 0;  // end: a write acknowledged again after the heal
  std::string problem;  // non-empty: the cluster did not recover (a failure of the run)
};

// Injects one fault at a time, holds it, heals it, waits for a serving leader.
// Runs on the test's thread (nodes it restarts die with the thread that started them).
class Nemesis {
 public:
  Nemesis(itest::Cluster& c, const Workload& w, uint64_t seed) : c_(c), w_(w), rng_(seed) {}
  static std::vector<std::string> All();  // every nemesis's name
  FaultEvent Run(const std::string& kind, std::chrono::milliseconds hold);
  const std::vector<FaultEvent>& events() const { return events_; }

 private:
  struct Roles {
    int leader = 0;      // the serving leader when the nemesis starts
    int other = 0;       // a follower picked at random
    std::set<int> rest;  // every node but the leader
  };
  using Family = void (Nemesis::*)(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold,
                                   FaultEvent& ev);
  static const std::map<std::string, Family>& Families();
  void Kills(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev);
  void SignalsToOne(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev);
  void Cuts(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev);
  void Operations(const std::string& kind, const Roles& roles, std::chrono::milliseconds hold, FaultEvent& ev);
  int Leader();
  void Restart(const std::vector<int>& victims, FaultEvent& ev);
  int Other(int not_this);
  bool WriteAcknowledged(std::chrono::milliseconds within);
  itest::Cluster& c_;
  const Workload& w_;
  std::mt19937_64 rng_;
  std::vector<FaultEvent> events_;
};

// Per nemesis: ops invoked during its events by outcome, and the longest time
// without any successful op (the unavailability window).
std::string Summarize(const std::vector<Op>& ops, const std::vector<FaultEvent>& events, const CheckResult& check);

// Copies every node's logs (and the history) under /tmp/fault-logs/<name>-<time>/; returns the dir.
std::string KeepLogs(itest::Cluster& c, const std::string& name, const std::vector<Op>& ops,
                     const std::vector<FaultEvent>& events, const std::string& report);

}  // namespace fault
