#include <cstring>

#include "decode/decode.h"
#include "events/kinds.h"

namespace podguard {

Event decode_process(const pg_process_event& raw, const TimeBase& time) {
    const EventKindInfo* info = kind_from_wire(raw.hdr.kind);
    EventKind kind = info && is_lifecycle(info->kind) ? info->kind : EventKind::Exit;
    Event e = decode_event_header(raw.hdr, kind, time);
    e.source = decode_party(raw.task, true);
    ProcessDetail d;
    d.filename.assign(raw.filename, strnlen(raw.filename, std::min<size_t>(raw.filename_len + 1,
                                                                           sizeof(raw.filename))));
    size_t n = std::min<size_t>(raw.args_len, sizeof(raw.args));
    d.args.assign(raw.args, n);
    while (!d.args.empty() && d.args.back() == '\0')
        d.args.pop_back();
    for (auto& c : d.args)
        if (c == '\0')
            c = ' ';
    d.exit_code = raw.exit_code;
    e.detail = std::move(d);
    return e;
}

} // namespace podguard
