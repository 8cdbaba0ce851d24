// Every kind of error the parser and validator report, with its exact place.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/load.h"

using namespace podguard::policy;

namespace {

std::vector<Diagnostic> errors_of(const std::string& yaml) {
    std::vector<Diagnostic> diags;
    auto set = load_policy_text(yaml, "p.yaml", &diags);
    EXPECT_EQ(set.ok(), diags.empty());
    return diags;
}

// A valid policy to break one line at a time.
const char* kHead = "apiVersion: podguard.io/v1alpha1\n" // 1
                    "kind: PodGuardPolicy\n"             // 2
                    "metadata: {name: p}\n"              // 3
                    "spec:\n";                           // 4

struct Case {
    const char* name;
    std::string yaml;
    int line;
    int column;
    std::string message; // exact
};

std::string rule(const std::string& body) {
    return std::string(kHead) +
           "  rules:\n"      // 5
           "    - name: r\n" // 6
           + body;           // 7...
}

class Diagnostics : public ::testing::TestWithParam<Case> {};

TEST_P(Diagnostics, ReportsExactlyThisError) {
    const Case& c = GetParam();
    auto diags = errors_of(c.yaml);
    ASSERT_EQ(diags.size(), 1u) << c.yaml << (diags.empty() ? "" : format(diags[0]))
                                << (diags.size() > 1 ? "\n" + format(diags[1]) : "");
    EXPECT_EQ(diags[0].file, "p.yaml");
    EXPECT_EQ(diags[0].line, c.line) << format(diags[0]);
    EXPECT_EQ(diags[0].column, c.column) << format(diags[0]);
    EXPECT_EQ(diags[0].message, c.message);
}

const std::string kOps = "      action: block\n      operations: [signal]\n";

INSTANTIATE_TEST_SUITE_P(
    Policy, Diagnostics,
    ::testing::Values(
        Case{"YamlSyntax", std::string(kHead) + "  rules: [a, b\n", 6, 1,
             "invalid YAML: end of sequence flow not found"},
        // yaml-cpp 0.7's LoadAll alone loops forever on these.
        Case{"StrayComma", "a: b\n---\n,\n", 3, 1, "invalid YAML: unexpected ','"},
        Case{"LoneComma", ",", 1, 1, "invalid YAML: unexpected ','"},
        Case{"NotAMapping", "- a\n- b\n", 1, 1, "expected a PodGuardPolicy mapping, got a list"},
        Case{"EmptyFile", "# nothing\n", 1, 1, "no PodGuardPolicy document in file"},
        Case{"BadApiVersion",
             "apiVersion: podguard.io/v1\nkind: PodGuardPolicy\nmetadata: {name: p}\nspec:\n"
             "  rules: [{name: r, action: block, operations: [signal]}]\n",
             1, 13, "unsupported apiVersion 'podguard.io/v1' (expected podguard.io/v1alpha1)"},
        Case{"MissingApiVersion",
             "kind: PodGuardPolicy\nmetadata: {name: p}\nspec:\n"
             "  rules: [{name: r, action: block, operations: [signal]}]\n",
             1, 1, "missing apiVersion (expected podguard.io/v1alpha1)"},
        Case{"BadKind",
             "apiVersion: podguard.io/v1alpha1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n"
             "  rules: [{name: r, action: block, operations: [signal]}]\n",
             2, 7, "unsupported kind 'NetworkPolicy' (expected PodGuardPolicy)"},
        Case{"UnknownTopField",
             std::string(kHead) + "  rules: [{name: r, action: block, operations: [signal]}]\n"
                                  "sepc: {}\n",
             6, 1, "unknown field 'sepc' in the document (did you mean 'spec'?)"},
        Case{"UnknownSpecField",
             std::string(kHead) + "  selektor: {}\n"
                                  "  rules: [{name: r, action: block, operations: [signal]}]\n",
             5, 3, "unknown field 'selektor' in spec (did you mean 'selector'?)"},
        Case{"UnknownFieldNoHint",
             std::string(kHead) + "  zzz: 1\n"
                                  "  rules: [{name: r, action: block, operations: [signal]}]\n",
             5, 3, "unknown field 'zzz' in spec"},
        Case{"UnknownRuleField", rule(kOps + "      actoin: audit\n"), 9, 7,
             "unknown field 'actoin' in spec.rules[0] (did you mean 'action'?)"},
        Case{"UnknownSelectorField", rule(kOps + "      source: {container: [a]}\n"), 9, 16,
             "unknown field 'container' in spec.rules[0].source (did you mean 'containers'?)"},
        Case{"DuplicateField", rule(kOps + "      action: audit\n"), 9, 7,
             "duplicate field 'action' in spec.rules[0]"},
        Case{"MetadataNamespace",
             "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\n"
             "metadata: {name: p, namespace: demo}\nspec:\n"
             "  rules: [{name: r, action: block, operations: [signal]}]\n",
             3, 21,
             "metadata.namespace is not supported: a PodGuardPolicy applies to the whole node; "
             "use spec.selector.namespaces"},
        Case{"RulesNotAList", std::string(kHead) + "  rules: {name: r}\n", 5, 10,
             "expected a list for spec.rules, got a mapping"},
        Case{"SignalsNotAList",
             rule("      action: block\n      operations:\n        - signal: {signals: SIGHUP}\n"),
             9, 29, "expected a list for spec.rules[0].operations[0].signal.signals, got a scalar"},
        Case{"ListItemNotAString", rule(kOps + "      relations: [[same_pod]]\n"), 9, 19,
             "expected a string for spec.rules[0].relations[0], got a list"},
        Case{"PriorityNotInteger",
             std::string(kHead) + "  priority: high\n"
                                  "  rules: [{name: r, action: block, operations: [signal]}]\n",
             5, 13, "expected an integer for spec.priority, got 'high'"},
        Case{"PriorityOutOfRange",
             std::string(kHead) + "  priority: 2000000\n"
                                  "  rules: [{name: r, action: block, operations: [signal]}]\n",
             5, 13, "spec.priority 2000000 is out of range -1000000..1000000"},
        Case{"AgentNotBool", rule(kOps + "      target: {agent: yes please}\n"), 9, 23,
             "expected true or false for spec.rules[0].target.agent, got 'yes please'"},
        Case{"EmptyRules", std::string(kHead) + "  rules: []\n", 5, 10,
             "spec.rules is empty: a policy needs at least one rule"},
        Case{"MissingRules", std::string(kHead) + "  defaultAction: allow\n", 5, 3,
             "missing spec.rules"},
        Case{"MissingSpec",
             "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\nmetadata: {name: p}\n", 1, 1,
             "missing spec"},
        Case{"MissingName",
             "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\nmetadata: {}\nspec:\n"
             "  rules: [{name: r, action: block, operations: [signal]}]\n",
             3, 11, "missing metadata.name"},
        Case{"BadPolicyName",
             "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\nmetadata: {name: My_Policy}\n"
             "spec:\n  rules: [{name: r, action: block, operations: [signal]}]\n",
             3, 18,
             "invalid metadata.name 'My_Policy': use lowercase letters, digits, '-' and '.', "
             "starting and ending with a letter or digit"},
        Case{"UnknownAction", rule("      action: deny\n      operations: [signal]\n"), 7, 15,
             "unknown action 'deny' in spec.rules[0].action (expected allow, audit or block)"},
        Case{"UnknownActionHint", rule("      action: blok\n      operations: [signal]\n"), 7, 15,
             "unknown action 'blok' in spec.rules[0].action (expected allow, audit or block) "
             "(did you mean 'block'?)"},
        Case{"UnknownDefaultAction",
             std::string(kHead) + "  rules: [{name: r, action: block, operations: [signal]}]\n"
                                  "  defaultAction: alow\n",
             6, 18,
             "unknown action 'alow' in spec.defaultAction (expected allow, audit or block) "
             "(did you mean 'allow'?)"},
        Case{"MissingAction", rule("      operations: [signal]\n"), 6, 7,
             "missing action in spec.rules[0] (allow, audit or block)"},
        Case{"MissingOperations", rule("      action: block\n"), 6, 7,
             "missing operations in spec.rules[0] (a list of signal, ptrace and/or procAccess)"},
        Case{"EmptyOperations", rule("      action: block\n      operations: []\n"), 8, 19,
             "spec.rules[0].operations is empty"},
        Case{"UnknownOperation", rule("      action: block\n      operations: [signals]\n"), 8, 20,
             "unknown operation 'signals' in spec.rules[0].operations[0] (expected signal, "
             "ptrace or procAccess) (did you mean 'signal'?)"},
        Case{"UnknownOperationKey",
             rule("      action: block\n      operations: [{procAcess: {}}]\n"), 8, 21,
             "unknown field 'procAcess' in spec.rules[0].operations[0] (did you mean "
             "'procAccess'?)"},
        Case{"TwoKindsInOneOperation",
             rule("      action: block\n      operations: [{signal: {}, ptrace: {}}]\n"), 8, 33,
             "an operation has exactly one of signal, ptrace, procAccess; write 'ptrace' as its "
             "own list item"},
        Case{"UnknownSignal",
             rule("      action: block\n      operations: [{signal: {signals: [SIGHUB]}}]\n"), 8,
             40,
             "unknown signal 'SIGHUB' in spec.rules[0].operations[0] (a name like SIGHUP or "
             "HUP, or a number 1..64) (did you mean 'SIGHUP'?)"},
        Case{"SignalOutOfRange",
             rule("      action: block\n      operations: [{signal: {signals: [65]}}]\n"), 8, 40,
             "unknown signal '65' in spec.rules[0].operations[0] (a name like SIGHUP or HUP, or "
             "a number 1..64)"},
        Case{
            "UnknownPtrace",
            rule("      action: block\n      operations: [{ptrace: {requests: [PTRACE_ATACH]}}]\n"),
            8, 41,
            "unknown ptrace request 'PTRACE_ATACH' in spec.rules[0].operations[0] (a name like "
            "PTRACE_ATTACH or ATTACH, a request number, process_vm_readv or process_vm_writev) "
            "(did you mean 'PTRACE_ATTACH'?)"},
        Case{"UnknownEntry",
             rule("      action: block\n      operations: [{procAccess: {entries: [enviorn]}}]\n"),
             8, 44,
             "unknown /proc entry 'enviorn' in spec.rules[0].operations[0] (did you mean "
             "'environ'?)"},
        Case{"UnknownRelation", rule(kOps + "      relations: [same-pod]\n"), 9, 19,
             "unknown relation 'same-pod' in spec.rules[0].relations (same_container, same_pod, "
             "host_to_container, container_to_host, cross_pod, host) (did you mean 'same_pod'?)"},
        Case{"DuplicateRuleName",
             std::string(kHead) + "  rules:\n"
                                  "    - {name: r, action: block, operations: [signal]}\n"
                                  "    - {name: r, action: audit, operations: [ptrace]}\n",
             7, 14, "duplicate rule name 'r' (first at line 6)"},
        Case{"MissingRuleName",
             std::string(kHead) + "  rules:\n    - {action: block, operations: [signal]}\n", 6, 7,
             "missing name in spec.rules[0]"},
        Case{"StarInTheMiddle", rule(kOps + "      source: {containers: [\"a*b\"]}\n"), 9, 29,
             "'a*b' in spec.rules[0].source.containers: '*' is only allowed at the end (a "
             "prefix match)"},
        Case{"RelativeBinary", rule(kOps + "      source: {binaries: [kill]}\n"), 9, 27,
             "'kill' in spec.rules[0].source.binaries: binaries are absolute executable paths "
             "(e.g. /bin/kill or /usr/bin/*)"},
        Case{"EmptyValue", rule(kOps + "      target: {namespaces: [\"\"]}\n"), 9, 29,
             "empty value in spec.rules[0].target.namespaces"},
        Case{"ReservedName",
             "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\n"
             "metadata: {name: podguard-self-protection}\nspec:\n"
             "  rules: [{name: r, action: block, operations: [signal]}]\n",
             3, 18,
             "metadata.name 'podguard-self-protection' is reserved for the built-in "
             "self-protection policy"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(PolicyDiagnostics, CollectsEveryErrorNotJustTheFirst) {
    std::string yaml = "apiVersion: podguard.io/v2\n"
                       "kind: PodGuardPolicy\n"
                       "metadata: {name: p}\n"
                       "spec:\n"
                       "  rules:\n"
                       "    - name: a\n"
                       "      action: nope\n"
                       "      operations: [{signal: {signals: [SIGFOO, 99]}}]\n"
                       "      relations: [sideways]\n"
                       "    - name: a\n"
                       "      action: block\n"
                       "      operations: [ptrace]\n"
                       "      colour: red\n";
    auto diags = errors_of(yaml);
    std::vector<std::string> where;
    for (const auto& d : diags)
        where.push_back(std::to_string(d.line) + ":" + std::to_string(d.column));
    EXPECT_EQ(where,
              (std::vector<std::string>{"1:13", "7:15", "8:40", "8:48", "9:19", "10:13", "13:7"}));
}

TEST(PolicyDiagnostics, DuplicatePolicyNamesAcrossDocuments) {
    std::string doc =
        std::string(kHead) + "  rules: [{name: r, action: block, operations: [signal]}]\n";
    auto diags = errors_of(doc + "---\n" + doc);
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_EQ(format(diags[0]),
              "p.yaml:9:18: error: duplicate policy name 'p' (first in p.yaml:3)");
}

TEST(PolicyDiagnostics, FormatIsFileLineColumnErrorMessage) {
    EXPECT_EQ(format(Diagnostic{"a.yaml", 3, 14, "boom"}), "a.yaml:3:14: error: boom");
}

TEST(PolicyDiagnostics, ErrorMessageListsEveryDiagnostic) {
    auto set = load_policy_text("kind: X\n", "x.yaml");
    ASSERT_FALSE(set.ok());
    EXPECT_NE(set.error().message.find("x.yaml:1:7: error: unsupported kind 'X'"),
              std::string::npos)
        << set.error().message;
    EXPECT_NE(set.error().message.find("x.yaml:1:1: error: missing apiVersion"), std::string::npos);
}

} // namespace

namespace {

TEST(PolicyDiagnostics, AliasBombIsCutOffNotExpanded) {
    // 60 signals x 60 operations x 60 rules = 216000 values through aliases.
    std::string sigs = "[";
    for (int i = 1; i <= 60; ++i)
        sigs += (i > 1 ? ", " : "") + std::to_string(i);
    sigs += "]";
    std::string ops = "[{signal: {signals: &s " + sigs + "}}";
    for (int i = 1; i < 60; ++i)
        ops += ", {signal: {signals: *s}}";
    ops += "]";
    std::string yaml = std::string(kHead) +
                       "  rules:\n    - &r {name: r, action: block, "
                       "operations: " +
                       ops + "}\n";
    for (int i = 1; i < 60; ++i)
        yaml += "    - *r\n";
    auto diags = errors_of(yaml);
    ASSERT_FALSE(diags.empty());
    EXPECT_EQ(diags[0].message, "policy too large: more than 200000 values (anchors and aliases "
                                "count each time they are used)");
}

TEST(PolicyDiagnostics, ErrorFloodIsCappedAtAThousand) {
    std::string yaml = std::string(kHead) + "  rules:\n";
    for (int i = 0; i < 1500; ++i)
        yaml += "    - {name: r" + std::to_string(i) + ", action: nope, operations: [signal]}\n";
    auto diags = errors_of(yaml);
    ASSERT_EQ(diags.size(), 1001u);
    EXPECT_EQ(diags.back().message, "too many errors, stopping here");
}

} // namespace
