#include "common/size_arg.h"

#include <charconv>
#include <string>

namespace podguard {

Result<uint64_t> parse_byte_size(std::string_view text) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end == text.data())
        return make_error("'" + std::string(text) + "' is not a size (e.g. 100M)");
    std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
    int shift = 0;
    if (unit == "K" || unit == "KiB")
        shift = 10;
    else if (unit == "M" || unit == "MiB")
        shift = 20;
    else if (unit == "G" || unit == "GiB")
        shift = 30;
    else if (!unit.empty())
        return make_error("unknown size unit '" + std::string(unit) + "' (K, M, G)");
    if (shift && v > (UINT64_MAX >> shift))
        return make_error("'" + std::string(text) + "' is too large");
    return v << shift;
}

} // namespace podguard
