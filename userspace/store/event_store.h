// The incident-forensics store: every event in SQLite (WAL), indexed for the
// questions a responder asks (when, which pod, which container, which pid),
// and hash-chained so that a deleted, edited or truncated history shows.
//
// Chain: row n's hash = SHA-256(row n-1's hash || n || SHA-256(row n's
// content)) (record.h), ids are contiguous. An event's ancestry is stored
// once per process (process_records.h); the content covers the digest of
// each process record the event refers to. The single-row chain table records the head (last id
// and hash, updated in the same transaction as the rows) and the anchor (the
// id and hash of the last row pruned by rotation), so verify() starts from a
// known hash after old rows were deleted and notices rows missing at the end.
// This proves integrity against edits made with ordinary tools; whoever can
// rewrite the whole file can rewrite the chain, unless the head hash was
// kept elsewhere (verify reports it for that purpose).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "store/record.h"
#include "store/sqlite_util.h"

namespace podguard {

inline constexpr const char* kDefaultStorePath = "/var/lib/podguard/events.db";

struct StoreOptions {
    std::string path = kDefaultStorePath;
    // Rotation: the oldest rows are pruned while the live pages exceed
    // max_bytes (freed pages are reused, so the file stays near this size)
    // or while they are older than max_age. 0 disables either bound.
    uint64_t max_bytes = 1ull << 30;
    std::chrono::seconds max_age = std::chrono::hours(24 * 30);
    // Queries and verify: never creates or changes anything.
    bool read_only = false;
    // synchronous=FULL: also survive power loss (NORMAL survives a crash).
    bool sync_full = false;
    int busy_timeout_ms = 5000;
    // The WAL is copied into the database file (a checkpoint) once it holds
    // this much, by a thread of the store's own, so that the writer only
    // appends: the copy and its fsyncs run beside it. Should that thread
    // fall behind by four times this, the writer checkpoints itself.
    uint64_t checkpoint_bytes = 64ull << 20;
    // For a new file only. 16 KiB pages hold ten event JSONs where 4 KiB
    // ones hold two; 4 KiB suits a disk of a few hundred KiB.
    int page_size = 16384;
};

struct EventQuery {
    std::optional<uint64_t> since_ns; // time_ns >= since
    std::optional<uint64_t> until_ns; // time_ns < until
    // Each matches either side of the event; empty matches everything.
    std::string namespace_;
    std::string pod;       // pod name or uid
    std::string container; // container id prefix or container name
    std::string kind;      // names as in the JSON: proc_access, same_pod, ...
    std::string relation;
    std::string action;
    std::optional<uint32_t> pid; // source or target host pid
    // Only rows appended after this id, in append order (--follow).
    std::optional<int64_t> after_id;
    size_t limit = 100; // 0: no limit
    // Ascending: the first `limit` matches, oldest first. Descending: the
    // last `limit` matches, newest first.
    enum class Order { Ascending, Descending } order = Order::Ascending;
};

struct StoredEvent {
    StoreRecord record; // record.id is the row id, record.json the event
    Sha256 prev_hash{};
    Sha256 hash{};
};

struct ChainState {
    int64_t head_id = 0; // last appended row, 0 when none yet
    Sha256 head_hash{};
    int64_t anchor_id = 0; // last pruned row; the chain starts after it
    Sha256 anchor_hash{};
    uint64_t pruned = 0; // rows pruned by rotation so far
    // Rows from this id on chain content digests (record.h); earlier ones,
    // written by version 1, hash their bytes whole.
    int64_t digest_from = 1;
    // Rows from this id on keep their ancestry in process records (version
    // 3); earlier ones hold it in their JSON.
    int64_t process_refs_from = 1;
};

enum class ChainBreak {
    None,
    DeletedRows, // ids missing inside the chain
    EditedRow,   // a row's content no longer matches its hash, or its hash was rewritten
    Truncated,   // rows missing at the end (rows or the file itself cut short)
    ExtraRows,   // rows the chain head does not account for
    Unreadable,  // not a store, or SQLite cannot read it
};
const char* to_string(ChainBreak what);

struct VerifyReport {
    bool ok = false;
    uint64_t rows = 0; // rows checked
    int64_t first_id = 0;
    int64_t last_id = 0;
    ChainState chain;
    // The first broken link.
    ChainBreak what = ChainBreak::None;
    int64_t broken_id = 0; // the row (or first missing id) where it breaks
    std::string detail;
};
std::string describe(const VerifyReport& report); // one or two lines, for people

struct PruneResult {
    uint64_t rows = 0;
    int64_t anchor_id = 0;
};

class EventStore {
  public:
    static Result<std::unique_ptr<EventStore>> open(const StoreOptions& options);
    ~EventStore();
    EventStore(const EventStore&) = delete;
    EventStore& operator=(const EventStore&) = delete;

    // Appends in one transaction, chained to the head the store holds now:
    // sets each record's id. On error nothing of the batch is stored (the
    // error names SQLite's reason: disk full, I/O error, ...).
    Status append(std::span<StoreRecord> records);
    // Rotation by size and age; deletes the oldest rows, in id order, and
    // moves the anchor. now is CLOCK_REALTIME ns.
    Result<PruneResult> prune(uint64_t now_ns);
    // Bytes in use (pages not on the free list).
    Result<uint64_t> used_bytes() const;
    // Moves the WAL into the database file without waiting for readers (but
    // after a background checkpoint in progress), so
    // that the next write reuses the WAL from its start instead of growing
    // it: what lets a store on a full disk write again once space returns.
    Status checkpoint();

    Result<std::vector<StoredEvent>> query(const EventQuery& query) const;
    Result<ChainState> chain() const;
    VerifyReport verify() const;

    const StoreOptions& options() const { return options_; }

  private:
    explicit EventStore(StoreOptions options) : options_(std::move(options)) {}
    static Result<std::unique_ptr<EventStore>> open_file(const StoreOptions& options);
    Status prepare_writes();
    Result<PruneResult> prune_rows(int64_t through_id);
    // Writer's cache of a lookup table's rows, by key; `added` lists the
    // entries of the open transaction, forgotten if it fails.
    struct LookupCache {
        std::unordered_map<std::string, int64_t> rows;
        std::vector<std::string> added;
        std::string key; // the key being looked up (reused: no allocation per event)
    };
    Result<int64_t> lookup_row(LookupCache& cache, sqlite::Stmt& find, sqlite::Stmt& insert,
                               const std::function<void(sqlite::Stmt&)>& bind);
    // The identities row of a party (0: none), inserted when new.
    Result<int64_t> identity_of(const RecordParty& party);
    // The facets row of a record whose parties are src and tgt.
    Result<int64_t> facet_of(const StoreRecord& record, int64_t src, int64_t tgt);
    // The processes row of an ancestor, inserted when new.
    Result<int64_t> process_of(const ProcessEntry& process);
    Status write_row(StoreRecord& record, const Sha256& prev, const Sha256& hash);
    // Moves last_id of the process records the batch referred to.
    Status touch_processes();

    // Background checkpoints (StoreOptions::checkpoint_bytes).
    Status start_checkpointer();
    void run_checkpointer();
    static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);

    StoreOptions options_;
    sqlite3* db_ = nullptr;
    sqlite3* checkpoint_db_ = nullptr; // the checkpointer's connection
    int checkpoint_frames_ = 0;        // checkpoint_bytes in WAL frames
    std::thread checkpointer_;
    std::mutex checkpoint_mu_;
    std::condition_variable checkpoint_wake_;
    bool checkpoint_requested_ = false;
    bool checkpoint_stop_ = false;
    ChainHasher hasher_;
    sqlite::Stmt read_chain_;
    sqlite::Stmt insert_event_;
    sqlite::Stmt insert_json_;
    sqlite::Stmt update_head_;
    sqlite::Stmt find_identity_;
    sqlite::Stmt insert_identity_;
    sqlite::Stmt find_facet_;
    sqlite::Stmt insert_facet_;
    sqlite::Stmt find_process_;
    sqlite::Stmt insert_process_;
    sqlite::Stmt touch_process_;
    LookupCache identities_;
    LookupCache facets_;
    LookupCache processes_; // keyed by digest
    // The batch's process rows and the last event referring to each.
    std::unordered_map<int64_t, int64_t> touched_;
    std::vector<int64_t> process_ids_; // the last record's process rows
    std::string process_blob_;         // ... as its BLOB
    // Events come in runs from one process: the previous record's facet and
    // process rows serve the next one when it names the same parties and
    // the same process records (the pointers). Valid within one append.
    const StoreRecord* last_ = nullptr;
    int64_t last_facet_ = 0;
};

} // namespace podguard
