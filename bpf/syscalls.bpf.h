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
#include "signal.bpf.h"
#include "stack.bpf.h"

#if defined(__TARGET_ARCH_x86)
/* regs: the task's typed registers (pg_syscall_regs), read with plain loads. */
#define PG_ARG1(regs) ((regs)->di)
#define PG_ARG2(regs) ((regs)->si)
#define PG_ARG3(regs) ((regs)->dx)
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
#elif defined(__TARGET_ARCH_arm64)
/* The generic syscall table: no open/stat/lstat/access/readlink (negative:
 * not a syscall here, the loader attaches nothing). */
/* x0 becomes the return value; orig_x0 keeps the first argument. */
#define PG_ARG1(regs) ((regs)->orig_x0)
#define PG_ARG2(regs) ((regs)->regs[1])
#define PG_ARG3(regs) ((regs)->regs[2])
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
#else
#error "podguard: unsupported architecture"
#endif
/* Same number on every architecture (the unified table). */
#define PG_NR_PIDFD_SEND_SIGNAL 424
#define PG_NR_OPENAT2 437
#define PG_NR_FACCESSAT2 439

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
/* X(name, request, target pid) */
#define PG_PTRACE_SYSCALLS(X)                                                                      \
	X(PTRACE, 1, 2)                                                                            \
	X(PROCESS_VM_READV, 0, 1)                                                                  \
	X(PROCESS_VM_WRITEV, 0, 1)
/* X(name, dirfd (0: the cwd), path) */
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
	X(EXECVEAT, 1, 2)
/* Syscalls that change what the process cache holds about the caller (at
 * their exit). */
#define PG_IDENTITY_SYSCALLS(X) X(SETUID) X(SETREUID) X(SETRESUID) X(UNSHARE) X(SETNS)

#define PG_SIGNAL_ENTER(name, pid, tid, sig)                                                       \
	case PG_NR_##name:                                                                         \
		regs = pg_syscall_regs();                                                          \
		pg_signal_enter(PG_SYS_##name, PG_ARG##pid(regs), PG_ARG##tid(regs),               \
				PG_ARG##sig(regs));                                                \
		break;
#define PG_PTRACE_ENTER(name, request, pid)                                                        \
	case PG_NR_##name:                                                                         \
		regs = pg_syscall_regs();                                                          \
		pg_ptrace_enter(PG_SYS_##name, PG_ARG##request(regs), PG_ARG##pid(regs));          \
		break;
#define PG_PATH_ENTER(name, dirfd, path)                                                           \
	case PG_NR_##name:                                                                         \
		regs = pg_syscall_regs();                                                          \
		pg_proc_enter(PG_SYS_##name, PG_DIRFD##dirfd(regs), (const char *)PG_ARG##path(regs), \
			      0);                                                                  \
		break;
#define PG_CASE(name, ...) case PG_NR_##name:

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

/* No section target: attached per syscall by the loader (pg_syscall_hooks). */
SEC("tp")
int pg_sys_enter(struct pg_sys_enter_ctx *ctx)
{
	struct pt_regs *regs;

	switch (ctx->nr) {
	PG_SIGNAL_SYSCALLS(PG_SIGNAL_ENTER)
	PG_PTRACE_SYSCALLS(PG_PTRACE_ENTER)
	PG_PATH_SYSCALLS(PG_PATH_ENTER)
	}
	pg_stack_capture(ctx);
	return 0;
}

SEC("tp")
int pg_sys_exit(struct pg_sys_exit_ctx *ctx)
{
	long ret = ctx->ret;

	switch (ctx->nr) {
	PG_IDENTITY_SYSCALLS(PG_CASE)
		if (ret == 0)
			pg_refresh_proc((struct task_struct *)bpf_get_current_task());
		return 0;
	}
	if (!pg_maybe_pending((__u32)bpf_get_current_pid_tgid()))
		return 0;
	switch (ctx->nr) {
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

#endif
