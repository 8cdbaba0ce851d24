#include "policy/evaluate.h"

#include "podguard.h"

namespace podguard::policy {
namespace {

bool pattern_matches(const Pattern& p, const std::string& value) {
    if (p.prefix)
        return value.compare(0, p.text.size(), p.text) == 0;
    return value == p.text;
}

bool any_matches(const Clause& c, const std::string& value) {
    for (const auto& p : c.any_of)
        if (pattern_matches(p, value))
            return true;
    return false;
}

bool clause_holds(const Clause& c, const PartyFacts& party) {
    switch (c.field) {
    case SelectorField::Namespace:
        return party.in_container && any_matches(c, party.namespace_);
    case SelectorField::Pod:
        return party.in_container && any_matches(c, party.pod);
    case SelectorField::Container:
        return party.in_container && any_matches(c, party.container);
    case SelectorField::PodLabel: {
        if (!party.in_container)
            return false;
        auto it = party.pod_labels.find(c.key_text);
        return it != party.pod_labels.end() && any_matches(c, it->second);
    }
    case SelectorField::Binary:
        return any_matches(c, party.binary);
    case SelectorField::Agent:
        return party.is_agent != c.negate;
    }
    return false;
}

bool process_level(SelectorField f) {
    return f == SelectorField::Binary || f == SelectorField::Agent;
}

} // namespace

bool matches(const Selector& selector, const PartyFacts& party) {
    for (const auto& c : selector.clauses)
        if (!clause_holds(c, party))
            return false;
    return true;
}

bool matches_container(const Selector& selector, const PartyFacts& party) {
    for (const auto& c : selector.clauses)
        if (!process_level(c.field) && !clause_holds(c, party))
            return false;
    return true;
}

uint64_t operation_bit(const OperationFacts& op) {
    switch (op.kind) {
    case OperationKind::Signal:
        return signal_bit(op.signal);
    case OperationKind::Ptrace:
        switch (op.via) {
        case PtraceVia::Ptrace:
            return 1ULL << ptrace_request_bit(op.ptrace_request);
        case PtraceVia::ProcessVmReadv:
            return 1ULL << kPtraceBitProcessVmReadv;
        case PtraceVia::ProcessVmWritev:
            return 1ULL << kPtraceBitProcessVmWritev;
        }
        return 0;
    case OperationKind::ProcAccess:
        return op.proc_entry >= 0 && op.proc_entry < PG_PROC_ENTRY_MAX ? 1ULL << op.proc_entry : 0;
    }
    return 0;
}

bool rule_matches(const CompiledPolicy& policy, const CompiledRule& rule,
                  const OperationFacts& op) {
    if (!(rule.op_kinds & (1u << static_cast<int>(op.kind))))
        return false;
    uint64_t mask = op.kind == OperationKind::Signal   ? rule.signals
                    : op.kind == OperationKind::Ptrace ? rule.ptrace
                                                       : rule.proc_entries;
    if (!(mask & operation_bit(op)))
        return false;
    if (!(rule.relations & (1u << static_cast<int>(op.relation))))
        return false;
    if (rule.source_selector >= policy.selectors.size() ||
        rule.target_selector >= policy.selectors.size())
        return false;
    return matches(policy.selectors[rule.source_selector], op.source) &&
           matches(policy.selectors[rule.target_selector], op.target);
}

Decision decide(const CompiledPolicy& policy, const OperationFacts& op) {
    for (const auto& rule : policy.rules)
        if (rule_matches(policy, rule, op))
            return Decision{rule.action, rule.id, rule.name};
    return Decision{};
}

PartyFacts party_facts(const Party& party, uint32_t agent_pid) {
    PartyFacts f;
    f.in_container = party.container.has_value();
    f.is_agent = agent_pid != 0 && party.pid == agent_pid;
    f.binary = party.exe;
    if (party.container)
        f.container = party.container->name;
    if (party.pod) {
        f.namespace_ = party.pod->namespace_;
        f.pod = party.pod->name;
        f.pod_labels = party.pod->labels;
    }
    return f;
}

std::optional<OperationFacts> operation_facts(const Event& event, uint32_t agent_pid) {
    OperationFacts op;
    op.relation = event.relation;
    op.source = party_facts(event.source, agent_pid);
    op.target = party_facts(event.target, agent_pid);
    switch (event.kind) {
    case EventKind::Signal: {
        const auto* d = std::get_if<SignalDetail>(&event.detail);
        if (!d)
            return std::nullopt;
        op.kind = OperationKind::Signal;
        op.signal = d->number;
        return op;
    }
    case EventKind::Ptrace: {
        const auto* d = std::get_if<PtraceDetail>(&event.detail);
        if (!d)
            return std::nullopt;
        op.kind = OperationKind::Ptrace;
        op.ptrace_request = d->request;
        if (d->syscall == PG_SYS_PROCESS_VM_READV)
            op.via = PtraceVia::ProcessVmReadv;
        else if (d->syscall == PG_SYS_PROCESS_VM_WRITEV)
            op.via = PtraceVia::ProcessVmWritev;
        return op;
    }
    case EventKind::ProcAccess: {
        const auto* d = std::get_if<ProcAccessDetail>(&event.detail);
        if (!d)
            return std::nullopt;
        op.kind = OperationKind::ProcAccess;
        op.proc_entry = parse_proc_entry(d->entry).value_or(PG_PROC_NONE);
        return op;
    }
    default:
        return std::nullopt;
    }
}

} // namespace podguard::policy
