// The compiled table: masks, selectors, ids, self-protection, fingerprint.
#include <gtest/gtest.h>

#include <string>

#include "podguard.h"
#include "policy/compiled.h"

using namespace podguard;
using namespace podguard::policy;

namespace {

CompiledPolicy compiled(const std::string& yaml, CompileOptions options = {}) {
    auto set = load_policy_text(yaml, "t.yaml");
    EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message);
    if (!set.ok())
        return {};
    auto c = compile(*set, options);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? *c : CompiledPolicy{};
}

std::string policy(const std::string& name, const std::string& spec) {
    return "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\nmetadata: {name: " + name +
           "}\nspec:\n" + spec;
}

const CompileOptions kNoSelf{false};

TEST(PolicyCompile, SignalMaskBitIsSignalMinusOne) {
    auto c = compiled(policy("p", "  rules:\n"
                                  "    - name: r\n"
                                  "      action: block\n"
                                  "      operations:\n"
                                  "        - signal: {signals: [SIGHUP, kill, 15, SIGRTMIN, "
                                  "SIGRTMAX-1, SIGRTMAX]}\n"),
                      kNoSelf);
    ASSERT_EQ(c.rules.size(), 1u);
    const auto& r = c.rules[0];
    EXPECT_EQ(r.op_kinds, 1u << static_cast<int>(OperationKind::Signal));
    EXPECT_EQ(r.signals, (1ULL << 0) | (1ULL << 8) | (1ULL << 14) | (1ULL << 33) | (1ULL << 62) |
                             (1ULL << 63));
    EXPECT_EQ(r.ptrace, 0u);
    EXPECT_EQ(r.proc_entries, 0u);
    EXPECT_EQ(r.relations, kAllRelations);
    EXPECT_EQ(r.action, PolicyAction::Block);
    EXPECT_EQ(r.id, 1u);
    EXPECT_EQ(r.name, "p/r");
    EXPECT_EQ(r.origin, "t.yaml:6");
}

TEST(PolicyCompile, PtraceMaskMapsRequestNumbersAndProcessVm) {
    auto c = compiled(policy("p", "  rules:\n"
                                  "    - name: r\n"
                                  "      action: audit\n"
                                  "      operations:\n"
                                  "        - ptrace: {requests: [PTRACE_ATTACH, seize, PEEKDATA, "
                                  "0x4207, 0, process_vm_readv, PROCESS_VM_WRITEV]}\n"),
                      kNoSelf);
    ASSERT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(ptrace_request_bit(16), 16);     // PTRACE_ATTACH
    EXPECT_EQ(ptrace_request_bit(0x4206), 40); // PTRACE_SEIZE
    EXPECT_EQ(ptrace_request_bit(0x4212), 52); // PTRACE_SET_SYSCALL_INFO
    EXPECT_EQ(ptrace_request_bit(-1), kPtraceBitOther);
    EXPECT_EQ(ptrace_request_bit(0x421b), kPtraceBitOther);
    EXPECT_EQ(c.rules[0].ptrace, (1ULL << 16) | (1ULL << 40) | (1ULL << 2) | (1ULL << 41) |
                                     (1ULL << 0) | (1ULL << kPtraceBitProcessVmReadv) |
                                     (1ULL << kPtraceBitProcessVmWritev));
    EXPECT_EQ(c.rules[0].op_kinds, 1u << static_cast<int>(OperationKind::Ptrace));
}

TEST(PolicyCompile, ProcMaskBitIsTheEnumValue) {
    auto c = compiled(policy("p", "  rules:\n"
                                  "    - name: r\n"
                                  "      action: block\n"
                                  "      operations: [{procAccess: {entries: [root, environ, mem, "
                                  "attr]}}]\n"),
                      kNoSelf);
    ASSERT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(c.rules[0].proc_entries, (1ULL << PG_PROC_ROOT) | (1ULL << PG_PROC_ENVIRON) |
                                           (1ULL << PG_PROC_MEM) | (1ULL << PG_PROC_ATTR));
    // every name of enum pg_proc_entry is spelled in the language
    for (int e = 1; e < PG_PROC_ENTRY_MAX; ++e)
        EXPECT_EQ(parse_proc_entry(proc_entry_name(e)), e) << e;
}

TEST(PolicyCompile, EmptyListsMeanEverything) {
    auto c = compiled(policy("p", "  rules:\n"
                                  "    - name: r\n"
                                  "      action: block\n"
                                  "      operations: [signal, {ptrace: {}}, {procAccess: {entries: "
                                  "[]}}]\n"
                                  "      relations: []\n"),
                      kNoSelf);
    ASSERT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(c.rules[0].op_kinds, 7u);
    EXPECT_EQ(c.rules[0].signals, ~0ULL);
    EXPECT_EQ(c.rules[0].ptrace, ~0ULL);
    EXPECT_EQ(c.rules[0].proc_entries, (1ULL << PG_PROC_ENTRY_MAX) - 1);
    EXPECT_EQ(c.rules[0].relations, 0x3f);
}

TEST(PolicyCompile, RelationBitsFollowTheEventEnum) {
    auto c = compiled(policy("p", "  rules:\n"
                                  "    - name: r\n"
                                  "      action: block\n"
                                  "      operations: [signal]\n"
                                  "      relations: [same_pod, host]\n"),
                      kNoSelf);
    EXPECT_EQ(c.rules[0].relations, (1u << static_cast<int>(Relation::SamePod)) |
                                        (1u << static_cast<int>(Relation::Host)));
}

TEST(PolicyCompile, SelectorsMergePolicyAndRuleAndAreShared) {
    auto c = compiled(
        policy("p", "  selector: {namespaces: [demo], podLabels: {app: web}}\n"
                    "  targetSelector: {namespaces: [demo]}\n"
                    "  rules:\n"
                    "    - {name: a, action: block, operations: [signal], source: {containers: "
                    "[x, y]}}\n"
                    "    - {name: b, action: block, operations: [ptrace], source: {containers: "
                    "[y, x, x]}}\n"
                    "    - {name: c, action: block, operations: [ptrace], source: {binaries: "
                    "[/usr/bin/*]}, target: {agent: false}}\n"),
        kNoSelf);
    ASSERT_EQ(c.rules.size(), 3u);
    EXPECT_EQ(c.rules[0].source_selector, c.rules[1].source_selector);
    EXPECT_EQ(c.rules[0].target_selector, c.rules[1].target_selector);
    EXPECT_NE(c.rules[0].source_selector, c.rules[2].source_selector);
    const Selector& s = c.selectors[c.rules[0].source_selector];
    EXPECT_EQ(s.id, c.rules[0].source_selector);
    ASSERT_EQ(s.clauses.size(), 3u); // namespace, label, container (sorted by field)
    EXPECT_EQ(s.clauses[0].field, SelectorField::Namespace);
    EXPECT_EQ(s.clauses[1].field, SelectorField::PodLabel);
    EXPECT_EQ(s.clauses[1].key_text, "app");
    EXPECT_EQ(c.strings[s.clauses[1].key], "app");
    EXPECT_EQ(s.clauses[2].field, SelectorField::Container);
    ASSERT_EQ(s.clauses[2].any_of.size(), 2u);
    EXPECT_EQ(c.strings[s.clauses[2].any_of[0].str], "x");
    EXPECT_FALSE(s.process_level);
    const Selector& bin = c.selectors[c.rules[2].source_selector];
    EXPECT_TRUE(bin.process_level);
    ASSERT_EQ(bin.clauses.back().field, SelectorField::Binary);
    EXPECT_TRUE(bin.clauses.back().any_of[0].prefix);
    EXPECT_EQ(bin.clauses.back().any_of[0].text, "/usr/bin/");
    EXPECT_TRUE(c.selectors[c.rules[2].target_selector].clauses.back().negate);
    EXPECT_TRUE(c.selectors[0].clauses.empty());
    EXPECT_EQ(c.strings[0], "");
}

TEST(PolicyCompile, DefaultActionBecomesACatchAllAfterThePolicysRules) {
    auto c = compiled(policy("p", "  selector: {namespaces: [demo]}\n"
                                  "  rules: [{name: r, action: allow, operations: [signal]}]\n"
                                  "  defaultAction: block\n"),
                      kNoSelf);
    ASSERT_EQ(c.rules.size(), 2u);
    EXPECT_EQ(c.rules[1].name, "p/default");
    EXPECT_EQ(c.rules[1].id, 2u);
    EXPECT_EQ(c.rules[1].action, PolicyAction::Block);
    EXPECT_EQ(c.rules[1].op_kinds, 7u);
    EXPECT_EQ(c.rules[1].source_selector, c.rules[0].source_selector);
    EXPECT_EQ(c.rules[1].target_selector, 0u);
}

TEST(PolicyCompile, SelfProtectionIsPrependedUnlessDisabled) {
    std::string yaml = policy("p", "  rules: [{name: r, action: audit, operations: [ptrace]}]\n");
    auto with = compiled(yaml);
    ASSERT_EQ(with.rules.size(), 2u);
    EXPECT_EQ(with.rules[0].id, 1u);
    EXPECT_EQ(with.rules[0].name, "podguard-self-protection/agent-is-untouchable");
    EXPECT_EQ(with.rules[0].action, PolicyAction::Block);
    EXPECT_EQ(with.rules[0].op_kinds, 7u);
    EXPECT_EQ(with.rules[0].source_selector, 0u);
    const Selector& t = with.selectors[with.rules[0].target_selector];
    ASSERT_EQ(t.clauses.size(), 1u);
    EXPECT_EQ(t.clauses[0].field, SelectorField::Agent);
    EXPECT_FALSE(t.clauses[0].negate);
    EXPECT_EQ(with.rules[0].relations & (1u << static_cast<int>(Relation::Host)), 0u);
    EXPECT_EQ(with.policies, (std::vector<std::string>{"podguard-self-protection", "p"}));
    EXPECT_EQ(with.rules[1].name, "p/r");
    EXPECT_EQ(with.rules[1].id, 2u);

    auto without = compiled(yaml, kNoSelf);
    ASSERT_EQ(without.rules.size(), 1u);
    EXPECT_EQ(without.rules[0].name, "p/r");
    EXPECT_NE(with.fingerprint, without.fingerprint);
}

TEST(PolicyCompile, PoliciesAreOrderedByPriorityThenName) {
    std::string rules = "  rules: [{name: r, action: audit, operations: [ptrace]}]\n";
    auto c = compiled(policy("b", rules) + "---\n" + policy("a", rules) + "---\n" +
                          policy("z", "  priority: 5\n" + rules) + "---\n" +
                          policy("low", "  priority: -5\n" + rules),
                      kNoSelf);
    EXPECT_EQ(c.policies, (std::vector<std::string>{"z", "a", "b", "low"}));
    ASSERT_EQ(c.rules.size(), 4u);
    EXPECT_EQ(c.rules[0].name, "z/r");
    EXPECT_EQ(c.rules[3].name, "low/r");
    EXPECT_EQ(c.rules[3].id, 4u);
}

TEST(PolicyCompile, FingerprintIsStableAndIgnoresFormatting) {
    std::string a = policy("p", "  rules:\n"
                                "    - name: r\n"
                                "      action: block\n"
                                "      operations: [{signal: {signals: [SIGHUP]}}]\n"
                                "      source: {containers: [a, b]}\n");
    std::string b = "# same policy, other layout\n"
                    "apiVersion: podguard.io/v1alpha1\n"
                    "kind: PodGuardPolicy\n"
                    "metadata:\n  name: p\n"
                    "spec:\n"
                    "  rules: [{name: r, source: {containers: [b, a]}, action: block,\n"
                    "           operations: [{signal: {signals: [HUP]}}]}]\n";
    auto ca = compiled(a), cb = compiled(b), ca2 = compiled(a);
    EXPECT_EQ(ca.fingerprint, ca2.fingerprint);
    EXPECT_EQ(ca.fingerprint, cb.fingerprint);
    EXPECT_EQ(ca.fingerprint_hex().size(), 16u);
    // Golden value: a change here means every deployed fingerprint changes.
    EXPECT_EQ(ca.fingerprint_hex(), "411cb093cc89ae20");
    std::string c = a;
    c.replace(c.find("SIGHUP"), 6, "SIGINT");
    EXPECT_NE(compiled(c).fingerprint, ca.fingerprint);
    std::string d = a;
    d.replace(d.find("block"), 5, "audit");
    EXPECT_NE(compiled(d).fingerprint, ca.fingerprint);
}

TEST(PolicyCompile, RejectsAnUnvalidatedSet) {
    PolicySet set;
    set.policies.push_back(PolicyDocument{});
    auto c = compile(set);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("invalid policy set"), std::string::npos);
}

TEST(PolicyCompile, TooManyRulesIsAnError) {
    std::string rules = "  rules:\n";
    for (size_t i = 0; i < kMaxCompiledRules; ++i)
        rules += "    - {name: r" + std::to_string(i) + ", action: audit, operations: [ptrace]}\n";
    auto set = load_policy_text(policy("big", rules), "big.yaml");
    ASSERT_TRUE(set.ok());
    EXPECT_TRUE(compile(*set, kNoSelf).ok());
    auto c = compile(*set); // + self-protection = one too many
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("too many rules"), std::string::npos);
}

TEST(PolicyNames, SignalsParseByNameShortNameAndNumber) {
    EXPECT_EQ(parse_signal("SIGHUP"), 1);
    EXPECT_EQ(parse_signal("HUP"), 1);
    EXPECT_EQ(parse_signal("sigterm"), 15);
    EXPECT_EQ(parse_signal("9"), 9);
    EXPECT_EQ(parse_signal("SIGRTMIN+3"), 37);
    EXPECT_EQ(parse_signal("SIGRTMAX"), 64);
    EXPECT_EQ(parse_signal("SIGCLD"), 17);
    EXPECT_FALSE(parse_signal("0"));
    EXPECT_FALSE(parse_signal("65"));
    EXPECT_FALSE(parse_signal("SIGRTMIN+31"));
    EXPECT_FALSE(parse_signal("SIGRTMIN-1"));
    EXPECT_FALSE(parse_signal("SIGRTMIN+"));
    EXPECT_FALSE(parse_signal("SIG"));
    EXPECT_EQ(signal_bit(0), 0u);
    EXPECT_EQ(signal_bit(64), 1ULL << 63);
}

} // namespace
