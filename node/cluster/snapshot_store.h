// The snapshot directory beside the log: RDB files named after their index,
// term and checksum (a node's own snapshot and one received from the leader
// at the same index never share a name), written whole and fsynced before
// their metadata (in the log store) names them, and verified (size, crc32)
// before anything loads them.
// A file that fails the check is never used: the node falls back to an older
// snapshot or fetches one from the leader. Synchronous file work: called off
// the event loop for big files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/snapshot.pb.h"

namespace node {

class SnapshotStore {
 public:
  explicit SnapshotStore(std::string dir) : dir_(std::move(dir)) {}

  absl::Status Open();  // creates the directory; drops saves a stop interrupted
  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& file) const { return dir_ + "/" + file; }
  static std::string FileName(uint64_t index, uint64_t term, uint32_t crc32);
  // Where a snapshot being received is written until it is complete.
  static std::string IncomingName(const pb::SnapshotMeta& meta);

  // Moves `from` (a finished file on the same filesystem) into the store as
  // the snapshot at (index, term); computes its size and checksum, fsyncs it.
  absl::StatusOr<pb::SnapshotMeta> Adopt(const std::string& from, uint64_t index, uint64_t term);
  // Whether meta names its file as the store names it (FileName): a name
  // from a peer is never a path of its own choosing.
  static bool WellNamed(const pb::SnapshotMeta& meta);
  // Whether meta.file is well named and exists with meta's size and checksum.
  absl::Status Verify(const pb::SnapshotMeta& meta) const;
  // Deletes the snapshot files, finished or incoming, at or below `keep`'s
  // index, but `keep` and `keep_also`. Files past it stay: one received from
  // the leader may be in place, its metadata not yet written.
  void RemoveOlder(const pb::SnapshotMeta& keep, const std::string& keep_also = "");
  // The index a snapshot file's name gives, if it is one.
  static std::optional<uint64_t> IndexOf(std::string_view name);

  // crc32 and size of a file.
  static absl::Status Checksum(const std::string& path, uint32_t* crc, uint64_t* size);
  static absl::Status Fsync(const std::string& path);

 private:
  std::string dir_;
};

}  // namespace node
