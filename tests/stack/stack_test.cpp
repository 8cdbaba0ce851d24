// Stacks of an event's source (podguard run --stacks): symbolization of
// kernel and user addresses with BCC, the JSON they become, and the real
// agent reporting the frames of a process that opened another's environ.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/agent_it.h"
#include "output/json_event.h"
#include "stack/stack_probe.h"
#include "stack/stack_resolver.h"
#include "stack/symbolizer.h"
#include "store/record.h"

namespace podguard::test {
namespace {

// A text symbol of the running kernel and its address, from /proc/kallsyms.
std::pair<std::string, uint64_t> kernel_symbol(const std::string& wanted) {
    std::ifstream in("/proc/kallsyms");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string addr, type, name;
        fields >> addr >> type >> name;
        if (name == wanted && (type == "T" || type == "t"))
            return {name, std::stoull(addr, nullptr, 16)};
    }
    return {"", 0};
}

std::string exe_of_self() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

bool has_symbol(const Json& frames, const std::string& part) {
    for (const auto& f : frames)
        if (f.value("symbol", "").find(part) != std::string::npos)
            return true;
    return false;
}

TEST(StackSymbolizer, NamesAKernelAddress) {
    auto [name, addr] = kernel_symbol("do_sys_openat2");
    ASSERT_NE(addr, 0u) << "do_sys_openat2 not in /proc/kallsyms (or addresses hidden)";
    Symbolizer symbols;
    StackFrame f = symbols.kernel_frame(addr + 4);
    EXPECT_EQ(f.address, addr + 4);
    EXPECT_EQ(f.symbol, name);
    EXPECT_EQ(f.offset, 4u);
    EXPECT_FALSE(f.module.empty());
}

TEST(StackSymbolizer, NamesAFunctionOfALiveProcess) {
    auto addr = reinterpret_cast<uint64_t>(&podguard_stack_probe) + 1;
    Symbolizer symbols;
    StackFrame f = symbols.user_frame(uint32_t(getpid()), 1, addr);
    EXPECT_EQ(f.symbol, "podguard_stack_probe");
    EXPECT_EQ(f.offset, 1u);
    EXPECT_EQ(f.module, exe_of_self());
    EXPECT_EQ(symbols.cached_processes(), 1u);
    // Another start time under the same pid is another process.
    symbols.user_frame(uint32_t(getpid()), 2, addr);
    EXPECT_EQ(symbols.cached_processes(), 1u);
    symbols.forget(uint32_t(getpid()));
    EXPECT_EQ(symbols.cached_processes(), 0u);
}

TEST(StackSymbolizer, KeepsTheBareAddressOfAProcessThatIsGone) {
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    ASSERT_GT(child, 0);
    ASSERT_EQ(waitpid(child, nullptr, 0), child);
    Symbolizer symbols;
    auto addr = reinterpret_cast<uint64_t>(&podguard_stack_probe);
    StackFrame f = symbols.user_frame(uint32_t(child), 1, addr);
    EXPECT_EQ(f.address, addr);
    EXPECT_EQ(f.symbol, "");
}

TEST(StackResolver, SaysWhyAStackIsMissing) {
    EXPECT_NE(stack_id_error(-EEXIST).find("too many distinct stacks"), std::string::npos);
    EXPECT_NE(stack_id_error(-EFAULT).find("no stack"), std::string::npos);
    // A bad map fd is an error value, not an exception.
    StackResolver resolver(-1);
    EventStacks s = resolver.resolve(uint32_t(getpid()), 1, 3, -EFAULT);
    EXPECT_TRUE(s.user.empty());
    EXPECT_TRUE(s.kernel.empty());
    EXPECT_NE(s.user_error.find("cannot be read"), std::string::npos) << s.user_error;
    EXPECT_NE(s.kernel_error.find("no stack"), std::string::npos) << s.kernel_error;
    EXPECT_EQ(resolver.stats().stack_errors, 1u);
}

TEST(StackJson, FramesOnlyWhenTheEventHasStacks) {
    Event e;
    e.kind = EventKind::ProcAccess;
    e.detail = ProcAccessDetail{"/proc/1/environ", "environ", PG_SYS_OPENAT, 3, 1, AT_FDCWD, false};
    EXPECT_FALSE(Json::parse(event_to_json(e)).contains("stack"));

    EventStacks s;
    s.user.push_back({0x7f0000001234, "podguard_stack_probe", "/usr/bin/x", 20});
    s.user.push_back({0x7f0000009999, "", "/usr/lib/libc.so.6", 0x1999});
    s.user.push_back({0x10, "", "", 0});
    s.kernel.push_back({0xffffffff81000010, "do_sys_openat2", "kernel", 16});
    e.stacks = s;
    Json j = Json::parse(event_to_json(e));
    ASSERT_TRUE(j.contains("stack")) << j.dump();
    const Json& user = j["stack"]["user"];
    ASSERT_EQ(user.size(), 3u);
    EXPECT_EQ(user[0]["address"], "0x7f0000001234");
    EXPECT_EQ(user[0]["symbol"], "podguard_stack_probe");
    EXPECT_EQ(user[0]["module"], "/usr/bin/x");
    EXPECT_EQ(user[0]["offset"], 20);
    EXPECT_FALSE(user[1].contains("symbol"));
    EXPECT_EQ(user[1]["offset"], 0x1999);
    EXPECT_EQ(user[2], (Json{{"address", "0x10"}}));
    EXPECT_EQ(j["stack"]["kernel"][0]["symbol"], "do_sys_openat2");
    EXPECT_FALSE(j["stack"].contains("user_error"));

    e.stacks = EventStacks{};
    e.stacks->user_error = "no stack to walk";
    j = Json::parse(event_to_json(e));
    EXPECT_EQ(j["stack"]["user"], Json::array());
    EXPECT_EQ(j["stack"]["user_error"], "no stack to walk");
}

TEST(StackJson, TheStoreKeepsThemInItsJsonColumn) {
    Event e;
    e.kind = EventKind::ProcAccess;
    e.detail = ProcAccessDetail{"/proc/1/environ", "environ", PG_SYS_OPENAT, 3, 1, AT_FDCWD, false};
    e.stacks = EventStacks{};
    e.stacks->kernel.push_back({0xffffffff81000010, "do_sys_openat2", "kernel", 16});
    StoreRecord r = make_record(e);
    EXPECT_EQ(Json::parse(r.json)["stack"]["kernel"][0]["symbol"], "do_sys_openat2");
}

// The real agent with --stacks: a host process opens another's environ from
// podguard_stack_probe, and stays alive until its event is seen (user
// symbols are read from the live process).
class StackAgent : public ::testing::Test {
  protected:
    Proc target = spawn_on_host([] {
        for (;;)
            ::pause();
        return 0;
    });
    std::string path = "/proc/" + std::to_string(target.pid()) + "/environ";

    // Forks the prober; returns it and the pipe end that lets it exit.
    std::pair<Proc, int> probe() {
        int go[2];
        if (pipe2(go, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
        const std::string p = path;
        const int read_end = go[0];
        Proc prober = spawn_on_host([p, read_end] {
            long fd = podguard_stack_probe(p.c_str());
            char c;
            (void)::read(read_end, &c, 1);
            return fd >= 0 ? 0 : 1;
        });
        close(go[0]);
        return {std::move(prober), go[1]};
    }
    Json event_of(AgentProcess& agent, pid_t prober) {
        return agent.wait_for(
            [&](const Json& e) {
                return e.value("kind", "") == "proc_access" &&
                       e["source"].value("pid", -1) == prober &&
                       e["proc_access"].value("path", "") == path;
            },
            10s, "the prober's open of " + path);
    }
};

TEST_F(StackAgent, ReportsTheUserAndKernelStackOfTheSource) {
    std::vector<std::string> args = observe_only();
    args.push_back("--stacks");
    AgentProcess agent(args);
    auto [prober, go] = probe();
    Json ev = event_of(agent, prober.pid());
    (void)!::write(go, "x", 1);
    close(go);
    EXPECT_TRUE(prober.wait_or_throw().success());
    SCOPED_TRACE(ev.dump(1));
    ASSERT_TRUE(ev.contains("stack")) << "no stack in the event";
    const Json& stack = ev["stack"];
    ASSERT_FALSE(stack["kernel"].empty()) << stack.value("kernel_error", "");
    ASSERT_FALSE(stack["user"].empty()) << stack.value("user_error", "");
    // The walk starts in libc's syscall() and climbs the probe's frames
    // (podguard_stack_probe_open's own return address is in syscall()'s
    // frame, which has no frame pointer).
    EXPECT_TRUE(has_symbol(stack["user"], "podguard_stack_probe"));
    EXPECT_EQ(stack["user"][0].value("symbol", ""), "syscall");
    bool in_tests = false;
    for (const auto& f : stack["user"])
        in_tests = in_tests || f.value("module", "") == exe_of_self();
    EXPECT_TRUE(in_tests);
    // The kernel side is the syscall's entry path, without the hook's own
    // frames (the BPF program, the tracepoint glue).
    EXPECT_TRUE(has_symbol(stack["kernel"], "do_syscall_64"));
    EXPECT_FALSE(has_symbol(stack["kernel"], "bpf_prog_"));
    EXPECT_FALSE(has_symbol(stack["kernel"], "bpf_trace_run"));
}

TEST_F(StackAgent, NoStackWithoutTheFlag) {
    AgentProcess agent(observe_only());
    auto [prober, go] = probe();
    Json ev = event_of(agent, prober.pid());
    (void)!::write(go, "x", 1);
    close(go);
    prober.wait_or_throw();
    EXPECT_FALSE(ev.contains("stack")) << ev.dump();
}

} // namespace
} // namespace podguard::test
