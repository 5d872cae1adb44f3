// State that every member's child must share but that the child's
// replication stream does not carry: the script cache (Redis 7 replicates
// scripts by their effects, and an RDB file does not hold the cache), the
// settings changed with CONFIG SET, the users (ACL SETUSER and DELUSER, and
// CONFIG SET requirepass, which sets the default user's password), and DEBUG
// switches of behaviour
// (SET-ACTIVE-EXPIRE, QUICKLIST-PACKED-THRESHOLD, kept as settings named
// "debug <subcommand>"). The leader logs the request that changed
// it as a node entry (an EffectBatch with no stream id); every member's child
// runs that entry from the log, and every node folds it in here, so that a
// snapshot records it and a child rebuilt from a snapshot gets it back (the
// prelude of a full sync) before the entries after the snapshot.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/effects.pb.h"
#include "node/node_acl.h"
#include "node/snapshot.pb.h"

namespace node {

// A request a client ran on the leader's child that changed state the stream
// does not carry: the node logs it as a node entry, run in database `db`.
struct LoggedRequest {
  std::vector<std::string> args;
  int db = 0;
};

// What follows a logged XREADGROUP that read pending entries: for each
// stream it read so (the request's own), XCLAIM of the entries the read
// returned, at `now_ms` (the leader's time of the read), JUSTID (the
// delivery count is the read's). Each child runs the read at its own time:
// without these, a child rebuilt from the log (an old leader's at every
// leadership change, any node's at a restart) took its entries for just
// delivered, and XAUTOCLAIM's min-idle missed them. Entries the read found
// deleted (no fields) are left out: XCLAIM would drop them from the pending
// list where the leader's child keeps them. Empty for any other request or
// an unreadable reply.
std::vector<LoggedRequest> PendingReadClaims(const LoggedRequest& read, std::string_view reply, int64_t now_ms);

class LoggedState {
 public:
  // Folds in a node entry's requests (one, or those of one transaction):
  // SCRIPT LOAD/FLUSH, CONFIG SET, ACL SETUSER/DELUSER, DEBUG <switch>
  // <value>. False if none is one of those (XREADGROUP).
  bool Apply(const pb::EffectBatch& node_entry);

  void Load(const pb::SnapshotMeta& meta);
  // Writes the scripts and settings into `meta`.
  void Save(pb::SnapshotMeta* meta) const;
  // Copies this state's part of a snapshot's metadata.
  static void Copy(const pb::SnapshotMeta& from, pb::SnapshotMeta* to);
  // The requests that give a child loaded from a snapshot this state.
  static std::string Prelude(const pb::SnapshotMeta& meta);
  // The settings' part of the prelude (CONFIG SET, DEBUG <switch>), for the
  // child to take before the snapshot's RDB loads too (Server::OnChildSyncRequested).
  static std::vector<std::vector<std::string>> SettingRequests(const pb::SnapshotMeta& meta);
  // A node entry's request as children run it: an ACL SETUSER without the
  // rules only the node knows (NodeAcl); any other, unchanged.
  static std::vector<std::string> ForChild(std::span<const std::string_view> request);

  // The value last set for `name` or any of `aliases` (as CONFIG SET took it).
  std::optional<std::string> Setting(std::initializer_list<std::string_view> names) const;
  // Whether a child with these settings may evict keys of its own accord:
  // maxmemory above 0 and a policy other than noeviction (Redis's defaults
  // are 0 and noeviction).
  bool MayEvict() const;
  // Whether CONFIG SET of `name` (lower case) to `value` may start a child
  // evicting, whatever its other settings are: a maxmemory above 0, or an
  // eviction policy. (A value Redis refuses changes nothing, whatever this
  // says of it.)
  static bool MayStartEvicting(std::string_view name, std::string_view value);
  size_t scripts() const { return scripts_.size(); }
  // What the scripts, settings and user changes take (what a snapshot holds of them).
  size_t bytes() const { return bytes_; }
  size_t settings() const { return settings_.size(); }
  // User changes in force (0: every child has Redis's initial users).
  size_t acl_changes() const { return acl_.size() - pubsub_defaults_; }
  // Counts the user changes folded in (and loads): changes when they may have.
  uint64_t acl_generation() const { return acl_generation_; }
  // Who may run the node's own commands (the @anarcho category).
  const NodeAcl& node_acl() const { return node_acl_; }

 private:
  bool ApplyRequest(const std::vector<std::string_view>& args);
  void SetSetting(std::string name, std::string_view value);
  template <typename Pred>
  void EraseSettings(Pred pred);
  void AddAclChange(std::string change);
  void RemoveAclChange(size_t i);
  void SetRequirepass(std::string_view value);
  void AddPubsubDefault(std::string_view value);
  template <typename Pred>
  void EraseAclChanges(Pred pred);

  std::set<std::string> scripts_;
  // In the order set: a later setting of a name replaces the earlier one, and
  // aliases (hash-max-ziplist-entries, hash-max-listpack-entries) keep their
  // order, so replaying them yields what the leader's child had.
  std::vector<std::pair<std::string, std::string>> settings_;
  // The user changes, RESP-encoded, in the order made: each ACL SETUSER
  // builds on the ones before (rules add up), and CONFIG SET requirepass
  // resets the default user's passwords, so their order matters. A DELUSER
  // drops the changes of the users it deleted (and itself: a fresh child
  // never had them); a requirepass replaces the ones before it. The
  // acl-pubsub-default changes are here too (AddPubsubDefault).
  std::vector<std::string> acl_;  // as the client gave them (node rules included)
  size_t pubsub_defaults_ = 0;    // of acl_, the acl-pubsub-default changes
  size_t bytes_ = 0;              // of the three above
  uint64_t acl_generation_ = 0;
  NodeAcl node_acl_;  // folded from acl_
};

// The logged state as of any index from the newest snapshot's on: the state
// at that snapshot and the node entries that changed it since. A snapshot
// carries the state as of its own index, not as of the last commit: the
// entries after its index run again on a child rebuilt from it, and some do
// not bear running twice (an ACL SETUSER that adds a selector adds another).
class LoggedHistory {
 public:
  // The newest snapshot (loaded at start, or received from the leader).
  void Reset(const pb::SnapshotMeta& meta);
  // A node entry that changed the state (LoggedState::Apply said so), committed at `index`.
  void Add(uint64_t index, const pb::EffectBatch& node_entry);
  // The state as of `index` (at or after the newest snapshot's) into `meta`.
  void Save(uint64_t index, pb::SnapshotMeta* meta) const;
  // A snapshot at `index` is the newest now.
  void Advance(uint64_t index);

 private:
  LoggedState base_;
  std::deque<std::pair<uint64_t, pb::EffectBatch>> since_;
};

}  // namespace node
