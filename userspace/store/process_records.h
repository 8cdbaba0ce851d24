// Process records: an event's ancestry stored once per process instead of in
// every event (the same shell, runtime and host init come back in event after
// event, and their command lines were most of a stored row). The event's row
// keeps its JSON without the "ancestry" member, the byte where it was cut and
// the process rows it refers to; a query splices the member back, byte for
// byte the stream's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"
#include "store/record.h"

namespace podguard {

// The record of one ancestor, shared by every event of this thread that
// names the same process with the same exe, args and container.
ProcessRef process_entry(const AncestorInfo& ancestor);

// Moves the "ancestry" member of the rendered JSON into process records:
// record.json becomes the rest, record.ancestry_at where it was. When the
// JSON does not hold exactly what the entries render (never expected), it
// stays whole and record.ancestry empty: the store then keeps the event as
// the stream has it.
void cut_ancestry(const Event& event, const std::string& json, StoreRecord& record);

// record.json with its ancestry member put back.
std::string splice_ancestry(const StoreRecord& record);

// Process row ids as an event row's `ancestry` BLOB (8 bytes each, big-endian).
std::string encode_process_ids(const std::vector<int64_t>& ids);
// False when the BLOB is not a whole number of ids.
bool decode_process_ids(const void* data, int size, std::vector<int64_t>& out);

} // namespace podguard
