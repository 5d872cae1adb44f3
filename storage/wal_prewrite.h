// The log's write-ahead log files, written into blocks that exist already.
//
// Every log write ends in an fdatasync of RocksDB's WAL. When that write made
// the file longer, the sync must also write the file's inode (its size) and
// wait for it: on ext4 a second synchronous device write per sync. Measured
// here (one virtio disk): a 128-byte append and fdatasync 173 us at p50, the
// same bytes over blocks written before 133 us; three processes at once 295
// against 240 us at p50 and 1.7 ms against 0.9 ms at p99. (Blocks only
// reserved with fallocate are no better: their first write changes the
// extent, 183 us.) RocksDB's own remedy, recycled log files, is switched off
// by RocksDB 7.8 for the recovery mode a Raft log needs.
//
// So the file system below writes zeros ahead of each WAL file's end, a chunk
// at a time (one size change and one larger sync per chunk), and RocksDB's
// appends overwrite them. Nothing else changes: RocksDB writes and syncs the
// same bytes at the same offsets. A file that was not closed (a crash) ends
// in zeros after its last record, which RocksDB's log reader skips as
// padding (a zero-length record of type zero), so recovery reads the same
// records. A closed file ends with its last record: RocksDB cuts it back to
// what it appended when it closes it (as it does for its own preallocation).
//
// That reading is right only if no record is lost before one that is kept.
// With two records waiting for a sync, a crash could keep the later one's
// blocks and not the earlier one's, whose place would read as zeros: padding,
// not corruption, so recovery would go on past the hole. The log store syncs
// every write before it appends the next (storage/rocks_log_store.cc), so at
// most one record is ever unsynced.
#pragma once

#include <cstddef>
#include <memory>

#include "rocksdb/file_system.h"

namespace storage {

// `base` with its write-ahead log files (NNNNNN.log) prewritten `chunk` bytes
// ahead of their end.
std::shared_ptr<rocksdb::FileSystem> NewWalPrewriteFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                              size_t chunk = 1 << 20);

}  // namespace storage
