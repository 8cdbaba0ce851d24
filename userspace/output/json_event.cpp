#include "output/json_event.h"

#include <algorithm>

#include <ctime>
#include <fcntl.h> // AT_FDCWD
#include <fmt/format.h>
#include <unordered_map>

#include "events/kinds.h"
#include "events/names.h"
#include "output/event_identity.h"

namespace podguard {

namespace {

size_t utf8_sequence_length(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t len = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (!len || i + len > s.size())
        return 0;
    for (size_t k = 1; k < len; ++k)
        if ((b(i + k) & 0xC0) != 0x80)
            return 0;
    // Overlong or surrogate forms.
    if ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) >= 0xA0) ||
        (c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90))
        return 0;
    return len;
}

void key(std::string& out, std::string_view name) {
    out += '"';
    out += name;
    out += "\":";
}

void str_field(std::string& out, std::string_view name, std::string_view value) {
    key(out, name);
    out += '"';
    append_json_string(value, out);
    out += "\",";
}

template <class T> void num_field(std::string& out, std::string_view name, T value) {
    key(out, name);
    // format_int, not format_to: no format string to parse per number.
    fmt::format_int text(value);
    out.append(text.data(), text.size());
    out += ',';
}

void close_object(std::string& out) {
    if (out.back() == ',')
        out.back() = '}';
    else
        out += '}';
}

// The same ancestors (a shell, a runtime, a host init with a long command
// line) come back in event after event, so their escaped exe and args are
// kept per process: escaping them anew was most of the cost of an event.
struct AncestorText {
    std::string exe;
    std::string args;
    std::string json; // "exe":"...","args":"...",
};

// What rendering remembers from one event to the next. One per thread:
// events are rendered on the pipeline thread and, in tests and the store's
// tools, on others; nothing here is shared, so no lock.
struct RenderMemory {
    std::unordered_map<uint64_t, AncestorText> ancestors; // by (pid, start)
    uint64_t second = UINT64_MAX;                         // of `second_prefix`
    char second_prefix[32] = {};                          // "2026-11-23T13:45:56."
    size_t expected_size = 2048;                          // of the last event's JSON
};

RenderMemory& render_memory() {
    thread_local RenderMemory memory;
    return memory;
}

void append_ancestor_text(const AncestorInfo& a, std::string& out) {
    constexpr size_t kMaxRemembered = 4096;
    auto& remembered = render_memory().ancestors;
    const uint64_t key = (uint64_t(a.pid) << 40) ^ a.start_ns;
    auto it = remembered.find(key);
    if (it == remembered.end() || it->second.exe != a.exe || it->second.args != a.args) {
        if (remembered.size() >= kMaxRemembered)
            remembered.clear();
        AncestorText t{a.exe, a.args, {}};
        str_field(t.json, "exe", a.exe);
        str_field(t.json, "args", a.args);
        it = remembered.insert_or_assign(key, std::move(t)).first;
    }
    out += it->second.json;
}

void append_party(const Party& p, std::string& out) {
    out += '{';
    if (!p.known) {
        out += "\"pid\":null,\"tid\":null,\"ns_pid\":null,\"uid\":null,\"comm\":null,"
               "\"exe\":null,\"cgroup_id\":null,\"container\":null,\"pod\":null}";
        return;
    }
    num_field(out, "pid", p.pid);
    num_field(out, "tid", p.tid);
    num_field(out, "ns_pid", p.ns_pid);
    num_field(out, "ns_tid", p.ns_tid);
    num_field(out, "uid", p.uid);
    num_field(out, "euid", p.euid);
    num_field(out, "ppid", p.ppid);
    str_field(out, "comm", p.comm);
    str_field(out, "exe", p.exe);
    num_field(out, "cgroup_id", p.cgroup_id);
    num_field(out, "pidns", p.pidns);
    num_field(out, "mntns", p.mntns);
    key(out, "container");
    if (p.container) {
        out += '{';
        str_field(out, "id", p.container->id);
        str_field(out, "runtime", p.container->runtime);
        if (!p.container->name.empty())
            str_field(out, "name", p.container->name);
        if (!p.container->runtime_name.empty())
            str_field(out, "runtime_name", p.container->runtime_name);
        if (!p.container->image.empty())
            str_field(out, "image", p.container->image);
        if (!p.container->pod_uid.empty())
            str_field(out, "pod_uid", p.container->pod_uid);
        close_object(out);
        out += ',';
    } else {
        out += "null,";
    }
    key(out, "pod");
    if (p.pod) {
        out += '{';
        str_field(out, "namespace", p.pod->namespace_);
        str_field(out, "name", p.pod->name);
        str_field(out, "uid", p.pod->uid);
        key(out, "labels");
        out += '{';
        for (const auto& [k, v] : p.pod->labels) {
            out += '"';
            append_json_string(k, out);
            out += "\":\"";
            append_json_string(v, out);
            out += "\",";
        }
        close_object(out);
        out += ',';
        close_object(out);
    } else {
        out += "null";
    }
    out += '}';
}

void append_frames(const std::vector<StackFrame>& frames, std::string& out) {
    out += '[';
    for (const StackFrame& f : frames) {
        out += '{';
        // A string: 64-bit addresses do not survive JSON numbers (doubles).
        fmt::format_to(std::back_inserter(out), "\"address\":\"{:#x}\",", f.address);
        if (!f.symbol.empty())
            str_field(out, "symbol", f.symbol);
        if (!f.module.empty())
            str_field(out, "module", f.module);
        if (!f.symbol.empty() || !f.module.empty())
            num_field(out, "offset", f.offset);
        close_object(out);
        out += ',';
    }
    if (out.back() == ',')
        out.back() = ']';
    else
        out += ']';
}

void append_stacks(const EventStacks& s, std::string& out) {
    key(out, "stack");
    out += '{';
    key(out, "user");
    append_frames(s.user, out);
    out += ',';
    key(out, "kernel");
    append_frames(s.kernel, out);
    out += ',';
    if (!s.user_error.empty())
        str_field(out, "user_error", s.user_error);
    if (!s.kernel_error.empty())
        str_field(out, "kernel_error", s.kernel_error);
    close_object(out);
}

} // namespace

void append_ancestor_json(const AncestorInfo& a, std::string& out) {
    out += '{';
    num_field(out, "pid", a.pid);
    num_field(out, "start_ns", a.start_ns);
    append_ancestor_text(a, out);
    key(out, "container_id");
    if (a.container) {
        out += '"';
        append_json_string(a.container->id, out);
        out += '"';
    } else {
        out += "null";
    }
    out += '}';
}

void append_json_string(std::string_view in, std::string& out) {
    // Runs of plain printable ASCII, nearly all of every event, are copied
    // in one append; only the bytes that need care go one by one.
    auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; };
    size_t i = 0;
    while (i < in.size()) {
        size_t run = i;
        while (run < in.size() && plain(static_cast<unsigned char>(in[run])))
            ++run;
        if (run > i) {
            out.append(in.data() + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = static_cast<unsigned char>(in[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
            }
            ++i;
            continue;
        }
        size_t len = utf8_sequence_length(in, i);
        if (len) {
            out.append(in.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
}

std::string format_rfc3339_ns(uint64_t realtime_ns) {
    // Events come many to a second: the calendar part is formatted once per
    // second, only the nanoseconds for each event.
    RenderMemory& memory = render_memory();
    uint64_t& cached_second = memory.second;
    char(&prefix)[32] = memory.second_prefix;
    const uint64_t second = realtime_ns / 1000000000ull;
    if (second != cached_second) {
        time_t secs = static_cast<time_t>(second);
        struct tm tm;
        gmtime_r(&secs, &tm);
        auto end = fmt::format_to_n(prefix, sizeof prefix - 1,
                                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.", tm.tm_year + 1900,
                                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        *end.out = '\0';
        cached_second = second;
    }
    char ns[10];
    uint64_t rest = realtime_ns % 1000000000ull;
    for (int i = 8; i >= 0; --i, rest /= 10)
        ns[i] = char('0' + rest % 10);
    ns[9] = 'Z';
    std::string out(prefix);
    out.append(ns, sizeof ns);
    return out;
}

void append_event_json(const Event& e, std::string& out) {
    out += '{';
    str_field(out, "time", format_rfc3339_ns(e.time_ns));
    if (const std::string& node = event_node_name(); !node.empty())
        str_field(out, "node", node);
    str_field(out, "kind", to_string(e.kind));
    str_field(out, "action", to_string(e.action));
    str_field(out, "relation", to_string(e.relation));
    if (e.policy_rule)
        append_rule_identity(e.policy_rule, out);
    if (e.summary) {
        num_field(out, "count", e.count);
        str_field(out, "first_time", format_rfc3339_ns(e.first_time_ns));
        str_field(out, "last_time", format_rfc3339_ns(e.time_ns));
    } else if (e.first_occurrence) {
        out += "\"first_occurrence\":true,";
    }
    if (e.unidentified)
        str_field(out, "reason", "unidentified_container");
    key(out, "source");
    append_party(e.source, out);
    out += ',';
    if (!is_lifecycle(e.kind)) {
        key(out, "target");
        append_party(e.target, out);
        out += ',';
    }
    if (auto* s = std::get_if<SignalDetail>(&e.detail)) {
        key(out, "signal");
        out += '{';
        num_field(out, "number", s->number);
        str_field(out, "name", signal_name(s->number));
        str_field(out, "syscall", syscall_name(s->syscall));
        num_field(out, "result", s->result);
        num_field(out, "target_arg", s->target_arg);
        if (s->tid_arg)
            num_field(out, "tid_arg", s->tid_arg);
        if (!s->delivery.empty())
            str_field(out, "delivery", s->delivery);
        if (s->ntargets > 1 || s->extra_target)
            num_field(out, "targets", s->ntargets);
        close_object(out);
    } else if (auto* p = std::get_if<PtraceDetail>(&e.detail)) {
        key(out, "ptrace");
        out += '{';
        num_field(out, "request", p->request);
        if (p->syscall == PG_SYS_PTRACE)
            str_field(out, "request_name", ptrace_request_name(p->request));
        str_field(out, "syscall", syscall_name(p->syscall));
        num_field(out, "result", p->result);
        num_field(out, "target_arg", p->target_arg);
        close_object(out);
    } else if (auto* a = std::get_if<ProcAccessDetail>(&e.detail)) {
        key(out, "proc_access");
        out += '{';
        str_field(out, "path", a->path);
        str_field(out, "entry", a->entry);
        str_field(out, "syscall", syscall_name(a->syscall));
        num_field(out, "result", a->result);
        num_field(out, "target_arg", a->target_arg);
        if (a->dirfd != AT_FDCWD)
            num_field(out, "dirfd", a->dirfd);
        if (a->truncated)
            out += "\"truncated\":true,";
        if (a->read_at_exit)
            out += "\"read_at_exit\":true,";
        if (a->by_object)
            out += "\"by_object\":true,";
        if (a->relative)
            out += "\"relative\":true,";
        close_object(out);
    } else if (auto* pr = std::get_if<ProcessDetail>(&e.detail)) {
        key(out, "process");
        out += '{';
        if (e.kind == EventKind::Exec) {
            str_field(out, "filename", pr->filename);
            str_field(out, "args", pr->args);
        }
        if (e.kind == EventKind::Exit)
            num_field(out, "exit_code", pr->exit_code);
        close_object(out);
    }
    if (!e.ancestry.empty()) {
        if (out.back() != ',')
            out += ',';
        key(out, "ancestry");
        out += '[';
        for (const AncestorInfo& a : e.ancestry) {
            append_ancestor_json(a, out);
            out += ',';
        }
        out.back() = ']';
    }
    if (e.stacks) {
        if (out.back() != ',')
            out += ',';
        append_stacks(*e.stacks, out);
    }
    close_object(out);
}

const std::string& event_json(const Event& e) {
    std::string& text = e.rendered_json.text;
    if (text.empty()) {
        // Sized from the previous event: events with ancestry run to several
        // KB, and each doubling step was a malloc.
        size_t& expected = render_memory().expected_size;
        text.reserve(expected);
        append_event_json(e, text);
        expected = std::max<size_t>(2048, text.size() + text.size() / 8);
    }
    return text;
}

std::string event_to_json(const Event& e) {
    std::string out;
    out.reserve(1024);
    append_event_json(e, out);
    return out;
}

} // namespace podguard
