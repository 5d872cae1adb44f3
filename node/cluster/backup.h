// Backups (docs/design.md, "Backup and restore"): a snapshot's RDB file, and
// beside it FILE.meta, the snapshot's metadata (index, term, members, size,
// crc32, scripts) in protobuf text format. `anarcho-admin backup` writes
// both; a node started with --restore FILE bootstraps a new cluster from
// them. A plain Redis RDB (no .meta) restores too: the migration path.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "node/cluster/replicated_log.h"
#include "node/snapshot.pb.h"

namespace node {

std::string BackupMetaPath(const std::string& rdb);
absl::Status WriteBackupMeta(const std::string& rdb, const pb::SnapshotMeta& meta);

// Checks a file to restore from: its .meta (if any) must match it (size,
// crc32), and the whole RDB must load (redis-check-rdb of `redis_server`,
// which also refuses RDB versions this Redis cannot read).
absl::StatusOr<ReplicatedLogOptions::Restore> OpenRestore(const std::string& rdb, const std::string& redis_server);

}  // namespace node
