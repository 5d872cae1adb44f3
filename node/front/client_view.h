// Clients as a client of the cluster sees them. The leader's child holds one
// connection per client session (and a few of the node's own, named with
// kInternalClientPrefix); CLIENT LIST and CLIENT INFO come from there and are
// rewritten here: the node's own connections left out, each session's real
// address in place of the unix socket's, and the U flag dropped. CLIENT KILL's
// filters are parsed and matched here, as Redis 7.0 parses and matches them,
// over those rows. Socket-free and pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace node {

// One line of CLIENT LIST: its fields in order.
struct ClientRow {
  std::vector<std::pair<std::string, std::string>> fields;
  const std::string* Get(std::string_view key) const;
  void Set(std::string_view key, std::string value);
  int64_t id() const;
  bool internal() const;  // one of the node's own connections
  std::string ToString() const;
};

std::vector<ClientRow> ParseClientRows(std::string_view text);

// A session's addresses as its client sees them.
struct ClientAddresses {
  std::string addr;   // the client's ip:port
  std::string laddr;  // the node's ip:port it connected to
};
using AddressBook = std::function<std::optional<ClientAddresses>(int64_t child_client_id)>;

// The rows a client is shown: internal ones dropped, addresses from `book`,
// flags without U ("N" if none is left).
std::vector<ClientRow> RowsForClients(std::string_view text, const AddressBook& book);
// The same as CLIENT LIST's text: rows end with "\n", as Redis's.
std::string ClientRowsForClients(std::string_view text, const AddressBook& book);

// INFO text with the value of `field` (connected_clients, maxclients)
// replaced by `value`; unchanged without that field.
std::string WithInfoField(std::string_view info, std::string_view field, std::string_view value);

// SLOWLOG GET's reply (every entry, asked with GET -1) as a client sees it:
// the node's own `ROLE` calls dropped (the leader's link asks the stream
// offset after writes; a client's own ROLE is never the child's to answer
// either), and so is whatever the node's own links
// (named kInternalClientPrefix...) ran, such as the busy watchdog's PING;
// then the newest `count` entries (-1: all).
// An unreadable reply is returned as it is.
std::string SlowlogForClients(std::string_view reply, int64_t count);

// ACL LOG's reply with each entry's client-info as CLIENT LIST shows that
// client (its address, not the child's socket). An unreadable reply, or one
// of another shape, is returned as it is.
std::string AclLogForClients(std::string_view reply, const AddressBook& book);

// The rules only the node knows of a user (NodeAcl::Describe), to follow the
// rules the child shows for it.
using NodeRules = std::function<std::string(std::string_view user, std::string_view child_rules)>;

// ACL LIST's or ACL USERS's reply without the node's own user (kInternalUser),
// each ACL LIST line with the user's node rules before its selectors. An
// unreadable reply is returned as it is.
std::string AclUsersForClients(std::string_view reply, const NodeRules& rules);

// ACL CAT's reply (an array of names) with `category` added.
std::string WithCategory(std::string_view reply, std::string_view category);

// ACL GETUSER's reply (RESP2 or RESP3) for `user`, its "commands" with the
// user's node rules. Any other reply is returned as it is.
std::string AclGetUserForClients(std::string_view reply, std::string_view user, const NodeRules& rules);

// CLIENT KILL's filters (Redis 7.0: ID, TYPE, ADDR, LADDR, USER, SKIPME), or
// the old form CLIENT KILL addr:port.
// Redis's answer to a connection past maxclients (then it closes it).
inline constexpr char kMaxClientsError[] = "-ERR max number of clients reached\r\n";

struct ClientKillFilter {
  bool old_form = false;  // CLIENT KILL addr:port: +OK or "No such client"
  std::optional<int64_t> id;
  std::optional<std::string> type;  // normal, replica (slave), master, pubsub
  std::optional<std::string> addr, laddr, user;
  bool skipme = true;
  bool Matches(const ClientRow& row, int64_t caller_id) const;
};

// The filter of CLIENT KILL's arguments (args[0] is CLIENT, args[1] KILL),
// or the error Redis gives for them. USER's existence is checked by the caller.
absl::StatusOr<ClientKillFilter> ClientKillFilterOf(std::span<const std::string_view> args);

}  // namespace node
