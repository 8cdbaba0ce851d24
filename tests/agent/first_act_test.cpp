// A container's FIRST forbidden act is stopped, whether its pod existed
// before the agent, was created after it, acts the instant it starts, or is
// a new `podman exec` process. Real pods (podman kube play), the repo's
// example policies verbatim, no warm-up acts: nothing harmless happens
// first so that the agent can learn about a container.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "agent_it.h"
#include "support/podman_api.h"

namespace podguard::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string policy_file(const std::string& name) {
    return std::string(PODGUARD_SOURCE_DIR) + "/deploy/policies/" + name;
}

// The seed pod: pod "nginx" (as seed-pod.yaml selects it), nginx surviving
// SIGHUP as the real one does, and shell.
// A number in an event's object; 0 when absent or unresolved (null).
long number_at(const Json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<long>() : 0;
}

// A side's host pid; 0 when unresolved (null).
int pid_of(const Json& side) {
    return static_cast<int>(number_at(side, "pid"));
}

PodmanPodOptions seed_pod(const std::string& name = "nginx",
                          std::map<std::string, std::string> labels = {{"app", "demo"}}) {
    // A pod of that name left by a crashed run would make kube play fail.
    (void)podman({"pod", "rm", "-f", "-t", "0", name});
    PodmanPodOptions o;
    o.name = name;
    o.labels = std::move(labels);
    o.containers = {
        {"nginx",
         {"/bin/sh", "-c", "trap 'echo reload' HUP; while :; do /bin/sleep 1000000 & wait; done"},
         {}},
        {"shell", {"/bin/sleep", "1000000"}, {"SYS_PTRACE"}},
    };
    return o;
}

bool killed(const CommandResult& r) {
    // podman exec reports the process' end as 128 + signal.
    return !r.timed_out && ((r.status.signaled() && r.status.signal() == SIGKILL) ||
                            (r.status.exited() && r.status.code() == 128 + SIGKILL));
}

class FirstAct : public ::testing::Test {
  protected:
    void SetUp() override { ensure_busybox_image(); }

    std::vector<std::string> agent_args(const std::string& policy) {
        return {"--policy", policy_file(policy), "--runtime-socket", api.socket(), "--no-store"};
    }

    // The first event from `container` to nginx's process.
    static Json first_event(AgentProcess& agent, const PodmanContainer& source, pid_t target,
                            const std::string& what) {
        return agent.wait_for(
            [&](const Json& e) {
                return pid_of(e["target"]) == target && e["source"]["container"].is_object() &&
                       e["source"]["container"].value("id", "") == source.id;
            },
            10s, what);
    }

    static void expect_killed_event(const Json& ev) {
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("action", ""), "killed");
        EXPECT_NE(ev.value(Json::json_pointer("/policy/rule_id"), 0), 0);
        EXPECT_EQ(ev.value("relation", ""), "same_pod");
        if (ev.contains("reason")) {
            EXPECT_EQ(ev.value("reason", ""), "unidentified_container");
        }
    }

    PodmanApiService api;
};

TEST_F(FirstAct, PodCreatedBeforeTheAgent) {
    PodmanPod pod(seed_pod());
    std::this_thread::sleep_for(1s); // the pod has been there a while
    AgentProcess agent(agent_args("seed-pod.yaml"));
    const auto& nginx = pod.container("nginx");
    auto r = pod.exec("shell", {"kill", "-HUP", std::to_string(nginx.ns_pid)});
    EXPECT_TRUE(killed(r)) << r.describe() << "\n" << agent.diagnostics();
    expect_killed_event(
        first_event(agent, pod.container("shell"), nginx.pid, "the shell's kill -HUP"));
}

// The default posture (closed) lets runc set the pod up: it starts.
TEST_F(FirstAct, PodCreatedAfterTheAgent) {
    AgentProcess agent(agent_args("seed-pod.yaml"));
    PodmanPod pod(seed_pod()); // throws if a container fails to start
    const auto& nginx = pod.container("nginx");
    const std::string path = "/proc/" + std::to_string(nginx.ns_pid) + "/root/etc/nginx/nginx.conf";
    auto r = pod.exec("shell", {"head", path});
    EXPECT_TRUE(killed(r)) << r.describe() << "\n" << agent.diagnostics();
    Json ev = first_event(agent, pod.container("shell"), nginx.pid, "the shell's read of /root");
    expect_killed_event(ev);
    EXPECT_EQ(ev.value("kind", ""), "proc_access") << ev.dump();
}

// A container of the pod started after it, whose entrypoint is the act:
// runc execs it, so nothing of the container runs before it. Returns the
// container's id and exit code.
std::pair<std::string, int> run_in_pod(const PodmanPod& pod, const std::string& name,
                                       const std::vector<std::string>& argv) {
    const std::string full = pod.name() + "-" + name;
    std::vector<std::string> args = {"run",    "-d", "--pod",      pod.name(),
                                     "--name", full, kBusyboxImage};
    args.insert(args.end(), argv.begin(), argv.end());
    auto run = podman(args);
    EXPECT_TRUE(run.success()) << run.describe();
    std::string id = run.out.substr(0, run.out.find_first_of("\n"));
    auto waited = podman({"wait", full}, 30s);
    (void)podman({"rm", "-f", "-t", "0", full});
    EXPECT_TRUE(waited.success()) << waited.describe();
    return {id, waited.success() ? std::stoi(waited.out) : -1};
}

// The default posture (closed): the container's runtime setup is not
// stopped (it starts), its entrypoint's act is, whatever it acts with.
TEST_F(FirstAct, ContainerThatActsTheInstantItStarts) {
    AgentProcess agent(agent_args("seed-pod.yaml"));
    PodmanPodOptions o = seed_pod();
    o.containers.pop_back(); // nginx only; shells join below
    PodmanPod pod(o);
    const auto& nginx = pod.container("nginx");
    const std::string ns_pid = std::to_string(nginx.ns_pid);
    const std::vector<std::vector<std::string>> acts = {
        {"/bin/kill", "-HUP", ns_pid},
        {"/bin/head", "/proc/" + ns_pid + "/root/etc/nginx/nginx.conf"},
    };
    for (const auto& argv : acts) {
        SCOPED_TRACE(argv[0]);
        // Named as the policy's source ("shell"): one after the other.
        auto [id, code] = run_in_pod(pod, "shell", argv);
        EXPECT_EQ(code, 128 + SIGKILL) << "exit code of the acting container\n"
                                       << agent.diagnostics();
        PodmanContainer shell;
        shell.id = id;
        expect_killed_event(first_event(agent, shell, nginx.pid, "the container's act at start"));
    }
}

// Nothing names the containers (--no-metadata): they stay unidentified for
// good, and the closed posture decides everything about them. runc's setup
// of every container (joining the pod's namespaces through
// /proc/<infra>/ns/*, in the new container's cgroup) is not killed: the pod
// starts; the runtime's acts are reported as the host's. A `podman exec`
// process (runc init joins the cgroup, then execs the command) is held to
// the posture from that exec: its first forbidden act is killed.
TEST_F(FirstAct, RuntimeSetupIsNotKilledButExecIs) {
    auto args = agent_args("seed-pod.yaml");
    args.push_back("--no-metadata");
    AgentProcess agent(args);
    PodmanPod pod(seed_pod()); // throws if a container fails to start
    for (const auto& c : pod.containers())
        EXPECT_GT(c.pid, 0) << c.id;
    Json setup = agent.wait_for(
        [&](const Json& e) {
            return e.value("kind", "") == "proc_access" &&
                   e["source"].value("comm", "").rfind("runc:", 0) == 0 &&
                   pid_of(e["target"]) == pod.infra().pid;
        },
        10s, "runc joining the pod's namespaces");
    EXPECT_EQ(setup.value("action", ""), "allowed") << setup.dump();
    EXPECT_FALSE(setup.contains("reason")) << setup.dump();
    for (const auto& e : agent.events()) {
        const std::string comm = e["source"].value("comm", "");
        if (comm.rfind("runc", 0) == 0 || comm == "conmon") {
            EXPECT_NE(e.value("action", ""), "killed") << e.dump();
        }
    }

    const auto& nginx = pod.container("nginx");
    auto r = pod.exec("shell", {"kill", "-HUP", std::to_string(nginx.ns_pid)});
    EXPECT_TRUE(killed(r)) << r.describe() << "\n" << agent.diagnostics();
    Json ev = first_event(agent, pod.container("shell"), nginx.pid, "the exec'd kill -HUP");
    expect_killed_event(ev);
    EXPECT_EQ(ev.value("reason", ""), "unidentified_container") << ev.dump();
}

// A new process entering a container the agent already knows, named as
// Kubernetes names it (kube play's "nginx-shell" is "shell").
TEST_F(FirstAct, NewExecProcessAndKubernetesNamesOnPodman) {
    PodmanPod pod(seed_pod());
    AgentProcess agent(agent_args("seed-pod.yaml"));
    std::this_thread::sleep_for(2s); // metadata listed: names are checked below
    const auto& nginx = pod.container("nginx");
    auto r = pod.exec("shell", {"cat", "/proc/" + std::to_string(nginx.ns_pid) + "/environ"});
    EXPECT_TRUE(killed(r)) << r.describe() << "\n" << agent.diagnostics();
    Json ev = first_event(agent, pod.container("shell"), nginx.pid, "cat of nginx's environ");
    expect_killed_event(ev);
    SCOPED_TRACE(ev.dump());
    EXPECT_EQ(ev["source"]["container"].value("name", ""), "shell");
    EXPECT_EQ(ev["source"]["container"].value("runtime_name", ""), "nginx-shell");
    EXPECT_EQ(ev["target"]["container"].value("name", ""), "nginx");
    EXPECT_EQ(ev["target"]["container"].value("runtime_name", ""), "nginx-nginx");
    EXPECT_FALSE(ev.contains("reason")) << "identified by then";
}

TEST_F(FirstAct, AuditRuleFirstActIsAudited) {
    AgentProcess agent(agent_args("audit-only.yaml"));
    PodmanPod pod(seed_pod("payments", {{"app", "payments"}}));
    const auto& nginx = pod.container("nginx");
    auto r = pod.exec("shell", {"kill", "-HUP", std::to_string(nginx.ns_pid)});
    EXPECT_TRUE(r.success()) << r.describe();
    Json ev = first_event(agent, pod.container("shell"), nginx.pid, "the shell's kill -HUP");
    EXPECT_EQ(ev.value("action", ""), "audited") << ev.dump();
    EXPECT_NE(ev.value(Json::json_pointer("/policy/rule_id"), 0), 0) << ev.dump();
}

// /proc/<pid>/stat's state letter.
char process_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    return close == std::string::npos || close + 2 >= text.size() ? '?' : text[close + 2];
}

std::string metrics_text(const AgentProcess& agent) {
    static const std::regex line(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
    std::smatch m;
    std::string err = agent.stderr_text();
    if (!std::regex_search(err, m, line))
        return "";
    auto r = run_command({"curl", "-s", "http://127.0.0.1:" + m[1].str() + "/metrics"}, 10s);
    return r.out;
}

// From a container with the host's pid namespace, kill -STOP of the agent:
// the sender is killed, the kernel resumes the agent at once, the metric
// counts it, and the agent keeps enforcing.
TEST_F(FirstAct, HostPidContainerCannotKeepTheAgentStopped) {
    AgentProcess agent(agent_args("seed-pod.yaml"));
    const pid_t target = agent.pid();
    std::atomic<bool> done{false};
    std::atomic<long> stopped_us{0};
    std::thread watch([&] {
        auto since = Clock::time_point{};
        while (!done) {
            char s = process_state(target);
            auto now = Clock::now();
            if (s == 'T' && since == Clock::time_point{})
                since = now;
            if (s != 'T' && since != Clock::time_point{}) {
                stopped_us +=
                    std::chrono::duration_cast<std::chrono::microseconds>(now - since).count();
                since = {};
            }
            std::this_thread::sleep_for(200us);
        }
    });
    auto r = podman({"run", "--rm", "--pid=host", "--network", "none", kBusyboxImage, "/bin/kill",
                     "-STOP", std::to_string(target)});
    std::this_thread::sleep_for(500ms);
    done = true;
    watch.join();
    EXPECT_EQ(r.status.code(), 128 + SIGKILL) << "the sender: " << r.describe();
    EXPECT_NE(process_state(target), 'T') << "the agent stayed stopped";
    std::printf("[ measure ] agent stopped for %ld us in all after kill -STOP from a host-pid "
                "container\n",
                stopped_us.load());
    EXPECT_LT(stopped_us.load(), 100000) << "stopped longer than 100 ms";
    // The metric follows the kernel's counter on the agent's next tick.
    const std::string resumed = "podguard_agent_stop_signals_total{result=\"resumed\"} 1";
    std::string metrics = metrics_text(agent);
    for (auto until = Clock::now() + 5s;
         metrics.find(resumed) == std::string::npos && Clock::now() < until;
         metrics = metrics_text(agent))
        std::this_thread::sleep_for(100ms);
    EXPECT_NE(metrics.find(resumed), std::string::npos) << metrics;
    Json ev = agent.wait_for(
        [&](const Json& e) {
            return e.value("kind", "") == "signal" && pid_of(e["target"]) == target &&
                   number_at(e["signal"], "number") == SIGSTOP;
        },
        10s, "the kill -STOP of the agent");
    EXPECT_EQ(ev.value("action", ""), "killed") << ev.dump();
    EXPECT_EQ(ev.value("relation", ""), "container_to_host") << ev.dump();

    // Still enforcing and reporting afterwards.
    PodmanPod pod(seed_pod());
    const auto& nginx = pod.container("nginx");
    auto act = pod.exec("shell", {"kill", "-HUP", std::to_string(nginx.ns_pid)});
    EXPECT_TRUE(killed(act)) << act.describe();
    expect_killed_event(first_event(agent, pod.container("shell"), nginx.pid, "a later act"));
}

} // namespace
} // namespace podguard::test
