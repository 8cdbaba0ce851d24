// YAML text -> PolicyDocument structs. Reports what only the YAML shows
// (syntax, unknown fields, wrong types, duplicate keys); validate() checks the
// meaning. Never throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"

namespace podguard::policy {

// Values (keys, list items, scalars) one file may hold, counting repeats
// through aliases.
inline constexpr size_t kMaxValues = 200000;

struct ParseOutput {
    std::vector<PolicyDocument> documents; // empty YAML documents are skipped
    std::vector<Diagnostic> diagnostics;
};

// One file's text, one or many documents separated by '---'. `file` only
// labels diagnostics.
ParseOutput parse_documents(std::string_view text, const std::string& file);

} // namespace podguard::policy
