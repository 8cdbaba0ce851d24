#include "store/store_schema.h"

#include <fmt/format.h>

#include "store/store_rows.h"

namespace podguard {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS chain(
  one INTEGER PRIMARY KEY CHECK (one = 1),
  version INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  head_id INTEGER NOT NULL,
  head_hash BLOB NOT NULL,
  anchor_id INTEGER NOT NULL,
  anchor_hash BLOB NOT NULL,
  pruned INTEGER NOT NULL,
  digest_from INTEGER NOT NULL,
  process_refs_from INTEGER NOT NULL
);
-- Who a side of an event is, once per distinct identity. Absent values are
-- '' (NULLs would defeat UNIQUE).
CREATE TABLE IF NOT EXISTS identities(
  ident INTEGER PRIMARY KEY,
  namespace TEXT NOT NULL,
  pod TEXT NOT NULL,
  pod_uid TEXT NOT NULL,
  container_id TEXT NOT NULL,
  container_name TEXT NOT NULL,
  UNIQUE (namespace, pod, pod_uid, container_id, container_name)
);
CREATE INDEX IF NOT EXISTS identities_namespace ON identities(namespace);
CREATE INDEX IF NOT EXISTS identities_pod ON identities(pod);
CREATE INDEX IF NOT EXISTS identities_pod_uid ON identities(pod_uid);
CREATE INDEX IF NOT EXISTS identities_container_id ON identities(container_id);
CREATE INDEX IF NOT EXISTS identities_container_name ON identities(container_name);
-- What an event is and between whom, once per distinct combination (a few
-- per pair of containers that meet). Rows refer to it by number, so that one
-- index on (facet, time) answers every kind, action, relation, namespace,
-- pod and container question: a query turns its filters into a list of
-- facets. Each index costs every insert a B-tree descent; this one replaces
-- four. ident 0: no identity (host, or an unknown target).
CREATE TABLE IF NOT EXISTS facets(
  facet INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  action TEXT NOT NULL,
  relation TEXT NOT NULL,
  src_ident INTEGER NOT NULL,
  tgt_ident INTEGER NOT NULL,
  UNIQUE (kind, action, relation, src_ident, tgt_ident)
);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  time_ns INTEGER NOT NULL,
  facet INTEGER NOT NULL REFERENCES facets(facet),
  src_pid INTEGER,
  tgt_pid INTEGER,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
-- The JSON lives apart so that filtering and sorting read small rows. From
-- version 3 on without its "ancestry" member, cut out at byte ancestry_at:
-- ancestry lists the processes rows (8-byte big-endian ids) it held.
CREATE TABLE IF NOT EXISTS event_json(
  id INTEGER PRIMARY KEY,
  json TEXT NOT NULL,
  ancestry BLOB,
  ancestry_at INTEGER
);
-- Each process of an ancestry once (its entry of the "ancestry" array, as
-- the stream wrote it), whatever the number of events that name it. digest
-- is SHA-256(json), what those events chain; last_id the last event that
-- refers to it, so that rotation deletes it with that event.
CREATE TABLE IF NOT EXISTS processes(
  proc INTEGER PRIMARY KEY,
  pid INTEGER NOT NULL,
  start_ns INTEGER NOT NULL,
  json TEXT NOT NULL,
  digest BLOB NOT NULL UNIQUE,
  last_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS processes_last ON processes(last_id);
CREATE INDEX IF NOT EXISTS events_time ON events(time_ns);
CREATE INDEX IF NOT EXISTS events_facet ON events(facet, time_ns);
-- Everything in one row, for sqlite3 users.
CREATE VIEW IF NOT EXISTS events_flat AS
SELECT e.id, e.time_ns, f.kind, f.action, f.relation,
       s.namespace AS src_namespace, s.pod AS src_pod, s.pod_uid AS src_pod_uid,
       s.container_id AS src_container_id, s.container_name AS src_container_name, e.src_pid,
       t.namespace AS tgt_namespace, t.pod AS tgt_pod, t.pod_uid AS tgt_pod_uid,
       t.container_id AS tgt_container_id, t.container_name AS tgt_container_name, e.tgt_pid,
       j.json, j.ancestry, j.ancestry_at, e.prev_hash, e.hash
FROM events e
LEFT JOIN facets f ON f.facet = e.facet
LEFT JOIN identities s ON s.ident = f.src_ident
LEFT JOIN identities t ON t.ident = f.tgt_ident
LEFT JOIN event_json j ON j.id = e.id;
)sql";

// Version 1 kept kind, action, relation and the identities in each row, with
// four indexes. The chain covers values, not the layout: hashes carry over.
constexpr const char* kMigrateFrom1 = R"sql(
CREATE TABLE facets(
  facet INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  action TEXT NOT NULL,
  relation TEXT NOT NULL,
  src_ident INTEGER NOT NULL,
  tgt_ident INTEGER NOT NULL,
  UNIQUE (kind, action, relation, src_ident, tgt_ident)
);
INSERT INTO facets(kind, action, relation, src_ident, tgt_ident)
  SELECT DISTINCT kind, action, relation, coalesce(src_ident, 0), coalesce(tgt_ident, 0)
  FROM events;
DROP VIEW IF EXISTS events_flat;
DROP INDEX IF EXISTS events_time;
DROP INDEX IF EXISTS events_class;
DROP INDEX IF EXISTS events_src;
DROP INDEX IF EXISTS events_tgt;
ALTER TABLE events RENAME TO events_v1;
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  time_ns INTEGER NOT NULL,
  facet INTEGER NOT NULL REFERENCES facets(facet),
  src_pid INTEGER,
  tgt_pid INTEGER,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
INSERT INTO events
  SELECT e.id, e.time_ns, f.facet, e.src_pid, e.tgt_pid, e.prev_hash, e.hash
  FROM events_v1 e JOIN facets f
    ON f.kind = e.kind AND f.action = e.action AND f.relation = e.relation
   AND f.src_ident = coalesce(e.src_ident, 0) AND f.tgt_ident = coalesce(e.tgt_ident, 0)
  ORDER BY e.id;
DROP TABLE events_v1;
ALTER TABLE chain ADD COLUMN digest_from INTEGER NOT NULL DEFAULT 1;
UPDATE chain SET version = 2, digest_from = head_id + 1 WHERE one = 1;
)sql";

// Version 3 keeps each process of an ancestry once (process_records.h).
// Earlier rows keep their whole JSON and their hashes; rows from
// process_refs_from on chain their process records' digests.
constexpr const char* kMigrateFrom2 = R"sql(
ALTER TABLE event_json ADD COLUMN ancestry BLOB;
ALTER TABLE event_json ADD COLUMN ancestry_at INTEGER;
DROP VIEW IF EXISTS events_flat;
ALTER TABLE chain ADD COLUMN process_refs_from INTEGER NOT NULL DEFAULT 1;
UPDATE chain SET version = 3, process_refs_from = head_id + 1 WHERE one = 1;
)sql";

} // namespace

Status ensure_schema(sqlite3* db, const std::string& path) {
    store_rows::Transaction tx(db);
    auto fail = [&](const std::string& message) {
        return make_error("cannot create the store schema in " + path + ": " + message);
    };
    if (auto s = tx.begin(); !s.ok())
        return fail(s.error().message);
    // The version decides before kSchema runs: its indexes name columns of
    // the current version.
    int64_t version = 0;
    {
        sqlite::Stmt has_chain(
            db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain'");
        if (has_chain.step() == SQLITE_ROW) {
            sqlite::Stmt v(db, "SELECT version FROM chain WHERE one = 1");
            if (v.step() == SQLITE_ROW)
                version = v.column_int(0);
        }
    }
    for (auto [from, sql] :
         {std::pair{int64_t{1}, kMigrateFrom1}, std::pair{int64_t{2}, kMigrateFrom2}}) {
        if (version != from)
            continue;
        if (auto s = sqlite::exec(db, sql); !s.ok())
            return make_error(fmt::format("cannot upgrade {} from store version {}: {}", path, from,
                                          s.error().message));
        version = from + 1;
    }
    if (version != 0 && version != kStoreSchemaVersion)
        return make_error(fmt::format("{}: store version {}, this podguard writes version {}", path,
                                      version, kStoreSchemaVersion));
    if (auto s = sqlite::exec(db, kSchema); !s.ok())
        return fail(s.error().message);
    if (version == 0) {
        sqlite::Stmt init(db, "INSERT INTO chain VALUES (1, ?1, ?2, 0, ?3, 0, ?3, 0, 1, 1)");
        Sha256 zero{};
        init.bind(1, kStoreSchemaVersion);
        init.bind(2, static_cast<int64_t>(store_rows::realtime_ns()));
        init.bind_blob(3, zero.data(), zero.size());
        if (init.step() != SQLITE_DONE)
            return sqlite::error(db, "cannot initialise " + path);
    }
    return tx.commit();
}

Status check_schema_version(sqlite3* db, const std::string& path) {
    // A writer upgrades older stores when it opens them; a reader cannot.
    sqlite::Stmt v(db, "SELECT version FROM chain WHERE one = 1");
    if (v.ok() && v.step() == SQLITE_ROW && v.column_int(0) != kStoreSchemaVersion)
        return make_error(fmt::format("{}: store version {}, this podguard reads version {} "
                                      "(the agent upgrades it when it next opens the store)",
                                      path, v.column_int(0), kStoreSchemaVersion));
    return {};
}

} // namespace podguard
