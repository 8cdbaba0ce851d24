/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One entry and one exit hook for every watched syscall. Raw tracepoints
 * rather than syscalls:sys_enter_* tracepoints: the latter fill a perf
 * buffer with the arguments before calling the program, which doubled the
 * cost of a plain openat. Here an unwatched syscall costs a compare tree.
 */
#ifndef PODGUARD_SYSCALLS_BPF_H
#define PODGUARD_SYSCALLS_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"
#include "proc_access.bpf.h"
#include "ptrace.bpf.h"
#include "signal.bpf.h"

#if defined(__TARGET_ARCH_x86)
#define PG_SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
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
/* The generic syscall table: no open/stat/lstat/access/readlink. */
#define PG_SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
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

#define PG_ARG1(regs) PT_REGS_PARM1_CORE_SYSCALL(regs)
#define PG_ARG2(regs) PT_REGS_PARM2_CORE_SYSCALL(regs)
#define PG_ARG3(regs) PT_REGS_PARM3_CORE_SYSCALL(regs)

SEC("raw_tp/sys_enter")
int BPF_PROG(pg_sys_enter, struct pt_regs *regs, long id)
{
	switch (id) {
	case PG_NR_KILL:
		pg_signal_enter(PG_SYS_KILL, PG_ARG1(regs), 0, PG_ARG2(regs));
		break;
	case PG_NR_TKILL:
		pg_signal_enter(PG_SYS_TKILL, PG_ARG1(regs), 0, PG_ARG2(regs));
		break;
	case PG_NR_TGKILL:
		pg_signal_enter(PG_SYS_TGKILL, PG_ARG1(regs), PG_ARG2(regs), PG_ARG3(regs));
		break;
	case PG_NR_RT_SIGQUEUEINFO:
		pg_signal_enter(PG_SYS_RT_SIGQUEUEINFO, PG_ARG1(regs), 0, PG_ARG2(regs));
		break;
	case PG_NR_RT_TGSIGQUEUEINFO:
		pg_signal_enter(PG_SYS_RT_TGSIGQUEUEINFO, PG_ARG1(regs), PG_ARG2(regs),
				PG_ARG3(regs));
		break;
	case PG_NR_PIDFD_SEND_SIGNAL:
		pg_signal_enter(PG_SYS_PIDFD_SEND_SIGNAL, PG_ARG1(regs), 0, PG_ARG2(regs));
		break;
	case PG_NR_PTRACE:
		pg_ptrace_enter(PG_SYS_PTRACE, PG_ARG1(regs), PG_ARG2(regs));
		break;
	case PG_NR_PROCESS_VM_READV:
		pg_ptrace_enter(PG_SYS_PROCESS_VM_READV, 0, PG_ARG1(regs));
		break;
	case PG_NR_PROCESS_VM_WRITEV:
		pg_ptrace_enter(PG_SYS_PROCESS_VM_WRITEV, 0, PG_ARG1(regs));
		break;
	case PG_NR_OPEN:
		pg_proc_enter(PG_SYS_OPEN, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_OPENAT:
		pg_proc_enter(PG_SYS_OPENAT, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_OPENAT2:
		pg_proc_enter(PG_SYS_OPENAT2, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_READLINK:
		pg_proc_enter(PG_SYS_READLINK, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_READLINKAT:
		pg_proc_enter(PG_SYS_READLINKAT, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_STAT:
		pg_proc_enter(PG_SYS_STAT, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_LSTAT:
		pg_proc_enter(PG_SYS_LSTAT, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_NEWFSTATAT:
		pg_proc_enter(PG_SYS_NEWFSTATAT, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_STATX:
		pg_proc_enter(PG_SYS_STATX, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_ACCESS:
		pg_proc_enter(PG_SYS_ACCESS, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_FACCESSAT:
		pg_proc_enter(PG_SYS_FACCESSAT, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_FACCESSAT2:
		pg_proc_enter(PG_SYS_FACCESSAT2, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_CHDIR:
		pg_proc_enter(PG_SYS_CHDIR, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_EXECVE:
		pg_proc_enter(PG_SYS_EXECVE, PG_AT_FDCWD, (const char *)PG_ARG1(regs), 0);
		break;
	case PG_NR_EXECVEAT:
		pg_proc_enter(PG_SYS_EXECVEAT, PG_ARG1(regs), (const char *)PG_ARG2(regs), 0);
		break;
	case PG_NR_SETUID:
	case PG_NR_SETREUID:
	case PG_NR_SETRESUID:
	case PG_NR_UNSHARE:
	case PG_NR_SETNS:
		/* Their exit refreshes the process cache: let it past the
		 * nothing-pending shortcut. */
		pg_pending_add((__u32)bpf_get_current_pid_tgid(), 1);
		break;
	}
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(pg_sys_exit, struct pt_regs *regs, long ret)
{
	long id;

	/* Checked before the syscall number: reading it is a probe read. */
	if (!pg_maybe_pending((__u32)bpf_get_current_pid_tgid()))
		return 0;
	id = PG_SYSCALL_NR(regs);
	switch (id) {
	case PG_NR_KILL:
	case PG_NR_TKILL:
	case PG_NR_TGKILL:
	case PG_NR_RT_SIGQUEUEINFO:
	case PG_NR_RT_TGSIGQUEUEINFO:
	case PG_NR_PIDFD_SEND_SIGNAL:
		pg_enforce_exit(ret);
		return pg_signal_exit(ret);
	case PG_NR_PTRACE:
	case PG_NR_PROCESS_VM_READV:
	case PG_NR_PROCESS_VM_WRITEV:
		pg_enforce_exit(ret);
		pg_inflight_finish(ret);
		break;
	case PG_NR_OPEN:
	case PG_NR_OPENAT:
	case PG_NR_OPENAT2:
	case PG_NR_READLINK:
	case PG_NR_READLINKAT:
	case PG_NR_STAT:
	case PG_NR_LSTAT:
	case PG_NR_NEWFSTATAT:
	case PG_NR_STATX:
	case PG_NR_ACCESS:
	case PG_NR_FACCESSAT:
	case PG_NR_FACCESSAT2:
	case PG_NR_CHDIR:
	case PG_NR_EXECVE:
	case PG_NR_EXECVEAT:
		pg_proc_retry_exit(ret);
		pg_enforce_exit(ret);
		pg_inflight_finish(ret);
		break;
	/* What the process cache holds about the caller changed. */
	case PG_NR_SETUID:
	case PG_NR_SETREUID:
	case PG_NR_SETRESUID:
	case PG_NR_UNSHARE:
	case PG_NR_SETNS:
		if (ret == 0)
			pg_refresh_proc((struct task_struct *)bpf_get_current_task());
		pg_pending_add((__u32)bpf_get_current_pid_tgid(), -1);
		break;
	}
	return 0;
}

#endif
