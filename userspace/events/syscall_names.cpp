#include <array>
#include <cstring>
#include <string>

#include "events/names.h"
#include "podguard.h"

namespace podguard {

namespace {

constexpr std::array<const char*, 33> kSignalNames = {
    "SIG0",     "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",  "SIGTRAP",   "SIGABRT",
    "SIGBUS",   "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV", "SIGUSR2",   "SIGPIPE",
    "SIGALRM",  "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP",   "SIGTSTP",
    "SIGTTIN",  "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO",   "SIGPWR",    "SIGSYS",  "SIGRTMIN"};

constexpr ProcEntryName kProcEntries[] = {
    {PG_PROC_ROOT, "root"},
    {PG_PROC_CWD, "cwd"},
    {PG_PROC_EXE, "exe"},
    {PG_PROC_ENVIRON, "environ"},
    {PG_PROC_CMDLINE, "cmdline"},
    {PG_PROC_MEM, "mem"},
    {PG_PROC_MAPS, "maps"},
    {PG_PROC_SMAPS, "smaps"},
    {PG_PROC_SMAPS_ROLLUP, "smaps_rollup"},
    {PG_PROC_NUMA_MAPS, "numa_maps"},
    {PG_PROC_PAGEMAP, "pagemap"},
    {PG_PROC_FD, "fd"},
    {PG_PROC_FDINFO, "fdinfo"},
    {PG_PROC_MAP_FILES, "map_files"},
    {PG_PROC_AUXV, "auxv"},
    {PG_PROC_STACK, "stack"},
    {PG_PROC_SYSCALL, "syscall"},
    {PG_PROC_WCHAN, "wchan"},
    {PG_PROC_IO, "io"},
    {PG_PROC_NS, "ns"},
    {PG_PROC_MOUNTINFO, "mountinfo"},
    {PG_PROC_MOUNTS, "mounts"},
    {PG_PROC_MOUNTSTATS, "mountstats"},
    {PG_PROC_PERSONALITY, "personality"},
    {PG_PROC_TIMERS, "timers"},
    {PG_PROC_ATTR, "attr"},
};
static_assert(std::size(kProcEntries) == PG_PROC_ENTRY_MAX - 1);

struct PtraceName {
    int64_t request;
    const char* name;
};
constexpr PtraceName kPtraceNames[] = {
    {0, "PTRACE_TRACEME"},
    {1, "PTRACE_PEEKTEXT"},
    {2, "PTRACE_PEEKDATA"},
    {3, "PTRACE_PEEKUSER"},
    {4, "PTRACE_POKETEXT"},
    {5, "PTRACE_POKEDATA"},
    {6, "PTRACE_POKEUSER"},
    {7, "PTRACE_CONT"},
    {8, "PTRACE_KILL"},
    {9, "PTRACE_SINGLESTEP"},
    {12, "PTRACE_GETREGS"},
    {13, "PTRACE_SETREGS"},
    {14, "PTRACE_GETFPREGS"},
    {15, "PTRACE_SETFPREGS"},
    {16, "PTRACE_ATTACH"},
    {17, "PTRACE_DETACH"},
    {24, "PTRACE_SYSCALL"},
    {0x4200, "PTRACE_SETOPTIONS"},
    {0x4201, "PTRACE_GETEVENTMSG"},
    {0x4202, "PTRACE_GETSIGINFO"},
    {0x4203, "PTRACE_SETSIGINFO"},
    {0x4204, "PTRACE_GETREGSET"},
    {0x4205, "PTRACE_SETREGSET"},
    {0x4206, "PTRACE_SEIZE"},
    {0x4207, "PTRACE_INTERRUPT"},
    {0x4208, "PTRACE_LISTEN"},
    {0x4209, "PTRACE_PEEKSIGINFO"},
    {0x420e, "PTRACE_GET_SYSCALL_INFO"},
};

} // namespace

std::string signal_name(int number) {
    if (number >= 0 && number < 32)
        return kSignalNames[number];
    if (number >= 32 && number <= 64)
        return number == 32 ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(number - 32);
    return "SIG" + std::to_string(number);
}

std::optional<int> signal_number(std::string_view name) {
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos) {
        int n = std::stoi(std::string(name));
        if (n >= 0 && n <= 64)
            return n;
        return std::nullopt;
    }
    std::string full = name.starts_with("SIG") ? std::string(name) : "SIG" + std::string(name);
    for (int i = 1; i < 32; ++i)
        if (full == kSignalNames[i])
            return i;
    if (full == "SIGRTMIN")
        return 32;
    if (full == "SIGIOT")
        return 6;
    if (full == "SIGPOLL")
        return 29;
    if (full.starts_with("SIGRTMIN+")) {
        auto rest = full.substr(9);
        if (!rest.empty() && rest.find_first_not_of("0123456789") == std::string::npos &&
            rest.size() <= 2) {
            int n = 32 + std::stoi(rest);
            if (n <= 64)
                return n;
        }
    }
    return std::nullopt;
}

const char* syscall_name(uint16_t sys) {
    switch (sys) {
    case PG_SYS_KILL:
        return "kill";
    case PG_SYS_TKILL:
        return "tkill";
    case PG_SYS_TGKILL:
        return "tgkill";
    case PG_SYS_RT_SIGQUEUEINFO:
        return "rt_sigqueueinfo";
    case PG_SYS_RT_TGSIGQUEUEINFO:
        return "rt_tgsigqueueinfo";
    case PG_SYS_PIDFD_SEND_SIGNAL:
        return "pidfd_send_signal";
    case PG_SYS_KERNEL:
        return "kernel";
    case PG_SYS_PTRACE:
        return "ptrace";
    case PG_SYS_PROCESS_VM_READV:
        return "process_vm_readv";
    case PG_SYS_PROCESS_VM_WRITEV:
        return "process_vm_writev";
    case PG_SYS_OPEN:
        return "open";
    case PG_SYS_OPENAT:
        return "openat";
    case PG_SYS_OPENAT2:
        return "openat2";
    case PG_SYS_READLINK:
        return "readlink";
    case PG_SYS_READLINKAT:
        return "readlinkat";
    case PG_SYS_STAT:
        return "stat";
    case PG_SYS_LSTAT:
        return "lstat";
    case PG_SYS_NEWFSTATAT:
        return "newfstatat";
    case PG_SYS_STATX:
        return "statx";
    case PG_SYS_ACCESS:
        return "access";
    case PG_SYS_FACCESSAT:
        return "faccessat";
    case PG_SYS_FACCESSAT2:
        return "faccessat2";
    case PG_SYS_CHDIR:
        return "chdir";
    case PG_SYS_EXECVE:
        return "execve";
    case PG_SYS_EXECVEAT:
        return "execveat";
    case PG_SYS_PIDFD_GETFD:
        return "pidfd_getfd";
    case PG_SYS_KCMP:
        return "kcmp";
    case PG_SYS_PROCESS_MADVISE:
        return "process_madvise";
    case PG_SYS_PROCESS_MRELEASE:
        return "process_mrelease";
    case PG_SYS_GET_ROBUST_LIST:
        return "get_robust_list";
    case PG_SYS_MOVE_PAGES:
        return "move_pages";
    case PG_SYS_MIGRATE_PAGES:
        return "migrate_pages";
    case PG_SYS_PERF_EVENT_OPEN:
        return "perf_event_open";
    case PG_SYS_PRLIMIT64:
        return "prlimit64";
    case PG_SYS_IO_URING_OPENAT:
        return "io_uring:openat";
    case PG_SYS_IO_URING_OPENAT2:
        return "io_uring:openat2";
    case PG_SYS_IO_URING_STATX:
        return "io_uring:statx";
    case PG_SYS_TRUNCATE:
        return "truncate";
    case PG_SYS_RENAME:
        return "rename";
    case PG_SYS_MKDIR:
        return "mkdir";
    case PG_SYS_RMDIR:
        return "rmdir";
    case PG_SYS_LINK:
        return "link";
    case PG_SYS_UNLINK:
        return "unlink";
    case PG_SYS_SYMLINK:
        return "symlink";
    case PG_SYS_CHMOD:
        return "chmod";
    case PG_SYS_CHOWN:
        return "chown";
    case PG_SYS_LCHOWN:
        return "lchown";
    case PG_SYS_MKNOD:
        return "mknod";
    case PG_SYS_STATFS:
        return "statfs";
    case PG_SYS_CHROOT:
        return "chroot";
    case PG_SYS_MOUNT:
        return "mount";
    case PG_SYS_SETXATTR:
        return "setxattr";
    case PG_SYS_LSETXATTR:
        return "lsetxattr";
    case PG_SYS_GETXATTR:
        return "getxattr";
    case PG_SYS_LGETXATTR:
        return "lgetxattr";
    case PG_SYS_LISTXATTR:
        return "listxattr";
    case PG_SYS_LLISTXATTR:
        return "llistxattr";
    case PG_SYS_REMOVEXATTR:
        return "removexattr";
    case PG_SYS_LREMOVEXATTR:
        return "lremovexattr";
    case PG_SYS_INOTIFY_ADD_WATCH:
        return "inotify_add_watch";
    case PG_SYS_MKDIRAT:
        return "mkdirat";
    case PG_SYS_MKNODAT:
        return "mknodat";
    case PG_SYS_FCHOWNAT:
        return "fchownat";
    case PG_SYS_UNLINKAT:
        return "unlinkat";
    case PG_SYS_RENAMEAT:
        return "renameat";
    case PG_SYS_LINKAT:
        return "linkat";
    case PG_SYS_SYMLINKAT:
        return "symlinkat";
    case PG_SYS_FCHMODAT:
        return "fchmodat";
    case PG_SYS_UTIMENSAT:
        return "utimensat";
    case PG_SYS_NAME_TO_HANDLE_AT:
        return "name_to_handle_at";
    case PG_SYS_RENAMEAT2:
        return "renameat2";
    case PG_SYS_OPEN_TREE:
        return "open_tree";
    case PG_SYS_MOUNT_SETATTR:
        return "mount_setattr";
    case PG_SYS_FCHMODAT2:
        return "fchmodat2";
    case PG_SYS_IO_URING_UNLINKAT:
        return "io_uring:unlinkat";
    case PG_SYS_IO_URING_MKDIRAT:
        return "io_uring:mkdirat";
    case PG_SYS_IO_URING_RENAMEAT:
        return "io_uring:renameat";
    case PG_SYS_IO_URING_LINKAT:
        return "io_uring:linkat";
    default:
        return "unknown";
    }
}

const char* delivery_name(uint16_t delivery) {
    switch (delivery) {
    case PG_DELIVERY_DELIVERED:
        return "delivered";
    case PG_DELIVERY_IGNORED:
        return "ignored";
    case PG_DELIVERY_ALREADY_PENDING:
        return "already_pending";
    case PG_DELIVERY_OVERFLOW_FAIL:
        return "overflow_fail";
    case PG_DELIVERY_LOSE_INFO:
        return "lose_info";
    default:
        return "";
    }
}

const char* lost_reason_name(int reason) {
    switch (reason) {
    case PG_LOST_RINGBUF_FULL:
        return "ringbuf_full";
    case PG_LOST_INFLIGHT_FULL:
        return "inflight_full";
    case PG_LOST_PROC_MAP_FULL:
        return "proc_map_full";
    case PG_LOST_PATH_UNREADABLE:
        return "path_unreadable";
    case PG_LOST_RATE_LIMITED:
        return "rate_limited";
    default:
        return "unknown";
    }
}

const char* event_class_name(int cls) {
    switch (cls) {
    case PG_CLASS_ORDINARY:
        return "ordinary";
    case PG_CLASS_FIRST:
        return "first";
    case PG_CLASS_POLICY:
        return "policy";
    case PG_CLASS_SUMMARY:
        return "summary";
    default:
        return "unknown";
    }
}

const char* drop_reason_name(int reason) {
    return reason == PG_DROP_RINGBUF_FULL ? "ringbuf_full" : "rate_limited";
}

std::string ptrace_request_name(int64_t request) {
    for (const auto& p : kPtraceNames)
        if (p.request == request)
            return p.name;
    return std::to_string(request);
}

std::span<const ProcEntryName> proc_entry_names() {
    return kProcEntries;
}

const char* proc_entry_name(uint16_t entry) {
    for (const auto& e : kProcEntries)
        if (e.entry == entry)
            return e.name;
    return "other";
}

std::optional<uint16_t> proc_entry_from_name(std::string_view name) {
    for (const auto& e : kProcEntries)
        if (name == e.name)
            return e.entry;
    return std::nullopt;
}

uint64_t fnv1a64(std::string_view text) {
    uint64_t h = PG_FNV_OFFSET;
    for (unsigned char c : text)
        h = (h ^ c) * PG_FNV_PRIME;
    return h;
}

} // namespace podguard
