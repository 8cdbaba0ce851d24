/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How events leave the kernel, built so that a flood cannot blind the agent:
 * - transport_agg.bpf.h: identical acts within a window are one tuple, sent
 *   as its first act and then as summaries;
 * - transport_ring.bpf.h: two ring buffers, pg_events_prio for what a flood
 *   must not crowd out (policy-matched events, first occurrences, summaries),
 *   pg_events for the rest and for lifecycle events; every loss counted;
 * - transport_fair.bpf.h: per source cgroup token buckets, one per ring.
 *
 * Included by common.bpf.h once union pg_any_event is defined.
 */
#ifndef PODGUARD_TRANSPORT_BPF_H
#define PODGUARD_TRANSPORT_BPF_H

#include "transport_agg.bpf.h"

static __always_inline void pg_submit(union pg_any_event *ev)
{
	__u16 kind = ev->hdr.kind;
	__u64 now = bpf_ktime_get_boot_ns();

	ev->hdr.time_ns = now;
	ev->hdr.pad0 = 0; /* enforce.bpf.h's per-syscall state, not for user space */
	ev->hdr.count = 1;
	ev->hdr.first_ns = 0;
	if (kind == PG_EV_SIGNAL || kind == PG_EV_PTRACE || kind == PG_EV_PROC_ACCESS) {
		pg_submit_act(ev);
		return;
	}
	/* Lifecycle events keep the process table whole: shared ring, no
	 * bucket (a fork is already paid for by the process that forks). */
	if (pg_ring_output(0, ev, pg_wakeup_flag(now)))
		pg_count_lost(kind, PG_LOST_RINGBUF_FULL);
}

#endif
