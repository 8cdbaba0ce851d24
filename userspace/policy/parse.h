// YAML text -> PolicyDocument structs. Reports what only the YAML shows
// (syntax, unknown fields, wrong types, duplicate keys); validate() checks the
// meaning. Never throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"

namespace podguard::policy {

struct ParseOutput {
    std::vector<PolicyDocument> documents; // empty YAML documents are skipped
    std::vector<Diagnostic> diagnostics;
};

// One file's text, one or many documents separated by '---'. `file` only
// labels diagnostics.
ParseOutput parse_documents(std::string_view text, const std::string& file);

} // namespace podguard::policy
