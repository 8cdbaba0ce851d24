// Defensive accessors for JSON from other programs: a missing field or one of
// an unexpected type reads as empty instead of throwing.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace podguard::metadata::safe_json {

using nlohmann::json;

inline const json* field(const json& j, std::string_view key) {
    if (!j.is_object())
        return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

inline const json& object(const json& j, std::string_view key) {
    static const json empty = json::object();
    const json* f = field(j, key);
    return f && f->is_object() ? *f : empty;
}

inline const json& array(const json& j, std::string_view key) {
    static const json empty = json::array();
    const json* f = field(j, key);
    return f && f->is_array() ? *f : empty;
}

inline std::string string(const json& j, std::string_view key) {
    const json* f = field(j, key);
    return f && f->is_string() ? f->get<std::string>() : std::string();
}

inline long long integer(const json& j, std::string_view key, long long fallback = 0) {
    const json* f = field(j, key);
    return f && f->is_number_integer() ? f->get<long long>() : fallback;
}

inline bool boolean(const json& j, std::string_view key) {
    const json* f = field(j, key);
    return f && f->is_boolean() && f->get<bool>();
}

// String-to-string members of an object; non-string values are skipped.
// At most max_entries are kept; *total gets how many string members there were.
inline std::map<std::string, std::string> string_map(const json& j, std::string_view key,
                                                     size_t max_entries, size_t* total = nullptr) {
    std::map<std::string, std::string> out;
    size_t n = 0;
    for (const auto& [k, v] : object(j, key).items()) {
        if (!v.is_string())
            continue;
        ++n;
        if (out.size() < max_entries)
            out.emplace(k, v.get<std::string>());
    }
    if (total)
        *total = n;
    return out;
}

} // namespace podguard::metadata::safe_json
