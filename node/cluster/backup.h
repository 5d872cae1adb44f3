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
// `text` with the end line a .meta file closes with: the crc32 of `text`.
std::string WithEndLine(std::string text);
absl::Status WriteBackupMeta(const std::string& rdb, const pb::SnapshotMeta& meta);

// Checks a file to restore from: its .meta, if there is one, must be whole
// (its end line's crc32) and match it (size, crc32), and the whole RDB must
// load (redis-check-rdb of `redis_server`,
// which also refuses RDB versions this Redis cannot read), and hold no
// database a node with `databases` lacks.
absl::StatusOr<ReplicatedLogOptions::Restore> OpenRestore(const std::string& rdb, const std::string& redis_server,
                                                          int databases);

}  // namespace node
