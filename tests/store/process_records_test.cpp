// Process records (store version 3): an event's ancestry stored once per
// process, queries that return the stream's JSON byte for byte, a chain that
// still catches an edited or deleted process record, rotation that takes the
// records no kept event needs, and stores of earlier versions.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <map>

#include "output/json_event.h"
#include "store/event_store.h"
#include "store/store_schema.h"
#include "store_fixtures.h"
#include "support/sandbox.h"

using namespace podguard;
using namespace podguard::store_test;
using podguard::test::TempDir;

namespace {

constexpr uint64_t kT0 = 1'763'000'000 * kSecond;

const Who kShell{"prod", "web", "uid-web", std::string(64, 'a'), "sidecar", 4012, "/bin/sh"};
const Who kApp{"prod", "web", "uid-web", std::string(64, 'b'), "app", 3977, "/usr/bin/app"};

AncestorInfo ancestor(uint32_t pid, std::string exe, std::string args, bool in_container) {
    AncestorInfo a;
    a.pid = pid;
    a.start_ns = 500 * kSecond + pid;
    a.exe = std::move(exe);
    a.args = std::move(args);
    if (in_container)
        a.container = ContainerInfo{kShell.container_id, "containerd", "sidecar", "", ""};
    return a;
}

// The process's ancestry as fill_ancestry makes it: its shell, the
// runtime's shim (host), host init with a long command line.
std::vector<AncestorInfo> chain() {
    return {
        ancestor(4011, "/bin/sh", "sh -c while true; do cat /proc/8/cmdline; done", true),
        ancestor(900, "/usr/bin/containerd-shim-runc-v2",
                 "containerd-shim-runc-v2 -namespace k8s.io -id " + std::string(64, 'a') +
                     " -address /run/containerd/containerd.sock",
                 false),
        ancestor(1, "/usr/lib/systemd/systemd", "/sbin/init splash \"quoted\" \\ tab\t", false)};
}

Event event_of(uint64_t i, std::vector<AncestorInfo> ancestry = chain()) {
    Event e = make_event(kT0 + i * 1000, EventKind::ProcAccess, Action::Allowed, Relation::SamePod,
                         kShell, kApp);
    e.ancestry = std::move(ancestry);
    return e;
}

std::unique_ptr<EventStore> open_store(const std::string& path, StoreOptions o = {}) {
    o.path = path;
    auto store = EventStore::open(o);
    if (!store.ok())
        throw std::runtime_error(store.error().message);
    return std::move(*store);
}

void append(EventStore& store, const std::vector<Event>& events) {
    std::vector<StoreRecord> records;
    for (const auto& e : events)
        records.push_back(make_record(e));
    auto st = store.append(records);
    ASSERT_TRUE(st.ok()) << st.error().message;
}

int64_t count(const std::string& path, const std::string& query) {
    sqlite3* db = nullptr;
    int64_t n = -1;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

std::vector<std::string> stored_json(EventStore& store) {
    EventQuery q;
    q.limit = 0;
    auto rows = store.query(q);
    if (!rows.ok())
        throw std::runtime_error(rows.error().message);
    std::vector<std::string> out;
    for (const auto& r : *rows)
        out.push_back(r.record.json);
    return out;
}

} // namespace

TEST(ProcessRecords, StoredOnceForManyEventsOfOneProcess) {
    TempDir dir;
    auto path = dir.file("events.db");
    auto store = open_store(path);
    std::vector<Event> events;
    for (uint64_t i = 0; i < 1000; ++i)
        events.push_back(event_of(i));
    // Over two batches, as the sink commits them.
    append(*store, {events.begin(), events.begin() + 600});
    append(*store, {events.begin() + 600, events.end()});
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes"), 3);
    // The rows keep the rest of the event: no command line of an ancestor.
    EXPECT_EQ(count(path, "SELECT count(*) FROM event_json WHERE json LIKE '%ancestry%' OR json "
                          "LIKE '%containerd-shim%'"),
              0);
    EXPECT_EQ(count(path, "SELECT count(*) FROM event_json WHERE length(ancestry) = 24"), 1000);
    // What the stream wrote, byte for byte.
    auto json = stored_json(*store);
    ASSERT_EQ(json.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i)
        ASSERT_EQ(json[i], event_to_json(events[i])) << "row " << i + 1;
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 1000u);
}

TEST(ProcessRecords, AProcessThatExecsAgainIsANewRecordAndEventsWithoutAncestryStayWhole) {
    TempDir dir;
    auto path = dir.file("events.db");
    auto store = open_store(path);
    auto execd = chain();
    execd[0].exe = "/usr/bin/python3"; // same pid and start: the shell exec'd
    execd[0].args = "python3 -c 'open(\"/proc/8/environ\").read()'";
    std::vector<Event> events = {event_of(0), event_of(1, execd), event_of(2, {}), event_of(3)};
    // With --stacks the ancestry is not the last member.
    events[3].stacks = EventStacks{{StackFrame{0x401000, "main", "/bin/sh", 16}}, {}, "", ""};
    append(*store, events);
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes"), 4);
    auto json = stored_json(*store);
    ASSERT_EQ(json.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i)
        EXPECT_EQ(json[i], event_to_json(events[i])) << "row " << i + 1;
    EXPECT_TRUE(store->verify().ok) << describe(store->verify());
}

TEST(ProcessRecords, VerifyFindsAnEditedProcessRecord) {
    TempDir dir;
    auto path = dir.file("events.db");
    std::vector<Event> events = {event_of(0, {}), event_of(1, {}), event_of(2), event_of(3)};
    append(*open_store(path), events);
    // Hiding what started the reader: rows 3 and 4 name this shell.
    sql(path, "UPDATE processes SET json = replace(json, 'cat /proc/8/cmdline', 'sleep 1') "
              "WHERE pid = 4011");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 3);
    EXPECT_EQ(r.rows, 2u);
    EXPECT_NE(r.detail.find("process record"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("edited"), std::string::npos) << r.detail;

    // A careful editor recomputes the record's digest too: the events that
    // refer to it chained the old one.
    std::string edited = stored_text(path, "SELECT json FROM processes WHERE pid = 4011");
    ASSERT_NE(edited.find("sleep 1"), std::string::npos);
    sql(path, "UPDATE processes SET digest = x'" + to_hex(sha256(edited)) + "' WHERE pid = 4011");
    r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 3);
}

TEST(ProcessRecords, VerifyFindsADeletedOrSwappedProcessRecord) {
    TempDir dir;
    auto path = dir.file("events.db");
    auto other = chain();
    other[0].pid = 5000;
    append(*open_store(path), {event_of(0, {}), event_of(1), event_of(2, other)});
    // Row 2 made to name row 3's shell instead of its own.
    sql(path, "UPDATE event_json SET ancestry = (SELECT ancestry FROM event_json WHERE id = 3) "
              "WHERE id = 2");
    VerifyReport r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 2);

    TempDir dir2;
    auto path2 = dir2.file("events.db");
    append(*open_store(path2), {event_of(0, {}), event_of(1)});
    sql(path2, "DELETE FROM processes WHERE pid = 1");
    r = open_store(path2)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.what, ChainBreak::EditedRow);
    EXPECT_EQ(r.broken_id, 2);
    EXPECT_NE(r.detail.find("missing"), std::string::npos) << r.detail;
}

TEST(ProcessRecords, RotationTakesTheRecordsNoKeptEventNeeds) {
    TempDir dir;
    auto path = dir.file("events.db");
    StoreOptions o;
    o.max_bytes = 0;
    o.max_age = std::chrono::seconds(3600);
    auto store = open_store(path, o);
    auto later = chain();
    later[0].pid = 4100; // another shell; the shim and init stay
    std::vector<Event> old_events, new_events;
    for (uint64_t i = 0; i < 10; ++i)
        old_events.push_back(event_of(i)); // at kT0: two hours before `now`
    append(*store, old_events);
    for (uint64_t i = 0; i < 10; ++i) {
        Event e = event_of(i, later);
        e.time_ns = kT0 + 2 * 3600 * kSecond;
        new_events.push_back(e);
    }
    append(*store, new_events);
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes"), 4);
    auto pruned = store->prune(kT0 + 2 * 3600 * kSecond + kSecond);
    ASSERT_TRUE(pruned.ok()) << pruned.error().message;
    EXPECT_EQ(pruned->rows, 10u);
    // The first shell went with its events; the shim and init are still named.
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes"), 3);
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes WHERE pid = 4011"), 0);
    // The writer stores the first shell anew when it comes back.
    Event back = event_of(99);
    back.time_ns = kT0 + 2 * 3600 * kSecond + 2 * kSecond;
    append(*store, {back});
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes WHERE pid = 4011"), 1);
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 11u);
    auto json = stored_json(*store);
    ASSERT_EQ(json.size(), 11u);
    EXPECT_EQ(json.back(), event_to_json(back));
}

// A store written by version 2 (each event's whole JSON in its row) is
// upgraded in place by the first writer: its rows keep their hashes and
// their JSON, new rows chain on in the process layout.
TEST(ProcessRecords, UpgradesAVersion2StoreKeepingItsChain) {
    TempDir dir;
    auto path = dir.file("events.db");
    sql(path, R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE chain(one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL,
  created_ns INTEGER NOT NULL, head_id INTEGER NOT NULL, head_hash BLOB NOT NULL,
  anchor_id INTEGER NOT NULL, anchor_hash BLOB NOT NULL, pruned INTEGER NOT NULL,
  digest_from INTEGER NOT NULL);
CREATE TABLE identities(ident INTEGER PRIMARY KEY, namespace TEXT NOT NULL, pod TEXT NOT NULL,
  pod_uid TEXT NOT NULL, container_id TEXT NOT NULL, container_name TEXT NOT NULL,
  UNIQUE (namespace, pod, pod_uid, container_id, container_name));
CREATE TABLE facets(facet INTEGER PRIMARY KEY, kind TEXT NOT NULL, action TEXT NOT NULL,
  relation TEXT NOT NULL, src_ident INTEGER NOT NULL, tgt_ident INTEGER NOT NULL,
  UNIQUE (kind, action, relation, src_ident, tgt_ident));
CREATE TABLE events(id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,
  facet INTEGER NOT NULL REFERENCES facets(facet), src_pid INTEGER, tgt_pid INTEGER,
  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE event_json(id INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE INDEX events_time ON events(time_ns);
CREATE INDEX events_facet ON events(facet, time_ns);
CREATE VIEW events_flat AS SELECT e.id FROM events e;
INSERT INTO identities VALUES (1, 'prod', 'web', 'uid-web', ')sql" +
                  kShell.container_id + "', 'sidecar'), (2, 'prod', 'web', 'uid-web', '" +
                  kApp.container_id + R"sql(', 'app');
INSERT INTO facets VALUES (1, 'proc_access', 'allowed', 'same_pod', 1, 2);
)sql");
    // The rows as version 2 wrote them: whole JSON, content digests.
    std::vector<Event> events = {event_of(0), event_of(1), event_of(2, {})};
    ChainHasher hasher;
    Sha256 prev{};
    std::string rows;
    for (size_t i = 0; i < events.size(); ++i) {
        StoreRecord r = make_record(events[i]);
        r.json = event_to_json(events[i]);
        r.process_refs = false;
        r.ancestry.clear();
        r.ancestry_at = -1;
        r.digest.reset();
        r.id = int64_t(i + 1);
        Sha256 hash = hasher.hash(prev, r);
        rows += "INSERT INTO events VALUES (" + std::to_string(r.id) + ", " +
                std::to_string(r.time_ns) + ", 1, " + std::to_string(r.source.pid) + ", " +
                std::to_string(r.target.pid) + ", x'" + to_hex(prev) + "', x'" + to_hex(hash) +
                "');";
        rows += "INSERT INTO event_json VALUES (" + std::to_string(r.id) + ", " +
                sql_literal(r.json) + ");";
        prev = hash;
    }
    rows += "INSERT INTO chain VALUES (1, 2, 0, " + std::to_string(events.size()) + ", x'" +
            to_hex(prev) + "', 0, x'" + to_hex(Sha256{}) + "', 0, 1);";
    sql(path, rows);

    // A reader cannot upgrade, and says so.
    StoreOptions ro;
    ro.path = path;
    ro.read_only = true;
    auto reader = EventStore::open(ro);
    ASSERT_FALSE(reader.ok());
    EXPECT_NE(reader.error().message.find("store version 2"), std::string::npos)
        << reader.error().message;

    auto store = open_store(path);
    VerifyReport r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 3u);
    EXPECT_EQ(r.chain.process_refs_from, 4);
    std::vector<Event> more = {event_of(3), event_of(4)};
    append(*store, more);
    r = store->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 5u);
    EXPECT_EQ(count(path, "SELECT count(*) FROM processes"), 3);
    EXPECT_EQ(count(path, "SELECT version FROM chain"), kStoreSchemaVersion);
    auto json = stored_json(*store);
    events.insert(events.end(), more.begin(), more.end());
    ASSERT_EQ(json.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i)
        EXPECT_EQ(json[i], event_to_json(events[i])) << "row " << i + 1;
    // An old row's JSON is still its own: editing it is still caught.
    sql(path, "UPDATE event_json SET json = replace(json, 'containerd-shim', 'nothing') "
              "WHERE id = 2");
    r = open_store(path)->verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.broken_id, 2);
}

TEST(ProcessRecords, AStoreOfANewerVersionIsRefusedWithItsVersion) {
    TempDir dir;
    auto path = dir.file("events.db");
    append(*open_store(path), {event_of(0)});
    sql(path, "UPDATE chain SET version = 9");
    StoreOptions o;
    o.path = path;
    auto store = EventStore::open(o);
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.error().message.find("store version 9"), std::string::npos)
        << store.error().message;
    o.read_only = true;
    store = EventStore::open(o);
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.error().message.find("store version 9"), std::string::npos)
        << store.error().message;
}
