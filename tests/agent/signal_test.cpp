// Signals between the containers of a pod, through every syscall that sends
// one and through the kernel's own path, against the real agent.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "agent_it.h"

namespace podguard::test {
namespace {

// The victim is older than the agent: known to it from its /proc scan.
class AgentSignals : public PodAgentTest {
  protected:
    // The one signal event from actor `a` to pid `to`, checked down to the
    // fields every signal event has.
    Json signal_event(const Acted& a, pid_t to, const std::string& syscall, int sig, long result,
                      int target_arg) {
        Json ev = agent.wait_for(between("signal", a.pid, to), 5s,
                                 syscall + " from " + std::to_string(a.pid));
        EXPECT_EQ(ev.value("action", ""), "allowed");
        const Json& s = ev["signal"];
        EXPECT_EQ(s.value("syscall", ""), syscall) << ev.dump();
        EXPECT_EQ(s.value("number", -1), sig) << ev.dump();
        EXPECT_EQ(s.value("result", 1L), result) << ev.dump();
        EXPECT_EQ(s.value("target_arg", 0), target_arg) << ev.dump();
        return ev;
    }
};

std::string rt_name(int sig) {
    return "SIGRTMIN+" + std::to_string(sig - 32);
}

siginfo_t queued_info(int sig) {
    siginfo_t info{};
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = 42;
    return info;
}

TEST_F(AgentSignals, KillFromAnotherContainerOfThePod) {
    auto a = act(shell, [&](long*) { return ::kill(victim.ns_pid(), SIGHUP); });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "kill", SIGHUP, 0, victim.ns_pid());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["signal"].value("name", ""), "SIGHUP");
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    EXPECT_FALSE(ev["signal"].contains("tid_arg")) << ev.dump();
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentSignals, TkillOfAnotherContainersThread) {
    auto a = act(shell, [&](long*) { return ::syscall(SYS_tkill, victim.thread_ns_tid, SIGUSR1); });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "tkill", SIGUSR1, 0, victim.thread_ns_tid);
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["signal"].value("name", ""), "SIGUSR1");
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target().thread(victim.thread_tid, victim.thread_ns_tid), "target");
}

TEST_F(AgentSignals, TgkillOfAnotherContainersThread) {
    auto a = act(shell, [&](long*) {
        return ::syscall(SYS_tgkill, victim.ns_pid(), victim.thread_ns_tid, SIGUSR2);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "tgkill", SIGUSR2, 0, victim.ns_pid());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["signal"].value("name", ""), "SIGUSR2");
    EXPECT_EQ(ev["signal"].value("tid_arg", 0), victim.thread_ns_tid);
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target().thread(victim.thread_tid, victim.thread_ns_tid), "target");
}

TEST_F(AgentSignals, RtSigqueueinfo) {
    const int sig = SIGRTMIN + 1;
    auto a = act(shell, [&](long*) {
        siginfo_t info = queued_info(sig);
        return ::syscall(SYS_rt_sigqueueinfo, victim.ns_pid(), sig, &info);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "rt_sigqueueinfo", sig, 0, victim.ns_pid());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["signal"].value("name", ""), rt_name(sig));
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentSignals, RtTgsigqueueinfoToAThread) {
    const int sig = SIGRTMIN + 1;
    auto a = act(shell, [&](long*) {
        siginfo_t info = queued_info(sig);
        return ::syscall(SYS_rt_tgsigqueueinfo, victim.ns_pid(), victim.thread_ns_tid, sig, &info);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "rt_tgsigqueueinfo", sig, 0, victim.ns_pid());
    EXPECT_EQ(ev["signal"].value("tid_arg", 0), victim.thread_ns_tid);
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target().thread(victim.thread_tid, victim.thread_ns_tid), "target");
}

TEST_F(AgentSignals, PidfdSendSignal) {
    auto a = act(shell, [&](long* aux) -> long {
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, victim.ns_pid(), 0));
        if (fd < 0)
            return -100;
        aux[0] = fd;
        return ::syscall(SYS_pidfd_send_signal, fd, SIGUSR1, nullptr, 0);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    // The sender named a pidfd, not a pid: target_arg is that descriptor.
    Json ev = signal_event(a, victim.pid(), "pidfd_send_signal", SIGUSR1, 0,
                           static_cast<int>(a.result.aux[0]));
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentSignals, SignalZeroProbesWithoutDelivery) {
    auto a = act(shell, [&](long*) { return ::kill(victim.ns_pid(), 0); });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "kill", 0, 0, victim.ns_pid());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    // Nothing was generated, so there is no delivery result.
    EXPECT_FALSE(ev["signal"].contains("delivery")) << ev.dump();
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentSignals, DeniedKillReportsEperm) {
    auto a = act(shell, [&](long*) -> long {
        if (!drop_to_nobody())
            return -100;
        return ::kill(victim.ns_pid(), SIGUSR1);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == -1 && a.result.err == EPERM)
        << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "kill", SIGUSR1, -EPERM, victim.ns_pid());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_FALSE(ev["signal"].contains("delivery")) << ev.dump();
    expect_side(ev["source"], source(a).with_uid(65534), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentSignals, KillOfAMissingPidIsUnknownWithEsrch) {
    const pid_t missing = 31000; // the pod's namespace holds a handful of pids
    auto a = act(shell, [&](long*) { return ::kill(missing, SIGUSR1); });
    ASSERT_TRUE(a.result.reported && a.result.ret == -1 && a.result.err == ESRCH)
        << a.result.describe();
    Json ev = agent.wait_for(detail_is("signal", a.pid, "target_arg", missing), 5s, "ESRCH kill");
    EXPECT_EQ(ev.value("relation", ""), "unknown");
    EXPECT_EQ(ev["signal"].value("syscall", ""), "kill");
    EXPECT_EQ(ev["signal"].value("result", 0L), -ESRCH);
    EXPECT_EQ(ev["signal"].value("number", 0), SIGUSR1);
    EXPECT_FALSE(ev["signal"].contains("delivery")) << ev.dump();
    EXPECT_TRUE(ev["target"]["pid"].is_null()) << ev.dump();
    EXPECT_TRUE(ev["target"]["ns_pid"].is_null()) << ev.dump();
    EXPECT_TRUE(ev["target"]["container"].is_null()) << ev.dump();
    expect_side(ev["source"], source(a), "source");
}

TEST_F(AgentSignals, GroupKillReportsEveryProcessHit) {
    // Born after the agent: known to it from the fork hook.
    Victim leader = spawn_victim(nginx);
    Victim member = spawn_victim(nginx);
    // Only a parent may move a child into a group: the test forked both.
    ASSERT_EQ(::setpgid(leader.pid(), leader.pid()), 0) << std::strerror(errno);
    ASSERT_EQ(::setpgid(member.pid(), leader.pid()), 0) << std::strerror(errno);
    ASSERT_EQ(::getpgid(member.pid()), leader.pid());
    auto a = act(shell, [&](long*) { return ::kill(-leader.ns_pid(), SIGUSR1); });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    agent.wait_for(between("signal", a.pid, leader.pid()), 5s, "group kill: leader");
    agent.wait_for(between("signal", a.pid, member.pid()), 5s, "group kill: member");
    auto events = events_from(agent, a.pid, "signal");
    ASSERT_EQ(events.size(), 2u) << dump_all(events);
    std::set<int> targets;
    for (const Json& ev : events) {
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("relation", ""), "same_pod");
        EXPECT_EQ(ev["signal"].value("syscall", ""), "kill");
        EXPECT_EQ(ev["signal"].value("number", 0), SIGUSR1);
        EXPECT_EQ(ev["signal"].value("target_arg", 0), -leader.ns_pid());
        EXPECT_EQ(ev["signal"].value("result", 1L), 0);
        EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
        EXPECT_EQ(ev["signal"].value("targets", 0), 2);
        expect_side(ev["source"], source(a), "source");
        int pid = ev["target"].value("pid", -1);
        targets.insert(pid);
        if (pid == leader.pid())
            expect_side(ev["target"], observe(leader).in(nginx), "leader");
        else
            expect_side(ev["target"], observe(member).in(nginx), "member");
    }
    EXPECT_EQ(targets, (std::set<int>{leader.pid(), member.pid()}));
}

TEST_F(AgentSignals, KernelGeneratedSigioToAnotherContainer) {
    // F_SETOWN names the victim as owner of a pipe's read end; the write
    // makes the kernel send it the F_SETSIG signal, outside any kill syscall.
    auto a = act(shell, [&](long*) -> long {
        int p[2];
        if (::pipe(p) != 0 || ::fcntl(p[0], F_SETOWN, victim.ns_pid()) != 0 ||
            ::fcntl(p[0], F_SETSIG, SIGUSR2) != 0 ||
            ::fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK) != 0)
            return -100;
        return ::write(p[1], "x", 1);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 1) << a.result.describe();
    Json ev = signal_event(a, victim.pid(), "kernel", SIGUSR2, 0, victim.ns_pid());
    EXPECT_EQ(ev.value("relation", ""), "same_pod");
    EXPECT_EQ(ev["signal"].value("name", ""), "SIGUSR2");
    EXPECT_EQ(ev["signal"].value("delivery", ""), "delivered");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
    EXPECT_EQ(events_from(agent, a.pid).size(), 1u) << dump_all(events_from(agent, a.pid));
}

TEST_F(AgentSignals, SelfSignalsAreNotReported) {
    auto a = act(shell, [&](long*) -> long {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        ::sigaction(SIGUSR1, &sa, nullptr);
        pid_t self = ::getpid();
        if (::kill(self, SIGUSR1) != 0 || ::kill(self, 0) != 0 ||
            ::syscall(SYS_tgkill, self, ::gettid(), SIGUSR1) != 0 ||
            ::syscall(SYS_tkill, ::gettid(), SIGUSR1) != 0 || ::raise(SIGUSR1) != 0)
            return -100;
        siginfo_t info = queued_info(SIGUSR1);
        if (::syscall(SYS_rt_sigqueueinfo, self, SIGUSR1, &info) != 0)
            return -101;
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, self, 0));
        if (fd < 0 || ::syscall(SYS_pidfd_send_signal, fd, SIGUSR1, nullptr, 0) != 0)
            return -102;
        // The marker: one signal to someone else, after all of the above.
        return ::kill(victim.ns_pid(), SIGHUP);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    agent.wait_for(between("signal", a.pid, victim.pid()), 5s, "marker signal");
    auto events = events_from(agent, a.pid);
    ASSERT_EQ(events.size(), 1u) << "self-signals were reported:\n" << dump_all(events);
    EXPECT_EQ(events[0]["signal"].value("number", 0), SIGHUP);
}

} // namespace
} // namespace podguard::test
