// The table of event kinds: one row per kind, read wherever a kind's
// properties are needed (its name in JSON and metrics, its number on the
// wire, whether it is an act of one process on another), so that a new kind
// is a row here, an enumerator, a detail type and its decoder
// (decode/party.cpp's table), not a hunt through switches.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "events/event.h"
#include "podguard.h"

namespace podguard {

struct EventKindInfo {
    EventKind kind;
    uint16_t wire;    // enum pg_event_kind
    const char* name; // "kind" in JSON, the kind label of metrics
    // One process acting on another (a target, a relation, a policy
    // decision); otherwise a lifecycle event of the source alone.
    bool act;
};

inline constexpr std::array<EventKindInfo, 6> kEventKinds{{
    {EventKind::Signal, PG_EV_SIGNAL, "signal", true},
    {EventKind::Ptrace, PG_EV_PTRACE, "ptrace", true},
    {EventKind::ProcAccess, PG_EV_PROC_ACCESS, "proc_access", true},
    {EventKind::Fork, PG_EV_FORK, "fork", false},
    {EventKind::Exec, PG_EV_EXEC, "exec", false},
    {EventKind::Exit, PG_EV_EXIT, "exit", false},
}};

// The acts come first: policy decisions are counted for the first kActKinds.
inline constexpr std::size_t kActKinds = 3;

// Rows are in EventKind order, acts first, every wire number in range.
constexpr bool event_kinds_in_order() {
    for (std::size_t i = 0; i < kEventKinds.size(); ++i)
        if (static_cast<std::size_t>(kEventKinds[i].kind) != i ||
            kEventKinds[i].wire >= PG_EV_KIND_MAX || kEventKinds[i].act != (i < kActKinds))
            return false;
    return true;
}
static_assert(event_kinds_in_order());
static_assert(kEventKinds.size() == PG_EV_KIND_MAX - 1);

constexpr const EventKindInfo& kind_info(EventKind kind) {
    return kEventKinds[static_cast<std::size_t>(kind)];
}

// nullptr: not a kind this build knows.
constexpr const EventKindInfo* kind_from_wire(uint16_t wire) {
    for (const auto& info : kEventKinds)
        if (info.wire == wire)
            return &info;
    return nullptr;
}

// Fork, exec or exit: the source's own life, no target.
constexpr bool is_lifecycle(EventKind kind) {
    return !kind_info(kind).act;
}

} // namespace podguard
