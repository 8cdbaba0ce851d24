// The compiled policy: one flat, ordered rule table the kernel can walk
// first-match, with every test a bitmask AND or a selector-id lookup.
//
// Kernel plan: rule i (id i+1) matches an operation when
//   (op_kinds  & 1 << kind)
//   && (kind-mask & the operation's bit)       signals / ptrace / proc_entries
//   && (relations & 1 << relation)
//   && source party has source_selector, target party has target_selector
// and the first match's action and id decide; no match = allow, rule id 0.
// Selectors are predicates over {namespace, pod, pod labels, container name}
// (container level: resolve per cgroup in user space when a container appears)
// and {binary, agent} (process level: per exec / per pid). Selector 0 matches
// every party.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/load.h"
#include "policy/names.h"

namespace podguard::policy {

inline constexpr size_t kMaxCompiledRules = 1024;
inline constexpr size_t kMaxSelectors = 1024;

enum class SelectorField : uint8_t {
    Namespace = 0, // container level
    Pod = 1,
    PodLabel = 2,
    Container = 3,
    Binary = 4, // process level
    Agent = 5,
};

struct Pattern {
    uint32_t str = 0; // interned id of `text`
    std::string text; // exact value, or the prefix when `prefix`
    bool prefix = false;
};

// True when any pattern matches the party's value for `field` (and, for
// PodLabel, the label named `key` exists). Agent clauses have no patterns:
// true when the party is the agent, inverted by `negate` (agent: false).
struct Clause {
    SelectorField field = SelectorField::Namespace;
    uint32_t key = 0; // PodLabel: interned label key
    std::string key_text;
    std::vector<Pattern> any_of;
    bool negate = false;
};

// A conjunction of clauses; no clauses = every party.
struct Selector {
    uint32_t id = 0;
    std::vector<Clause> clauses;
    bool process_level = false; // has a Binary or Agent clause
};

struct CompiledRule {
    uint32_t id = 0;  // 1..N, = index + 1, reported in pg_header.policy_rule
    std::string name; // "<policy>/<rule>", "<policy>/default" for defaultAction
    std::string policy;
    PolicyAction action = PolicyAction::Allow;
    std::string severity;      // as written, or by action (severity_of)
    uint8_t op_kinds = 0;      // bit = OperationKind
    uint64_t signals = 0;      // bit n-1 = signal n (signal_bit)
    uint64_t ptrace = 0;       // bit = ptrace_request_bit / kPtraceBitProcessVm*
    uint64_t proc_entries = 0; // bit = enum pg_proc_entry
    uint8_t relations = 0;     // bit = Relation
    uint32_t source_selector = 0;
    uint32_t target_selector = 0;
    // For a side not identified yet (spec.unidentified, else the global default).
    Posture unidentified = Posture::Closed;
    std::string origin; // "file:line" of the rule, for messages only
};

struct CompiledPolicy {
    std::vector<std::string> strings;  // interned; strings[0] = ""
    std::vector<Selector> selectors;   // selectors[i].id == i; [0] = match all
    std::vector<CompiledRule> rules;   // first match wins
    std::vector<std::string> policies; // policy names in precedence order
    uint64_t fingerprint = 0;          // FNV-1a 64 of everything above but origins
    std::string fingerprint_hex() const;
};

struct CompileOptions {
    bool self_protection = true; // prepend the built-in podguard-self-protection policy
    // Posture of policies that do not set spec.unidentified (podguard run --unidentified).
    Posture unidentified = Posture::Closed;
};

Result<CompiledPolicy> compile(const PolicySet& set, const CompileOptions& options = {});

// The built-in self-protection policy's YAML and its parsed document.
std::string_view self_protection_yaml();
Result<PolicyDocument> self_protection_policy();

} // namespace podguard::policy
