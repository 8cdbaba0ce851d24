#include <fcntl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "output/json_event.h"

using namespace podguard;

namespace {

Party container_party(uint32_t pid, const std::string& id, uint32_t pidns) {
    Party p;
    p.known = true;
    p.pid = p.tid = pid;
    p.ns_pid = p.ns_tid = pid % 100;
    p.comm = "sh";
    p.exe = "/bin/busybox";
    p.cgroup_id = 42;
    p.pidns = pidns;
    p.container = ContainerInfo{id, "libpod", "", "", "pod1"};
    return p;
}

} // namespace

TEST(JsonEvent, SignalEventCarriesEveryContractField) {
    Event e;
    e.time_ns = 1795960000123456789ull;
    e.kind = EventKind::Signal;
    e.relation = Relation::SamePod;
    e.source = container_party(1015, std::string(64, 'a'), 7);
    e.target = container_party(1008, std::string(64, 'b'), 7);
    SignalDetail d;
    d.number = 1;
    d.syscall = PG_SYS_KILL;
    d.result = 0;
    d.target_arg = 8;
    d.delivery = "delivered";
    e.detail = d;

    auto j = nlohmann::json::parse(event_to_json(e));
    EXPECT_EQ(j["time"], "2026-11-29T13:46:40.123456789Z");
    EXPECT_EQ(j["kind"], "signal");
    EXPECT_EQ(j["action"], "allowed");
    EXPECT_EQ(j["relation"], "same_pod");
    for (const char* side : {"source", "target"})
        for (const char* f :
             {"pid", "tid", "ns_pid", "uid", "comm", "exe", "cgroup_id", "container"})
            EXPECT_TRUE(j[side].contains(f)) << side << "." << f;
    EXPECT_EQ(j["source"]["container"]["id"], std::string(64, 'a'));
    EXPECT_EQ(j["source"]["container"]["runtime"], "libpod");
    EXPECT_EQ(j["target"]["pid"], 1008);
    EXPECT_EQ(j["signal"]["number"], 1);
    EXPECT_EQ(j["signal"]["name"], "SIGHUP");
    EXPECT_EQ(j["signal"]["syscall"], "kill");
    EXPECT_EQ(j["signal"]["result"], 0);
}

TEST(JsonEvent, UnknownTargetAndHostSideAreNull) {
    Event e;
    e.kind = EventKind::Ptrace;
    e.relation = Relation::Unknown;
    e.source.known = true;
    e.source.comm = "gdb";
    PtraceDetail d;
    d.request = 16;
    d.syscall = PG_SYS_PTRACE;
    d.result = -3;
    e.detail = d;
    auto j = nlohmann::json::parse(event_to_json(e));
    EXPECT_TRUE(j["source"]["container"].is_null());
    EXPECT_TRUE(j["target"]["pid"].is_null());
    EXPECT_EQ(j["ptrace"]["request"], 16);
    EXPECT_EQ(j["ptrace"]["request_name"], "PTRACE_ATTACH");
    EXPECT_EQ(j["ptrace"]["result"], -3);
}

TEST(JsonEvent, BytesThatAreNotTextStayValidJson) {
    Event e;
    e.kind = EventKind::ProcAccess;
    e.source.known = true;
    e.source.comm = std::string("a\"b\\c\n\x01\xff\xc3\xa9", 10);
    ProcAccessDetail d;
    d.path = "/proc/8/root/etc/\xe2\x82";
    d.entry = "root";
    d.syscall = PG_SYS_OPENAT;
    e.detail = d;
    auto j = nlohmann::json::parse(event_to_json(e));
    EXPECT_EQ(j["source"]["comm"], "a\"b\\c\n\x01\xEF\xBF\xBD\xc3\xa9");
    EXPECT_EQ(j["proc_access"]["path"], "/proc/8/root/etc/\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(j["proc_access"]["entry"], "root");
}

TEST(JsonEvent, SaysWhetherAPathWasRelative) {
    Event e;
    e.kind = EventKind::ProcAccess;
    e.source.known = true;
    ProcAccessDetail d;
    d.path = "/proc/8/environ";
    d.entry = "environ";
    d.syscall = PG_SYS_OPENAT;
    d.dirfd = AT_FDCWD;
    e.detail = d;
    auto absolute = nlohmann::json::parse(event_to_json(e))["proc_access"];
    EXPECT_FALSE(absolute.contains("dirfd")) << absolute.dump();
    EXPECT_FALSE(absolute.contains("relative")) << absolute.dump();

    d.path = "environ";
    d.dirfd = 5;
    d.relative = true;
    e.detail = d;
    auto relative = nlohmann::json::parse(event_to_json(e))["proc_access"];
    EXPECT_EQ(relative.value("dirfd", 0), 5) << relative.dump();
    EXPECT_TRUE(relative.value("relative", false)) << relative.dump();
}

TEST(JsonEvent, PodLabelsAreAnObject) {
    Event e;
    e.kind = EventKind::Signal;
    e.source.known = true;
    e.source.pod = PodInfo{"demo", "nginx", "uid-1", {{"app", "demo"}, {"tier", "web\"x"}}};
    e.detail = SignalDetail{};
    auto j = nlohmann::json::parse(event_to_json(e));
    EXPECT_EQ(j["source"]["pod"]["namespace"], "demo");
    EXPECT_EQ(j["source"]["pod"]["labels"]["app"], "demo");
    EXPECT_EQ(j["source"]["pod"]["labels"]["tier"], "web\"x");
}
