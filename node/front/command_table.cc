#include "node/front/command_table.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "node/front/scan_cursor.h"

namespace node {
namespace {

using resp::Type;
using resp::Value;

bool IsAggregate(const Value& v) { return v.type == Type::kArray || v.type == Type::kMap; }

// RESP2 sends maps as flat arrays; RESP3 as maps with flattened pairs. Either way
// elements alternate key, value.
const Value* Field(const Value& map, std::string_view name) {
  if (!IsAggregate(map)) return nullptr;
  for (size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (absl::EqualsIgnoreCase(map.elements[i].AsString(), absl::string_view(name.data(), name.size()))) {
      return &map.elements[i + 1];
    }
  }
  return nullptr;
}

int IntField(const Value& map, std::string_view name, int fallback = 0) {
  const Value* v = Field(map, name);
  if (!v) return fallback;
  if (v->type == Type::kInteger) return static_cast<int>(v->integer);
  int n = fallback;
  (void)absl::SimpleAtoi(v->AsString(), &n);
  return n;
}

KeySpec ParseKeySpec(const Value& v) {
  KeySpec ks;
  if (const Value* flags = Field(v, "flags")) {
    for (const Value& f : flags->elements) {
      std::string name = absl::AsciiStrToUpper(f.AsString());
      if (name == "RW" || name == "OW" || name == "RM") ks.write = true;
      if (name == "INCOMPLETE") ks.incomplete = true;
    }
  }
  if (const Value* bs = Field(v, "begin_search")) {
    std::string type = Field(*bs, "type") ? Field(*bs, "type")->AsString() : "";
    const Value* spec = Field(*bs, "spec");
    if (type == "index" && spec) {
      ks.begin = KeySpec::Begin::kIndex;
      ks.index = IntField(*spec, "index");
    } else if (type == "keyword" && spec) {
      ks.begin = KeySpec::Begin::kKeyword;
      ks.keyword = absl::AsciiStrToLower(Field(*spec, "keyword") ? Field(*spec, "keyword")->AsString() : "");
      ks.startfrom = IntField(*spec, "startfrom");
    }
  }
  if (const Value* fk = Field(v, "find_keys")) {
    std::string type = Field(*fk, "type") ? Field(*fk, "type")->AsString() : "";
    const Value* spec = Field(*fk, "spec");
    if (type == "range" && spec) {
      ks.find = KeySpec::Find::kRange;
      ks.lastkey = IntField(*spec, "lastkey");
      ks.keystep = std::max(1, IntField(*spec, "keystep", 1));
      ks.limit = IntField(*spec, "limit");
    } else if (type == "keynum" && spec) {
      ks.find = KeySpec::Find::kKeynum;
      ks.keynumidx = IntField(*spec, "keynumidx");
      ks.firstkey = IntField(*spec, "firstkey");
      ks.keystep = std::max(1, IntField(*spec, "keystep", 1));
    }
  }
  if (ks.begin == KeySpec::Begin::kUnknown || ks.find == KeySpec::Find::kUnknown) ks.incomplete = true;
  return ks;
}

absl::StatusOr<std::unique_ptr<CommandSpec>> ParseCommand(const Value& v, std::string_view parent) {
  if (v.type != Type::kArray || v.elements.size() < 6) {
    return absl::InvalidArgumentError("COMMAND entry is not an array of at least 6 elements");
  }
  auto spec = std::make_unique<CommandSpec>();
  spec->name = absl::AsciiStrToLower(v.elements[0].AsString());
  spec->arity = static_cast<int>(v.elements[1].integer);
  for (const Value& f : v.elements[2].elements) {
    std::string flag = absl::AsciiStrToLower(f.AsString());
    if (flag == "write") spec->write = true;
    if (flag == "readonly") spec->readonly = true;
    if (flag == "blocking") spec->blocking = true;
    if (flag == "movablekeys") spec->movablekeys = true;
    if (flag == "pubsub") spec->pubsub = true;
    if (flag == "no_multi") spec->no_multi = true;
    if (flag == "may_replicate") spec->may_replicate = true;
    if (flag == "admin") spec->admin = true;
    if (flag == "skip_monitor") spec->skip_monitor = true;
  }
  if (v.elements.size() > 6) {
    for (const Value& c : v.elements[6].elements) {
      if (absl::EqualsIgnoreCase(c.AsString(), "@scripting")) spec->scripting = true;
    }
  }
  if (v.elements.size() > 8) {
    for (const Value& ks : v.elements[8].elements) spec->key_specs.push_back(ParseKeySpec(ks));
  }
  if (v.elements.size() > 9) {
    for (const Value& sub : v.elements[9].elements) {
      auto s = ParseCommand(sub, spec->name);
      if (!s.ok()) return s.status();
      // Subcommand names arrive as "config|set".
      std::string key = (*s)->name;
      if (auto bar = key.find('|'); bar != std::string::npos) key = key.substr(bar + 1);
      spec->subcommands[key] = std::move(*s);
    }
  }
  return spec;
}

// Commands that must not reach the child from a client, with the reason.
// Keys are "name" or "name|subcommand".
const absl::flat_hash_map<std::string, std::string>& RefusedCommands() {
  static const auto* refused = new absl::flat_hash_map<std::string, std::string>{
      {"replicaof", "ERR REPLICAOF is not allowed: anarchoredis nodes replicate through their Raft log"},
      {"slaveof", "ERR SLAVEOF is not allowed: anarchoredis nodes replicate through their Raft log"},
      {"sync", "ERR SYNC is not allowed: the replication link belongs to the node"},
      {"psync", "ERR PSYNC is not allowed: the replication link belongs to the node"},
      {"replconf", "ERR REPLCONF is not allowed: the replication link belongs to the node"},
      {"failover", "ERR FAILOVER is not allowed: use ANARCHO.TRANSFER to move leadership"},
      {"save", "ERR SAVE is not allowed: durability comes from the replicated log; use ANARCHO.SNAPSHOT"},
      {"bgsave", "ERR BGSAVE is not allowed: durability comes from the replicated log; use ANARCHO.SNAPSHOT"},
      {"bgrewriteaof", "ERR BGREWRITEAOF is not allowed: the child keeps no AOF; the log is the node's"},
      {"migrate", "ERR MIGRATE is not supported: it moves keys outside the replicated log"},
      {"module", "ERR MODULE is not allowed: every node's child must run the same code"},
      {"debug", "ERR this DEBUG subcommand is not allowed: it could make the node's children differ "
                "(DIGEST, OBJECT, SLEEP 0, SET-ACTIVE-EXPIRE, QUICKLIST-PACKED-THRESHOLD and the like are)"},
      {"config|rewrite", "ERR CONFIG REWRITE is not allowed: the child's settings belong to the node"},
      {"readonly", "ERR READONLY is not supported yet: every read is linearizable"},
      {"readwrite", "ERR READWRITE is not supported yet: every read is linearizable"},
  };
  return *refused;
}

void Classify(CommandSpec& spec, std::string_view parent) {
  const std::string& name = spec.name;
  const auto& refused = RefusedCommands();
  if (auto it = refused.find(name); it != refused.end()) {
    spec.cls = CommandClass::kRefused;
    spec.refusal = it->second;
    return;
  }
  static const absl::flat_hash_set<std::string> kTransaction = {"multi", "exec", "discard", "watch",
                                                                 "unwatch"};
  static const absl::flat_hash_set<std::string> kSubscribe = {
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"};
  static const absl::flat_hash_set<std::string> kNodeLocal = {"quit", "wait", "shutdown"};
  // Commands whose key specs do not name every key they write.
  static const absl::flat_hash_set<std::string> kWritesOtherDbs = {"move", "copy", "swapdb",
                                                                    "flushdb", "flushall"};

  bool complete = std::none_of(spec.key_specs.begin(), spec.key_specs.end(),
                               [](const KeySpec& k) { return k.incomplete; });
  if (kTransaction.contains(name)) {
    spec.cls = CommandClass::kTransaction;
  } else if (kSubscribe.contains(name)) {
    spec.cls = CommandClass::kSubscribe;
  } else if (kNodeLocal.contains(name)) {
    spec.cls = CommandClass::kNodeLocal;
  } else if (spec.scripting && spec.readonly) {
    // Scripts may read keys they did not declare.
    spec.cls = CommandClass::kKeyspaceRead;
  } else if (spec.scripting && (!spec.key_specs.empty() || spec.write)) {
    // EVAL, EVALSHA, FCALL (their key specs count numkeys) may write keys they did
    // not declare; FUNCTION LOAD/DELETE/FLUSH/RESTORE replace code for all keys.
    spec.cls = CommandClass::kKeyspaceWrite;
  } else if (spec.blocking) {
    // A blocking read too (XREAD): while it waits in the child, so does
    // everything behind it on that connection, covers included.
    spec.cls = CommandClass::kBlocking;
  } else if (spec.write) {
    spec.cls = (complete && !spec.key_specs.empty() && !kWritesOtherDbs.contains(name))
                   ? CommandClass::kKeyedWrite
                   : CommandClass::kKeyspaceWrite;
  } else if (spec.readonly) {
    spec.cls = (complete && !spec.key_specs.empty()) ? CommandClass::kKeyedRead
                                                     : CommandClass::kKeyspaceRead;
  } else {
    spec.cls = CommandClass::kPassThrough;
  }
  // Reads a replica does not answer as its master would: PFCOUNT is flagged
  // readonly but may rewrite the HyperLogLog's cached count (Redis 7.0
  // reports no may_replicate flag for it), which would make the children's
  // data differ; XINFO shows consumers' seen-time and entries-read, which a
  // replica keeps by itself; OBJECT FREQ and IDLETIME are each instance's own;
  // OBJECT ENCODING, MEMORY USAGE and DUMP show a value's encoding, which in a
  // child filled from an RDB (rebuilt from a snapshot, restarted, a new
  // member) is the one loading picks, not the one its writes left on the
  // leader. RANDOMKEY on a replica whose keys all have an expiry returns one
  // that has expired after 100 tries (a master deletes those it meets and
  // goes on). A scan's cursor is a position in one child's hash tables, which
  // the leader tags with its child's epoch (node/front/scan_cursor.h).
  static const absl::flat_hash_set<std::string> kMasterOnlyReads = {
      "pfcount", "xinfo", "object|freq", "object|idletime", "object|encoding", "memory|usage", "dump", "randomkey"};
  spec.scan_cursor_arg = scan_cursor::CursorArg(name);
  spec.follower_read = (spec.cls == CommandClass::kKeyedRead || spec.cls == CommandClass::kKeyspaceRead) &&
                       !spec.scripting && !spec.pubsub && !spec.may_replicate && !spec.write && !spec.blocking &&
                       spec.scan_cursor_arg == 0 &&
                       !kMasterOnlyReads.contains(name) &&  // subcommands are named "object|freq"
                       !kMasterOnlyReads.contains(std::string(parent));
  spec.shared_link = (spec.cls == CommandClass::kKeyedRead || spec.cls == CommandClass::kKeyedWrite ||
                      spec.cls == CommandClass::kKeyspaceRead) &&
                     !spec.scripting && !spec.pubsub && !spec.blocking;
  for (auto& [_, sub] : spec.subcommands) Classify(*sub, name);
}

}  // namespace

bool ImmutableSetting(std::string_view name) {
  // As redis-server 7.0.15 answers CONFIG SET of each setting to its own value.
  static const auto* immutable = new absl::flat_hash_set<std::string_view>{
      "always-show-logo", "aclfile", "aof_rewrite_cpulist", "appenddirname", "appendfilename", "bgsave_cpulist",
      "bio_cpulist", "cluster-config-file", "cluster-enabled", "cluster-port", "daemonize", "databases",
      "disable-thp", "enable-debug-command", "enable-module-command", "enable-protected-configs", "io-threads",
      "io-threads-do-reads", "logfile", "pidfile", "rdbchecksum", "replicaof", "server_cpulist", "set-proc-title",
      "slaveof", "socket-mark-id", "supervised", "syslog-enabled", "syslog-facility", "syslog-ident", "tcp-backlog",
      "unixsocket", "unixsocketperm"};
  return immutable->contains(name);
}

std::optional<std::string_view> NodeOwnedSetting(std::string_view name) {
  static constexpr std::string_view kDurability = "durability comes from the replicated log and the node's snapshots";
  static constexpr std::string_view kReplication = "the node owns its child's replication link";
  static constexpr std::string_view kNetwork = "clients connect to the node, not to its child (see the node's flags)";
  static constexpr std::string_view kProcess = "the node runs its child's process (see the node's flags)";
  static const auto* exact = new absl::flat_hash_map<std::string_view, std::string_view>{
      {"save", kDurability}, {"appendonly", kDurability}, {"appendfsync", kDurability},
      {"appendfilename", kDurability}, {"appenddirname", kDurability}, {"dir", kDurability},
      {"dbfilename", kDurability}, {"rdbcompression", kDurability}, {"rdbchecksum", kDurability},
      {"rdb-del-sync-files", kDurability}, {"rdb-key-save-delay", kDurability}, {"key-load-delay", kDurability},
      {"rdb-save-incremental-fsync", kDurability}, {"no-appendfsync-on-rewrite", kDurability},
      {"stop-writes-on-bgsave-error", kDurability},
      {"replicaof", kReplication}, {"slaveof", kReplication}, {"masterauth", kReplication},
      {"masteruser", kReplication},
      {"port", kNetwork}, {"bind", kNetwork}, {"bind-source-addr", kNetwork}, {"unixsocket", kNetwork},
      {"unixsocketperm", kNetwork}, {"protected-mode", kNetwork}, {"tcp-backlog", kNetwork},
      {"tcp-keepalive", kNetwork}, {"timeout", kNetwork}, {"maxclients", kNetwork},
      {"aclfile", kNetwork}, {"io-threads", kNetwork}, {"io-threads-do-reads", kNetwork},
      {"client-output-buffer-limit", "the node enforces output buffer limits itself (--client_output_buffer_limit)"},
      {"proto-max-bulk-len", "the node parses requests itself (--proto_max_bulk_len)"},
      {"daemonize", kProcess}, {"pidfile", kProcess}, {"logfile", kProcess}, {"loglevel", kProcess},
      {"supervised", kProcess}, {"oom-score-adj", kProcess}, {"oom-score-adj-values", kProcess},
      {"enable-debug-command", kProcess}, {"enable-protected-configs", kProcess},
      {"enable-module-command", kProcess}, {"crash-log-enabled", kProcess}, {"crash-memcheck-enabled", kProcess},
      {"disable-thp", kProcess}, {"set-proc-title", kProcess}, {"proc-title-template", kProcess},
  };
  static constexpr std::pair<std::string_view, std::string_view> kPrefixes[] = {
      {"aof-", kDurability}, {"auto-aof-", kDurability}, {"repl-", kReplication}, {"replica-", kReplication},
      {"slave-", kReplication}, {"min-replicas-", kReplication}, {"min-slaves-", kReplication},
      {"tls-", "the node serves TLS itself (see its --tls_* flags; SIGHUP reads its files again)"},
      {"cluster-", kProcess}, {"syslog-", kProcess}, {"shutdown-", kProcess},
  };
  if (auto it = exact->find(name); it != exact->end()) return it->second;
  for (const auto& [prefix, why] : kPrefixes) {
    if (name.starts_with(prefix)) return why;
  }
  return std::nullopt;
}

std::string_view CommandClassName(CommandClass c) {
  switch (c) {
    case CommandClass::kKeyedWrite: return "keyed-write";
    case CommandClass::kKeyedRead: return "keyed-read";
    case CommandClass::kKeyspaceWrite: return "keyspace-write";
    case CommandClass::kKeyspaceRead: return "keyspace-read";
    case CommandClass::kBlocking: return "blocking";
    case CommandClass::kTransaction: return "transaction";
    case CommandClass::kSubscribe: return "subscribe";
    case CommandClass::kPassThrough: return "pass-through";
    case CommandClass::kNodeLocal: return "node-local";
    case CommandClass::kRefused: return "refused";
  }
  return "?";
}

absl::StatusOr<CommandTable> CommandTable::FromCommandReply(const resp::Value& reply) {
  if (reply.type != Type::kArray) return absl::InvalidArgumentError("COMMAND reply is not an array");
  CommandTable table;
  for (const Value& entry : reply.elements) {
    auto spec = ParseCommand(entry, "");
    if (!spec.ok()) return spec.status();
    Classify(**spec, "");
    table.commands_[(*spec)->name] = std::move(*spec);
  }
  return table;
}

const CommandSpec* CommandTable::Lookup(std::span<const std::string_view> args) const {
  if (args.empty()) return nullptr;
  const LowerName name(args[0]);
  auto it = commands_.find(absl::string_view(name.view().data(), name.view().size()));
  if (it == commands_.end()) return nullptr;
  const CommandSpec* spec = it->second.get();
  if (!spec->subcommands.empty() && args.size() > 1) {
    const LowerName sub(args[1]);
    auto sit = spec->subcommands.find(absl::string_view(sub.view().data(), sub.view().size()));
    if (sit != spec->subcommands.end()) return sit->second.get();
  }
  return spec;
}

Keys CommandTable::GetKeys(const CommandSpec& spec, std::span<const std::string_view> args) {
  Keys out;
  const int argc = static_cast<int>(args.size());
  for (const KeySpec& ks : spec.key_specs) {
    if (ks.incomplete) out.incomplete = true;
    int first = -1;
    if (ks.begin == KeySpec::Begin::kIndex) {
      first = ks.index;
    } else if (ks.begin == KeySpec::Begin::kKeyword) {
      // Search forward from startfrom, or backward from argc+startfrom.
      int start = ks.startfrom >= 0 ? ks.startfrom : argc + ks.startfrom;
      int step = ks.startfrom >= 0 ? 1 : -1;
      for (int i = start; i >= 1 && i < argc; i += step) {
        if (absl::EqualsIgnoreCase(absl::string_view(args[i].data(), args[i].size()), ks.keyword)) {
          first = i + 1;
          break;
        }
      }
      if (first < 0) continue;  // keyword absent: this spec names no keys
    } else {
      continue;
    }
    if (first >= argc) continue;
    int last = -1, step = ks.keystep;
    if (ks.find == KeySpec::Find::kRange) {
      if (ks.lastkey >= 0) {
        last = first + ks.lastkey;
      } else if (ks.limit <= 1) {
        last = argc + ks.lastkey;
      } else {
        last = first + ((argc - first) / ks.limit + ks.lastkey);
      }
    } else if (ks.find == KeySpec::Find::kKeynum) {
      int numkeys = 0;
      int at = first + ks.keynumidx;
      if (at >= argc ||
          !absl::SimpleAtoi(absl::string_view(args[at].data(), args[at].size()), &numkeys) ||
          numkeys < 0) {
        out.incomplete = true;  // the child will reply with the error
        continue;
      }
      first += ks.firstkey;
      last = first + (numkeys - 1) * step;
    } else {
      continue;
    }
    for (int i = first; i <= last && i < argc; i += step) {
      out.keys.push_back(KeyRef{static_cast<size_t>(i), ks.write});
    }
  }
  return out;
}

bool IsNodeCommand(std::string_view lowercase_name) {
  return lowercase_name.starts_with("anarcho.");
}

bool IsLocalNodeCommand(std::string_view lowercase_name) {
  return lowercase_name == "anarcho.status" || lowercase_name == "anarcho.help" ||
         lowercase_name == "anarcho.health" || lowercase_name == "anarcho.members";
}

bool AnsweredWithoutLeader(std::string_view lowercase_name) {
  return IsLocalNodeCommand(lowercase_name) || lowercase_name == "info" || lowercase_name == "ping" ||
         lowercase_name == "shutdown";
}

bool RunsOnThisNode(std::string_view lowercase_name) {
  return IsLocalNodeCommand(lowercase_name) || lowercase_name == "anarcho.snapshot";
}

}  // namespace node
