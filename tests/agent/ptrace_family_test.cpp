// The syscalls besides ptrace and process_vm_* that reach another process
// under a ptrace-mode check (ptrace_may_access) or act on it by pid: each one
// from one container of a pod to another, and the caller's own process quiet.
#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent_it.h"

namespace podguard::test {
namespace {

class AgentPtraceFamily : public PodAgentTest {
  protected:
    Json family_event(const Acted& a, const std::string& syscall, long result) {
        Json ev = agent.wait_for(
            [&](const Json& e) {
                return between("ptrace", a.pid, victim.pid())(e) &&
                       e["ptrace"].value("syscall", "") == syscall;
            },
            5s, syscall);
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("action", ""), "allowed");
        EXPECT_EQ(ev.value("relation", ""), "same_pod");
        EXPECT_EQ(ev["ptrace"].value("result", 12345L), result);
        EXPECT_EQ(ev["ptrace"].value("target_arg", 0), victim.ns_pid());
        EXPECT_EQ(ev["ptrace"].value("request", 0L), -1L);
        EXPECT_FALSE(ev["ptrace"].contains("request_name"));
        expect_side(ev["source"], observe(a).in(shell), "source");
        expect_side(ev["target"], observe(victim).in(nginx), "target");
        return ev;
    }
};

TEST_F(AgentPtraceFamily, EverySyscallThatReachesAnotherProcess) {
    // The raw result, as the event reports it: negative errno on failure.
    auto raw = [](long r) { return r < 0 ? -static_cast<long>(errno) : r; };
    auto a = act(shell, [&](long* aux) -> long {
        const pid_t v = victim.ns_pid();
        int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, v, 0));
        if (pidfd < 0)
            return -100;
        aux[0] = raw(::syscall(SYS_pidfd_getfd, pidfd, 0, 0));
        aux[1] = raw(::syscall(SYS_kcmp, ::getpid(), v, KCMP_VM, 0, 0));
        static char page[4096] __attribute__((aligned(4096)));
        struct iovec iov = {page, sizeof page};
        aux[2] = raw(::syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_COLD, 0));
        // The victim is not dying: EINVAL, reported all the same.
        aux[3] = raw(::syscall(SYS_process_mrelease, pidfd, 0));
        void* head = nullptr;
        size_t len = 0;
        if (::syscall(SYS_get_robust_list, v, &head, &len) != 0)
            return -101;
        if (::syscall(SYS_move_pages, v, 0, nullptr, nullptr, nullptr, 0) != 0)
            return -102;
        unsigned long mask = 1;
        if (::syscall(SYS_migrate_pages, v, 8 * sizeof mask, &mask, &mask) < 0)
            return -103;
        struct rlimit64 old;
        if (::syscall(SYS_prlimit64, v, RLIMIT_NOFILE, nullptr, &old) != 0)
            return -104;
        // Its own process: never an event.
        ::syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &old);
        ::syscall(SYS_prlimit64, ::getpid(), RLIMIT_NOFILE, nullptr, &old);
        ::syscall(SYS_get_robust_list, 0, &head, &len);
        return 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    ASSERT_GE(a.result.aux[0], 0) << "pidfd_getfd stole nothing";
    ASSERT_GE(a.result.aux[1], 0) << "kcmp";
    family_event(a, "pidfd_getfd", a.result.aux[0]);
    family_event(a, "kcmp", a.result.aux[1]);
    family_event(a, "process_madvise", a.result.aux[2]);
    family_event(a, "process_mrelease", a.result.aux[3]);
    family_event(a, "get_robust_list", 0);
    family_event(a, "move_pages", 0);
    family_event(a, "prlimit64", 0);
    Json mig = agent.wait_for(
        [&](const Json& e) {
            return between("ptrace", a.pid, victim.pid())(e) &&
                   e["ptrace"].value("syscall", "") == "migrate_pages";
        },
        5s, "migrate_pages");
    EXPECT_EQ(mig.value("relation", ""), "same_pod");
    EXPECT_GE(mig["ptrace"].value("result", -1L), 0) << mig.dump();
    // Exactly one event per syscall: none for the caller's own process.
    auto all = events_from(agent, a.pid, "ptrace");
    EXPECT_EQ(all.size(), 8u) << dump_all(all);
}

} // namespace
} // namespace podguard::test
