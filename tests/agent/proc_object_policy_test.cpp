// Policy on /proc access that only the object reached reveals (a symlink, an
// io_uring request, pidfd_getfd), in the fallback this host has: the offender
// is killed, and the event says so. No warm-up act: the first try is judged.
#include <fcntl.h>
#include <liburing.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>

#include "agent_it.h"

namespace podguard::test {
namespace {

constexpr char kPolicy[] = R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata:
  name: no-peeking
spec:
  rules:
    - name: no-environ-or-root-in-pod
      action: block
      operations:
        - procAccess: {entries: [environ, root]}
        - ptrace: {}
      relations: [same_pod]
)";

class AgentProcObjectPolicy : public ::testing::Test {
  protected:
    TempDir dir;
    std::string policy_path = dir.file("policy.yaml");
    SandboxPod pod;
    SandboxContainer& nginx = pod.add_container("nginx");
    SandboxContainer& shell = pod.add_container("shell");
    Victim victim = spawn_victim(nginx);
    AgentProcess agent = start();

    AgentProcess start() {
        std::ofstream(policy_path) << kPolicy;
        return AgentProcess({"--policy", policy_path});
    }
    std::string at(const std::string& entry) const {
        return "/proc/" + std::to_string(victim.ns_pid()) + "/" + entry;
    }
    static bool killed(const Acted& a) {
        return !a.result.reported && a.result.status.signaled() &&
               a.result.status.signal() == SIGKILL;
    }
    Json killed_event(const Acted& a, const std::string& kind, const std::string& syscall) {
        Json ev = agent.wait_for(
            [&](const Json& e) {
                return between(kind, a.pid, victim.pid())(e) &&
                       e[kind == "ptrace" ? "ptrace" : "proc_access"].value("syscall", "") ==
                           syscall;
            },
            5s, syscall);
        EXPECT_EQ(ev.value("action", ""), "killed") << ev.dump();
        EXPECT_EQ(ev.value("relation", ""), "same_pod") << ev.dump();
        EXPECT_NE(ev.value(Json::json_pointer("/policy/rule_id"), 0), 0) << ev.dump();
        return ev;
    }
};

TEST_F(AgentProcObjectPolicy, SymlinkedOpenIsKilled) {
    const std::string l = dir.file("env");
    ASSERT_EQ(::symlink(at("environ").c_str(), l.c_str()), 0);
    auto a = act(shell, [&](long*) -> long {
        int fd = ::open(l.c_str(), O_RDONLY);
        // Killed at the open's exit: never gets here.
        return fd;
    });
    ASSERT_TRUE(killed(a)) << a.result.describe() << "\n" << agent.diagnostics();
    Json ev = killed_event(a, "proc_access", "openat");
    EXPECT_EQ(ev["proc_access"].value("entry", ""), "environ") << ev.dump();
    EXPECT_TRUE(ev["proc_access"].value("by_object", false)) << ev.dump();
    EXPECT_TRUE(victim.proc.running());
}

TEST_F(AgentProcObjectPolicy, IoUringOpenIsKilledAtSubmission) {
    const std::string path = at("root") + "/etc/hostname";
    auto a = act(shell, [&](long*) -> long {
        io_uring ring;
        if (io_uring_queue_init(4, &ring, 0) != 0)
            return -100;
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_openat(sqe, AT_FDCWD, path.c_str(), O_RDONLY, 0);
        io_uring_submit(&ring);
        io_uring_cqe* cqe = nullptr;
        io_uring_wait_cqe(&ring, &cqe);
        return 0;
    });
    ASSERT_TRUE(killed(a)) << a.result.describe() << "\n" << agent.diagnostics();
    Json ev = killed_event(a, "proc_access", "io_uring:openat");
    EXPECT_EQ(ev["proc_access"].value("entry", ""), "root") << ev.dump();
}

TEST_F(AgentProcObjectPolicy, PidfdGetfdIsKilled) {
    auto a = act(shell, [&](long*) -> long {
        int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, victim.ns_pid(), 0));
        if (pidfd < 0)
            return -100;
        return ::syscall(SYS_pidfd_getfd, pidfd, 0, 0);
    });
    ASSERT_TRUE(killed(a)) << a.result.describe() << "\n" << agent.diagnostics();
    killed_event(a, "ptrace", "pidfd_getfd");
}

} // namespace
} // namespace podguard::test
