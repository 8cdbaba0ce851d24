#include "decode/decode.h"
#include "events/names.h"

namespace podguard {

Event decode_signal(const pg_signal_event& raw, const TimeBase& time) {
    Event e = decode_act_head(raw, EventKind::Signal, time);
    SignalDetail d;
    d.number = raw.sig;
    d.syscall = static_cast<pg_syscall>(raw.hdr.syscall);
    d.result = raw.hdr.result;
    d.target_arg = raw.target_arg;
    d.tid_arg = raw.tid_arg;
    d.delivery = delivery_name(raw.delivery);
    d.ntargets = raw.ntargets;
    d.extra_target = raw.hdr.flags & PG_F_EXTRA_TARGET;
    e.detail = std::move(d);
    return e;
}

} // namespace podguard
