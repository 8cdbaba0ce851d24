// Child processes for tests: spawned with fork (so glibc's atfork handlers run
// and the child may use malloc and friends), watched through a pidfd, and
// always killed and reaped by their owner's destructor, so a failed assertion
// never leaks a process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace podguard::test {

using namespace std::chrono_literals;

// Fixture setup errors are thrown: gtest reports an exception escaping a test
// body as a failure with this message, and the stack unwinds through every
// RAII fixture, which is exactly the cleanup we want. (Constructors cannot use
// ASSERT_*.)
struct FixtureError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A decoded wait status.
struct ExitStatus {
    int raw = 0;

    bool exited() const;
    int code() const; // exit code, or -1 when killed by a signal
    bool signaled() const;
    int signal() const; // terminating signal, or 0
    bool success() const { return exited() && code() == 0; }
    std::string describe() const; // "exit 0", "signal 9 (Killed)"
};

// What a child does before its body runs; every field is optional.
struct SpawnSpec {
    int join_pidns_fd = -1; // the child is forked into this pid namespace
    bool new_pidns = false; // the child becomes pid 1 of a new pid namespace
    int join_mntns_fd = -1; // the child setns()es into this mount namespace
    bool new_mntns = false; // the child unshares a private mount namespace
    std::string cgroup_dir; // absolute cgroup v2 dir the child moves itself into
    std::string comm;       // prctl(PR_SET_NAME) before the body
    // Runs in the child after the setup above, before the body, e.g. mounts
    // in a fresh mount namespace. Non-zero return = setup failure.
    std::function<int()> setup;
};

class Proc {
  public:
    Proc() = default;
    Proc(pid_t pid, int pidfd);
    Proc(Proc&& other) noexcept;
    Proc& operator=(Proc&& other) noexcept;
    Proc(const Proc&) = delete;
    Proc& operator=(const Proc&) = delete;
    ~Proc(); // SIGKILL + reap if still ours

    bool valid() const { return pid_ > 0; }
    pid_t pid() const { return pid_; } // host pid (the test's pid namespace)
    // pid in the innermost pid namespace (last NSpid field); the host pid when
    // the process lives in the test's own namespace. Read once at spawn.
    pid_t ns_pid() const { return ns_pid_; }

    // True while not yet reaped and not a zombie.
    bool running() const;
    // Waits for exit (bounded); nullopt on timeout. Once reaped, returns the
    // same status again.
    std::optional<ExitStatus> wait(std::chrono::milliseconds timeout = 10s);
    // Like wait() but throws FixtureError on timeout (and kills the child).
    ExitStatus wait_or_throw(std::chrono::milliseconds timeout = 10s);
    void signal(int sig) const;
    // SIGKILL and reap; returns the status. No-op status once reaped.
    ExitStatus kill_and_reap();
    // For pid 1 of a pid namespace: the kernel lets it finish exiting only
    // once every other process of its namespace is reaped, and those may be
    // children of the test owned by Procs that outlive this one. SIGKILLs it
    // and, when `others_may_block`, hands the reaping to a later sweep (every
    // Proc wait sweeps) instead of deadlocking.
    void kill_pid1(bool others_may_block);

  private:
    friend Proc spawn_process(const SpawnSpec&, std::function<int()>);
    void reset();

    pid_t pid_ = -1;
    pid_t ns_pid_ = -1;
    int pidfd_ = -1;
    std::optional<ExitStatus> status_;
};

// True when a child of this process other than `except` lives (or lies
// dead, unreaped) in a pid namespace below ours.
// Children of parent, from every process' stat (no CONFIG_PROC_CHILDREN here).
std::vector<pid_t> children_of(pid_t parent, bool include_zombies = false);
bool has_nested_children(const std::vector<pid_t>& except);

// Forks a child that applies `spec`, then runs `body` and _exit()s with its
// return value (127 when it throws). Throws FixtureError when the setup fails
// in the child (the child's error is reported back over a pipe).
Proc spawn_process(const SpawnSpec& spec, std::function<int()> body);

// A body that execv()s argv (absolute path in argv[0]); exit 127 if exec fails.
std::function<int()> exec_body(std::vector<std::string> argv);

// Host-side processes: no namespaces, the test's own cgroup.
Proc spawn_on_host(std::function<int()> body);
Proc spawn_exec_on_host(std::vector<std::string> argv);

// What a syscall made in a child returned.
struct SyscallResult {
    long ret = 0;
    int err = 0; // errno when ret < 0 (0 otherwise)
    bool ok() const { return ret >= 0; }
    std::string describe() const; // "ret=0" or "ret=-1 errno=1 (Operation not permitted)"
};

// Runs `fn` in a child built from `spec` and reports {return value, errno}
// back over a pipe. Throws FixtureError when the child dies or times out
// before reporting.
SyscallResult run_syscall(const SpawnSpec& spec, std::function<long()> fn,
                          std::chrono::milliseconds timeout = 10s);
SyscallResult run_on_host(std::function<long()> fn, std::chrono::milliseconds timeout = 10s);

// NSpid of /proc/<pid>/status: host pid first, innermost namespace last.
std::vector<pid_t> read_nspids(pid_t pid);
// Fields of /proc/<pid>/ns/<name> (e.g. "pid", "mnt") as the namespace inode.
unsigned long namespace_inode(pid_t pid, const std::string& name);

} // namespace podguard::test
