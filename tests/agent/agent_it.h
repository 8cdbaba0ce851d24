// Helpers of the agent integration suites (tests/agent/): processes whose
// pids are known before they act, victims that survive the signals they get,
// and exact checks of one side of an event against what /proc said about the
// process while it lived.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/agent.h"
#include "support/podman_pod.h"
#include "support/sandbox.h"

namespace podguard::test {

using Json = nlohmann::json;

// What an Actor's function returned, and how the process ended.
struct ActResult {
    bool reported = false; // false: the function never returned (exec, crash)
    long ret = 0;
    int err = 0;
    std::array<long, 4> aux{}; // values the function handed back (an fd, a pid)
    ExitStatus status;
    std::string describe() const;
};

// A process built from `spec` that waits for run() before calling fn: its
// pids and namespaces are read while it waits, so a test knows exactly who
// will act before anything is reported. fn may fill aux[0..3].
class Actor {
  public:
    using Fn = std::function<long(long* aux)>;
    Actor(const SpawnSpec& spec, Fn fn);
    ~Actor();
    Actor(const Actor&) = delete;
    Actor& operator=(const Actor&) = delete;

    pid_t pid() const { return proc_.pid(); }
    pid_t ns_pid() const { return proc_.ns_pid(); }
    const Proc& proc() const { return proc_; }
    // Lets fn run and waits for the process to exit.
    ActResult run(std::chrono::milliseconds timeout = 10s);

  private:
    Proc proc_;
    int go_fd_ = -1;
    int result_fd_ = -1;
};

struct Side;

// Builds an Actor and runs it: the common case.
struct Acted {
    pid_t pid = -1;
    pid_t ns_pid = -1;
    std::shared_ptr<Side> side; // observed before it acted
    ActResult result;
};
Acted act(const SpawnSpec& spec, Actor::Fn fn, std::chrono::milliseconds timeout = 10s);
Acted act(const SandboxContainer& c, Actor::Fn fn, std::chrono::milliseconds timeout = 10s);
Acted act_on_host(Actor::Fn fn, std::chrono::milliseconds timeout = 10s);

// A target process: no-op handlers for SIGHUP, SIGUSR1, SIGUSR2, SIGIO and
// SIGRTMIN+1 (so signals are "delivered" and it survives them), a second
// thread, and g_victim_memory holding kVictimMemory.
struct Victim {
    Proc proc;
    pid_t thread_tid = -1;    // host tid of the second thread
    pid_t thread_ns_tid = -1; // its tid in the victim's pid namespace
    pid_t pid() const { return proc.pid(); }
    pid_t ns_pid() const { return proc.ns_pid(); }
};
Victim spawn_victim(const SpawnSpec& spec, const std::string& comm = "victim");
Victim spawn_victim(const SandboxContainer& c);

inline constexpr char kVictimMemory[] = "victim memory: 0123456789abcdef";
// Same address in every process forked from the test binary (fork keeps the
// address space), which is what process_vm_readv/writev tests aim at.
extern char g_victim_memory[64];

// One side of an event as it must be: pids, namespaces and cgroup from /proc
// while the process lived, container identity from the fixture.
struct Side {
    pid_t pid = 0;
    pid_t tid = 0;
    pid_t ns_pid = 0;
    pid_t ns_tid = 0;
    uint32_t uid = 0;
    uint32_t euid = 0;
    unsigned long pidns = 0;
    unsigned long mntns = 0;
    uint64_t cgroup_id = 0;
    std::optional<std::string> container_id; // nullopt: must be null (host)
    std::string runtime;
    std::string pod_uid;
    std::string comm; // empty: not checked
    std::string exe;  // empty: not checked

    Side& in(const SandboxContainer& c);
    Side& in(const CgroupDir& kubepods_container);
    Side& in(const PodmanContainer& c, const std::string& pod_id);
    Side& with_uid(uint32_t u) {
        uid = euid = u;
        return *this;
    }
    Side& thread(pid_t host_tid, pid_t namespace_tid) {
        tid = host_tid;
        ns_tid = namespace_tid;
        return *this;
    }
};

// Reads /proc/<pid> (alive): pid, NSpid, uids, pid/mnt namespaces, cgroup v2
// id, comm and exe.
Side observe(pid_t pid);
Side observe(const Proc& p);
Side observe(const Victim& v);
Side observe(const Acted& a); // as it was before it acted

// Compares every field of `got` (an event's "source" or "target") with `want`.
void expect_side(const Json& got, const Side& want, const std::string& label);

// /proc/self/exe of the test binary: the exe of every forked, not exec'd child.
const std::string& test_binary();

// Event predicates.
EventPredicate from(const std::string& kind, pid_t source_pid);
EventPredicate between(const std::string& kind, pid_t source_pid, pid_t target_pid);
EventPredicate detail_is(const std::string& kind, pid_t source_pid, const std::string& field,
                         const Json& value);
// Every event of `kind` (or any reported kind when empty) from source_pid so far.
// Agent arguments for tests of observation: the observe-only example policy,
// so that actions are "allowed" whatever the embedded default audits.
std::vector<std::string> observe_only();

std::vector<Json> events_from(AgentProcess& agent, pid_t source_pid, const std::string& kind = "");
std::string dump_all(const std::vector<Json>& events);

// Host pids of the live children of `parent` (from /proc/<pid>/stat).

// SIGSTOPs the agent so that what follows happens before it reads a thing;
// SIGCONTs it at destruction, also when an assertion failed.
class AgentPause {
  public:
    explicit AgentPause(const AgentProcess& agent);
    ~AgentPause();
    void resume();
    AgentPause(const AgentPause&) = delete;
    AgentPause& operator=(const AgentPause&) = delete;

  private:
    pid_t pid_;
    bool paused_ = false;
};

// Drops to uid/gid 65534 (nobody) in the calling (child) process.
bool drop_to_nobody();

// The fixture of the observation suites: a pod sharing its pid namespace with
// an "nginx" container holding a Victim and a "shell" container the tests act
// from, and the agent with the observe-only policy. The victim is older than
// the agent (known from the agent's /proc scan) unless a suite asks for one
// born after it (known from the fork hook).
class PodAgentTest : public ::testing::Test {
  protected:
    enum class VictimBorn { BeforeAgent, AfterAgent };
    explicit PodAgentTest(VictimBorn born = VictimBorn::BeforeAgent) : born_(born) {}

    Side source(const Acted& a) { return observe(a).in(shell); }
    Side target() { return observe(victim).in(nginx); }

    // The proc_access event of `a`'s `syscall` on `path` (as the event spells it).
    Json proc_access_event(const Acted& a, const std::string& syscall, const std::string& path) {
        return agent.wait_for(
            [&](const Json& e) {
                return e.value("kind", "") == "proc_access" &&
                       e["source"].value("pid", -1) == a.pid &&
                       e["proc_access"].value("path", "") == path &&
                       e["proc_access"].value("syscall", "") == syscall;
            },
            5s, syscall + " of " + path);
    }

  private:
    const VictimBorn born_;
    std::unique_ptr<AgentProcess> start_agent_if(VictimBorn when) {
        return born_ == when ? std::make_unique<AgentProcess>(observe_only()) : nullptr;
    }

  protected:
    SandboxPod pod;
    SandboxContainer& nginx = pod.add_container("nginx");
    SandboxContainer& shell = pod.add_container("shell");

  private:
    std::unique_ptr<AgentProcess> agent_before_ = start_agent_if(VictimBorn::AfterAgent);

  protected:
    Victim victim = spawn_victim(nginx);

  private:
    std::unique_ptr<AgentProcess> agent_after_ = start_agent_if(VictimBorn::BeforeAgent);

  protected:
    AgentProcess& agent = agent_before_ ? *agent_before_ : *agent_after_;
};

} // namespace podguard::test
