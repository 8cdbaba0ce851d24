/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Signals. Syscall entry (dispatched from syscalls.bpf.h) records intent and resolves the target through the
 * process cache (covers sig 0 and denied sends, which generate nothing);
 * signal:signal_generate then gives the kernel's own target task and
 * delivery result; syscall exit adds the return value and emits.
 * signal_generate outside these syscalls is "every other signal path".
 */
#ifndef PODGUARD_SIGNAL_BPF_H
#define PODGUARD_SIGNAL_BPF_H

#include "act.bpf.h"
#include "common.bpf.h"
#include "enforce.bpf.h"
#include "stack.bpf.h"

#define PG_SIGCHLD 17
#define PG_PF_EXITING 0x00000004

static __noinline void pg_signal_enter(__u16 syscall, __s32 target, __s32 tid, __s32 sig)
{
	union pg_any_event *ev;
	struct pg_signal_event *s;
	__s32 who = tid > 0 ? tid : target;
	struct pg_pid_value pv;
	int resolved = 0;

	if (pg_is_agent())
		return;
	/* A process signalling itself (kill(getpid(), 0) liveness checks,
	 * raise()) is common and not reported, so it is decided first: by the
	 * caller's own numbers where they match, else through the cache before
	 * anything is filled. */
	if (syscall != PG_SYS_PIDFD_SEND_SIGNAL) {
		if (!pg_report_self && pg_names_current(who))
			return;
		resolved = pg_resolve_pid(pg_current_pidns(), who, &pv);
		if (resolved && !pg_report_self && pg_is_current_process(&pv))
			return;
	}
	ev = pg_act_begin(PG_EV_SIGNAL, syscall);
	if (!ev)
		return;
	s = &ev->signal;
	s->sig = sig;
	s->target_arg = target;
	s->tid_arg = tid;
	pg_act_park(ev, resolved && pg_fill_target_from_pid(&s->target, &pv), PG_OP_SIGNAL,
		    pg_signal_bit(sig));
}

static __always_inline int pg_signal_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	union pg_any_event *ev;

	if (!pg_maybe_pending(tid))
		return 0;
	ev = pg_inflight_lookup(tid);
	if (!ev || ev->hdr.kind != PG_EV_SIGNAL)
		return 0;
	/* The target may only have become known at signal_generate. */
	if (!pg_report_self && (ev->hdr.flags & PG_F_TARGET_KNOWN) &&
	    ev->signal.target.pid == ev->signal.source.pid) {
		pg_inflight_forget(tid);
		return 0;
	}
	pg_inflight_finish(ret);
	return 0;
}

SEC("raw_tp/signal_generate")
int BPF_PROG(pg_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
	union pg_any_event *ev = pg_inflight_lookup(tid);
	union pg_any_event *out;

	if (ev) {
		if (ev->hdr.kind != PG_EV_SIGNAL)
			return 0; /* e.g. the SIGSTOP of PTRACE_ATTACH: the ptrace event covers it */
		if (ev->signal.ntargets == 0) {
			pg_fill_task(&ev->signal.target, task);
			ev->hdr.flags |= PG_F_TARGET_KNOWN;
			ev->signal.delivery = result + 1;
			ev->signal.ntargets = 1;
			if (!(ev->hdr.pad0 & PG_INT_DECIDED))
				pg_enforce(ev, PG_OP_SIGNAL,
					   pg_signal_bit(sig), 1);
			return 0;
		}
		/* Group or broadcast kill: every further target is an event of its own. */
		ev->signal.ntargets++;
		if (!pg_report_self && BPF_CORE_READ(task, tgid) == ev->signal.source.pid)
			return 0;
		out = pg_scratch_event();
		if (!out)
			return 0;
		out->signal = ev->signal;
		pg_fill_task(&out->signal.target, task);
		out->signal.delivery = result + 1;
		out->hdr.flags |= PG_F_TARGET_KNOWN | PG_F_EXTRA_TARGET;
		out->hdr.pad0 = 0;
		pg_enforce(out, PG_OP_SIGNAL,
			   pg_signal_bit(sig), 1);
		pg_submit(out);
		return 0;
	}

	/* Signals the kernel sends on its own behalf to the current process,
	 * and exit notifications, are not one process acting on another. */
	if (pg_is_agent() || sig == PG_SIGCHLD || (BPF_CORE_READ(cur, flags) & PG_PF_EXITING))
		return 0;
	if (!pg_report_self && BPF_CORE_READ(task, tgid) == BPF_CORE_READ(cur, tgid))
		return 0;
	out = pg_act_begin(PG_EV_SIGNAL, PG_SYS_KERNEL);
	if (!out)
		return 0;
	out->hdr.flags = PG_F_TARGET_KNOWN;
	out->signal.sig = sig;
	out->signal.delivery = result + 1;
	out->signal.ntargets = 1;
	pg_fill_task(&out->signal.target, task);
	out->signal.target_arg = out->signal.target.ns_pid;
	/* Current may be anyone (an interrupted task): report, never kill. */
	pg_enforce(out, PG_OP_SIGNAL,
		   pg_signal_bit(sig), 0);
	pg_stack_fill(ctx, &out->hdr);
	pg_submit(out);
	return 0;
}

#endif
