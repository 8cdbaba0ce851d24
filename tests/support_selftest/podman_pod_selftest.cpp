#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "support/podman_pod.h"

namespace podguard::test {
namespace {

namespace fs = std::filesystem;

bool is_hex64(const std::string& s) {
    return std::regex_match(s, std::regex("[0-9a-f]{64}"));
}

uint64_t effective_caps(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("CapEff:", 0) == 0)
            return std::stoull(line.substr(7), nullptr, 16);
    return 0;
}

TEST(SupportPodman, BusyboxImageIsBuiltOnceAndCheapAfterwards) {
    ensure_busybox_image();
    auto started = std::chrono::steady_clock::now();
    ensure_busybox_image();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms) << "second call not cached";
    auto exists = podman({"image", "exists", kBusyboxImage});
    EXPECT_TRUE(exists.success()) << exists.describe();
}

// The seed: from one container of a pod sharing its pid namespace, see,
// signal and read the files of another container's process.
TEST(SupportPodman, ReproducesTheSeedScenario) {
    PodmanPod pod;
    const auto& nginx = pod.container("nginx");
    const auto nspid = std::to_string(nginx.ns_pid);

    auto ps = pod.exec("shell", {"/bin/ps", "ax"});
    ASSERT_TRUE(ps.success()) << ps.describe();
    EXPECT_TRUE(std::regex_search(ps.out, std::regex("(^|\\n) *" + nspid + " .*sleep 1000000")))
        << ps.out;
    EXPECT_TRUE(std::regex_search(ps.out, std::regex("(^|\\n) *1 .*catatonit"))) << ps.out;

    auto kill = pod.exec("shell", {"/bin/kill", "-HUP", nspid});
    EXPECT_EQ(kill.status.code(), 0) << kill.describe();
    EXPECT_EQ(::kill(nginx.pid, 0), 0) << "nginx (ignoring SIGHUP) should survive";

    auto head = pod.exec("shell", {"/bin/head", "/proc/" + nspid + "/root/etc/nginx/nginx.conf"});
    ASSERT_TRUE(head.success()) << head.describe();
    EXPECT_EQ(head.out.rfind("user nginx;\nworker_processes 1;\n", 0), 0u) << head.out;

    auto removal = pod.remove();
    std::cout << "[ timings  ] kube play " << pod.play_time().count() << " ms, pod rm -f -t 0 "
              << removal.count() << " ms\n";
    ::testing::Test::RecordProperty("kube_play_ms", std::to_string(pod.play_time().count()));
    ::testing::Test::RecordProperty("pod_rm_ms", std::to_string(removal.count()));
}

TEST(SupportPodman, ExposesIdsPidsNamespacesAndCgroups) {
    PodmanPodOptions options;
    options.labels["team"] = "podguard";
    PodmanPod pod(options);
    const auto& nginx = pod.container("nginx");
    const auto& shell = pod.container("shell");
    const auto& infra = pod.infra();

    EXPECT_TRUE(is_hex64(pod.id())) << pod.id();
    EXPECT_EQ(pod.name().rfind(kTestPrefix, 0), 0u) << pod.name();
    EXPECT_EQ(nginx.full_name, pod.name() + "-nginx");
    EXPECT_EQ(shell.full_name, pod.name() + "-shell");
    EXPECT_EQ(infra.name, "infra");
    for (const auto* c : {&nginx, &shell, &infra}) {
        SCOPED_TRACE(c->full_name);
        EXPECT_TRUE(is_hex64(c->id)) << c->id;
        EXPECT_GT(c->pid, 0);
        EXPECT_EQ(read_nspids(c->pid).back(), c->ns_pid);
        EXPECT_EQ(namespace_inode(c->pid, "pid"), namespace_inode(infra.pid, "pid"));
        EXPECT_NE(namespace_inode(c->pid, "pid"), namespace_inode(::getpid(), "pid"));
        EXPECT_EQ(cgroup2_path_of(c->pid), c->cgroup);
        EXPECT_NE(c->cgroup.find(c->id), std::string::npos) << c->cgroup;
        EXPECT_NE(c->cgroup.find(pod.id()), std::string::npos) << c->cgroup;
        EXPECT_EQ(cgroup_id_of(cgroup2_mount() + c->cgroup), c->cgroup_id);
    }
    EXPECT_EQ(infra.ns_pid, 1);
    EXPECT_NE(namespace_inode(nginx.pid, "mnt"), namespace_inode(shell.pid, "mnt"));
    EXPECT_NE(nginx.cgroup_id, shell.cgroup_id);

    constexpr uint64_t kSysPtrace = 1ull << 19;
    EXPECT_TRUE(effective_caps(shell.pid) & kSysPtrace);
    EXPECT_FALSE(effective_caps(nginx.pid) & kSysPtrace);

    auto labels = podman({"inspect", "--format", "{{index .Config.Labels \"team\"}}", nginx.id});
    EXPECT_EQ(labels.out, "podguard\n") << labels.describe();
    EXPECT_THROW(pod.container("nope"), FixtureError);
}

TEST(SupportPodman, TeardownRemovesPodProcessesAndCgroups) {
    PodmanPodOptions options;
    options.share_process_namespace = false;
    PodmanPod pod(options);
    const auto nginx = pod.container("nginx");
    const auto shell = pod.container("shell");
    // Without a shared namespace each container's process is its own pid 1.
    EXPECT_EQ(nginx.ns_pid, 1);
    EXPECT_NE(namespace_inode(nginx.pid, "pid"), namespace_inode(shell.pid, "pid"));

    pod.remove();
    EXPECT_FALSE(podman({"pod", "exists", pod.name()}).success());
    EXPECT_FALSE(fs::exists(cgroup2_mount() + nginx.cgroup));
    // The pid may be reused later, but not by a process in the old cgroup.
    EXPECT_TRUE(::kill(nginx.pid, 0) != 0 || cgroup2_path_of(nginx.pid) != nginx.cgroup);
}

TEST(SupportPodman, StalePodsOfADeadOwnerAreRemoved) {
    // pid of a child we reaped: certainly not running any more.
    pid_t dead;
    {
        auto child = spawn_on_host([] { return 0; });
        dead = child.pid();
        child.wait_or_throw(5s);
    }
    PodmanPodOptions options;
    options.name = std::string(kTestPrefix) + std::to_string(dead) + "-" + random_hex(8);
    options.containers = {{"only", {"/bin/sleep", "1000000"}, {}}};
    PodmanPod stale(options);
    ASSERT_TRUE(podman({"pod", "exists", stale.name()}).success());

    clean_stale_podman_pods();
    EXPECT_FALSE(podman({"pod", "exists", stale.name()}).success());
}

} // namespace
} // namespace podguard::test
