// Two threads whose tids share an in-flight slot (equal modulo
// PG_INFLIGHT_SLOTS), both blocked inside a watched syscall at once: the
// second one's event is kept in the overflow hash, and both must come out
// whole, each with its own path and result.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "agent_it.h"
#include "podguard.h"

namespace podguard::test {
namespace {

pid_t current_tid() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

// True once the thread sits in openat (first field of /proc/.../syscall).
bool blocked_in_openat(pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
    long nr = -1;
    return in >> nr && nr == SYS_openat;
}

class AgentInflight : public ::testing::Test {
  protected:
    TempDir dir;
    Proc target = spawn_on_host([] {
        for (;;)
            ::pause();
        return 0;
    });
    AgentProcess agent{observe_only()};
};

TEST_F(AgentInflight, ThreadsSharingASlotBothReportTheirEvent) {
    const std::string fifo_a = dir.file("a.fifo"), fifo_b = dir.file("b.fifo");
    ASSERT_EQ(::mkfifo(fifo_a.c_str(), 0600), 0);
    ASSERT_EQ(::mkfifo(fifo_b.c_str(), 0600), 0);
    // Through the target's root: a /proc access that blocks until a writer
    // opens the FIFO, so both syscalls are in flight together.
    const std::string root = "/proc/" + std::to_string(target.pid()) + "/root";
    const std::string path_a = root + fifo_a, path_b = root + fifo_b;

    auto a = act_on_host(
        [&](long* aux) -> long {
            std::atomic<pid_t> tid_a{0}, tid_b{0};
            std::atomic<long> fd_a{-2}, fd_b{-2};
            std::thread first([&] {
                tid_a = current_tid();
                fd_a = ::open(path_a.c_str(), O_RDONLY);
            });
            while (!tid_a)
                std::this_thread::yield();
            // Threads take the next free numbers: one soon shares the slot.
            std::thread second;
            for (int tries = 0; tries < 4 * 65536 && !second.joinable(); ++tries) {
                std::atomic<pid_t> tid{0};
                std::atomic<bool> go{false}, mine{false};
                std::thread t([&] {
                    tid = current_tid();
                    while (!go)
                        std::this_thread::yield();
                    if (mine) {
                        tid_b = tid.load();
                        fd_b = ::open(path_b.c_str(), O_RDONLY);
                    }
                });
                while (!tid)
                    std::this_thread::yield();
                mine = tid != tid_a && (tid - tid_a) % PG_INFLIGHT_SLOTS == 0;
                go = true;
                if (mine)
                    second = std::move(t);
                else
                    t.join();
            }
            if (!second.joinable()) {
                first.detach();
                return -100; // no tid in the slot: reported as a failure below
            }
            for (int i = 0; i < 5000 && !(blocked_in_openat(tid_a) && blocked_in_openat(tid_b));
                 ++i)
                ::usleep(1000);
            const bool both_blocked = blocked_in_openat(tid_a) && blocked_in_openat(tid_b);
            int wa = ::open(fifo_a.c_str(), O_WRONLY), wb = ::open(fifo_b.c_str(), O_WRONLY);
            first.join();
            second.join();
            ::close(wa);
            ::close(wb);
            aux[0] = tid_a;
            aux[1] = tid_b;
            aux[2] = fd_a;
            aux[3] = fd_b;
            return both_blocked ? 0 : -101;
        },
        60s);
    ASSERT_TRUE(a.result.reported) << a.result.describe();
    ASSERT_NE(a.result.ret, -100) << "no thread got a tid sharing the first one's slot";
    ASSERT_EQ(a.result.ret, 0) << "the two opens were not blocked at the same time";
    const long tid_a = a.result.aux[0], tid_b = a.result.aux[1];
    ASSERT_EQ((tid_b - tid_a) % PG_INFLIGHT_SLOTS, 0);
    ASSERT_GE(a.result.aux[2], 0);
    ASSERT_GE(a.result.aux[3], 0);

    for (auto [tid, path, fd] :
         {std::tuple{tid_a, path_a, a.result.aux[2]}, std::tuple{tid_b, path_b, a.result.aux[3]}}) {
        Json ev = agent.wait_for(
            [&](const Json& e) {
                return e.value("kind", "") == "proc_access" && e["source"].value("tid", -1) == tid;
            },
            5s, "the open of " + path + " by tid " + std::to_string(tid));
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev["proc_access"].value("path", ""), path);
        EXPECT_EQ(ev["proc_access"].value("entry", ""), "root");
        EXPECT_EQ(ev["proc_access"].value("result", -1000L), fd);
        EXPECT_EQ(ev["source"].value("pid", -1), a.pid);
        EXPECT_EQ(ev["target"].value("pid", -1), target.pid());
    }
}

} // namespace
} // namespace podguard::test
