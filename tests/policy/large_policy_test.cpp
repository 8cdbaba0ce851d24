// A generated 1,000-rule policy read from disk the way the daemon reloads it:
// every rule parsed, placed, validated and compiled right, and errors deep in
// the file still reported at their exact place. (How fast is the benchmark's
// business: bench/enforce_bench.cpp.)
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "podguard.h"
#include "policy/check.h"
#include "policy/compiled.h"
#include "policy/validate.h"
#include "support/sandbox.h"

using namespace podguard;
using namespace podguard::policy;

namespace {

constexpr int kRules = 1000;

// What the generator wrote for rule i, and where.
struct Expected {
    std::string name;
    PolicyAction action = PolicyAction::Allow;
    int line = 0; // of "- name:"
    uint8_t op_kinds = 0;
    uint64_t signals = 0, ptrace = 0, proc_entries = 0;
    uint8_t relations = 0;
    std::string pod, container, ns;
};

struct Generated {
    std::string yaml;
    std::vector<Expected> rules;
};

// Four shapes of operations, three actions, 100 distinct source selectors and
// 3 target ones, relations written or not: block and flow style mixed.
// `edit(i, lines)` may change the lines of rule i before they are added.
template <class Edit> Generated generate(Edit edit) {
    Generated g;
    std::vector<std::string> lines = {"apiVersion: podguard.io/v1alpha1",
                                      "kind: PodGuardPolicy",
                                      "metadata:",
                                      "  name: big",
                                      "spec:",
                                      "  description: generated",
                                      "  rules:"};
    for (int i = 0; i < kRules; ++i) {
        Expected e;
        e.name = "rule-" + std::to_string(i);
        e.line = static_cast<int>(lines.size()) + 1;
        e.pod = "pod-" + std::to_string(i % 100);
        e.container = "c" + std::to_string(i % 4);
        e.ns = "ns-" + std::to_string(i % 3);
        const char* action = i % 3 == 0 ? "block" : i % 3 == 1 ? "audit" : "allow";
        e.action = *parse_action(action);
        std::vector<std::string> r = {"    - name: " + e.name,
                                      std::string("      action: ") + action};
        if (i % 10 == 0)
            r.push_back("      description: rule number " + std::to_string(i));
        const int sig = i % 64 + 1;
        switch (i % 4) {
        case 0:
            r.push_back("      operations: [signal]");
            e.op_kinds = 1;
            e.signals = kAllSignals;
            break;
        case 1:
            r.push_back("      operations:");
            r.push_back("        - signal: {signals: [" + std::to_string(sig) + "]}");
            e.op_kinds = 1;
            e.signals = signal_bit(sig);
            break;
        case 2:
            r.push_back("      operations:");
            r.push_back("        - ptrace:");
            r.push_back("            requests: [PTRACE_ATTACH, 0x4206]");
            e.op_kinds = 2;
            e.ptrace = (1ULL << 16) | (1ULL << 40);
            break;
        case 3:
            r.push_back("      operations:");
            r.push_back("        - procAccess: {entries: [environ, root]}");
            r.push_back("        - signal");
            e.op_kinds = 1 | 4;
            e.signals = kAllSignals;
            e.proc_entries = (1ULL << PG_PROC_ENVIRON) | (1ULL << PG_PROC_ROOT);
            break;
        }
        r.push_back("      source: {pods: [" + e.pod + "], containers: [" + e.container + "]}");
        r.push_back("      target:");
        r.push_back("        namespaces: [" + e.ns + "]");
        if (i % 6 == 0) {
            e.relations = kAllRelations;
        } else {
            r.push_back("      relations: [same_pod, cross_pod]");
            e.relations = static_cast<uint8_t>((1u << static_cast<int>(Relation::SamePod)) |
                                               (1u << static_cast<int>(Relation::CrossPod)));
        }
        edit(i, r);
        lines.insert(lines.end(), r.begin(), r.end());
        g.rules.push_back(e);
    }
    for (const auto& l : lines)
        g.yaml += l + "\n";
    return g;
}

Generated generate() {
    return generate([](int, std::vector<std::string>&) {});
}

std::string write(const test::TempDir& dir, const std::string& name, const std::string& text) {
    std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

TEST(PolicyLarge, ThousandRulesFromDiskParseAndValidateExactly) {
    test::TempDir dir;
    Generated g = generate();
    std::string path = write(dir, "big.yaml", g.yaml);

    std::vector<Diagnostic> diags;
    LoadProfile profile;
    auto set = load_policies({path}, &diags, &profile);
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_TRUE(diags.empty());
    EXPECT_GT(profile.parse_ms, 0.0);
    ASSERT_EQ(set->files, std::vector<std::string>{path});
    ASSERT_EQ(set->policies.size(), 1u);
    const PolicyDocument& d = set->policies[0];
    EXPECT_EQ(d.name.value, "big");
    EXPECT_EQ(d.file, path);
    EXPECT_EQ(d.rules_written.value, kRules);
    ASSERT_EQ(d.rules.size(), static_cast<size_t>(kRules));
    for (int i = 0; i < kRules; ++i) {
        const RuleSpec& r = d.rules[static_cast<size_t>(i)];
        const Expected& e = g.rules[static_cast<size_t>(i)];
        SCOPED_TRACE(e.name);
        EXPECT_EQ(r.name.value, e.name);
        EXPECT_EQ(r.pos.line, e.line);
        EXPECT_EQ(r.pos.column, 7);
        EXPECT_EQ(r.name.pos.line, e.line);
        EXPECT_EQ(r.name.pos.column, 13);
        EXPECT_EQ(r.action.pos.line, e.line + 1);
        EXPECT_EQ(r.description, i % 10 == 0 ? "rule number " + std::to_string(i) : "");
        EXPECT_EQ(r.operations_written.value, i % 4 == 3 ? 2 : 1);
        ASSERT_EQ(r.source.pods.size(), 1u);
        EXPECT_EQ(r.source.pods[0].value, e.pod);
        ASSERT_EQ(r.source.containers.size(), 1u);
        EXPECT_EQ(r.source.containers[0].value, e.container);
        ASSERT_EQ(r.target.namespaces.size(), 1u);
        EXPECT_EQ(r.target.namespaces[0].value, e.ns);
        EXPECT_EQ(r.relations.size(), i % 6 == 0 ? 0u : 2u);
    }
}

TEST(PolicyLarge, ThousandRulesCompileToTheExpectedTable) {
    test::TempDir dir;
    Generated g = generate();
    std::string path = write(dir, "big.yaml", g.yaml);
    auto set = load_policies({path});
    ASSERT_TRUE(set.ok()) << set.error().message;
    auto c = compile(*set);
    ASSERT_TRUE(c.ok()) << c.error().message;

    // Self-protection first, then the 1,000 in order.
    ASSERT_EQ(c->rules.size(), static_cast<size_t>(kRules) + 1);
    EXPECT_EQ(c->rules[0].name, std::string(kSelfProtectionName) + "/agent-is-untouchable");
    EXPECT_EQ(c->policies, (std::vector<std::string>{kSelfProtectionName, "big"}));
    // Selector 0 (everyone), the agent, 100 sources, 3 targets: equal ones shared.
    EXPECT_EQ(c->selectors.size(), 1u + 1u + 100u + 3u);
    std::map<std::string, uint32_t> source_ids, target_ids;
    for (int i = 0; i < kRules; ++i) {
        const CompiledRule& r = c->rules[static_cast<size_t>(i) + 1];
        const Expected& e = g.rules[static_cast<size_t>(i)];
        SCOPED_TRACE(e.name);
        EXPECT_EQ(r.id, static_cast<uint32_t>(i) + 2);
        EXPECT_EQ(r.name, "big/" + e.name);
        EXPECT_EQ(r.policy, "big");
        EXPECT_EQ(r.action, e.action);
        EXPECT_EQ(r.op_kinds, e.op_kinds);
        EXPECT_EQ(r.signals, e.signals);
        EXPECT_EQ(r.ptrace, e.ptrace);
        EXPECT_EQ(r.proc_entries, e.proc_entries);
        EXPECT_EQ(r.relations, e.relations);
        EXPECT_EQ(r.origin, path + ":" + std::to_string(e.line));
        ASSERT_LT(r.source_selector, c->selectors.size());
        ASSERT_LT(r.target_selector, c->selectors.size());
        auto [s, s_fresh] = source_ids.emplace(e.pod + "/" + e.container, r.source_selector);
        EXPECT_EQ(s->second, r.source_selector);
        auto [t, t_fresh] = target_ids.emplace(e.ns, r.target_selector);
        EXPECT_EQ(t->second, r.target_selector);
        const Selector& src = c->selectors[r.source_selector];
        ASSERT_EQ(src.clauses.size(), 2u);
        EXPECT_EQ(src.clauses[0].field, SelectorField::Pod);
        EXPECT_EQ(src.clauses[0].any_of.at(0).text, e.pod);
        EXPECT_EQ(src.clauses[1].field, SelectorField::Container);
        EXPECT_EQ(src.clauses[1].any_of.at(0).text, e.container);
        const Selector& tgt = c->selectors[r.target_selector];
        ASSERT_EQ(tgt.clauses.size(), 1u);
        EXPECT_EQ(tgt.clauses[0].field, SelectorField::Namespace);
        EXPECT_EQ(tgt.clauses[0].any_of.at(0).text, e.ns);
    }
    EXPECT_EQ(source_ids.size(), 100u);
    EXPECT_EQ(target_ids.size(), 3u);

    // The same text under another name, or loaded again, compiles identically.
    auto again = load_policy_text(g.yaml, "elsewhere.yaml");
    ASSERT_TRUE(again.ok()) << again.error().message;
    auto c2 = compile(*again);
    ASSERT_TRUE(c2.ok()) << c2.error().message;
    EXPECT_EQ(c2->fingerprint, c->fingerprint);

    std::ostringstream out, err;
    EXPECT_EQ(policy_check_main({path}, out, err), 0) << err.str();
    EXPECT_EQ(out.str().substr(0, out.str().find('\n')), "OK: 1 policy, 1000 rules in 1 file");
    EXPECT_NE(out.str().find("  rules 2-1001  big\n"), std::string::npos) << out.str();
}

TEST(PolicyLarge, ErrorsDeepInAThousandRulesKeepTheirExactPlace) {
    test::TempDir dir;
    std::string ptrace_line, proc_line;
    Generated g = generate([&](int i, std::vector<std::string>& r) {
        if (i == 777)
            r[0] = "    - name: rule-3"; // a duplicate of an earlier rule
        if (i == 998)                    // i % 4 == 2: ptrace, requests on the 5th line
            ptrace_line = r[4] = "            requests: [PTRACE_ATTACH, PTRACE_SEIZ]";
        if (i == 999) // i % 4 == 3: procAccess on the 4th line
            proc_line = r[3] = "        - procAccess: {entries: [environ, rot], extra: 1}";
    });
    std::string path = write(dir, "big.yaml", g.yaml);
    std::vector<Diagnostic> diags;
    auto set = load_policies({path}, &diags);
    ASSERT_FALSE(set.ok());
    auto at = [&](int line, const std::string& text, const std::string& word) {
        return path + ":" + std::to_string(line) + ":" + std::to_string(text.find(word) + 1) +
               ": error: ";
    };
    // In file order, whether the parser or the validator found them.
    std::vector<std::string> want = {
        path + ":" + std::to_string(g.rules[777].line) +
            ":13: error: duplicate rule name 'rule-3' (first at line " +
            std::to_string(g.rules[3].line) + ")",
        at(g.rules[998].line + 4, ptrace_line, "PTRACE_SEIZ]") +
            "unknown ptrace request 'PTRACE_SEIZ' in spec.rules[998].operations[0] (a name like "
            "PTRACE_ATTACH or ATTACH, a request number, process_vm_readv or process_vm_writev) "
            "(did you mean 'PTRACE_SEIZE'?)",
        at(g.rules[999].line + 3, proc_line, "rot]") +
            "unknown /proc entry 'rot' in spec.rules[999].operations[0] (did you mean 'root'?)",
        at(g.rules[999].line + 3, proc_line, "extra") +
            "unknown field 'extra' in spec.rules[999].operations[0].procAccess",
    };
    std::vector<std::string> got;
    for (const auto& d : diags)
        got.push_back(format(d));
    EXPECT_EQ(got, want);
    EXPECT_EQ(set.error().message,
              want[0] + "\n" + want[1] + "\n" + want[2] + "\n" + want[3] + "\n");
}

} // namespace
