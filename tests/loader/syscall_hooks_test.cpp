// The syscall programs run on the watched syscalls' tracepoints and on no
// other syscall: the list the loader attaches is the BPF tables', every entry
// names a tracepoint this kernel has, and an unwatched syscall does not run
// the program while a watched one does.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "enforce/enforce_support.h"
#include "loader/bpf_objects.h"
#include "loader/syscall_hooks.h"
#include "metrics/bpf_stats.h"

namespace podguard {
namespace {

bool has(const std::vector<SyscallTracepoint>& tps, const std::string& name) {
    return std::any_of(tps.begin(), tps.end(), [&](const auto& t) { return t.name == name; });
}

TEST(SyscallHooks, EveryWatchedSyscallNamesATracepointOfThisKernel) {
    auto tps = watched_syscall_tracepoints();
    ASSERT_TRUE(tps) << tps.error().message;
    for (const auto& tp : *tps)
        EXPECT_EQ(access(("/sys/kernel/tracing/events/syscalls/" + tp.name).c_str(), F_OK), 0)
            << tp.name;
    for (const char* name : {"sys_enter_kill", "sys_exit_kill", "sys_enter_openat",
                             "sys_exit_openat", "sys_enter_ptrace", "sys_enter_execve",
                             // stat(2) and lstat(2) are the kernel's "new" ones on x86-64
                             "sys_enter_newstat", "sys_enter_newlstat", "sys_exit_setuid"})
        EXPECT_TRUE(has(*tps, name)) << name;
    // Identity syscalls refresh the process cache at exit only.
    EXPECT_FALSE(has(*tps, "sys_enter_setuid"));
    EXPECT_FALSE(has(*tps, "sys_enter_getppid"));
}

uint64_t runs(int prog_fd) {
    auto stats = read_bpf_program_stats(std::vector<int>{prog_fd});
    return stats && !stats->empty() ? (*stats)[0].run_count : 0;
}

TEST(SyscallHooks, AnUnwatchedSyscallRunsNoProgram) {
    auto objects = test::load_enforcing_objects(LoadOptions{});
    auto stats_fd = enable_bpf_stats();
    ASSERT_TRUE(stats_fd) << stats_fd.error().message;
    int enter = -1;
    for (const auto& p : objects->programs())
        if (p.name == "pg_sys_enter")
            enter = p.fd;
    ASSERT_GE(enter, 0);

    // Other processes' watched syscalls count too: the bounds leave room.
    const int calls = 100000;
    uint64_t before = runs(enter);
    for (int i = 0; i < calls; ++i)
        syscall(SYS_getppid);
    uint64_t unwatched = runs(enter) - before;
    before = runs(enter);
    for (int i = 0; i < 1000; ++i)
        kill(getpid(), 0);
    uint64_t watched = runs(enter) - before;
    close(*stats_fd);
    EXPECT_LT(unwatched, uint64_t(calls / 2));
    EXPECT_GE(watched, 1000u);
}

} // namespace
} // namespace podguard
