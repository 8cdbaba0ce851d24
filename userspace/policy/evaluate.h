// The reference evaluator: what the kernel must decide, computed in user
// space from the compiled table. Used by tests and by audit accounting.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "events/event.h"
#include "policy/compiled.h"

namespace podguard::policy {

// What is known about one side of an operation.
struct PartyFacts {
    bool in_container = false; // false: a host process (container fields unused)
    bool is_agent = false;     // the podguard agent itself
    std::string namespace_;
    std::string pod;
    std::map<std::string, std::string> pod_labels;
    std::string container; // container name as Kubernetes names it (not <pod>-<name>)
    std::string binary;    // executable path
};

enum class PtraceVia : uint8_t { Ptrace, ProcessVmReadv, ProcessVmWritev };

struct OperationFacts {
    OperationKind kind = OperationKind::Signal;
    int signal = 0;             // Signal
    int64_t ptrace_request = 0; // Ptrace with via == Ptrace
    PtraceVia via = PtraceVia::Ptrace;
    int proc_entry = 0; // ProcAccess: enum pg_proc_entry
    Relation relation = Relation::Host;
    PartyFacts source;
    PartyFacts target;
};

struct Decision {
    PolicyAction action = PolicyAction::Allow;
    uint32_t rule_id = 0;  // 0: no rule matched (allow)
    std::string rule_name; // "" when rule_id == 0
};

// Every clause holds for the party.
bool matches(const Selector& selector, const PartyFacts& party);
// Only the container-level clauses (namespace, pod, labels, container): what a
// per-cgroup resolution can know before any process runs.
bool matches_container(const Selector& selector, const PartyFacts& party);

// The bit an operation sets in the rule's mask for its kind (0: matches nothing).
uint64_t operation_bit(const OperationFacts& op);
bool rule_matches(const CompiledPolicy& policy, const CompiledRule& rule, const OperationFacts& op);
Decision decide(const CompiledPolicy& policy, const OperationFacts& op);

// From the pipeline's Event (signal, ptrace and proc access kinds only).
PartyFacts party_facts(const Party& party, uint32_t agent_pid);
std::optional<OperationFacts> operation_facts(const Event& event, uint32_t agent_pid);

} // namespace podguard::policy
