// Enforcement on this kernel (no BPF LSM: the signal fallback), with real
// processes in sandbox pod containers and the real BPF object loaded in the
// test process. Each test gets a pod of its own and a policy that names only
// that pod, so nothing else on the machine can be hit.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include <sys/stat.h>

#include "enforce_support.h"

namespace podguard::test {
namespace {

using enforce::PolicyMaps;

class KernelEnforcement : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        LoadOptions o;
        o.agent_tgid = static_cast<uint32_t>(::getpid());
        o.enforcement = EnforcementMode::SignalFallback;
        objects_ = load_enforcing_objects(o).release();
    }
    static void TearDownTestSuite() {
        delete objects_;
        objects_ = nullptr;
    }

    void SetUp() override {
        pod_name_ = "enforce-" + random_hex(8);
        pod_ = std::make_unique<SandboxPod>(true);
        a_ = &pod_->add_container("a");
        b_ = &pod_->add_container("b");
        reader_ = std::make_unique<EventReader>(objects_->events_fd(), objects_->prio_events_fd());
        maps_ = std::make_unique<PolicyMaps>(*objects_);
        load("block");
    }
    void TearDown() override {
        // Leave an empty policy behind: the next test's pod is another one anyway.
        (void)maps_->load(policy::CompiledPolicy{});
    }

    void load(const std::string& action) {
        policy_ = compile_yaml(test_policy_yaml(pod_name_, action));
        auto facts = [this] {
            return std::vector<enforce::CgroupFacts>{container_facts(*a_, pod_name_, 7, 1),
                                                     container_facts(*b_, pod_name_, 7, 2)};
        };
        auto st = maps_->load(policy_, facts);
        ASSERT_TRUE(st) << st.error().message;
    }

    RawEvent event_of(pid_t source, uint16_t kind) {
        auto e = reader_->wait_for([&](const RawEvent& r) {
            return r.hdr.kind == kind && r.source.pid == (uint32_t)source;
        });
        if (!e)
            throw FixtureError("no event of kind " + std::to_string(kind) + " from " +
                               std::to_string(source) + ": " + reader_->describe_recent());
        return *e;
    }

    static BpfObjects* objects_;
    std::string pod_name_;
    std::unique_ptr<SandboxPod> pod_;
    SandboxContainer* a_ = nullptr;
    SandboxContainer* b_ = nullptr;
    std::unique_ptr<EventReader> reader_;
    std::unique_ptr<PolicyMaps> maps_;
    policy::CompiledPolicy policy_;
};

BpfObjects* KernelEnforcement::objects_ = nullptr;

int send_signal(pid_t pid, int sig) {
    return ::kill(pid, sig) == 0 ? 0 : 10 + errno;
}

int ptrace_attach(pid_t pid) {
    if (::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0)
        return 10 + errno;
    ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    return 0;
}

int open_proc(pid_t pid, const std::string& rest) {
    std::string path = "/proc/" + std::to_string(pid) + "/" + rest;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 10 + errno;
    char buf[64];
    (void)!::read(fd, buf, sizeof buf);
    ::close(fd);
    return 0;
}

TEST_F(KernelEnforcement, BlockedSignalKillsTheSender) {
    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc sender = a_->spawn([tpid] { return send_signal(tpid, SIGTERM); });
    ExitStatus st = sender.wait_or_throw();
    EXPECT_EQ(st.signal(), SIGKILL) << st.describe();
    RawEvent e = event_of(sender.pid(), PG_EV_SIGNAL);
    EXPECT_EQ(e.hdr.action, PG_ACT_KILLED);
    EXPECT_EQ(e.hdr.policy_rule, rule_id(policy_, "enforce-test/no-cross-container"));
    EXPECT_EQ(e.target.pid, (uint32_t)target.pid());
}

TEST_F(KernelEnforcement, AllowedSignalPasses) {
    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc sender = a_->spawn([tpid] { return send_signal(tpid, SIGHUP); });
    ExitStatus st = sender.wait_or_throw();
    EXPECT_TRUE(st.success()) << st.describe();
    RawEvent e = event_of(sender.pid(), PG_EV_SIGNAL);
    EXPECT_EQ(e.hdr.action, PG_ACT_ALLOWED);
    EXPECT_EQ(e.hdr.policy_rule, rule_id(policy_, "enforce-test/sidecar-may-hup"));
    // The exception is one way only: b may not HUP a.
    Proc target2 = a_->spawn_sleeper();
    pid_t t2 = target2.ns_pid();
    Proc back = b_->spawn([t2] { return send_signal(t2, SIGHUP); });
    EXPECT_EQ(back.wait_or_throw().signal(), SIGKILL);
}

TEST_F(KernelEnforcement, BlockedPtraceAttachKillsTheTracer) {
    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc tracer = a_->spawn([tpid] { return ptrace_attach(tpid); });
    ExitStatus st = tracer.wait_or_throw();
    EXPECT_EQ(st.signal(), SIGKILL) << st.describe();
    RawEvent e = event_of(tracer.pid(), PG_EV_PTRACE);
    EXPECT_EQ(e.hdr.action, PG_ACT_KILLED);
    EXPECT_EQ(e.request, PTRACE_ATTACH);
    EXPECT_EQ(e.hdr.policy_rule, rule_id(policy_, "enforce-test/no-cross-container"));
}

TEST_F(KernelEnforcement, BlockedProcRootKillsTheReader) {
    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    std::string rest = "root" + b_->private_dir() + "/secret";
    Proc reader = a_->spawn([tpid, rest] { return open_proc(tpid, rest); });
    ExitStatus st = reader.wait_or_throw();
    EXPECT_EQ(st.signal(), SIGKILL) << st.describe();
    RawEvent e = event_of(reader.pid(), PG_EV_PROC_ACCESS);
    EXPECT_EQ(e.hdr.action, PG_ACT_KILLED);
    EXPECT_EQ(e.entry, PG_PROC_ROOT);
    EXPECT_EQ(e.hdr.policy_rule, rule_id(policy_, "enforce-test/no-cross-container"));
}

TEST_F(KernelEnforcement, AuditRuleLetsTheOperationThroughAndSaysSo) {
    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc reader = a_->spawn([tpid] { return open_proc(tpid, "environ"); });
    ExitStatus st = reader.wait_or_throw();
    EXPECT_TRUE(st.success()) << st.describe();
    RawEvent e = event_of(reader.pid(), PG_EV_PROC_ACCESS);
    EXPECT_EQ(e.hdr.action, PG_ACT_AUDITED);
    EXPECT_EQ(e.hdr.policy_rule, rule_id(policy_, "enforce-test/audit-environ"));
}

TEST_F(KernelEnforcement, AuditModeChangesNothing) {
    auto before = maps_->active_generation();
    ASSERT_TRUE(before);
    load("audit");
    auto after = maps_->active_generation();
    ASSERT_TRUE(after);
    EXPECT_NE(*before, *after) << "a reload switches generation";
    const uint32_t rule = rule_id(policy_, "enforce-test/no-cross-container");

    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc tracer = a_->spawn([tpid] { return ptrace_attach(tpid); });
    EXPECT_TRUE(tracer.wait_or_throw().success());
    std::string rest = "root" + b_->private_dir() + "/secret";
    Proc reader = a_->spawn([tpid, rest] { return open_proc(tpid, rest); });
    EXPECT_TRUE(reader.wait_or_throw().success());
    Proc sender = a_->spawn([tpid] { return send_signal(tpid, SIGTERM); });
    EXPECT_TRUE(sender.wait_or_throw().success());

    for (auto [p, kind] :
         {std::pair{tracer.pid(), PG_EV_PTRACE}, std::pair{reader.pid(), PG_EV_PROC_ACCESS},
          std::pair{sender.pid(), PG_EV_SIGNAL}}) {
        RawEvent e = event_of(p, kind);
        EXPECT_EQ(e.hdr.action, PG_ACT_AUDITED) << "kind " << kind;
        EXPECT_EQ(e.hdr.policy_rule, rule) << "kind " << kind;
    }
}

TEST_F(KernelEnforcement, SelfProtectionKillsAContainerSignallingTheAgent) {
    // In container a's cgroup but the host pid namespace: it can name us.
    SpawnSpec spec;
    spec.cgroup_dir = a_->cgroup().path();
    pid_t agent = ::getpid();
    Proc sender = spawn_process(spec, [agent] { return send_signal(agent, SIGWINCH); });
    ExitStatus st = sender.wait_or_throw();
    EXPECT_EQ(st.signal(), SIGKILL) << st.describe();
    RawEvent e = event_of(sender.pid(), PG_EV_SIGNAL);
    EXPECT_EQ(e.hdr.action, PG_ACT_KILLED);
    EXPECT_EQ(e.hdr.policy_rule, rule_id(policy_, "podguard-self-protection/agent-is-untouchable"));
    // The host may still signal the agent.
    Proc host = spawn_on_host([agent] { return send_signal(agent, SIGWINCH); });
    EXPECT_TRUE(host.wait_or_throw().success());
}

TEST_F(KernelEnforcement, HostProcessesAreNotTouched) {
    Proc target = spawn_on_host([] {
        for (;;)
            ::pause();
        return 0;
    });
    pid_t tpid = target.pid();
    Proc sender = spawn_on_host([tpid] { return send_signal(tpid, SIGTERM); });
    EXPECT_TRUE(sender.wait_or_throw().success());
    RawEvent e = event_of(sender.pid(), PG_EV_SIGNAL);
    EXPECT_EQ(e.hdr.action, PG_ACT_ALLOWED);
    EXPECT_EQ(e.hdr.policy_rule, 0u);
}

TEST_F(KernelEnforcement, FailedLoadLeavesTheLivePolicy) {
    auto gen = maps_->active_generation();
    ASSERT_TRUE(gen);
    policy::CompiledPolicy broken = policy_;
    broken.rules.back().id = 999; // not index + 1: the image is refused
    auto st = maps_->load(broken);
    EXPECT_FALSE(st);
    EXPECT_EQ(*maps_->active_generation(), *gen);

    Proc target = b_->spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc sender = a_->spawn([tpid] { return send_signal(tpid, SIGTERM); });
    EXPECT_EQ(sender.wait_or_throw().signal(), SIGKILL) << "the old policy still blocks";
}

TEST_F(KernelEnforcement, ContainerAppearingAfterLoadIsEnforced) {
    SandboxContainer& c = pod_->add_container("c");
    // Not registered yet, but outside the initial pid namespace: a container
    // of the pod (shared pid namespace) as far as relation rules go.
    Proc target = c.spawn_sleeper();
    pid_t tpid = target.ns_pid();
    Proc before = a_->spawn([tpid] { return send_signal(tpid, SIGURG); });
    EXPECT_EQ(before.wait_or_throw().signal(), SIGKILL);
    auto st = maps_->put_cgroup(container_facts(c, pod_name_, 7, 3));
    ASSERT_TRUE(st) << st.error().message;
    Proc after = a_->spawn([tpid] { return send_signal(tpid, SIGURG); });
    EXPECT_EQ(after.wait_or_throw().signal(), SIGKILL);
    ASSERT_TRUE(maps_->remove_cgroup(c.cgroup().id()));
    Proc removed = a_->spawn([tpid] { return send_signal(tpid, SIGURG); });
    EXPECT_EQ(removed.wait_or_throw().signal(), SIGKILL)
        << "still a same-pod target by its pid namespace";
}

} // namespace
} // namespace podguard::test
