// fill_ancestry against a ProcessTable fed the way the pipeline feeds it:
// the sources of fork/exec/exit events, ancestors exiting before the event.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "enrich/ancestry.h"
#include "output/json_event.h"

using namespace podguard;

namespace {

constexpr uint64_t kHostCgroup = 1, kRuntimeCgroup = 2, kContainerCgroup = 10,
                   kContainerSubCgroup = 11;
const std::string kContainerId(64, 'a');

constexpr uint64_t kSecond = 1'000'000'000;

// start: seconds after boot.
Party task(uint32_t pid, uint32_t ppid, uint64_t start, uint64_t cgroup, const char* comm) {
    Party t;
    t.known = true;
    t.pid = t.tid = pid;
    t.ppid = ppid;
    t.ns_pid = pid;
    t.pidns = 1;
    t.cgroup_id = cgroup;
    t.start_ns = start * kSecond;
    t.comm = comm;
    return t;
}

ContainerInfo container() {
    ContainerInfo c;
    c.id = kContainerId;
    c.runtime = "containerd";
    return c;
}

struct Lookup {
    int calls = 0;
    ContainerLookup fn() {
        return [this](uint64_t cgroup) -> std::optional<ContainerInfo> {
            ++calls;
            if (cgroup == kContainerCgroup || cgroup == kContainerSubCgroup)
                return container();
            return std::nullopt;
        };
    }
};

// init -> containerd-shim -> runc -> (container) pause-less init sh -> sh -> cat
ProcessTable container_tree() {
    ProcessTable t;
    t.on_exec(task(1, 0, 1, kHostCgroup, "systemd"), "/sbin/init", "/sbin/init");
    t.on_exec(task(50, 1, 5, kRuntimeCgroup, "containerd-shim"), "/usr/bin/containerd-shim",
              "containerd-shim -namespace k8s.io");
    t.on_fork(task(60, 50, 6, kRuntimeCgroup, "containerd-shim"));
    t.on_exec(task(60, 50, 6, kRuntimeCgroup, "runc"), "/usr/bin/runc", "runc init");
    // runc moved itself into the container's cgroup and exec'd the entrypoint.
    t.on_exec(task(60, 50, 6, kContainerCgroup, "sh"), "/bin/sh", "sh -c 'sleep 1; sh'");
    t.on_fork(task(200, 60, 20, kContainerCgroup, "sh"));
    t.on_exec(task(200, 60, 20, kContainerSubCgroup, "sh"), "/bin/sh", "sh");
    t.on_fork(task(300, 200, 30, kContainerSubCgroup, "sh"));
    t.on_exec(task(300, 200, 30, kContainerSubCgroup, "cat"), "/bin/cat",
              "cat /proc/8/root/etc/secret");
    return t;
}

Event proc_access_from(uint32_t pid, uint32_t ppid, uint64_t start, uint64_t cgroup,
                       std::optional<ContainerInfo> c) {
    Event e;
    e.kind = EventKind::ProcAccess;
    e.time_ns = 1'700'000'000'000'000'000ull;
    e.source.known = true;
    e.source.pid = e.source.tid = pid;
    e.source.ppid = ppid;
    e.source.start_ns = start * kSecond;
    e.source.cgroup_id = cgroup;
    e.source.container = std::move(c);
    e.target.known = true;
    e.target.pid = 8;
    e.detail =
        ProcAccessDetail{"/proc/8/root/etc/secret", "root", PG_SYS_OPENAT, 3, 8, -100, false};
    return e;
}

} // namespace

TEST(Ancestry, ContainerChainEndsWithWhoStartedTheContainerEvenAfterEveryAncestorExited) {
    ProcessTable table = container_tree();
    // Everyone but the tool is gone; cat was re-parented to the shim.
    table.on_exit(task(200, 60, 20, kContainerSubCgroup, "sh"), 100 * kSecond);
    table.on_exit(task(60, 50, 6, kContainerCgroup, "sh"), 101 * kSecond);
    table.expire(102 * kSecond, 60 * kSecond); // exited, but within the keep window
    Event e = proc_access_from(300, 50, 30, kContainerSubCgroup, container());

    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    ASSERT_EQ(e.ancestry.size(), 3u);
    EXPECT_EQ(e.ancestry[0].pid, 200u);
    EXPECT_EQ(e.ancestry[0].exe, "/bin/sh");
    EXPECT_EQ(e.ancestry[0].args, "sh");
    EXPECT_EQ(e.ancestry[0].start_ns, 20 * kSecond);
    ASSERT_TRUE(e.ancestry[0].container);
    EXPECT_EQ(e.ancestry[0].container->id, kContainerId);
    EXPECT_EQ(e.ancestry[1].pid, 60u);
    EXPECT_EQ(e.ancestry[1].exe, "/bin/sh");
    ASSERT_TRUE(e.ancestry[1].container);
    // The first process outside the container is included: it started it.
    EXPECT_EQ(e.ancestry[2].pid, 50u);
    EXPECT_EQ(e.ancestry[2].exe, "/usr/bin/containerd-shim");
    EXPECT_FALSE(e.ancestry[2].container);
    // Same cgroup as the source (200) needs no lookup; 60 and 50 do.
    EXPECT_EQ(lookup.calls, 2);
}

TEST(Ancestry, ExpiredAncestorsEndTheChain) {
    ProcessTable table = container_tree();
    table.on_exit(task(200, 60, 20, kContainerSubCgroup, "sh"), 100 * kSecond);
    table.expire(200 * kSecond, 60 * kSecond);
    Event e = proc_access_from(300, 200, 30, kContainerSubCgroup, container());
    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    EXPECT_TRUE(e.ancestry.empty()); // 200 is forgotten: nothing more is known
}

TEST(Ancestry, HostSourceWalksToInit) {
    ProcessTable table;
    table.on_exec(task(1, 0, 1, kHostCgroup, "systemd"), "/sbin/init", "/sbin/init");
    table.on_exec(task(700, 1, 70, kHostCgroup, "sshd"), "/usr/sbin/sshd", "sshd -D");
    table.on_fork(task(710, 700, 71, kHostCgroup, "sshd"));
    table.on_exec(task(710, 700, 71, kHostCgroup, "bash"), "/bin/bash", "-bash");
    table.on_fork(task(720, 710, 72, kHostCgroup, "bash"));
    table.on_exec(task(720, 710, 72, kHostCgroup, "cat"), "/bin/cat", "cat /proc/8/environ");
    Event e = proc_access_from(720, 710, 72, kHostCgroup, std::nullopt);
    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    ASSERT_EQ(e.ancestry.size(), 3u);
    EXPECT_EQ(e.ancestry[0].exe, "/bin/bash");
    EXPECT_EQ(e.ancestry[1].exe, "/usr/sbin/sshd");
    EXPECT_EQ(e.ancestry[2].pid, 1u);
    EXPECT_EQ(lookup.calls, 0);

    fill_ancestry(e, table, lookup.fn(), 2);
    EXPECT_EQ(e.ancestry.size(), 2u);
    fill_ancestry(e, table, lookup.fn(), 0);
    EXPECT_TRUE(e.ancestry.empty());
}

TEST(Ancestry, SourceUnknownToTheTableStartsFromTheEventsParent) {
    ProcessTable table = container_tree();
    Event e = proc_access_from(999, 200, 40, kContainerSubCgroup, container());
    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    ASSERT_EQ(e.ancestry.size(), 3u);
    EXPECT_EQ(e.ancestry[0].pid, 200u);
}

TEST(Ancestry, AReusedPidIsNotAnAncestor) {
    ProcessTable table = container_tree();
    // 200 exited and was forgotten; a newer process took the number.
    table.on_exit(task(200, 60, 20, kContainerSubCgroup, "sh"), 100 * kSecond);
    table.expire(200 * kSecond, 60 * kSecond);
    table.on_exec(task(200, 1, 500, kHostCgroup, "cron"), "/usr/sbin/cron", "cron");
    Event e = proc_access_from(300, 200, 30, kContainerSubCgroup, container());
    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    EXPECT_TRUE(e.ancestry.empty());
}

TEST(Ancestry, SeededRecordsMatchWithinAClockTick) {
    ProcessTable table = container_tree();
    // The event's start_ns is exact; the table's came from /proc in ticks.
    Event e = proc_access_from(300, 50, 30, kContainerSubCgroup, container());
    e.source.start_ns += 9'000'000;
    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    ASSERT_FALSE(e.ancestry.empty());
    EXPECT_EQ(e.ancestry[0].pid, 200u); // from the table's ppid, not the event's reaper
}

TEST(Ancestry, JsonCarriesTheChainOnlyWhenFilled) {
    ProcessTable table = container_tree();
    Event e = proc_access_from(300, 200, 30, kContainerSubCgroup, container());
    EXPECT_EQ(event_to_json(e).find("ancestry"), std::string::npos);

    Lookup lookup;
    fill_ancestry(e, table, lookup.fn());
    auto j = nlohmann::json::parse(event_to_json(e));
    ASSERT_TRUE(j.contains("ancestry"));
    const auto& chain = j["ancestry"];
    ASSERT_EQ(chain.size(), 3u);
    EXPECT_EQ(chain[0]["pid"], 200);
    EXPECT_EQ(chain[0]["start_ns"], 20 * kSecond);
    EXPECT_EQ(chain[0]["exe"], "/bin/sh");
    EXPECT_EQ(chain[0]["args"], "sh");
    EXPECT_EQ(chain[0]["container_id"], kContainerId);
    EXPECT_TRUE(chain[2]["container_id"].is_null());
    EXPECT_EQ(j["proc_access"]["path"], "/proc/8/root/etc/secret"); // the rest is intact
}
