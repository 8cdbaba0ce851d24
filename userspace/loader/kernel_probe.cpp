#include "loader/kernel_probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <linux/bpf.h>
#include <nlohmann/json.hpp>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace podguard {

namespace {

bool exists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool is_mountpoint_of(const char* path, const char* fstype) {
    std::ifstream mounts("/proc/self/mounts");
    std::string dev, dir, type, rest;
    while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
        if (dir == path && type == fstype)
            return true;
    return false;
}

Status mount_if_missing(const char* path, const char* fstype) {
    if (is_mountpoint_of(path, fstype))
        return {};
    if (mount(fstype, path, fstype, 0, nullptr) != 0 && errno != EBUSY)
        return make_error(std::string("cannot mount ") + fstype + " at " + path + ": " +
                          strerror(errno));
    return {};
}

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// Loads and attaches a two-instruction program on the task_kill LSM hook:
// the only honest answer to "does BPF LSM enforcement work here".
FeatureCheck try_lsm_program() {
    FeatureCheck check{"bpf_lsm_program", false, ""};
    struct btf* vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux) {
        check.detail = "no vmlinux BTF";
        return check;
    }
    int btf_id = btf__find_by_name_kind(vmlinux, "bpf_lsm_task_kill", BTF_KIND_FUNC);
    btf__free(vmlinux);
    if (btf_id < 0) {
        check.detail = "kernel built without CONFIG_BPF_LSM (no bpf_lsm_task_kill)";
        return check;
    }
    struct bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_LSM_MAC,
                .attach_btf_id = static_cast<__u32>(btf_id));
    int fd = bpf_prog_load(BPF_PROG_TYPE_LSM, "pg_probe_lsm", "GPL", insns, 2, &opts);
    if (fd < 0) {
        check.detail = std::string("LSM program refused at load: ") + strerror(errno);
        return check;
    }
    int link = bpf_link_create(fd, 0, BPF_LSM_MAC, nullptr);
    if (link < 0) {
        check.detail = std::string("LSM program refused at attach: ") + strerror(errno);
        close(fd);
        return check;
    }
    close(link);
    close(fd);
    check.ok = true;
    check.detail = "loaded and attached on task_kill";
    return check;
}

} // namespace

const char* to_string(EnforcementMode mode) {
    switch (mode) {
    case EnforcementMode::Lsm:
        return "lsm";
    case EnforcementMode::SignalFallback:
        return "signal_fallback";
    case EnforcementMode::Monitor:
        return "monitor";
    }
    return "unknown";
}

const FeatureCheck* KernelProbe::find(const std::string& name) const {
    for (const auto& c : checks)
        if (c.name == name)
            return &c;
    return nullptr;
}

Status ensure_kernel_filesystems() {
    for (auto [path, type] :
         {std::pair{"/sys/kernel/tracing", "tracefs"},
          std::pair{"/sys/kernel/security", "securityfs"}, std::pair{"/sys/fs/bpf", "bpf"}})
        if (auto st = mount_if_missing(path, type); !st)
            return st;
    return {};
}

KernelProbe probe_kernel() {
    KernelProbe p;
    struct utsname uts;
    if (uname(&uts) == 0)
        p.kernel_release = uts.release;

    auto add = [&](std::string name, bool ok, std::string detail) {
        p.checks.push_back({std::move(name), ok, std::move(detail)});
        return ok;
    };
    bool root = geteuid() == 0;
    add("root", root, root ? "running as root" : "podguard must run as root");
    bool btf = exists("/sys/kernel/btf/vmlinux");
    add("btf", btf, btf ? "/sys/kernel/btf/vmlinux" : "kernel has no BTF (CONFIG_DEBUG_INFO_BTF)");
    bool tracefs = is_mountpoint_of("/sys/kernel/tracing", "tracefs");
    add("tracefs", tracefs, tracefs ? "mounted at /sys/kernel/tracing" : "not mounted");
    bool bpffs = is_mountpoint_of("/sys/fs/bpf", "bpf");
    add("bpffs", bpffs, bpffs ? "mounted at /sys/fs/bpf" : "not mounted");
    bool syscall_tp = exists("/sys/kernel/tracing/events/syscalls/sys_enter_kill");
    add("syscall_tracepoints", syscall_tp,
        syscall_tp ? "syscalls:sys_enter_* present" : "no syscall tracepoints visible");
    bool signal_tp = exists("/sys/kernel/tracing/events/signal/signal_generate");
    add("signal_generate_tracepoint", signal_tp, signal_tp ? "present" : "missing");
    bool ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
    add("ringbuf", ringbuf, ringbuf ? "BPF_MAP_TYPE_RINGBUF" : "no BPF ring buffer (< 5.8)");
    bool tp_prog = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, nullptr) == 1;
    add("tracepoint_programs", tp_prog, tp_prog ? "load" : "refused");
    bool raw_tp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, nullptr) == 1;
    add("raw_tracepoint_programs", raw_tp, raw_tp ? "load" : "refused");
    bool send_signal =
        libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_send_signal, nullptr) == 1;
    add("bpf_send_signal", send_signal, send_signal ? "available" : "missing");
    bool loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, nullptr) == 1;
    add("bpf_loop", loop, loop ? "available" : "missing (needs 5.17+)");

    std::string lsm_list = read_first_line("/sys/kernel/security/lsm");
    bool listed = ("," + lsm_list + ",").find(",bpf,") != std::string::npos;
    add("bpf_lsm_active", listed,
        lsm_list.empty() ? "securityfs not readable"
                         : "active LSMs: " + lsm_list + (listed ? "" : " (no bpf)"));
    FeatureCheck lsm =
        root && btf ? try_lsm_program() : FeatureCheck{"bpf_lsm_program", false, "not tried"};
    bool lsm_ok = lsm.ok;
    p.checks.push_back(lsm);

    p.can_observe = root && btf && syscall_tp && signal_tp && ringbuf && tp_prog && raw_tp && loop;
    if (lsm_ok) {
        p.mode = EnforcementMode::Lsm;
        p.mode_explanation = "BPF LSM: a blocked operation fails with EPERM/EACCES and never "
                             "happens";
    } else if (send_signal && p.can_observe) {
        p.mode = EnforcementMode::SignalFallback;
        p.mode_explanation =
            "no BPF LSM (" + lsm.detail +
            "): a blocked operation's process is killed with SIGKILL at syscall entry, but "
            "the syscall itself still runs, so the operation MAY STILL TAKE EFFECT";
    } else {
        p.mode = EnforcementMode::Monitor;
        p.mode_explanation = "no enforcement mechanism: events are observed only";
    }
    return p;
}

std::string format_probe(const KernelProbe& p) {
    std::string out = "kernel " + p.kernel_release + "\n";
    for (const auto& c : p.checks)
        out += std::string(c.ok ? "  [ok]   " : "  [no]   ") + c.name + ": " + c.detail + "\n";
    out += std::string("observation: ") + (p.can_observe ? "available" : "NOT available") + "\n";
    out += std::string("enforcement: ") + to_string(p.mode) + " — " + p.mode_explanation + "\n";
    return out;
}

std::string format_probe_json(const KernelProbe& p) {
    nlohmann::json j;
    j["kernel"] = p.kernel_release;
    j["can_observe"] = p.can_observe;
    j["enforcement_mode"] = to_string(p.mode);
    j["enforcement_explanation"] = p.mode_explanation;
    j["operation_may_complete_when_blocked"] = p.mode != EnforcementMode::Lsm;
    for (const auto& c : p.checks)
        j["checks"][c.name] = {{"ok", c.ok}, {"detail", c.detail}};
    return j.dump(2);
}

} // namespace podguard
