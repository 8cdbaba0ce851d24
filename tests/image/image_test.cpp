// The container image run the way the DaemonSet runs it: the podman
// arguments come from the rendered DaemonSet (capabilities, host pid
// namespace, host mounts, read-only root, args), not from a copy of them.
// The image must see the seed pod's `kill -HUP` with names and enforce the
// seed policy.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include "metrics/metrics_test_util.h"
#include "support/agent.h"
#include "support/podman_pod.h"
#include "support/process.h"

namespace podguard::test {
namespace {

const std::string kSource = PODGUARD_SOURCE_DIR;

std::string build_dir() {
    std::string bin = PODGUARD_BINARY; // <build>/userspace/podguard
    return bin.substr(0, bin.rfind("/userspace/"));
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The overlay that also loads policy files: its DaemonSet and ConfigMap.
std::vector<YAML::Node> rendered_overlay() {
    auto r =
        run_command({"kubectl", "kustomize", kSource + "/deploy/overlays/policy-configmap"}, 60s);
    if (!r.success())
        throw FixtureError("kubectl kustomize: " + r.describe());
    return YAML::LoadAll(r.out);
}

YAML::Node of_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
    for (const auto& doc : docs)
        if (doc["kind"] && doc["kind"].as<std::string>() == kind)
            return doc;
    throw FixtureError("no " + kind + " rendered");
}

bool until(const std::function<bool()>& pred, int timeout_ms) {
    for (int waited = 0;; waited += 100) {
        if (pred())
            return true;
        if (waited >= timeout_ms)
            return false;
        usleep(100 * 1000);
    }
}

class ImageTest : public ::testing::Test {
  protected:
    void TearDown() override {
        if (!container_.empty())
            (void)podman({"rm", "-f", "-t", "0", container_});
    }
    std::string container_;
};

TEST_F(ImageTest, RunsAsTheDaemonSetSaysSeesTheSeedPodWithNamesAndEnforcesSeedPolicy) {
    // The image, from this build (scripts/build-image.sh reuses its layers).
    auto built =
        run_command({kSource + "/scripts/build-image.sh", "--from-host-build", build_dir()},
                    std::chrono::minutes(20));
    ASSERT_TRUE(built.success()) << built.describe();
    std::string out = built.out;
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    const std::string image = out.substr(out.rfind('\n') + 1);
    ASSERT_EQ(image.find("localhost/podguard:"), 0u) << built.out;
    std::cout << built.out;

    PodmanPodOptions po;
    po.containers = {
        {"nginx",
         {"/bin/sh", "-c", "trap 'echo reload' HUP; while :; do /bin/sleep 1000000 & wait; done"},
         {}},
        {"shell", {"/bin/sleep", "1000000"}, {"SYS_PTRACE"}},
    };
    PodmanPod pod(po);

    TempDir dir;
    const auto docs = rendered_overlay();
    // The ConfigMap as the kubelet projects it: one file per key. The seed
    // policy names pod "nginx"; the fixture names pods uniquely.
    ASSERT_EQ(::mkdir(dir.file("policies").c_str(), 0755), 0);
    for (const auto& kv : of_kind(docs, "ConfigMap")["data"]) {
        std::string policy = kv.second.as<std::string>();
        for (size_t at; (at = policy.find("pods: [nginx]")) != std::string::npos;)
            policy.replace(at, 13, "pods: [" + pod.name() + "]");
        std::ofstream(dir.file("policies/" + kv.first.as<std::string>())) << policy;
    }
    ASSERT_NE(read_file(dir.file("policies/seed-pod.yaml")).find(pod.name()), std::string::npos);

    // Container names come from the runtime's API here (on a cluster: the
    // Kubernetes API).
    const std::string sock = dir.file("podman.sock");
    Proc service =
        spawn_exec_on_host({"/usr/bin/env", "CONTAINERS_CONF=" + podman_containers_conf(), "podman",
                            "system", "service", "--time=0", "unix://" + sock});
    ASSERT_TRUE(until([&] { return access(sock.c_str(), F_OK) == 0; }, 15000));

    // podman run, from the DaemonSet.
    YAML::Node ds = of_kind(docs, "DaemonSet");
    YAML::Node spec = ds["spec"]["template"]["spec"];
    YAML::Node c = spec["containers"][0];
    YAML::Node sc = c["securityContext"];
    container_ = "podguard-image-test-" + std::to_string(getpid());
    std::vector<std::string> argv = {"run", "-d", "--name", container_, "--network", "host"};
    if (spec["hostPID"].as<bool>(false))
        argv.insert(argv.end(), {"--pid", "host"});
    if (sc["privileged"].as<bool>(false)) {
        argv.push_back("--privileged");
    } else {
        for (const auto& cap : sc["capabilities"]["drop"])
            argv.insert(argv.end(), {"--cap-drop", cap.as<std::string>()});
        for (const auto& cap : sc["capabilities"]["add"])
            argv.insert(argv.end(), {"--cap-add", cap.as<std::string>()});
    }
    if (sc["seccompProfile"] && sc["seccompProfile"]["type"].as<std::string>() == "Unconfined")
        argv.insert(argv.end(), {"--security-opt", "seccomp=unconfined"});
    if (sc["allowPrivilegeEscalation"] && !sc["allowPrivilegeEscalation"].as<bool>())
        argv.insert(argv.end(), {"--security-opt", "no-new-privileges"});
    if (sc["readOnlyRootFilesystem"].as<bool>(false))
        argv.push_back("--read-only");
    if (sc["runAsUser"])
        argv.insert(argv.end(), {"--user", sc["runAsUser"].as<std::string>()});
    std::map<std::string, YAML::Node> volumes;
    for (const auto& v : spec["volumes"])
        volumes[v["name"].as<std::string>()] = static_cast<const YAML::Node&>(v);
    for (const auto& m : c["volumeMounts"]) {
        YAML::Node v = volumes.at(m["name"].as<std::string>());
        std::string mount = m["mountPath"].as<std::string>();
        std::string ro = m["readOnly"].as<bool>(false) ? ":ro" : "";
        if (v["hostPath"]) {
            std::string host = v["hostPath"]["path"].as<std::string>();
            // The node's own directories (events, store) become the test's.
            if (v["hostPath"]["type"] &&
                v["hostPath"]["type"].as<std::string>() == "DirectoryOrCreate") {
                host = dir.file(m["name"].as<std::string>());
                ASSERT_EQ(::mkdir(host.c_str(), 0755), 0);
            }
            argv.insert(argv.end(), {"-v", host + ":" + mount + ro});
        } else if (v["configMap"]) {
            argv.insert(argv.end(), {"-v", dir.file("policies") + ":" + mount + ":ro"});
        } else if (v["emptyDir"] && mount != "/tmp") { // --read-only has its own /tmp
            argv.insert(argv.end(), {"--tmpfs", mount});
        }
    }
    argv.insert(argv.end(), {"-v", sock + ":/run/podguard-test/podman.sock"});
    argv.insert(argv.end(), {"-e", "NODE_NAME=image-test-node", image});
    const int port = free_port();
    for (const auto& a : c["args"]) {
        std::string arg = a.as<std::string>();
        if (arg.rfind("--metrics-address=", 0) == 0)
            arg = "--metrics-address=127.0.0.1:" + std::to_string(port);
        argv.push_back(arg);
    }
    argv.push_back("--runtime-socket=/run/podguard-test/podman.sock");
    auto started = podman(argv, 60s);
    ASSERT_TRUE(started.success()) << started.describe();

    // The kubelet's probes: ready, then healthy.
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    bool ready =
        until([&] { return metrics_test::http_get(base + "/readyz", 1000).status == 200; }, 60000);
    ASSERT_TRUE(ready) << podman({"logs", container_}).describe();
    EXPECT_EQ(metrics_test::http_get(base + "/healthz").status, 200);

    // The seed: from the shell, kill -HUP nginx's pid in the pod.
    const std::string target = std::to_string(pod.container("nginx").ns_pid);
    auto hup = pod.exec("shell", {"/bin/kill", "-HUP", target});
    EXPECT_FALSE(hup.success()) << "the seed policy must stop the sender: " << hup.describe();

    const std::string events = dir.file("events") + "/events.jsonl";
    nlohmann::json ev;
    bool seen = until(
        [&] {
            std::istringstream lines(read_file(events));
            for (std::string line; std::getline(lines, line);) {
                auto j = nlohmann::json::parse(line, nullptr, false);
                if (j.is_object() && j.value("kind", "") == "signal" &&
                    j["target"].value("pid", 0) == pod.container("nginx").pid &&
                    j["signal"].value("number", 0) == 1) {
                    ev = j;
                    return true;
                }
            }
            return false;
        },
        15000);
    ASSERT_TRUE(seen) << read_file(events).substr(0, 4000)
                      << podman({"logs", container_}).describe();
    SCOPED_TRACE(ev.dump() + "\n" + podman({"logs", container_}).describe());
    EXPECT_EQ(ev.value("node", ""), "image-test-node");
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_TRUE(ev.value("action", "") == "killed" || ev.value("action", "") == "blocked");
    ASSERT_TRUE(ev.contains("policy"));
    EXPECT_EQ(ev["policy"].value("name", ""), "seed-pod");
    EXPECT_EQ(ev["policy"].value("rule", ""), "shell-may-not-touch-nginx");
    EXPECT_NE(ev["source"]["container"].value("name", "").find("shell"), std::string::npos);
    EXPECT_NE(ev["target"]["container"].value("name", "").find("nginx"), std::string::npos);
    EXPECT_EQ(ev["source"]["pod"].value("name", ""), pod.name());
    struct stat st;
    ASSERT_EQ(::stat(events.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

} // namespace
} // namespace podguard::test
