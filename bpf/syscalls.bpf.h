/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One entry and one exit program for the watched syscalls, attached by the
 * loader to the syscalls:sys_enter_<name> / sys_exit_<name> tracepoint of
 * each syscall in the tables below (and of no other). A syscall nobody
 * watches then runs no program at all: it pays only the kernel's slow path,
 * which any syscall tracepoint turns on for every task. The raw sys_enter /
 * sys_exit tracepoints used before ran a program on every syscall of every
 * process on the node (an unwatched getppid() paid 2.1-2.6x); README "Cost"
 * has the measurements behind the choice.
 */
#ifndef PODGUARD_SYSCALLS_BPF_H
#define PODGUARD_SYSCALLS_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"
#include "proc_access.bpf.h"
#include "ptrace.bpf.h"
#include "ptrace_targets.bpf.h"
#include "signal.bpf.h"
#include "stack.bpf.h"

#if defined(__TARGET_ARCH_x86)
/* regs: the task's typed registers (pg_syscall_regs), read with plain loads. */
#define PG_SYSCALL_NR(regs) ((regs)->orig_ax)
#define PG_ARG1(regs) ((regs)->di)
#define PG_ARG2(regs) ((regs)->si)
#define PG_ARG3(regs) ((regs)->dx)
#define PG_ARG5(regs) ((regs)->r8)
#define PG_NR_OPEN 2
#define PG_NR_STAT 4
#define PG_NR_LSTAT 6
#define PG_NR_ACCESS 21
#define PG_NR_EXECVE 59
#define PG_NR_KILL 62
#define PG_NR_CHDIR 80
#define PG_NR_READLINK 89
#define PG_NR_PTRACE 101
#define PG_NR_RT_SIGQUEUEINFO 129
#define PG_NR_TKILL 200
#define PG_NR_TGKILL 234
#define PG_NR_OPENAT 257
#define PG_NR_NEWFSTATAT 262
#define PG_NR_READLINKAT 267
#define PG_NR_FACCESSAT 269
#define PG_NR_RT_TGSIGQUEUEINFO 297
#define PG_NR_PROCESS_VM_READV 310
#define PG_NR_PROCESS_VM_WRITEV 311
#define PG_NR_EXECVEAT 322
#define PG_NR_STATX 332
#define PG_NR_SETUID 105
#define PG_NR_SETREUID 113
#define PG_NR_SETRESUID 117
#define PG_NR_UNSHARE 272
#define PG_NR_SETNS 308
#define PG_NR_KCMP 312
#define PG_NR_GET_ROBUST_LIST 274
#define PG_NR_MOVE_PAGES 279
#define PG_NR_MIGRATE_PAGES 256
#define PG_NR_PERF_EVENT_OPEN 298
#define PG_NR_PRLIMIT64 302
#define PG_NR_TRUNCATE 76
#define PG_NR_RENAME 82
#define PG_NR_MKDIR 83
#define PG_NR_RMDIR 84
#define PG_NR_LINK 86
#define PG_NR_UNLINK 87
#define PG_NR_SYMLINK 88
#define PG_NR_CHMOD 90
#define PG_NR_CHOWN 92
#define PG_NR_LCHOWN 94
#define PG_NR_MKNOD 133
#define PG_NR_STATFS 137
#define PG_NR_CHROOT 161
#define PG_NR_MOUNT 165
#define PG_NR_SETXATTR 188
#define PG_NR_LSETXATTR 189
#define PG_NR_GETXATTR 191
#define PG_NR_LGETXATTR 192
#define PG_NR_LISTXATTR 194
#define PG_NR_LLISTXATTR 195
#define PG_NR_REMOVEXATTR 197
#define PG_NR_LREMOVEXATTR 198
#define PG_NR_INOTIFY_ADD_WATCH 254
#define PG_NR_MKDIRAT 258
#define PG_NR_MKNODAT 259
#define PG_NR_FCHOWNAT 260
#define PG_NR_UNLINKAT 263
#define PG_NR_RENAMEAT 264
#define PG_NR_LINKAT 265
#define PG_NR_SYMLINKAT 266
#define PG_NR_FCHMODAT 268
#define PG_NR_UTIMENSAT 280
#define PG_NR_NAME_TO_HANDLE_AT 303
#define PG_NR_RENAMEAT2 316
#elif defined(__TARGET_ARCH_arm64)
/* The generic syscall table: no open/stat/lstat/access/readlink (negative:
 * not a syscall here, the loader attaches nothing). */
#define PG_SYSCALL_NR(regs) ((regs)->syscallno)
/* x0 becomes the return value; orig_x0 keeps the first argument. */
#define PG_ARG1(regs) ((regs)->orig_x0)
#define PG_ARG2(regs) ((regs)->regs[1])
#define PG_ARG3(regs) ((regs)->regs[2])
#define PG_ARG5(regs) ((regs)->regs[4])
#define PG_NR_OPEN -2
#define PG_NR_STAT -4
#define PG_NR_LSTAT -6
#define PG_NR_ACCESS -21
#define PG_NR_EXECVE 221
#define PG_NR_KILL 129
#define PG_NR_CHDIR 49
#define PG_NR_READLINK -89
#define PG_NR_PTRACE 117
#define PG_NR_RT_SIGQUEUEINFO 138
#define PG_NR_TKILL 130
#define PG_NR_TGKILL 131
#define PG_NR_OPENAT 56
#define PG_NR_NEWFSTATAT 79
#define PG_NR_READLINKAT 78
#define PG_NR_FACCESSAT 48
#define PG_NR_RT_TGSIGQUEUEINFO 240
#define PG_NR_PROCESS_VM_READV 270
#define PG_NR_PROCESS_VM_WRITEV 271
#define PG_NR_EXECVEAT 281
#define PG_NR_STATX 291
#define PG_NR_SETUID 146
#define PG_NR_SETREUID 145
#define PG_NR_SETRESUID 147
#define PG_NR_UNSHARE 97
#define PG_NR_SETNS 268
#define PG_NR_KCMP 272
#define PG_NR_GET_ROBUST_LIST 100
#define PG_NR_MOVE_PAGES 239
#define PG_NR_MIGRATE_PAGES 238
#define PG_NR_PERF_EVENT_OPEN 241
#define PG_NR_PRLIMIT64 261
/* Negative: not in the generic table (only the *at forms). */
#define PG_NR_TRUNCATE 45
#define PG_NR_RENAME -82
#define PG_NR_MKDIR -83
#define PG_NR_RMDIR -84
#define PG_NR_LINK -86
#define PG_NR_UNLINK -87
#define PG_NR_SYMLINK -88
#define PG_NR_CHMOD -90
#define PG_NR_CHOWN -92
#define PG_NR_LCHOWN -94
#define PG_NR_MKNOD -133
#define PG_NR_STATFS 43
#define PG_NR_CHROOT 51
#define PG_NR_MOUNT 40
#define PG_NR_SETXATTR 5
#define PG_NR_LSETXATTR 6
#define PG_NR_GETXATTR 8
#define PG_NR_LGETXATTR 9
#define PG_NR_LISTXATTR 11
#define PG_NR_LLISTXATTR 12
#define PG_NR_REMOVEXATTR 14
#define PG_NR_LREMOVEXATTR 15
#define PG_NR_INOTIFY_ADD_WATCH 27
#define PG_NR_MKDIRAT 34
#define PG_NR_MKNODAT 33
#define PG_NR_FCHOWNAT 54
#define PG_NR_UNLINKAT 35
#define PG_NR_RENAMEAT 38
#define PG_NR_LINKAT 37
#define PG_NR_SYMLINKAT 36
#define PG_NR_FCHMODAT 53
#define PG_NR_UTIMENSAT 88
#define PG_NR_NAME_TO_HANDLE_AT 264
#define PG_NR_RENAMEAT2 276
#else
#error "podguard: unsupported architecture"
#endif
/* Same number on every architecture (the unified table). */
#define PG_NR_PIDFD_SEND_SIGNAL 424
#define PG_NR_OPENAT2 437
#define PG_NR_FACCESSAT2 439
#define PG_NR_PIDFD_GETFD 438
#define PG_NR_PROCESS_MADVISE 440
#define PG_NR_PROCESS_MRELEASE 448
#define PG_NR_OPEN_TREE 428
#define PG_NR_MOUNT_SETATTR 442
#define PG_NR_FCHMODAT2 452

/* The 32-bit syscall table, translated to the numbers above. */
#include "compat_nr.bpf.h"

/*
 * What the kernel hands a syscalls:sys_enter_* / sys_exit_* program
 * (perf_call_bpf_enter/exit): the pt_regs pointer first (what
 * bpf_get_stackid reads), the syscall number as an int, then the arguments
 * or the return value. The arguments are not read from here: the kernel
 * refuses to attach a program to a syscall with fewer arguments than the
 * program's furthest read (the same program serves every syscall).
 */
struct pg_sys_enter_ctx {
	__u64 regs;
	__s32 nr;
	__u32 pad; /* not written by the kernel */
};

struct pg_sys_exit_ctx {
	__u64 regs;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

#define PG_ARG0(regs) 0
#define PG_DIRFD0(regs) PG_AT_FDCWD
#define PG_DIRFD1(regs) PG_ARG1(regs)
#define PG_DIRFD2(regs) PG_ARG2(regs)

/*
 * The watched syscalls, each named once: the entry and exit switches below,
 * and the list of tracepoints the loader attaches them to, are generated
 * from these tables. Numbers are argument positions (0: none).
 */
/* X(name, target pid, target tid, signal) */
#define PG_SIGNAL_SYSCALLS(X)                                                                      \
	X(KILL, 1, 0, 2)                                                                           \
	X(TKILL, 1, 0, 2)                                                                          \
	X(TGKILL, 1, 2, 3)                                                                         \
	X(RT_SIGQUEUEINFO, 1, 0, 2)                                                                \
	X(RT_TGSIGQUEUEINFO, 1, 2, 3)                                                              \
	X(PIDFD_SEND_SIGNAL, 1, 0, 2)
/* X(name, request, target pid); the other argument forms (NEG1, PIDFD1, KCMP,
 * PERFPID) are in ptrace_targets.bpf.h. */
#define PG_PTRACE_SYSCALLS(X)                                                                      \
	X(PTRACE, 1, 2)                                                                            \
	X(PROCESS_VM_READV, 0, 1)                                                                  \
	X(PROCESS_VM_WRITEV, 0, 1)                                                                 \
	X(PIDFD_GETFD, NEG1, PIDFD1)                                                               \
	X(PROCESS_MADVISE, NEG1, PIDFD1)                                                           \
	X(PROCESS_MRELEASE, NEG1, PIDFD1)                                                          \
	X(KCMP, NEG1, KCMP)                                                                        \
	X(GET_ROBUST_LIST, NEG1, 1)                                                                \
	X(MOVE_PAGES, NEG1, 1)                                                                     \
	X(MIGRATE_PAGES, NEG1, 1)                                                                  \
	X(PERF_EVENT_OPEN, NEG1, PERFPID)                                                          \
	X(PRLIMIT64, NEG1, 1)
/* X(name, dirfd (0: the cwd), path): every syscall that walks a path it is
 * given (its first; rename's, link's and mount's second path is not read). */
#define PG_PATH_SYSCALLS(X)                                                                        \
	X(OPEN, 0, 1)                                                                              \
	X(OPENAT, 1, 2)                                                                            \
	X(OPENAT2, 1, 2)                                                                           \
	X(READLINK, 0, 1)                                                                          \
	X(READLINKAT, 1, 2)                                                                        \
	X(STAT, 0, 1)                                                                              \
	X(LSTAT, 0, 1)                                                                             \
	X(NEWFSTATAT, 1, 2)                                                                        \
	X(STATX, 1, 2)                                                                             \
	X(ACCESS, 0, 1)                                                                            \
	X(FACCESSAT, 1, 2)                                                                         \
	X(FACCESSAT2, 1, 2)                                                                        \
	X(CHDIR, 0, 1)                                                                             \
	X(EXECVE, 0, 1)                                                                            \
	X(TRUNCATE, 0, 1)                                                                                 \
	X(RENAME, 0, 1)                                                                                   \
	X(MKDIR, 0, 1)                                                                                    \
	X(RMDIR, 0, 1)                                                                                    \
	X(LINK, 0, 1)                                                                                     \
	X(UNLINK, 0, 1)                                                                                   \
	X(SYMLINK, 0, 2)                                                                                  \
	X(CHMOD, 0, 1)                                                                                    \
	X(CHOWN, 0, 1)                                                                                    \
	X(LCHOWN, 0, 1)                                                                                   \
	X(MKNOD, 0, 1)                                                                                    \
	X(STATFS, 0, 1)                                                                                   \
	X(CHROOT, 0, 1)                                                                                   \
	X(MOUNT, 0, 1)                                                                                    \
	X(SETXATTR, 0, 1)                                                                                 \
	X(LSETXATTR, 0, 1)                                                                                \
	X(GETXATTR, 0, 1)                                                                                 \
	X(LGETXATTR, 0, 1)                                                                                \
	X(LISTXATTR, 0, 1)                                                                                \
	X(LLISTXATTR, 0, 1)                                                                               \
	X(REMOVEXATTR, 0, 1)                                                                              \
	X(LREMOVEXATTR, 0, 1)                                                                             \
	X(INOTIFY_ADD_WATCH, 0, 2)                                                                        \
	X(MKDIRAT, 1, 2)                                                                                  \
	X(MKNODAT, 1, 2)                                                                                  \
	X(FCHOWNAT, 1, 2)                                                                                 \
	X(UNLINKAT, 1, 2)                                                                                 \
	X(RENAMEAT, 1, 2)                                                                                 \
	X(LINKAT, 1, 2)                                                                                   \
	X(SYMLINKAT, 2, 3)                                                                                \
	X(FCHMODAT, 1, 2)                                                                                 \
	X(UTIMENSAT, 1, 2)                                                                                \
	X(NAME_TO_HANDLE_AT, 1, 2)                                                                        \
	X(RENAMEAT2, 1, 2)                                                                                \
	X(OPEN_TREE, 1, 2)                                                                                \
	X(MOUNT_SETATTR, 1, 2)                                                                            \
	X(FCHMODAT2, 1, 2)                                                                                \
	X(EXECVEAT, 1, 2)
/* Syscalls that change what the process cache holds about the caller (at
 * their exit). */
#define PG_IDENTITY_SYSCALLS(X) X(SETUID) X(SETREUID) X(SETRESUID) X(UNSHARE) X(SETNS)

#define PG_SIGNAL_ENTER(name, pid, tid, sig)                                                       \
	case PG_NR_##name:                                                                         \
		pg_signal_enter(PG_SYS_##name, PG_ARG##pid(regs), PG_ARG##tid(regs),               \
				PG_ARG##sig(regs));                                                \
		break;
#define PG_PTRACE_ENTER(name, request, pid)                                                        \
	case PG_NR_##name:                                                                         \
		pg_ptrace_enter(PG_SYS_##name, PG_ARG##request(regs), PG_ARG##pid(regs));          \
		break;
#define PG_PATH_ENTER(name, dirfd, path)                                                           \
	case PG_NR_##name:                                                                         \
		pg_proc_enter(PG_SYS_##name, PG_DIRFD##dirfd(regs), (const char *)PG_ARG##path(regs), \
			      0);                                                                  \
		break;
#define PG_CASE(name, ...) case PG_NR_##name:

#define PG_PATH_SYSCALL_OF(name, ...)                                                              \
	case PG_NR_##name:                                                                         \
		return PG_SYS_##name;

/* Declared in proc_walk.bpf.h: the LSM hook names the syscall of a walk. */
static __noinline __u16 pg_current_path_syscall(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	switch (pg_native_syscall_nr(PG_SYSCALL_NR(regs))) {
	PG_PATH_SYSCALLS(PG_PATH_SYSCALL_OF)
	}
	return PG_SYS_NONE;
}

/*
 * What the loader attaches the two programs to, generated from the same
 * tables: entry and exit of every watched syscall, the exit alone of the
 * identity syscalls. The loader lower-cases the names into tracepoint names.
 */
#define PG_HOOK_BOTH(name, ...) {#name, PG_NR_##name, PG_HOOK_ENTER | PG_HOOK_EXIT},
#define PG_HOOK_EXIT_ONLY(name, ...) {#name, PG_NR_##name, PG_HOOK_EXIT},
const volatile struct pg_syscall_hook pg_syscall_hooks[] = {
	PG_SIGNAL_SYSCALLS(PG_HOOK_BOTH) PG_PTRACE_SYSCALLS(PG_HOOK_BOTH)
		PG_PATH_SYSCALLS(PG_HOOK_BOTH) PG_IDENTITY_SYSCALLS(PG_HOOK_EXIT_ONLY)};

/* The current task's typed pt_regs: the arguments are then plain loads,
 * where the untyped pointer in the context costs a probe read (a helper
 * call) each. */
static __always_inline struct pt_regs *pg_syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The entry of watched syscall nr (the native number) with its arguments in
 * regs, laid out as the native calling convention has them (compat.bpf.h
 * hands in a 32-bit syscall's arguments that way). */
static __always_inline void pg_sys_enter_regs(long nr, struct pt_regs *regs)
{
	switch (nr) {
	PG_SIGNAL_SYSCALLS(PG_SIGNAL_ENTER)
	PG_PTRACE_SYSCALLS(PG_PTRACE_ENTER)
	PG_PATH_SYSCALLS(PG_PATH_ENTER)
	}
}

/* No section target: attached per syscall by the loader (pg_syscall_hooks). */
SEC("tp")
int pg_sys_enter(struct pg_sys_enter_ctx *ctx)
{
	pg_sys_enter_regs(ctx->nr, pg_syscall_regs());
	pg_stack_capture(ctx);
	return 0;
}

/*
 * An open or chdir whose spelling named nothing: what did it reach? Programs
 * of their own on those four exits: inside pg_sys_exit, the object judge's
 * call chain and the exit's own added up past the verifier's 512-byte stack
 * on 6.1 kernels. Attached by the skeleton, before the loader attaches
 * pg_sys_exit, so they run first and still see an access the parser named.
 */
#define PG_OBJECT_EXIT(name)                                                                       \
	SEC("tp/syscalls/sys_exit_" #name)                                                         \
	int pg_object_exit_##name(struct pg_sys_exit_ctx *ctx)                                     \
	{                                                                                          \
		pg_object_exit(ctx->ret);                                                          \
		return 0;                                                                          \
	}
#if defined(__TARGET_ARCH_x86)
PG_OBJECT_EXIT(open)
#endif
PG_OBJECT_EXIT(openat)
PG_OBJECT_EXIT(openat2)
PG_OBJECT_EXIT(chdir)

/* The exit of syscall nr (the native number) with its return value. */
static __always_inline int pg_sys_exit_nr(long nr, long ret)
{
	switch (nr) {
	PG_IDENTITY_SYSCALLS(PG_CASE)
		if (ret == 0)
			pg_refresh_proc((struct task_struct *)bpf_get_current_task());
		return 0;
	}
	if (!pg_maybe_pending((__u32)bpf_get_current_pid_tgid()))
		return 0;
	switch (nr) {
	PG_SIGNAL_SYSCALLS(PG_CASE)
		pg_enforce_exit(ret);
		return pg_signal_exit(ret);
	PG_PTRACE_SYSCALLS(PG_CASE)
		pg_enforce_exit(ret);
		pg_inflight_finish(ret);
		break;
	PG_PATH_SYSCALLS(PG_CASE)
		pg_proc_retry_exit(ret);
		pg_enforce_exit(ret);
		pg_inflight_finish(ret);
		break;
	}
	return 0;
}

SEC("tp")
int pg_sys_exit(struct pg_sys_exit_ctx *ctx)
{
	return pg_sys_exit_nr(ctx->nr, ctx->ret);
}

#endif
