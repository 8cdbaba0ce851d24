#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <regex>

#include "support/sandbox.h"

namespace podguard::test {
namespace {

namespace fs = std::filesystem;

bool is_hex(const std::string& s, size_t n) {
    return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// First path component below the cgroup2 mount: the podguard-test-* root.
std::string cgroup_root_of(const CgroupDir& dir) {
    auto rel = dir.relative();
    return cgroup2_mount() + rel.substr(0, rel.find('/', 1));
}

long read_via_open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[256];
    long n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    return n;
}

TEST(SupportSandbox, FindsTheCgroup2Mount) {
    const auto& mount = cgroup2_mount();
    EXPECT_TRUE(fs::exists(mount + "/cgroup.procs")) << mount;
    EXPECT_FALSE(fs::exists(mount + "/tasks")) << mount << " looks like a v1 hierarchy";
}

TEST(SupportSandbox, CgroupDirUsesTheKubepodsLayoutAndReportsTheKernelId) {
    std::string root;
    {
        auto dir = CgroupDir::kubepods_container();
        root = cgroup_root_of(dir);
        EXPECT_TRUE(fs::is_directory(dir.path()));
        EXPECT_TRUE(std::regex_match(
            dir.relative(),
            std::regex("/podguard-test-[0-9]+-[0-9a-f]{8}/kubepods/besteffort/"
                       "pod[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/"
                       "[0-9a-f]{64}")))
            << dir.relative();
        EXPECT_TRUE(is_hex(dir.container_id(), 64));
        EXPECT_EQ(dir.relative(), "/" + fs::path(root).filename().string() +
                                      "/kubepods/besteffort/pod" + dir.pod_uid() + "/" +
                                      dir.container_id());
        // cgroup ids are kernfs inode numbers on 64-bit kernels.
        struct stat st {};
        ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
        EXPECT_EQ(dir.id(), st.st_ino);

        SpawnSpec spec;
        spec.cgroup_dir = dir.path();
        auto proc = spawn_process(spec, [] {
            ::pause();
            return 0;
        });
        EXPECT_EQ(cgroup2_path_of(proc.pid()), dir.relative());
        EXPECT_EQ(dir.procs(), std::vector<pid_t>{proc.pid()});
    }
    EXPECT_FALSE(fs::exists(root)) << "cgroup tree left behind";
}

TEST(SupportSandbox, CgroupRemovalKillsWhatStillRunsInside) {
    auto proc = spawn_on_host([] {
        ::pause();
        return 0;
    });
    std::string root;
    {
        auto dir = CgroupDir::kubepods_container();
        root = cgroup_root_of(dir);
        dir.add(proc.pid());
        EXPECT_EQ(cgroup2_path_of(proc.pid()), dir.relative());
    }
    auto status = proc.wait(5s);
    ASSERT_TRUE(status.has_value()) << "process in a removed cgroup still runs";
    EXPECT_EQ(status->signal(), SIGKILL) << status->describe();
    EXPECT_FALSE(fs::exists(root));
}

TEST(SupportSandbox, SharedPodPutsContainersInThePausePidNamespace) {
    SandboxPod pod;
    auto& nginx = pod.add_container("nginx");
    auto& shell = pod.add_container("shell");

    EXPECT_EQ(pod.pause().ns_pid(), 1);
    EXPECT_NE(pod.pause().pid(), 1);
    EXPECT_EQ(cgroup2_path_of(pod.pause().pid()), pod.pause_cgroup().relative());
    EXPECT_EQ(pod.pause_cgroup().container_id(), pod.pause_id());
    EXPECT_EQ(pod.pause_cgroup().pod_uid(), pod.uid());

    auto target = nginx.spawn_sleeper();
    EXPECT_GT(target.ns_pid(), 1);
    EXPECT_NE(target.ns_pid(), target.pid());
    EXPECT_EQ(read_nspids(target.pid()), (std::vector<pid_t>{target.pid(), target.ns_pid()}));
    EXPECT_EQ(namespace_inode(target.pid(), "pid"), pod.pidns_inode());
    EXPECT_EQ(namespace_inode(shell.main().pid(), "pid"), pod.pidns_inode());
    EXPECT_NE(namespace_inode(target.pid(), "mnt"), namespace_inode(shell.main().pid(), "mnt"));
    EXPECT_NE(namespace_inode(target.pid(), "mnt"), namespace_inode(::getpid(), "mnt"));
    EXPECT_EQ(namespace_inode(target.pid(), "mnt"), namespace_inode(nginx.main().pid(), "mnt"));

    EXPECT_EQ(cgroup2_path_of(target.pid()), nginx.cgroup().relative());
    EXPECT_EQ(nginx.cgroup().container_id(), nginx.id());
    EXPECT_EQ(nginx.cgroup().pod_uid(), pod.uid());
    EXPECT_EQ(fs::path(nginx.cgroup().path()).parent_path(), fs::path(pod.cgroup().path()));
    EXPECT_EQ(fs::path(shell.cgroup().path()).parent_path(), fs::path(pod.cgroup().path()));
    EXPECT_NE(nginx.cgroup().id(), shell.cgroup().id());
}

TEST(SupportSandbox, RunInReportsSyscallResultAcrossContainers) {
    SandboxPod pod;
    auto& nginx = pod.add_container("nginx");
    auto& shell = pod.add_container("shell");
    auto target = nginx.spawn_sleeper();
    pid_t ns_pid = target.ns_pid();

    // Namespace pids work inside the pod, with the pod's own /proc.
    auto probe = run_in(shell, [&] { return ::kill(ns_pid, 0); });
    EXPECT_EQ(probe.ret, 0) << probe.describe();
    auto status_file = "/proc/" + std::to_string(ns_pid) + "/status";
    auto visible = run_in(shell, [&] { return read_via_open(status_file); });
    EXPECT_GT(visible.ret, 0) << visible.describe();

    auto hup = run_in(shell, [&] { return static_cast<long>(::kill(ns_pid, SIGHUP)); });
    EXPECT_EQ(hup.ret, 0) << hup.describe();
    auto status = target.wait(5s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->signal(), SIGHUP) << status->describe();

    auto gone = run_in(shell, [&] { return static_cast<long>(::kill(ns_pid, 0)); });
    EXPECT_EQ(gone.ret, -1);
    EXPECT_EQ(gone.err, ESRCH) << gone.describe();
}

TEST(SupportSandbox, ProcRootOfAnotherContainerShowsItsPrivateFiles) {
    SandboxPod pod;
    auto& nginx = pod.add_container("nginx");
    auto& shell = pod.add_container("shell");
    auto secret = nginx.private_dir() + "/secret";

    EXPECT_FALSE(fs::exists(secret)) << "the private tmpfs leaked to the host";
    auto own = run_in(nginx, [&] { return read_via_open(secret); });
    EXPECT_EQ(own.ret, static_cast<long>(std::string("secret of nginx\n").size()))
        << own.describe();
    auto direct = run_in(shell, [&] { return read_via_open(secret); });
    EXPECT_EQ(direct.err, ENOENT) << direct.describe();
    auto via_root = "/proc/" + std::to_string(nginx.main().ns_pid()) + "/root" + secret;
    auto crossed = run_in(shell, [&] { return read_via_open(via_root); });
    EXPECT_GT(crossed.ret, 0) << via_root << ": " << crossed.describe();
}

TEST(SupportSandbox, UnsharedPodGivesEachContainerItsOwnPidNamespace) {
    SandboxPod pod(/*shared_pidns=*/false);
    auto& a = pod.add_container("a");
    auto& b = pod.add_container("b");
    EXPECT_EQ(a.main().ns_pid(), 1);
    EXPECT_EQ(b.main().ns_pid(), 1);
    auto target = a.spawn_sleeper();
    EXPECT_NE(namespace_inode(target.pid(), "pid"), namespace_inode(b.main().pid(), "pid"));
    EXPECT_NE(namespace_inode(target.pid(), "pid"), pod.pidns_inode());

    // b cannot name a's process at all: neither by host pid nor via its /proc.
    pid_t host_pid = target.pid();
    auto by_host_pid = run_in(b, [&] { return static_cast<long>(::kill(host_pid, 0)); });
    EXPECT_EQ(by_host_pid.err, ESRCH) << by_host_pid.describe();
    auto cgroup_file = "/proc/" + std::to_string(host_pid) + "/cgroup";
    auto by_proc = run_in(b, [&] { return read_via_open(cgroup_file); });
    EXPECT_EQ(by_proc.err, ENOENT) << by_proc.describe();
}

TEST(SupportSandbox, SpawnExecAndHostProcesses) {
    SandboxPod pod;
    auto& c = pod.add_container("c");
    auto proc = c.spawn_exec({"/bin/busybox", "sh", "-c", "exit 3"});
    auto status = proc.wait_or_throw(5s);
    EXPECT_EQ(status.code(), 3) << status.describe();

    auto missing = c.spawn_exec({"/nonexistent/binary"});
    EXPECT_EQ(missing.wait_or_throw(5s).code(), 127);

    auto host = spawn_on_host([] { return 7; });
    EXPECT_EQ(host.ns_pid(), host.pid());
    EXPECT_EQ(host.wait_or_throw(5s).code(), 7);

    auto ebadf = run_on_host([] { return static_cast<long>(::close(-1)); });
    EXPECT_EQ(ebadf.ret, -1);
    EXPECT_EQ(ebadf.err, EBADF);
}

TEST(SupportSandbox, PodDestructionKillsProcessesThatOutliveIt) {
    Proc survivor;
    std::string pod_cgroup;
    std::string tmp_private;
    {
        SandboxPod pod;
        auto& c = pod.add_container("c");
        survivor = c.spawn_sleeper();
        pod_cgroup = pod.cgroup().path();
        tmp_private = c.private_dir();
        ASSERT_TRUE(survivor.running());
    }
    auto status = survivor.wait(5s);
    ASSERT_TRUE(status.has_value()) << "a pod process survived its pod";
    EXPECT_EQ(status->signal(), SIGKILL);
    EXPECT_FALSE(fs::exists(pod_cgroup));
    EXPECT_FALSE(fs::exists(fs::path(tmp_private).parent_path()));
}

TEST(SupportSandbox, ProcDestructorKillsAndReaps) {
    pid_t pid = -1;
    {
        auto p = spawn_on_host([] {
            ::pause();
            return 0;
        });
        pid = p.pid();
    }
    EXPECT_EQ(::kill(pid, 0), -1) << "child still exists (not reaped?)";
    EXPECT_EQ(errno, ESRCH);
}

TEST(SupportSandbox, SetupErrorsBecomeFixtureErrors) {
    SpawnSpec bad_cgroup;
    bad_cgroup.cgroup_dir = cgroup2_mount() + "/podguard-test-does-not-exist";
    EXPECT_THROW(spawn_process(bad_cgroup, [] { return 0; }), FixtureError);

    SpawnSpec failing_setup;
    failing_setup.setup = [] {
        errno = EACCES;
        return -1;
    };
    try {
        spawn_process(failing_setup, [] { return 0; });
        ADD_FAILURE() << "no exception";
    } catch (const FixtureError& e) {
        EXPECT_NE(std::string(e.what()).find("setup callback"), std::string::npos) << e.what();
    }
}

TEST(SupportSandbox, StaleLeftoversOfADeadRunAreRemoved) {
    // A pid that is certainly dead: a child we reaped ourselves.
    pid_t dead = -1;
    {
        auto tmp = spawn_on_host([] { return 0; });
        dead = tmp.pid();
        tmp.wait_or_throw(5s);
    }
    std::string name = std::string(kTestPrefix) + std::to_string(dead) + "-deadbeef";
    std::string stale = cgroup2_mount() + "/" + name;
    std::string stale_tmp = (fs::temp_directory_path() / name).string();
    ASSERT_EQ(::mkdir(stale.c_str(), 0755), 0) << stale;
    ASSERT_EQ(::mkdir((stale + "/kubepods").c_str(), 0755), 0);
    fs::create_directories(stale_tmp + "/x");
    auto orphan = spawn_on_host([] {
        ::pause();
        return 0;
    });
    {
        std::ofstream procs(stale + "/kubepods/cgroup.procs");
        procs << orphan.pid();
    }
    ASSERT_EQ(cgroup2_path_of(orphan.pid()), "/" + name + "/kubepods");

    clean_stale_test_leftovers();

    EXPECT_FALSE(fs::exists(stale));
    EXPECT_FALSE(fs::exists(stale_tmp));
    auto status = orphan.wait(5s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->signal(), SIGKILL);
}

} // namespace
} // namespace podguard::test
