/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The prologue and epilogue a syscall entry hook of an act (signal.bpf.h,
 * ptrace.bpf.h) shares: the record starts zeroed with the caller as source;
 * a target the cache knows is decided at once, and the record waits in
 * flight for the syscall's exit, which adds the result and sends it.
 */
#ifndef PODGUARD_ACT_BPF_H
#define PODGUARD_ACT_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"

/* A scratch record of an act kind (PG_EV_SIGNAL or PG_EV_PTRACE), zeroed, with
 * the current task as source. NULL: no scratch space. */
static __always_inline union pg_any_event *pg_act_begin(__u16 kind, __u16 syscall)
{
	union pg_any_event *ev = pg_scratch_event();

	if (!ev)
		return NULL;
	if (kind == PG_EV_SIGNAL)
		__builtin_memset(&ev->signal, 0, sizeof(ev->signal));
	else
		__builtin_memset(&ev->ptrace, 0, sizeof(ev->ptrace));
	ev->hdr.kind = kind;
	ev->hdr.syscall = syscall;
	pg_fill_current(&ev->act.source);
	return ev;
}

/* known: the target is filled. A process acting on itself is not reported;
 * any other known target is decided (policy op and bit) before the act runs.
 * The record then waits in flight for the exit. */
static __always_inline void pg_act_park(union pg_any_event *ev, int known, __u32 op, __u32 bit)
{
	if (known) {
		ev->hdr.flags |= PG_F_TARGET_KNOWN;
		if (!pg_report_self && ev->act.target.pid == ev->act.source.pid)
			return;
		pg_enforce(ev, op, bit, 1);
	}
	pg_inflight_store(ev);
}

#endif
