#include <cstring>

#include "decode/decode.h"
#include "events/names.h"

namespace podguard {

Event decode_proc_access(const pg_proc_access_event& raw, const TimeBase& time) {
    Event e = decode_act_head(raw, EventKind::ProcAccess, time);
    ProcAccessDetail d;
    d.path.assign(raw.path, strnlen(raw.path, std::min<size_t>(raw.path_len, sizeof(raw.path))));
    d.entry = proc_entry_name(raw.entry);
    d.syscall = static_cast<pg_syscall>(raw.hdr.syscall);
    d.result = raw.hdr.result;
    d.target_arg = raw.target_arg;
    d.dirfd = raw.dirfd;
    d.truncated = raw.hdr.flags & PG_F_PATH_TRUNCATED;
    d.read_at_exit = raw.hdr.flags & PG_F_READ_AT_EXIT;
    d.by_object = raw.hdr.flags & PG_F_BY_OBJECT;
    d.relative = raw.hdr.flags & PG_F_PATH_RELATIVE;
    e.detail = std::move(d);
    return e;
}

} // namespace podguard
