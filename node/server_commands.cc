// The node's own commands (ANARCHO.*) and what it says of itself: the status
// map of ANARCHO.STATUS and the section it adds to INFO.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "node/front/request_router.h"
#include "node/server.h"
#include "resp/writer.h"

namespace node {
namespace cpb = consensus::pb;

namespace {

// A map of text fields, in order (a flat array in RESP2).
using Fields = std::vector<std::pair<std::string, std::string>>;

void AppendFields(std::string* out, const Fields& fields, int proto) {
  resp::AppendMapHeader(out, fields.size(), proto);
  for (const auto& [k, v] : fields) {
    resp::AppendBulkString(out, k);
    resp::AppendBulkString(out, v);
  }
}

}  // namespace

std::string Server::StatusReply(int proto) const {
  consensus::RaftStatus st = rlog_->status();
  std::vector<std::string> voters, learners, progress;
  for (uint64_t v : st.conf_state.voters()) voters.push_back(absl::StrCat(v));
  for (uint64_t l : st.conf_state.learners()) learners.push_back(absl::StrCat(l));
  for (const auto& [id, pr] : st.progress) {
    progress.push_back(absl::StrCat(id, ":match=", pr.match, ",next=", pr.next, ",state=",
                                    consensus::ProgressStateName(pr.state), pr.is_learner ? ",learner" : ""));
  }
  std::string leader_addr;
  if (auto it = rlog_->peers().find(st.leader); it != rlog_->peers().end()) leader_addr = it->second.ToString();
  const uint64_t applied = AppliedIndex();
  const gate::GateStats gate = gate_.Stats();
  const PeerLinkStats links = rlog_->link_stats();
  const char* paused_by = ProposalsPausedBy();
  Fields fields = {
      {"id", absl::StrCat(st.id)},
      {"role", is_leader_ ? "leader" : consensus::RoleName(st.role)},
      {"state", is_leader_ ? (leader_ready_ ? "serving" : "catching-up")
                           : (leader_id_ != 0 ? "forwarding" : "no-leader")},
      {"term", absl::StrCat(st.term)},
      {"leader", absl::StrCat(st.leader)},
      {"leader_addr", leader_addr},
      {"voters", absl::StrJoin(voters, ",")},
      {"learners", absl::StrJoin(learners, ",")},
      {"commit_index", absl::StrCat(st.commit)},
      {"applied_index", absl::StrCat(applied)},
      {"apply_lag", absl::StrCat(st.commit > applied ? st.commit - applied : 0)},
      {"last_index", absl::StrCat(st.last_index)},
      {"log_first_index", absl::StrCat(rlog_->first_index())},
      {"snapshot_index", absl::StrCat(rlog_->snapshot() ? rlog_->snapshot()->index() : 0)},
      {"snapshot_bytes", absl::StrCat(rlog_->snapshot() ? rlog_->snapshot()->size() : 0)},
      {"snapshots_taken", absl::StrCat(snapshots_taken_)},
      {"snapshot_transfers", absl::StrCat(rlog_->snapshot_transfers())},
      {"peers", absl::StrJoin(progress, " ")},
      {"log_syncs", absl::StrCat(rlog_->syncs())},
      {"cluster_id", rlog_->cluster_id()},
      {"cluster_origin", rlog_->cluster_origin()},
      {"peer_auth", options_.raft.cluster_secret.empty() ? "none" : "secret"},
      {"peer_handshakes_refused", absl::StrCat(links.handshakes_refused)},
      {"peer_wrong_sender", absl::StrCat(links.wrong_sender)},
      {"peer_links_silent", absl::StrCat(links.silent)},
      {"relay_sessions", absl::StrCat(relay_sessions_ ? relay_sessions_->size() : 0)},
      {"relay_sessions_ended", absl::StrCat(relay_sessions_ ? relay_sessions_->ended() : 0)},
      {"relay_links_stalled", absl::StrCat(relay_watch_ ? relay_watch_->given_up() : 0)},
      {"acl_changes", absl::StrCat(logged_.acl_changes())},
      {"tls_port", absl::StrCat(options_.tls.port)},
      {"tls_handshakes", absl::StrCat(tls_handshakes_)},
      {"tls_handshakes_failed", absl::StrCat(tls_handshakes_failed_)},
      {"raft_ignored_non_members", absl::StrCat(st.ignored_non_members)},
      {"stream_id", stream_id_},
      {"stream_committed_offset", absl::StrCat(committed_offset_)},
      {"child_pid", absl::StrCat(child_->pid())},
      {"child_healthy", ChildHealthy() ? "yes" : "no"},
      {"child_rebuilds", absl::StrCat(rebuilds_)},
      {"child_role", promoted_ ? "master" : (link_.syncing() ? "replica" : "starting")},
      {"child_full_syncs", absl::StrCat(link_.full_syncs())},
      {"child_backlog_bytes", absl::StrCat(promoted_ ? 0 : link_.unapplied_bytes())},
      {"clients", absl::StrCat(ClientConnections())},
      {"requests_in_flight", absl::StrCat(gate.slots)},
      {"locked_keys", absl::StrCat(gate.locked_keys)},
      {"marked_keys", absl::StrCat(gate.marked_keys)},
      {"reads_wait_for_evictions", gate_.evictions() ? "yes" : "no"},
      {"writes_in_flight", absl::StrCat(gate.live_tickets)},
      {"proposals_paused", paused_by ? paused_by : "no"},
      {"follower_reads", options_.follower_reads ? "on" : "off"},
      {"follower_reads_served", absl::StrCat(follower_reads_ ? follower_reads_->served() : 0)},
      {"follower_reads_early", absl::StrCat(follower_reads_ ? follower_reads_->served_early() : 0)},
      {"follower_reads_rerun", absl::StrCat(follower_reads_ ? follower_reads_->reruns() : 0)},
      {"follower_reads_waiting", absl::StrCat(follower_reads_ ? follower_reads_->waiting() : 0)},
      {"shared_link_requests", absl::StrCat(shared_link_ ? shared_link_->sent() : 0)},
      {"scripts_killed", absl::StrCat(scripts_killed_)},
      {"digest_checks", absl::StrCat(digest_checks_)},
      {"digest_mismatches", absl::StrCat(digest_mismatches_)},
      {"digest_skipped", absl::StrCat(digest_skipped_)},
      {"last_digest_index", absl::StrCat(last_digest_.index)},
      {"last_digest", last_digest_.digest},
      {"last_digest_outcome", last_digest_.outcome},
  };
  std::string out;
  AppendFields(&out, fields, proto);
  return out;
}

// Whether this node can serve now, from what it knows itself (never a round
// trip: it answers without a quorum, when a health check matters most).
std::string Server::HealthReply(int proto) const {
  constexpr uint64_t kMaxHealthyLag = 1000;  // committed entries its child has not applied
  const consensus::RaftStatus st = rlog_->status();
  const uint64_t applied = AppliedIndex();
  const uint64_t lag = st.commit > applied ? st.commit - applied : 0;
  std::vector<std::string> problems;
  if (st.leader == 0) {
    // A refused link is the likeliest reason a member never learns of one.
    const std::string refusal = rlog_->link_stats().last_refusal;
    problems.push_back(refusal.empty() ? "no leader known" : absl::StrCat("no leader known (last refused: ", refusal, ")"));
  }
  if (is_leader_ && !leader_ready_) problems.push_back("leader catching up");
  if (!is_leader_ && st.leader != 0 && !leader_unreachable_.empty()) {
    problems.push_back(absl::StrCat("cannot connect to the leader's client port: ", leader_unreachable_));
  }
  if (!child_->running()) {
    problems.push_back("child not running");
  } else if (!ChildHealthy()) {
    problems.push_back(absl::StrCat("child answered nothing for ", ChildSilence().count(), " ms"));
  }
  if (lag > kMaxHealthyLag) problems.push_back(absl::StrCat("child ", lag, " entries behind"));
  // (A follower that needs a snapshot knows no commit past its log: no lag shows.)
  if (const std::string why = rlog_->snapshot_receive_failure(); !why.empty()) {
    problems.push_back(absl::StrCat("cannot take the leader's snapshot: ", why));
  }
  if (follower_reads_ && follower_reads_->behind()) problems.push_back("reads wait for the child to catch up");
  if (rlog_->snapshot_incoming()) problems.push_back("taking a snapshot from the leader");
  if (!IsMember()) {
    // A node that joins is one once it applied its addition; one removed
    // before that, or that never learnt of its removal, stays out.
    problems.push_back("not a member of the cluster's configuration");
  }
  const Fields fields = {
      {"status", problems.empty() ? "ok" : "degraded"},
      {"problems", absl::StrJoin(problems, "; ")},
      {"id", absl::StrCat(st.id)},
      {"role", is_leader_ ? "leader" : consensus::RoleName(st.role)},
      {"leader", absl::StrCat(st.leader)},
      {"term", absl::StrCat(st.term)},
      {"apply_lag", absl::StrCat(lag)},
      {"child_healthy", ChildHealthy() ? "yes" : "no"},
  };
  std::string out;
  AppendFields(&out, fields, proto);
  return out;
}

// The configuration this node applied: one map per member.
std::string Server::MembersReply(int proto) const {
  const consensus::RaftStatus st = rlog_->status();
  std::vector<std::pair<uint64_t, bool>> members;  // id, voter
  for (uint64_t v : st.conf_state.voters()) members.emplace_back(v, true);
  for (uint64_t l : st.conf_state.learners()) members.emplace_back(l, false);
  std::string out;
  resp::AppendArrayHeader(&out, members.size());
  for (const auto& [id, voter] : members) {
    Fields fields = {
        {"id", absl::StrCat(id)},
        {"address", ""},
        {"kind", voter ? "voter" : "learner"},
        {"leader", id == st.leader ? "yes" : "no"},
    };
    if (auto it = rlog_->peers().find(id); it != rlog_->peers().end()) fields[1].second = it->second.ToString();
    if (auto it = st.progress.find(id); it != st.progress.end()) {
      fields.emplace_back("match", absl::StrCat(it->second.match));
      fields.emplace_back("next", absl::StrCat(it->second.next));
      fields.emplace_back("state", consensus::ProgressStateName(it->second.state));
    }
    AppendFields(&out, fields, proto);
  }
  return out;
}

namespace {

// A follower's child is a replica of its node; to its clients the node is a
// master like any other member (it takes writes and forwards them): the
// replication section keeps the offsets and drops the child's link to its node.
std::string AsMaster(const std::string& info) {
  const size_t start = info.find("# Replication\r\n");
  if (start == std::string::npos) return info;
  size_t end = info.find("\r\n\r\n", start);
  end = end == std::string::npos ? info.size() : end + 2;
  std::string section = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
  for (absl::string_view line : absl::StrSplit(absl::string_view(info).substr(start, end - start), "\r\n")) {
    if (absl::StartsWith(line, "master_replid") || absl::StartsWith(line, "master_repl_offset") ||
        absl::StartsWith(line, "second_repl_offset") || absl::StartsWith(line, "repl_backlog")) {
      absl::StrAppend(&section, line, "\r\n");
    }
  }
  return absl::StrCat(info.substr(0, start), section, info.substr(end));
}

}  // namespace

// INFO while there is no leader to ask: from this node's own child, which
// then holds committed state only (a replica of its node), so nothing
// uncommitted shows and no quorum is needed. The reply gives up after a
// second if the child does not answer (it is being rebuilt).
void Server::LocalInfo(std::span<const std::string_view> args, int proto, std::function<void(std::string)> reply) {
  if (!control_.connected()) return reply("-ERR this node's child is restarting; retry\r\n");
  auto done = std::make_shared<bool>(false);
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(1));
  timer->async_wait([done, reply](const asio::error_code& ec) {
    if (ec || *done) return;
    *done = true;
    reply("-ERR this node's child did not answer INFO; retry\r\n");
  });
  const bool node_section = InfoShowsNodeSection(args);
  control_.Call(std::vector<std::string>(args.begin(), args.end()),
                [this, done, timer, reply, proto, node_section](const resp::Value& v) {
                  if (*done) return;
                  *done = true;
                  timer->cancel();
                  std::string out;
                  if (v.IsError()) {
                    resp::AppendError(&out, v.str);
                  } else {
                    std::string text = AsMaster(v.str);
                    if (node_section) absl::StrAppend(&text, "\r\n", InfoSection());
                    resp::AppendVerbatim(&out, text, proto);
                  }
                  reply(std::move(out));
                });
}

std::string Server::InfoSection() const {
  consensus::RaftStatus st = rlog_->status();
  std::string s = absl::StrCat("# Anarchoredis\r\nraft_id:", st.id, "\r\nraft_role:",
                               is_leader_ ? "leader" : consensus::RoleName(st.role), "\r\nraft_term:", st.term,
                               "\r\nraft_leader:", st.leader, "\r\nraft_commit_index:", st.commit,
                               "\r\nraft_applied_index:", AppliedIndex(), "\r\nraft_last_index:", st.last_index,
                               "\r\nraft_voters:", st.conf_state.voters_size(), "\r\n");
  for (const auto& [id, pr] : st.progress) {
    if (id == st.id) continue;
    absl::StrAppend(&s, "raft_peer", id, ":match=", pr.match, ",next=", pr.next,
                    ",state=", consensus::ProgressStateName(pr.state), pr.is_learner ? ",learner" : "", "\r\n");
  }
  return s;
}

void Server::NodeCommand(std::span<const std::string_view> args, int proto, gate::SessionId caller,
                         std::function<void(std::string)> reply) {
  const std::string name = absl::AsciiStrToLower(absl::string_view(args[0].data(), args[0].size()));
  if (name == "info") return LocalInfo(args, proto, std::move(reply));
  if (name == "client") return KillClients(args, caller, std::move(reply));
  if (name == "shutdown") return reply(ShutdownCommand(args));
  if (name == "anarcho.snapshot") {
    if (args.size() != 1) return reply("-ERR usage: ANARCHO.SNAPSHOT\r\n");
    // This node's own snapshot of its child; the reply waits until it is durable.
    return TakeSnapshot([reply, proto](absl::StatusOr<pb::SnapshotMeta> meta) {
      std::string out;
      if (!meta.ok()) {
        resp::AppendError(&out, absl::StrCat("ERR snapshot failed: ", meta.status().message()));
      } else {
        resp::AppendMapHeader(&out, 3, proto);
        resp::AppendBulkString(&out, "index");
        resp::AppendInteger(&out, static_cast<int64_t>(meta->index()));
        resp::AppendBulkString(&out, "term");
        resp::AppendInteger(&out, static_cast<int64_t>(meta->term()));
        resp::AppendBulkString(&out, "bytes");
        resp::AppendInteger(&out, static_cast<int64_t>(meta->size()));
      }
      reply(std::move(out));
    });
  }
  if (name == "anarcho.backup") {
    if (args.size() != 1) return reply("-ERR usage: ANARCHO.BACKUP\r\n");
    return Backup(proto, std::move(reply));
  }
  if (name == "anarcho.backup.read") return reply(ReadBackup(args));
  if (name == "anarcho.backup.end") return reply(EndBackup(args));
  if (name == "anarcho.digest") {
    if (args.size() != 1) return reply("-ERR usage: ANARCHO.DIGEST\r\n");
    if (!is_leader_) return reply("-TRYAGAIN this node is not the leader; retry\r\n");
    // The reply waits until the check entry committed: every member then
    // compares its child's digest at that index (ANARCHO.STATUS last_digest*).
    return CheckDigest([reply, proto](absl::StatusOr<DigestPoint> point) {
      std::string out;
      if (!point.ok()) {
        resp::AppendError(&out, absl::StrCat("TRYAGAIN divergence check not logged: ", point.status().message()));
      } else {
        resp::AppendMapHeader(&out, 2, proto);
        resp::AppendBulkString(&out, "index");
        resp::AppendInteger(&out, static_cast<int64_t>(point->index));
        resp::AppendBulkString(&out, "digest");
        resp::AppendBulkString(&out, point->digest);
      }
      reply(std::move(out));
    });
  }
  reply(NodeCommandNow(args, proto));
}

std::string Server::NodeCommandNow(std::span<const std::string_view> args, int proto) {
  std::string name = absl::AsciiStrToLower(absl::string_view(args[0].data(), args[0].size()));
  std::string out;
  auto error = [&](std::string_view msg) {
    resp::AppendError(&out, msg);
    return out;
  };
  if (name == "ping") {
    // Only while this node has no upstream (the child's own PING otherwise).
    if (args.size() > 2) return error("ERR wrong number of arguments for 'ping' command");
    if (args.size() == 1) return "+PONG\r\n";
    resp::AppendBulkString(&out, args[1]);
    return out;
  }
  if (name == "anarcho.status") return StatusReply(proto);
  if (name == "anarcho.health") return args.size() == 1 ? HealthReply(proto) : error("ERR usage: ANARCHO.HEALTH");
  if (name == "anarcho.members") return args.size() == 1 ? MembersReply(proto) : error("ERR usage: ANARCHO.MEMBERS");
  if (name == "anarcho.help") {
    resp::AppendArrayHeader(&out, 12);
    for (const char* line : {"ANARCHO.STATUS - this node's Raft and child state",
                             "ANARCHO.HEALTH - can this node serve: status ok or degraded, and why (answered locally)",
                             "ANARCHO.MEMBERS - the members this node knows: id, address, voter or learner",
                             "ANARCHO.SNAPSHOT - take a snapshot of this node's state now, compact its log",
                             "ANARCHO.DIGEST - leader: log a divergence check; every member compares its data at it",
                             "ANARCHO.BACKUP - leader: a fresh snapshot at a linearizable point, kept for reading",
                             "ANARCHO.BACKUP.READ <name> <offset> <count> - bytes of that backup",
                             "ANARCHO.BACKUP.END <name> - drop that backup",
                             "ANARCHO.ADD <id> <ip:client_port:raft_port> - add a node (learner, then voter)",
                             "ANARCHO.REMOVE <id> - remove a node", "ANARCHO.TRANSFER <id> - hand leadership to a voter",
                             "ANARCHO.HELP - this text"}) {
      resp::AppendBulkString(&out, line);
    }
    return out;
  }
  if (!is_leader_) return error("TRYAGAIN this node is not the leader; retry");
  if (name == "anarcho.add" || name == "anarcho.remove" || name == "anarcho.transfer") {
    return MembershipCommand(name, args);
  }
  return error(absl::StrCat("ERR unknown anarchoredis command '", name, "'; see ANARCHO.HELP"));
}

// Why no node could be reached at `addr` as a new member `id`, if none can.
// Two members at one address are one node to the others: the leader's
// messages for the new one would reach the member there, which drops them,
// and the learner would never catch up. So are a node's own two ports, and
// a port a member on that host already listens on (either of its two).
std::optional<std::string> Server::UnusableAddress(uint64_t id, const PeerAddress& addr,
                                                   const cpb::ConfState& members) const {
  asio::error_code ec;
  const asio::ip::address host = asio::ip::make_address(addr.host, ec);
  if (ec || host.is_unspecified() || host.is_multicast()) {
    return absl::StrCat("ERR ", addr.host, " is no address other nodes can reach node ", id,
                        " at: give one of its own IP addresses");
  }
  if (addr.client_port == addr.raft_port) {
    return absl::StrCat("ERR node ", id, " needs two ports: its client port and its Raft port are both ",
                        addr.client_port);
  }
  std::vector<uint64_t> ids(members.voters().begin(), members.voters().end());
  ids.insert(ids.end(), members.learners().begin(), members.learners().end());
  for (uint64_t m : ids) {
    auto it = rlog_->peers().find(m);
    if (it == rlog_->peers().end()) continue;
    const PeerAddress& member = it->second;
    asio::error_code member_ec;
    if (asio::ip::make_address(member.host, member_ec) != host || member_ec) continue;
    for (const int port : {addr.client_port, addr.raft_port}) {
      if (port == member.client_port || port == member.raft_port) {
        return absl::StrCat("ERR node ", m, " (a member) is at ", member.ToString(), ": node ", id,
                            " needs an address of its own");
      }
    }
  }
  return std::nullopt;
}

bool Server::IsMember() const {
  const consensus::RaftStatus st = rlog_->status();
  const auto in = [id = st.id](const auto& ids) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
  return in(st.conf_state.voters()) || in(st.conf_state.learners());
}

// ANARCHO.ADD, ANARCHO.REMOVE and ANARCHO.TRANSFER, on the leader.
std::string Server::MembershipCommand(const std::string& name, std::span<const std::string_view> args) {
  std::string out;
  auto error = [&](std::string_view msg) {
    resp::AppendError(&out, msg);
    return out;
  };
  auto arg = [&](size_t i) { return absl::string_view(args[i].data(), args[i].size()); };
  uint64_t id = 0;
  const cpb::ConfState members = rlog_->status().conf_state;
  auto member_kind = [&](uint64_t id) -> std::string {
    for (uint64_t v : members.voters()) {
      if (v == id) return "voter";
    }
    for (uint64_t l : members.learners()) {
      if (l == id) return "learner";
    }
    return "";
  };
  if (name == "anarcho.add") {
    PeerAddress addr;
    if (args.size() != 3 || !absl::SimpleAtoi(arg(1), &id) || id == 0 || !PeerAddress::Parse(args[2], &addr)) {
      return error("ERR usage: ANARCHO.ADD <id> <ip:client_port:raft_port> (an IPv4 address, ports 1..65535)");
    }
    if (const std::string kind = member_kind(id); !kind.empty()) {
      return error(absl::StrCat("ERR node ", id, " is already a member (", kind, ")"));
    }
    if (std::optional<std::string> problem = UnusableAddress(id, addr, members)) return error(*problem);
    if (rlog_->was_removed(id)) {
      // Its address went with it, and a node started under it again replays
      // its own removal and exits.
      return error(absl::StrCat("ERR node ", id,
                                " was removed from this cluster, and a removed id cannot come back: start the node "
                                "with an empty --dir under a new id and add that id"));
    }
    cpb::ConfChange cc;
    cc.set_type(cpb::CONF_CHANGE_ADD_LEARNER);
    cc.set_node_id(id);
    cc.set_context(addr.ToString());
    if (auto s = rlog_->ProposeConfChange(cc); !s.ok()) return error(absl::StrCat("ERR ", s.message()));
    resp::AppendSimpleString(&out, "OK added as a learner; it becomes a voter once caught up");
    return out;
  }
  if (name == "anarcho.remove") {
    if (args.size() != 2 || !absl::SimpleAtoi(arg(1), &id)) return error("ERR usage: ANARCHO.REMOVE <id>");
    if (member_kind(id).empty()) return error(absl::StrCat("ERR node ", id, " is not a member"));
    cpb::ConfChange cc;
    cc.set_type(cpb::CONF_CHANGE_REMOVE_NODE);
    cc.set_node_id(id);
    if (auto s = rlog_->ProposeConfChange(cc); !s.ok()) return error(absl::StrCat("ERR ", s.message()));
    resp::AppendSimpleString(&out, "OK");
    return out;
  }
  // anarcho.transfer
  if (args.size() != 2 || !absl::SimpleAtoi(arg(1), &id)) return error("ERR usage: ANARCHO.TRANSFER <id>");
  if (auto s = rlog_->TransferLeadership(id); !s.ok()) return error(absl::StrCat("ERR ", s.message()));
  resp::AppendSimpleString(&out, "OK");
  return out;
}

// Prometheus metrics on the client address (the operator's --bind), so the
// endpoint is reachable exactly where the node is.
absl::Status Server::StartMetrics() {
  if (options_.metrics_port == 0) return absl::OkStatus();
  metrics_endpoint_ = std::make_unique<MetricsEndpoint>(io_, [this] { return RenderMetrics(); });
  if (asio::error_code ec = metrics_endpoint_->Listen(options_.bind, options_.metrics_port)) {
    return absl::UnavailableError(
        absl::StrCat("metrics: listen on ", options_.bind, ":", options_.metrics_port, ": ", ec.message()));
  }
  return absl::OkStatus();
}

std::string Server::RenderMetrics() {
  MetricsView v;
  if (rlog_ != nullptr) {
    const consensus::RaftStatus st = rlog_->status();
    v.role = is_leader_ ? "leader" : consensus::RoleName(st.role);
    v.term = st.term;
    v.leader_id = st.leader;
    v.commit = st.commit;
    v.snapshot_bytes = rlog_->snapshot() ? rlog_->snapshot()->size() : 0;
    for (const auto& [id, pr] : st.progress) {
      if (id == st.id) continue;
      v.match[id] = pr.match;
      v.active[id] = pr.recent_active;
    }
    const PeerLinkStats links = rlog_->link_stats();
    v.connected = links.connected;
    v.peer_handshakes_refused = links.handshakes_refused;
    v.peer_links_silent = links.silent;
  }
  v.relay_sessions_ended = relay_sessions_ ? relay_sessions_->ended() : 0;
  v.relay_links_stalled = relay_watch_ ? relay_watch_->given_up() : 0;
  v.applied = AppliedIndex();
  v.tls_handshakes = tls_handshakes_;
  v.tls_handshakes_failed = tls_handshakes_failed_;
  v.child_healthy = child_ != nullptr && ChildHealthy();
  v.clients = ClientConnections();
  if (follower_reads_) {
    v.follower_reads = follower_reads_->served();
    v.follower_reads_waiting = follower_reads_->waiting();
  }
  return metrics_.Render(v);
}

}  // namespace node
