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

constexpr int kSchemaVersion = 1;
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
  pruned INTEGER NOT NULL
);
-- Who a side of an event is, once per distinct identity: events refer to it
-- by number, so that one small index per side answers namespace, pod and
-- container questions. Absent values are '' (NULLs would defeat UNIQUE).
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
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  time_ns INTEGER NOT NULL,
  kind TEXT NOT NULL,
  action TEXT NOT NULL,
  relation TEXT NOT NULL,
  src_ident INTEGER REFERENCES identities(ident), -- NULL: host or unknown
  src_pid INTEGER,
  tgt_ident INTEGER REFERENCES identities(ident),
  tgt_pid INTEGER,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
-- The JSON lives apart so that filtering and sorting read small rows.
CREATE TABLE IF NOT EXISTS event_json(
  id INTEGER PRIMARY KEY,
  json TEXT NOT NULL
);
-- Four indexes: each one costs every insert about a microsecond.
CREATE INDEX IF NOT EXISTS events_time ON events(time_ns);
CREATE INDEX IF NOT EXISTS events_class ON events(kind, action, relation, time_ns);
CREATE INDEX IF NOT EXISTS events_src ON events(src_ident, time_ns) WHERE src_ident IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_tgt ON events(tgt_ident, time_ns) WHERE tgt_ident IS NOT NULL;
-- Everything in one row, for sqlite3 users.
CREATE VIEW IF NOT EXISTS events_flat AS
SELECT e.id, e.time_ns, e.kind, e.action, e.relation,
       s.namespace AS src_namespace, s.pod AS src_pod, s.pod_uid AS src_pod_uid,
       s.container_id AS src_container_id, s.container_name AS src_container_name, e.src_pid,
       t.namespace AS tgt_namespace, t.pod AS tgt_pod, t.pod_uid AS tgt_pod_uid,
       t.container_id AS tgt_container_id, t.container_name AS tgt_container_name, e.tgt_pid,
       j.json, e.prev_hash, e.hash
FROM events e
LEFT JOIN identities s ON s.ident = e.src_ident
LEFT JOIN identities t ON t.ident = e.tgt_ident
LEFT JOIN event_json j ON j.id = e.id;
)sql";

// Column order shared by every reader of rows (row_to_event).
constexpr const char* kEventColumns =
    "e.id, e.time_ns, e.kind, e.action, e.relation, "
    "s.namespace, s.pod, s.pod_uid, s.container_id, s.container_name, e.src_pid, "
    "t.namespace, t.pod, t.pod_uid, t.container_id, t.container_name, e.tgt_pid, "
    "e.prev_hash, e.hash, j.json";
constexpr const char* kEventJoins = "LEFT JOIN identities s ON s.ident = e.src_ident "
                                    "LEFT JOIN identities t ON t.ident = e.tgt_ident "
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

std::string identity_key(const RecordParty& p) {
    std::string key;
    for (const std::string* f :
         {&p.namespace_, &p.pod, &p.pod_uid, &p.container_id, &p.container_name}) {
        key += *f;
        key += '\0';
    }
    return key;
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
    "SELECT head_id, head_hash, anchor_id, anchor_hash, pruned FROM chain WHERE one = 1";

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
                                 "PRAGMA journal_size_limit=67108864;"
                                 "PRAGMA wal_autocheckpoint=2048");
        if (!s.ok())
            return make_error("cannot configure " + path + ": " + s.error().message);
        if (auto st = store->init_schema(); !st.ok())
            return st.error();
        if (auto st = store->prepare_writes(); !st.ok())
            return st.error();
    } else {
        (void)sqlite::exec(db, "PRAGMA mmap_size=268435456");
    }
    store->read_chain_ = sqlite::Stmt(db, kReadChain);
    if (!store->read_chain_.ok())
        return sqlite::error(db, path + " is not a podguard event store");
    if (auto c = read_chain_row(db, store->read_chain_); !c.ok())
        return make_error(path + ": " + c.error().message);
    return store;
}

EventStore::~EventStore() {
    read_chain_ = {};
    insert_event_ = {};
    insert_json_ = {};
    update_head_ = {};
    find_identity_ = {};
    insert_identity_ = {};
    sqlite3_close_v2(db_);
}

Status EventStore::init_schema() {
    Transaction tx(db_);
    if (auto s = tx.begin(); !s.ok())
        return make_error("cannot create the store schema in " + options_.path + ": " +
                          s.error().message);
    if (auto s = sqlite::exec(db_, kSchema); !s.ok())
        return make_error("cannot create the store schema in " + options_.path + ": " +
                          s.error().message);
    sqlite::Stmt version(db_, "SELECT version FROM chain WHERE one = 1");
    int rc = version.step();
    if (rc == SQLITE_ROW && version.column_int(0) != kSchemaVersion)
        return make_error(fmt::format("{}: store version {}, this podguard writes version {}",
                                      options_.path, version.column_int(0), kSchemaVersion));
    if (rc == SQLITE_DONE) {
        sqlite::Stmt init(db_, "INSERT INTO chain VALUES (1, ?1, ?2, 0, ?3, 0, ?3, 0)");
        Sha256 zero{};
        init.bind(1, kSchemaVersion);
        init.bind(2, static_cast<int64_t>(realtime_ns()));
        init.bind_blob(3, zero.data(), zero.size());
        if (init.step() != SQLITE_DONE)
            return sqlite::error(db_, "cannot initialise " + options_.path);
    }
    version = {};
    return tx.commit();
}

Status EventStore::prepare_writes() {
    insert_event_ = sqlite::Stmt(
        db_, "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    insert_json_ = sqlite::Stmt(db_, "INSERT INTO event_json VALUES (?1, ?2)");
    update_head_ = sqlite::Stmt(db_, "UPDATE chain SET head_id = ?1, head_hash = ?2 WHERE one = 1");
    find_identity_ = sqlite::Stmt(
        db_, "SELECT ident FROM identities WHERE namespace = ?1 AND pod = ?2 AND pod_uid = ?3 "
             "AND container_id = ?4 AND container_name = ?5");
    insert_identity_ = sqlite::Stmt(
        db_, "INSERT INTO identities(namespace, pod, pod_uid, container_id, container_name) "
             "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert_event_.ok() || !insert_json_.ok() || !update_head_.ok() || !find_identity_.ok() ||
        !insert_identity_.ok())
        return sqlite::error(db_, "cannot prepare the store's statements");
    return {};
}

Result<int64_t> EventStore::identity_of(const RecordParty& p) {
    if (!has_identity(p))
        return int64_t{0};
    std::string key = identity_key(p);
    if (auto it = identities_.find(key); it != identities_.end())
        return it->second;
    // Another writer (or an earlier run) may have added it.
    for (sqlite::Stmt* s : {&find_identity_, &insert_identity_}) {
        s->reset();
        s->bind_text(1, p.namespace_);
        s->bind_text(2, p.pod);
        s->bind_text(3, p.pod_uid);
        s->bind_text(4, p.container_id);
        s->bind_text(5, p.container_name);
        int rc = s->step();
        int64_t ident = 0;
        if (s == &find_identity_ && rc == SQLITE_ROW)
            ident = s->column_int(0);
        else if (s == &insert_identity_ && rc == SQLITE_DONE)
            ident = sqlite3_last_insert_rowid(db_);
        else if (rc != SQLITE_DONE)
            return sqlite::error(db_, "cannot store an identity");
        s->reset();
        if (ident) {
            identities_.emplace(key, ident);
            identities_added_.push_back(std::move(key));
            return ident;
        }
    }
    return make_error("cannot store an identity");
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
    identities_added_.clear();
    struct ForgetOnFailure {
        EventStore& store;
        bool committed = false;
        ~ForgetOnFailure() {
            if (!committed)
                for (const auto& key : store.identities_added_)
                    store.identities_.erase(key);
        }
    } forget{*this};
    for (StoreRecord& r : records) {
        r.id = ++id;
        Sha256 hash = hasher_.hash(prev, r);
        auto src = identity_of(r.source);
        if (!src.ok())
            return src.error();
        auto tgt = identity_of(r.target);
        if (!tgt.ok())
            return tgt.error();
        auto& s = insert_event_;
        s.reset();
        s.bind(1, r.id);
        s.bind(2, static_cast<int64_t>(r.time_ns));
        s.bind_text(3, r.kind);
        s.bind_text(4, r.action);
        s.bind_text(5, r.relation);
        if (*src)
            s.bind(6, *src);
        if (r.source.pid)
            s.bind(7, int64_t(r.source.pid));
        if (*tgt)
            s.bind(8, *tgt);
        if (r.target.pid)
            s.bind(9, int64_t(r.target.pid));
        s.bind_blob(10, prev.data(), prev.size());
        s.bind_blob(11, hash.data(), hash.size());
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

Status EventStore::checkpoint() {
    if (options_.read_only)
        return {};
    if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) !=
        SQLITE_OK)
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
    // Identity filters become lists of identities rows (a small table),
    // each matching either side.
    auto identities = [&](const std::string& where_ident,
                          const std::vector<std::string>& args) -> Result<std::string> {
        sqlite::Stmt s(db_, "SELECT ident FROM identities WHERE " + where_ident);
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
    bool nothing = false;
    auto either_side = [&](const std::string& where_ident,
                           const std::vector<std::string>& args) -> Status {
        auto list = identities(where_ident, args);
        if (!list.ok())
            return list.error();
        if (list->empty())
            nothing = true;
        else
            where += fmt::format(" AND (src_ident IN ({0}) OR tgt_ident IN ({0}))", *list);
        return {};
    };
    Status st;
    if (!q.namespace_.empty() && st.ok())
        st = either_side("namespace = ?1", {q.namespace_});
    if (!q.pod.empty() && st.ok())
        st = either_side("pod = ?1 OR pod_uid = ?1", {q.pod});
    if (!q.container.empty() && st.ok())
        st = either_side("(container_id >= ?1 AND container_id < ?2) OR container_name = ?1",
                         {q.container, prefix_upper_bound(q.container)});
    if (!st.ok())
        return st.error();
    if (nothing)
        return std::vector<StoredEvent>{};
    // kind, action, relation: one index, usable for any of them when the
    // others are listed in full. An identity filter is the more selective
    // one (a container, against every signal): the unary + keeps SQLite,
    // which has no statistics, off the class index then.
    const bool by_identity = !q.namespace_.empty() || !q.pod.empty() || !q.container.empty();
    if (by_identity) {
        for (auto [name, value] : {std::pair{"kind", &q.kind}, std::pair{"action", &q.action},
                                   std::pair{"relation", &q.relation}})
            if (!value->empty())
                where += fmt::format(" AND +{} = {}", name, param(*value));
    } else if (!q.kind.empty() || !q.action.empty() || !q.relation.empty()) {
        auto column = [&](const char* name, const std::string& value, auto... all) {
            if (!value.empty()) {
                where += fmt::format(" AND {} = {}", name, param(value));
                return;
            }
            std::string list;
            for (const char* v : {to_string(all)...})
                list += (list.empty() ? "'" : ",'") + std::string(v) + "'";
            where += fmt::format(" AND {} IN ({})", name, list);
        };
        column("kind", q.kind, EventKind::Signal, EventKind::Ptrace, EventKind::ProcAccess,
               EventKind::Fork, EventKind::Exec, EventKind::Exit);
        column("action", q.action, Action::Allowed, Action::Audited, Action::Blocked,
               Action::Killed);
        column("relation", q.relation, Relation::SameContainer, Relation::SamePod,
               Relation::HostToContainer, Relation::ContainerToHost, Relation::CrossPod,
               Relation::Host, Relation::Unknown);
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
        if (hasher.hash(e.prev_hash, e.record) != e.hash)
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
