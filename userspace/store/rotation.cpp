// Rotation by size and age: the oldest rows go, in id order, with the
// process records no kept row refers to; the chain's anchor moves to the
// last row deleted.
#include <algorithm>

#include "store/event_store.h"
#include "store/store_rows.h"

namespace podguard {

namespace {

// Rows deleted per pruning transaction: keeps the writer's pauses short.
constexpr int64_t kPruneChunk = 50000;
// Size pruning stops below this share of max_bytes, so that it does not
// run again after every commit.
constexpr double kPruneLowWater = 0.9;

} // namespace

Result<PruneResult> EventStore::prune_rows(int64_t through_id) {
    store_rows::Transaction tx(db_);
    if (auto s = tx.begin(); !s.ok())
        return s.error();
    auto chain = store_rows::read_chain_row(db_, read_chain_);
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
    // Process records whose last event went: the writer's cache forgets
    // them all (it is refilled from the table).
    sqlite::Stmt del_processes(db_, "DELETE FROM processes WHERE last_id <= ?1");
    del_processes.bind(1, anchor_id);
    if (del_processes.step() != SQLITE_DONE)
        return sqlite::error(db_, "cannot prune");
    if (sqlite3_changes(db_) > 0)
        processes_.rows.clear();
    del_processes = {};
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

} // namespace podguard
