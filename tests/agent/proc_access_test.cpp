// /proc/<pid>/<entry> access between the containers of a pod: every watched
// syscall, every spelling of the path, what must stay quiet, and every
// relation between the two sides.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "agent_it.h"

namespace podguard::test {
namespace {

std::string num(long n) {
    return std::to_string(n);
}

// open + read of a whole (small) file; aux[slot] = fd, aux[slot+1] = content matched.
long open_and_match(const std::string& path, const std::string& expected, long* aux, int slot,
                    int dirfd = AT_FDCWD) {
    int fd = ::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[256] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    aux[slot] = fd;
    aux[slot + 1] = n >= 0 && expected == std::string(buf, static_cast<size_t>(n));
    return fd;
}

class AgentProcAccess : public PodAgentTest {
  protected:
    // Paths as a process of the pod writes them: the pod's pid numbers.
    std::string pid_dir() const { return "/proc/" + num(victim.ns_pid()); }
    std::string at(const std::string& entry) const { return pid_dir() + "/" + entry; }
    std::string secret_in_root() const { return "root" + nginx.private_dir() + "/secret"; }
    std::string secret_text() const { return "secret of nginx\n"; }

    // The event for `path` from `a`, checked in everything but the sides.
    Json access_event(const Acted& a, const std::string& syscall, const std::string& path,
                      const std::string& entry, long result, int target_arg,
                      const std::string& relation = "same_pod") {
        Json ev = proc_access_event(a, syscall, path);
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("action", ""), "allowed");
        EXPECT_EQ(ev.value("relation", ""), relation);
        EXPECT_EQ(ev["proc_access"].value("entry", ""), entry);
        EXPECT_EQ(ev["proc_access"].value("result", 12345L), result);
        EXPECT_EQ(ev["proc_access"].value("target_arg", 0), target_arg);
        return ev;
    }
    Json pod_event(const Acted& a, const std::string& syscall, const std::string& path,
                   const std::string& entry, long result) {
        Json ev = access_event(a, syscall, path, entry, result, victim.ns_pid());
        expect_side(ev["source"], source(a), "source of " + path);
        expect_side(ev["target"], target(), "target of " + path);
        return ev;
    }
};

TEST_F(AgentProcAccess, OpenThroughRootReadsAnotherContainersPrivateFile) {
    const std::string path = at(secret_in_root());
    auto a = act(shell, [&](long* aux) -> long {
        // Invisible from the shell's own mount namespace...
        aux[3] = ::access((nginx.private_dir() + "/secret").c_str(), F_OK) != 0;
        // ...but not through the nginx process' root.
        return open_and_match(path, secret_text(), aux, 0);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    EXPECT_EQ(a.result.aux[3], 1) << "the shell sees nginx's private dir directly";
    EXPECT_EQ(a.result.aux[1], 1) << "read something else than nginx's secret";
    Json ev = pod_event(a, "openat", path, "root", a.result.aux[0]);
    EXPECT_FALSE(ev["proc_access"].contains("dirfd")) << ev.dump();
    EXPECT_FALSE(ev["proc_access"].contains("relative")) << ev.dump();
}

TEST_F(AgentProcAccess, OpenEnvironCmdlineMemMaps) {
    const std::vector<std::string> entries = {"environ", "cmdline", "mem", "maps"};
    auto a = act(shell, [&](long* aux) -> long {
        for (size_t i = 0; i < entries.size(); ++i) {
            aux[i] = ::open(at(entries[i]).c_str(), O_RDONLY | O_CLOEXEC);
            if (aux[i] < 0)
                return -1;
        }
        return 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    for (size_t i = 0; i < entries.size(); ++i)
        pod_event(a, "openat", at(entries[i]), entries[i], a.result.aux[i]);
}

TEST_F(AgentProcAccess, ReadlinkOfRootCwdExe) {
    auto a = act(shell, [&](long* aux) -> long {
        char buf[4096];
        aux[0] = ::syscall(SYS_readlink, at("root").c_str(), buf, sizeof buf);
        aux[1] = ::syscall(SYS_readlink, at("cwd").c_str(), buf, sizeof buf);
        aux[2] = ::syscall(SYS_readlinkat, AT_FDCWD, at("exe").c_str(), buf, sizeof buf);
        return aux[0] < 0 || aux[1] < 0 || aux[2] < 0 ? -1 : 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    EXPECT_EQ(a.result.aux[0], 1); // "/"
    EXPECT_EQ(a.result.aux[2], long(test_binary().size()));
    pod_event(a, "readlink", at("root"), "root", a.result.aux[0]);
    pod_event(a, "readlink", at("cwd"), "cwd", a.result.aux[1]);
    pod_event(a, "readlinkat", at("exe"), "exe", a.result.aux[2]);
}

TEST_F(AgentProcAccess, StatAndAccessFamilyOnRoot) {
    const std::string root = at("root");
    auto a = act(shell, [&](long*) -> long {
        struct stat st;
        struct statx stx;
        const char* p = root.c_str();
        if (::syscall(SYS_stat, p, &st) != 0 || ::syscall(SYS_lstat, p, &st) != 0 ||
            ::syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0) != 0 ||
            ::syscall(SYS_statx, AT_FDCWD, p, 0, STATX_BASIC_STATS, &stx) != 0 ||
            ::syscall(SYS_access, p, R_OK) != 0 ||
            ::syscall(SYS_faccessat, AT_FDCWD, p, R_OK) != 0 ||
            ::syscall(SYS_faccessat2, AT_FDCWD, p, R_OK, 0) != 0)
            return -1;
        return 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    for (const char* sc :
         {"stat", "lstat", "newfstatat", "statx", "access", "faccessat", "faccessat2"})
        pod_event(a, sc, root, "root", 0);
}

TEST_F(AgentProcAccess, ChdirIntoRoot) {
    const std::string root = at("root");
    auto a = act(shell, [&](long* aux) -> long {
        long r = ::chdir(root.c_str());
        // Now inside nginx's file system: its private dir is right there.
        aux[0] = ::access((nginx.private_dir().substr(1) + "/secret").c_str(), R_OK) == 0;
        return r;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    EXPECT_EQ(a.result.aux[0], 1);
    pod_event(a, "chdir", root, "root", 0);
}

TEST_F(AgentProcAccess, ExecveThroughRoot) {
    const std::string path = at("root/bin/true");
    Actor actor(shell.spec(), [&](long*) -> long {
        char* argv[] = {const_cast<char*>("true"), nullptr};
        return ::execve(path.c_str(), argv, environ);
    });
    Acted a{actor.pid(), actor.ns_pid(), std::make_shared<Side>(observe(actor.pid())), {}};
    a.result = actor.run();
    ASSERT_FALSE(a.result.reported) << "execve failed: " << a.result.describe();
    ASSERT_TRUE(a.result.status.success()) << a.result.describe();
    pod_event(a, "execve", path, "root", 0);
}

TEST_F(AgentProcAccess, ExecveOfProcPidExe) {
    Proc sleeper = nginx.spawn_exec({"/bin/sleep", "1000"});
    // Wait for the exec to be visible before naming the exe.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (observe(sleeper).comm != "sleep" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    const std::string path = "/proc/" + num(sleeper.ns_pid()) + "/exe";
    Actor actor(shell.spec(), [&](long*) -> long {
        char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("0"), nullptr};
        return ::execve(path.c_str(), argv, environ);
    });
    Acted a{actor.pid(), actor.ns_pid(), std::make_shared<Side>(observe(actor.pid())), {}};
    a.result = actor.run();
    ASSERT_FALSE(a.result.reported) << "execve failed: " << a.result.describe();
    ASSERT_TRUE(a.result.status.success()) << a.result.describe();
    Json ev = access_event(a, "execve", path, "exe", 0, sleeper.ns_pid());
    expect_side(ev["source"], source(a), "source");
    Side want = observe(sleeper).in(nginx);
    want.exe = "/bin/sleep"; // as exec'd after the agent started
    expect_side(ev["target"], want, "target");
}

TEST_F(AgentProcAccess, AbsoluteSpellingsOfOnePath) {
    const std::string n = num(victim.ns_pid());
    const std::vector<std::string> paths = {
        "//proc//" + n + "/environ", "/proc/./" + n + "/environ", "/proc/self/../" + n + "/environ",
        "/proc/" + n + "/./environ"};
    auto a = act(shell, [&](long* aux) -> long {
        for (size_t i = 0; i < paths.size(); ++i)
            if ((aux[i] = ::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC)) < 0)
                return -1;
        return 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    for (size_t i = 0; i < paths.size(); ++i)
        pod_event(a, "openat", paths[i], "environ", a.result.aux[i]);
}

TEST_F(AgentProcAccess, TaskTidPathNamesTheThread) {
    const std::string path = at("task/" + num(victim.thread_ns_tid) + "/environ");
    auto a = act(shell, [&](long*) -> long { return ::open(path.c_str(), O_RDONLY); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = access_event(a, "openat", path, "environ", a.result.ret, victim.thread_ns_tid);
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target().thread(victim.thread_tid, victim.thread_ns_tid), "target");
}

TEST_F(AgentProcAccess, RelativeToCwdInsideThePidDir) {
    auto a = act(shell, [&](long*) -> long {
        if (::chdir(pid_dir().c_str()) != 0)
            return -100;
        return ::open("environ", O_RDONLY);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = pod_event(a, "openat", "environ", "environ", a.result.ret);
    EXPECT_TRUE(ev["proc_access"].value("relative", false)) << ev.dump();
    // chdir to /proc/<pid> itself names no entry.
    auto all = events_from(agent, a.pid);
    EXPECT_EQ(all.size(), 1u) << dump_all(all);
}

// A path in a page the caller never touched cannot be read by a BPF
// tracepoint at syscall entry (it may not fault); the agent reads it at exit,
// once the kernel has faulted it in, instead of missing the access.
TEST_F(AgentProcAccess, PathInAPageNotYetMappedIsReadAtExit) {
    const std::string path = at("environ");
    TempDir dir;
    const std::string file = dir.path() + "/path-page";
    {
        std::ofstream out(file, std::ios::binary);
        out << path << '\0';
    }
    auto a = act(shell, [&](long*) -> long {
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -100;
        // A fresh private mapping: no page table entry until first touch.
        void* page = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (page == MAP_FAILED)
            return -101;
        return ::open(static_cast<const char*>(page), O_RDONLY);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = pod_event(a, "openat", path, "environ", a.result.ret);
    EXPECT_TRUE(ev["proc_access"].value("read_at_exit", false)) << ev.dump();
}

TEST_F(AgentProcAccess, RelativeToADirfdOfThePidDir) {
    const std::string rel = secret_in_root();
    auto a = act(shell, [&](long* aux) -> long {
        int dfd = ::open(pid_dir().c_str(), O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
            return -100;
        aux[2] = dfd;
        return open_and_match(rel, secret_text(), aux, 0, dfd);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    EXPECT_EQ(a.result.aux[1], 1) << "read something else than nginx's secret";
    Json ev = pod_event(a, "openat", rel, "root", a.result.aux[0]);
    EXPECT_EQ(ev["proc_access"].value("dirfd", -1), a.result.aux[2]);
    EXPECT_TRUE(ev["proc_access"].value("relative", false)) << ev.dump();
}

TEST_F(AgentProcAccess, RelativeToCwdProc) {
    const std::string rel = num(victim.ns_pid()) + "/cmdline";
    auto a = act(shell, [&](long*) -> long {
        if (::chdir("/proc") != 0)
            return -100;
        return ::open(rel.c_str(), O_RDONLY);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = pod_event(a, "openat", rel, "cmdline", a.result.ret);
    EXPECT_TRUE(ev["proc_access"].value("relative", false)) << ev.dump();
}

TEST_F(AgentProcAccess, FailedOpenReportsTheErrno) {
    const std::string path = at("root/no/such/file");
    auto a = act(shell, [&](long*) -> long { return ::open(path.c_str(), O_RDONLY); });
    ASSERT_TRUE(a.result.reported && a.result.ret == -1 && a.result.err == ENOENT)
        << a.result.describe();
    pod_event(a, "openat", path, "root", -ENOENT);
}

TEST_F(AgentProcAccess, TargetChangedSinceItsForkIsSeenAsItIsNow) {
    // Forked after the agent from the test (host cgroup, mount namespace,
    // name and uid), then, without an exec, it joins nginx's mount namespace
    // and cgroup, renames itself and drops to nobody.
    SpawnSpec spec = nginx.spec();
    spec.comm = "changed";
    Proc changed = spawn_process(spec, [] {
        if (!drop_to_nobody())
            return 1;
        for (;;)
            ::pause();
        return 0;
    });
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (observe(changed).uid != 65534 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    const std::string path = "/proc/" + num(changed.ns_pid()) + "/cmdline";
    auto a = act(shell, [&](long*) -> long { return ::open(path.c_str(), O_RDONLY); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = access_event(a, "openat", path, "cmdline", a.result.ret, changed.ns_pid());
    Side want = observe(changed).in(nginx);
    ASSERT_EQ(want.uid, 65534u);
    ASSERT_EQ(want.comm, "changed");
    expect_side(ev["target"], want, "target");
}

TEST_F(AgentProcAccess, OwnProcessAndOrdinaryPathsAreNotReported) {
    const std::string marker = at("cmdline");
    auto a = act(shell, [&](long*) -> long {
        const std::string self = num(::getpid());
        const std::string tid = num(::gettid());
        const std::vector<std::string> quiet = {
            "/proc/self/environ",
            "/proc/self/root",
            "/proc/thread-self/environ",
            "/proc/" + self + "/environ",
            "/proc/" + self + "/root",
            "/proc/" + self + "/task/" + tid + "/environ",
            "/proc/self/task/" + tid + "/environ",
            "/etc/hostname",
            "/procfoo",
            "/proc/sys/kernel/hostname",
            "/proc/cpuinfo",
            pid_dir(), // the directory itself: no entry named
            // Near misses of "/proc/<pid>/<entry>", naming another process:
            // the short-cut parser must hand each to the general one.
            "/.roc/" + num(victim.ns_pid()) + "/environ",
            "//roc/" + num(victim.ns_pid()) + "/environ",
            "/proc/0" + num(victim.ns_pid()) + "/environ",
            pid_dir() + "/environx",
            pid_dir() + "/",
            pid_dir() + "/.environ",
        };
        struct stat st;
        for (const auto& p : quiet) {
            int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                ::close(fd);
            ::stat(p.c_str(), &st);
        }
        if (::chdir("/proc") != 0)
            return -100;
        int fd = ::open("self/environ", O_RDONLY);
        if (fd < 0 || ::close(fd) != 0)
            return -101;
        fd = ::open((self + "/cmdline").c_str(), O_RDONLY);
        if (fd < 0 || ::close(fd) != 0)
            return -102;
        // The marker, after everything above.
        return ::open(marker.c_str(), O_RDONLY);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    pod_event(a, "openat", marker, "cmdline", a.result.ret);
    auto all = events_from(agent, a.pid);
    ASSERT_EQ(all.size(), 1u) << "reported more than the marker:\n" << dump_all(all);
}

// --- relations -------------------------------------------------------------

class AgentRelations : public AgentProcAccess {
  protected:
    // A process of the host (the test's cgroup and namespaces).
    Proc host_sleeper = spawn_on_host([] {
        for (;;)
            ::pause();
        return 0;
    });

    Json environ_event(const Acted& a, pid_t target_arg, const std::string& relation) {
        const std::string path = "/proc/" + num(target_arg) + "/environ";
        return access_event(a, "openat", path, "environ", a.result.ret, target_arg, relation);
    }
    static long open_environ(pid_t pid) {
        return ::open(("/proc/" + num(pid) + "/environ").c_str(), O_RDONLY);
    }
};

TEST_F(AgentRelations, SameContainer) {
    auto a = act(nginx, [&](long*) { return open_environ(victim.ns_pid()); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = environ_event(a, victim.ns_pid(), "same_container");
    expect_side(ev["source"], observe(a).in(nginx), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentRelations, SamePod) {
    auto a = act(shell, [&](long*) { return open_environ(victim.ns_pid()); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = environ_event(a, victim.ns_pid(), "same_pod");
    expect_side(ev["source"], source(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentRelations, HostToContainer) {
    auto a = act_on_host([&](long*) { return open_environ(victim.pid()); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    // The host names the host pid; the target still shows its pod pid.
    Json ev = environ_event(a, victim.pid(), "host_to_container");
    expect_side(ev["source"], observe(a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentRelations, ContainerToHost) {
    // A container sharing the host's pid namespace (hostPID: true): its own
    // kubepods cgroup, host pids in view.
    CgroupDir hostpid_container = CgroupDir::kubepods_container();
    SpawnSpec spec;
    spec.cgroup_dir = hostpid_container.path();
    auto a = act(spec, [&](long*) { return open_environ(host_sleeper.pid()); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = environ_event(a, host_sleeper.pid(), "container_to_host");
    expect_side(ev["source"], observe(a).in(hostpid_container), "source");
    expect_side(ev["target"], observe(host_sleeper), "target");
}

TEST_F(AgentRelations, CrossPod) {
    // Pod A's container is on the host pid namespace, so it can name a
    // process of pod B (the fixture's pod) at all: by its host pid.
    CgroupDir pod_a = CgroupDir::kubepods_container();
    ASSERT_NE(pod_a.pod_uid(), pod.uid());
    SpawnSpec spec;
    spec.cgroup_dir = pod_a.path();
    auto a = act(spec, [&](long*) { return open_environ(victim.pid()); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = environ_event(a, victim.pid(), "cross_pod");
    expect_side(ev["source"], observe(a).in(pod_a), "source");
    expect_side(ev["target"], target(), "target");
}

TEST_F(AgentRelations, HostNamesContainerThreadsByHostTid) {
    // One victim known from the agent's /proc scan, one from the fork hook.
    Victim young = spawn_victim(nginx);
    auto path = [](const Victim& v) {
        return "/proc/" + num(v.pid()) + "/task/" + num(v.thread_tid) + "/environ";
    };
    auto a = act_on_host([&](long* aux) -> long {
        aux[0] = ::open(path(victim).c_str(), O_RDONLY);
        aux[1] = ::open(path(young).c_str(), O_RDONLY);
        return aux[0] < 0 || aux[1] < 0 ? -1 : 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    for (const Victim* v : {&victim, &young}) {
        Json ev = access_event(a, "openat", path(*v), "environ", a.result.aux[v == &young],
                               v->thread_tid, "host_to_container");
        expect_side(ev["source"], observe(a), "source");
        expect_side(ev["target"], observe(*v).in(nginx).thread(v->thread_tid, v->thread_ns_tid),
                    path(*v));
    }
}

TEST_F(AgentRelations, Host) {
    auto a = act_on_host([&](long*) { return open_environ(host_sleeper.pid()); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = environ_event(a, host_sleeper.pid(), "host");
    expect_side(ev["source"], observe(a), "source");
    expect_side(ev["target"], observe(host_sleeper), "target");
}

} // namespace
} // namespace podguard::test
