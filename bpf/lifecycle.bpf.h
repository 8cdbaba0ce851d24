/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process lifecycle: keeps the in-kernel process cache (pg_pids, pg_procs)
 * and tells user space about every fork, exec and exit, so that a process
 * that is gone before its events are read can still be named.
 */
#ifndef PODGUARD_LIFECYCLE_BPF_H
#define PODGUARD_LIFECYCLE_BPF_H

#include "common.bpf.h"
#include "posture.bpf.h"
#include "proc_object.bpf.h"

/* Every number a task has, one per pid namespace level, maps to it. */
static __always_inline void pg_cache_pids(struct task_struct *task, int add)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct pg_pid_value v = {
		.tid = BPF_CORE_READ(task, pid),
		.tgid = BPF_CORE_READ(task, tgid),
	};
	struct upid inner = {};

	bpf_probe_read_kernel(&inner, sizeof(inner), &pid->numbers[level]);
	v.ns_tid = inner.nr;

#pragma unroll
	for (int i = 0; i < PG_MAX_PID_LEVELS; i++) {
		struct upid up = {};
		struct pg_pid_key k;

		if (i > level)
			break;
		bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[i]);
		k.pidns = BPF_CORE_READ(up.ns, ns.inum);
		k.nr = up.nr;
		if (!add) {
			struct pg_pid_value *cur = bpf_map_lookup_elem(&pg_pids, &k);

			/* A newer task may already own the number. */
			if (cur && cur->tid == v.tid)
				bpf_map_delete_elem(&pg_pids, &k);
		} else if (bpf_map_update_elem(&pg_pids, &k, &v, BPF_ANY)) {
			pg_count_lost(PG_EV_FORK, PG_LOST_PROC_MAP_FULL);
		}
	}
}

static __always_inline union pg_any_event *pg_process_event(__u16 kind, struct task_struct *task)
{
	union pg_any_event *ev = pg_scratch_event();

	if (!ev)
		return 0;
	__builtin_memset(&ev->hdr, 0, sizeof(ev->hdr));
	ev->hdr.kind = kind;
	ev->hdr.flags = PG_F_TARGET_KNOWN;
	pg_fill_task(&ev->process.task, task);
	ev->process.exit_code = 0;
	ev->process.filename_len = 0;
	ev->process.args_len = 0;
	ev->process.filename[0] = 0;
	ev->process.args[0] = 0;
	return ev;
}

static __always_inline void pg_cache_proc(struct pg_task *t)
{
	if (bpf_map_update_elem(&pg_procs, &t->pid, t, BPF_ANY))
		pg_count_lost(PG_EV_FORK, PG_LOST_PROC_MAP_FULL);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(pg_process_fork, struct task_struct *parent, struct task_struct *child)
{
	union pg_any_event *ev;

	pg_cache_pids(child, 1);
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread: its process is already known */
	ev = pg_process_event(PG_EV_FORK, child);
	if (!ev)
		return 0;
	ev->process.task.flags = pg_flags_at_fork(parent, &ev->process.task);
	pg_cache_proc(&ev->process.task);
	pg_submit(ev);
	return 0;
}

/* A binary reached through another process's /proc (proc_object.bpf.h).
 * A program of its own: inside pg_process_exec the two call chains' frames
 * add up past the verifier's 512-byte stack on 6.1 kernels. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(pg_process_exec_object, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	pg_object_exec(bprm);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(pg_process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	union pg_any_event *ev;
	struct mm_struct *mm;
	unsigned long start, end, len;
	long n;

	ev = pg_process_event(PG_EV_EXEC, task);
	if (!ev)
		return 0;
	/* The cache must hold the new comm even for the agent's own execs. The
	 * exec of a container's binary arms its process (posture.bpf.h) before
	 * any of that binary's code runs. */
	ev->process.task.flags = pg_flags_at_exec(task, &ev->process.task);
	pg_cache_proc(&ev->process.task);
	n = bpf_probe_read_kernel_str(ev->process.filename, sizeof(ev->process.filename),
				      BPF_CORE_READ(bprm, filename));
	ev->process.filename_len = n > 0 ? n - 1 : 0;
	mm = BPF_CORE_READ(task, mm);
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > PG_ARGS_LEN) {
		len = PG_ARGS_LEN;
		ev->hdr.flags |= PG_F_PATH_TRUNCATED;
	}
	if (len > 0 && len <= PG_ARGS_LEN &&
	    bpf_probe_read_user(ev->process.args, len, (const void *)start) == 0)
		ev->process.args_len = len;
	pg_submit(ev);
	return 0;
}

/* Another cgroup (cgroup.procs write, by the process or for it). The
 * tracepoint fires once the move is done. */
SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(pg_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	pg_refresh_proc(task);
	return 0;
}

/* prctl(PR_SET_NAME), /proc/<pid>/comm, exec. Fires before the copy: the new
 * name is the argument. A process is named by its leader. */
SEC("raw_tp/task_rename")
int BPF_PROG(pg_task_rename, struct task_struct *task, const char *comm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct pg_task *t;

	if (BPF_CORE_READ(task, pid) != tgid)
		return 0;
	t = bpf_map_lookup_elem(&pg_procs, &tgid);
	if (t)
		bpf_probe_read_kernel_str(t->comm, sizeof(t->comm), comm);
	return 0;
}

#define PG_SIGNAL_GROUP_EXIT 0x00000004

SEC("raw_tp/sched_process_exit")
int BPF_PROG(pg_process_exit, struct task_struct *task)
{
	union pg_any_event *ev;
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	__u32 tgid = BPF_CORE_READ(task, tgid);

	pg_cache_pids(task, 0);
	/* A thread that dies inside a watched syscall never reaches its exit. */
	pg_inflight_forget(BPF_CORE_READ(task, pid));
	/* Only the last thread out ends the process. */
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	bpf_map_delete_elem(&pg_procs, &tgid);
	ev = pg_process_event(PG_EV_EXIT, task);
	if (!ev)
		return 0;
	if (BPF_CORE_READ(sig, flags) & PG_SIGNAL_GROUP_EXIT)
		ev->process.exit_code = BPF_CORE_READ(sig, group_exit_code);
	else
		ev->process.exit_code = BPF_CORE_READ(task, exit_code);
	pg_submit(ev);
	return 0;
}

#endif
