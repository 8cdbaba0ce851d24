// `policy check` and the daemon warn about rules an earlier rule always
// pre-empts (first match wins), and only about those.
#include <gtest/gtest.h>
#include <sstream>

#include "policy/check.h"
#include "policy/compiled.h"
#include "policy/load.h"
#include "policy/shadow.h"

using namespace podguard::policy;

namespace {

std::vector<ShadowedRule> shadowed(const std::string& yaml) {
    auto set = load_policy_text(yaml, "t.yaml");
    EXPECT_TRUE(set.ok()) << set.error().message;
    auto c = compile(*set);
    EXPECT_TRUE(c.ok()) << c.error().message;
    return find_shadowed(*c);
}

const std::string kHead = "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\n"
                          "metadata: {name: p}\nspec:\n  rules:\n";

} // namespace

TEST(Shadow, ObserveOnlyShadowsSeedPodWhenLoadedFromOneDirectory) {
    std::ostringstream out, err;
    int rc = policy_check_main({std::string(PODGUARD_SOURCE_DIR) + "/deploy/policies"}, out, err);
    EXPECT_EQ(rc, 0) << err.str();
    EXPECT_NE(err.str().find("warning: seed-pod/shell-may-not-touch-nginx"), std::string::npos)
        << err.str();
    EXPECT_NE(err.str().find("observe-only/allow-everything"), std::string::npos) << err.str();

    std::ostringstream out2, err2;
    rc = policy_check_main({std::string(PODGUARD_SOURCE_DIR) + "/deploy/policies/seed-pod.yaml"},
                           out2, err2);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(err2.str(), "") << "seed-pod alone shadows nothing";
}

TEST(Shadow, NarrowerAfterWiderIsReportedWiderAfterNarrowerIsNot) {
    auto s = shadowed(kHead + R"(    - {name: all-signals, action: audit, operations: [signal]}
    - {name: hup, action: block, operations: [{signal: {signals: [HUP]}}], relations: [same_pod]}
)");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].rule, "p/hup");
    EXPECT_EQ(s[0].by, "p/all-signals");
    EXPECT_NE(format(s[0]).find("t.yaml:"), std::string::npos);

    EXPECT_TRUE(
        shadowed(kHead +
                 R"(    - {name: hup, action: block, operations: [{signal: {signals: [HUP]}}]}
    - {name: all-signals, action: audit, operations: [signal]}
)")
            .empty());
}

TEST(Shadow, SelectorsAndPrefixesDecideCover) {
    // web-* covers web-1; an extra clause on the later rule only narrows it.
    auto s = shadowed(
        kHead + R"(    - {name: web, action: audit, operations: [ptrace], source: {pods: ["web-*"]}}
    - {name: web1, action: block, operations: [ptrace], source: {pods: [web-1], containers: [c]}}
)");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].rule, "p/web1");
    // Different pods, other entries, an extra constraint on the earlier rule:
    // not covered.
    EXPECT_TRUE(
        shadowed(kHead +
                 R"(    - {name: a, action: audit, operations: [ptrace], source: {pods: [web-1]}}
    - {name: b, action: block, operations: [ptrace], source: {pods: [web-2]}}
    - {name: c, action: audit, operations: [{procAccess: {entries: [root]}}]}
    - {name: d, action: block, operations: [{procAccess: {entries: [environ]}}]}
    - {name: e, action: audit, operations: [signal], target: {containers: [x]}}
    - {name: f, action: block, operations: [signal]}
)")
            .empty());
}
