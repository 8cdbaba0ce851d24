// The podguard command line on bad input and on the way out: one clear line
// on stderr and the documented exit code, found by running the real binary.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "agent_it.h"

namespace podguard::test {
namespace {

size_t lines(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) +
           (!text.empty() && text.back() != '\n' ? 1 : 0);
}

TEST(AgentCli, UnknownFlagIsOneLineAndExit2) {
    for (const char* sub : {"run", "probe"}) {
        SCOPED_TRACE(sub);
        auto r = run_command({podguard_binary(), sub, "--no-such-flag"}, 10s);
        EXPECT_TRUE(r.status.exited() && r.status.code() == 2) << r.describe();
        EXPECT_EQ(lines(r.err), 1u) << r.describe();
        EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.describe();
        EXPECT_TRUE(r.out.empty()) << r.describe();
    }
}

TEST(AgentCli, UnwritableEventsFileIsNamedAndExit1) {
    TempDir dir;
    const std::string events = dir.file("no-such-dir/events.jsonl");
    auto r = run_command({podguard_binary(), "run", "--events", events}, 20s);
    EXPECT_TRUE(r.status.exited() && r.status.code() == 1) << r.describe();
    EXPECT_EQ(lines(r.err), 1u) << r.describe();
    EXPECT_NE(r.err.find(events), std::string::npos) << r.describe();
}

TEST(AgentCli, RingbufSizeNotAPowerOfTwoIsOneClearLine) {
    TempDir dir;
    auto r = run_command(
        {podguard_binary(), "run", "--events", dir.file("events.jsonl"), "--ringbuf-size", "1000"},
        20s);
    EXPECT_TRUE(r.status.exited() && r.status.code() != 0) << r.describe();
    EXPECT_EQ(lines(r.err), 1u) << r.describe();
    EXPECT_NE(r.err.find("power of two"), std::string::npos) << r.describe();
}

TEST(AgentCli, WithoutRootIsOneLineAndExit1) {
    TempDir dir;
    ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
    auto r = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          podguard_binary(), "run", "--events", dir.file("events.jsonl")},
                         20s);
    EXPECT_TRUE(r.status.exited() && r.status.code() == 1) << r.describe();
    EXPECT_EQ(lines(r.err), 1u) << r.describe();
    EXPECT_NE(r.err.find("root"), std::string::npos) << r.describe();
}

TEST(AgentCli, WithoutBtfIsOneLineAndExit1) {
    // The kernel's BTF hidden in a private mount namespace: the agent sees
    // exactly what a kernel without CONFIG_DEBUG_INFO_BTF shows.
    TempDir dir;
    auto r = run_command({"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                          "mount -t tmpfs none /sys/kernel/btf && "
                          "test ! -e /sys/kernel/btf/vmlinux && exec \"$0\" run --events \"$1\"",
                          podguard_binary(), dir.file("events.jsonl")},
                         20s);
    EXPECT_TRUE(r.status.exited() && r.status.code() == 1) << r.describe();
    EXPECT_EQ(lines(r.err), 1u) << r.describe();
    EXPECT_NE(r.err.find("BTF"), std::string::npos) << r.describe();
    EXPECT_NE(r.err.find("/sys/kernel/btf/vmlinux"), std::string::npos) << r.describe();
}

TEST(AgentCli, ProbeJsonSaysSignalFallbackHere) {
    auto r = run_command({podguard_binary(), "probe", "--json"}, 20s);
    ASSERT_TRUE(r.success()) << r.describe();
    Json j;
    ASSERT_NO_THROW(j = Json::parse(r.out)) << r.out;
    EXPECT_EQ(j.value("can_observe", false), true) << r.out;
    // This kernel has no BPF LSM (see ../shared/notes/platform.md (beside this repository)).
    EXPECT_EQ(j.value("enforcement_mode", ""), "signal_fallback") << r.out;
    EXPECT_EQ(j.value("operation_may_complete_when_blocked", false), true) << r.out;
}

void expect_clean_stop(AgentProcess& agent, int sig) {
    ASSERT_EQ(::kill(agent.pid(), sig), 0);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (agent.running() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_FALSE(agent.running()) << "still running 5 s after signal " << sig;
    ExitStatus status = agent.stop();
    EXPECT_TRUE(status.exited() && status.code() == 0) << status.describe();
    std::string err = agent.stderr_text();
    EXPECT_NE(err.find("podguard stopping:"), std::string::npos) << err;
}

TEST(AgentCli, SigtermStopsRunWithItsSummary) {
    AgentProcess agent;
    expect_clean_stop(agent, SIGTERM);
}

TEST(AgentCli, SigintStopsRunWithItsSummary) {
    AgentProcess agent;
    expect_clean_stop(agent, SIGINT);
}

} // namespace
} // namespace podguard::test
