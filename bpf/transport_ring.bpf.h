/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rings events leave the kernel through, and the count of every record
 * that could not go (pg_lost by kind and reason, pg_flood by class). Part of
 * transport.bpf.h.
 */
#ifndef PODGUARD_TRANSPORT_RING_BPF_H
#define PODGUARD_TRANSPORT_RING_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024); /* resized by the daemon */
} pg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024); /* resized by the daemon */
} pg_events_prio SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_lost_counters);
} pg_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_flood_counters);
} pg_flood SEC(".maps");

static __always_inline void pg_count_lost(__u16 kind, __u32 reason)
{
	__u32 zero = 0;
	struct pg_lost_counters *c = bpf_map_lookup_elem(&pg_lost, &zero);

	/* One flat index, bounded right where it is used: 6.1's verifier lost
	 * the bound of a kind checked in a register and reloaded from its
	 * stack slot for the access. */
	__u32 i = (__u32)kind * PG_LOST_REASON_MAX + reason;

	if (!c || kind >= PG_EV_KIND_MAX || reason >= PG_LOST_REASON_MAX)
		return;
	barrier_var(i);
	if (i < PG_EV_KIND_MAX * PG_LOST_REASON_MAX)
		((__u64 *)c->count)[i]++;
}

static __always_inline struct pg_flood_counters *pg_flood_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pg_flood, &zero);
}

static __always_inline __u32 pg_event_size(__u16 kind)
{
	switch (kind) {
	case PG_EV_SIGNAL:
		return sizeof(struct pg_signal_event);
	case PG_EV_PTRACE:
		return sizeof(struct pg_ptrace_event);
	case PG_EV_PROC_ACCESS:
		return sizeof(struct pg_proc_access_event);
	default:
		return sizeof(struct pg_process_event);
	}
}

/* Copies an event by its own kind's size: the union is sized for the largest
 * (a process event, 632 bytes), a signal is 200. */
static __always_inline void pg_event_copy(union pg_any_event *dst, const union pg_any_event *src)
{
	switch (src->hdr.kind) {
	case PG_EV_SIGNAL:
		dst->signal = src->signal;
		break;
	case PG_EV_PTRACE:
		dst->ptrace = src->ptrace;
		break;
	case PG_EV_PROC_ACCESS:
		dst->proc = src->proc;
		break;
	default:
		*dst = *src;
		break;
	}
}

/* Waking the reader costs the producer about a microsecond (an interrupt
 * raised through the APIC). Wake it for the first event after a quiet spell,
 * and then at most every PG_WAKEUP_INTERVAL_NS per CPU; the reader's own poll
 * timeout picks up the rest. When data piles up, wake it sooner, but still
 * at most every PG_WAKEUP_PILEUP_NS: a woken reader drains everything there
 * is, and forcing a wakeup for every event while it does so cost a /proc
 * open 3.5% of its time. */
#define PG_WAKEUP_INTERVAL_NS (5 * 1000 * 1000)
#define PG_WAKEUP_PILEUP_NS (100 * 1000)
#define PG_WAKEUP_BYTES (256 * 1024)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pg_last_wakeup SEC(".maps");

static __always_inline __u64 pg_wakeup_flag(__u64 now)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&pg_last_wakeup, &zero);
	__u64 since;

	if (!last)
		return 0;
	since = now - *last;
	if (since >= PG_WAKEUP_INTERVAL_NS ||
	    (since >= PG_WAKEUP_PILEUP_NS &&
	     bpf_ringbuf_query(&pg_events, BPF_RB_AVAIL_DATA) >= PG_WAKEUP_BYTES)) {
		*last = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* One record into a ring; 0 or the helper's error. */
static __always_inline long pg_ring_output(int prio, union pg_any_event *ev, __u64 flags)
{
	__u32 size = pg_event_size(ev->hdr.kind);

	if (size > sizeof(*ev))
		return -1;
	if (prio)
		return bpf_ringbuf_output(&pg_events_prio, ev, size, flags);
	return bpf_ringbuf_output(&pg_events, ev, size, flags);
}

#endif
