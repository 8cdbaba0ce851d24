// Rules that can never fire: an earlier rule (first match wins) matches
// every operation the later one does, for every source and target it covers.
// Only single-rule cover is found (several earlier rules that together cover
// a later one are not), so every report is certain.
#pragma once

#include <string>
#include <vector>

#include "policy/compiled.h"

namespace podguard::policy {

struct ShadowedRule {
    std::string rule;        // "<policy>/<rule>"
    std::string rule_origin; // file:line
    std::string by;          // the earlier rule
    std::string by_origin;
};

std::vector<ShadowedRule> find_shadowed(const CompiledPolicy& policy);

// "warning: <rule> (<origin>) can never fire: <by> (<origin>) comes first and
// matches everything it does"
std::string format(const ShadowedRule& s);

} // namespace podguard::policy
