// "Fake containers" made of real kernel objects and no container runtime:
// cgroup v2 directories laid out the way Kubernetes' cgroupfs driver lays
// them out, a pause process that owns a pod's pid namespace, and per-container
// mount namespaces. Everything is RAII: destruction kills and reaps every
// process and removes every cgroup, also when an assertion failed half-way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace podguard::test {

// Every cgroup and temp dir the fixtures create starts with this, followed by
// "<owner pid>-": leftovers of a crashed run are found by a dead owner pid.
inline constexpr const char* kTestPrefix = "podguard-test-";

// kTestPrefix + "<pid>-<8 hex>": a name for a cgroup, temp dir or pod that
// clean_stale_test_leftovers() can attribute to its owner.
std::string owned_name();
// The owner pid in such a name (-1 if it is not one), and whether that owner
// is gone (and not us): the name is a leftover of a crashed run.
pid_t owner_pid_of(const std::string& name);
bool is_stale_name(const std::string& name);

// A fresh directory /tmp/<owned_name()>, removed recursively at destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// Mount point of the cgroup v2 hierarchy (/sys/fs/cgroup/unified on hybrid
// machines, /sys/fs/cgroup on pure v2 ones), from /proc/self/mountinfo.
// Throws FixtureError when there is none.
const std::string& cgroup2_mount();
// Cgroup id of a cgroup v2 directory, as bpf_get_current_cgroup_id() reports
// it (the kernfs node id, read through name_to_handle_at).
uint64_t cgroup_id_of(const std::string& absolute_path);
// The "0::<path>" entry of /proc/<pid>/cgroup (relative to cgroup2_mount()).
std::string cgroup2_path_of(pid_t pid);

std::string random_hex(size_t chars);
std::string random_uuid(); // 8-4-4-4-12 lowercase hex

// Kills every process below `absolute_path` (cgroup.kill) and removes the
// directories deepest first. Returns an empty string on success, else what
// went wrong.
std::string remove_cgroup_tree(const std::string& absolute_path);
// Removes kTestPrefix cgroups and temp dirs whose owner process is gone.
// Called once per test process by the first fixture; safe to call again.
void clean_stale_test_leftovers();

class CgroupDir {
  public:
    // Creates <cgroup2>/<relative> and any missing parents; at destruction
    // removes (killing what runs inside) exactly the directories it created.
    explicit CgroupDir(std::string relative);
    // podguard-test-<pid>-<rand>/kubepods/<qos>/pod<pod_uid>/<container_id>:
    // Kubernetes' cgroupfs layout, so podguard's parser classifies it.
    static CgroupDir kubepods_container(std::string pod_uid = random_uuid(),
                                        std::string container_id = random_hex(64),
                                        const std::string& qos = "besteffort");
    CgroupDir(CgroupDir&&) noexcept;
    CgroupDir& operator=(CgroupDir&&) noexcept;
    CgroupDir(const CgroupDir&) = delete;
    CgroupDir& operator=(const CgroupDir&) = delete;
    ~CgroupDir();

    const std::string& path() const { return path_; } // absolute
    const std::string& relative() const {
        return relative_;
    }                                 // "/podguard-test-…", as in /proc/<pid>/cgroup
    std::string container_id() const; // last component
    std::string pod_uid() const;      // from the "pod<uid>" component, "" if none
    uint64_t id() const;              // cgroup id
    std::vector<pid_t> procs() const; // cgroup.procs
    void add(pid_t pid) const;        // moves a process in

  private:
    void release();
    std::string relative_;
    std::string path_;
    std::vector<std::string> created_; // absolute, outermost first
};

class SandboxContainer {
  public:
    ~SandboxContainer();
    SandboxContainer(const SandboxContainer&) = delete;
    SandboxContainer& operator=(const SandboxContainer&) = delete;

    const std::string& name() const { return name_; }
    const std::string& id() const { return id_; } // 64 hex = last cgroup component
    const std::string& pod_uid() const { return pod_uid_; }
    const CgroupDir& cgroup() const { return cgroup_; }
    // The container's first process (its "entrypoint", a sleeper): it made the
    // container's mount namespace, and is pid 1 of the container's own pid
    // namespace when the pod does not share one. The mount namespace has its
    // own /proc for the container's pid namespace.
    const Proc& main() const { return main_; }
    // A tmpfs mounted only in this container's mount namespace at this path,
    // holding the file "secret" (content: "secret of <name>\n"). From the host
    // or another container the dir is empty, but
    // /proc/<pid of this container>/root/<private_dir>/secret shows the file.
    const std::string& private_dir() const { return private_dir_; }

    // How to build a process inside the container (cgroup, pid ns, mount ns).
    SpawnSpec spec() const;
    Proc spawn(std::function<int()> body) const;
    Proc spawn_exec(std::vector<std::string> argv) const;
    Proc spawn_sleeper() const; // sleeps until killed (default signal dispositions)
    SyscallResult run(std::function<long()> fn, std::chrono::milliseconds timeout = 10s) const;

  private:
    friend class SandboxPod;
    SandboxContainer(std::string name, const std::string& pod_relative, std::string pod_uid,
                     int pod_pidns_fd, const std::string& tmp_root);

    std::string name_;
    std::string id_;
    std::string pod_uid_;
    CgroupDir cgroup_;
    std::string private_dir_;
    Proc main_;
    int pidns_fd_ = -1;
    int mntns_fd_ = -1;
};

// Runs fn (typically one syscall) inside the container and returns what it
// returned and errno: run_in(c, [&] { return kill(pid, SIGHUP); }).
SyscallResult run_in(const SandboxContainer& container, std::function<long()> fn,
                     std::chrono::milliseconds timeout = 10s);

class SandboxPod {
  public:
    // shared_pidns=true: like shareProcessNamespace, every container joins the
    // pause process' pid namespace. false: each container gets its own.
    explicit SandboxPod(bool shared_pidns = true);
    ~SandboxPod();
    SandboxPod(const SandboxPod&) = delete;
    SandboxPod& operator=(const SandboxPod&) = delete;

    // Stable reference, owned by the pod.
    SandboxContainer& add_container(std::string name);

    const std::string& uid() const { return uid_; }
    bool shared_pidns() const { return shared_pidns_; }
    const CgroupDir& cgroup() const { return pod_cgroup_; } // .../pod<uid>
    const Proc& pause() const { return pause_; }            // pid 1 of the pod's pid ns
    const std::string& pause_id() const { return pause_id_; }
    const CgroupDir& pause_cgroup() const { return *pause_cgroup_; }
    unsigned long pidns_inode() const;
    const std::vector<std::unique_ptr<SandboxContainer>>& containers() const { return containers_; }

  private:
    bool shared_pidns_;
    std::string uid_;
    std::string tmp_root_;
    CgroupDir pod_cgroup_;
    std::string pause_id_;
    std::unique_ptr<CgroupDir> pause_cgroup_;
    Proc pause_;
    int pidns_fd_ = -1;
    std::vector<std::unique_ptr<SandboxContainer>> containers_;
};

} // namespace podguard::test
