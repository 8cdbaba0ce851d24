// One event as one JSON object on one line (the event contract of the
// README). Written by hand with fmt rather than through a DOM: it is on the
// hot path of every event.
#pragma once

#include <string>

#include "events/event.h"

namespace podguard {

// Appends the event's JSON (no trailing newline) to out.
void append_event_json(const Event& event, std::string& out);
std::string event_to_json(const Event& event);
// The event's JSON, rendered on the first call and kept in the event: the
// stream and the store share one rendering.
const std::string& event_json(const Event& event);

// One entry of the event's "ancestry" array, as append_event_json writes it
// (the store keeps each process's entry once: store/process_records.h).
void append_ancestor_json(const AncestorInfo& ancestor, std::string& out);

// RFC 3339, UTC, nanoseconds: 2026-11-23T13:45:56.123456789Z
std::string format_rfc3339_ns(uint64_t realtime_ns);

// JSON string body: escapes, and replaces invalid UTF-8 with U+FFFD (comm
// and paths are bytes, not text).
void append_json_string(std::string_view in, std::string& out);

} // namespace podguard
