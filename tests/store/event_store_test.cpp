// EventStore on real files: every query filter, tampering that verify must
// catch, rotation that it must not mind, and a restart in the middle.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "output/json_event.h"
#include "store/event_store.h"
#include "store_fixtures.h"
#include "support/sandbox.h"

using namespace podguard;
using namespace podguard::store_test;
using podguard::test::TempDir;

namespace {

const Who kSidecar{"prod",    "web", "uid-web",     "aaaa1111" + std::string(56, '1'),
                   "sidecar", 4012,  "/usr/bin/cat"};
const Who kApp{"prod", "web", "uid-web",     "bbbb2222" + std::string(56, '2'),
               "app",  3977,  "/usr/bin/app"};
const Who kApi{"prod", "api", "uid-api", "cccc3333" + std::string(56, '3'), "api", 5000};
const Who kDb{"default",
              "db",
              "uid-db",
              "dddd4444" + std::string(56, '4'),
              "postgres",
              6000,
              "/usr/lib/postgresql/bin/postgres"};
const Who kHost{"", "", "", "", "", 1234, "/usr/bin/gdb"};
const Who kNobody{};

constexpr uint64_t kT0 = 1'763'000'000 * kSecond;

std::vector<Event> sample_events() {
    return {
        make_event(kT0 + 0 * kSecond, EventKind::ProcAccess, Action::Allowed, Relation::SamePod,
                   kSidecar, kApp),
        make_event(kT0 + 1 * kSecond, EventKind::Signal, Action::Blocked, Relation::SamePod, kApp,
                   kSidecar),
        make_event(kT0 + 2 * kSecond, EventKind::Ptrace, Action::Audited, Relation::CrossPod, kApi,
                   kDb),
        make_event(kT0 + 3 * kSecond, EventKind::ProcAccess, Action::Killed,
                   Relation::HostToContainer, kHost, kDb),
        make_event(kT0 + 4 * kSecond, EventKind::Signal, Action::Allowed, Relation::Unknown, kDb,
                   kNobody),
    };
}

std::unique_ptr<EventStore> open_store(const std::string& path, StoreOptions options = {}) {
    options.path = path;
    auto store = EventStore::open(options);
    if (!store.ok())
        throw std::runtime_error(store.error().message);
    return std::move(*store);
}

void append_events(EventStore& store, const std::vector<Event>& events) {
    std::vector<StoreRecord> records;
    for (const auto& e : events)
        records.push_back(make_record(e));
    auto st = store.append(records);
    ASSERT_TRUE(st.ok()) << st.error().message;
}

std::vector<int64_t> ids(EventStore& store, EventQuery q) {
    auto rows = store.query(q);
    if (!rows.ok())
        throw std::runtime_error(rows.error().message);
    std::vector<int64_t> out;
    for (const auto& r : *rows)
        out.push_back(r.record.id);
    return out;
}

std::vector<Event> bulk(size_t n, uint64_t t0 = kT0, uint64_t step = kSecond / 1000) {
    std::vector<Event> out;
    for (size_t i = 0; i < n; ++i)
        out.push_back(bulk_event(i, t0 + i * step));
    return out;
}

using Ids = std::vector<int64_t>;

} // namespace

TEST(EventStore, StoresTheEventJsonAndItsIdentities) {
    TempDir dir;
    auto store = open_store(dir.file("events.db"));
    auto events = sample_events();
    append_events(*store, events);

    EventQuery all;
    auto rows = store->query(all);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_EQ(rows->size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) {
        const StoredEvent& r = (*rows)[i];
        EXPECT_EQ(r.record.id, int64_t(i + 1));
        EXPECT_EQ(r.record.json, event_to_json(events[i]));
        EXPECT_EQ(r.record.time_ns, events[i].time_ns);
    }
    const StoreRecord& first = (*rows)[0].record;
    EXPECT_EQ(first.kind, "proc_access");
    EXPECT_EQ(first.relation, "same_pod");
    EXPECT_EQ(first.source.namespace_, "prod");
    EXPECT_EQ(first.source.pod, "web");
    EXPECT_EQ(first.source.container_name, "sidecar");
    EXPECT_EQ(first.source.pid, 4012u);
    EXPECT_EQ(first.target.container_id, kApp.container_id);
    EXPECT_EQ(first.target.pid, 3977u);
    auto json = nlohmann::json::parse(first.json);
    EXPECT_EQ(json["ancestry"][0]["exe"], "/bin/sh");
    // Linked: row 2 chains to row 1.
    EXPECT_EQ((*rows)[1].prev_hash, (*rows)[0].hash);
    EXPECT_EQ((*rows)[4].record.target.pid, 0u); // unresolved target
    // Only root reads what processes did.
    struct stat st {};
    ASSERT_EQ(stat(dir.file("events.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(EventStore, QueriesEachFilter) {
    TempDir dir;
    auto store = open_store(dir.file("events.db"));
    append_events(*store, sample_events());

    auto q = [] { return EventQuery{}; };
    {
        auto f = q();
        f.since_ns = kT0 + 1 * kSecond;
        f.until_ns = kT0 + 3 * kSecond;
        EXPECT_EQ(ids(*store, f), (Ids{2, 3}));
    }
    {
        auto f = q();
        f.namespace_ = "prod";
        EXPECT_EQ(ids(*store, f), (Ids{1, 2, 3}));
        f.namespace_ = "default";
        EXPECT_EQ(ids(*store, f), (Ids{3, 4, 5}));
    }
    {
        auto f = q();
        f.pod = "web";
        EXPECT_EQ(ids(*store, f), (Ids{1, 2}));
        f.pod = "uid-db"; // by uid
        EXPECT_EQ(ids(*store, f), (Ids{3, 4, 5}));
        f.pod = "we"; // names match whole
        EXPECT_EQ(ids(*store, f), Ids{});
    }
    {
        auto f = q();
        f.container = "aaaa11"; // id prefix, either side
        EXPECT_EQ(ids(*store, f), (Ids{1, 2}));
        f.container = kApi.container_id;
        EXPECT_EQ(ids(*store, f), (Ids{3}));
        f.container = "postgres"; // name
        EXPECT_EQ(ids(*store, f), (Ids{3, 4, 5}));
    }
    {
        auto f = q();
        f.kind = "signal";
        EXPECT_EQ(ids(*store, f), (Ids{2, 5}));
        f.kind = "ptrace";
        EXPECT_EQ(ids(*store, f), (Ids{3}));
    }
    {
        auto f = q();
        f.relation = "same_pod";
        EXPECT_EQ(ids(*store, f), (Ids{1, 2}));
        f.relation = "host_to_container";
        EXPECT_EQ(ids(*store, f), (Ids{4}));
    }
    {
        auto f = q();
        f.action = "killed";
        EXPECT_EQ(ids(*store, f), (Ids{4}));
        f.action = "allowed";
        EXPECT_EQ(ids(*store, f), (Ids{1, 5}));
    }
    {
        auto f = q();
        f.pid = 6000; // source or target
        EXPECT_EQ(ids(*store, f), (Ids{3, 4, 5}));
        f.pid = 4012;
        EXPECT_EQ(ids(*store, f), (Ids{1, 2}));
    }
    {
        auto f = q();
        f.limit = 2;
        EXPECT_EQ(ids(*store, f), (Ids{1, 2}));
        f.order = EventQuery::Order::Descending;
        EXPECT_EQ(ids(*store, f), (Ids{5, 4}));
        f.limit = 0;
        EXPECT_EQ(ids(*store, f), (Ids{5, 4, 3, 2, 1}));
    }
    {
        auto f = q();
        f.after_id = 3;
        EXPECT_EQ(ids(*store, f), (Ids{4, 5}));
    }
    {
        auto f = q(); // combined: the responder's question
        f.pod = "web";
        f.kind = "proc_access";
        f.since_ns = kT0;
        f.until_ns = kT0 + 10 * kSecond;
        f.container = "sidecar";
        f.pid = 4012;
        EXPECT_EQ(ids(*store, f), (Ids{1}));
    }
}

TEST(EventStore, OrdersByEventTimeNotArrival) {
    TempDir dir;
    auto store = open_store(dir.file("events.db"));
    auto events = sample_events();
    std::swap(events[0].time_ns, events[1].time_ns); // row 2 happened first
    append_events(*store, events);
    EventQuery f;
    f.limit = 2;
    EXPECT_EQ(ids(*store, f), (Ids{2, 1}));
}

TEST(EventStore, VerifyPassesOnAnIntactChain) {
    TempDir dir;
    auto store = open_store(dir.file("events.db"));
    EXPECT_TRUE(store->verify().ok); // empty
    append_events(*store, sample_events());
    append_events(*store, bulk(100));
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 105u);
    EXPECT_EQ(r.first_id, 1);
    EXPECT_EQ(r.last_id, 105);
    EXPECT_EQ(r.chain.head_id, 105);
    EXPECT_NE(describe(r).find("ok: 105 rows"), std::string::npos) << describe(r);
}

TEST(EventStore, VerifyFindsADeletedRow) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(20));
    sql(path, "DELETE FROM events WHERE id = 7; DELETE FROM event_json WHERE id = 7");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::DeletedRows);
    EXPECT_EQ(r.broken_id, 7);
    EXPECT_EQ(r.rows, 6u);
    EXPECT_NE(describe(r).find("row 7 is missing"), std::string::npos) << describe(r);

    sql(path, "DELETE FROM events WHERE id IN (8, 9)");
    r = open_store(path)->verify();
    EXPECT_EQ(r.broken_id, 7);
    EXPECT_NE(r.detail.find("rows 7..9"), std::string::npos) << r.detail;
}

TEST(EventStore, VerifyFindsAnEditedJsonColumn) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(20));
    sql(path, "UPDATE event_json SET json = replace(json, '/etc/secret', '/etc/hostname') "
              "WHERE id = 12");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 12);
    EXPECT_EQ(r.rows, 11u);
}

TEST(EventStore, VerifyFindsAnEditedIndexedColumn) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(20));
    sql(path, "UPDATE events SET tgt_pid = 1 WHERE id = 3");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 3);
}

TEST(EventStore, VerifyFindsAnEditedIdentity) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(20));
    // Renaming a pod rewrites every row that names it; the first one breaks.
    sql(path, "UPDATE identities SET pod = 'innocent' WHERE pod = 'pod-7'");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 8); // bulk_event(7) is row 8
}

TEST(EventStore, FlatViewShowsEveryColumn) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), sample_events());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT src_namespace, src_pod, src_container_name, src_pid, "
                                 "tgt_container_id, tgt_pid, length(json), length(hash) FROM "
                                 "events_flat WHERE id = 1",
                                 -1, &st, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    auto text = [&](int i) {
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)));
    };
    EXPECT_EQ(text(0), "prod");
    EXPECT_EQ(text(1), "web");
    EXPECT_EQ(text(2), "sidecar");
    EXPECT_EQ(sqlite3_column_int(st, 3), 4012);
    EXPECT_EQ(text(4), kApp.container_id);
    EXPECT_EQ(sqlite3_column_int(st, 5), 3977);
    EXPECT_GT(sqlite3_column_int(st, 6), 500);
    EXPECT_EQ(sqlite3_column_int(st, 7), 32);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST(EventStore, VerifyFindsAnEditedRowWhoseHashWasRecomputed) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(20));
    // A careful editor rewrites row 5 and its hash; row 6 still names the old one.
    {
        auto store = open_store(path);
        EventQuery q;
        q.after_id = 4;
        q.limit = 1;
        auto rows = store->query(q);
        ASSERT_TRUE(rows.ok());
        StoredEvent e = rows->at(0);
        e.record.relation = "same_container";
        // The row as stored: the JSON without its ancestry, which lives in
        // process records (the query spliced it back).
        e.record.json = stored_text(path, "SELECT json FROM event_json WHERE id = 5");
        e.record.ancestry_at =
            std::stoll(stored_text(path, "SELECT ancestry_at FROM event_json WHERE id = 5"));
        ChainHasher hasher;
        std::string hex = to_hex(hasher.hash(e.prev_hash, e.record));
        // Row 5 moves to a facet that differs only by its relation.
        sql(path, "INSERT INTO facets(kind, action, relation, src_ident, tgt_ident) "
                  "SELECT kind, action, 'same_container', src_ident, tgt_ident FROM facets "
                  "WHERE facet = (SELECT facet FROM events WHERE id = 5); "
                  "UPDATE events SET facet = last_insert_rowid(), hash = x'" +
                      hex + "' WHERE id = 5");
    }
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 5);
    EXPECT_NE(r.detail.find("hash recomputed"), std::string::npos) << r.detail;
}

TEST(EventStore, VerifyFindsDeletedTailRows) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(20));
    sql(path, "DELETE FROM events WHERE id > 15; DELETE FROM event_json WHERE id > 15");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::Truncated);
    EXPECT_EQ(r.broken_id, 16);
    EXPECT_EQ(r.rows, 15u);
    EXPECT_NE(r.detail.find("rows 16..20"), std::string::npos) << r.detail;

    // The writer does not paper over the gap: it chains on from the head.
    auto store = open_store(path);
    append_events(*store, bulk(3));
    r = store->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::DeletedRows);
    EXPECT_EQ(r.broken_id, 16);

    // Every row gone is still noticed.
    sql(path, "DELETE FROM events; DELETE FROM event_json");
    r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::Truncated);
    EXPECT_EQ(r.broken_id, 1);
}

namespace {

// Opens a store the OS truncated and verifies it. SQLite may refuse the file
// outright; either way the answer must name the truncation. The report, when
// the store opened.
std::optional<VerifyReport> verify_truncated(const std::string& path) {
    StoreOptions ro;
    ro.read_only = true;
    ro.path = path;
    auto store = EventStore::open(ro);
    if (!store.ok()) {
        EXPECT_NE(store.error().message.find("the file was truncated"), std::string::npos)
            << store.error().message;
        return std::nullopt;
    }
    VerifyReport r = (*store)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::Truncated) << describe(r);
    return r;
}

} // namespace

TEST(EventStore, VerifyFindsAFileTruncatedByTheOs) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(3000)); // closing checkpoints into the main file
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    ASSERT_GT(st.st_size, 1 << 20);
    ASSERT_EQ(truncate(path.c_str(), st.st_size / 2), 0);

    std::optional<VerifyReport> r = verify_truncated(path);
    if (r) {
        EXPECT_NE(r->detail.find("truncated"), std::string::npos) << r->detail;
    }
}

TEST(EventStore, VerifyFindsAFileTruncatedByTheOsBeyondTheSchema) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(3000));
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    ASSERT_EQ(truncate(path.c_str(), st.st_size - 64 * 1024), 0); // the last pages
    verify_truncated(path);
}

TEST(EventStore, RestartResumesTheChain) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), bulk(10));
    Sha256 head10{};
    {
        auto store = open_store(path);
        auto chain = store->chain();
        ASSERT_TRUE(chain.ok());
        EXPECT_EQ(chain->head_id, 10);
        head10 = chain->head_hash;
        append_events(*store, bulk(10));
    }
    auto store = open_store(path);
    EventQuery q;
    q.after_id = 10;
    q.limit = 1;
    auto rows = store->query(q);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->at(0).record.id, 11);
    EXPECT_EQ(rows->at(0).prev_hash, head10);
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 20u);
}

TEST(EventStore, RotationBySizeKeepsTheChainVerifiable) {
    TempDir dir;
    StoreOptions o;
    o.max_bytes = 2 << 20;
    auto store = open_store(dir.file("events.db"), o);
    for (int round = 0; round < 10; ++round) {
        append_events(*store, bulk(1000, kT0 + round * 1000 * kSecond));
        auto pruned = store->prune(kT0 + 20000 * kSecond);
        ASSERT_TRUE(pruned.ok()) << pruned.error().message;
        auto used = store->used_bytes();
        ASSERT_TRUE(used.ok());
        EXPECT_LE(*used, o.max_bytes);
    }
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_GT(r.chain.anchor_id, 0);
    EXPECT_EQ(r.first_id, r.chain.anchor_id + 1);
    EXPECT_EQ(r.last_id, 10000);
    EXPECT_EQ(r.chain.pruned, uint64_t(r.chain.anchor_id));
    EXPECT_LT(r.rows, 10000u);

    // Deleting the first kept row after rotation is still a deletion.
    sql(dir.file("events.db"), "DELETE FROM events WHERE id = (SELECT min(id) FROM events)");
    r = store->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::DeletedRows);
    EXPECT_EQ(r.broken_id, r.chain.anchor_id + 1);
}

TEST(EventStore, RotationByAgeKeepsTheChainVerifiable) {
    TempDir dir;
    StoreOptions o;
    o.max_age = std::chrono::hours(1);
    auto store = open_store(dir.file("events.db"), o);
    const uint64_t now = kT0 + 10 * 3600 * kSecond;
    append_events(*store, bulk(500, now - 3 * 3600 * kSecond, kSecond)); // old
    append_events(*store, bulk(300, now - 1800 * kSecond, kSecond));     // recent
    auto pruned = store->prune(now);
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    EXPECT_EQ(pruned->rows, 500u);
    EXPECT_EQ(pruned->anchor_id, 500);
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 300u);
    EXPECT_EQ(r.first_id, 501);
    // Nothing more to do; new rows chain on after the rotation.
    pruned = store->prune(now);
    ASSERT_TRUE(pruned.ok());
    EXPECT_EQ(pruned->rows, 0u);
    append_events(*store, bulk(10, now));
    EXPECT_TRUE(store->verify().ok);
}

TEST(EventStore, ReadOnlyOpenNeverCreates) {
    TempDir dir;
    StoreOptions o;
    o.path = dir.file("missing.db");
    o.read_only = true;
    auto store = EventStore::open(o);
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.error().message.find("no event store"), std::string::npos);
    EXPECT_NE(access(o.path.c_str(), F_OK), 0);

    // Nor does it accept some other SQLite file.
    sql(dir.file("other.db"), "CREATE TABLE t(x)");
    o.path = dir.file("other.db");
    store = EventStore::open(o);
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.error().message.find("not a podguard event store"), std::string::npos)
        << store.error().message;
}

TEST(EventStore, CreatesTheStoreDirectory) {
    TempDir dir;
    auto store = open_store(dir.file("a/b/events.db"));
    struct stat st {};
    ASSERT_EQ(stat(dir.file("a/b").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(EventStore, VerifyFindsAnEditedFacet) {
    TempDir dir;
    auto path = dir.file("events.db");
    append_events(*open_store(path), sample_events());
    // Turning the blocked signal (row 2) into an allowed one.
    sql(path, "UPDATE facets SET action = 'allowed' WHERE kind = 'signal' AND action = 'blocked'");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 2);
}

// A store written by version 1 (kind, action, relation and identities in
// each row, four indexes) is upgraded in place by the first writer; its
// hashes stay valid and new rows chain on.
TEST(EventStore, UpgradesAVersion1StoreKeepingItsChain) {
    TempDir dir;
    auto path = dir.file("events.db");
    sql(path, R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE chain(one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL,
  created_ns INTEGER NOT NULL, head_id INTEGER NOT NULL, head_hash BLOB NOT NULL,
  anchor_id INTEGER NOT NULL, anchor_hash BLOB NOT NULL, pruned INTEGER NOT NULL);
CREATE TABLE identities(ident INTEGER PRIMARY KEY, namespace TEXT NOT NULL, pod TEXT NOT NULL,
  pod_uid TEXT NOT NULL, container_id TEXT NOT NULL, container_name TEXT NOT NULL,
  UNIQUE (namespace, pod, pod_uid, container_id, container_name));
CREATE TABLE events(id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, kind TEXT NOT NULL,
  action TEXT NOT NULL, relation TEXT NOT NULL, src_ident INTEGER REFERENCES identities(ident),
  src_pid INTEGER, tgt_ident INTEGER REFERENCES identities(ident), tgt_pid INTEGER,
  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE event_json(id INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE INDEX events_time ON events(time_ns);
CREATE INDEX events_class ON events(kind, action, relation, time_ns);
CREATE INDEX events_src ON events(src_ident, time_ns) WHERE src_ident IS NOT NULL;
CREATE INDEX events_tgt ON events(tgt_ident, time_ns) WHERE tgt_ident IS NOT NULL;
CREATE VIEW events_flat AS SELECT e.id FROM events e;
)sql");
    // The rows as version 1 wrote them: same values, same chain.
    auto events = sample_events();
    ChainHasher hasher;
    Sha256 prev{};
    std::string rows;
    std::map<std::string, int> idents;
    auto ident = [&](const RecordParty& p) -> std::string {
        if (p.namespace_.empty() && p.container_id.empty())
            return "NULL";
        std::string key = p.namespace_ + "/" + p.pod + "/" + p.pod_uid + "/" + p.container_id +
                          "/" + p.container_name;
        auto [it, added] = idents.emplace(key, int(idents.size() + 1));
        if (added)
            rows += "INSERT INTO identities VALUES (" + std::to_string(it->second) + ", '" +
                    p.namespace_ + "', '" + p.pod + "', '" + p.pod_uid + "', '" + p.container_id +
                    "', '" + p.container_name + "');";
        return std::to_string(it->second);
    };
    auto pid = [](uint32_t p) { return p ? std::to_string(p) : std::string("NULL"); };
    for (size_t i = 0; i < events.size(); ++i) {
        StoreRecord r = make_record(events[i]);
        // Version 1 kept the whole JSON.
        r.json = event_to_json(events[i]);
        r.process_refs = false;
        r.ancestry.clear();
        r.ancestry_at = -1;
        r.id = int64_t(i + 1);
        Sha256 hash = hasher.hash_v1(prev, r);
        std::string src = ident(r.source), tgt = ident(r.target);
        rows += "INSERT INTO events VALUES (" + std::to_string(r.id) + ", " +
                std::to_string(r.time_ns) + ", '" + r.kind + "', '" + r.action + "', '" +
                r.relation + "', " + src + ", " + pid(r.source.pid) + ", " + tgt + ", " +
                pid(r.target.pid) + ", x'" + to_hex(prev) + "', x'" + to_hex(hash) + "');";
        rows += "INSERT INTO event_json VALUES (" + std::to_string(r.id) + ", " +
                sql_literal(r.json) + ");";
        prev = hash;
    }
    rows += "INSERT INTO chain VALUES (1, 1, 0, " + std::to_string(events.size()) + ", x'" +
            to_hex(prev) + "', 0, x'" + to_hex(Sha256{}) + "', 0);";
    sql(path, rows);

    // A reader cannot upgrade, and says so.
    StoreOptions ro;
    ro.path = path;
    ro.read_only = true;
    auto reader = EventStore::open(ro);
    ASSERT_FALSE(reader.ok());
    EXPECT_NE(reader.error().message.find("store version 1"), std::string::npos)
        << reader.error().message;

    auto store = open_store(path);
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, events.size());
    EXPECT_EQ(r.chain.head_hash, prev);
    EventQuery q;
    q.pod = "db";
    EXPECT_EQ(ids(*store, q), (Ids{3, 4, 5}));
    q = {};
    q.kind = "signal";
    q.action = "blocked";
    EXPECT_EQ(ids(*store, q), (Ids{2}));
    append_events(*store, bulk(3));
    r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, events.size() + 3);
    // The old layout is gone.
    EXPECT_THROW(sql(path, "SELECT src_ident FROM events"), std::runtime_error);
}

// The writer only appends to the WAL; a thread of the store copies it into
// the database file, and the WAL stays bounded however long the writer goes.
TEST(EventStore, CheckpointsBesideTheWriterAndKeepsTheWalBounded) {
    TempDir dir;
    StoreOptions o;
    o.checkpoint_bytes = 256 << 10;
    auto path = dir.file("events.db");
    auto store = open_store(path, o);
    off_t max_wal = 0;
    for (int round = 0; round < 40; ++round) {
        append_events(*store, bulk(200, kT0 + uint64_t(round) * kSecond));
        struct stat wal {};
        if (stat((path + "-wal").c_str(), &wal) == 0)
            max_wal = std::max(max_wal, wal.st_size);
    }
    // 8000 events of ~1.4 KiB: without checkpoints the WAL would hold them all.
    EXPECT_LT(max_wal, 6 << 20);
    const off_t rows_bytes = 6 << 20; // at least, once the rows are in the file
    // Up to 30 s: the checkpointer thread may wait for a busy machine's CPU.
    off_t db_size = 0;
    for (int i = 0; i < 600 && db_size < rows_bytes; ++i) {
        struct stat db {};
        ASSERT_EQ(stat(path.c_str(), &db), 0);
        db_size = db.st_size;
        if (db_size < rows_bytes)
            usleep(50000);
    }
    EXPECT_GE(db_size, rows_bytes) << "the rows never reached the database file";
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 8000u);
}
