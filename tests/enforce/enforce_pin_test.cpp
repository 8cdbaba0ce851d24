// Fail-closed and fail-open: what is left in the kernel when the daemon is
// gone, and how a new daemon takes over. The "daemon" is a BpfObjects in the
// test process; destroying it closes every fd, as a killed daemon would.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include "enforce_support.h"

namespace podguard::test {
namespace {

using enforce::PolicyMaps;

struct PinDir {
    std::string path = "/sys/fs/bpf/" + owned_name();
    ~PinDir() { (void)remove_pinned_state(path); }
};

class EnforcePinning : public ::testing::Test {
  protected:
    void SetUp() override {
        pod_name_ = "pin-" + random_hex(8);
        a_ = &pod_.add_container("a");
        b_ = &pod_.add_container("b");
        options_.agent_tgid = static_cast<uint32_t>(::getpid());
        options_.enforcement = EnforcementMode::SignalFallback;
        options_.pin_dir = pins_.path;
    }

    Status load(BpfObjects& objects, const std::string& action) {
        auto facts = [this] {
            return std::vector<enforce::CgroupFacts>{container_facts(*a_, pod_name_, 1, 1),
                                                     container_facts(*b_, pod_name_, 1, 2)};
        };
        return PolicyMaps(objects).load(compile_yaml(test_policy_yaml(pod_name_, action)), facts);
    }

    // A sends SIGTERM to a fresh sleeper in b: was the sender killed?
    bool sender_killed() {
        Proc target = b_->spawn_sleeper();
        pid_t tpid = target.ns_pid();
        Proc sender = a_->spawn([tpid] { return ::kill(tpid, SIGTERM) == 0 ? 0 : 1; });
        return sender.wait_or_throw().signal() == SIGKILL;
    }

    PinDir pins_;
    SandboxPod pod_{true};
    SandboxContainer* a_ = nullptr;
    SandboxContainer* b_ = nullptr;
    std::string pod_name_;
    LoadOptions options_;
};

TEST_F(EnforcePinning, PinnedEnforcementOutlivesTheDaemonAndIsAdopted) {
    uint32_t gen = 0;
    {
        auto objects = load_enforcing_objects(options_);
        auto st = load(*objects, "block");
        ASSERT_TRUE(st) << st.error().message;
        gen = *PolicyMaps(*objects).active_generation();
        EXPECT_TRUE(sender_killed());
    }
    EXPECT_TRUE(sender_killed()) << "pinned links and maps enforce with no daemon";

    {
        auto objects = load_enforcing_objects(options_);
        auto adopted = PolicyMaps(*objects).active_generation();
        ASSERT_TRUE(adopted);
        EXPECT_EQ(*adopted, gen) << "the new daemon reuses the pinned policy maps";
        EXPECT_TRUE(sender_killed()) << "adopted policy enforced before any reload";
        auto st = load(*objects, "audit");
        ASSERT_TRUE(st) << st.error().message;
        EXPECT_FALSE(sender_killed()) << "the reload reached the pinned maps";
        st = load(*objects, "block");
        ASSERT_TRUE(st) << st.error().message;
    }
    EXPECT_TRUE(sender_killed()) << "the second daemon's links are pinned too";
    ASSERT_TRUE(remove_pinned_state(pins_.path));
    EXPECT_FALSE(sender_killed()) << "unpinning detaches everything";
}

TEST_F(EnforcePinning, FailOpenLinksGoWithTheDaemon) {
    options_.pin_links = false;
    {
        auto objects = load_enforcing_objects(options_);
        auto st = load(*objects, "block");
        ASSERT_TRUE(st) << st.error().message;
        EXPECT_TRUE(sender_killed());
    }
    EXPECT_FALSE(sender_killed()) << "fail-open: no hooks once the daemon's fds are closed";
}

} // namespace
} // namespace podguard::test
