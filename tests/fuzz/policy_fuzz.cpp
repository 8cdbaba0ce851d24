// libFuzzer: policy text from memory through parse, validate, compile and
// decide. Besides crashes and ASan reports it checks the contract: a failed
// load always says where, a compiled table is always well-formed.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "policy/compiled.h"
#include "policy/evaluate.h"

using namespace podguard;
using namespace podguard::policy;

namespace {

void require(bool ok) {
    if (!ok)
        __builtin_trap();
}

void check_table(const CompiledPolicy& c) {
    require(!c.strings.empty() && c.strings[0].empty());
    require(!c.selectors.empty() && c.selectors[0].clauses.empty());
    require(c.rules.size() <= kMaxCompiledRules && c.selectors.size() <= kMaxSelectors);
    for (size_t i = 0; i < c.selectors.size(); ++i) {
        require(c.selectors[i].id == i);
        for (const auto& cl : c.selectors[i].clauses) {
            require(cl.key < c.strings.size() && c.strings[cl.key] == cl.key_text);
            for (const auto& p : cl.any_of)
                require(p.str < c.strings.size() && c.strings[p.str] == p.text);
        }
    }
    for (size_t i = 0; i < c.rules.size(); ++i) {
        const auto& r = c.rules[i];
        require(r.id == i + 1);
        require(r.source_selector < c.selectors.size() && r.target_selector < c.selectors.size());
        require(r.op_kinds != 0 && r.relations != 0 && (r.relations & ~kAllRelations) == 0);
        require(!(r.op_kinds & 1) || r.signals != 0);
        require(!(r.op_kinds & 2) || r.ptrace != 0);
        require(!(r.op_kinds & 4) || r.proc_entries != 0);
    }
}

void probe(const CompiledPolicy& c) {
    OperationFacts op;
    op.source.in_container = true;
    op.source.namespace_ = "demo";
    op.source.container = "shell";
    op.source.binary = "/bin/kill";
    op.source.pod_labels = {{"app", "demo"}};
    op.target = op.source;
    op.target.container = "nginx";
    op.relation = Relation::SamePod;
    for (int kind = 0; kind < kOperationKinds; ++kind) {
        op.kind = static_cast<OperationKind>(kind);
        op.signal = 1;
        op.ptrace_request = 16;
        op.proc_entry = 1;
        Decision d = decide(c, op);
        require(d.rule_id <= c.rules.size());
        require(d.rule_id == 0 || c.rules[d.rule_id - 1].name == d.rule_name);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<Diagnostic> diags;
    auto set = load_policy_text(text, "fuzz.yaml", &diags);
    if (!set.ok()) {
        require(!diags.empty());
        for (const auto& d : diags)
            require(d.line >= 1 && d.column >= 1 && !d.message.empty() && d.file == "fuzz.yaml");
        return 0;
    }
    require(diags.empty());
    for (bool self : {true, false}) {
        auto c = compile(*set, CompileOptions{self});
        if (!c.ok())
            continue; // only limits (too many rules/selectors) fail here
        check_table(*c);
        probe(*c);
        auto again = compile(*set, CompileOptions{self});
        require(again.ok() && again->fingerprint == c->fingerprint);
    }
    return 0;
}
