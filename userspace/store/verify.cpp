// verify(): the chain walked from its anchor to its head, with the process
// records each row refers to; the first broken link, named for people.
#include <fmt/format.h>

#include "store/event_store.h"
#include "store/store_rows.h"

namespace podguard {

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
    if (auto truncated = store_rows::truncation_of(options_.path))
        return fail(ChainBreak::Truncated, 0, *truncated);

    // One read transaction: a consistent snapshot while the daemon appends.
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
        return fail(ChainBreak::Unreadable, 0, sqlite::error(db_, "cannot read").message);
    struct EndRead {
        sqlite3* db;
        ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
    } end_read{db_};

    auto chain = store_rows::read_chain_row(db_, const_cast<sqlite::Stmt&>(read_chain_));
    if (!chain.ok())
        return fail(ChainBreak::Unreadable, 0, chain.error().message);
    rep.chain = *chain;

    sqlite::Stmt s(db_, fmt::format("SELECT {} FROM events e {} ORDER BY e.id",
                                    store_rows::event_columns(), store_rows::kEventJoins));
    if (!s.ok())
        return fail(ChainBreak::Unreadable, 0, sqlite::error(db_, "cannot read").message);
    ChainHasher hasher;
    store_rows::ProcessReader processes(db_);
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
        store_rows::Row row;
        store_rows::read_row(s, chain->process_refs_from, row);
        const StoredEvent& e = row.event;
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
        if (!row.hashes_ok)
            return fail(ChainBreak::EditedRow, id, fmt::format("row {} has a malformed hash", id));
        if (row.json_missing)
            return fail(ChainBreak::EditedRow, id,
                        fmt::format("row {}'s event JSON is missing (deleted)", id));
        if (!row.ancestry_ok)
            return fail(ChainBreak::EditedRow, id,
                        fmt::format("row {}'s list of process records is malformed", id));
        int64_t bad_process = 0;
        bool process_edited = false;
        if (auto st = processes.resolve(row, &bad_process, &process_edited); !st.ok())
            return fail(ChainBreak::Unreadable, id, st.error().message);
        if (bad_process)
            return fail(ChainBreak::EditedRow, id,
                        process_edited
                            ? fmt::format("process record {} (row {}'s ancestry) was edited: its "
                                          "content does not match its digest",
                                          bad_process, id)
                            : fmt::format("process record {} (row {}'s ancestry) is missing "
                                          "(deleted)",
                                          bad_process, id));
        const Sha256 expected = id >= chain->digest_from ? hasher.hash(e.prev_hash, e.record)
                                                         : hasher.hash_v1(e.prev_hash, e.record);
        if (expected != e.hash)
            return fail(
                ChainBreak::EditedRow, id,
                row.process_ids.empty()
                    ? fmt::format("row {} was edited: its content does not match its hash", id)
                    : fmt::format("row {} or a process record of its ancestry was edited: "
                                  "its content does not match its hash",
                                  id));
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
