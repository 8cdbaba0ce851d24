// The write path: one transaction per batch, prepared statements, and the
// small lookup tables (identities, facets, processes) served from the
// writer's caches.
#include <fmt/format.h>

#include "store/event_store.h"
#include "store/process_records.h"
#include "store/store_rows.h"

namespace podguard {

namespace {

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

} // namespace

Status EventStore::prepare_writes() {
    insert_event_ = sqlite::Stmt(db_, "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    insert_json_ = sqlite::Stmt(db_, "INSERT INTO event_json VALUES (?1, ?2, ?3, ?4)");
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
    find_process_ = sqlite::Stmt(db_, "SELECT proc FROM processes WHERE digest = ?1");
    insert_process_ = sqlite::Stmt(
        db_,
        "INSERT INTO processes(pid, start_ns, json, digest, last_id) VALUES (?1, ?2, ?3, ?4, 0)");
    touch_process_ =
        sqlite::Stmt(db_, "UPDATE processes SET last_id = max(last_id, ?2) WHERE proc = ?1");
    if (!insert_event_.ok() || !insert_json_.ok() || !update_head_.ok() || !find_identity_.ok() ||
        !insert_identity_.ok() || !find_facet_.ok() || !insert_facet_.ok() || !find_process_.ok() ||
        !insert_process_.ok() || !touch_process_.ok())
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
            return sqlite::error(db_, "cannot store an event's identity, facet or process");
        s->reset();
        if (row) {
            cache.rows.emplace(cache.key, row);
            cache.added.push_back(cache.key);
            return row;
        }
    }
    return make_error("cannot store an event's identity, facet or process");
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

Result<int64_t> EventStore::process_of(const ProcessEntry& p) {
    processes_.key.assign(reinterpret_cast<const char*>(p.digest.data()), p.digest.size());
    return lookup_row(processes_, find_process_, insert_process_, [&](sqlite::Stmt& s) {
        if (&s == &find_process_) {
            s.bind_blob(1, p.digest.data(), int(p.digest.size()));
            return;
        }
        s.bind(1, int64_t(p.pid));
        s.bind(2, static_cast<int64_t>(p.start_ns));
        s.bind_text(3, p.json);
        s.bind_blob(4, p.digest.data(), int(p.digest.size()));
    });
}

Status EventStore::append(std::span<StoreRecord> records) {
    if (options_.read_only)
        return make_error("the event store is open read-only");
    if (records.empty())
        return {};
    store_rows::Transaction tx(db_);
    if (auto s = tx.begin(); !s.ok())
        return s;
    // The head is read inside the write transaction: the chain continues
    // from what is committed, whoever committed it.
    auto chain = store_rows::read_chain_row(db_, read_chain_);
    if (!chain.ok())
        return chain.error();
    int64_t id = chain->head_id;
    Sha256 prev = chain->head_hash;
    touched_.clear();
    last_ = nullptr;
    for (LookupCache* c : {&identities_, &facets_, &processes_})
        c->added.clear();
    // Cache entries of rows inserted by a transaction that then failed
    // would name rows that do not exist.
    struct ForgetOnFailure {
        EventStore& store;
        bool committed = false;
        ~ForgetOnFailure() {
            if (!committed)
                for (LookupCache* c : {&store.identities_, &store.facets_, &store.processes_})
                    for (const auto& key : c->added)
                        c->rows.erase(key);
        }
    } forget{*this};
    for (StoreRecord& r : records) {
        r.id = ++id;
        // Every new row has the current layout (ids only grow past an
        // upgrade's process_refs_from); a record built otherwise is rehashed.
        if (!r.process_refs) {
            r.process_refs = true;
            r.digest.reset();
        }
        Sha256 hash = r.id >= chain->digest_from ? hasher_.hash(prev, r) : hasher_.hash_v1(prev, r);
        if (auto st = write_row(r, prev, hash); !st.ok())
            return st;
        prev = hash;
    }
    if (auto st = touch_processes(); !st.ok())
        return st;
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

Status EventStore::write_row(StoreRecord& r, const Sha256& prev, const Sha256& hash) {
    const bool same_facet = last_ && last_->kind == r.kind && last_->action == r.action &&
                            last_->relation == r.relation && last_->source == r.source &&
                            last_->target == r.target;
    if (!same_facet) {
        auto src = identity_of(r.source);
        if (!src.ok())
            return src.error();
        auto tgt = identity_of(r.target);
        if (!tgt.ok())
            return tgt.error();
        auto facet = facet_of(r, *src, *tgt);
        if (!facet.ok())
            return facet.error();
        last_facet_ = *facet;
    }
    const int64_t facet = last_facet_;
    const bool same_processes = last_ && last_->ancestry == r.ancestry;
    if (!same_processes) {
        // The previous run of records ends: its processes' last event.
        if (last_)
            for (int64_t proc : process_ids_)
                touched_[proc] = last_->id;
        process_ids_.clear();
        for (const ProcessRef& p : r.ancestry) {
            auto proc = process_of(*p);
            if (!proc.ok())
                return proc.error();
            process_ids_.push_back(*proc);
        }
        if (!process_ids_.empty())
            process_blob_ = encode_process_ids(process_ids_);
    }
    last_ = &r;
    auto& s = insert_event_;
    s.reset();
    s.bind(1, r.id);
    s.bind(2, static_cast<int64_t>(r.time_ns));
    s.bind(3, facet);
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
    if (!process_ids_.empty())
        insert_json_.bind_blob(3, process_blob_.data(), int(process_blob_.size()));
    if (r.ancestry_at >= 0)
        insert_json_.bind(4, r.ancestry_at);
    if (insert_json_.step() != SQLITE_DONE)
        return sqlite::error(db_, "cannot store event");
    return {};
}

Status EventStore::touch_processes() {
    if (last_)
        for (int64_t proc : process_ids_)
            touched_[proc] = last_->id;
    for (auto [proc, last] : touched_) {
        touch_process_.reset();
        touch_process_.bind(1, proc);
        touch_process_.bind(2, last);
        if (touch_process_.step() != SQLITE_DONE)
            return sqlite::error(db_, "cannot store a process record");
    }
    touch_process_.reset();
    return {};
}

} // namespace podguard
