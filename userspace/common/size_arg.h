// Byte sizes on the command line: "1048576", "512K"/"512KiB", "100M", "2G"
// (binary units). "0" is allowed (callers read it as "no bound").
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace podguard {

Result<uint64_t> parse_byte_size(std::string_view text);

} // namespace podguard
