/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The target of the syscalls that reach another process under a ptrace-mode
 * check (ptrace_may_access) besides ptrace and process_vm_*, as the number
 * the caller would name it by in its own pid namespace. Used as argument
 * positions of the PG_PTRACE_SYSCALLS rows (syscalls.bpf.h):
 *   PIDFD1   the process behind a pidfd in argument 1 (pidfd_getfd,
 *            process_madvise, process_mrelease);
 *   KCMP     whichever of kcmp's two pids is not the caller;
 *   PERFPID  perf_event_open's pid, unless the flags make it a cgroup fd;
 *   NEG1     no request number: these count as the unnamed ptrace request.
 * A target of 0 (the caller itself, or a pid the caller cannot name) is not
 * an access to another process: pg_ptrace_enter drops it.
 */
#ifndef PODGUARD_PTRACE_TARGETS_BPF_H
#define PODGUARD_PTRACE_TARGETS_BPF_H

#include "common.bpf.h"

#define PG_PIDFS_MAGIC 0x50494446 /* 6.9+: pidfds live on pidfs */
#define PG_ANON_INODE_FS_MAGIC 0x09041934 /* before: an anon inode "[pidfd]" */
#define PG_PERF_FLAG_PID_CGROUP (1UL << 2)

/* The number of the process behind pidfd in the caller's pid namespace. */
static __noinline __s32 pg_pidfd_nr(long fd)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct fdtable *fdt = cur->files->fdt;
	struct file **fds = fdt->fd;
	struct pid *own = cur->thread_pid;
	unsigned int level = own->level;
	struct file *f = 0;
	struct pid *pid;
	unsigned long magic;
	struct upid up, mine;

	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	magic = BPF_CORE_READ(f, f_inode, i_sb, s_magic);
	if (magic != PG_PIDFS_MAGIC) {
		char name[8] = {};

		if (magic != PG_ANON_INODE_FS_MAGIC)
			return 0;
		bpf_probe_read_kernel_str(name, sizeof(name),
					  BPF_CORE_READ(f, f_path.dentry, d_name.name));
		if (name[0] != '[' || name[1] != 'p' || name[2] != 'i' || name[3] != 'd' ||
		    name[4] != 'f' || name[5] != 'd' || name[6] != ']')
			return 0;
	}
	/* pidfs keeps the pid in the inode (6.15+), earlier pidfds in the file. */
	pid = magic == PG_PIDFS_MAGIC ? BPF_CORE_READ(f, f_inode, i_private) : 0;
	if (!pid)
		pid = BPF_CORE_READ(f, private_data);
	if (!pid || BPF_CORE_READ(pid, level) < level)
		return 0; /* not in the caller's namespace: it cannot name it */
	level &= PG_MAX_PID_LEVELS - 1;
	up = pg_upid_at(pid, level);
	mine = pg_upid_at(own, level);
	return up.ns == mine.ns ? (__s32)up.nr : 0;
}

static __always_inline __s32 pg_kcmp_target(__s32 pid1, __s32 pid2)
{
	return pg_names_current(pid1) ? pid2 : pid1;
}

#define PG_ARGNEG1(regs) (-1)
#define PG_ARGPIDFD1(regs) pg_pidfd_nr(PG_ARG1(regs))
#define PG_ARGKCMP(regs) pg_kcmp_target(PG_ARG1(regs), PG_ARG2(regs))
#define PG_ARGPERFPID(regs) ((PG_ARG5(regs) & PG_PERF_FLAG_PID_CGROUP) ? 0 : (__s32)PG_ARG2(regs))

#endif
