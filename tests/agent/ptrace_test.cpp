// ptrace and process_vm_readv/writev between the containers of a pod.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "agent_it.h"

namespace podguard::test {
namespace {

class AgentPtrace : public PodAgentTest {
  protected:
    // The victim is younger than the agent: known to it from the fork hook.
    AgentPtrace() : PodAgentTest(VictimBorn::AfterAgent) {}

    Json ptrace_event(const Acted& a, const std::string& syscall, const Json& request_name,
                      long result) {
        auto pred = [&](const Json& e) {
            return between("ptrace", a.pid, victim.pid())(e) &&
                   e["ptrace"].value("syscall", "") == syscall &&
                   (request_name.is_null() ||
                    e["ptrace"].value("request_name", "") == request_name);
        };
        Json ev = agent.wait_for(pred, 5s, syscall + " " + request_name.dump());
        EXPECT_EQ(ev.value("action", ""), "allowed");
        EXPECT_EQ(ev.value("relation", ""), "same_pod");
        EXPECT_EQ(ev["ptrace"].value("result", 1L), result) << ev.dump();
        EXPECT_EQ(ev["ptrace"].value("target_arg", 0), victim.ns_pid()) << ev.dump();
        return ev;
    }
};

TEST_F(AgentPtrace, AttachAndDetachAnotherContainersProcess) {
    auto a = act(shell, [&](long* aux) -> long {
        if (::ptrace(PTRACE_ATTACH, victim.ns_pid(), nullptr, nullptr) != 0)
            return -1;
        int status = 0;
        if (::waitpid(victim.ns_pid(), &status, __WALL) != victim.ns_pid())
            return -100;
        aux[0] = ::ptrace(PTRACE_DETACH, victim.ns_pid(), nullptr, nullptr);
        return 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0 && a.result.aux[0] == 0)
        << a.result.describe();
    Json attach = ptrace_event(a, "ptrace", "PTRACE_ATTACH", 0);
    EXPECT_EQ(attach["ptrace"].value("request", -1), PTRACE_ATTACH);
    expect_side(attach["source"], source(a), "source");
    expect_side(attach["target"], target(), "target");
    Json detach = ptrace_event(a, "ptrace", "PTRACE_DETACH", 0);
    EXPECT_EQ(detach["ptrace"].value("request", -1), PTRACE_DETACH);
    expect_side(detach["source"], source(a), "source");
    // The SIGSTOP that PTRACE_ATTACH sends is part of the attach, not a signal event.
    auto signals = events_from(agent, a.pid, "signal");
    EXPECT_TRUE(signals.empty()) << dump_all(signals);
    // Detached and running again.
    EXPECT_TRUE(victim.proc.running());
}

TEST_F(AgentPtrace, SeizeAnotherContainersProcess) {
    auto a = act(shell, [&](long*) -> long {
        return ::ptrace(PTRACE_SEIZE, victim.ns_pid(), nullptr, nullptr);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = ptrace_event(a, "ptrace", "PTRACE_SEIZE", 0);
    EXPECT_EQ(ev["ptrace"].value("request", -1), PTRACE_SEIZE);
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentPtrace, TracemeNamesTheParent) {
    // parent (shell) forks child (shell), which asks to be traced by parent.
    Proc parent = shell.spawn([] {
        pid_t child = ::fork();
        if (child == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
            for (;;)
                ::pause();
        }
        for (;;)
            ::pause();
        return 0;
    });
    Side parent_side = observe(parent).in(shell);
    Json ev = agent.wait_for(
        [&](const Json& e) {
            return e.value("kind", "") == "ptrace" && e["target"]["pid"] == parent.pid() &&
                   e["ptrace"].value("request_name", "") == "PTRACE_TRACEME";
        },
        5s, "PTRACE_TRACEME");
    auto children = children_of(parent.pid());
    ASSERT_EQ(children.size(), 1u);
    Side child = observe(children[0]).in(shell);
    EXPECT_EQ(ev.value("relation", ""), "same_container");
    EXPECT_EQ(ev["ptrace"].value("request", -1), PTRACE_TRACEME);
    EXPECT_EQ(ev["ptrace"].value("syscall", ""), "ptrace");
    EXPECT_EQ(ev["ptrace"].value("result", 1L), 0);
    EXPECT_EQ(ev["ptrace"].value("target_arg", -1), 0); // TRACEME names no pid
    expect_side(ev["source"], child, "source");
    EXPECT_EQ(ev["source"].value("ppid", 0), parent.pid());
    expect_side(ev["target"], parent_side, "target");
}

TEST_F(AgentPtrace, DeniedAttachReportsEperm) {
    auto a = act(shell, [&](long*) -> long {
        if (!drop_to_nobody())
            return -100;
        return ::ptrace(PTRACE_ATTACH, victim.ns_pid(), nullptr, nullptr);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == -1 && a.result.err == EPERM)
        << a.result.describe();
    Json ev = ptrace_event(a, "ptrace", "PTRACE_ATTACH", -EPERM);
    expect_side(ev["source"], source(a).with_uid(65534), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentPtrace, ProcessVmReadv) {
    constexpr size_t n = sizeof kVictimMemory;
    auto a = act(shell, [&](long* aux) -> long {
        char buf[n] = {};
        iovec local{buf, n};
        iovec remote{g_victim_memory, n};
        long r = ::process_vm_readv(victim.ns_pid(), &local, 1, &remote, 1, 0);
        aux[0] = std::memcmp(buf, kVictimMemory, n) == 0;
        return r;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == long(n)) << a.result.describe();
    EXPECT_EQ(a.result.aux[0], 1) << "read something else than the victim's memory";
    Json ev = ptrace_event(a, "process_vm_readv", nullptr, long(n));
    EXPECT_EQ(ev["ptrace"].value("request", -1), 0);
    EXPECT_FALSE(ev["ptrace"].contains("request_name")) << ev.dump();
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentPtrace, ProcessVmWritev) {
    static constexpr char kNew[] = "written by the shell";
    auto a = act(shell, [&](long*) -> long {
        char buf[sizeof kNew];
        std::memcpy(buf, kNew, sizeof kNew);
        iovec local{buf, sizeof kNew};
        iovec remote{g_victim_memory, sizeof kNew};
        return ::process_vm_writev(victim.ns_pid(), &local, 1, &remote, 1, 0);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == long(sizeof kNew)) << a.result.describe();
    Json ev = ptrace_event(a, "process_vm_writev", nullptr, long(sizeof kNew));
    EXPECT_EQ(ev["ptrace"].value("request", -1), 0);
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");

    // It really landed (read back from the host, itself a reported access).
    char back[sizeof kNew] = {};
    iovec local{back, sizeof back};
    iovec remote{g_victim_memory, sizeof back};
    ASSERT_EQ(::process_vm_readv(victim.pid(), &local, 1, &remote, 1, 0), long(sizeof back));
    EXPECT_STREQ(back, kNew);
    Json host = agent.wait_for(between("ptrace", ::getpid(), victim.pid()), 5s, "host readv");
    EXPECT_EQ(host.value("relation", ""), "host_to_container");
    EXPECT_EQ(host["ptrace"].value("target_arg", 0), victim.pid());
}

} // namespace
} // namespace podguard::test
