// Pending ReadIndex requests on the leader (Raft thesis §6.4).
//
// A read is safe at index i once (1) the leader has committed an entry of its
// term and i is its commit index when the read arrived, and (2) a majority
// acknowledged a heartbeat sent after the read arrived, proving it was still
// leader then. Requests are confirmed in arrival order: an acknowledgment of
// the heartbeat carrying context c confirms c and every request before it, so
// one heartbeat round serves all reads in flight.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"

namespace consensus {

struct ReadRequest {
  uint64_t from = 0;  // node that asked (the leader itself for local reads)
  std::string context;
  uint64_t index = 0;  // leader's commit index when the request arrived
  // A follower's request: its term when it asked. Asked in the leader's term,
  // the request is that follower's acknowledgment of the leader, given after
  // the read began (0: not known).
  uint64_t asker_term = 0;
};

class ReadOnlyQueue {
 public:
  // Queues a request under `key` (ignored if the key is already pending). The
  // key, not the request's own context, travels in heartbeats: it must be
  // unique across requesters (the leader prefixes the requester's id).
  void Add(std::string key, ReadRequest req);
  // Records that `from` acknowledged a heartbeat carrying `key`; returns the
  // set of acknowledgers so far (nullptr if the key is unknown).
  const absl::btree_set<uint64_t>* RecvAck(uint64_t from, const std::string& key);
  // Removes and returns every request up to and including `key`.
  std::vector<ReadRequest> Release(const std::string& key);
  // Key of the newest pending request ("" if none).
  std::string LastKey() const;
  bool Empty() const { return queue_.empty(); }
  void Clear();

 private:
  struct Pending {
    ReadRequest req;
    absl::btree_set<uint64_t> acks;
  };
  absl::flat_hash_map<std::string, Pending> pending_;
  std::deque<std::string> queue_;
};

}  // namespace consensus
