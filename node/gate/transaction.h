// What a MULTI transaction will write, gathered while its commands are queued.
// Nothing is locked until EXEC: a client that opens a transaction and goes
// idle must not delay anyone (shared/DESIGN.md, "The consistency gate"). At
// EXEC the gate locks everything recorded here in one ticket; the reads inside
// the transaction are covered by the commit of the offset after EXEC.
#pragma once

#include <span>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "node/gate/key_lock_table.h"

namespace node::gate {

class Transaction {
 public:
  // A queued command that may write `keys` (every key with `whole_keyspace`).
  void RecordWrite(std::span<const KeyLockTable::KeyId> keys, bool whole_keyspace) {
    if (whole_keyspace) whole_keyspace_ = true;
    for (KeyLockTable::KeyId k : keys) {
      if (seen_.insert(k).second) keys_.push_back(k);
    }
    writes_ = true;
  }

  bool writes() const { return writes_; }
  bool whole_keyspace() const { return whole_keyspace_; }
  const std::vector<KeyLockTable::KeyId>& keys() const { return keys_; }

 private:
  bool writes_ = false;
  bool whole_keyspace_ = false;
  std::vector<KeyLockTable::KeyId> keys_;
  absl::flat_hash_set<KeyLockTable::KeyId> seen_;
};

}  // namespace node::gate
