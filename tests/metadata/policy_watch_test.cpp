// PodGuardPolicy objects from the (wire-format) Kubernetes API: the watch
// lists, follows, relists after 410 Gone and reconnects; the agent applies,
// updates and removes them through the atomic policy switch, refuses a
// broken object while its previous version stays, reports each object's
// result, and answers its probes.
#include <fstream>
#include <gtest/gtest.h>
#include <regex>

#include "fake_kube_api.h"
#include "metadata/kubernetes/policy_watch.h"
#include "metrics/metrics_test_util.h"
#include "support/agent.h"

namespace podguard::test {
namespace {

using metadata::kubernetes::PolicyObjects;
using metadata::kubernetes::PolicyWatch;
using metadata::kubernetes::PolicyWatchOptions;
using nlohmann::json;

json make_policy(const std::string& name, const std::vector<std::string>& rule_actions) {
    json rules = json::array();
    for (size_t i = 0; i < rule_actions.size(); ++i)
        rules.push_back({{"name", "r" + std::to_string(i)},
                         {"action", rule_actions[i]},
                         {"operations", json::array({"ptrace"})},
                         {"relations", json::array({"cross_pod"})}});
    return {{"apiVersion", "podguard.io/v1alpha1"},
            {"kind", "PodGuardPolicy"},
            {"metadata",
             {{"name", name},
              {"uid", "uid-" + name},
              {"creationTimestamp", "2026-12-07T00:00:00Z"},
              {"managedFields", json::array()}}},
            {"spec", {{"priority", 10}, {"rules", rules}}}};
}

PolicyObjects wait_changes(PolicyWatch& w, const std::function<bool(const PolicyObjects&)>& pred) {
    PolicyObjects last;
    bool changed = false; // only a snapshot the watch handed over counts
    FakeKubeApi::eventually([&] {
        if (auto c = w.take_changes()) {
            last = *c;
            changed = true;
        }
        return changed && pred(last);
    });
    return last;
}

TEST(PolicyWatch, ListsWatchesRelistsAfterGoneAndReconnects) {
    FakeKubeApi api("tok");
    api.start();
    api.put_policy(make_policy("alpha", {"audit"}));
    PolicyWatchOptions o;
    o.config.server = api.url();
    o.config.token = "tok";
    o.backoff_initial = std::chrono::milliseconds(20);
    PolicyWatch w(o);
    w.start();
    auto objs = wait_changes(w, [](const PolicyObjects& p) { return p.count("alpha") == 1; });
    ASSERT_EQ(objs.count("alpha"), 1u);
    EXPECT_TRUE(w.synced());
    // Server fields are not policy: the document is what the language knows.
    EXPECT_EQ(objs["alpha"].find("managedFields"), std::string::npos) << objs["alpha"];
    EXPECT_EQ(objs["alpha"].find("uid-alpha"), std::string::npos) << objs["alpha"];

    api.put_policy(make_policy("beta", {"block"}));
    api.put_policy(make_policy("alpha", {"audit", "block"}));
    objs = wait_changes(w, [](const PolicyObjects& p) {
        return p.count("beta") && p.count("alpha") && p.at("alpha").find("r1") != std::string::npos;
    });
    EXPECT_EQ(objs.size(), 2u);
    api.delete_policy("beta");
    objs = wait_changes(w, [](const PolicyObjects& p) { return p.size() == 1; });
    EXPECT_EQ(objs.count("beta"), 0u);

    // Deleted while the watch could not see it (the server was down and its
    // history compacted meanwhile): the 410 relist drops it.
    const uint64_t lists = w.lists();
    api.kill();
    api.delete_policy("alpha");
    api.compact();
    api.start();
    objs = wait_changes(w, [](const PolicyObjects& p) { return p.empty(); });
    EXPECT_TRUE(objs.empty());
    EXPECT_GT(w.lists(), lists) << "a 410 must make the watch list again";

    // The API server restarts: the watch reconnects and sees what is new.
    api.kill();
    api.start();
    api.put_policy(make_policy("gamma", {"allow"}));
    objs = wait_changes(w, [](const PolicyObjects& p) { return p.count("gamma") == 1; });
    EXPECT_EQ(objs.count("gamma"), 1u);
    w.stop();
}

int metrics_port(const AgentProcess& agent) {
    static const std::regex line(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
    std::smatch m;
    std::string err = agent.stderr_text();
    if (!std::regex_search(err, m, line))
        throw FixtureError("the agent did not log its metrics port:\n" + err);
    return std::stoi(m[1].str());
}

std::optional<double> metric(int port, const std::string& name,
                             const std::map<std::string, std::string>& labels = {}) {
    auto r = metrics_test::http_get("http://127.0.0.1:" + std::to_string(port) + "/metrics");
    if (r.status != 200)
        return std::nullopt;
    return metrics_test::sample_value(metrics_test::parse_exposition(r.body), name, labels);
}

TEST(PolicyWatchAgent, AppliesUpdatesRefusesAndRemovesPoliciesFromTheApi) {
    FakeKubeApi api("tok");
    api.start();
    api.put_policy(make_policy("api-one", {"audit"}));
    TempDir dir;
    const std::string kubeconfig = dir.file("kubeconfig");
    std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                                 "clusters:\n- name: k\n  cluster: {server: '"
                              << api.url()
                              << "'}\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                                 "users:\n- name: u\n  user: {token: tok}\n";
    AgentProcess agent({"--kubeconfig", kubeconfig, "--no-store"});
    const int port = metrics_port(agent);
    auto get = [&](const std::string& path) {
        return metrics_test::http_get("http://127.0.0.1:" + std::to_string(port) + path);
    };
    // Probes: ready (attached, the API's policies loaded) and healthy.
    EXPECT_TRUE(FakeKubeApi::eventually([&] { return get("/readyz").status == 200; }))
        << get("/readyz").body << agent.stderr_text();
    EXPECT_EQ(get("/healthz").status, 200) << get("/healthz").body;
    EXPECT_EQ(get("/readyz").body, "ready\n");

    auto rules = [&] { return metric(port, "podguard_policy_rules").value_or(-1); };
    auto loaded = [&](const std::string& name) {
        return metric(port, "podguard_policy_object_loaded", {{"policy", name}});
    };
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return loaded("api-one") == 1.0; }))
        << agent.stderr_text();
    const double with_one = rules();

    api.put_policy(make_policy("api-one", {"audit", "block", "allow"})); // updated: +2 rules
    EXPECT_TRUE(FakeKubeApi::eventually([&] { return rules() == with_one + 2; }))
        << rules() << "\n"
        << agent.stderr_text();

    json broken = make_policy("api-one", {"audit"});
    broken["spec"]["rules"][0]["action"] = "deny";
    api.put_policy(broken); // refused: the previous version stays in force
    EXPECT_TRUE(FakeKubeApi::eventually([&] { return loaded("api-one") == 0.0; }))
        << agent.stderr_text();
    EXPECT_EQ(rules(), with_one + 2);
    EXPECT_NE(agent.stderr_text().find("PodGuardPolicy api-one refused"), std::string::npos);

    api.delete_policy("api-one");
    EXPECT_TRUE(FakeKubeApi::eventually([&] { return rules() == with_one - 1; }))
        << rules() << "\n"
        << agent.stderr_text();
    EXPECT_FALSE(loaded("api-one").has_value()) << "the series goes with the object";
    EXPECT_TRUE(agent.running());
    EXPECT_GE(api.policy_watches(), 1);
}

} // namespace
} // namespace podguard::test
