#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "container/cgroup_resolver.h"
#include "support/sandbox.h"
#include "support/temp_cgroup.h"

namespace podguard {
namespace {

using test::CgroupChild;
using test::TempCgroupTree;

constexpr long kCgroup2SuperMagic = 0x63677270;

// A BPF_PROG_TYPE_SYSCALL program run with BPF_PROG_TEST_RUN executes as the
// calling task, so it tells what bpf_get_current_cgroup_id() returns for that
// task: the very number podguard's probes put in every event.
//   r6 = ctx; r0 = bpf_get_current_cgroup_id(); *(u64 *)(r6 + 0) = r0; return 0
class CgroupIdProbe {
  public:
    CgroupIdProbe() {
        const bpf_insn insns[] = {
            {BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0},
            {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_cgroup_id},
            {BPF_STX | BPF_MEM | BPF_DW, 6, 0, 0, 0},
            {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
            {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
        };
        LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = BPF_F_SLEEPABLE, .log_level = 1,
                    .log_size = sizeof log_, .log_buf = log_);
        fd_ = bpf_prog_load(BPF_PROG_TYPE_SYSCALL, "cgroup_id_probe", "GPL", insns,
                            sizeof insns / sizeof insns[0], &opts);
    }
    ~CgroupIdProbe() {
        if (fd_ >= 0)
            close(fd_);
    }
    int fd() const { return fd_; }
    const char* log() const { return log_; }

    // Async-signal-safe: runs in a forked child.
    static void report(int prog_fd, int out_fd) {
        uint64_t ctx = 0;
        // Syscall programs write their results back into ctx_in (ctx_out is refused).
        LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &ctx, .ctx_size_in = sizeof ctx);
        if (bpf_prog_test_run_opts(prog_fd, &run) != 0)
            ctx = 0;
        (void)!write(out_fd, &ctx, sizeof ctx);
    }

  private:
    int fd_ = -1;
    char log_[4096] = {};
};

bool read_u64(int fd, uint64_t& value) {
    return read(fd, &value, sizeof value) == static_cast<ssize_t>(sizeof value);
}

TEST(CgroupResolverMount, FindsCgroup2OnThisMachine) {
    Result<std::string> root = find_cgroup2_root();
    ASSERT_TRUE(root) << root.error().message;
    struct statfs fs {};
    ASSERT_EQ(statfs(root->c_str(), &fs), 0) << *root;
    EXPECT_EQ(fs.f_type, kCgroup2SuperMagic) << *root << " is not a cgroup2 mount";
}

TEST(CgroupResolverMount, ParsesHybridPureV2AndEscapedMountinfo) {
    const std::string hybrid =
        "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    EXPECT_EQ(find_cgroup2_root_in(hybrid).value(), "/sys/fs/cgroup/unified");

    const std::string pure =
        "25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
        "28 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n";
    EXPECT_EQ(find_cgroup2_root_in(pure).value(), "/sys/fs/cgroup");

    // A bind mount of a sub-cgroup first, then the real root; blanks are escaped.
    const std::string escaped =
        "50 30 0:26 /kubepods /mnt/sub rw - cgroup2 cgroup2 rw\n"
        "51 30 0:26 / /mnt/my\\040cgroup rw shared:1 master:2 - cgroup2 none rw\n";
    EXPECT_EQ(find_cgroup2_root_in(escaped).value(), "/mnt/my cgroup");

    EXPECT_FALSE(find_cgroup2_root_in("31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw\n"));
}

class CgroupResolverTest : public ::testing::Test {
  protected:
    void SetUp() override {
        Status created = tree_.create();
        ASSERT_TRUE(created) << "need a writable cgroup2 hierarchy: " << created.error().message;
        uid_ = test::random_uuid();
        cid_ = test::random_hex64();
        Result<std::string> dir = tree_.make("kubepods/besteffort/pod" + uid_ + "/" + cid_);
        ASSERT_TRUE(dir) << dir.error().message;
        container_ = *dir;
    }

    uint64_t id_of(const std::string& rel) {
        Result<uint64_t> id = CgroupResolver::cgroup_id_of(tree_.absolute(rel));
        EXPECT_TRUE(id) << id.error().message;
        return id ? *id : 0;
    }

    TempCgroupTree tree_;
    std::string uid_, cid_, container_;
};

TEST_F(CgroupResolverTest, IdIsWhatTheKernelReportsForATaskInTheCgroup) {
    CgroupIdProbe probe;
    ASSERT_GE(probe.fd(), 0) << "loading the BPF probe failed: " << std::strerror(errno) << "\n"
                             << probe.log();
    const int prog_fd = probe.fd();
    Result<CgroupChild> child = tree_.spawn_child_in(
        container_, [prog_fd](int out_fd) { CgroupIdProbe::report(prog_fd, out_fd); });
    ASSERT_TRUE(child) << child.error().message;

    uint64_t kernel_id = 0;
    ASSERT_TRUE(read_u64(child->output_fd, kernel_id));
    ASSERT_NE(kernel_id, 0u) << "BPF_PROG_TEST_RUN failed in the child";

    const uint64_t handle_id = id_of(container_);
    EXPECT_EQ(handle_id, kernel_id);
    struct stat st {};
    ASSERT_EQ(stat(tree_.absolute(container_).c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_ino), kernel_id);

    // The kernel's own path for the task agrees, and resolves back to the same id.
    Result<std::string> path = CgroupResolver::cgroup_path_of_pid(child->pid);
    ASSERT_TRUE(path) << path.error().message;
    EXPECT_EQ(*path, container_);
    EXPECT_EQ(id_of(*path), kernel_id);

    CgroupResolver resolver(tree_.cgroup2_root());
    EXPECT_EQ(resolver.path_of(kernel_id), container_);
}

TEST_F(CgroupResolverTest, PathOfPidOfThisProcessAndOfAMissingPid) {
    Result<std::string> mine = CgroupResolver::cgroup_path_of_pid(getpid());
    ASSERT_TRUE(mine) << mine.error().message;
    EXPECT_EQ(mine->front(), '/');
    EXPECT_FALSE(CgroupResolver::cgroup_path_of_pid(0x3fffffff));
    EXPECT_FALSE(CgroupResolver::cgroup_id_of(tree_.absolute(tree_.top() + "/no-such-cgroup")));
}

TEST_F(CgroupResolverTest, RootResolvesToSlash) {
    CgroupResolver resolver(tree_.cgroup2_root());
    EXPECT_EQ(resolver.path_of(id_of("")), "/");
    EXPECT_EQ(resolver.identity_of(id_of("")), std::nullopt);
}

TEST_F(CgroupResolverTest, FindsACgroupCreatedAfterTheFirstScan) {
    CgroupResolver resolver(tree_.cgroup2_root());
    resolver.set_min_rescan_interval(std::chrono::nanoseconds(0));
    ASSERT_EQ(resolver.path_of(id_of(container_)), container_);

    Result<std::string> later =
        tree_.make("kubepods/besteffort/pod" + uid_ + "/" + test::random_hex64());
    ASSERT_TRUE(later) << later.error().message;
    EXPECT_EQ(resolver.path_of(id_of(*later)), *later);
}

TEST_F(CgroupResolverTest, KeepsThePathOfARemovedCgroup) {
    CgroupResolver resolver(tree_.cgroup2_root());
    const uint64_t id = id_of(container_);
    ASSERT_EQ(resolver.path_of(id), container_);

    ASSERT_TRUE(tree_.remove(container_));
    Result<size_t> seen = resolver.rescan();
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_EQ(resolver.path_of(id), container_);
    ASSERT_TRUE(resolver.identity_of(id));
    EXPECT_EQ(resolver.identity_of(id)->container_id, cid_);
    EXPECT_GE(resolver.stats().removed, 1u);
}

TEST_F(CgroupResolverTest, ForgetsTheOldestRemovedCgroupsBeyondTheLimit) {
    CgroupResolver resolver(tree_.cgroup2_root());
    resolver.set_max_removed_retained(1);
    std::vector<std::pair<std::string, uint64_t>> gone;
    for (int i = 0; i < 3; ++i) {
        Result<std::string> dir = tree_.make("churn/c" + std::to_string(i));
        ASSERT_TRUE(dir) << dir.error().message;
        gone.emplace_back(*dir, id_of(*dir));
    }
    ASSERT_TRUE(resolver.rescan());
    for (auto& [dir, id] : gone)
        ASSERT_TRUE(tree_.remove(dir));
    ASSERT_TRUE(resolver.rescan());
    // Which of the three was kept depends on hash order; exactly one is.
    int kept = 0;
    resolver.set_min_rescan_interval(std::chrono::hours(1));
    for (auto& [dir, id] : gone)
        kept += resolver.path_of(id) == dir ? 1 : 0;
    EXPECT_EQ(kept, 1);
}

TEST_F(CgroupResolverTest, ANewCgroupIsFoundByItsIdWithoutWaitingForARescan) {
    CgroupResolver resolver(tree_.cgroup2_root());
    resolver.set_min_rescan_interval(std::chrono::hours(1));
    ASSERT_TRUE(resolver.rescan());

    // A container started right after a walk: its first events must carry it.
    Result<std::string> later = tree_.make("late");
    ASSERT_TRUE(later) << later.error().message;
    const uint64_t late_id = id_of(*later);
    EXPECT_EQ(resolver.path_of(late_id), *later);
    CgroupResolver::Stats s = resolver.stats();
    EXPECT_EQ(s.rescans, 1u) << "found from the id alone";
    EXPECT_EQ(s.by_handle, 1u);
    EXPECT_EQ(resolver.path_of(late_id), *later);
    EXPECT_EQ(resolver.stats().hits, 1u) << "and cached";
}

TEST_F(CgroupResolverTest, UnknownIdsRescanAtMostOncePerInterval) {
    CgroupResolver resolver(tree_.cgroup2_root());
    resolver.set_min_rescan_interval(std::chrono::hours(1));
    ASSERT_TRUE(resolver.rescan());
    EXPECT_EQ(resolver.path_of(0xdead0000beefULL), std::nullopt);
    EXPECT_EQ(resolver.path_of(0xdead0000bef0ULL), std::nullopt);
    CgroupResolver::Stats s = resolver.stats();
    EXPECT_EQ(s.rescans, 1u);
    EXPECT_EQ(s.throttled, 2u);

    resolver.set_min_rescan_interval(std::chrono::nanoseconds(0));
    EXPECT_EQ(resolver.path_of(0xdead0000beefULL), std::nullopt);
    EXPECT_EQ(resolver.stats().rescans, 2u);
}

TEST_F(CgroupResolverTest, AFloodOfUnknownIdsDoesNotSpin) {
    CgroupResolver resolver(tree_.cgroup2_root()); // default 20 ms interval
    const auto start = std::chrono::steady_clock::now();
    uint64_t lookups = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200)) {
        EXPECT_EQ(resolver.path_of(0xfeed000000000000ULL + lookups), std::nullopt);
        ++lookups;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const CgroupResolver::Stats s = resolver.stats();
    std::printf("[ figures  ] %llu unknown-id lookups in %.0f ms, %llu rescans\n",
                static_cast<unsigned long long>(lookups), ms,
                static_cast<unsigned long long>(s.rescans));
    EXPECT_LE(s.rescans, static_cast<uint64_t>(ms / 20) + 2);
    EXPECT_GT(lookups, 1000u);
}

TEST_F(CgroupResolverTest, IdentityOfParsesTheCgroupPathOnce) {
    CgroupResolver resolver(tree_.cgroup2_root());
    const uint64_t id = id_of(container_);
    std::optional<CgroupIdentity> got = resolver.identity_of(id);
    ASSERT_TRUE(got) << "path " << container_;
    EXPECT_EQ(*got, (CgroupIdentity{cid_, "kubernetes", uid_, ""}));

    // The pod and QoS cgroups around it, and the test's top dir, are host.
    EXPECT_EQ(resolver.identity_of(id_of(tree_.top())), std::nullopt);
    EXPECT_EQ(resolver.identity_of(id_of(tree_.top() + "/kubepods/besteffort/pod" + uid_)),
              std::nullopt);

    const uint64_t hits_before = resolver.stats().hits;
    const uint64_t rescans_before = resolver.stats().rescans;
    EXPECT_EQ(resolver.identity_of(id), got);
    EXPECT_EQ(resolver.stats().hits, hits_before + 1);
    EXPECT_EQ(resolver.stats().rescans, rescans_before);
}

TEST_F(CgroupResolverTest, LibpodLayoutResolvesToItsPod) {
    const std::string pod = test::random_hex64();
    Result<std::string> dir = tree_.make("libpod_parent/" + pod + "/libpod-" + cid_ + "/container");
    ASSERT_TRUE(dir) << dir.error().message;
    CgroupResolver resolver(tree_.cgroup2_root());
    EXPECT_EQ(resolver.identity_of(id_of(*dir)), (CgroupIdentity{cid_, "libpod", "", pod}));
}

TEST_F(CgroupResolverTest, CacheHitsAreCheapAndSafeUnderConcurrentChurn) {
    CgroupResolver resolver(tree_.cgroup2_root());
    resolver.set_min_rescan_interval(std::chrono::milliseconds(1));
    const uint64_t id = id_of(container_);
    ASSERT_TRUE(resolver.identity_of(id));

    std::atomic<bool> stop{false};
    std::thread churn([&] {
        for (int i = 0; !stop; ++i) {
            Result<std::string> d = tree_.make("churn/x" + std::to_string(i));
            if (!d)
                break;
            (void)resolver.path_of(id_of(*d));
            (void)tree_.remove(*d);
            (void)resolver.path_of(0xabc0000000000000ULL + i); // misses that may rescan
        }
    });
    std::vector<std::thread> readers;
    std::atomic<uint64_t> wrong{0};
    for (int t = 0; t < 2; ++t)
        readers.emplace_back([&] {
            for (int i = 0; i < 200000; ++i)
                if (!resolver.identity_of(id))
                    ++wrong;
        });
    for (auto& r : readers)
        r.join();
    stop = true;
    churn.join();
    EXPECT_EQ(wrong.load(), 0u);

    // Single-threaded cost of a hit, the per-event price.
    constexpr int kN = 1000000;
    const auto start = std::chrono::steady_clock::now();
    size_t sink = 0;
    for (int i = 0; i < kN; ++i)
        sink += resolver.identity_of(id)->container_id.size();
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
        kN;
    std::printf("[ figures  ] identity_of cache hit: %.0f ns; rescans during churn: %llu\n", ns,
                static_cast<unsigned long long>(resolver.stats().rescans));
    EXPECT_EQ(sink, size_t{64} * kN);
    EXPECT_LT(ns, 5000.0);
}

} // namespace
} // namespace podguard
