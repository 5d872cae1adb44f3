#include "consensus/read_only.h"

namespace consensus {

void ReadOnlyQueue::Add(std::string key, ReadRequest req) {
  if (pending_.contains(key)) return;
  queue_.push_back(key);
  pending_.emplace(std::move(key), Pending{std::move(req), {}});
}

const absl::btree_set<uint64_t>* ReadOnlyQueue::RecvAck(uint64_t from, const std::string& context) {
  auto it = pending_.find(context);
  if (it == pending_.end()) return nullptr;
  it->second.acks.insert(from);
  return &it->second.acks;
}

std::vector<ReadRequest> ReadOnlyQueue::Release(const std::string& context) {
  std::vector<ReadRequest> out;
  if (!pending_.contains(context)) return out;
  while (!queue_.empty()) {
    std::string ctx = std::move(queue_.front());
    queue_.pop_front();
    auto it = pending_.find(ctx);
    out.push_back(std::move(it->second.req));
    pending_.erase(it);
    if (ctx == context) break;
  }
  return out;
}

std::string ReadOnlyQueue::LastKey() const { return queue_.empty() ? std::string() : queue_.back(); }

void ReadOnlyQueue::Clear() {
  pending_.clear();
  queue_.clear();
}

}  // namespace consensus
