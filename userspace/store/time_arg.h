// Time arguments of `podguard events`: RFC 3339 ("2026-11-23T03:12:00Z",
// fractions, offsets, a space for the T), a date ("2026-11-23", midnight
// UTC), "now", or an age before now ("10m", "2h", "1h30m", "90s", "7d").
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace podguard {

// CLOCK_REALTIME ns.
Result<uint64_t> parse_time_arg(std::string_view text, uint64_t now_ns);
// "10m" -> ns; units ns, us, ms, s, m, h, d, w, combinable ("1h30m").
Result<uint64_t> parse_duration_ns(std::string_view text);

} // namespace podguard
