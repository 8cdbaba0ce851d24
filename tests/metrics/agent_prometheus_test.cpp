// The real agent's metrics end to end: `podguard run` watching real
// containers (sandbox pods of real kernel objects, and a podman pod whose
// names come from the agent's runtime metadata provider over a real
// `podman system service` socket), scraped by a real Prometheus that
// evaluates every dashboard panel and alert rule.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <tuple>

#include "metrics/metrics_test_util.h"
#include "metrics/prometheus_test_util.h"
#include "support/agent.h"
#include "support/podman_pod.h"
#include "support/sandbox.h"

namespace mt = podguard::metrics_test;
namespace pt = podguard::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// `podman system service` on a socket in a fresh temp dir, with the fixtures'
// containers.conf: the agent's --runtime-socket. SIGTERM, then SIGKILL, at
// destruction.
class PodmanApiService {
  public:
    PodmanApiService() {
        socket_ = dir_.file("podman.sock");
        std::string podman = mt::find_tool("podman");
        if (podman.empty())
            throw pt::FixtureError("podman not found: apt-get install podman (scripts/setup.sh)");
        std::string conf = pt::podman_containers_conf();
        std::string log = dir_.file("service.log");
        std::vector<std::string> argv{podman, "system", "service", "--time=0", "unix://" + socket_};
        proc_ = pt::spawn_on_host([argv, conf, log] {
            setenv("CONTAINERS_CONF", conf.c_str(), 1);
            int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            return pt::exec_body(argv)();
        });
        bool ready = mt::wait_for(
            [&] {
                if (!proc_.running())
                    return false;
                int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_un addr{};
                addr.sun_family = AF_UNIX;
                snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_.c_str());
                bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
                close(fd);
                return ok;
            },
            15s);
        if (!ready)
            throw pt::FixtureError("podman system service did not open " + socket_ +
                                   (proc_.running() ? " within 15 s" : " (it exited)") +
                                   "\nlog: " + mt::read_file(log));
    }
    ~PodmanApiService() {
        if (!proc_.running())
            return;
        proc_.signal(SIGTERM);
        if (!proc_.wait(5s))
            proc_.kill_and_reap();
    }
    PodmanApiService(const PodmanApiService&) = delete;
    PodmanApiService& operator=(const PodmanApiService&) = delete;

    const std::string& socket() const { return socket_; }

  private:
    pt::TempDir dir_;
    std::string socket_;
    pt::Proc proc_;
};

// The port of `metrics on http://127.0.0.1:<port>/metrics` in the agent's log.
int metrics_port(const pt::AgentProcess& agent) {
    static const std::regex line(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
    std::smatch m;
    std::string err = agent.stderr_text();
    if (!std::regex_search(err, m, line))
        throw pt::FixtureError("the agent did not log its metrics port:\n" + err);
    return std::stoi(m[1].str());
}

std::string scrape(int port) {
    auto r = mt::http_get("http://127.0.0.1:" + std::to_string(port) + "/metrics");
    if (!r.error.empty() || r.status != 200)
        throw pt::FixtureError("GET /metrics: " +
                               (r.error.empty() ? std::to_string(r.status) : r.error));
    return r.body;
}

// The mode the agent logged ("enforcement: signal_fallback (...)").
std::string logged_enforcement_mode(const pt::AgentProcess& agent) {
    static const std::regex line(R"(enforcement: (\w+))");
    std::smatch m;
    std::string err = agent.stderr_text();
    return std::regex_search(err, m, line) ? m[1].str() : "";
}

std::string kernel_release() {
    utsname u{};
    uname(&u);
    return u.release;
}

long read_via_open(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[256];
    long n = read(fd, buf, sizeof buf);
    int err = errno;
    close(fd);
    errno = err;
    return n;
}

// PTRACE_ATTACH (the target stops), then detach again.
long ptrace_attach_detach(pid_t pid) {
    if (ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0)
        return -1;
    int status = 0;
    waitpid(pid, &status, __WALL);
    return ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
}

void expect_ok(const pt::SyscallResult& r, const std::string& what) {
    EXPECT_TRUE(r.ok()) << what << ": " << r.describe();
}

bool is_kind_to(const json& e, const char* kind, pid_t target) {
    return e.value("kind", "") == kind && e.contains("target") && e["target"].is_object() &&
           e["target"].value("pid", 0) == target;
}

// Events from a second container of a sandbox pod to the first one's
// sleeper, and from the host to it: signal, ptrace attach, /proc/<pid>/root.
void sandbox_round(const pt::SandboxContainer& victim_container, const pt::SandboxContainer& actor,
                   const pt::Proc& victim) {
    pid_t ns_pid = victim.ns_pid(), host_pid = victim.pid();
    std::string secret = victim_container.private_dir() + "/secret";
    std::string in_pod = "/proc/" + std::to_string(ns_pid) + "/root" + secret;
    std::string from_host = "/proc/" + std::to_string(host_pid) + "/root" + secret;
    expect_ok(pt::run_in(actor, [&] { return long(kill(ns_pid, SIGCONT)); }), "kill in pod");
    expect_ok(pt::run_in(actor, [&] { return ptrace_attach_detach(ns_pid); }), "ptrace in pod");
    expect_ok(pt::run_in(actor, [&] { return read_via_open(in_pod); }), in_pod);
    expect_ok(pt::run_on_host([&] { return long(kill(host_pid, SIGCONT)); }), "kill from host");
    expect_ok(pt::run_on_host([&] { return ptrace_attach_detach(host_pid); }), "ptrace from host");
    expect_ok(pt::run_on_host([&] { return read_via_open(from_host); }), from_host);
}

// A process of the podman pod's `container`: its cgroup and its pid
// namespace, the way `podman exec` (runc exec) places one.
pt::SyscallResult run_in_podman_container(const pt::PodmanContainer& container,
                                          std::function<long()> fn) {
    std::string ns = "/proc/" + std::to_string(container.pid) + "/ns/pid";
    int pidns = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (pidns < 0)
        throw pt::FixtureError("open " + ns + ": " + std::strerror(errno));
    pt::SpawnSpec spec;
    spec.join_pidns_fd = pidns;
    spec.cgroup_dir = pt::cgroup2_mount() + container.cgroup;
    try {
        auto r = pt::run_syscall(spec, std::move(fn));
        close(pidns);
        return r;
    } catch (...) {
        close(pidns);
        throw;
    }
}

// Cheap podman pod events (no podman exec): shell -> nginx signal and
// ptrace attach, host -> nginx signal (nginx ignores SIGHUP).
void podman_round(const pt::PodmanPod& pod) {
    const auto& nginx = pod.container("nginx");
    const auto& shell = pod.container("shell");
    pid_t ns_pid = nginx.ns_pid, host_pid = nginx.pid;
    expect_ok(run_in_podman_container(shell, [&] { return long(kill(ns_pid, SIGHUP)); }),
              "kill -HUP nginx from shell");
    expect_ok(run_in_podman_container(shell, [&] { return ptrace_attach_detach(ns_pid); }),
              "ptrace nginx from shell");
    expect_ok(pt::run_on_host([&] { return long(kill(host_pid, SIGHUP)); }), "kill -HUP from host");
}

json result_of(const mt::PrometheusServer& prometheus, const std::string& promql) {
    json r = prometheus.query(promql);
    if (!r.is_object() || r.value("status", "") != "success")
        return json::array();
    return r["data"]["result"];
}

std::optional<double> scalar_of(const mt::PrometheusServer& prometheus, const std::string& promql) {
    json result = result_of(prometheus, promql);
    if (result.size() != 1)
        return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
}

} // namespace

// The issue's acceptance test: real events, real agent, real Prometheus,
// every dashboard query and alert expression.
TEST(AgentPrometheus, EveryPanelAndAlertEvaluatesOnTheRealAgentsMetrics) {
    auto t0 = Clock::now();
    std::string prometheus_binary = mt::require_tool("prometheus");
    std::string promtool = mt::require_tool("promtool");
    ASSERT_FALSE(prometheus_binary.empty() || promtool.empty());

    PodmanApiService service;
    pt::PodmanPod podman_pod; // nginx + shell, shared pid namespace
    pt::SandboxPod sandbox;
    auto& app = sandbox.add_container("app");
    auto& debug = sandbox.add_container("debug");
    auto victim = app.spawn_sleeper();
    auto t_fixtures = seconds_since(t0);

    pt::AgentProcess agent(std::vector<std::string>{
        "--metrics-pod-labels", "container", "--runtime-socket", service.socket(), "--bpf-stats"});
    int port = metrics_port(agent);
    mt::PrometheusServer prometheus(prometheus_binary, port);
    auto t_agent = seconds_since(t0);

    // Pod names come from the provider's first listing.
    ASSERT_TRUE(mt::wait_for(
        [&] {
            return mt::sample_value(mt::parse_exposition(scrape(port)),
                                    "podguard_metadata_provider_up",
                                    {{"provider", "runtime"}}) == 1;
        },
        10s))
        << "the runtime metadata provider never came up\n"
        << agent.diagnostics();

    // Round 1, with one `podman exec` of each kind on top.
    const auto& nginx = podman_pod.container("nginx");
    sandbox_round(app, debug, victim);
    podman_round(podman_pod);
    auto kill_exec = podman_pod.exec("shell", {"/bin/kill", "-HUP", std::to_string(nginx.ns_pid)});
    EXPECT_TRUE(kill_exec.success()) << kill_exec.describe();
    auto cat_exec = podman_pod.exec("shell", {"/bin/cat", "/proc/" + std::to_string(nginx.ns_pid) +
                                                              "/root/etc/nginx/nginx.conf"});
    EXPECT_TRUE(cat_exec.success()) << cat_exec.describe();
    for (const char* kind : {"signal", "ptrace", "proc_access"}) {
        agent.wait_for([&](const json& e) { return is_kind_to(e, kind, victim.pid()); }, 10s,
                       std::string(kind) + " to the sandbox victim");
        agent.wait_for(
            [&](const json& e) {
                return is_kind_to(e, kind, nginx.pid) && e.value("relation", "") == "same_pod";
            },
            10s, std::string(kind) + " in the podman pod");
    }
    auto t_round1 = seconds_since(t0);

    // Round 2 once Prometheus holds round 1's series, so rate() sees growth.
    std::string pod_selector = "pod=\"" + podman_pod.name() + "\"";
    ASSERT_TRUE(prometheus.wait_ready(15s)) << "Prometheus did not become ready:\n"
                                            << prometheus.log();
    ASSERT_TRUE(mt::wait_for(
        [&] {
            return !result_of(prometheus, "podguard_pod_events_total{" + pod_selector +
                                              ",relation=\"same_pod\"}")
                        .empty() &&
                   !result_of(prometheus, "podguard_pod_events_total{pod=\"" + sandbox.uid() +
                                              "\",relation=\"host_to_container\"}")
                        .empty();
        },
        15s))
        << "Prometheus never scraped the pod series\n"
        << scrape(port) << prometheus.log();
    sandbox_round(app, debug, victim);
    podman_round(podman_pod);
    ASSERT_TRUE(mt::wait_for(
        [&] {
            auto rate = scalar_of(prometheus, "sum(rate(podguard_pod_events_total{" + pod_selector +
                                                  ",relation=\"same_pod\"}[1m]))");
            return rate && *rate > 0;
        },
        15s))
        << "rate() of the podman pod's same_pod events never rose above 0\n"
        << prometheus.log();
    auto t_scraped = seconds_since(t0);

    // The exposition itself.
    std::string exposition = scrape(port);
    auto check = mt::run_command({promtool, "check", "metrics"}, exposition);
    EXPECT_EQ(check.exit_code, 0) << check.output;

    // Pod labels: the podman pod by its real name, the sandbox pod (no
    // metadata) by its uid, each with its own series.
    json podman_series = result_of(prometheus, "podguard_pod_events_total{" + pod_selector + "}");
    std::set<std::string> podman_kinds, podman_containers;
    for (const auto& s : podman_series) {
        if (s["metric"].value("relation", "") == "same_pod")
            podman_kinds.insert(s["metric"].value("kind", ""));
        podman_containers.insert(s["metric"].value("container", ""));
    }
    EXPECT_EQ(podman_kinds, (std::set<std::string>{"signal", "ptrace", "proc_access"}))
        << podman_series.dump(1);
    // Named by the provider, not the short container id of a nameless one.
    const auto& shell = podman_pod.container("shell");
    EXPECT_TRUE(podman_containers.count(shell.name) || podman_containers.count(shell.full_name))
        << podman_series.dump(1);
    EXPECT_FALSE(podman_containers.count(shell.id.substr(0, 12))) << podman_series.dump(1);
    EXPECT_TRUE(!result_of(prometheus, "podguard_pod_events_total{" + pod_selector +
                                           ",relation=\"host_to_container\",kind=\"signal\"}")
                     .empty());
    for (const char* kind : {"signal", "ptrace", "proc_access"})
        for (const char* relation : {"same_pod", "host_to_container"}) {
            auto value = scalar_of(prometheus, "sum(podguard_pod_events_total{pod=\"" +
                                                   sandbox.uid() + "\",kind=\"" + kind +
                                                   "\",relation=\"" + relation + "\"})");
            EXPECT_TRUE(value && *value >= 2) << "sandbox pod " << kind << " " << relation;
        }

    // Health: BPF run time (the agent holds a stats fd), ring buffer,
    // enforcement mode, build info, metadata provider.
    for (const char* program : {"pg_sys_enter", "pg_signal_generate"}) {
        std::string sel = "{program=\"" + std::string(program) + "\"}";
        auto runs = scalar_of(prometheus, "podguard_bpf_program_runs_total" + sel);
        auto seconds = scalar_of(prometheus, "podguard_bpf_program_run_seconds_total" + sel);
        EXPECT_TRUE(runs && *runs > 0) << program;
        EXPECT_TRUE(seconds && *seconds > 0) << program;
    }
    EXPECT_EQ(scalar_of(prometheus, "podguard_ringbuf_size_bytes"), 16.0 * 1024 * 1024);
    auto used = scalar_of(prometheus, "podguard_ringbuf_used_bytes");
    EXPECT_TRUE(used && *used >= 0);
    std::string mode = logged_enforcement_mode(agent);
    EXPECT_EQ(mode, "signal_fallback") << "this machine has no BPF LSM; the agent said:\n"
                                       << agent.stderr_text();
    EXPECT_EQ(scalar_of(prometheus, "podguard_enforcement_mode{mode=\"" + mode + "\"}"), 1);
    EXPECT_EQ(scalar_of(prometheus, "sum(podguard_enforcement_mode)"), 1);
    EXPECT_EQ(scalar_of(prometheus, "podguard_enforcement_may_complete"),
              mode == "signal_fallback" ? 1 : 0);
    EXPECT_EQ(scalar_of(prometheus,
                        "podguard_build_info{kernel=\"" + kernel_release() + "\",version!=\"\"}"),
              1);
    EXPECT_EQ(scalar_of(prometheus, "podguard_metadata_provider_up{provider=\"runtime\"}"), 1);
    auto hits = scalar_of(prometheus,
                          "podguard_metadata_lookups_total{provider=\"runtime\",result=\"hit\"}");
    EXPECT_TRUE(hits && *hits > 0);

    // Every dashboard query and alert expression: success, and data unless
    // nothing here can produce any (no policy is loaded, so nothing is
    // blocked or killed; nothing is lost, suppressed, dropped or down).
    const std::set<std::string> empty_here{
        "panel 'Blocked operations'",
        "panel 'Killed offenders'",
        "alert PodguardOperationDenied",
        "alert PodguardEventsLost",
        "alert PodguardEventsDroppedInUserspace",
        "alert PodguardRingbufNearlyFull",
        "alert PodguardMetadataProviderDown",
        "alert PodguardPolicyReloadFailing",
        "alert PodguardSourceSuppressed",
        "alert PodguardPriorityEventsLost",
        "alert PodguardAgentStopped",
    };
    auto expected_empty = [&](const std::string& where) {
        if (where == "alert PodguardEnforcementFallback")
            return mode != "signal_fallback";
        for (const auto& prefix : empty_here)
            if (where.rfind(prefix, 0) == 0)
                return true;
        return false;
    };
    auto exprs = mt::dashboard_expressions(mt::load_dashboard());
    auto alerts = mt::alert_expressions();
    exprs.insert(exprs.end(), alerts.begin(), alerts.end());
    std::size_t with_data = 0;
    for (const auto& e : exprs) {
        std::string promql = mt::substitute_variables(e.expr);
        json r = prometheus.query(promql);
        ASSERT_TRUE(r.is_object()) << e.where << ": no answer from Prometheus";
        EXPECT_EQ(r.value("status", ""), "success") << e.where << ": " << promql << "\n"
                                                    << r.dump();
        bool empty = r["data"]["result"].empty();
        with_data += !empty;
        if (expected_empty(e.where))
            EXPECT_TRUE(empty) << e.where << " has data: " << promql << "\n" << r.dump();
        else
            EXPECT_FALSE(empty) << e.where << " has no data: " << promql;
    }
    // The panel the issue is about: cross-container events by relation.
    json by_relation =
        result_of(prometheus, mt::substitute_variables(
                                  "sum by (relation) (rate(podguard_pod_events_total{namespace=~"
                                  "\"$namespace\", pod=~\"$pod\", relation=~\"same_pod|cross_pod|"
                                  "container_to_host|host_to_container\"}[$__rate_interval]))"));
    std::set<std::string> relations;
    for (const auto& s : by_relation)
        relations.insert(s["metric"].value("relation", ""));
    EXPECT_TRUE(relations.count("same_pod") && relations.count("host_to_container"))
        << by_relation.dump(1);

    // Rules: all evaluate; cross-container ptrace fires; the fallback alert
    // waits out its 5 minutes; the rest stay quiet.
    std::map<std::string, std::string> states;
    bool settled = mt::wait_for(
        [&] {
            states.clear();
            json rules = prometheus.rules();
            if (!rules.is_object())
                return false;
            for (const auto& group : rules["data"]["groups"])
                for (const auto& rule : group["rules"]) {
                    EXPECT_EQ(rule.value("health", ""), "ok") << rule.dump(1);
                    states[rule.value("name", "")] = rule.value("state", "");
                }
            return states["PodguardCrossContainerPtrace"] == "firing";
        },
        5s);
    EXPECT_TRUE(settled) << json(states).dump(1);
    EXPECT_EQ(states.size(), alerts.size());
    for (const auto& [name, state] : states) {
        if (name == "PodguardCrossContainerPtrace")
            continue;
        if (name == "PodguardEnforcementFallback" && mode == "signal_fallback")
            EXPECT_EQ(state, "pending") << name;
        else
            EXPECT_EQ(state, "inactive") << name;
    }
    EXPECT_TRUE(prometheus.running()) << prometheus.log();
    EXPECT_TRUE(agent.running()) << agent.diagnostics();

    auto t_checked = seconds_since(t0);
    std::string containers;
    for (const auto& c : podman_containers)
        containers += " " + c;
    std::printf("[ labels ] podman pod %s: containers%s; sandbox pod %s\n",
                podman_pod.name().c_str(), containers.c_str(), sandbox.uid().c_str());
    auto rm = podman_pod.remove();
    std::printf("[ timings ] fixtures %.1fs, agent+prometheus start %.1fs, round 1 %.1fs, "
                "scraped %.1fs, checked %.1fs (%zu expressions, %zu with data), pod rm %.1fs\n",
                t_fixtures, t_agent, t_round1, t_scraped, t_checked, exprs.size(), with_data,
                rm.count() / 1000.0);
}

// --metrics-max-pod-series with real containers: more pods than the cap act,
// the exported pod tuples stay at the cap plus "_overflow", and the overflow
// counter keeps rising with the pods that did not get a slot.
TEST(AgentPrometheus, PodSeriesStayCappedWithRealContainers) {
    constexpr int kCap = 3, kPods = 6;
    pt::AgentProcess agent(std::vector<std::string>{"--metrics-pod-labels", "pod",
                                                    "--metrics-max-pod-series",
                                                    std::to_string(kCap), "--no-metadata"});
    int port = metrics_port(agent);

    struct PodUnderTest {
        std::unique_ptr<pt::SandboxPod> pod;
        pt::SandboxContainer* app = nullptr;
        pt::SandboxContainer* peer = nullptr;
        pt::Proc victim;
    };
    std::vector<PodUnderTest> pods(kPods);
    for (auto& p : pods) {
        p.pod = std::make_unique<pt::SandboxPod>();
        p.app = &p.pod->add_container("app");
        p.peer = &p.pod->add_container("peer");
        p.victim = p.app->spawn_sleeper();
    }
    auto signal_each = [&](int times) {
        for (auto& p : pods) {
            pid_t target = p.victim.ns_pid();
            for (int i = 0; i < times; ++i)
                expect_ok(pt::run_in(*p.peer, [&] { return long(kill(target, SIGCONT)); }),
                          "kill in pod " + p.pod->uid());
        }
        for (auto& p : pods) {
            pid_t host_pid = p.victim.pid();
            agent.wait_for([&](const json& e) { return is_kind_to(e, "signal", host_pid); }, 10s,
                           "signal in pod " + p.pod->uid());
        }
    };
    struct View {
        std::set<std::pair<std::string, std::string>> tuples; // namespace, pod
        double overflow = 0, pod_series = 0, same_pod_signals = 0;
    };
    auto view = [&] {
        auto samples = mt::parse_exposition(scrape(port));
        View v;
        for (const auto& s : samples)
            if (s.name == "podguard_pod_events_total")
                v.tuples.insert({s.labels.at("namespace"), s.labels.at("pod")});
        v.overflow =
            mt::sample_value(samples, "podguard_metric_series_overflow_total").value_or(-1);
        v.pod_series = mt::sample_value(samples, "podguard_metric_pod_series").value_or(-1);
        v.same_pod_signals =
            mt::sample_value(samples, "podguard_events_total",
                             {{"kind", "signal"}, {"relation", "same_pod"}, {"action", "allowed"}})
                .value_or(-1);
        return v;
    };
    auto describe = [](const View& v) {
        std::string out = "tuples:";
        for (const auto& [ns, pod] : v.tuples)
            out += " {" + ns + "," + pod + "}";
        return out + " overflow=" + std::to_string(v.overflow) +
               " pod_series=" + std::to_string(v.pod_series);
    };

    signal_each(1);
    View first;
    // At least kPods - kCap of these pods found no slot (other tests' pods
    // on this machine may take slots too, never free ones).
    ASSERT_TRUE(mt::wait_for(
        [&] {
            first = view();
            return first.overflow >= kPods - kCap && first.same_pod_signals >= kPods;
        },
        5s))
        << describe(first);
    EXPECT_LE(first.tuples.size(), std::size_t{kCap + 1}) << describe(first);
    EXPECT_TRUE(first.tuples.count({"_overflow", "_overflow"})) << describe(first);
    EXPECT_EQ(first.pod_series, kCap) << describe(first);

    signal_each(3);
    View second;
    ASSERT_TRUE(mt::wait_for(
        [&] {
            second = view();
            return second.overflow >= first.overflow + 3 * (kPods - kCap);
        },
        5s))
        << "overflow did not rise: before " << describe(first) << "\nafter " << describe(second);
    EXPECT_LE(second.tuples.size(), std::size_t{kCap + 1}) << describe(second);
    EXPECT_EQ(second.pod_series, kCap) << describe(second);
    // Slots are not reassigned: a pod that had one keeps it.
    for (const auto& t : first.tuples)
        EXPECT_TRUE(second.tuples.count(t)) << t.second;
    std::printf("[ cap ] %s\n", describe(second).c_str());
}
