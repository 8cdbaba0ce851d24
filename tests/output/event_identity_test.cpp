// Events name the node and the deciding rule by policy, rule and severity.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "output/event_identity.h"
#include "output/json_event.h"
#include "policy/compiled.h"
#include "policy/load.h"

using namespace podguard;

TEST(EventIdentity, RuleIdIsNamedByTheTableInForce) {
    publish_rule_identities({{"seed-pod", "shell-may-not-touch-nginx", "high"},
                             {"observe-only", "allow-everything", "info"}});
    set_event_node_name("node-\"a\"");
    Event e;
    e.kind = EventKind::Signal;
    e.policy_rule = 1;
    auto j = nlohmann::json::parse(event_to_json(e));
    EXPECT_EQ(j["node"], "node-\"a\"");
    EXPECT_EQ(j["policy"]["name"], "seed-pod");
    EXPECT_EQ(j["policy"]["rule"], "shell-may-not-touch-nginx");
    EXPECT_EQ(j["policy"]["severity"], "high");
    EXPECT_EQ(j["policy"]["rule_id"], 1);

    // A new load renumbers: the same id now names another rule.
    publish_rule_identities({{"observe-only", "allow-everything", "info"}});
    j = nlohmann::json::parse(event_to_json(e));
    EXPECT_EQ(j["policy"]["name"], "observe-only");

    e.policy_rule = 7; // not in the table: the id alone, still valid JSON
    j = nlohmann::json::parse(event_to_json(e));
    EXPECT_EQ(j["policy"]["rule_id"], 7);
    EXPECT_FALSE(j["policy"].contains("name"));

    e.policy_rule = 0; // nothing matched: no policy member
    j = nlohmann::json::parse(event_to_json(e));
    EXPECT_FALSE(j.contains("policy"));
    set_event_node_name("");
    publish_rule_identities({});
}

TEST(EventIdentity, SeverityIsWrittenOrFollowsTheAction) {
    auto set = policy::load_policy_text(R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata: {name: p}
spec:
  rules:
    - {name: a, action: block, operations: [signal]}
    - {name: b, action: audit, operations: [ptrace]}
    - {name: c, action: allow, severity: low, operations: [procAccess]}
  defaultAction: allow
)",
                                        "p.yaml");
    ASSERT_TRUE(set.ok()) << set.error().message;
    auto c = policy::compile(*set);
    ASSERT_TRUE(c.ok()) << c.error().message;
    std::map<std::string, std::string> sev;
    for (const auto& r : c->rules)
        sev[r.name] = r.severity;
    EXPECT_EQ(sev["p/a"], "high");
    EXPECT_EQ(sev["p/b"], "medium");
    EXPECT_EQ(sev["p/c"], "low");
    EXPECT_EQ(sev["p/default"], "info");
    EXPECT_EQ(sev["podguard-self-protection/agent-is-untouchable"], "critical");

    auto bad = policy::load_policy_text(R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata: {name: p}
spec:
  rules:
    - {name: a, action: block, severity: urgent, operations: [signal]}
)",
                                        "bad.yaml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("bad.yaml:6:"), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find("severity"), std::string::npos) << bad.error().message;
}
