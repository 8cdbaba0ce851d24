// Policy enforcement, reload, pinning and the event store, end to end through
// the real podguard binary. Sandbox pods carry no pod metadata or container
// names, so the policies here select by relation and signal number.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "agent_it.h"

namespace podguard::test {
namespace {

using namespace std::chrono_literals;

// SIGUSR1 between containers of a pod: killed; SIGUSR2: audited; the rest
// (SIGHUP here) falls through to "nothing matched": allowed.
constexpr char kBlockPolicy[] = R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata:
  name: test-block
spec:
  rules:
    - name: no-usr1-in-pod
      action: block
      operations:
        - signal: {signals: [SIGUSR1]}
      relations: [same_pod]
    - name: audit-usr2-in-pod
      action: audit
      operations:
        - signal: {signals: [SIGUSR2]}
      relations: [same_pod]
)";

constexpr char kAllowPolicy[] = R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata:
  name: test-allow
spec:
  rules:
    - name: usr1-in-pod-is-fine
      action: allow
      operations:
        - signal: {signals: [SIGUSR1]}
      relations: [same_pod]
)";

constexpr char kBrokenPolicy[] = "apiVersion: podguard.io/v1alpha1\nkind: [unclosed\n  : {\n";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out)
        throw FixtureError("cannot write " + path);
}

size_t count_of(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size()))
        ++n;
    return n;
}

// Waits until the agent's log holds `needle` more than `before` times.
bool wait_for_log(const AgentProcess& agent, const std::string& needle, size_t before,
                  std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (count_of(agent.stderr_text(), needle) > before)
            return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

class AgentPolicy : public ::testing::Test {
  protected:
    TempDir dir;
    std::string policy_path = dir.file("policy.yaml");
    SandboxPod pod;
    SandboxContainer& nginx = pod.add_container("nginx");
    SandboxContainer& shell = pod.add_container("shell");
    Victim victim = spawn_victim(nginx);

    Acted send(int sig) {
        return act(shell, [this, sig](long*) { return ::kill(victim.ns_pid(), sig); });
    }
    static bool killed(const Acted& a) {
        return !a.result.reported && a.result.status.signaled() &&
               a.result.status.signal() == SIGKILL;
    }
    Json signal_event(AgentProcess& agent, const Acted& a) {
        return agent.wait_for(between("signal", a.pid, victim.pid()), 5s,
                              "signal from " + std::to_string(a.pid));
    }
    void expect_allowed(AgentProcess& agent, int sig) {
        auto a = send(sig);
        ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
        Json ev = signal_event(agent, a);
        EXPECT_EQ(ev.value("action", ""), "allowed") << ev.dump();
        EXPECT_EQ(ev.value("relation", ""), "same_pod") << ev.dump();
    }
    void expect_killed(AgentProcess& agent, int sig) {
        auto a = send(sig);
        ASSERT_TRUE(killed(a)) << a.result.describe() << "\n" << agent.diagnostics();
        Json ev = signal_event(agent, a);
        EXPECT_EQ(ev.value("action", ""), "killed") << ev.dump();
        // Named by policy, rule and severity (the id changes with every load).
        ASSERT_TRUE(ev.contains("policy")) << ev.dump();
        EXPECT_EQ(ev["policy"].value("name", ""), "test-block") << ev.dump();
        EXPECT_EQ(ev["policy"].value("rule", ""), "no-usr1-in-pod") << ev.dump();
        EXPECT_EQ(ev["policy"].value("severity", ""), "high") << ev.dump();
        EXPECT_NE(ev["policy"].value("rule_id", 0), 0) << ev.dump();
        EXPECT_FALSE(ev.value("node", "").empty()) << ev.dump();
    }
};

TEST_F(AgentPolicy, BlockKillsTheSenderAuditAndOtherSignalsPass) {
    write_file(policy_path, kBlockPolicy);
    AgentProcess agent({"--policy", policy_path});
    // The first act of either container is the forbidden one: nothing
    // harmless first for the agent to learn about them.
    expect_killed(agent, SIGUSR1);
    expect_allowed(agent, SIGHUP);

    auto audited = send(SIGUSR2);
    ASSERT_TRUE(audited.result.reported && audited.result.ret == 0) << audited.result.describe();
    Json ev = signal_event(agent, audited);
    EXPECT_EQ(ev.value("action", ""), "audited") << ev.dump();
    ASSERT_TRUE(ev.contains("policy")) << ev.dump();
    EXPECT_EQ(ev["policy"].value("rule", ""), "audit-usr2-in-pod") << ev.dump();
    EXPECT_EQ(ev["policy"].value("severity", ""), "medium") << ev.dump();

    EXPECT_TRUE(victim.proc.running()) << "the victim survives every signal it was sent";
}

TEST_F(AgentPolicy, SighupReloadsAndABrokenFileKeepsThePreviousPolicy) {
    write_file(policy_path, kAllowPolicy);
    AgentProcess agent({"--policy", policy_path});
    ASSERT_EQ(count_of(agent.stderr_text(), "policy loaded"), 1u) << agent.stderr_text();
    expect_allowed(agent, SIGHUP);
    expect_allowed(agent, SIGUSR1);

    size_t loaded = count_of(agent.stderr_text(), "policy loaded");
    write_file(policy_path, kBlockPolicy);
    ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_for_log(agent, "policy loaded", loaded)) << agent.stderr_text();
    expect_killed(agent, SIGUSR1);

    const std::string kept = "previous policy stays in force";
    size_t failed = count_of(agent.stderr_text(), kept);
    write_file(policy_path, kBrokenPolicy);
    ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_for_log(agent, kept, failed)) << agent.stderr_text();
    expect_killed(agent, SIGUSR1);
    expect_allowed(agent, SIGHUP);
    EXPECT_TRUE(agent.running()) << agent.diagnostics();
}

// Removes whatever is pinned, also when the test failed half way.
struct UnpinGuard {
    ~UnpinGuard() { (void)run_command({podguard_binary(), "unpin"}, 10s); }
};

TEST_F(AgentPolicy, PinnedEnforcementOutlivesTheDaemonUntilUnpinned) {
    UnpinGuard guard; // declared before the agents: unpins after they are gone
    write_file(policy_path, kBlockPolicy);
    {
        auto first = std::make_unique<AgentProcess>(
            std::vector<std::string>{"--pin", "--policy", policy_path});
        expect_killed(*first, SIGUSR1);
        expect_allowed(*first, SIGHUP);
        ASSERT_EQ(::kill(first->pid(), SIGKILL), 0);
        ExitStatus st = first->stop();
        ASSERT_TRUE(st.signaled() && st.signal() == SIGKILL) << st.describe();
        ASSERT_EQ(::access("/sys/fs/bpf/podguard", F_OK), 0) << "nothing pinned";
    }

    auto orphaned = send(SIGUSR1);
    EXPECT_TRUE(killed(orphaned)) << "no daemon, pinned programs: " << orphaned.result.describe();

    {
        AgentProcess second({"--pin", "--policy", policy_path});
        expect_killed(second, SIGUSR1);
        expect_allowed(second, SIGHUP);
        second.stop();
    }

    auto still = send(SIGUSR1);
    EXPECT_TRUE(killed(still)) << "pins survive a clean stop: " << still.result.describe();

    auto unpin = run_command({podguard_binary(), "unpin"}, 10s);
    ASSERT_TRUE(unpin.success()) << unpin.describe();
    EXPECT_NE(::access("/sys/fs/bpf/podguard", F_OK), 0) << "pins left after unpin";
    auto freed = send(SIGUSR1);
    EXPECT_TRUE(freed.result.reported && freed.result.ret == 0)
        << "after unpin nothing enforces: " << freed.result.describe();
}

TEST_F(AgentPolicy, StoredProcAccessNamesItsExitedAncestors) {
    std::string store = dir.file("ev.db");
    AgentProcess agent({"--store", store});
    const std::string secret = "/proc/" + std::to_string(nginx.main().ns_pid()) + "/root" +
                               nginx.private_dir() + "/secret";
    // The agent reads nothing until the shell and its cat are gone: the
    // ancestry must come from what the agent kept of exited processes.
    Proc outer;
    {
        AgentPause pause(agent);
        outer = shell.spawn_exec({"/bin/sh", "-c", "/bin/cat " + secret + " >/dev/null; exit 0"});
        ExitStatus outer_status = outer.wait_or_throw(5s);
        ASSERT_TRUE(outer_status.success()) << outer_status.describe();
    }
    Json ev = agent.wait_for(
        [&](const Json& e) {
            return e.value("kind", "") == "proc_access" &&
                   e["target"].value("pid", 0) == nginx.main().pid() &&
                   e["source"].value("exe", "").find("cat") != std::string::npos;
        },
        10s, "cat reading the secret of nginx");
    pid_t cat_pid = ev["source"].value("pid", 0);
    agent.stop();

    auto q = run_command({podguard_binary(), "events", "--store", store, "--kind", "proc_access",
                          "--output", "json"});
    ASSERT_TRUE(q.success()) << q.describe();
    std::optional<Json> stored;
    std::istringstream lines(q.out);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty())
            continue;
        Json e = Json::parse(line);
        if (e["source"].value("pid", 0) == cat_pid)
            stored = e;
    }
    ASSERT_TRUE(stored) << "no stored event from cat " << cat_pid << ":\n" << q.out;
    ASSERT_TRUE(stored->contains("ancestry")) << stored->dump();
    const Json& chain = (*stored)["ancestry"];
    ASSERT_TRUE(chain.is_array() && !chain.empty()) << stored->dump();
    bool outer_named = false;
    for (const Json& a : chain) {
        EXPECT_FALSE(a.value("exe", "").empty()) << a.dump();
        if (a.value("pid", 0) == outer.pid())
            outer_named = a.value("exe", "").find("sh") != std::string::npos ||
                          a.value("exe", "").find("dash") != std::string::npos;
    }
    EXPECT_TRUE(outer_named) << "exited outer shell " << outer.pid()
                             << " missing from the ancestry: " << chain.dump();

    auto verify = run_command({podguard_binary(), "events", "verify", "--store", store});
    EXPECT_TRUE(verify.success()) << verify.describe();
}

} // namespace
} // namespace podguard::test
