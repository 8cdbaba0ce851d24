#include "store/event_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "store/store_rows.h"
#include "store/store_schema.h"

namespace podguard {

Result<std::unique_ptr<EventStore>> EventStore::open(const StoreOptions& options) {
    auto opened = open_file(options);
    if (!opened.ok()) {
        // SQLite calls a file cut short "malformed"; say what happened.
        if (auto truncated = store_rows::truncation_of(options.path))
            return make_error(options.path + ": " + *truncated);
    }
    return opened;
}

Result<std::unique_ptr<EventStore>> EventStore::open_file(const StoreOptions& options) {
    // SQLite's allocation statistics take a global mutex on every malloc and
    // free of the writer; nothing reads them. Only before SQLite starts
    // (else SQLITE_MISUSE, harmless).
    static const int no_memstatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)no_memstatus;
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
        if (auto st = ensure_schema(db, path); !st.ok())
            return st.error();
        if (auto st = store->prepare_writes(); !st.ok())
            return st.error();
        if (auto st = store->start_checkpointer(); !st.ok())
            return st.error();
    } else {
        (void)sqlite::exec(db, "PRAGMA mmap_size=268435456");
    }
    if (options.read_only)
        if (auto st = check_schema_version(db, path); !st.ok())
            return st.error();
    store->read_chain_ = sqlite::Stmt(db, store_rows::kReadChain);
    if (!store->read_chain_.ok())
        return sqlite::error(db, path + " is not a podguard event store");
    if (auto c = store_rows::read_chain_row(db, store->read_chain_); !c.ok())
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
    find_process_ = {};
    insert_process_ = {};
    touch_process_ = {};
    sqlite3_close_v2(db_);
}

Result<ChainState> EventStore::chain() const {
    return store_rows::read_chain_row(db_, const_cast<sqlite::Stmt&>(read_chain_));
}

Result<uint64_t> EventStore::used_bytes() const {
    sqlite::Stmt s(db_, "SELECT (SELECT page_count FROM pragma_page_count()) - "
                        "(SELECT freelist_count FROM pragma_freelist_count()), "
                        "(SELECT page_size FROM pragma_page_size())");
    if (!s.ok() || s.step() != SQLITE_ROW)
        return sqlite::error(db_, "cannot read the store's size");
    return static_cast<uint64_t>(s.column_int(0) * s.column_int(1));
}

} // namespace podguard
