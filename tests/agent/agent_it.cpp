#include "agent_it.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace podguard::test {

char g_victim_memory[64];

namespace {

std::string errno_text(int err) {
    return std::to_string(err) + " (" + std::strerror(err) + ")";
}

struct Wire {
    long ret;
    int err;
    long aux[4];
};

// Reads exactly n bytes unless EOF or the deadline comes first.
size_t read_full(int fd, void* buf, size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t got = 0;
    while (got < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        pollfd p{fd, POLLIN, 0};
        int pr = ::poll(&p, 1, static_cast<int>(left.count()));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        ssize_t r = ::read(fd, static_cast<char*>(buf) + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += static_cast<size_t>(r);
    }
    return got;
}

void noop_handler(int) {}

void* victim_thread(void*) {
    for (;;)
        ::pause();
    return nullptr;
}

uint32_t status_field(pid_t pid, const std::string& key, int index) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + ":", 0) != 0)
            continue;
        std::istringstream fields(line.substr(key.size() + 1));
        uint32_t v = 0;
        for (int i = 0; i <= index; ++i)
            fields >> v;
        return v;
    }
    throw FixtureError("no " + key + " in /proc/" + std::to_string(pid) + "/status");
}

} // namespace

std::string ActResult::describe() const {
    std::string s = reported ? "ret=" + std::to_string(ret) +
                                   (ret < 0 ? " errno=" + errno_text(err) : std::string())
                             : std::string("no result reported");
    return s + ", " + status.describe();
}

Actor::Actor(const SpawnSpec& spec, Fn fn) {
    int go[2], result[2];
    if (::pipe2(go, O_CLOEXEC) != 0)
        throw FixtureError("pipe2: " + errno_text(errno));
    if (::pipe2(result, O_CLOEXEC) != 0) {
        ::close(go[0]);
        ::close(go[1]);
        throw FixtureError("pipe2: " + errno_text(errno));
    }
    try {
        proc_ = spawn_process(spec, [&]() -> int {
            ::close(go[1]);
            ::close(result[0]);
            char c;
            if (::read(go[0], &c, 1) != 1)
                return 124; // the test gave up
            Wire w{};
            errno = 0;
            w.ret = fn(w.aux);
            w.err = w.ret < 0 ? errno : 0;
            return ::write(result[1], &w, sizeof w) == sizeof w ? 0 : 125;
        });
    } catch (...) {
        for (int fd : {go[0], go[1], result[0], result[1]})
            ::close(fd);
        throw;
    }
    ::close(go[0]);
    ::close(result[1]);
    go_fd_ = go[1];
    result_fd_ = result[0];
}

Actor::~Actor() {
    if (go_fd_ >= 0)
        ::close(go_fd_);
    if (result_fd_ >= 0)
        ::close(result_fd_);
}

ActResult Actor::run(std::chrono::milliseconds timeout) {
    if (go_fd_ < 0)
        throw FixtureError("Actor::run called twice");
    ActResult r;
    if (::write(go_fd_, "g", 1) != 1)
        throw FixtureError("cannot start actor " + std::to_string(pid()) + ": " +
                           errno_text(errno));
    ::close(go_fd_);
    go_fd_ = -1;
    Wire w{};
    size_t n = read_full(result_fd_, &w, sizeof w, timeout);
    auto status = proc_.wait(timeout);
    if (!status)
        throw FixtureError("actor " + std::to_string(pid()) + " did not exit within " +
                           std::to_string(timeout.count()) + " ms");
    r.status = *status;
    if (n == sizeof w) {
        r.reported = true;
        r.ret = w.ret;
        r.err = w.err;
        std::copy(std::begin(w.aux), std::end(w.aux), r.aux.begin());
    }
    return r;
}

Acted act(const SpawnSpec& spec, Actor::Fn fn, std::chrono::milliseconds timeout) {
    Actor a(spec, std::move(fn));
    Acted out;
    out.pid = a.pid();
    out.ns_pid = a.ns_pid();
    out.side = std::make_shared<Side>(observe(a.pid()));
    out.result = a.run(timeout);
    return out;
}

Acted act(const SandboxContainer& c, Actor::Fn fn, std::chrono::milliseconds timeout) {
    return act(c.spec(), std::move(fn), timeout);
}

Acted act_on_host(Actor::Fn fn, std::chrono::milliseconds timeout) {
    return act(SpawnSpec{}, std::move(fn), timeout);
}

Victim spawn_victim(const SpawnSpec& base, const std::string& comm) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0)
        throw FixtureError("pipe2: " + errno_text(errno));
    SpawnSpec spec = base;
    spec.comm = comm;
    Victim v;
    try {
        v.proc = spawn_process(spec, [&]() -> int {
            ::close(ready[0]);
            struct sigaction sa {};
            sa.sa_handler = noop_handler;
            sigemptyset(&sa.sa_mask);
            for (int sig : {SIGHUP, SIGUSR1, SIGUSR2, SIGIO, SIGRTMIN + 1})
                ::sigaction(sig, &sa, nullptr);
            std::memset(g_victim_memory, 0, sizeof g_victim_memory);
            std::memcpy(g_victim_memory, kVictimMemory, sizeof kVictimMemory);
            pthread_t t;
            if (pthread_create(&t, nullptr, victim_thread, nullptr) != 0)
                return 3;
            if (::write(ready[1], "r", 1) != 1)
                return 4;
            ::close(ready[1]);
            for (;;)
                ::pause();
        });
    } catch (...) {
        ::close(ready[0]);
        ::close(ready[1]);
        throw;
    }
    ::close(ready[1]);
    char c;
    size_t n = read_full(ready[0], &c, 1, 10s);
    ::close(ready[0]);
    if (n != 1)
        throw FixtureError("victim " + std::to_string(v.pid()) + " did not get ready");
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(v.pid()) + "/task", ec)) {
        pid_t tid = static_cast<pid_t>(std::stol(e.path().filename().string()));
        if (tid != v.pid())
            v.thread_tid = tid;
    }
    if (v.thread_tid <= 0)
        throw FixtureError("victim " + std::to_string(v.pid()) + " has no second thread");
    auto nspids = read_nspids(v.thread_tid);
    v.thread_ns_tid = nspids.empty() ? -1 : nspids.back();
    return v;
}

Victim spawn_victim(const SandboxContainer& c) {
    return spawn_victim(c.spec(), "victim");
}

Side& Side::in(const SandboxContainer& c) {
    container_id = c.id();
    runtime = "kubernetes";
    pod_uid = c.pod_uid();
    return *this;
}

Side& Side::in(const CgroupDir& dir) {
    container_id = dir.container_id();
    runtime = "kubernetes";
    pod_uid = dir.pod_uid();
    return *this;
}

Side& Side::in(const PodmanContainer& c, const std::string& pod_id) {
    container_id = c.id;
    runtime = "libpod";
    pod_uid = pod_id;
    return *this;
}

Side observe(pid_t pid) {
    Side s;
    auto nspids = read_nspids(pid);
    if (nspids.empty())
        throw FixtureError("observe: process " + std::to_string(pid) + " is gone");
    s.pid = s.tid = pid;
    s.ns_pid = s.ns_tid = nspids.back();
    s.uid = status_field(pid, "Uid", 0);
    s.euid = status_field(pid, "Uid", 1);
    s.pidns = namespace_inode(pid, "pid");
    s.mntns = namespace_inode(pid, "mnt");
    s.cgroup_id = cgroup_id_of(cgroup2_mount() + cgroup2_path_of(pid));
    std::string proc = "/proc/" + std::to_string(pid);
    std::ifstream comm(proc + "/comm");
    std::getline(comm, s.comm);
    std::error_code ec;
    s.exe = std::filesystem::read_symlink(proc + "/exe", ec).string();
    return s;
}

Side observe(const Proc& p) {
    return observe(p.pid());
}

Side observe(const Victim& v) {
    return observe(v.pid());
}

Side observe(const Acted& a) {
    if (!a.side)
        throw FixtureError("actor " + std::to_string(a.pid) + " was not observed");
    return *a.side;
}

void expect_side(const Json& got, const Side& want, const std::string& label) {
    SCOPED_TRACE(label + ": " + got.dump());
    ASSERT_TRUE(got.is_object());
    EXPECT_EQ(got.value("pid", -1), want.pid);
    EXPECT_EQ(got.value("tid", -1), want.tid);
    EXPECT_EQ(got.value("ns_pid", -1), want.ns_pid);
    EXPECT_EQ(got.value("ns_tid", -1), want.ns_tid);
    EXPECT_EQ(got.value("uid", ~0u), want.uid);
    EXPECT_EQ(got.value("euid", ~0u), want.euid);
    EXPECT_EQ(got.value("pidns", 0ul), want.pidns);
    EXPECT_EQ(got.value("mntns", 0ul), want.mntns);
    EXPECT_EQ(got.value("cgroup_id", uint64_t{0}), want.cgroup_id);
    if (!want.comm.empty()) {
        EXPECT_EQ(got.value("comm", ""), want.comm);
    }
    if (!want.exe.empty()) {
        EXPECT_EQ(got.value("exe", ""), want.exe);
    }
    const Json& c = got.contains("container") ? got["container"] : Json();
    if (!want.container_id) {
        EXPECT_TRUE(c.is_null()) << "expected a host process";
        return;
    }
    ASSERT_TRUE(c.is_object()) << "expected container " << *want.container_id;
    EXPECT_EQ(c.value("id", ""), *want.container_id);
    EXPECT_EQ(c.value("runtime", ""), want.runtime);
    EXPECT_EQ(c.value("pod_uid", ""), want.pod_uid);
}

const std::string& test_binary() {
    static const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    return exe;
}

EventPredicate from(const std::string& kind, pid_t source_pid) {
    return [kind, source_pid](const Json& e) {
        return e.value("kind", "") == kind && e["source"].value("pid", -1) == source_pid;
    };
}

EventPredicate between(const std::string& kind, pid_t source_pid, pid_t target_pid) {
    return [kind, source_pid, target_pid](const Json& e) {
        return e.value("kind", "") == kind && e["source"].value("pid", -1) == source_pid &&
               e["target"]["pid"].is_number() && e["target"]["pid"] == target_pid;
    };
}

EventPredicate detail_is(const std::string& kind, pid_t source_pid, const std::string& field,
                         const Json& value) {
    return [kind, source_pid, field, value](const Json& e) {
        return e.value("kind", "") == kind && e["source"].value("pid", -1) == source_pid &&
               e.contains(kind) && e[kind].contains(field) && e[kind][field] == value;
    };
}

std::vector<std::string> observe_only() {
    return {"--policy", std::string(PODGUARD_SOURCE_DIR) + "/deploy/policies/observe-only.yaml"};
}

std::vector<Json> events_from(AgentProcess& agent, pid_t source_pid, const std::string& kind) {
    std::vector<Json> out;
    for (const auto& e : agent.events()) {
        std::string k = e.value("kind", "");
        if (k != "signal" && k != "ptrace" && k != "proc_access")
            continue;
        if ((kind.empty() || k == kind) && e["source"].value("pid", -1) == source_pid)
            out.push_back(e);
    }
    return out;
}

std::string dump_all(const std::vector<Json>& events) {
    std::string s;
    for (const auto& e : events)
        s += "  " + e.dump() + "\n";
    return s;
}

AgentPause::AgentPause(const AgentProcess& agent) : pid_(agent.pid()) {
    if (::kill(pid_, SIGSTOP) != 0)
        throw FixtureError("SIGSTOP agent: " + errno_text(errno));
    paused_ = true;
    // The stop takes effect asynchronously: wait until /proc says so.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
        std::string stat;
        std::getline(in, stat);
        auto close = stat.rfind(')');
        if (close != std::string::npos && stat.substr(close + 2, 1) == "T")
            break;
        if (std::chrono::steady_clock::now() > deadline)
            throw FixtureError("agent did not stop");
        std::this_thread::sleep_for(1ms);
    }
}

AgentPause::~AgentPause() {
    resume();
}

void AgentPause::resume() {
    if (paused_)
        ::kill(pid_, SIGCONT);
    paused_ = false;
}

bool drop_to_nobody() {
    return ::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
           ::setresuid(65534, 65534, 65534) == 0;
}

} // namespace podguard::test
