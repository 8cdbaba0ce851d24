#include <cstring>
#include <ctime>

#include "decode/decode.h"

namespace podguard {

TimeBase TimeBase::now() {
    struct timespec rt, bt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    TimeBase tb;
    tb.realtime_minus_boottime_ns =
        (int64_t(rt.tv_sec) - bt.tv_sec) * 1000000000ll + (int64_t(rt.tv_nsec) - bt.tv_nsec);
    return tb;
}

Party decode_party(const pg_task& t, bool known) {
    Party p;
    p.known = known;
    if (!known)
        return p;
    p.pid = t.pid;
    p.tid = t.tid;
    p.ns_pid = t.ns_pid;
    p.ns_tid = t.ns_tid;
    p.uid = t.uid;
    p.euid = t.euid;
    p.pidns = t.pidns;
    p.mntns = t.mntns;
    p.cgroup_id = t.cgroup_id;
    p.start_ns = t.start_ns;
    p.ppid = t.ppid;
    p.comm.assign(t.comm, strnlen(t.comm, sizeof(t.comm)));
    return p;
}

Action decode_action(uint8_t action) {
    switch (action) {
    case PG_ACT_AUDITED:
        return Action::Audited;
    case PG_ACT_BLOCKED:
        return Action::Blocked;
    case PG_ACT_KILLED:
        return Action::Killed;
    default:
        return Action::Allowed;
    }
}

namespace {

template <class Raw> bool fits(size_t size) {
    return size >= sizeof(Raw);
}

} // namespace

Event decode_event_header(const pg_header& h, EventKind kind, const TimeBase& time) {
    Event e;
    e.time_ns = time.to_realtime(h.time_ns);
    e.kind = kind;
    e.action = decode_action(h.action);
    e.policy_rule = h.policy_rule;
    e.summary = h.flags & PG_F_SUMMARY;
    e.first_occurrence = h.flags & PG_F_FIRST;
    if (e.summary) {
        e.count = h.count;
        e.first_time_ns = time.to_realtime(h.first_ns);
    }
    e.unidentified = (h.flags & PG_F_UNIDENTIFIED) != 0;
    return e;
}

Result<Event> decode_record(const void* data, size_t size, const TimeBase& time) {
    if (size < sizeof(pg_header))
        return make_error("short ring buffer record of " + std::to_string(size) + " bytes");
    pg_header h;
    memcpy(&h, data, sizeof(h));
    auto too_short = [&](const char* what) {
        return make_error(std::string("truncated ") + what + " record of " + std::to_string(size) +
                          " bytes");
    };
    switch (h.kind) {
    case PG_EV_SIGNAL:
        if (!fits<pg_signal_event>(size))
            return too_short("signal");
        return decode_signal(*static_cast<const pg_signal_event*>(data), time);
    case PG_EV_PTRACE:
        if (!fits<pg_ptrace_event>(size))
            return too_short("ptrace");
        return decode_ptrace(*static_cast<const pg_ptrace_event*>(data), time);
    case PG_EV_PROC_ACCESS:
        if (!fits<pg_proc_access_event>(size))
            return too_short("proc_access");
        return decode_proc_access(*static_cast<const pg_proc_access_event*>(data), time);
    case PG_EV_FORK:
    case PG_EV_EXEC:
    case PG_EV_EXIT:
        if (!fits<pg_process_event>(size))
            return too_short("process");
        return decode_process(*static_cast<const pg_process_event*>(data), time);
    default:
        return make_error("unknown event kind " + std::to_string(h.kind));
    }
}

} // namespace podguard
