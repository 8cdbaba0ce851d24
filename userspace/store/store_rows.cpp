#include "store/store_rows.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <fmt/format.h>

#include "store/process_records.h"

namespace podguard::store_rows {

namespace {

void read_party(const sqlite::Stmt& s, int col, RecordParty& p) {
    p.namespace_ = s.column_text(col);
    p.pod = s.column_text(col + 1);
    p.pod_uid = s.column_text(col + 2);
    p.container_id = s.column_text(col + 3);
    p.container_name = s.column_text(col + 4);
    p.pid = static_cast<uint32_t>(s.column_int(col + 5));
}

bool read_hash(const sqlite::Stmt& s, int col, Sha256& out) {
    return hash_from_blob(sqlite3_column_blob(s.get(), col), sqlite3_column_bytes(s.get(), col),
                          out);
}

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

} // namespace

// "the store file is N bytes, its header says M" when the OS cut it short.
std::optional<std::string> truncation_of(const std::string& path) {
    struct stat st {};
    auto bytes = header_bytes(path);
    if (!bytes || stat(path.c_str(), &st) != 0 || uint64_t(st.st_size) >= *bytes)
        return std::nullopt;
    return fmt::format("the store file is {} bytes, its header says {}: the file was truncated",
                       st.st_size, *bytes);
}

const std::string& event_columns() {
    static const std::string list = [] {
        std::string l;
        for (std::string_view c : kColumnSql) {
            if (!l.empty())
                l += ", ";
            l += c;
        }
        return l;
    }();
    return list;
}

void read_row(const sqlite::Stmt& s, int64_t process_refs_from, Row& out) {
    StoreRecord& r = out.event.record;
    r.id = s.column_int(kId);
    r.time_ns = static_cast<uint64_t>(s.column_int(kTime));
    r.kind = s.column_text(kKind);
    r.action = s.column_text(kAction);
    r.relation = s.column_text(kRelation);
    read_party(s, kSource, r.source);
    read_party(s, kTarget, r.target);
    r.json = s.column_text(kJson);
    out.json_missing = s.column_is_null(kJson);
    r.process_refs = r.id >= process_refs_from;
    r.ancestry_at = s.column_is_null(kAncestryAt) ? -1 : s.column_int(kAncestryAt);
    out.ancestry_ok = s.column_is_null(kAncestry) ||
                      decode_process_ids(sqlite3_column_blob(s.get(), kAncestry),
                                         sqlite3_column_bytes(s.get(), kAncestry), out.process_ids);
    if (s.column_is_null(kAncestry))
        out.process_ids.clear();
    out.hashes_ok =
        read_hash(s, kPrevHash, out.event.prev_hash) && read_hash(s, kHash, out.event.hash);
}

ProcessReader::ProcessReader(sqlite3* db)
    : db_(db), find_(db, "SELECT pid, start_ns, json, digest FROM processes WHERE proc = ?1") {}

Result<ProcessReader::Found> ProcessReader::get(int64_t proc) {
    if (auto it = cache_.find(proc); it != cache_.end())
        return it->second;
    if (!find_.ok())
        return sqlite::error(db_, "cannot read process records");
    find_.reset();
    find_.bind(1, proc);
    Found found;
    int rc = find_.step();
    if (rc == SQLITE_ROW) {
        auto e = std::make_shared<ProcessEntry>();
        e->pid = static_cast<uint32_t>(find_.column_int(0));
        e->start_ns = static_cast<uint64_t>(find_.column_int(1));
        e->json = find_.column_text(2);
        e->digest = sha256(e->json);
        Sha256 stored{};
        found.edited = !hash_from_blob(sqlite3_column_blob(find_.get(), 3),
                                       sqlite3_column_bytes(find_.get(), 3), stored) ||
                       stored != e->digest;
        found.entry = std::move(e);
    } else if (rc != SQLITE_DONE) {
        return sqlite::error(db_, "cannot read process records");
    }
    find_.reset();
    cache_.emplace(proc, found);
    return found;
}

Status ProcessReader::resolve(Row& row, int64_t* bad, bool* edited) {
    auto& ancestry = row.event.record.ancestry;
    ancestry.clear();
    if (bad)
        *bad = 0;
    for (int64_t proc : row.process_ids) {
        auto found = get(proc);
        if (!found.ok())
            return found.error();
        if (bad && !*bad && (!found->entry || found->edited)) {
            *bad = proc;
            if (edited)
                *edited = found->entry != nullptr;
        }
        ancestry.push_back(found->entry);
    }
    return {};
}

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
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
    c.process_refs_from = s.column_int(6);
    bool ok = hash_from_blob(sqlite3_column_blob(s.get(), 1), sqlite3_column_bytes(s.get(), 1),
                             c.head_hash) &&
              hash_from_blob(sqlite3_column_blob(s.get(), 3), sqlite3_column_bytes(s.get(), 3),
                             c.anchor_hash);
    s.reset();
    if (!ok)
        return make_error("the chain record holds a malformed hash");
    return c;
}

Transaction::~Transaction() {
    if (open_ && !sqlite3_get_autocommit(db_))
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::begin() {
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
        return sqlite::error(db_, "cannot begin a transaction");
    open_ = true;
    return {};
}

Status Transaction::commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
        return sqlite::error(db_, "cannot commit");
    open_ = false;
    return {};
}

} // namespace podguard::store_rows
