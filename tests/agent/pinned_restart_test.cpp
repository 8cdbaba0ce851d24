// A daemon with --pin dies while a watched syscall is in flight; the next
// one adopts the pinned state (every map the skeleton has but per-CPU
// scratch space) and reports that syscall whole when it returns.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "agent_it.h"
#include "loader/bpf_objects.h"

namespace podguard::test {
namespace {

using namespace std::chrono_literals;

struct Unpin {
    ~Unpin() { (void)run_command({podguard_binary(), "unpin"}, 10s); }
};

bool blocked_in_openat(pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
    long nr = -1;
    return in >> nr && nr == SYS_openat;
}

TEST(PinnedState, EveryMapButScratchIsPinned) {
    auto names = pinned_map_names();
    auto has = [&](const char* n) {
        return std::find(names.begin(), names.end(), n) != names.end();
    };
    for (const char* n : {"pg_events", "pg_inflight", "pg_inflight_slots", "pg_pending",
                          "pg_path_retries", "pg_pids", "pg_procs", "pg_cgroups", "pg_cgroup_class",
                          "pg_policy_gens", "pg_guard_stats"})
        EXPECT_TRUE(has(n)) << n << " is not pinned";
    for (const char* n : {"pg_scratch", "pg_pathbufs", "pg_stacks"})
        EXPECT_FALSE(has(n)) << n << " is per-run scratch";
}

TEST(PinnedState, RestartAdoptsSyscallsInFlight) {
    Unpin unpin;
    (void)run_command({podguard_binary(), "unpin"}, 10s);
    TempDir dir;
    Proc target = spawn_on_host([] {
        for (;;)
            ::pause();
        return 0;
    });
    const std::string fifo = dir.file("in-flight.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const std::string path = "/proc/" + std::to_string(target.pid()) + "/root" + fifo;

    auto first = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--pin", "--no-store", "--no-metadata"});
    std::atomic<pid_t> tid{0};
    std::atomic<long> fd{-2};
    std::thread opener([&] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        fd = ::open(path.c_str(), O_RDONLY);
    });
    for (int i = 0; i < 5000 && !(tid && blocked_in_openat(tid)); ++i)
        ::usleep(1000);
    ASSERT_TRUE(blocked_in_openat(tid)) << "the open did not block";
    ASSERT_EQ(::kill(first->pid(), SIGKILL), 0);
    first->stop();
    first.reset();

    AgentProcess second({"--pin", "--no-store", "--no-metadata"});
    int writer = ::open(fifo.c_str(), O_WRONLY);
    opener.join();
    ::close(writer);
    ASSERT_GE(fd.load(), 0);
    ::close(static_cast<int>(fd.load()));
    Json ev = second.wait_for(
        [&](const Json& e) {
            return e.value("kind", "") == "proc_access" && e["source"].value("tid", -1) == tid;
        },
        10s, "the open that was in flight across the restart");
    SCOPED_TRACE(ev.dump());
    EXPECT_EQ(ev["proc_access"].value("path", ""), path);
    EXPECT_EQ(ev["proc_access"].value("entry", ""), "root");
    EXPECT_EQ(ev["proc_access"].value("result", -1000L), fd.load());
    EXPECT_EQ(ev["target"].value("pid", -1), target.pid());
}

} // namespace
} // namespace podguard::test
