// Ring buffer record -> Event. One decoder per event kind, named after it;
// nothing past decode/ reads a kernel record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "events/event.h"
#include "podguard.h"

namespace podguard {

// Kernel timestamps are CLOCK_BOOTTIME; events carry wall-clock time.
struct TimeBase {
    int64_t realtime_minus_boottime_ns = 0;
    static TimeBase now();
    uint64_t to_realtime(uint64_t boot_ns) const {
        return uint64_t(int64_t(boot_ns) + realtime_minus_boottime_ns);
    }
    uint64_t to_boottime(uint64_t realtime_ns) const {
        return uint64_t(int64_t(realtime_ns) - realtime_minus_boottime_ns);
    }
};

Party decode_party(const pg_task& task, bool known);
Event decode_event_header(const pg_header& header, EventKind kind, const TimeBase& time);

// The head every act record shares (struct pg_act_head): header, source,
// and the target when the kernel knew it.
template <class Act> Event decode_act_head(const Act& raw, EventKind kind, const TimeBase& time) {
    Event e = decode_event_header(raw.hdr, kind, time);
    e.source = decode_party(raw.source, true);
    e.target = decode_party(raw.target, raw.hdr.flags & PG_F_TARGET_KNOWN);
    return e;
}

Event decode_signal(const pg_signal_event& raw, const TimeBase& time);
Event decode_ptrace(const pg_ptrace_event& raw, const TimeBase& time);
Event decode_proc_access(const pg_proc_access_event& raw, const TimeBase& time);
Event decode_process(const pg_process_event& raw, const TimeBase& time);

// Checks kind and size before reading: a short or unknown record is an error.
Result<Event> decode_record(const void* data, size_t size, const TimeBase& time);

Action decode_action(uint8_t action);

} // namespace podguard
