#include <cstring>

#include "decode/decode.h"
#include "events/names.h"

namespace podguard {

Event decode_proc_access(const pg_proc_access_event& raw, const TimeBase& time) {
    Event e = decode_event_header(raw.hdr, EventKind::ProcAccess, time);
    e.source = decode_party(raw.source, true);
    e.target = decode_party(raw.target, raw.hdr.flags & PG_F_TARGET_KNOWN);
    ProcAccessDetail d;
    d.path.assign(raw.path, strnlen(raw.path, std::min<size_t>(raw.path_len, sizeof(raw.path))));
    d.entry = proc_entry_name(raw.entry);
    d.syscall = syscall_name(raw.hdr.syscall);
    d.result = raw.hdr.result;
    d.target_arg = raw.target_arg;
    d.dirfd = raw.dirfd;
    d.truncated = raw.hdr.flags & PG_F_PATH_TRUNCATED;
    d.read_at_exit = raw.hdr.flags & PG_F_READ_AT_EXIT;
    d.by_object = raw.hdr.flags & PG_F_BY_OBJECT;
    e.detail = std::move(d);
    return e;
}

} // namespace podguard
