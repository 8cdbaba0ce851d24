/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fairness: each source cgroup draws from two token buckets (pg_fair), one
 * per ring. A priority record whose bucket is spent goes through the shared
 * ring (demoted); when that bucket is spent too the act is suppressed and
 * counted, by class and by source cgroup. Part of transport.bpf.h.
 */
#ifndef PODGUARD_TRANSPORT_FAIR_BPF_H
#define PODGUARD_TRANSPORT_FAIR_BPF_H

#include "transport_ring.bpf.h"

/* Set by the daemon before load (podguard run --source-*): the refill time of
 * one record (1e9 / rate) and the bucket's depth, in ns of refill; a cost of 0
 * means no limit. */
const volatile __u64 pg_fair_prio_cost_ns = 500000;
const volatile __u64 pg_fair_prio_burst_ns = 2000000000ULL;
const volatile __u64 pg_fair_ord_cost_ns = 500000;
const volatile __u64 pg_fair_ord_burst_ns = 2000000000ULL;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pg_fair_bucket);
} pg_fair SEC(".maps");

/* Which ring a record of the source cgroup may use: 1 priority, 0 shared,
 * -1 none (its buckets are spent). Updates are not atomic across CPUs: two
 * CPUs may both spend the last token, which only loosens the limit. */
static __always_inline int pg_fair_admit(__u64 cgroup, int prio, __u32 cls, __u32 count,
					 __u64 now)
{
	struct pg_fair_bucket *b = bpf_map_lookup_elem(&pg_fair, &cgroup);
	__s64 elapsed;

	if (!b) {
		struct pg_fair_bucket fresh = {
			.last_ns = now,
			.credit_prio = pg_fair_prio_burst_ns,
			.credit_ord = pg_fair_ord_burst_ns,
		};

		bpf_map_update_elem(&pg_fair, &cgroup, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&pg_fair, &cgroup);
		if (!b)
			return prio; /* no bucket to draw from: never lose for want of one */
	}
	if (cls == PG_CLASS_SUMMARY)
		__sync_fetch_and_add(&b->aggregated, count);
	elapsed = now - b->last_ns;
	if (elapsed > 0) {
		b->last_ns = now;
		b->credit_prio += elapsed;
		if (b->credit_prio > (__s64)pg_fair_prio_burst_ns)
			b->credit_prio = pg_fair_prio_burst_ns;
		b->credit_ord += elapsed;
		if (b->credit_ord > (__s64)pg_fair_ord_burst_ns)
			b->credit_ord = pg_fair_ord_burst_ns;
	}
	if (prio) {
		if (!pg_fair_prio_cost_ns || b->credit_prio >= (__s64)pg_fair_prio_cost_ns) {
			b->credit_prio -= pg_fair_prio_cost_ns;
			return 1;
		}
		__sync_fetch_and_add(&b->demoted, 1);
	}
	if (!pg_fair_ord_cost_ns || b->credit_ord >= (__s64)pg_fair_ord_cost_ns) {
		b->credit_ord -= pg_fair_ord_cost_ns;
		return 0;
	}
	__sync_fetch_and_add(&b->suppressed, count);
	return -1;
}

/* Sends one record of an act kind (count acts) as its class allows. */
static __noinline void pg_send(union pg_any_event *ev, __u32 cls)
{
	struct pg_flood_counters *fc = pg_flood_counters();
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 count = ev->hdr.count;
	__u16 kind = ev->hdr.kind;
	int prio = cls != PG_CLASS_ORDINARY;
	int ring;

	if (cls >= PG_CLASS_MAX)
		return;
	ring = pg_fair_admit(ev->act.source.cgroup_id, prio, cls, count, now);
	if (ring < 0) {
		if (fc)
			fc->lost[cls][PG_DROP_RATE_LIMITED] += count;
		pg_count_lost(kind, PG_LOST_RATE_LIMITED);
		return;
	}
	if (prio && !ring && fc)
		fc->demoted++;
	if (pg_ring_output(ring, ev, pg_wakeup_flag(now))) {
		if (fc)
			fc->lost[cls][PG_DROP_RINGBUF_FULL] += count;
		pg_count_lost(kind, PG_LOST_RINGBUF_FULL);
		return;
	}
	if (fc)
		fc->sent[cls]++;
}

#endif
