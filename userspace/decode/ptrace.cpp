#include "decode/decode.h"

namespace podguard {

Event decode_ptrace(const pg_ptrace_event& raw, const TimeBase& time) {
    Event e = decode_act_head(raw, EventKind::Ptrace, time);
    PtraceDetail d;
    d.request = raw.request;
    d.syscall = static_cast<pg_syscall>(raw.hdr.syscall);
    d.result = raw.hdr.result;
    d.target_arg = raw.target_arg;
    e.detail = std::move(d);
    return e;
}

} // namespace podguard
