// The watched syscalls' tracepoints. The BPF object lists them
// (pg_syscall_hooks, generated from the tables in bpf/syscalls.bpf.h); this
// attaches one entry and one exit program to each, so that syscalls nobody
// watches run no program.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

struct podguard_bpf; // bpftool skeleton
struct bpf_program;
struct bpf_link;

namespace podguard {

// One syscalls:sys_enter_<syscall> or sys_exit_<syscall> tracepoint.
struct SyscallTracepoint {
    std::string name; // "sys_enter_openat"
    bool enter = true;
};

// Every tracepoint the object's table names, minus the syscalls this
// architecture does not have. Readable before the object is loaded.
std::vector<SyscallTracepoint> syscall_tracepoints(const struct ::podguard_bpf* skel);

// The same list without a loaded agent (benchmarks): opens the embedded
// object and reads its table.
Result<std::vector<SyscallTracepoint>> watched_syscall_tracepoints();

struct SyscallLink {
    std::string tracepoint; // "sys_enter_openat"
    struct ::bpf_link* link = nullptr;
};

// Attaches `enter` to every entry tracepoint and `exit` to every exit one. A
// missing tracepoint is an error (the syscall exists on this architecture,
// so it would go unwatched); on error nothing stays attached.
Result<std::vector<SyscallLink>>
attach_syscall_tracepoints(const std::vector<SyscallTracepoint>& tracepoints,
                           struct ::bpf_program* enter, struct ::bpf_program* exit);

// Detaches (unless pinned) and frees.
void destroy_syscall_links(std::vector<SyscallLink>& links);

} // namespace podguard
