#include "absl/strings/str_cat.h"
#include "storage/log_store.h"

namespace storage {

absl::Status ValidateLogWrite(const LogWrite& w, uint64_t first_index, uint64_t last_index) {
  if (w.compact_to && w.reset_to) return absl::InvalidArgumentError("a log write both compacts and resets the log");
  for (size_t i = 1; i < w.entries.size(); ++i) {
    if (w.entries[i].index != w.entries[0].index + i) {
      return absl::InvalidArgumentError("log entries are not contiguous");
    }
  }
  if (!w.entries.empty()) {
    uint64_t first = w.entries.front().index;
    if (first < first_index || first > last_index + 1) {
      return absl::InvalidArgumentError(absl::StrCat("append at ", first, " leaves a gap or rewrites ",
                                                     "compacted entries (log holds ", first_index,
                                                     "..", last_index, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryLogStore::Write(const LogWrite& w) {
  uint64_t first = first_, last = LastIndex();
  if (w.reset_to) {
    first = *w.reset_to + 1;
    last = *w.reset_to;
  } else if (w.compact_to && *w.compact_to >= first) {
    first = *w.compact_to + 1;
    last = std::max(last, *w.compact_to);
  }
  if (auto s = ValidateLogWrite(w, first, last); !s.ok()) return s;
  if (w.reset_to) {
    entries_.clear();
    first_ = *w.reset_to + 1;
  } else if (w.compact_to) {
    (void)CompactTo(*w.compact_to);
  }
  if (!w.entries.empty()) {
    entries_.resize(w.entries.front().index - first_);
    entries_.insert(entries_.end(), w.entries.begin(), w.entries.end());
  }
  for (const auto& [key, value] : w.meta) {
    if (value) {
      meta_[key] = *value;
    } else {
      meta_.erase(key);
    }
  }
  if (w.sync && sync_hook_) sync_hook_();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LogEntry>> MemoryLogStore::Read(uint64_t lo, uint64_t hi,
                                                           size_t max_bytes) const {
  if (lo < first_) return absl::OutOfRangeError(absl::StrCat("entry ", lo, " is compacted"));
  if (hi > LastIndex() + 1) return absl::OutOfRangeError(absl::StrCat("entry ", hi - 1, " does not exist"));
  std::vector<LogEntry> out;
  size_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const LogEntry& e = entries_[i - first_];
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

absl::Status MemoryLogStore::CompactTo(uint64_t upto) {
  if (upto < first_) return absl::OkStatus();
  uint64_t drop = std::min<uint64_t>(upto - first_ + 1, entries_.size());
  entries_.erase(entries_.begin(), entries_.begin() + drop);
  first_ = upto + 1;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> MemoryLogStore::GetMeta(const std::string& key) const {
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

}  // namespace storage
