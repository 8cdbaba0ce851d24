/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent keeps running when a stop signal it is protected from gets
 * through. Without the BPF LSM a blocked signal cannot be cancelled: the
 * sender is killed at syscall entry, but its kill() still runs and a
 * SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU would leave the agent stopped (blind,
 * while --pin keeps the maps and programs in force). Here, when such a
 * signal is generated for the agent and the policy blocks it, the kernel
 * sends the agent a SIGCONT with the bpf_send_signal_task kfunc (6.13+):
 * the SIGCONT drops the pending stop or wakes the stopped threads. The
 * kfunc defers the signal to an irq_work when called, as here, under the
 * target's siglock. Nothing can resume a SIGKILL.
 *
 * pg_guard_stats counts what happened, for the daemon's metrics.
 */
#ifndef PODGUARD_GUARD_BPF_H
#define PODGUARD_GUARD_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"

#define PG_SIGCONT 18
#define PG_SIGSTOP 19
#define PG_SIGTSTP 20
#define PG_SIGTTIN 21
#define PG_SIGTTOU 22

/* The program is loaded only where the kernel's BTF has the kfunc (the
 * loader checks): libbpf 1.1 cannot leave a missing kfunc unresolved. */
/* Weak: a kernel without them (before 6.13) still loads the object; the
 * loader then leaves pg_guard_signal out (loader/bpf_objects.cpp). */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				u64 value) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_guard_stats);
} pg_guard_stats SEC(".maps");

static __always_inline int pg_is_stop_signal(int sig)
{
	return sig == PG_SIGSTOP || sig == PG_SIGTSTP || sig == PG_SIGTTIN || sig == PG_SIGTTOU;
}

/* A classic tracepoint, not a raw one: the kernel lets tracepoint programs,
 * and not raw tracepoint ones, call these kfuncs. The target comes as a pid;
 * bpf_task_from_pid gives the trusted task the kfunc needs. */
SEC("tracepoint/signal/signal_generate")
int pg_guard_signal(struct trace_event_raw_signal_generate *ctx)
{
	struct pg_op_facts f = {.kind = PG_OP_SIGNAL, .tgt_known = 1};
	struct task_struct *cur, *task;
	struct pg_guard_stats *st;
	__u32 zero = 0;
	int sig = ctx->sig, err;
	__u64 d;

	if (!pg_agent_tgid || !pg_is_stop_signal(sig))
		return 0;
	task = bpf_task_from_pid(ctx->pid);
	if (!task)
		return 0;
	if (task->tgid != pg_agent_tgid) {
		bpf_task_release(task);
		return 0;
	}
	st = bpf_map_lookup_elem(&pg_guard_stats, &zero);
	if (!st) {
		bpf_task_release(task);
		return 0;
	}
	cur = (struct task_struct *)bpf_get_current_task();
	f.bit = pg_signal_bit(sig);
	f.src_tgid = bpf_get_current_pid_tgid() >> 32;
	f.tgt_tgid = pg_agent_tgid;
	f.src_cgroup = bpf_get_current_cgroup_id();
	f.tgt_cgroup = pg_task_cgroup_id(task);
	f.src_pidns = pg_task_pidns(cur);
	f.tgt_pidns = pg_task_pidns(task);
	d = pg_decide(&f);
	if (PG_D_ACTION(d) != PG_ACT_BLOCKED) {
		bpf_task_release(task);
		__sync_fetch_and_add(&st->allowed_stops, 1);
		return 0;
	}
	__sync_fetch_and_add(&st->stops, 1);
	/* The whole thread group: a group stop stops every thread. */
	err = bpf_send_signal_task(task, PG_SIGCONT, PIDTYPE_TGID, 0);
	bpf_task_release(task);
	if (err == 0)
		__sync_fetch_and_add(&st->resumed, 1);
	else
		__sync_fetch_and_add(&st->resume_failed, 1);
	return 0;
}

#endif
