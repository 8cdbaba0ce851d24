#include "loader/syscall_hooks.h"

#include <bpf/libbpf.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <thread>

#include "podguard.h"
#include "podguard.skel.h"

namespace podguard {

namespace {

bool tracepoint_exists(const std::string& name) {
    struct stat st;
    for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
        if (stat((std::string(dir) + "/events/syscalls/" + name).c_str(), &st) == 0)
            return true;
    return false;
}

// The tracepoints are named after the kernel's SYSCALL_DEFINE, which for a
// few syscalls whose structure changed long ago is the "new" one: stat(2)
// and lstat(2) are sys_enter_newstat / sys_enter_newlstat on x86-64.
std::string tracepoint_syscall_name(const std::string& syscall) {
    if (!tracepoint_exists("sys_enter_" + syscall) && tracepoint_exists("sys_enter_new" + syscall))
        return "new" + syscall;
    return syscall;
}

} // namespace

std::vector<SyscallTracepoint> syscall_tracepoints(const struct ::podguard_bpf* skel) {
    std::vector<SyscallTracepoint> out;
    for (const auto& row : skel->rodata->pg_syscall_hooks) {
        if (row.nr < 0)
            continue;
        std::string name(row.name, strnlen(row.name, sizeof row.name));
        for (char& c : name)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        name = tracepoint_syscall_name(name);
        if (row.hooks & PG_HOOK_ENTER)
            out.push_back({"sys_enter_" + name, true});
        if (row.hooks & PG_HOOK_EXIT)
            out.push_back({"sys_exit_" + name, false});
    }
    return out;
}

Result<std::vector<SyscallTracepoint>> watched_syscall_tracepoints() {
    struct ::podguard_bpf* skel = podguard_bpf__open();
    if (!skel)
        return Error{std::string("cannot open BPF object: ") + strerror(errno)};
    auto out = syscall_tracepoints(skel);
    podguard_bpf__destroy(skel);
    return out;
}

Result<std::vector<SyscallLink>>
attach_syscall_tracepoints(const std::vector<SyscallTracepoint>& tracepoints,
                           struct ::bpf_program* enter, struct ::bpf_program* exit) {
    std::vector<SyscallLink> links;
    // A syscall this kernel does not have (fchmodat2 before 6.6, ...) cannot
    // be called either: nothing to watch. Only where tracefs shows the
    // syscall events at all, so that an unmounted tracefs still fails below.
    const bool tracefs_lists_syscalls = tracepoint_exists("sys_enter_kill");
    for (const auto& tp : tracepoints) {
        if (tracefs_lists_syscalls && !tracepoint_exists(tp.name))
            continue;
        struct ::bpf_link* link =
            bpf_program__attach_tracepoint(tp.enter ? enter : exit, "syscalls", tp.name.c_str());
        if (!link) {
            int err = errno;
            destroy_syscall_links(links);
            return Error{"cannot attach syscalls:" + tp.name + ": " + strerror(err) +
                         (err == ENOENT ? " (is tracefs mounted at /sys/kernel/tracing?)" : "")};
        }
        links.push_back({tp.name, link});
    }
    return links;
}

// Each link's release waits for an RCU grace period in the kernel
// (tracepoint_synchronize_unregister): one after the other, the agent's
// hundred-odd tracepoints took seconds to detach, past a SIGTERM's grace.
// Released from several threads at once, the waits share grace periods.
void destroy_syscall_links(std::vector<SyscallLink>& links) {
    constexpr size_t kThreads = 16;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads && t < links.size(); ++t)
        threads.emplace_back([&links, t] {
            for (size_t i = t; i < links.size(); i += kThreads)
                bpf_link__destroy(links[i].link);
        });
    for (auto& th : threads)
        th.join();
    links.clear();
}

} // namespace podguard
