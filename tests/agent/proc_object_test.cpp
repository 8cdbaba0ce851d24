// /proc access judged by the object reached, whatever the spelling: a
// symlink into /proc/<pid>, a relative climb from outside /proc, procfs
// mounted elsewhere, a bind mount of /proc/<pid>, io_uring requests; and what
// must stay quiet (a process's own files, ordinary files).
#include <fcntl.h>
#include <liburing.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "agent_it.h"

namespace podguard::test {
namespace {

std::string num(long n) {
    return std::to_string(n);
}

// One io_uring request, submitted and reaped: its cqe result.
long uring_one(const std::function<void(io_uring_sqe*)>& prep) {
    io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) != 0)
        return -1000;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    prep(sqe);
    long res = -1001;
    if (io_uring_submit(&ring) == 1) {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(&ring, &cqe) == 0) {
            res = cqe->res;
            io_uring_cqe_seen(&ring, cqe);
        }
    }
    io_uring_queue_exit(&ring);
    return res;
}

class AgentProcObject : public PodAgentTest {
  protected:
    TempDir dir;

    std::string pid_dir() const { return "/proc/" + num(victim.ns_pid()); }
    std::string at(const std::string& entry) const { return pid_dir() + "/" + entry; }
    std::string link(const std::string& name, const std::string& to) const {
        std::string path = dir.file(name);
        if (::symlink(to.c_str(), path.c_str()) != 0)
            throw FixtureError("symlink " + path + ": " + std::strerror(errno));
        return path;
    }

    // The event of an access to the victim's /proc/<pid>/<entry> file.
    Json victim_event(const Acted& a, const std::string& syscall, const std::string& path,
                      const std::string& entry, long result, bool by_object = true,
                      const std::string& relation = "same_pod") {
        Json ev = proc_access_event(a, syscall, path);
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("action", ""), "allowed");
        EXPECT_EQ(ev.value("relation", ""), relation);
        EXPECT_EQ(ev["proc_access"].value("entry", ""), entry);
        EXPECT_EQ(ev["proc_access"].value("result", 12345L), result);
        EXPECT_EQ(ev["proc_access"].value("target_arg", 0), victim.ns_pid());
        EXPECT_EQ(ev["proc_access"].value("by_object", false), by_object);
        expect_side(ev["target"], observe(victim).in(nginx), "target");
        return ev;
    }
    // The event of a file reached inside nginx's mount namespace (through
    // /proc/<pid>/root): the target is a process of that namespace.
    Json root_event(const Acted& a, const std::string& syscall, const std::string& path,
                    long result) {
        Json ev = proc_access_event(a, syscall, path);
        SCOPED_TRACE(ev.dump());
        EXPECT_EQ(ev.value("action", ""), "allowed");
        EXPECT_EQ(ev.value("relation", ""), "same_pod");
        EXPECT_EQ(ev["proc_access"].value("entry", ""), "root");
        EXPECT_EQ(ev["proc_access"].value("result", 12345L), result);
        EXPECT_TRUE(ev["proc_access"].value("by_object", false));
        const Json& t = ev["target"];
        std::set<long> nginx_pids = {victim.pid(), nginx.main().pid()};
        EXPECT_TRUE(nginx_pids.count(t.value("pid", 0L))) << "not a process of nginx";
        Side want = observe(victim).in(nginx);
        EXPECT_EQ(t.value("mntns", 0UL), want.mntns);
        EXPECT_EQ(t.value("cgroup_id", 0UL), want.cgroup_id);
        EXPECT_EQ(t["container"].value("id", ""), *want.container_id);
        EXPECT_EQ(ev["proc_access"].value("target_arg", 0L), t.value("ns_pid", -1L));
        return ev;
    }
};

TEST_F(AgentProcObject, SymlinkToAnotherProcessEnviron) {
    const std::string l = link("env", at("environ"));
    auto a = act(shell, [&](long*) -> long { return ::open(l.c_str(), O_RDONLY); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    Json ev = victim_event(a, "openat", l, "environ", a.result.ret);
    expect_side(ev["source"], observe(a).in(shell), "source");
    EXPECT_TRUE(ev["proc_access"].value("read_at_exit", false));
}

TEST_F(AgentProcObject, SymlinkToAnotherProcessRootReadsItsPrivateFile) {
    const std::string l = link("r", at("root"));
    const std::string path = l + nginx.private_dir() + "/secret";
    auto a = act(shell, [&](long* aux) -> long {
        int fd = ::open(path.c_str(), O_RDONLY);
        char buf[64] = {};
        aux[0] =
            fd >= 0 && ::read(fd, buf, sizeof buf) > 0 && std::string(buf) == "secret of nginx\n";
        return fd;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    EXPECT_EQ(a.result.aux[0], 1) << "read something else than nginx's secret";
    Json ev = root_event(a, "openat", path, a.result.ret);
    expect_side(ev["source"], observe(a).in(shell), "source");
}

TEST_F(AgentProcObject, ChdirThroughASymlinkIntoRoot) {
    const std::string l = link("r", at("root"));
    auto a = act(shell, [&](long*) -> long { return ::chdir(l.c_str()); });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    root_event(a, "chdir", l, 0);
}

TEST_F(AgentProcObject, ExecThroughASymlinkIntoRoot) {
    const std::string l = link("r", at("root"));
    const std::string path = l + "/bin/true";
    Actor actor(shell.spec(), [&](long*) -> long {
        char* argv[] = {const_cast<char*>("true"), nullptr};
        return ::execve(path.c_str(), argv, environ);
    });
    Acted a{actor.pid(), actor.ns_pid(), std::make_shared<Side>(observe(actor.pid())), {}};
    a.result = actor.run();
    ASSERT_FALSE(a.result.reported) << "execve failed: " << a.result.describe();
    ASSERT_TRUE(a.result.status.success()) << a.result.describe();
    root_event(a, "execve", path, 0);
}

TEST_F(AgentProcObject, RelativePathsThatWalkOrClimbIntoProc) {
    const std::string down = "proc/" + num(victim.ns_pid()) + "/cmdline";
    const std::string climb = "../../../../../../../../proc/" + num(victim.ns_pid()) + "/environ";
    auto a = act(shell, [&](long* aux) -> long {
        if (::chdir("/") != 0)
            return -100;
        aux[0] = ::open(down.c_str(), O_RDONLY);
        if (::chdir(dir.path().c_str()) != 0)
            return -101;
        aux[1] = ::open(climb.c_str(), O_RDONLY);
        int dfd = ::open("/etc", O_RDONLY | O_DIRECTORY);
        aux[2] = ::openat(dfd, ("../" + down).c_str(), O_RDONLY);
        aux[3] = dfd;
        return aux[0] < 0 || aux[1] < 0 || aux[2] < 0 ? -1 : 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    victim_event(a, "openat", down, "cmdline", a.result.aux[0]);
    victim_event(a, "openat", climb, "environ", a.result.aux[1]);
    Json ev = victim_event(a, "openat", "../" + down, "cmdline", a.result.aux[2]);
    EXPECT_EQ(ev["proc_access"].value("dirfd", -1L), a.result.aux[3]);
}

TEST_F(AgentProcObject, ProcfsMountedElsewhereAndBindMountsOfAPidDir) {
    const std::string procfs = dir.file("p");
    const std::string bind = dir.file("b");
    auto a = act(shell, [&](long* aux) -> long {
        // The shell's own mount namespace: nothing leaks to the host.
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return -100;
        if (::mkdir(procfs.c_str(), 0700) != 0 || ::mkdir(bind.c_str(), 0700) != 0)
            return -101;
        if (::mount("proc", procfs.c_str(), "proc", 0, nullptr) != 0)
            return -102;
        if (::mount(pid_dir().c_str(), bind.c_str(), nullptr, MS_BIND, nullptr) != 0)
            return -103;
        aux[0] = ::open((procfs + "/" + num(victim.ns_pid()) + "/environ").c_str(), O_RDONLY);
        aux[1] = ::open((bind + "/mem").c_str(), O_RDONLY);
        aux[2] = ::open((procfs + "/" + num(victim.ns_pid()) + "/task/" +
                         num(victim.thread_ns_tid) + "/environ")
                            .c_str(),
                        O_RDONLY);
        return aux[0] < 0 || aux[1] < 0 || aux[2] < 0 ? -1 : 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    victim_event(a, "openat", procfs + "/" + num(victim.ns_pid()) + "/environ", "environ",
                 a.result.aux[0]);
    victim_event(a, "openat", bind + "/mem", "mem", a.result.aux[1]);
    // A task directory names the thread.
    Json ev = proc_access_event(a, "openat",
                                procfs + "/" + num(victim.ns_pid()) + "/task/" +
                                    num(victim.thread_ns_tid) + "/environ");
    EXPECT_EQ(ev["proc_access"].value("target_arg", 0), victim.thread_ns_tid) << ev.dump();
    expect_side(ev["target"],
                observe(victim).in(nginx).thread(victim.thread_tid, victim.thread_ns_tid),
                "thread target");
}

TEST_F(AgentProcObject, IoUringOpenAndStatx) {
    const std::string environ_path = at("environ");
    const std::string root = at("root");
    const std::string l = link("env", at("cmdline"));
    auto a = act(shell, [&](long* aux) -> long {
        aux[0] = uring_one([&](io_uring_sqe* sqe) {
            io_uring_prep_openat(sqe, AT_FDCWD, environ_path.c_str(), O_RDONLY, 0);
        });
        static struct statx stx;
        aux[1] = uring_one([&](io_uring_sqe* sqe) {
            io_uring_prep_statx(sqe, AT_FDCWD, root.c_str(), 0, STATX_BASIC_STATS, &stx);
        });
        aux[2] = uring_one([&](io_uring_sqe* sqe) {
            io_uring_prep_openat(sqe, AT_FDCWD, l.c_str(), O_RDONLY, 0);
        });
        return aux[0] < 0 || aux[1] < 0 || aux[2] < 0 ? -1 : 0;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    victim_event(a, "io_uring:openat", environ_path, "environ", a.result.aux[0], false);
    victim_event(a, "io_uring:statx", root, "root", 0, false);
    victim_event(a, "io_uring:openat", l, "cmdline", a.result.aux[2], true);
}

// Writes into another container's file system through /proc/<pid>/root, by
// every path syscall and io_uring operation that is not an open.
TEST_F(AgentProcObject, PathOperationsBeyondOpenThroughRoot) {
    const std::string base = at("root") + nginx.private_dir();
    const std::string d = base + "/d", f = base + "/secret", g = base + "/g";
    auto a = act(shell, [&](long* aux) -> long {
        // The syscalls themselves, not whichever the C library prefers.
        if (::syscall(SYS_mkdir, d.c_str(), 0700) != 0 || ::syscall(SYS_rmdir, d.c_str()) != 0)
            return -100;
        if (::syscall(SYS_chmod, f.c_str(), 0600) != 0 ||
            ::syscall(SYS_truncate, f.c_str(), 4) != 0)
            return -101;
        if (::syscall(SYS_rename, f.c_str(), g.c_str()) != 0 ||
            ::syscall(SYS_unlink, g.c_str()) != 0)
            return -102;
        char buf[64];
        aux[0] = ::syscall(SYS_lgetxattr, base.c_str(), "user.x", buf, sizeof buf) < 0 ? -errno : 0;
        aux[1] = uring_one(
            [&](io_uring_sqe* sqe) { io_uring_prep_mkdirat(sqe, AT_FDCWD, d.c_str(), 0700); });
        aux[2] = uring_one([&](io_uring_sqe* sqe) {
            io_uring_prep_unlinkat(sqe, AT_FDCWD, d.c_str(), AT_REMOVEDIR);
        });
        return aux[1] == 0 && aux[2] == 0 ? 0 : -103;
    });
    ASSERT_TRUE(a.result.reported && a.result.ret == 0) << a.result.describe();
    for (const auto& [syscall, path] :
         std::vector<std::pair<std::string, std::string>>{{"mkdir", d},
                                                          {"rmdir", d},
                                                          {"chmod", f},
                                                          {"truncate", f},
                                                          {"rename", f},
                                                          {"unlink", g},
                                                          {"io_uring:mkdirat", d},
                                                          {"io_uring:unlinkat", d}})
        victim_event(a, syscall, path, "root", 0, false);
    victim_event(a, "lgetxattr", base, "root", a.result.aux[0], false);
}

TEST_F(AgentProcObject, SameContainerThroughASymlinkIsSameContainer) {
    const std::string l = link("env", at("environ"));
    auto a = act(nginx, [&](long*) -> long { return ::open(l.c_str(), O_RDONLY); });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    victim_event(a, "openat", l, "environ", a.result.ret, true, "same_container");
}

TEST_F(AgentProcObject, OwnFilesAndOrdinaryFilesStayQuiet) {
    const std::string marker = at("cmdline");
    const std::string self_link = link("self", "/proc/self/environ");
    const std::string etc_link = link("etc", "/etc/hostname");
    const std::string procfs = dir.file("p");
    auto a = act(shell, [&](long*) -> long {
        const std::string self = num(::getpid());
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mkdir(procfs.c_str(), 0700) != 0 ||
            ::mount("proc", procfs.c_str(), "proc", 0, nullptr) != 0)
            return -100;
        const std::vector<std::string> quiet = {
            self_link,
            etc_link,
            procfs + "/self/environ",
            procfs + "/" + self + "/cmdline",
            procfs + "/cpuinfo",
            "/etc/hostname",
            dir.path(),
        };
        for (const auto& p : quiet) {
            int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return -101;
            ::close(fd);
        }
        if (::chdir("/") != 0)
            return -102;
        int fd = ::open("proc/self/environ", O_RDONLY);
        if (fd < 0)
            return -103;
        ::close(fd);
        fd = static_cast<int>(uring_one([&](io_uring_sqe* sqe) {
            io_uring_prep_openat(sqe, AT_FDCWD, self_link.c_str(), O_RDONLY, 0);
        }));
        if (fd < 0)
            return -104;
        ::close(fd);
        // The marker, after everything above.
        return ::open(marker.c_str(), O_RDONLY);
    });
    ASSERT_TRUE(a.result.reported && a.result.ret >= 0) << a.result.describe();
    victim_event(a, "openat", marker, "cmdline", a.result.ret, false);
    auto all = events_from(agent, a.pid);
    ASSERT_EQ(all.size(), 1u) << "reported more than the marker:\n" << dump_all(all);
}

} // namespace
} // namespace podguard::test
