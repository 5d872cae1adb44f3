// What the node knows of every command: arity, flags and key specs as the child
// reports them (Redis 7 `COMMAND`), and the class that decides its path through
// the node (see shared/DESIGN.md, "Commands").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/status/statusor.h"
#include "resp/value.h"

namespace node {

// A command or subcommand name in lowercase, with no heap allocation for the
// usual short names (this runs for every request).
class LowerName {
 public:
  explicit LowerName(std::string_view s) {
    if (s.size() <= sizeof(buf_)) {
      for (size_t i = 0; i < s.size(); ++i) buf_[i] = static_cast<char>(absl::ascii_tolower(static_cast<unsigned char>(s[i])));
      view_ = std::string_view(buf_, s.size());
    } else {
      long_ = absl::AsciiStrToLower(absl::string_view(s.data(), s.size()));
      view_ = long_;
    }
  }
  LowerName(const LowerName&) = delete;
  LowerName& operator=(const LowerName&) = delete;
  std::string_view view() const { return view_; }

 private:
  char buf_[32];
  std::string long_;
  std::string_view view_;
};

// How a command travels through the node.
enum class CommandClass {
  kKeyedWrite,     // locks its keys, reply held until the effects commit
  kKeyedRead,      // reply waits for the locks of its keys
  kKeyspaceWrite,  // keys unknown or the whole keyspace: locks everything
  kKeyspaceRead,   // sees the whole keyspace: waits for every earlier write
  kBlocking,       // may block in the child (BLPOP, XREAD): no lock while blocked; readers of its keys use a barrier
  kTransaction,    // MULTI EXEC DISCARD WATCH UNWATCH
  kSubscribe,      // (P|S)SUBSCRIBE and unsubscribes: the connection turns into a stream
  kPassThrough,    // connection-local, pub/sub publish, harmless admin: forwarded as is
  kNodeLocal,      // answered by the node itself (QUIT, ANARCHO.*, WAIT)
  kRefused,        // would break the child's role or consistency: refused with `refusal`
};

std::string_view CommandClassName(CommandClass c);

struct KeySpec {
  enum class Begin { kIndex, kKeyword, kUnknown };
  enum class Find { kRange, kKeynum, kUnknown };
  Begin begin = Begin::kUnknown;
  int index = 0;           // Begin::kIndex
  std::string keyword;     // Begin::kKeyword (lowercase)
  int startfrom = 0;       // Begin::kKeyword; negative searches from the end
  Find find = Find::kUnknown;
  int lastkey = 0, keystep = 1, limit = 0;  // Find::kRange
  int keynumidx = 0, firstkey = 0;          // Find::kKeynum (keystep shared)
  bool write = false;       // RW, OW or RM
  bool incomplete = false;  // the spec may miss keys
};

struct CommandSpec {
  std::string name;  // lowercase; "config|set" for a subcommand
  int arity = 0;     // Redis convention: -N means at least N
  bool write = false, readonly = false, blocking = false, movablekeys = false;
  bool pubsub = false, scripting = false;
  bool no_multi = false;  // Redis refuses it inside MULTI
  bool may_replicate = false;  // a read that may still change the data
  bool admin = false, skip_monitor = false;  // MONITOR does not show it
  // SCAN, HSCAN, SSCAN, ZSCAN: the argument that holds the cursor, a position
  // in one child's hash tables (scan_cursor.h); 0 for every other command.
  size_t scan_cursor_arg = 0;
  // A follower may run it on its own child (a replica): a read of keys or of
  // the keyspace that changes nothing and is no script, pub/sub, blocking
  // command (XREAD BLOCK would hold the connection all reads share) or scan.
  bool follower_read = false;
  // The leader may send it on the link to its child that sessions share
  // (SharedLink): a read or write of keys, or a read of the keyspace, that
  // is no script, pub/sub or blocking command (any of which would hold up the
  // other sessions' requests, or needs the client's own connection).
  bool shared_link = false;
  std::vector<KeySpec> key_specs;
  absl::flat_hash_map<std::string, std::unique_ptr<CommandSpec>> subcommands;
  CommandClass cls = CommandClass::kPassThrough;
  std::string refusal;  // kRefused: the error text, with its "ERR " prefix
};

struct KeyRef {
  size_t pos;  // index into args
  bool write;
};

struct Keys {
  absl::InlinedVector<KeyRef, 3> keys;
  bool incomplete = false;  // some keys could not be found from the specs
};

class CommandTable {
 public:
  // Builds the table from the reply to `COMMAND` (RESP2 or RESP3) and applies
  // the node's classification.
  static absl::StatusOr<CommandTable> FromCommandReply(const resp::Value& reply);

  // The spec for a request (descending into subcommands), nullptr if unknown.
  const CommandSpec* Lookup(std::span<const std::string_view> args) const;

  static bool ArityOk(const CommandSpec& spec, size_t argc) {
    return spec.arity >= 0 ? argc == static_cast<size_t>(spec.arity)
                           : argc >= static_cast<size_t>(-spec.arity);
  }

  // The key positions of `args` according to the spec's key specs.
  static Keys GetKeys(const CommandSpec& spec, std::span<const std::string_view> args);

  size_t size() const { return commands_.size(); }

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<CommandSpec>> commands_;
};

// The node's own commands (ANARCHO.*), and others it answers itself.
bool IsNodeCommand(std::string_view lowercase_name);
// A setting that belongs to the node rather than to the data (persistence,
// replication, networking, the child's process): why CONFIG SET of it is
// refused, unless it asks for the value it already has (the router checks
// that, see SettingsCheck). Every other setting is replicated (see
// node/logged_state.h).
std::optional<std::string_view> NodeOwnedSetting(std::string_view lowercase_name);
// A setting redis-server 7.0 never changes at run time: CONFIG SET of it
// fails with Redis's own "can't set immutable config", before the node's
// reasons.
bool ImmutableSetting(std::string_view lowercase_name);
// Node commands every node answers about itself, at once, even with no leader.
bool IsLocalNodeCommand(std::string_view lowercase_name);
// Node commands that act on the node they are sent to (the others go to the
// leader): the local ones, and ANARCHO.SNAPSHOT (this node's own snapshot).
bool RunsOnThisNode(std::string_view lowercase_name);
// What a node answers itself while it has no leader to forward to (with
// nothing queued before it): the local node commands, INFO (from its own
// child), PING (a replica of Redis answers it with its master down too) and
// SHUTDOWN (stops this node).
bool AnsweredWithoutLeader(std::string_view lowercase_name);

}  // namespace node
