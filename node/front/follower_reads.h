// A follower's reads served by its own child (shared/DESIGN.md, "The read
// path"): FollowerReadQueue decides when each read may run; this class asks
// the leader for read indexes through the Raft core, and sends the reads on
// one connection to the child (SharedLink), which answers them in order: once
// confirmed, or as they arrive (early), their replies then held until the
// queue says whether they stand.
// Each reply goes back to the session's reply slot; reads sent on a
// connection that is lost are sent again on the next (they change nothing).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "asio.hpp"
#include "node/front/reply_slots.h"
#include "node/front/shared_link.h"
#include "node/gate/follower_reads.h"

namespace node {

class ClientSession;

class FollowerReads {
 public:
  struct Hooks {
    // Asks the leader for a read index; the answer comes to Confirmed with
    // this context's stamp. False: no leader to ask.
    std::function<bool(const std::string& context)> read_index;
    std::string socket_path;  // the child's
    std::string auth;         // the AUTH request that opens the link (InternalAuthRequest)
    // A read that waited this long fails with TRYAGAIN: it got no read index
    // (the leader cannot be reached; a leader that can reach no majority
    // steps down after the election timeout, and its clients get errors
    // too), or the child has not applied it (this node cannot catch up: new
    // reads go to the leader until it did).
    std::chrono::milliseconds give_up_after{3000};
  };
  // A read index round not answered within this long is asked again.
  static constexpr auto kRoundTimeout = std::chrono::milliseconds(500);
  static constexpr char kContextPrefix[] = "f";  // read state contexts: "f<stamp>"

  FollowerReads(asio::io_context& io, Hooks hooks);
  ~FollowerReads();
  void SkipWaitForTest() { queue_.SkipWaitForTest(); }

  // `request` (a complete RESP command) for `session`'s `slot`, to run in
  // database `db` with protocol `proto`.
  void Submit(const std::shared_ptr<ClientSession>& session, ReplySlots::Id slot, int db, int proto,
              std::string request);
  // A read state whose context starts with kContextPrefix.
  void Confirmed(std::string_view context, uint64_t index);
  // The child applied every entry up to `index` (0: it holds nothing known:
  // being rebuilt, or syncing).
  void Applied(uint64_t index);
  // The child is being replaced: reads sent to it are sent again to the new
  // one once it applied what they need.
  void ChildLost();
  // Whether new reads should wait for this node's child: not while it holds
  // nothing known (being rebuilt, or loading a full sync, which takes as long
  // as the data set needs); the leader answers them meanwhile.
  // Nor while reads were given up for a child that did not catch up (behind()).
  bool serving() const { return applied_ > 0 && !behind(); }
  // Reads were given up waiting for the child, which has not applied their
  // index yet.
  bool behind() const { return applied_ < behind_index_; }
  // The leader changed (or the node stops): reads waiting get TRYAGAIN
  // (their sessions are aborted by the node as well).
  void Clear();

  uint64_t served() const { return served_; }
  // Of those, answered by a run that began before the leader confirmed it
  // (gate::FollowerReadQueue, "early"); and early runs voided and run again.
  uint64_t served_early() const { return served_early_; }
  uint64_t reruns() const { return reruns_; }
  size_t waiting() const { return queue_.waiting() + ready_.size() + link_.in_flight(); }

 private:
  struct Pending {
    std::weak_ptr<ClientSession> session;
    ReplySlots::Id slot = 0;
    int db = 0;
    int proto = 2;
    uint64_t index = 0;  // the child must hold this entry (known once ready)
    std::string request;
    // A read sent as it arrived (gate::FollowerReadQueue, "early"): its reply
    // waits in `held` until its round confirms it, or is dropped if void.
    enum class Early { kNo, kSent, kHeld } early = Early::kNo;
    bool confirmed = false;  // the queue handed it out (TakeReady)
    int void_replies = 0;    // replies still to come from voided sends: dropped
    ByteBlock held{};
  };
  // A read's reply goes to its session.
  void Answer(gate::FollowerReadQueue::ReadId id, std::string_view bytes, ByteBlock&& big);
  void DropVoided();
  // Reads that waited give_up_after get TRYAGAIN.
  void GiveUpStale();
  // While reads wait, GiveUpStale runs now and then.
  void ArmStaleCheck();

  void MaybeStartRound();
  void Pump();
  void ConnectAgainSoon();
  void OnReply(gate::FollowerReadQueue::ReadId id, std::string_view bytes, ByteBlock&& big);
  void FlushTouched();
  // Reads sent and not answered go back to the front of the line.
  void SendAgain(const std::vector<SharedLink::Tag>& unanswered);

  asio::io_context& io_;
  Hooks hooks_;
  static constexpr auto kConnectAgainAfter = std::chrono::milliseconds(50);
  asio::steady_timer connect_again_;  // while reads wait for a link that is not open
  bool connect_again_armed_ = false;
  asio::steady_timer stale_check_;  // ArmStaleCheck
  bool stale_check_armed_ = false;
  uint64_t behind_index_ = 0;  // the highest read index given up waiting for the child
  gate::FollowerReadQueue queue_;
  absl::flat_hash_map<gate::FollowerReadQueue::ReadId, Pending> pending_;
  std::deque<gate::FollowerReadQueue::ReadId> ready_;  // confirmed, to send once the child holds their index
  uint64_t applied_ = 0;
  uint64_t served_ = 0, served_early_ = 0, reruns_ = 0;
  // Per round in flight (by stamp): the round is lost once it fires.
  std::map<uint64_t, std::unique_ptr<asio::steady_timer>> round_timers_;
  // Arrivals, oldest first: (first read id of a moment, when) for giving up.
  std::deque<std::pair<gate::FollowerReadQueue::ReadId, std::chrono::steady_clock::time_point>> arrivals_;

  SharedLink link_;
  std::vector<std::shared_ptr<ClientSession>> touched_;  // answered, to flush after a batch of replies
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace node
