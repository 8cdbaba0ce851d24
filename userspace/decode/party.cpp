#include <array>
#include <cstring>
#include <ctime>

#include "decode/decode.h"
#include "events/kinds.h"

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
    if (h.flags & PG_F_STACKS)
        e.stack_ids = Event::StackIds{h.user_stack_id, h.kernel_stack_id};
    return e;
}

namespace {

// One decoder per row of events/kinds.h, in its order.
struct KindDecoder {
    size_t record_size;
    Event (*decode)(const void* record, const TimeBase& time);
};

template <class Raw, Event (*Decode)(const Raw&, const TimeBase&)>
Event decode_as(const void* record, const TimeBase& time) {
    return Decode(*static_cast<const Raw*>(record), time);
}

constexpr std::array<KindDecoder, kEventKinds.size()> kDecoders{{
    {sizeof(pg_signal_event), decode_as<pg_signal_event, decode_signal>},
    {sizeof(pg_ptrace_event), decode_as<pg_ptrace_event, decode_ptrace>},
    {sizeof(pg_proc_access_event), decode_as<pg_proc_access_event, decode_proc_access>},
    {sizeof(pg_process_event), decode_as<pg_process_event, decode_process>}, // fork
    {sizeof(pg_process_event), decode_as<pg_process_event, decode_process>}, // exec
    {sizeof(pg_process_event), decode_as<pg_process_event, decode_process>}, // exit
}};

} // namespace

Result<Event> decode_record(const void* data, size_t size, const TimeBase& time) {
    if (size < sizeof(pg_header))
        return make_error("short ring buffer record of " + std::to_string(size) + " bytes");
    pg_header h;
    memcpy(&h, data, sizeof(h));
    auto too_short = [&](const char* what) {
        return make_error(std::string("truncated ") + what + " record of " + std::to_string(size) +
                          " bytes");
    };
    const EventKindInfo* info = kind_from_wire(h.kind);
    if (!info)
        return make_error("unknown event kind " + std::to_string(h.kind));
    const KindDecoder& decoder = kDecoders[static_cast<size_t>(info->kind)];
    if (size < decoder.record_size)
        return too_short(info->name);
    return decoder.decode(data, time);
}

} // namespace podguard
