// Tests of the AgentProcess fixture itself. The agent is replaced by a small
// shell script that honours the same command line contract (run --events F
// --ready-file R), so these tests exercise the fixture, not podguard.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/agent.h"

namespace podguard::test {
namespace {

constexpr const char* kStandIn = R"SH(#!/bin/sh
[ "$1" = run ] || { echo "usage: $0 run --events F --ready-file R" >&2; exit 2; }
shift
events= ready= never_ready= partial= bad= ignore_term=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --ready-file) ready=$2; shift 2 ;;
    --die-early) echo "fatal: cannot attach programs" >&2; exit 3 ;;
    --never-ready) never_ready=1; shift ;;
    --ignore-term) ignore_term=1; shift ;;
    --partial) partial=1; shift ;;
    --bad-line) bad=1; shift ;;
    --metrics-address=*|--store=*) shift ;;
    --echo-env) echo "{\"kind\":\"env\",\"value\":\"$STANDIN_VALUE\"}" >> "$events"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$events" ] && [ -n "$ready" ] || { echo "missing --events/--ready-file" >&2; exit 2; }
if [ -n "$ignore_term" ]; then trap '' TERM
else trap 'echo "{\"kind\":\"shutdown\"}" >> "$events"; exit 0' TERM; fi
echo "{\"kind\":\"started\",\"pid\":$$}" >> "$events"
if [ -n "$never_ready" ]; then while :; do sleep 0.05; done; fi
: > "$ready"
[ -n "$bad" ] && echo "this is not json" >> "$events"
if [ -n "$partial" ]; then
  printf '{"kind":"par' >> "$events"; sleep 0.3; printf 'tial"}\n' >> "$events"
fi
i=0
while :; do
  i=$((i+1))
  echo "{\"kind\":\"tick\",\"n\":$i}" >> "$events"
  sleep 0.05
done
)SH";

class SupportAgent : public ::testing::Test {
  protected:
    void SetUp() override {
        script_ = dir_.file("podguard-standin");
        std::ofstream(script_) << kStandIn;
        ASSERT_EQ(::chmod(script_.c_str(), 0755), 0);
    }
    AgentOptions options(std::vector<std::string> extra = {}) {
        AgentOptions o;
        o.binary = script_;
        o.extra_args = std::move(extra);
        return o;
    }
    static EventPredicate kind(std::string k) {
        return [k](const nlohmann::json& e) { return e.value("kind", "") == k; };
    }

    TempDir dir_;
    std::string script_;
};

TEST_F(SupportAgent, StartsOnceReadyAndReadsEvents) {
    AgentProcess agent(options());
    EXPECT_TRUE(agent.running());
    EXPECT_TRUE(std::filesystem::exists(agent.ready_path()));
    ASSERT_FALSE(agent.events().empty());
    EXPECT_EQ(agent.events().front()["kind"], "started");
    EXPECT_EQ(agent.events().front()["pid"], agent.pid());
    auto third = agent.wait_for(
        [](const nlohmann::json& e) { return e.value("kind", "") == "tick" && e["n"] == 3; }, 5s);
    EXPECT_EQ(third["n"], 3);
    // Incremental reads keep what was parsed before.
    auto count = agent.events().size();
    agent.wait_for(kind("tick"), 1s);
    EXPECT_GE(agent.events().size(), count);
}

TEST_F(SupportAgent, WaitForTimesOutWithTheLastEventsAndStderr) {
    AgentProcess agent(options());
    try {
        agent.wait_for(kind("never"), 300ms, "of kind never");
        ADD_FAILURE() << "wait_for did not throw";
    } catch (const FixtureError& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("no event of kind never within 300 ms"), std::string::npos) << msg;
        EXPECT_NE(msg.find("\"kind\":\"tick\""), std::string::npos) << msg;
        EXPECT_NE(msg.find("agent running"), std::string::npos) << msg;
    }
    EXPECT_FALSE(agent.poll_for(kind("never"), 100ms).has_value());
}

TEST_F(SupportAgent, EarlyExitFailsWithTheAgentsStderr) {
    try {
        AgentProcess agent(options({"--die-early"}));
        ADD_FAILURE() << "constructor did not throw";
    } catch (const FixtureError& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("exited before it was ready (exit 3)"), std::string::npos) << msg;
        EXPECT_NE(msg.find("fatal: cannot attach programs"), std::string::npos) << msg;
        EXPECT_NE(msg.find("--ready-file"), std::string::npos) << msg;
    }
}

TEST_F(SupportAgent, ReadyTimeoutKillsTheAgent) {
    auto o = options({"--never-ready"});
    o.ready_timeout = 300ms;
    try {
        AgentProcess agent(o);
        ADD_FAILURE() << "constructor did not throw";
    } catch (const FixtureError& e) {
        EXPECT_NE(std::string(e.what()).find("not ready within 300 ms"), std::string::npos)
            << e.what();
    }
}

TEST_F(SupportAgent, StopSendsSigtermAndReturnsTheExitStatus) {
    AgentProcess agent(options());
    pid_t pid = agent.pid();
    auto status = agent.stop();
    EXPECT_TRUE(status.success()) << status.describe();
    EXPECT_TRUE(agent.poll_for(kind("shutdown"), 0ms).has_value());
    EXPECT_FALSE(agent.running());
    EXPECT_EQ(agent.stop().raw, status.raw);
    EXPECT_NE(::kill(pid, 0), 0) << "agent process not reaped";
}

TEST_F(SupportAgent, StopEscalatesToSigkill) {
    AgentProcess agent(options({"--ignore-term"}));
    auto status = agent.stop(300ms);
    EXPECT_EQ(status.signal(), SIGKILL) << status.describe();
}

TEST_F(SupportAgent, DestructorStopsTheAgent) {
    pid_t pid;
    {
        AgentProcess agent(options());
        pid = agent.pid();
    }
    EXPECT_NE(::kill(pid, 0), 0) << "agent still around after its fixture";
}

TEST_F(SupportAgent, PartialLinesWaitForTheirNewline) {
    AgentProcess agent(options({"--partial"}));
    auto ev = agent.wait_for(kind("partial"), 5s);
    EXPECT_EQ(ev["kind"], "partial");
    EXPECT_EQ(agent.events()[1]["kind"], "partial");
}

TEST_F(SupportAgent, MalformedLinesAreReported) {
    AgentProcess agent(options({"--bad-line"}));
    std::this_thread::sleep_for(100ms);
    EXPECT_THROW(agent.events(), FixtureError);
}

TEST_F(SupportAgent, PassesExtraEnvironment) {
    auto o = options({"--echo-env"});
    o.env = {"STANDIN_VALUE=hello"};
    AgentProcess agent(o);
    EXPECT_EQ(agent.wait_for(kind("env"), 2s)["value"], "hello");
}

TEST(SupportCommand, CapturesOutputErrorAndExitCode) {
    auto r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"});
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.status.code(), 4) << r.describe();
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_FALSE(r.success());
    EXPECT_TRUE(run_command({"true"}).success()) << "PATH lookup";
}

TEST(SupportCommand, AppliesEnvironmentOverrides) {
    auto r = run_command({"/bin/sh", "-c", "printf %s \"$PG_X\""}, 5s, {"PG_X=1=2"});
    EXPECT_EQ(r.out, "1=2") << r.describe();
}

TEST(SupportCommand, TimeoutKillsTheWholeProcessGroup) {
    auto started = std::chrono::steady_clock::now();
    auto r = run_command({"/bin/sh", "-c", "sleep 30 & sleep 30"}, 300ms);
    EXPECT_TRUE(r.timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_FALSE(r.success());
}

TEST(SupportCommand, DoesNotHangOnDaemonsHoldingItsPipes) {
    auto started = std::chrono::steady_clock::now();
    auto r = run_command({"/bin/sh", "-c", "(setsid sleep 2 &) ; echo done"}, 10s);
    EXPECT_TRUE(r.success()) << r.describe();
    EXPECT_EQ(r.out, "done\n");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST(SupportCommand, MissingCommandExits127) {
    auto r = run_command({"/nonexistent/cmd"});
    EXPECT_EQ(r.status.code(), 127);
    EXPECT_NE(r.err.find("/nonexistent/cmd"), std::string::npos) << r.err;
}

TEST(SupportCommand, DefaultAgentBinaryIsTheBuiltOne) {
    auto binary = podguard_binary();
    ASSERT_FALSE(binary.empty());
    EXPECT_EQ(binary, PODGUARD_BINARY);
    EXPECT_EQ(::access(binary.c_str(), X_OK), 0) << binary;
}

} // namespace
} // namespace podguard::test
