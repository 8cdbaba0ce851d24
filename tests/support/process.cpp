#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

namespace podguard::test {

namespace {

std::string errno_text(int err) {
    return std::to_string(err) + " (" + std::strerror(err) + ")";
}

int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Forking into another pid namespace means changing the calling thread's
// pid_for_children; this puts it back whatever happens next.
class PidnsForChildren {
  public:
    PidnsForChildren(int join_fd, bool create) {
        if (join_fd < 0 && !create)
            return;
        saved_ = ::open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (saved_ < 0)
            throw FixtureError("open /proc/thread-self/ns/pid: " + errno_text(errno));
        int rc = create ? ::unshare(CLONE_NEWPID) : ::setns(join_fd, CLONE_NEWPID);
        if (rc != 0) {
            int err = errno;
            ::close(saved_);
            saved_ = -1;
            throw FixtureError(std::string(create ? "unshare" : "setns") +
                               "(CLONE_NEWPID): " + errno_text(err));
        }
    }
    ~PidnsForChildren() {
        if (saved_ < 0)
            return;
        if (::setns(saved_, CLONE_NEWPID) != 0) {
            // Every later fork of this thread would land in the wrong
            // namespace: nothing sane can continue.
            std::fprintf(stderr, "podguard test support: cannot restore pid namespace: %s\n",
                         std::strerror(errno));
            std::abort();
        }
        ::close(saved_);
    }
    PidnsForChildren(const PidnsForChildren&) = delete;
    PidnsForChildren& operator=(const PidnsForChildren&) = delete;

  private:
    int saved_ = -1;
};

// Child side: report "<step>: <errno text>" to the parent and die.
[[noreturn]] void child_fail(int fd, const char* step, int err) {
    char buf[512];
    int n = std::snprintf(buf, sizeof buf, "%s: %d (%s)", step, err, std::strerror(err));
    if (n > 0)
        (void)!::write(fd, buf, static_cast<size_t>(n) < sizeof buf ? n : sizeof buf - 1);
    ::_exit(126);
}

[[noreturn]] void run_child(const SpawnSpec& spec, const std::function<int()>& body, int report_fd,
                            int procs_fd) {
    // A test binary that crashes must not leave its children behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (spec.new_mntns) {
        if (::unshare(CLONE_NEWNS) != 0)
            child_fail(report_fd, "unshare(CLONE_NEWNS)", errno);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            child_fail(report_fd, "mount --make-rprivate /", errno);
    }
    if (spec.join_mntns_fd >= 0 && ::setns(spec.join_mntns_fd, CLONE_NEWNS) != 0)
        child_fail(report_fd, "setns(CLONE_NEWNS)", errno);
    if (procs_fd >= 0) {
        if (::write(procs_fd, "0", 1) != 1)
            child_fail(report_fd, "join cgroup (write cgroup.procs)", errno);
        ::close(procs_fd);
    }
    if (!spec.comm.empty())
        ::prctl(PR_SET_NAME, spec.comm.c_str());
    if (spec.setup) {
        int rc = 0;
        try {
            rc = spec.setup();
        } catch (...) {
            rc = -1;
        }
        if (rc != 0)
            child_fail(report_fd, "setup callback", errno);
    }
    ::close(report_fd); // EOF = setup done
    int rc = 127;
    try {
        rc = body();
    } catch (...) {
        rc = 127;
    }
    ::_exit(rc);
}

// Pids whose Proc gave up waiting (see kill_pid1); reaped by later sweeps.
std::mutex deferred_mutex;
std::vector<pid_t> deferred;

void sweep_deferred() {
    std::lock_guard lock(deferred_mutex);
    std::erase_if(deferred, [](pid_t pid) {
        int st = 0;
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        return r == pid || (r < 0 && errno == ECHILD);
    });
}

} // namespace

std::vector<pid_t> children_of(pid_t parent, bool include_zombies) {
    // /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN, which these
    // kernels lack: scan every process' parent instead.
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        std::getline(in, stat);
        auto close = stat.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(stat.substr(close + 1));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent && (include_zombies || state != "Z"))
            out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

bool has_nested_children(const std::vector<pid_t>& except) {
    for (pid_t child : children_of(::getpid(), true))
        if (std::find(except.begin(), except.end(), child) == except.end() &&
            read_nspids(child).size() > 1)
            return true;
    return false;
}

bool ExitStatus::exited() const {
    return WIFEXITED(raw);
}
int ExitStatus::code() const {
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}
bool ExitStatus::signaled() const {
    return WIFSIGNALED(raw);
}
int ExitStatus::signal() const {
    return WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
}
std::string ExitStatus::describe() const {
    if (exited())
        return "exit " + std::to_string(code());
    if (signaled())
        return "signal " + std::to_string(signal()) + " (" + strsignal(signal()) + ")";
    return "wait status " + std::to_string(raw);
}

std::string SyscallResult::describe() const {
    if (ret >= 0)
        return "ret=" + std::to_string(ret);
    return "ret=" + std::to_string(ret) + " errno=" + errno_text(err);
}

Proc::Proc(pid_t pid, int pidfd) : pid_(pid), ns_pid_(pid), pidfd_(pidfd) {}

Proc::Proc(Proc&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), ns_pid_(std::exchange(other.ns_pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)), status_(std::exchange(other.status_, std::nullopt)) {
}

Proc& Proc::operator=(Proc&& other) noexcept {
    if (this != &other) {
        reset();
        pid_ = std::exchange(other.pid_, -1);
        ns_pid_ = std::exchange(other.ns_pid_, -1);
        pidfd_ = std::exchange(other.pidfd_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

Proc::~Proc() {
    reset();
}

void Proc::reset() {
    if (pid_ > 0 && !status_)
        kill_and_reap();
    if (pidfd_ >= 0)
        ::close(pidfd_);
    pid_ = -1;
    ns_pid_ = -1;
    pidfd_ = -1;
    status_.reset();
}

bool Proc::running() const {
    if (pid_ <= 0 || status_)
        return false;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false;
    return info.si_pid == 0;
}

std::optional<ExitStatus> Proc::wait(std::chrono::milliseconds timeout) {
    sweep_deferred();
    if (status_ || pid_ <= 0)
        return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            status_ = ExitStatus{st};
            sweep_deferred(); // a pid 1 may have been waiting for this one
            return status_;
        }
        if (r < 0 && errno != EINTR)
            throw FixtureError("waitpid(" + std::to_string(pid_) + "): " + errno_text(errno));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        pollfd p{pidfd_, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    }
}

ExitStatus Proc::wait_or_throw(std::chrono::milliseconds timeout) {
    if (auto st = wait(timeout))
        return *st;
    kill_and_reap();
    throw FixtureError("process " + std::to_string(pid_) + " did not exit within " +
                       std::to_string(timeout.count()) + " ms (killed)");
}

void Proc::signal(int sig) const {
    if (pid_ > 0 && !status_)
        ::kill(pid_, sig);
}

ExitStatus Proc::kill_and_reap() {
    if (pid_ <= 0)
        return ExitStatus{};
    if (status_)
        return *status_;
    ::kill(pid_, SIGKILL);
    if (auto st = wait(30s))
        return *st;
    // Stuck in uninterruptible sleep: block rather than leak a zombie.
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = ExitStatus{st};
    return *status_;
}

void Proc::kill_pid1(bool others_may_block) {
    if (pid_ <= 0 || status_)
        return;
    if (!others_may_block) {
        kill_and_reap();
        return;
    }
    ::kill(pid_, SIGKILL);
    if (wait(0ms))
        return;
    {
        std::lock_guard lock(deferred_mutex);
        deferred.push_back(pid_);
    }
    status_ = ExitStatus{SIGKILL}; // what it will report
}

Proc spawn_process(const SpawnSpec& spec, std::function<int()> body) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0)
        throw FixtureError("pipe2: " + errno_text(errno));
    int procs_fd = -1;
    if (!spec.cgroup_dir.empty()) {
        std::string procs = spec.cgroup_dir + "/cgroup.procs";
        procs_fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (procs_fd < 0) {
            int err = errno;
            ::close(report[0]);
            ::close(report[1]);
            throw FixtureError("open " + procs + ": " + errno_text(err));
        }
    }
    pid_t pid = -1;
    int fork_errno = 0;
    try {
        PidnsForChildren pidns(spec.join_pidns_fd, spec.new_pidns);
        pid = ::fork();
        fork_errno = errno;
        if (pid == 0) {
            ::close(report[0]);
            run_child(spec, body, report[1], procs_fd);
        }
    } catch (...) {
        ::close(report[0]);
        ::close(report[1]);
        if (procs_fd >= 0)
            ::close(procs_fd);
        throw;
    }
    ::close(report[1]);
    if (procs_fd >= 0)
        ::close(procs_fd);
    if (pid < 0) {
        ::close(report[0]);
        throw FixtureError("fork: " + errno_text(fork_errno));
    }
    Proc proc(pid, pidfd_open(pid));

    // Wait for the child's setup verdict: EOF means done, text is an error.
    std::string error;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            error = "child setup did not finish within 10 s";
            break;
        }
        pollfd p{report[0], POLLIN, 0};
        int pr = ::poll(&p, 1, static_cast<int>(left.count()));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        char buf[512];
        ssize_t n = ::read(report[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        error.append(buf, static_cast<size_t>(n));
    }
    ::close(report[0]);
    if (!error.empty()) {
        proc.kill_and_reap();
        throw FixtureError("spawn failed in child: " + error);
    }
    auto nspids = read_nspids(pid);
    if (!nspids.empty())
        proc.ns_pid_ = nspids.back();
    return proc;
}

std::function<int()> exec_body(std::vector<std::string> argv) {
    return [argv = std::move(argv)]() -> int {
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        return 127;
    };
}

Proc spawn_on_host(std::function<int()> body) {
    return spawn_process(SpawnSpec{}, std::move(body));
}

Proc spawn_exec_on_host(std::vector<std::string> argv) {
    return spawn_process(SpawnSpec{}, exec_body(std::move(argv)));
}

SyscallResult run_syscall(const SpawnSpec& spec, std::function<long()> fn,
                          std::chrono::milliseconds timeout) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw FixtureError("pipe2: " + errno_text(errno));
    struct Wire {
        long ret;
        int err;
    };
    Proc proc;
    try {
        proc = spawn_process(spec, [&]() -> int {
            ::close(fds[0]);
            errno = 0;
            Wire w{};
            w.ret = fn();
            w.err = w.ret < 0 ? errno : 0;
            return ::write(fds[1], &w, sizeof w) == sizeof w ? 0 : 125;
        });
    } catch (...) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw;
    }
    ::close(fds[1]);
    auto status = proc.wait(timeout);
    if (!status) {
        ::close(fds[0]);
        proc.kill_and_reap();
        throw FixtureError("syscall child did not finish within " +
                           std::to_string(timeout.count()) + " ms");
    }
    Wire w{};
    ssize_t n = ::read(fds[0], &w, sizeof w);
    ::close(fds[0]);
    if (n != static_cast<ssize_t>(sizeof w))
        throw FixtureError("syscall child ended without reporting (" + status->describe() + ")");
    return SyscallResult{w.ret, w.err};
}

SyscallResult run_on_host(std::function<long()> fn, std::chrono::milliseconds timeout) {
    return run_syscall(SpawnSpec{}, std::move(fn), timeout);
}

std::vector<pid_t> read_nspids(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    std::vector<pid_t> out;
    while (std::getline(in, line)) {
        if (line.rfind("NSpid:", 0) != 0)
            continue;
        std::istringstream fields(line.substr(6));
        pid_t p;
        while (fields >> p)
            out.push_back(p);
        break;
    }
    return out;
}

unsigned long namespace_inode(pid_t pid, const std::string& name) {
    struct stat st {};
    std::string path = "/proc/" + std::to_string(pid) + "/ns/" + name;
    if (::stat(path.c_str(), &st) != 0)
        throw FixtureError("stat " + path + ": " + errno_text(errno));
    return st.st_ino;
}

} // namespace podguard::test
