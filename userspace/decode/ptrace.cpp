#include "decode/decode.h"
#include "events/names.h"

namespace podguard {

Event decode_ptrace(const pg_ptrace_event& raw, const TimeBase& time) {
    Event e = decode_event_header(raw.hdr, EventKind::Ptrace, time);
    e.source = decode_party(raw.source, true);
    e.target = decode_party(raw.target, raw.hdr.flags & PG_F_TARGET_KNOWN);
    PtraceDetail d;
    d.request = raw.request;
    d.syscall = syscall_name(raw.hdr.syscall);
    d.result = raw.hdr.result;
    d.target_arg = raw.target_arg;
    e.detail = std::move(d);
    return e;
}

} // namespace podguard
