// Runs inside the LSM test VM (tests/enforce/lsm_vm_test.cpp) as a static
// binary: loads podguard's real BPF object with the BPF LSM programs,
// compiles a policy into its maps with the same code as the daemon, and lets
// processes in two cgroups ("containers" a and b of one pod) signal, ptrace
// and open /proc/<pid>/root of each other. Every result goes to the serial
// console on a line starting with "PGVM ".
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "enforce/policy_maps.h"
#include "events/names.h"
#include "loader/compat_probe.h"
#include "loader/syscall_hooks.h"
#include "podguard.h"
#include "podguard.skel.h"
#include "policy/load.h"

// Mirrors bpf/proc_access.bpf.h.
#define PG_NAME_PROC 1000
#define PG_NAME_SELF 1001
#define PG_NAME_TASK 1002

namespace {

using namespace podguard;

const char* kPolicy = R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata:
  name: vm-test
spec:
  rules:
    - name: a-may-not-touch-b
      action: ACTION
      operations: [signal, ptrace, procAccess]
      source: {containers: [a]}
      target: {containers: [b]}
      relations: [same_pod]
)";

int libbpf_quiet(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level != LIBBPF_WARN)
        return 0;
    std::fputs("PGVM libbpf: ", stdout);
    return std::vfprintf(stdout, fmt, args);
}

[[noreturn]] void die(const std::string& what) {
    std::printf("PGVM fatal %s\n", what.c_str());
    std::fflush(stdout);
    std::exit(1);
}

uint64_t make_cgroup(const std::string& name) {
    std::string path = "/sys/fs/cgroup/" + name;
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
        die("mkdir " + path + ": " + strerror(errno));
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        die("stat " + path);
    return st.st_ino; // the cgroup id on cgroup2
}

void join_cgroup(const std::string& name) {
    std::string procs = "/sys/fs/cgroup/" + name + "/cgroup.procs";
    int fd = open(procs.c_str(), O_WRONLY);
    if (fd < 0 || write(fd, "0", 1) != 1)
        _exit(120);
    close(fd);
}

enforce::CgroupFacts facts(uint64_t id, const char* container, uint32_t container_id) {
    enforce::CgroupFacts f;
    f.cgroup_id = id;
    f.pod_id = 1;
    f.container_id = container_id;
    f.party.in_container = true;
    f.party.namespace_ = "vm";
    f.party.pod = "p";
    f.party.container = container;
    return f;
}

std::vector<pg_header> g_events;
std::vector<uint32_t> g_event_pids;
std::vector<uint16_t> g_event_entries;

int on_event(void*, void* data, size_t size) {
    if (size < sizeof(pg_signal_event))
        return 0;
    auto* h = static_cast<const pg_header*>(data);
    if (h->kind != PG_EV_SIGNAL && h->kind != PG_EV_PTRACE && h->kind != PG_EV_PROC_ACCESS)
        return 0;
    // source follows the header in all three layouts
    auto* s = static_cast<const pg_signal_event*>(data);
    g_events.push_back(*h);
    g_event_pids.push_back(s->source.pid);
    g_event_entries.push_back(
        h->kind == PG_EV_PROC_ACCESS ? static_cast<const pg_proc_access_event*>(data)->entry : 0);
    return 0;
}

void report(const char* scase, const char* op, long ret, int err) {
    std::printf("PGVM result case=%s op=%s ret=%ld errno=%d\n", scase, op, ret, ret < 0 ? err : 0);
    std::fflush(stdout);
}

// One io_uring openat, submitted and reaped: the cqe's result.
long uring_open(const std::string& path) {
    io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) != 0)
        return -1000;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_openat(sqe, AT_FDCWD, path.c_str(), O_RDONLY, 0);
    long res = -1001;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_submit(&ring) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0) {
        res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
    }
    io_uring_queue_exit(&ring);
    return res;
}

// open of /proc/<target>/root/init spelled otherwise: through a symlink, and
// through io_uring (spelled plainly, and through the symlink).
void act_other_spellings(const char* scase, pid_t target) {
    std::string root = "/proc/" + std::to_string(target) + "/root";
    std::string link = std::string("/tmp/root-of-") + scase;
    if (symlink(root.c_str(), link.c_str()) != 0)
        report(scase, "symlink_setup", -1, errno);
    int fd = open((link + "/init").c_str(), O_RDONLY);
    report(scase, "open_symlink", fd, errno);
    if (fd >= 0)
        close(fd);
    long res = uring_open(root + "/init");
    report(scase, "uring_open", res, res < 0 ? static_cast<int>(-res) : 0);
    if (res >= 0)
        close(static_cast<int>(res));
    res = uring_open(link + "/init");
    report(scase, "uring_open_symlink", res, res < 0 ? static_cast<int>(-res) : 0);
    if (res >= 0)
        close(static_cast<int>(res));
}

// A 32-bit syscall from this 64-bit process (what a 32-bit binary makes):
// the per-syscall tracepoints never fire for it (bpf/compat.bpf.h).
long int80(long nr, long a, long b) {
    long ret = nr;
    __asm__ volatile("int $0x80" : "+a"(ret) : "b"(a), "c"(b) : "memory");
    return ret;
}

// open of /proc/<target>/root/init and kill of the target as 32-bit
// syscalls (open 5, kill 37); the path in the low 4 GiB they can address.
void act_compat(const char* scase, pid_t target) {
    void* low =
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) {
        report(scase, "compat_setup", -1, errno);
        return;
    }
    std::string path = "/proc/" + std::to_string(target) + "/root/init";
    std::memcpy(low, path.c_str(), path.size() + 1);
    long fd = int80(5, reinterpret_cast<long>(low), O_RDONLY);
    report(scase, "open32_proc_root", fd, fd < 0 ? static_cast<int>(-fd) : 0);
    if (fd >= 0)
        close(static_cast<int>(fd));
    long r = int80(37, target, SIGUSR1);
    report(scase, "kill32", r, r < 0 ? static_cast<int>(-r) : 0);
}

// The actor: the operations on the target, each reported.
int act(const char* scase, pid_t target, pid_t agent) {
    long r = kill(target, SIGUSR1);
    report(scase, "kill", r, errno);
    r = ptrace(PTRACE_ATTACH, target, nullptr, nullptr);
    report(scase, "ptrace_attach", r, errno);
    if (r == 0) {
        int st;
        waitpid(target, &st, 0);
        ptrace(PTRACE_DETACH, target, nullptr, nullptr);
    }
    std::string path = "/proc/" + std::to_string(target) + "/root/init";
    int fd = open(path.c_str(), O_RDONLY);
    report(scase, "open_proc_root", fd, errno);
    if (fd >= 0)
        close(fd);
    act_other_spellings(scase, target);
    act_compat(scase, target);
    if (agent > 0) {
        r = kill(agent, SIGUSR1);
        report(scase, "kill_agent", r, errno);
    }
    return 0;
}

pid_t spawn_in(const std::string& cgroup, const std::function<int()>& body) {
    pid_t pid = fork();
    if (pid == 0) {
        join_cgroup(cgroup);
        _exit(body());
    }
    return pid;
}

// The target: a process of cgroup `to` that waits (and ignores the SIGUSR1
// the actors send), given a moment to settle in its cgroup.
pid_t spawn_target(const std::string& to) {
    pid_t target = spawn_in(to, [] {
        signal(SIGUSR1, SIG_IGN);
        for (;;)
            pause();
        return 0;
    });
    usleep(100 * 1000);
    return target;
}

// Waits for the actor, ends the target, reports the actor's events.
void finish_case(const char* scase, pid_t actor, pid_t target, struct ring_buffer* rb) {
    int st = 0;
    waitpid(actor, &st, 0);
    std::printf("PGVM exit case=%s status=%s%d\n", scase, WIFSIGNALED(st) ? "signal:" : "code:",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    kill(target, SIGKILL);
    waitpid(target, &st, 0);
    for (int i = 0; i < 10; ++i)
        ring_buffer__poll(rb, 50);
    for (size_t i = 0; i < g_events.size(); ++i) {
        if (g_event_pids[i] != static_cast<uint32_t>(actor))
            continue;
        const auto& h = g_events[i];
        std::printf("PGVM event case=%s kind=%u action=%u rule=%u result=%lld syscall=%s "
                    "flags=%u entry=%u\n",
                    scase, h.kind, h.action, h.policy_rule, static_cast<long long>(h.result),
                    syscall_name(h.syscall), h.flags, g_event_entries[i]);
    }
    std::fflush(stdout);
}

void run_case(const char* scase, const std::string& from, const std::string& to, bool hit_agent,
              struct ring_buffer* rb, bool compat_only = false) {
    pid_t agent = getpid();
    pid_t target = spawn_target(to);
    pid_t actor = spawn_in(from, [&] {
        if (compat_only) {
            act_compat(scase, target);
            return 0;
        }
        return act(scase, target, hit_agent ? agent : 0);
    });
    finish_case(scase, actor, target, rb);
}

// A container no daemon registered: a cgroup under a container parent
// (bpf/posture.bpf.h), the first thing its process does being the runtime's
// setup (an open of the target's /proc/<pid>/root from the host's
// namespaces, as runc init joins a pod's), then an exec in a mount
// namespace of its own (the container's entrypoint), which acts at once.
void run_unidentified_case(const char* scase, const std::string& to, struct ring_buffer* rb) {
    const std::string cgroup = "machine.slice/libpod-0123456789abcdef.scope";
    make_cgroup("machine.slice");
    make_cgroup(cgroup);
    pid_t target = spawn_target(to);
    const std::string target_s = std::to_string(target);
    pid_t actor = spawn_in(cgroup, [&] {
        std::string path = "/proc/" + target_s + "/root/init";
        int fd = open(path.c_str(), O_RDONLY);
        report(scase, "setup_open_proc_root", fd, errno);
        if (fd >= 0)
            close(fd);
        if (unshare(CLONE_NEWNS) != 0)
            report(scase, "unshare", -1, errno);
        // By its path in the initramfs, which the new mount namespace
        // resolves on its own copy of the mounts. /proc/self/exe would name
        // the binary on the old namespace's mount: an exec of a file of
        // another mount namespace, judged as reaching that namespace's root
        // (README "Known limits": an fd from before an unshare).
        execl("/loader", "loader", "--act", scase, target_s.c_str(), nullptr);
        report(scase, "exec", -1, errno);
        return 1;
    });
    finish_case(scase, actor, target, rb);
}

void fill_proc_names(int fd) {
    auto put = [&](std::string_view name, uint32_t value) {
        uint64_t key = fnv1a64(name);
        bpf_map_update_elem(fd, &key, &value, BPF_ANY);
    };
    for (const auto& e : proc_entry_names())
        put(e.name, e.entry);
    put("proc", PG_NAME_PROC);
    put("self", PG_NAME_SELF);
    put("thread-self", PG_NAME_SELF);
    put("task", PG_NAME_TASK);
}

void load(enforce::PolicyMaps& maps, const char* action, uint64_t a, uint64_t b) {
    std::string yaml = kPolicy;
    yaml.replace(yaml.find("ACTION"), 6, action);
    auto set = policy::load_policy_text(yaml, "vm.yaml");
    if (!set)
        die("policy: " + set.error().message);
    auto compiled = policy::compile(*set);
    if (!compiled)
        die("compile: " + compiled.error().message);
    auto st = maps.load(*compiled, [&] {
        return std::vector<enforce::CgroupFacts>{facts(a, "a", 1), facts(b, "b", 2)};
    });
    if (!st)
        die("load_policy: " + st.error().message);
    for (const auto& r : compiled->rules)
        std::printf("PGVM rule id=%u name=%s action=%s\n", r.id, r.name.c_str(), action);
}

} // namespace

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    signal(SIGUSR1, SIG_IGN);
    if (argc == 4 && std::string(argv[1]) == "--act") // run_unidentified_case's exec
        return act(argv[2], std::atoi(argv[3]), 0);
    libbpf_set_print(libbpf_quiet);
    {
        std::ifstream lsm("/sys/kernel/security/lsm");
        std::string line;
        std::getline(lsm, line);
        std::printf("PGVM lsm %s\n", line.c_str());
    }
    std::printf("PGVM compat_syscalls %d\n", compat_syscalls_possible() ? 1 : 0);
    uint64_t a = make_cgroup("a"), b = make_cgroup("b");

    podguard_bpf* skel = podguard_bpf__open();
    if (!skel)
        die("open skeleton");
    skel->rodata->pg_agent_tgid = getpid();
    bpf_program__set_autoload(skel->progs.pg_lsm_task_kill, true);
    bpf_program__set_autoload(skel->progs.pg_lsm_ptrace_access_check, true);
    // The guest's 6.1 kernel has no bpf_send_signal_task (6.13+): the agent
    // leaves the stop-signal guard out there too.
    bpf_program__set_autoload(skel->progs.pg_guard_signal, false);
    if (int err = podguard_bpf__load(skel))
        die(std::string("load: ") + strerror(-err));
    // As userspace/loader/bpf_objects.cpp: the submit tracepoint's name
    // before Linux 6.4 was io_uring_submit_sqe.
    bpf_program__set_autoattach(skel->progs.pg_uring_submit, false);
    if (int err = podguard_bpf__attach(skel))
        die(std::string("attach: ") + strerror(-err));
    auto syscall_links = attach_syscall_tracepoints(
        syscall_tracepoints(skel), skel->progs.pg_sys_enter, skel->progs.pg_sys_exit);
    if (!syscall_links)
        die(syscall_links.error().message);
    for (const char* tp : {"io_uring_submit_req", "io_uring_submit_sqe"}) {
        skel->links.pg_uring_submit =
            bpf_program__attach_raw_tracepoint(skel->progs.pg_uring_submit, tp);
        if (skel->links.pg_uring_submit) {
            std::printf("PGVM uring_submit_tracepoint %s\n", tp);
            break;
        }
    }
    fill_proc_names(bpf_map__fd(skel->maps.pg_proc_names));
    uint32_t zero = 0;
    pg_enforce_config cfg{0, PG_ENFORCE_LSM};
    bpf_map_update_elem(bpf_map__fd(skel->maps.pg_enforce_config), &zero, &cfg, BPF_ANY);
    std::printf("PGVM loaded lsm_programs=%d\n",
                bpf_program__fd(skel->progs.pg_lsm_task_kill) >= 0 &&
                    bpf_program__fd(skel->progs.pg_lsm_ptrace_access_check) >= 0);

    struct ring_buffer* rb =
        ring_buffer__new(bpf_map__fd(skel->maps.pg_events), on_event, nullptr, nullptr);
    // Policy-matched acts and first occurrences travel on the priority ring
    // (bpf/transport.bpf.h), as the daemon reads them.
    if (!rb || ring_buffer__add(rb, bpf_map__fd(skel->maps.pg_events_prio), on_event, nullptr))
        die("ring buffers");
    enforce::PolicyMaps maps(
        PolicyMapFds{bpf_map__fd(skel->maps.pg_enforce_config),
                     bpf_map__fd(skel->maps.pg_policy_gens), bpf_map__fd(skel->maps.pg_policy_ops),
                     bpf_map__fd(skel->maps.pg_policy_rules), bpf_map__fd(skel->maps.pg_cgroups)});

    load(maps, "block", a, b);
    run_case("blocked", "a", "b", true, rb);
    run_case("allowed", "b", "a", false, rb);
    run_unidentified_case("unidentified", "b", rb);
    load(maps, "audit", a, b);
    run_case("audit", "a", "b", false, rb);
    // Without the LSM (as on a host that refuses it): the 32-bit open is
    // decided by the compat hooks alone, its offender killed at entry.
    cfg.mode = PG_ENFORCE_KILL;
    bpf_map_update_elem(bpf_map__fd(skel->maps.pg_enforce_config), &zero, &cfg, BPF_ANY);
    load(maps, "block", a, b);
    run_case("fallback", "a", "b", false, rb, true);
    std::printf("PGVM done\n");
    ring_buffer__free(rb);
    destroy_syscall_links(*syscall_links);
    podguard_bpf__destroy(skel);
    return 0;
}
