#include "store/time_arg.h"

#include <cctype>
#include <ctime>
#include <string>

namespace podguard {

namespace {

bool digits(std::string_view s, size_t at, size_t n, int& out) {
    if (at + n > s.size())
        return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

Result<uint64_t> parse_rfc3339(std::string_view s) {
    auto bad = [&] {
        return make_error("'" + std::string(s) +
                          "' is not a time: use RFC 3339 (2026-11-23T03:12:00Z) or an age "
                          "(10m, 2h)");
    };
    struct tm tm {};
    int year, mon, day;
    if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mon) ||
        s[7] != '-' || !digits(s, 8, 2, day))
        return bad();
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    uint64_t frac_ns = 0;
    int64_t offset_s = 0;
    size_t i = 10;
    if (i < s.size()) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return bad();
        int hh, mm, ss = 0;
        if (!digits(s, i + 1, 2, hh) || i + 3 >= s.size() || s[i + 3] != ':' ||
            !digits(s, i + 4, 2, mm))
            return bad();
        i += 6;
        if (i < s.size() && s[i] == ':') {
            if (!digits(s, i + 1, 2, ss))
                return bad();
            i += 3;
        }
        if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
            ++i;
            uint64_t scale = 100000000;
            size_t start = i;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
                frac_ns += uint64_t(s[i] - '0') * scale;
                scale /= 10;
                ++i;
            }
            if (i == start)
                return bad();
        }
        if (hh > 23 || mm > 59 || ss > 60)
            return bad();
        tm.tm_hour = hh;
        tm.tm_min = mm;
        tm.tm_sec = ss;
        if (i < s.size()) {
            if (s[i] == 'Z' || s[i] == 'z') {
                ++i;
            } else if (s[i] == '+' || s[i] == '-') {
                int oh, om;
                if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
                    !digits(s, i + 4, 2, om))
                    return bad();
                offset_s = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
                i += 6;
            }
        }
        if (i != s.size())
            return bad();
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31)
        return bad();
    time_t secs = timegm(&tm);
    int64_t t = int64_t(secs) - offset_s;
    if (t < 0)
        return bad();
    return uint64_t(t) * 1000000000ull + frac_ns;
}

} // namespace

Result<uint64_t> parse_duration_ns(std::string_view s) {
    auto bad = [&] {
        return make_error("'" + std::string(s) +
                          "' is not a duration (e.g. 90s, 10m, 2h, 1h30m, 7d)");
    };
    if (s.empty())
        return bad();
    uint64_t total = 0;
    size_t i = 0;
    while (i < s.size()) {
        size_t start = i;
        uint64_t n = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            n = n * 10 + uint64_t(s[i] - '0');
            if (n > (1ull << 40))
                return bad();
            ++i;
        }
        if (i == start)
            return bad();
        size_t unit_start = i;
        while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])))
            ++i;
        std::string_view unit = s.substr(unit_start, i - unit_start);
        uint64_t mult;
        if (unit == "ns")
            mult = 1;
        else if (unit == "us")
            mult = 1000;
        else if (unit == "ms")
            mult = 1000000;
        else if (unit == "s")
            mult = 1000000000ull;
        else if (unit == "m")
            mult = 60ull * 1000000000ull;
        else if (unit == "h")
            mult = 3600ull * 1000000000ull;
        else if (unit == "d")
            mult = 86400ull * 1000000000ull;
        else if (unit == "w")
            mult = 7ull * 86400ull * 1000000000ull;
        else
            return bad();
        total += n * mult;
    }
    return total;
}

Result<uint64_t> parse_time_arg(std::string_view text, uint64_t now_ns) {
    if (text == "now")
        return now_ns;
    // An age: digits then a unit letter, never a date's "-" or ":".
    if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) &&
        text.find_first_of("-:") == std::string_view::npos) {
        auto d = parse_duration_ns(text);
        if (!d.ok())
            return d.error();
        return *d > now_ns ? 0 : now_ns - *d;
    }
    return parse_rfc3339(text);
}

} // namespace podguard
