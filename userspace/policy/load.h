// Files -> a validated, ordered PolicySet. All or nothing: one broken file
// fails the whole load, so a daemon can keep the policy it already enforces.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/model.h"

namespace podguard::policy {

// Validated documents in precedence order: spec.priority descending (default
// 0), then metadata.name ascending (byte order). Rules keep their order.
struct PolicySet {
    std::vector<PolicyDocument> policies;
    std::vector<std::string> files; // what was read, in order
};

inline constexpr size_t kMaxPolicyFileBytes = 4 << 20;
inline constexpr size_t kMaxDiagnostics = 1000; // reported; the rest is cut

// Where a load's time went (wall clock, milliseconds), for the reload
// benchmark and logs.
struct LoadProfile {
    double read_ms = 0;     // files (and directories) to text
    double parse_ms = 0;    // YAML text to documents
    double validate_ms = 0; // documents checked, ordered
};

// Each path is a file, or a directory whose *.yaml / *.yml entries (not
// recursive, hidden names skipped, sorted) are read. On failure the Error's
// message holds every diagnostic formatted one per line; `diagnostics`, when
// given, receives them as structs (sorted by file, line, column); `profile`,
// when given, the time each phase took.
Result<PolicySet> load_policies(const std::vector<std::string>& paths,
                                std::vector<Diagnostic>* diagnostics = nullptr,
                                LoadProfile* profile = nullptr);

// The same from text already in memory; `file` labels diagnostics.
Result<PolicySet> load_policy_text(std::string_view text, const std::string& file,
                                   std::vector<Diagnostic>* diagnostics = nullptr);

// deploy/policies/default.yaml as embedded in the binary.
std::string_view default_policy_yaml();
Result<PolicySet> load_default_policy();

// Orders documents by precedence (what load_policies does).
void sort_by_precedence(std::vector<PolicyDocument>& docs);

} // namespace podguard::policy
