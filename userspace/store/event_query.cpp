// Queries: filters become a list of facets (a small table) answered by the
// (facet, time) index; the rows kept are joined with their JSON and their
// process records last.
#include <fmt/format.h>

#include <variant>

#include "store/event_store.h"
#include "store/store_rows.h"

namespace podguard {

namespace {

std::string prefix_upper_bound(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff)
        prefix.pop_back();
    if (!prefix.empty())
        prefix.back() = static_cast<char>(prefix.back() + 1);
    return prefix;
}

} // namespace

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
    std::string sql =
        fmt::format("SELECT {} FROM ({}) AS m JOIN events e ON e.id = m.id {}{}",
                    store_rows::event_columns(), inner, store_rows::kEventJoins, order_by("e."));
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
    auto chain = this->chain();
    if (!chain.ok())
        return chain.error();
    store_rows::ProcessReader processes(db_);
    std::vector<StoredEvent> out;
    for (;;) {
        int rc = s.step();
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            return sqlite::error(db_, "cannot query the event store");
        store_rows::Row row;
        store_rows::read_row(s, chain->process_refs_from, row);
        if (auto st = processes.resolve(row); !st.ok())
            return st.error();
        // The event as the stream had it; the record's ancestry stays with
        // it for whoever wants the process records.
        StoredEvent& e = row.event;
        e.record.json = e.record.whole_json();
        e.record.ancestry_at = -1;
        out.push_back(std::move(e));
    }
    return out;
}

} // namespace podguard
