// Background checkpoints: a thread of the store copies the WAL into the
// database file beside the writer (StoreOptions::checkpoint_bytes).
#include <unistd.h>

#include <algorithm>

#include "store/event_store.h"

namespace podguard {

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

} // namespace podguard
