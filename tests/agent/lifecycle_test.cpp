// Processes that are gone before the agent reads their events: what they did
// is still told with the identity they had (exe from the exec hook, container
// from the cgroup), not what /proc says later (nothing).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "agent_it.h"

namespace podguard::test {
namespace {

class AgentLifecycle : public PodAgentTest {
  protected:
    std::string environ_path() const {
        return "/proc/" + std::to_string(victim.ns_pid()) + "/environ";
    }
    // Runs argv in the shell container with stdout on /dev/null, to its end.
    ExitStatus run_to_end(std::vector<std::string> argv, pid_t& pid, pid_t& ns_pid) {
        auto exec = exec_body(std::move(argv));
        Proc p = shell.spawn([exec] {
            int null_fd = ::open("/dev/null", O_WRONLY);
            ::dup2(null_fd, 1);
            return exec();
        });
        pid = p.pid();
        ns_pid = p.ns_pid();
        return p.wait_or_throw(); // reaped: /proc knows nothing of it any more
    }
};

TEST_F(AgentLifecycle, ExecedAndExitedProcessIsStillEnriched) {
    pid_t pid = -1, ns_pid = -1;
    {
        AgentPause pause(agent);
        auto status = run_to_end({"/bin/cat", environ_path()}, pid, ns_pid);
        ASSERT_TRUE(status.success()) << status.describe();
        ASSERT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
    }
    Json ev = agent.wait_for(from("proc_access", pid), 5s, "cat's open of environ");
    SCOPED_TRACE(ev.dump());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["proc_access"].value("path", ""), environ_path());
    EXPECT_EQ(ev["proc_access"].value("entry", ""), "environ");
    EXPECT_GE(ev["proc_access"].value("result", -1L), 3); // a descriptor
    const Json& s = ev["source"];
    EXPECT_EQ(s.value("pid", -1), pid);
    EXPECT_EQ(s.value("ns_pid", -1), ns_pid);
    EXPECT_EQ(s.value("ppid", -1), ::getpid());
    EXPECT_EQ(s.value("comm", ""), "cat");
    EXPECT_EQ(s.value("exe", ""), "/bin/cat");
    EXPECT_EQ(s.value("cgroup_id", uint64_t{0}), shell.cgroup().id());
    ASSERT_TRUE(s["container"].is_object());
    EXPECT_EQ(s["container"].value("id", ""), shell.id());
    EXPECT_EQ(s["container"].value("runtime", ""), "kubernetes");
    EXPECT_EQ(s["container"].value("pod_uid", ""), pod.uid());
    expect_side(ev["target"], observe(victim).in(nginx), "target");
}

TEST_F(AgentLifecycle, GrandchildForkedAndExecedByAShellIsStillEnriched) {
    pid_t sh = -1, sh_ns = -1;
    {
        AgentPause pause(agent);
        // "; exit 0" keeps sh from exec'ing cat in place: cat is a fork of it.
        auto status =
            run_to_end({"/bin/sh", "-c", "/bin/cat " + environ_path() + "; exit 0"}, sh, sh_ns);
        ASSERT_TRUE(status.success()) << status.describe();
    }
    Json ev = agent.wait_for(
        [&](const Json& e) {
            return e.value("kind", "") == "proc_access" && e["source"].value("ppid", -1) == sh;
        },
        5s, "cat's open of environ");
    SCOPED_TRACE(ev.dump());
    const Json& s = ev["source"];
    EXPECT_NE(s.value("pid", -1), sh);
    EXPECT_GT(s.value("ns_pid", -1), sh_ns);
    EXPECT_EQ(s.value("comm", ""), "cat");
    EXPECT_EQ(s.value("exe", ""), "/bin/cat");
    ASSERT_TRUE(s["container"].is_object());
    EXPECT_EQ(s["container"].value("id", ""), shell.id());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["target"].value("pid", -1), victim.pid());
}

} // namespace
} // namespace podguard::test
