// Events for the store's tests: real Event values, as the pipeline hands
// them to the sinks.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "events/event.h"

namespace podguard::store_test {

inline constexpr uint64_t kSecond = 1'000'000'000ull;

struct Who {
    std::string namespace_; // empty: no pod
    std::string pod;
    std::string pod_uid;
    std::string container_id; // empty: host
    std::string container_name;
    uint32_t pid = 0; // 0: unknown (unresolved target)
    std::string exe = "/bin/busybox";
};

inline Party party(const Who& w) {
    Party p;
    if (!w.pid)
        return p;
    p.known = true;
    p.pid = p.tid = w.pid;
    p.ns_pid = p.ns_tid = w.pid % 100;
    p.comm = w.exe.substr(w.exe.rfind('/') + 1);
    p.exe = w.exe;
    p.cgroup_id = 4000 + w.pid;
    p.start_ns = 1000 * kSecond + w.pid;
    p.ppid = 1;
    if (!w.container_id.empty()) {
        ContainerInfo c;
        c.id = w.container_id;
        c.runtime = "containerd";
        c.name = w.container_name;
        c.pod_uid = w.pod_uid;
        p.container = c;
    }
    if (!w.pod.empty()) {
        PodInfo pod;
        pod.namespace_ = w.namespace_;
        pod.name = w.pod;
        pod.uid = w.pod_uid;
        pod.labels["app"] = w.pod;
        p.pod = pod;
    }
    return p;
}

inline Event make_event(uint64_t time_ns, EventKind kind, Action action, Relation relation,
                        const Who& source, const Who& target) {
    Event e;
    e.time_ns = time_ns;
    e.kind = kind;
    e.action = action;
    e.relation = relation;
    e.source = party(source);
    e.target = party(target);
    switch (kind) {
    case EventKind::Signal:
        e.detail = SignalDetail{1, PG_SYS_KILL, 0, 8, 0, "delivered", 1, false};
        break;
    case EventKind::Ptrace:
        e.detail = PtraceDetail{16, PG_SYS_PTRACE, 0, 8};
        break;
    default:
        e.detail =
            ProcAccessDetail{"/proc/8/root/etc/secret", "root", PG_SYS_OPENAT, 3, 8, -100, false};
    }
    AncestorInfo sh;
    sh.pid = source.pid ? source.pid - 1 : 0;
    sh.exe = "/bin/sh";
    sh.args = "sh -c cat /proc/8/root/etc/secret";
    e.ancestry.push_back(sh);
    return e;
}

// A busy pod's event, ~1 KiB of JSON like the real ones.
inline Event bulk_event(uint64_t i, uint64_t time_ns, unsigned pods = 50) {
    const unsigned pod = unsigned(i % pods);
    Who src{"ns" + std::to_string(pod % 5),
            "pod-" + std::to_string(pod),
            "uid-" + std::to_string(pod),
            std::string(60, 'a') + std::to_string(1000 + pod),
            "sidecar",
            uint32_t(10000 + pod * 10)};
    Who dst = src;
    dst.container_id = std::string(60, 'b') + std::to_string(1000 + pod);
    dst.container_name = "app";
    dst.pid = src.pid + 1;
    return make_event(time_ns, EventKind::ProcAccess, Action::Allowed, Relation::SamePod, src, dst);
}

// Plain sqlite3, as someone tampering with the file would use it.
inline void sql(const std::string& path, const std::string& statement) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK)
        throw std::runtime_error("cannot open " + path);
    char* msg = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &msg);
    std::string err = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    if (rc != SQLITE_OK)
        throw std::runtime_error(statement + ": " + err);
}

// One value read with plain sqlite3: as text ("" for NULL or no row).
inline std::string stored_text(const std::string& path, const std::string& query) {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

// A string as an SQL literal: quoted, its quotes doubled.
inline std::string sql_literal(std::string text) {
    for (size_t at = 0; (at = text.find('\'', at)) != std::string::npos; at += 2)
        text.insert(at, 1, '\'');
    return "'" + text + "'";
}

} // namespace podguard::store_test
