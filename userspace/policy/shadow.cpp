#include "policy/shadow.h"

namespace podguard::policy {

namespace {

bool covers(const Pattern& wide, const Pattern& narrow) {
    if (!wide.prefix)
        return !narrow.prefix && wide.text == narrow.text;
    return narrow.text.compare(0, wide.text.size(), wide.text) == 0;
}

// Clause `wide` holds whenever clause `narrow` does.
bool implies(const Clause& narrow, const Clause& wide) {
    if (narrow.field != wide.field || narrow.key_text != wide.key_text ||
        narrow.negate != wide.negate)
        return false;
    for (const auto& n : narrow.any_of) {
        bool covered = false;
        for (const auto& w : wide.any_of)
            covered = covered || covers(w, n);
        if (!covered)
            return false;
    }
    return true;
}

// Every party selector `narrow` matches, `wide` matches too: each of wide's
// clauses is implied by one of narrow's (a conjunction).
bool selector_covers(const CompiledPolicy& p, uint32_t wide, uint32_t narrow) {
    if (wide == narrow || wide == 0)
        return true;
    if (wide >= p.selectors.size() || narrow >= p.selectors.size())
        return false;
    for (const auto& wc : p.selectors[wide].clauses) {
        bool implied = false;
        for (const auto& nc : p.selectors[narrow].clauses)
            implied = implied || implies(nc, wc);
        if (!implied)
            return false;
    }
    return true;
}

bool subset(uint64_t narrow, uint64_t wide) {
    return (narrow & ~wide) == 0;
}

bool rule_covers(const CompiledPolicy& p, const CompiledRule& wide, const CompiledRule& narrow) {
    const auto has = [](const CompiledRule& r, OperationKind k) {
        return (r.op_kinds >> static_cast<int>(k)) & 1;
    };
    if (!subset(narrow.op_kinds, wide.op_kinds) || !subset(narrow.relations, wide.relations))
        return false;
    if (has(narrow, OperationKind::Signal) && !subset(narrow.signals, wide.signals))
        return false;
    if (has(narrow, OperationKind::Ptrace) && !subset(narrow.ptrace, wide.ptrace))
        return false;
    if (has(narrow, OperationKind::ProcAccess) && !subset(narrow.proc_entries, wide.proc_entries))
        return false;
    return selector_covers(p, wide.source_selector, narrow.source_selector) &&
           selector_covers(p, wide.target_selector, narrow.target_selector);
}

} // namespace

std::vector<ShadowedRule> find_shadowed(const CompiledPolicy& policy) {
    std::vector<ShadowedRule> out;
    const auto& rules = policy.rules;
    for (size_t j = 1; j < rules.size(); ++j)
        for (size_t i = 0; i < j; ++i)
            if (rule_covers(policy, rules[i], rules[j])) {
                out.push_back({rules[j].name, rules[j].origin, rules[i].name, rules[i].origin});
                break;
            }
    return out;
}

std::string format(const ShadowedRule& s) {
    return "warning: " + s.rule + " (" + s.rule_origin + ") can never fire: " + s.by + " (" +
           s.by_origin + ") comes first and matches everything it does";
}

} // namespace podguard::policy
