#include <gtest/gtest.h>

#include "process/process_table.h"

using namespace podguard;

namespace {

Party task(uint32_t pid, uint32_t ppid, uint64_t start, const char* comm) {
    Party t;
    t.known = true;
    t.pid = t.tid = pid;
    t.ppid = ppid;
    t.ns_pid = pid;
    t.pidns = 1;
    t.start_ns = start;
    t.comm = comm;
    return t;
}

} // namespace

TEST(ProcessTable, AncestryOutlivesTheAncestors) {
    ProcessTable table;
    table.on_fork(task(100, 1, 10, "bash"));
    table.on_exec(task(100, 1, 10, "bash"), "/bin/bash", "bash");
    table.on_fork(task(200, 100, 20, "bash"));
    table.on_exec(task(200, 100, 20, "sh"), "/bin/sh", "sh -c head");
    table.on_fork(task(300, 200, 30, "sh"));
    table.on_exec(task(300, 200, 30, "head"), "/usr/bin/head", "head /proc/8/root/x");
    table.on_exit(task(100, 1, 10, "bash"), 1000);
    table.on_exit(task(200, 100, 20, "sh"), 1000);

    auto chain = table.ancestry(300, 10);
    ASSERT_EQ(chain.size(), 3u); // 300 -> 200 -> 100; pid 1 was never seen
    EXPECT_EQ(chain[0]->exe, "/usr/bin/head");
    EXPECT_EQ(chain[1]->exe, "/bin/sh");
    EXPECT_EQ(chain[2]->exe, "/bin/bash");
    EXPECT_EQ(table.ancestry(300, 2).size(), 2u);
    table.expire(1000 + 5, 10);
    EXPECT_NE(table.find(200), nullptr);
    table.expire(1000 + 50, 10);
    EXPECT_EQ(table.find(200), nullptr);
    EXPECT_NE(table.find(300), nullptr);
}

TEST(ProcessTable, ReusedPidIsANewProcess) {
    ProcessTable table;
    table.on_exec(task(100, 1, 10, "old"), "/old", "old");
    table.on_exit(task(100, 1, 10, "old"), 50);
    table.on_fork(task(100, 1, 60, "new"));
    const ProcessRecord* r = table.find(100);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->comm, "new");
    EXPECT_EQ(r->exited_ns, 0u);
    EXPECT_EQ(table.find_in_namespace(1, 100), r);
}

TEST(ProcessTable, ExecRemembersTheImageItReplaced) {
    ProcessTable table;
    table.on_exec(task(100, 1, 10, "sh"), "/bin/sh", "sh");
    table.on_exec(task(100, 1, 10, "true"), "/proc/8/root/bin/true", "true");
    const ProcessRecord* r = table.find(100);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->exe, "/proc/8/root/bin/true");
    EXPECT_EQ(r->exe_before_exec, "/bin/sh");
}
