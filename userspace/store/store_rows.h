// Inside the store: how its files read event rows, the chain record and
// process records, and the write transaction. Not for use outside store/.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "store/event_store.h"
#include "store/sqlite_util.h"

namespace podguard::store_rows {

// The columns every reader of event rows selects (event_columns()), in this
// order: the enum is the index.
enum Column : int {
    kId,
    kTime,
    kKind,
    kAction,
    kRelation,
    kSource, // namespace, pod, pod_uid, container_id, container_name, pid
    kTarget = kSource + 6,
    kPrevHash = kTarget + 6,
    kHash,
    kJson,
    kAncestry,   // process row ids (process_records.h); NULL before version 3
    kAncestryAt, // where the ancestry was cut from the JSON; NULL: nowhere
    kColumnCount
};
inline constexpr std::array<std::string_view, kColumnCount> kColumnSql = {
    "e.id",   "e.time_ns", "f.kind",         "f.action",         "f.relation", "s.namespace",
    "s.pod",  "s.pod_uid", "s.container_id", "s.container_name", "e.src_pid",  "t.namespace",
    "t.pod",  "t.pod_uid", "t.container_id", "t.container_name", "e.tgt_pid",  "e.prev_hash",
    "e.hash", "j.json",    "j.ancestry",     "j.ancestry_at"};
// "e.id, e.time_ns, ..." from kColumnSql.
const std::string& event_columns();
// FROM events e and these joins: LEFT, so that a row whose facet, identity
// or JSON was deleted still reads (with empty values), and verify reports it.
inline constexpr const char* kEventJoins = "LEFT JOIN facets f ON f.facet = e.facet "
                                           "LEFT JOIN identities s ON s.ident = f.src_ident "
                                           "LEFT JOIN identities t ON t.ident = f.tgt_ident "
                                           "LEFT JOIN event_json j ON j.id = e.id";

// One event row as read: the record (json as stored, ancestry not resolved
// yet) and the process row ids it refers to.
struct Row {
    StoredEvent event;
    std::vector<int64_t> process_ids;
    bool hashes_ok = true; // both hash columns are SHA-256s
    bool json_missing = false;
    bool ancestry_ok = true; // the ancestry BLOB is well formed
};
// process_refs_from: rows from this id on have the version 3 layout.
void read_row(const sqlite::Stmt& s, int64_t process_refs_from, Row& out);

// Process records by row id, read once per reader. The entry's digest is
// recomputed from the stored JSON, so that an edited record breaks the
// chain of the events that refer to it.
class ProcessReader {
  public:
    struct Found {
        ProcessRef entry;    // nullptr: no such row (deleted)
        bool edited = false; // its JSON no longer matches its stored digest
    };
    explicit ProcessReader(sqlite3* db);
    Result<Found> get(int64_t proc);
    // Resolves row.process_ids into row.event.record.ancestry; the first
    // missing or edited one in *bad (0: none).
    Status resolve(Row& row, int64_t* bad = nullptr, bool* edited = nullptr);

  private:
    sqlite3* db_;
    sqlite::Stmt find_;
    std::unordered_map<int64_t, Found> cache_;
};

uint64_t realtime_ns();
// "the store file is N bytes, its header says M" when the OS cut it short.
std::optional<std::string> truncation_of(const std::string& path);

inline constexpr const char* kReadChain =
    "SELECT head_id, head_hash, anchor_id, anchor_hash, pruned, digest_from, process_refs_from "
    "FROM chain WHERE one = 1";
Result<ChainState> read_chain_row(sqlite3* db, sqlite::Stmt& s);

// Rolls back on destruction unless committed: every error path of a write.
class Transaction {
  public:
    explicit Transaction(sqlite3* db) : db_(db) {}
    ~Transaction();
    Status begin();
    Status commit();

  private:
    sqlite3* db_;
    bool open_ = false;
};

} // namespace podguard::store_rows
