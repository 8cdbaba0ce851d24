// The seed scenario end to end: a real podman pod with a shared pid
// namespace, `podman exec` into the shell container, and the three things the
// seed did to nginx. One pod for the suite (podman is slow), one agent per test.
#include <signal.h>

#include "agent_it.h"

namespace podguard::test {
namespace {

class AgentSeedScenario : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        PodmanPodOptions options;
        // nginx reloads on SIGHUP, so it has a handler: the signal is delivered.
        options.containers = {
            {"nginx",
             {"/bin/sh", "-c",
              "trap 'echo reload' HUP; while :; do /bin/sleep 1000000 & wait; done"},
             {}},
            {"shell", {"/bin/sleep", "1000000"}, {"SYS_PTRACE"}},
        };
        try {
            pod_ = new PodmanPod(options);
        } catch (const std::exception& e) {
            setup_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete pod_;
        pod_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(pod_, nullptr) << "podman pod: " << setup_error_;
        agent_ = std::make_unique<AgentProcess>(observe_only());
    }

    const PodmanContainer& nginx() const { return pod_->container("nginx"); }
    const PodmanContainer& shell() const { return pod_->container("shell"); }
    std::string nginx_ns_pid() const { return std::to_string(nginx().ns_pid); }

    // From the shell container to nginx's main process.
    Json cross_container_event(const std::string& kind, const EventPredicate& more,
                               const std::string& what) {
        Json ev = agent_->wait_for(
            [&](const Json& e) {
                return e.value("kind", "") == kind && e["target"]["pid"] == nginx().pid &&
                       e["source"]["container"].is_object() &&
                       e["source"]["container"].value("id", "") == shell().id && more(e);
            },
            10s, what);
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("relation", ""), "same_pod");
        EXPECT_EQ(ev.value("action", ""), "allowed");
        const Json& s = ev["source"];
        const Json& sc = s["container"];
        EXPECT_EQ(sc.value("id", ""), shell().id);
        EXPECT_EQ(sc.value("runtime", ""), "libpod");
        EXPECT_EQ(sc.value("pod_uid", ""), pod_->id());
        EXPECT_EQ(s.value("cgroup_id", uint64_t{0}), shell().cgroup_id);
        // Both in the pod's pid namespace, the source a fresh exec'd process.
        EXPECT_EQ(s.value("pidns", 0ul), namespace_inode(nginx().pid, "pid"));
        EXPECT_GT(s.value("ns_pid", 0), 0);
        EXPECT_NE(s.value("pid", 0), s.value("ns_pid", 0));
        Side target = observe(nginx().pid).in(nginx(), pod_->id());
        expect_side(ev["target"], target, "target");
        EXPECT_EQ(ev["target"].value("ns_pid", 0), nginx().ns_pid);
        return ev;
    }

    static PodmanPod* pod_;
    static std::string setup_error_;
    std::unique_ptr<AgentProcess> agent_;
};

PodmanPod* AgentSeedScenario::pod_ = nullptr;
std::string AgentSeedScenario::setup_error_;

TEST_F(AgentSeedScenario, PsReadsNginxCommandLine) {
    auto r = pod_->exec("shell", {"ps", "ax"});
    ASSERT_TRUE(r.success()) << r.describe();
    ASSERT_NE(r.out.find("trap 'echo reload' HUP"), std::string::npos) << r.out;
    const std::string path = "/proc/" + nginx_ns_pid() + "/cmdline";
    Json ev = cross_container_event(
        "proc_access",
        [&](const Json& e) { return e["proc_access"].value("entry", "") == "cmdline"; },
        "ps reading nginx's cmdline");
    EXPECT_EQ(ev["proc_access"].value("path", ""), path);
    EXPECT_EQ(ev["proc_access"].value("syscall", ""), "openat");
    EXPECT_GE(ev["proc_access"].value("result", -1L), 0);
    EXPECT_EQ(ev["proc_access"].value("target_arg", 0), nginx().ns_pid);
    EXPECT_EQ(ev["source"].value("comm", ""), "ps");
    EXPECT_EQ(ev["source"].value("exe", ""), "/bin/ps");
}

TEST_F(AgentSeedScenario, KillHupReachesNginx) {
    auto r = pod_->exec("shell", {"kill", "-HUP", nginx_ns_pid()});
    ASSERT_TRUE(r.success()) << r.describe();
    Json ev = cross_container_event(
        "signal", [](const Json& e) { return e["signal"].value("number", 0) == SIGHUP; },
        "kill -HUP of nginx");
    const Json& s = ev["signal"];
    EXPECT_EQ(s.value("name", ""), "SIGHUP");
    EXPECT_EQ(s.value("syscall", ""), "kill");
    EXPECT_EQ(s.value("result", -1L), 0);
    EXPECT_EQ(s.value("target_arg", 0), nginx().ns_pid);
    EXPECT_EQ(s.value("delivery", ""), "delivered");
    EXPECT_EQ(ev["source"].value("comm", ""), "kill");
    EXPECT_EQ(ev["source"].value("exe", ""), "/bin/kill");
}

TEST_F(AgentSeedScenario, HeadReadsNginxConfThroughRoot) {
    const std::string path = "/proc/" + nginx_ns_pid() + "/root/etc/nginx/nginx.conf";
    auto r = pod_->exec("shell", {"head", path});
    ASSERT_TRUE(r.success()) << r.describe();
    ASSERT_EQ(r.out.rfind("user nginx;", 0), 0u) << r.out;
    Json ev = cross_container_event(
        "proc_access", [&](const Json& e) { return e["proc_access"].value("entry", "") == "root"; },
        "head of nginx.conf through /proc/<pid>/root");
    EXPECT_EQ(ev["proc_access"].value("path", ""), path);
    EXPECT_EQ(ev["proc_access"].value("syscall", ""), "openat");
    EXPECT_GE(ev["proc_access"].value("result", -1L), 0);
    EXPECT_EQ(ev["proc_access"].value("target_arg", 0), nginx().ns_pid);
    EXPECT_EQ(ev["source"].value("comm", ""), "head");
    EXPECT_EQ(ev["source"].value("exe", ""), "/bin/head");
}

} // namespace
} // namespace podguard::test
