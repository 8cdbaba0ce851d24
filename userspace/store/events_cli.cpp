#include "store/events_cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "output/json_event.h"
#include "store/event_store.h"
#include "store/time_arg.h"

namespace podguard {

namespace {

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::vector<std::string> names_of(auto... values) {
    return {to_string(values)...};
}

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

const nlohmann::json* member(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string text(const nlohmann::json& j, const char* key) {
    const nlohmann::json* v = member(j, key);
    if (!v)
        return {};
    return v->is_string() ? v->get<std::string>() : v->dump();
}

// "ns/pod/container pid exe": who, as a responder names it.
std::string party_cell(const RecordParty& p, const nlohmann::json* party) {
    if (!party || !member(*party, "pid"))
        return "-";
    std::string where;
    if (!p.namespace_.empty())
        where += p.namespace_ + "/";
    if (!p.pod.empty())
        where += p.pod + "/";
    else if (!p.pod_uid.empty())
        where += "pod:" + p.pod_uid.substr(0, 12) + "/";
    if (!p.container_name.empty())
        where += p.container_name;
    else if (!p.container_id.empty())
        where += p.container_id.substr(0, 12);
    else
        where += "host";
    std::string exe = basename_of(text(*party, "exe"));
    if (exe.empty())
        exe = text(*party, "comm");
    return fmt::format("{} {} {}", where, p.pid, exe);
}

std::string detail_cell(const nlohmann::json& e) {
    if (const auto* a = member(e, "proc_access"))
        return fmt::format("{} ({} {} ={})", text(*a, "path"), text(*a, "entry"),
                           text(*a, "syscall"), text(*a, "result"));
    if (const auto* s = member(e, "signal")) {
        std::string d =
            fmt::format("{} ({} ={})", text(*s, "name"), text(*s, "syscall"), text(*s, "result"));
        if (auto delivery = text(*s, "delivery"); !delivery.empty())
            d += " " + delivery;
        return d;
    }
    if (const auto* p = member(e, "ptrace")) {
        std::string req = text(*p, "request_name");
        return fmt::format("{} ({} ={})", req.empty() ? text(*p, "syscall") : req,
                           text(*p, "syscall"), text(*p, "result"));
    }
    if (const auto* pr = member(e, "process"))
        return text(*pr, "args").empty() ? text(*pr, "exit_code") : text(*pr, "args");
    return {};
}

// "sh[4000] < runc[3990]": who started the source, nearest first.
std::string ancestry_cell(const nlohmann::json& e) {
    const auto* chain = member(e, "ancestry");
    if (!chain || !chain->is_array() || chain->empty())
        return "-";
    std::string out;
    for (const auto& a : *chain) {
        if (!out.empty())
            out += " < ";
        std::string exe = basename_of(text(a, "exe"));
        out += fmt::format("{}[{}]", exe.empty() ? "?" : exe, text(a, "pid"));
    }
    return out;
}

void print_table(const std::vector<StoredEvent>& rows, bool header, std::ostream& out) {
    std::vector<std::vector<std::string>> cells;
    if (header)
        cells.push_back({"ID", "TIME", "KIND", "ACTION", "RELATION", "SOURCE", "TARGET", "DETAIL",
                         "STARTED BY"});
    for (const auto& row : rows) {
        const StoreRecord& r = row.record;
        nlohmann::json e = nlohmann::json::parse(r.json, nullptr, false);
        if (e.is_discarded())
            e = nlohmann::json::object();
        cells.push_back({std::to_string(r.id), format_rfc3339_ns(r.time_ns), r.kind, r.action,
                         r.relation, party_cell(r.source, member(e, "source")),
                         party_cell(r.target, member(e, "target")), detail_cell(e),
                         ancestry_cell(e)});
    }
    if (cells.empty())
        return;
    std::vector<size_t> width(cells.front().size(), 0);
    for (const auto& line : cells)
        for (size_t i = 0; i < line.size(); ++i)
            width[i] = std::max(width[i], line[i].size());
    for (const auto& line : cells) {
        std::string s;
        for (size_t i = 0; i < line.size(); ++i) {
            s += line[i];
            if (i + 1 < line.size())
                s.append(width[i] - line[i].size() + 2, ' ');
        }
        out << s << '\n';
    }
}

// The event's JSON with the store's proof in front: a line stays one event
// of the README's contract plus a "store" member.
void print_json(const std::vector<StoredEvent>& rows, std::ostream& out) {
    for (const auto& row : rows) {
        const std::string& j = row.record.json;
        out << fmt::format(R"({{"store":{{"id":{},"hash":"{}","prev_hash":"{}"}})", row.record.id,
                           to_hex(row.hash), to_hex(row.prev_hash));
        if (j.size() > 2)
            out << ',' << std::string_view(j).substr(1);
        else
            out << '}';
        out << '\n';
    }
}

int run_verify(const std::string& path, std::ostream& out, std::ostream& err) {
    StoreOptions options;
    options.path = path;
    options.read_only = true;
    auto store = EventStore::open(options);
    if (!store.ok()) {
        err << "podguard events verify: " << store.error().message << '\n';
        return 1;
    }
    VerifyReport report = (*store)->verify();
    out << path << ": " << describe(report) << '\n';
    return report.ok ? 0 : 1;
}

} // namespace

int events_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const std::atomic<bool>* stop) {
    CLI::App app{"Query the event store (and verify its hash chain)", "podguard events"};
    std::string store_path = kDefaultStorePath;
    std::string since, until, output = "table", order;
    EventQuery query;
    uint32_t pid = 0;
    bool follow = false;
    unsigned poll_ms = 500;
    app.add_option("--store", store_path,
                   "The event store (default " + std::string(kDefaultStorePath) + ")");
    app.add_option("--since", since, "From this time: RFC 3339 or an age (10m, 2h)");
    app.add_option("--until", until, "Before this time: RFC 3339 or an age");
    app.add_option("--namespace", query.namespace_, "Kubernetes namespace (either side)");
    app.add_option("--pod", query.pod, "Pod name or uid (either side)");
    app.add_option("--container", query.container, "Container id prefix or name (either side)");
    app.add_option("--kind", query.kind)
        ->check(CLI::IsMember(names_of(EventKind::Signal, EventKind::Ptrace, EventKind::ProcAccess,
                                       EventKind::Fork, EventKind::Exec, EventKind::Exit)));
    app.add_option("--relation", query.relation)
        ->check(CLI::IsMember(names_of(Relation::SameContainer, Relation::SamePod,
                                       Relation::HostToContainer, Relation::ContainerToHost,
                                       Relation::CrossPod, Relation::Host, Relation::Unknown)));
    app.add_option("--action", query.action)
        ->check(CLI::IsMember(
            names_of(Action::Allowed, Action::Audited, Action::Blocked, Action::Killed)));
    auto* pid_opt = app.add_option("--pid", pid, "Host pid (source or target)");
    app.add_option("--limit", query.limit, "At most this many events (0: all)");
    app.add_option("--order", order,
                   "asc: the first matches, oldest first; desc: the last, newest first "
                   "(default: asc with --since, else the last matches, oldest first)")
        ->check(CLI::IsMember({"asc", "desc"}));
    app.add_option("-o,--output", output, "table or json (one event per line)")
        ->check(CLI::IsMember({"table", "json"}));
    app.add_flag("--follow", follow, "Keep printing new events as they are stored");
    app.add_option("--poll-interval-ms", poll_ms, "--follow's polling interval")
        ->group("") // for tests
        ->check(CLI::Range(10u, 60000u));

    auto* verify = app.add_subcommand("verify", "Check the hash chain: exit 0 when intact, 1 "
                                                "with the first broken link");
    std::string verify_store;
    verify->add_option("--store", verify_store, "The event store");

    // Unexpected arguments are reported here, in the order given (CLI11's
    // own message lists them in its reversed parse order).
    app.allow_extras();
    try {
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        app.parse(reversed);
        if (auto extra = app.remaining(); !extra.empty()) {
            err << "podguard events: error: The following argument"
                << (extra.size() > 1 ? "s were" : " was")
                << " not expected: " << fmt::format("{}", fmt::join(extra, " "))
                << " (see --help)\n";
            return 2;
        }
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return 0;
    } catch (const CLI::ParseError& e) {
        err << "podguard events: error: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (*verify)
        return run_verify(verify_store.empty() ? store_path : verify_store, out, err);

    const uint64_t now = realtime_ns();
    for (auto [arg, dest] :
         {std::pair{&since, &query.since_ns}, std::pair{&until, &query.until_ns}}) {
        if (arg->empty())
            continue;
        auto t = parse_time_arg(*arg, now);
        if (!t.ok()) {
            err << "podguard events: error: " << t.error().message << '\n';
            return 2;
        }
        *dest = *t;
    }
    if (pid_opt->count())
        query.pid = pid;
    // Without an explicit order or start, show the latest matches, in
    // time order, as tail does.
    bool tail = order.empty() && !query.since_ns;
    query.order =
        order == "desc" || tail ? EventQuery::Order::Descending : EventQuery::Order::Ascending;

    StoreOptions options;
    options.path = store_path;
    options.read_only = true;
    auto store = EventStore::open(options);
    if (!store.ok()) {
        err << "podguard events: " << store.error().message << '\n';
        return 1;
    }
    // Follow from the head as of now: nothing appended meanwhile is missed.
    auto head = (*store)->chain();
    if (!head.ok()) {
        err << "podguard events: " << head.error().message << '\n';
        return 1;
    }
    auto rows = (*store)->query(query);
    if (!rows.ok()) {
        err << "podguard events: " << rows.error().message << '\n';
        return 1;
    }
    if (tail)
        std::reverse(rows->begin(), rows->end());
    auto print = [&](const std::vector<StoredEvent>& r, bool header) {
        if (output == "json")
            print_json(r, out);
        else
            print_table(r, header, out);
        out.flush();
    };
    print(*rows, true);
    if (!follow)
        return 0;

    int64_t last_id = head->head_id;
    for (const auto& r : *rows)
        last_id = std::max(last_id, r.record.id);
    EventQuery next = query;
    next.since_ns.reset(); // an event's time may precede the previous one's
    next.order = EventQuery::Order::Ascending;
    next.limit = 10000;
    while (!(stop && stop->load())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
        // Every row up to this head is committed before the query runs, so
        // the query sees all of them: the cursor may skip past rows the
        // filter left out.
        auto h = (*store)->chain();
        next.after_id = last_id;
        auto fresh = (*store)->query(next);
        if (!fresh.ok() || !h.ok()) {
            err << "podguard events: " << (fresh.ok() ? h.error().message : fresh.error().message)
                << '\n';
            return 1;
        }
        if (!fresh->empty())
            last_id = fresh->back().record.id;
        if (fresh->size() < next.limit)
            last_id = std::max(last_id, h->head_id);
        print(*fresh, false);
    }
    return 0;
}

} // namespace podguard
