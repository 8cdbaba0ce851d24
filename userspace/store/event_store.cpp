#include "store/event_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <optional>
#include <variant>

namespace podguard {

namespace {

// 2: kind, action, relation and the two identities moved from each row to
// the facets table (one index instead of four), and new rows chain content
// digests (record.h); v1 stores are migrated, their rows' hashes kept.
constexpr int kSchemaVersion = 2;
// Rows deleted per pruning transaction: keeps the writer's pauses short.
constexpr int64_t kPruneChunk = 50000;
// Size pruning stops below this share of max_bytes, so that it does not
// run again after every commit.
constexpr double kPruneLowWater = 0.9;

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
  digest_from INTEGER NOT NULL
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
-- The JSON lives apart so that filtering and sorting read small rows.
CREATE TABLE IF NOT EXISTS event_json(
  id INTEGER PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events(time_ns);
CREATE INDEX IF NOT EXISTS events_facet ON events(facet, time_ns);
-- Everything in one row, for sqlite3 users.
CREATE VIEW IF NOT EXISTS events_flat AS
SELECT e.id, e.time_ns, f.kind, f.action, f.relation,
       s.namespace AS src_namespace, s.pod AS src_pod, s.pod_uid AS src_pod_uid,
       s.container_id AS src_container_id, s.container_name AS src_container_name, e.src_pid,
       t.namespace AS tgt_namespace, t.pod AS tgt_pod, t.pod_uid AS tgt_pod_uid,
       t.container_id AS tgt_container_id, t.container_name AS tgt_container_name, e.tgt_pid,
       j.json, e.prev_hash, e.hash
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

// Column order shared by every reader of rows (row_to_event).
constexpr const char* kEventColumns =
    "e.id, e.time_ns, f.kind, f.action, f.relation, "
    "s.namespace, s.pod, s.pod_uid, s.container_id, s.container_name, e.src_pid, "
    "t.namespace, t.pod, t.pod_uid, t.container_id, t.container_name, e.tgt_pid, "
    "e.prev_hash, e.hash, j.json";
// LEFT joins: a row whose facet or identity was deleted still reads (with
// empty values), and verify reports it as edited.
constexpr const char* kEventJoins = "LEFT JOIN facets f ON f.facet = e.facet "
                                    "LEFT JOIN identities s ON s.ident = f.src_ident "
                                    "LEFT JOIN identities t ON t.ident = f.tgt_ident "
                                    "LEFT JOIN event_json j ON j.id = e.id";

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void read_party(const sqlite::Stmt& s, int col, RecordParty& p) {
    p.namespace_ = s.column_text(col);
    p.pod = s.column_text(col + 1);
    p.pod_uid = s.column_text(col + 2);
    p.container_id = s.column_text(col + 3);
    p.container_name = s.column_text(col + 4);
    p.pid = static_cast<uint32_t>(s.column_int(col + 5));
}

// Reads kEventColumns; false when a hash column is not a SHA-256.
bool row_to_event(const sqlite::Stmt& s, StoredEvent& out) {
    StoreRecord& r = out.record;
    r.id = s.column_int(0);
    r.time_ns = static_cast<uint64_t>(s.column_int(1));
    r.kind = s.column_text(2);
    r.action = s.column_text(3);
    r.relation = s.column_text(4);
    read_party(s, 5, r.source);
    read_party(s, 11, r.target);
    r.json = s.column_text(19);
    bool ok = hash_from_blob(sqlite3_column_blob(s.get(), 17), sqlite3_column_bytes(s.get(), 17),
                             out.prev_hash);
    ok &= hash_from_blob(sqlite3_column_blob(s.get(), 18), sqlite3_column_bytes(s.get(), 18),
                         out.hash);
    return ok;
}

void identity_key(const RecordParty& p, std::string& key) {
    key.clear();
    for (const std::string* f :
         {&p.namespace_, &p.pod, &p.pod_uid, &p.container_id, &p.container_name}) {
        key += *f;
        key += '\0';
    }
}

void facet_key(const StoreRecord& r, int64_t src, int64_t tgt, std::string& key) {
    key.clear();
    for (const std::string* f : {&r.kind, &r.action, &r.relation}) {
        key += *f;
        key += '\0';
    }
    key.append(reinterpret_cast<const char*>(&src), sizeof(src));
    key.append(reinterpret_cast<const char*>(&tgt), sizeof(tgt));
}

bool has_identity(const RecordParty& p) {
    return !p.namespace_.empty() || !p.pod.empty() || !p.pod_uid.empty() ||
           !p.container_id.empty() || !p.container_name.empty();
}

Result<ChainState> read_chain_row(sqlite3* db, sqlite::Stmt& s) {
    s.reset();
    int rc = s.step();
    if (rc == SQLITE_DONE)
        return make_error("the store has no chain record");
    if (rc != SQLITE_ROW)
        return sqlite::error(db, "cannot read the chain record");
    ChainState c;
    c.head_id = s.column_int(0);
    c.anchor_id = s.column_int(2);
    c.pruned = static_cast<uint64_t>(s.column_int(4));
    c.digest_from = s.column_int(5);
    bool ok = hash_from_blob(sqlite3_column_blob(s.get(), 1), sqlite3_column_bytes(s.get(), 1),
                             c.head_hash) &&
              hash_from_blob(sqlite3_column_blob(s.get(), 3), sqlite3_column_bytes(s.get(), 3),
                             c.anchor_hash);
    s.reset();
    if (!ok)
        return make_error("the chain record holds a malformed hash");
    return c;
}

constexpr const char* kReadChain =
    "SELECT head_id, head_hash, anchor_id, anchor_hash, pruned, digest_from FROM chain "
    "WHERE one = 1";

// Rolls back on destruction unless committed: every error path of a write.
class Transaction {
  public:
    explicit Transaction(sqlite3* db) : db_(db) {}
    ~Transaction() {
        if (open_ && !sqlite3_get_autocommit(db_))
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Status begin() {
        if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
            return sqlite::error(db_, "cannot begin a transaction");
        open_ = true;
        return {};
    }
    Status commit() {
        if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
            return sqlite::error(db_, "cannot commit");
        open_ = false;
        return {};
    }

  private:
    sqlite3* db_;
    bool open_ = false;
};

// Page count and size from the database header, when SQLite vouches for
// the count (change counter == version-valid-for).
std::optional<uint64_t> header_bytes(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    unsigned char h[100];
    ssize_t n = pread(fd, h, sizeof(h), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(sizeof(h)) || std::memcmp(h, "SQLite format 3", 16) != 0)
        return std::nullopt;
    auto be32 = [&](int at) {
        return uint32_t(h[at]) << 24 | uint32_t(h[at + 1]) << 16 | uint32_t(h[at + 2]) << 8 |
               uint32_t(h[at + 3]);
    };
    uint32_t page_size = uint32_t(h[16]) << 8 | h[17];
    if (page_size == 1)
        page_size = 65536;
    if (be32(24) != be32(92))
        return std::nullopt;
    return uint64_t(be32(28)) * page_size;
}

// "the store file is N bytes, its header says M" when the OS cut it short.
std::optional<std::string> truncation_of(const std::string& path) {
    struct stat st {};
    auto bytes = header_bytes(path);
    if (!bytes || stat(path.c_str(), &st) != 0 || uint64_t(st.st_size) >= *bytes)
        return std::nullopt;
    return fmt::format("the store file is {} bytes, its header says {}: the file was truncated",
                       st.st_size, *bytes);
}

std::string prefix_upper_bound(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff)
        prefix.pop_back();
    if (!prefix.empty())
        prefix.back() = static_cast<char>(prefix.back() + 1);
    return prefix;
}

} // namespace

const char* to_string(ChainBreak what) {
    switch (what) {
    case ChainBreak::None:
        return "none";
    case ChainBreak::DeletedRows:
        return "deleted rows";
    case ChainBreak::EditedRow:
        return "edited row";
    case ChainBreak::Truncated:
        return "truncated";
    case ChainBreak::ExtraRows:
        return "extra rows";
    case ChainBreak::Unreadable:
        return "unreadable";
    }
    return "unknown";
}

Result<std::unique_ptr<EventStore>> EventStore::open(const StoreOptions& options) {
    auto opened = open_file(options);
    if (!opened.ok()) {
        // SQLite calls a file cut short "malformed"; say what happened.
        if (auto truncated = truncation_of(options.path))
            return make_error(options.path + ": " + *truncated);
    }
    return opened;
}

Result<std::unique_ptr<EventStore>> EventStore::open_file(const StoreOptions& options) {
    std::unique_ptr<EventStore> store(new EventStore(options));
    const std::string& path = options.path;
    int flags = SQLITE_OPEN_NOMUTEX;
    if (options.read_only) {
        flags |= SQLITE_OPEN_READONLY;
        if (access(path.c_str(), F_OK) != 0)
            return make_error("no event store at " + path);
    } else {
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        std::error_code ec;
        auto dir = std::filesystem::path(path).parent_path();
        if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
            std::filesystem::create_directories(dir, ec);
            if (ec)
                return make_error("cannot create " + dir.string() + ": " + ec.message());
            chmod(dir.c_str(), 0700);
        }
        // Events carry command lines and paths: only root reads them.
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return make_error("cannot open " + path + ": " + strerror(errno));
        ::close(fd);
    }
    if (sqlite3_open_v2(path.c_str(), &store->db_, flags, nullptr) != SQLITE_OK) {
        auto err = sqlite::error(store->db_, "cannot open event store " + path);
        return err;
    }
    sqlite3* db = store->db_;
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    sqlite3_extended_result_codes(db, 1);

    if (!options.read_only) {
        // WAL: the daemon appends while `podguard events` reads.
        (void)sqlite::exec(db, fmt::format("PRAGMA page_size={}", options.page_size).c_str());
        {
            sqlite::Stmt wal(db, "PRAGMA journal_mode=WAL");
            if (!wal.ok() || wal.step() != SQLITE_ROW || wal.column_text(0) != "wal")
                return sqlite::error(db, "cannot switch " + path + " to WAL mode");
        }
        auto s = sqlite::exec(db, options.sync_full ? "PRAGMA synchronous=FULL"
                                                    : "PRAGMA synchronous=NORMAL");
        if (s.ok())
            s = sqlite::exec(db, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
                                 "PRAGMA journal_size_limit=67108864");
        if (!s.ok())
            return make_error("cannot configure " + path + ": " + s.error().message);
        if (auto st = store->init_schema(); !st.ok())
            return st.error();
        if (auto st = store->prepare_writes(); !st.ok())
            return st.error();
        if (auto st = store->start_checkpointer(); !st.ok())
            return st.error();
    } else {
        (void)sqlite::exec(db, "PRAGMA mmap_size=268435456");
    }
    if (options.read_only) {
        // A writer upgrades older stores when it opens them; a reader cannot.
        sqlite::Stmt v(db, "SELECT version FROM chain WHERE one = 1");
        if (v.ok() && v.step() == SQLITE_ROW && v.column_int(0) != kSchemaVersion)
            return make_error(fmt::format("{}: store version {}, this podguard reads version {} "
                                          "(the agent upgrades it when it next opens the store)",
                                          path, v.column_int(0), kSchemaVersion));
    }
    store->read_chain_ = sqlite::Stmt(db, kReadChain);
    if (!store->read_chain_.ok())
        return sqlite::error(db, path + " is not a podguard event store");
    if (auto c = read_chain_row(db, store->read_chain_); !c.ok())
        return make_error(path + ": " + c.error().message);
    return store;
}

EventStore::~EventStore() {
    if (checkpointer_.joinable()) {
        {
            std::lock_guard lk(checkpoint_mu_);
            checkpoint_stop_ = true;
        }
        checkpoint_wake_.notify_one();
        checkpointer_.join();
    }
    sqlite3_close_v2(checkpoint_db_);
    read_chain_ = {};
    insert_event_ = {};
    insert_json_ = {};
    update_head_ = {};
    find_identity_ = {};
    insert_identity_ = {};
    find_facet_ = {};
    insert_facet_ = {};
    sqlite3_close_v2(db_);
}

Status EventStore::init_schema() {
    Transaction tx(db_);
    auto fail = [&](const std::string& message) {
        return make_error("cannot create the store schema in " + options_.path + ": " + message);
    };
    if (auto s = tx.begin(); !s.ok())
        return fail(s.error().message);
    // The version decides before kSchema runs: its indexes name v2 columns.
    int64_t version = 0;
    {
        sqlite::Stmt has_chain(
            db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain'");
        if (has_chain.step() == SQLITE_ROW) {
            sqlite::Stmt v(db_, "SELECT version FROM chain WHERE one = 1");
            if (v.step() == SQLITE_ROW)
                version = v.column_int(0);
        }
    }
    if (version == 1) {
        if (auto s = sqlite::exec(db_, kMigrateFrom1); !s.ok())
            return make_error(fmt::format("cannot upgrade {} from store version 1: {}",
                                          options_.path, s.error().message));
        version = kSchemaVersion;
    }
    if (version != 0 && version != kSchemaVersion)
        return make_error(fmt::format("{}: store version {}, this podguard writes version {}",
                                      options_.path, version, kSchemaVersion));
    if (auto s = sqlite::exec(db_, kSchema); !s.ok())
        return fail(s.error().message);
    if (version == 0) {
        sqlite::Stmt init(db_, "INSERT INTO chain VALUES (1, ?1, ?2, 0, ?3, 0, ?3, 0, 1)");
        Sha256 zero{};
        init.bind(1, kSchemaVersion);
        init.bind(2, static_cast<int64_t>(realtime_ns()));
        init.bind_blob(3, zero.data(), zero.size());
        if (init.step() != SQLITE_DONE)
            return sqlite::error(db_, "cannot initialise " + options_.path);
    }
    return tx.commit();
}

Status EventStore::prepare_writes() {
    insert_event_ = sqlite::Stmt(db_, "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    insert_json_ = sqlite::Stmt(db_, "INSERT INTO event_json VALUES (?1, ?2)");
    update_head_ = sqlite::Stmt(db_, "UPDATE chain SET head_id = ?1, head_hash = ?2 WHERE one = 1");
    find_identity_ = sqlite::Stmt(
        db_, "SELECT ident FROM identities WHERE namespace = ?1 AND pod = ?2 AND pod_uid = ?3 "
             "AND container_id = ?4 AND container_name = ?5");
    insert_identity_ = sqlite::Stmt(
        db_, "INSERT INTO identities(namespace, pod, pod_uid, container_id, container_name) "
             "VALUES (?1, ?2, ?3, ?4, ?5)");
    find_facet_ = sqlite::Stmt(db_, "SELECT facet FROM facets WHERE kind = ?1 AND action = ?2 AND "
                                    "relation = ?3 AND src_ident = ?4 AND tgt_ident = ?5");
    insert_facet_ =
        sqlite::Stmt(db_, "INSERT INTO facets(kind, action, relation, src_ident, tgt_ident) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert_event_.ok() || !insert_json_.ok() || !update_head_.ok() || !find_identity_.ok() ||
        !insert_identity_.ok() || !find_facet_.ok() || !insert_facet_.ok())
        return sqlite::error(db_, "cannot prepare the store's statements");
    return {};
}

// The row of a small lookup table (identities, facets): from the writer's
// cache, else found or inserted by find/insert (bound by bind), and cached.
// Another writer, or an earlier run, may have added it.
Result<int64_t> EventStore::lookup_row(LookupCache& cache, sqlite::Stmt& find, sqlite::Stmt& insert,
                                       const std::function<void(sqlite::Stmt&)>& bind) {
    if (auto it = cache.rows.find(cache.key); it != cache.rows.end())
        return it->second;
    for (sqlite::Stmt* s : {&find, &insert}) {
        s->reset();
        bind(*s);
        int rc = s->step();
        int64_t row = 0;
        if (s == &find && rc == SQLITE_ROW)
            row = s->column_int(0);
        else if (s == &insert && rc == SQLITE_DONE)
            row = sqlite3_last_insert_rowid(db_);
        else if (rc != SQLITE_DONE)
            return sqlite::error(db_, "cannot store an event's identity or facet");
        s->reset();
        if (row) {
            cache.rows.emplace(cache.key, row);
            cache.added.push_back(cache.key);
            return row;
        }
    }
    return make_error("cannot store an event's identity or facet");
}

Result<int64_t> EventStore::identity_of(const RecordParty& p) {
    if (!has_identity(p))
        return int64_t{0};
    identity_key(p, identities_.key);
    return lookup_row(identities_, find_identity_, insert_identity_, [&](sqlite::Stmt& s) {
        s.bind_text(1, p.namespace_);
        s.bind_text(2, p.pod);
        s.bind_text(3, p.pod_uid);
        s.bind_text(4, p.container_id);
        s.bind_text(5, p.container_name);
    });
}

Result<int64_t> EventStore::facet_of(const StoreRecord& r, int64_t src, int64_t tgt) {
    facet_key(r, src, tgt, facets_.key);
    return lookup_row(facets_, find_facet_, insert_facet_, [&](sqlite::Stmt& s) {
        s.bind_text(1, r.kind);
        s.bind_text(2, r.action);
        s.bind_text(3, r.relation);
        s.bind(4, src);
        s.bind(5, tgt);
    });
}

Result<ChainState> EventStore::chain() const {
    return read_chain_row(db_, const_cast<sqlite::Stmt&>(read_chain_));
}

Status EventStore::append(std::span<StoreRecord> records) {
    if (options_.read_only)
        return make_error("the event store is open read-only");
    if (records.empty())
        return {};
    Transaction tx(db_);
    if (auto s = tx.begin(); !s.ok())
        return s;
    // The head is read inside the write transaction: the chain continues
    // from what is committed, whoever committed it.
    auto chain = read_chain_row(db_, read_chain_);
    if (!chain.ok())
        return chain.error();
    int64_t id = chain->head_id;
    Sha256 prev = chain->head_hash;
    identities_.added.clear();
    facets_.added.clear();
    // Cache entries of rows inserted by a transaction that then failed
    // would name rows that do not exist.
    struct ForgetOnFailure {
        EventStore& store;
        bool committed = false;
        ~ForgetOnFailure() {
            if (!committed)
                for (LookupCache* c : {&store.identities_, &store.facets_})
                    for (const auto& key : c->added)
                        c->rows.erase(key);
        }
    } forget{*this};
    for (StoreRecord& r : records) {
        r.id = ++id;
        Sha256 hash = r.id >= chain->digest_from ? hasher_.hash(prev, r) : hasher_.hash_v1(prev, r);
        auto src = identity_of(r.source);
        if (!src.ok())
            return src.error();
        auto tgt = identity_of(r.target);
        if (!tgt.ok())
            return tgt.error();
        auto facet = facet_of(r, *src, *tgt);
        if (!facet.ok())
            return facet.error();
        auto& s = insert_event_;
        s.reset();
        s.bind(1, r.id);
        s.bind(2, static_cast<int64_t>(r.time_ns));
        s.bind(3, *facet);
        if (r.source.pid)
            s.bind(4, int64_t(r.source.pid));
        if (r.target.pid)
            s.bind(5, int64_t(r.target.pid));
        s.bind_blob(6, prev.data(), prev.size());
        s.bind_blob(7, hash.data(), hash.size());
        if (s.step() != SQLITE_DONE)
            return sqlite::error(db_, "cannot store event");
        insert_json_.reset();
        insert_json_.bind(1, r.id);
        insert_json_.bind_text(2, r.json);
        if (insert_json_.step() != SQLITE_DONE)
            return sqlite::error(db_, "cannot store event");
        prev = hash;
    }
    update_head_.reset();
    update_head_.bind(1, id);
    update_head_.bind_blob(2, prev.data(), prev.size());
    if (update_head_.step() != SQLITE_DONE)
        return sqlite::error(db_, "cannot store the chain head");
    insert_event_.reset();
    insert_json_.reset();
    update_head_.reset();
    if (auto st = tx.commit(); !st.ok())
        return st;
    forget.committed = true;
    return {};
}

Status EventStore::start_checkpointer() {
    const char* path = options_.path.c_str();
    if (sqlite3_open_v2(path, &checkpoint_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
        return sqlite::error(checkpoint_db_,
                             "cannot open a checkpoint connection to " + options_.path);
    sqlite3_busy_timeout(checkpoint_db_, options_.busy_timeout_ms);
    // A checkpoint syncs as its connection is told to.
    if (auto s = sqlite::exec(checkpoint_db_, options_.sync_full ? "PRAGMA synchronous=FULL"
                                                                 : "PRAGMA synchronous=NORMAL");
        !s.ok())
        return s;
    sqlite::Stmt page(db_, "PRAGMA page_size");
    const int64_t page_size = page.step() == SQLITE_ROW ? page.column_int(0) : 4096;
    checkpoint_frames_ =
        static_cast<int>(std::max<uint64_t>(1, options_.checkpoint_bytes / uint64_t(page_size)));
    // Replaces SQLite's autocheckpoint on the writer's commits.
    sqlite3_wal_hook(db_, &EventStore::on_wal_commit, this);
    checkpointer_ = std::thread([this] { run_checkpointer(); });
    return {};
}

int EventStore::on_wal_commit(void* self, sqlite3* db, const char*, int frames) {
    auto* store = static_cast<EventStore*>(self);
    if (frames >= 4 * store->checkpoint_frames_) {
        // The checkpointer fell behind (or a reader holds the WAL): the WAL
        // must not grow without bound.
        sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (frames >= store->checkpoint_frames_) {
        {
            std::lock_guard lk(store->checkpoint_mu_);
            store->checkpoint_requested_ = true;
        }
        store->checkpoint_wake_.notify_one();
    }
    return SQLITE_OK;
}

void EventStore::run_checkpointer() {
    std::unique_lock lk(checkpoint_mu_);
    for (;;) {
        checkpoint_wake_.wait(lk, [&] { return checkpoint_requested_ || checkpoint_stop_; });
        if (checkpoint_stop_)
            return;
        checkpoint_requested_ = false;
        lk.unlock();
        // PASSIVE: copies what no reader needs, never waits on the writer.
        // A failure (disk full) is retried on the next request; the writer's
        // own errors are what the sink reports.
        sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
        lk.lock();
    }
}

Status EventStore::checkpoint() {
    if (options_.read_only)
        return {};
    // SQLITE_BUSY: the background checkpoint is running; wait for it.
    int rc;
    for (int waited_ms = 0;; ++waited_ms) {
        rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= options_.busy_timeout_ms)
            break;
        usleep(1000);
    }
    if (rc != SQLITE_OK)
        return sqlite::error(db_, "cannot checkpoint");
    return {};
}

Result<uint64_t> EventStore::used_bytes() const {
    sqlite::Stmt s(db_, "SELECT (SELECT page_count FROM pragma_page_count()) - "
                        "(SELECT freelist_count FROM pragma_freelist_count()), "
                        "(SELECT page_size FROM pragma_page_size())");
    if (!s.ok() || s.step() != SQLITE_ROW)
        return sqlite::error(db_, "cannot read the store's size");
    return static_cast<uint64_t>(s.column_int(0) * s.column_int(1));
}

Result<PruneResult> EventStore::prune_rows(int64_t through_id) {
    Transaction tx(db_);
    if (auto s = tx.begin(); !s.ok())
        return s.error();
    auto chain = read_chain_row(db_, read_chain_);
    if (!chain.ok())
        return chain.error();
    PruneResult result;
    through_id = std::min(through_id, chain->head_id);
    // The new anchor is the last row deleted: the first kept row chains to it.
    sqlite::Stmt last(db_, "SELECT id, hash FROM events WHERE id <= ?1 ORDER BY id DESC LIMIT 1");
    last.bind(1, through_id);
    int rc = last.step();
    if (rc == SQLITE_DONE)
        return result;
    if (rc != SQLITE_ROW)
        return sqlite::error(db_, "cannot prune");
    int64_t anchor_id = last.column_int(0);
    Sha256 anchor_hash{};
    hash_from_blob(sqlite3_column_blob(last.get(), 1), sqlite3_column_bytes(last.get(), 1),
                   anchor_hash);
    last = {};
    sqlite::Stmt del_events(db_, "DELETE FROM events WHERE id <= ?1");
    sqlite::Stmt del_json(db_, "DELETE FROM event_json WHERE id <= ?1");
    del_events.bind(1, anchor_id);
    del_json.bind(1, anchor_id);
    if (del_events.step() != SQLITE_DONE)
        return sqlite::error(db_, "cannot prune");
    result.rows = static_cast<uint64_t>(sqlite3_changes(db_));
    if (del_json.step() != SQLITE_DONE)
        return sqlite::error(db_, "cannot prune");
    sqlite::Stmt anchor(db_, "UPDATE chain SET anchor_id = ?1, anchor_hash = ?2, "
                             "pruned = pruned + ?3 WHERE one = 1");
    anchor.bind(1, anchor_id);
    anchor.bind_blob(2, anchor_hash.data(), anchor_hash.size());
    anchor.bind(3, static_cast<int64_t>(result.rows));
    if (anchor.step() != SQLITE_DONE)
        return sqlite::error(db_, "cannot move the chain anchor");
    del_events = {};
    del_json = {};
    anchor = {};
    if (auto s = tx.commit(); !s.ok())
        return s.error();
    result.anchor_id = anchor_id;
    return result;
}

Result<PruneResult> EventStore::prune(uint64_t now_ns) {
    if (options_.read_only)
        return make_error("the event store is open read-only");
    PruneResult total;
    auto add = [&](const PruneResult& r) {
        total.rows += r.rows;
        if (r.anchor_id)
            total.anchor_id = r.anchor_id;
    };
    // Age: the oldest rows in id order, up to the first one recent enough.
    // The unary + keeps SQLite on the rowid order instead of the time index.
    if (options_.max_age.count() > 0) {
        uint64_t age_ns = uint64_t(options_.max_age.count()) * 1000000000ull;
        if (now_ns > age_ns) {
            int64_t cutoff = static_cast<int64_t>(now_ns - age_ns);
            for (;;) {
                sqlite::Stmt s(db_, "SELECT (SELECT min(id) FROM events), "
                                    "(SELECT id FROM events WHERE +time_ns >= ?1 ORDER BY id "
                                    "LIMIT 1), (SELECT max(id) FROM events)");
                s.bind(1, cutoff);
                if (s.step() != SQLITE_ROW)
                    return sqlite::error(db_, "cannot prune");
                if (s.column_is_null(0))
                    break;
                int64_t first = s.column_int(0);
                int64_t through = s.column_is_null(1) ? s.column_int(2) : s.column_int(1) - 1;
                if (through < first)
                    break;
                auto r = prune_rows(std::min(through, first + kPruneChunk - 1));
                if (!r.ok())
                    return r.error();
                add(*r);
                if (r->rows == 0)
                    break;
            }
        }
    }
    // Size: estimate the rows to drop from the average row size.
    if (options_.max_bytes > 0) {
        for (int round = 0; round < 64; ++round) {
            auto used = used_bytes();
            if (!used.ok())
                return used.error();
            if (*used <= options_.max_bytes)
                break;
            sqlite::Stmt s(db_, "SELECT min(id), max(id) FROM events");
            if (s.step() != SQLITE_ROW)
                return sqlite::error(db_, "cannot prune");
            if (s.column_is_null(0))
                break;
            int64_t first = s.column_int(0), last = s.column_int(1);
            uint64_t rows = uint64_t(last - first + 1);
            uint64_t target = uint64_t(double(options_.max_bytes) * kPruneLowWater);
            uint64_t excess = *used - std::min(*used, target);
            uint64_t per_row = std::max<uint64_t>(1, *used / rows);
            int64_t drop = static_cast<int64_t>(
                std::min<uint64_t>(rows, std::max<uint64_t>(1, (excess + per_row - 1) / per_row)));
            auto r = prune_rows(first + std::min(drop, kPruneChunk) - 1);
            if (!r.ok())
                return r.error();
            add(*r);
            if (r->rows == 0)
                break;
        }
    }
    return total;
}

Result<std::vector<StoredEvent>> EventStore::query(const EventQuery& q) const {
    std::string where = " WHERE 1";
    std::vector<std::variant<int64_t, std::string>> params;
    auto param = [&](auto v) {
        params.emplace_back(std::move(v));
        return fmt::format("?{}", params.size());
    };
    if (q.since_ns)
        where += " AND time_ns >= " + param(static_cast<int64_t>(*q.since_ns));
    if (q.until_ns)
        where += " AND time_ns < " + param(static_cast<int64_t>(*q.until_ns));
    if (q.after_id)
        where += " AND id > " + param(*q.after_id);
    // Kind, action, relation and identity filters become one list of facets
    // (a small table), answered by the (facet, time) index. Each identity
    // filter matches either side.
    auto id_list = [&](const std::string& sql,
                       const std::vector<std::string>& args) -> Result<std::string> {
        sqlite::Stmt s(db_, sql);
        if (!s.ok())
            return sqlite::error(db_, "cannot query the event store");
        for (size_t i = 0; i < args.size(); ++i)
            s.bind_text(int(i + 1), args[i]);
        std::string list;
        int rc;
        while ((rc = s.step()) == SQLITE_ROW)
            list += (list.empty() ? "" : ",") + std::to_string(s.column_int(0));
        if (rc != SQLITE_DONE)
            return sqlite::error(db_, "cannot query the event store");
        return list;
    };
    std::string facet_where;
    std::vector<std::string> facet_args;
    auto identity_filter = [&](const std::string& where_ident,
                               const std::vector<std::string>& args) -> Status {
        auto list = id_list("SELECT ident FROM identities WHERE " + where_ident, args);
        if (!list.ok())
            return list.error();
        // No such identity: matches nothing (ident 0 is no identity).
        const std::string& l = list->empty() ? std::string("-1") : *list;
        facet_where += fmt::format(" AND (src_ident IN ({0}) OR tgt_ident IN ({0}))", l);
        return {};
    };
    Status st;
    if (!q.namespace_.empty() && st.ok())
        st = identity_filter("namespace = ?1", {q.namespace_});
    if (!q.pod.empty() && st.ok())
        st = identity_filter("pod = ?1 OR pod_uid = ?1", {q.pod});
    if (!q.container.empty() && st.ok())
        st = identity_filter("(container_id >= ?1 AND container_id < ?2) OR container_name = ?1",
                             {q.container, prefix_upper_bound(q.container)});
    if (!st.ok())
        return st.error();
    for (auto [name, value] : {std::pair{"kind", &q.kind}, std::pair{"action", &q.action},
                               std::pair{"relation", &q.relation}})
        if (!value->empty()) {
            facet_args.push_back(*value);
            facet_where += fmt::format(" AND {} = ?{}", name, facet_args.size());
        }
    if (!facet_where.empty()) {
        auto facets = id_list("SELECT facet FROM facets WHERE 1" + facet_where, facet_args);
        if (!facets.ok())
            return facets.error();
        if (facets->empty())
            return std::vector<StoredEvent>{};
        where += fmt::format(" AND facet IN ({})", *facets);
    }
    if (q.pid) {
        auto p = param(static_cast<int64_t>(*q.pid));
        where += fmt::format(" AND (src_pid = {0} OR tgt_pid = {0})", p);
    }
    const char* dir = q.order == EventQuery::Order::Descending ? "DESC" : "ASC";
    auto order_by = [&](const char* table) {
        return q.after_id ? fmt::format(" ORDER BY {}id {}", table, dir)
                          : fmt::format(" ORDER BY {0}time_ns {1}, {0}id {1}", table, dir);
    };
    std::string inner = "SELECT id FROM events" + where + order_by("");
    if (q.limit)
        inner += " LIMIT " + param(static_cast<int64_t>(q.limit));
    // Filter and sort on the narrow rows first; join the JSON of the rows
    // kept only.
    std::string sql = fmt::format("SELECT {} FROM ({}) AS m JOIN events e ON e.id = m.id {}{}",
                                  kEventColumns, inner, kEventJoins, order_by("e."));
    sqlite::Stmt s(db_, sql);
    if (!s.ok())
        return sqlite::error(db_, "cannot query the event store");
    for (size_t i = 0; i < params.size(); ++i) {
        int idx = static_cast<int>(i + 1);
        if (auto* v = std::get_if<int64_t>(&params[i]))
            s.bind(idx, *v);
        else
            s.bind_text(idx, std::get<std::string>(params[i]));
    }
    std::vector<StoredEvent> out;
    for (;;) {
        int rc = s.step();
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            return sqlite::error(db_, "cannot query the event store");
        StoredEvent e;
        row_to_event(s, e);
        out.push_back(std::move(e));
    }
    return out;
}

VerifyReport EventStore::verify() const {
    VerifyReport rep;
    auto fail = [&](ChainBreak what, int64_t id, std::string detail) {
        rep.ok = false;
        rep.what = what;
        rep.broken_id = id;
        rep.detail = std::move(detail);
        return rep;
    };
    // A file cut short by the OS: SQLite would read zeros past the end and
    // call it malformed; say what happened.
    if (auto truncated = truncation_of(options_.path))
        return fail(ChainBreak::Truncated, 0, *truncated);

    // One read transaction: a consistent snapshot while the daemon appends.
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
        return fail(ChainBreak::Unreadable, 0, sqlite::error(db_, "cannot read").message);
    struct EndRead {
        sqlite3* db;
        ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
    } end_read{db_};

    auto chain = read_chain_row(db_, const_cast<sqlite::Stmt&>(read_chain_));
    if (!chain.ok())
        return fail(ChainBreak::Unreadable, 0, chain.error().message);
    rep.chain = *chain;

    sqlite::Stmt s(
        db_, fmt::format("SELECT {} FROM events e {} ORDER BY e.id", kEventColumns, kEventJoins));
    if (!s.ok())
        return fail(ChainBreak::Unreadable, 0, sqlite::error(db_, "cannot read").message);
    ChainHasher hasher;
    int64_t expect_id = chain->anchor_id + 1;
    Sha256 prev = chain->anchor_hash;
    for (;;) {
        int rc = s.step();
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            int code = sqlite3_errcode(db_) & 0xff;
            auto what = code == SQLITE_CORRUPT || code == SQLITE_IOERR ? ChainBreak::Truncated
                                                                       : ChainBreak::Unreadable;
            return fail(what, expect_id,
                        fmt::format("cannot read past row {}: {} (truncated or damaged file)",
                                    expect_id - 1, sqlite3_errmsg(db_)));
        }
        StoredEvent e;
        bool well_formed = row_to_event(s, e);
        const int64_t id = e.record.id;
        if (!rep.rows)
            rep.first_id = id;
        if (id < expect_id)
            return fail(ChainBreak::ExtraRows, id,
                        fmt::format("row {} lies before the chain's anchor (row {})", id,
                                    chain->anchor_id));
        if (id > expect_id)
            return fail(ChainBreak::DeletedRows, expect_id,
                        id == expect_id + 1
                            ? fmt::format("row {} is missing (deleted)", expect_id)
                            : fmt::format("rows {}..{} are missing (deleted)", expect_id, id - 1));
        if (!well_formed)
            return fail(ChainBreak::EditedRow, id, fmt::format("row {} has a malformed hash", id));
        if (s.column_is_null(19))
            return fail(ChainBreak::EditedRow, id,
                        fmt::format("row {}'s event JSON is missing (deleted)", id));
        const Sha256 expected = id >= chain->digest_from ? hasher.hash(e.prev_hash, e.record)
                                                         : hasher.hash_v1(e.prev_hash, e.record);
        if (expected != e.hash)
            return fail(ChainBreak::EditedRow, id,
                        fmt::format("row {} was edited: its content does not match its hash", id));
        if (e.prev_hash != prev)
            return fail(ChainBreak::EditedRow, id - 1,
                        id - 1 == chain->anchor_id
                            ? fmt::format("row {} does not chain to the anchor (row {}): the "
                                          "anchor or the row was rewritten",
                                          id, id - 1)
                            : fmt::format("row {} was edited and its hash recomputed: row {} "
                                          "chained to a different hash",
                                          id - 1, id));
        prev = e.hash;
        rep.last_id = id;
        ++rep.rows;
        ++expect_id;
    }
    const int64_t last = expect_id - 1;
    if (last < chain->head_id)
        return fail(
            ChainBreak::Truncated, last + 1,
            last + 1 == chain->head_id
                ? fmt::format("row {} (the last one written) is missing: truncated", chain->head_id)
                : fmt::format("rows {}..{} (the last ones written) are missing: truncated",
                              last + 1, chain->head_id));
    if (last > chain->head_id)
        return fail(ChainBreak::ExtraRows, chain->head_id + 1,
                    fmt::format("rows {}..{} follow the recorded head (row {})", chain->head_id + 1,
                                last, chain->head_id));
    if (prev != chain->head_hash)
        return fail(ChainBreak::EditedRow, last,
                    fmt::format("row {} was edited and its hash recomputed: the recorded head "
                                "hash differs",
                                last));
    rep.ok = true;
    return rep;
}

std::string describe(const VerifyReport& r) {
    std::string range = r.rows ? fmt::format("rows {}..{}", r.first_id, r.last_id) : "no rows";
    std::string anchor = r.chain.anchor_id
                             ? fmt::format(", anchored at row {} ({} pruned by rotation)",
                                           r.chain.anchor_id, r.chain.pruned)
                             : std::string();
    if (r.ok)
        return fmt::format("ok: {} rows verified ({}{}); head row {} hash {}", r.rows, range,
                           anchor, r.chain.head_id, to_hex(r.chain.head_hash));
    return fmt::format("BROKEN at row {}: {}: {}\n{} rows verified before it{}", r.broken_id,
                       to_string(r.what), r.detail, r.rows, anchor);
}

} // namespace podguard
