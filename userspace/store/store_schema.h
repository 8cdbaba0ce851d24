// The store's tables and their upgrades from earlier versions.
#pragma once

#include <sqlite3.h>

#include <string>

#include "common/result.h"

namespace podguard {

// 1: every column in each event row.
// 2: kind, action, relation and the two identities moved from each row to
//    the facets table (one index instead of four); rows chain content
//    digests (record.h).
// 3: an event's ancestry kept once per process (process_records.h).
// Older stores are upgraded in place by the first writer, their rows'
// hashes kept.
inline constexpr int kStoreSchemaVersion = 3;

// Creates the schema, or upgrades an older one, in one transaction.
Status ensure_schema(sqlite3* db, const std::string& path);
// For a read-only open: an error naming the version when it is not ours.
Status check_schema_version(sqlite3* db, const std::string& path);

} // namespace podguard
