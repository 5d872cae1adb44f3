// What a divergence check compares (docs/design.md, "Divergence check"): a
// digest of a child's data that every member's child must share after the
// same log entry, "<data>:<streams>:<functions>:<users>".
//
// <data> is DEBUG DIGEST: every key's value and expiry, but of a stream only
// its entries, and no function library (measured on 7.0.15: XREADGROUP,
// XACK, XSETID, XGROUP SETID and FUNCTION LOAD leave it unchanged).
//
// <streams>: a script's SHA1 over what replicas must agree on in streams, the
// fields Redis replicates: each stream's length, last-generated-id,
// max-deleted-entry-id, entries-added and recorded-first-entry-id; each
// group's name, consumers, pending count and last-delivered-id; each
// consumer's name and pending count; each pending entry's ID, consumer and
// delivery count. Not idle times (each child's clock) nor a group's
// entries-read and lag (Redis 7.0 does not replicate them; a replica
// estimates them). Streams with a time to live are left to DEBUG DIGEST:
// whether one still exists depends on when each child looks.
//
// <functions>: the SHA-256 of the function libraries (name, engine, code), in
// name order (FUNCTION LIST's order is its hash table's).
//
// <users>: the SHA-256 of ACL LIST's lines in name order, but the node's own
// user's (kInternalUser: each child has its own password for it), each line's
// rules sorted (Redis lists single commands in its hash table's order). Users reach
// the children through the log (LoggedState), and a child rebuilt from a
// snapshot gets them from its prelude: this part is what tells the two apart
// when they differ.
//
// A part not taken is "-".
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "node/child/control_link.h"
#include "resp/value.h"

namespace node {

// Which parts beside <data> a check takes. `streams_bound`: a positive
// bound leaves <streams> out when the child's keys, consumers and pending
// entries together are more than that, 0 takes it whatever the size, -1
// leaves it out. The script must stay under busy-reply-threshold, or every
// other client of the child gets BUSY (and the node stops it, see
// Server::WatchBusy): its SCAN costs about 1 us per key, so a leader bounds
// it by 500 per millisecond of the threshold.
struct DigestParts {
  int64_t streams_bound = 0;
  bool functions = true;
  bool users = true;
};
DigestParts LeaderParts(int busy_reply_threshold_ms);
// A follower takes exactly the parts the leader's digest has.
DigestParts PartsToMatch(const std::string& leaders_digest);
// A leader's digest in this form: one from a leader of an earlier version
// (DEBUG DIGEST alone, or without <users>, as in a rolling upgrade) has the
// parts it lacks "-".
std::string InThisForm(const std::string& leaders_digest);

std::string Sha256Hex(std::string_view data);

// Takes the child's digest in one write. The script runs first: on a master
// its reads may expire keys, and the DEL it propagates must come before the
// DEBUG DIGEST that follows it. With `offsets` (a leader's), a ROLE goes
// before and after the rest, and `done` gets both replies (else nil): the
// offset after is the one the digest belongs to, unless the child propagated
// something of its own accord in between (an eviction, which comes before
// any command, so also between the parts of the digest).
void TakeChildDigest(
    ControlLink& link, DigestParts parts, bool offsets,
    std::function<void(absl::StatusOr<std::string> digest, const resp::Value& role_before, const resp::Value& role_after)>
        done);

}  // namespace node
