/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How events leave the kernel, built so that a flood cannot blind the agent.
 *
 * - Aggregation: identical acts (same source process or container, target,
 *   kind, syscall, signal/request/entry, path, result and action) within a
 *   window are one tuple in pg_agg. The first act of a tuple goes out at
 *   once; later ones only add to the tuple's pending count. A summary (the
 *   count, first and last time) goes out when the next act comes after the
 *   window, or when the daemon sweeps pg_agg through pg_flush (every half
 *   window, and once more with force after the hooks are detached). Entries
 *   are never deleted, only reused by the LRU: an evicted tuple's pending
 *   count is the difference between the aggregated and summarized counters.
 * - Two ring buffers: pg_events_prio for what a flood must not crowd out
 *   (policy-matched events, first occurrences, summaries), pg_events for the
 *   rest and for lifecycle events.
 * - Fairness: each source cgroup draws from two token buckets (pg_fair), one
 *   per ring. A priority record whose bucket is spent goes through the shared
 *   ring (demoted); when that bucket is spent too the act is suppressed and
 *   counted, by class and by source cgroup.
 *
 * Included by common.bpf.h once union pg_any_event is defined.
 */
#ifndef PODGUARD_TRANSPORT_BPF_H
#define PODGUARD_TRANSPORT_BPF_H

/* Set by the daemon before load (podguard run --aggregate-*, --fair-*). */
const volatile __u64 pg_agg_window_ns = 1000000000ULL; /* 0: no aggregation */
const volatile __u8 pg_agg_by_container = 0;
/* Refill time of one record (1e9 / rate) and the bucket's depth, in ns of
 * refill; a cost of 0 means no limit. */
const volatile __u64 pg_fair_prio_cost_ns = 500000;
const volatile __u64 pg_fair_prio_burst_ns = 2000000000ULL;
const volatile __u64 pg_fair_ord_cost_ns = 500000;
const volatile __u64 pg_fair_ord_burst_ns = 2000000000ULL;

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

struct pg_agg_entry {
	__u64 pending;      /* acts since the last report */
	__u64 window_start; /* when the current window opened */
	__u64 first_ns;     /* first pending act */
	__u64 last_ns;      /* last pending act */
	union pg_any_event ev; /* the tuple's first act, for its summaries */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* resized by the daemon */
	__type(key, struct pg_agg_key);
	__type(value, struct pg_agg_entry);
} pg_agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pg_fair_bucket);
} pg_fair SEC(".maps");

/* A tuple being inserted (too large for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_agg_entry);
} pg_agg_scratch SEC(".maps");

/* The sweep's own scratch event: it runs preemptible, so it cannot share
 * pg_scratch with the hooks. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union pg_any_event);
} pg_flush_scratch SEC(".maps");

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
	ring = pg_fair_admit(ev->signal.source.cgroup_id, prio, cls, count, now);
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

/* A path's hash, over its length only (the buffer past the NUL holds what an
 * earlier event left). */
#define PG_PATH_WORDS (PG_PATH_LEN / 8)

static __always_inline __u64 pg_path_hash(const struct pg_proc_access_event *p)
{
	const __u64 *w = (const __u64 *)p->path;
	__u32 len = p->path_len;
	__u64 h = PG_FNV_OFFSET;

	for (int k = 0; k < PG_PATH_WORDS; k++) {
		__u64 v;

		if ((__u32)k * 8 >= len)
			break;
		v = w[k];
		if ((__u32)k * 8 + 8 > len)
			v &= (1ULL << ((len & 7) * 8)) - 1;
		h = (h ^ v) * PG_FNV_PRIME;
		h ^= h >> 29;
	}
	return h ^ len;
}

static __always_inline void pg_agg_key_of(const union pg_any_event *ev, struct pg_agg_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src_cgroup = ev->signal.source.cgroup_id;
	k->src_pid = pg_agg_by_container ? 0 : ev->signal.source.pid;
	if (ev->hdr.flags & PG_F_TARGET_KNOWN)
		k->tgt_pid = ev->signal.target.pid;
	k->kind = ev->hdr.kind;
	k->syscall = ev->hdr.syscall;
	k->action = ev->hdr.action;
	k->result = ev->hdr.result;
	switch (ev->hdr.kind) {
	case PG_EV_SIGNAL:
		k->detail = ev->signal.sig;
		break;
	case PG_EV_PTRACE:
		k->detail = ev->ptrace.request;
		break;
	default:
		k->detail = ev->proc.entry;
		k->path_hash = pg_path_hash(&ev->proc);
		break;
	}
}

/* Turns ev into the summary of n pending acts of a. */
static __always_inline void pg_make_summary(union pg_any_event *ev, struct pg_agg_entry *a,
					    __u64 n, __u64 first, __u64 last)
{
	pg_event_copy(ev, &a->ev);
	/* An act counts itself before it stamps its time. */
	if (!first)
		first = last ? last : a->window_start;
	if (!last)
		last = first;
	ev->hdr.flags &= ~PG_F_FIRST;
	ev->hdr.flags |= PG_F_SUMMARY;
	ev->hdr.count = n;
	ev->hdr.first_ns = first;
	ev->hdr.time_ns = last;
}

static __always_inline void pg_count_aggregated(__u64 n, int summarized)
{
	struct pg_flood_counters *fc = pg_flood_counters();

	if (!fc)
		return;
	if (summarized)
		fc->summarized += n;
	else
		fc->aggregated += n;
}

/* Where an act of a tuple already known goes: 1 if it was absorbed (or sent
 * here), 0 if the caller must send it as a plain event. */
static __always_inline int pg_agg_absorb(union pg_any_event *ev, struct pg_agg_entry *a, __u64 now)
{
	__u64 start = a->window_start;
	__u64 n, first, last;

	if ((__s64)(now - start) >= (__s64)pg_agg_window_ns &&
	    __sync_val_compare_and_swap(&a->window_start, start, now) == start) {
		/* This act closes the window. */
		first = a->first_ns;
		last = a->last_ns;
		n = __sync_lock_test_and_set(&a->pending, 0);
		if (!n)
			return 0; /* a quiet window: the act goes out by itself */
		pg_count_aggregated(n, 1);
		/* The act itself opens the next window, pending. */
		a->first_ns = now;
		a->last_ns = now;
		__sync_fetch_and_add(&a->pending, 1);
		pg_count_aggregated(1, 0);
		pg_make_summary(ev, a, n, first, last);
		pg_send(ev, PG_CLASS_SUMMARY);
		return 1;
	}
	if (__sync_fetch_and_add(&a->pending, 1) == 0)
		a->first_ns = now;
	a->last_ns = now;
	pg_count_aggregated(1, 0);
	return 1;
}

/* An act (signal, ptrace, /proc access) at syscall exit. */
static __noinline void pg_submit_act(union pg_any_event *ev)
{
	__u32 cls = ev->hdr.action != PG_ACT_ALLOWED ? PG_CLASS_POLICY : PG_CLASS_ORDINARY;
	__u64 now = ev->hdr.time_ns;
	struct pg_flood_counters *fc;
	struct pg_agg_entry *a;
	struct pg_agg_key key;
	__u32 zero = 0;

	if (!pg_agg_window_ns) {
		pg_send(ev, cls);
		return;
	}
	pg_agg_key_of(ev, &key);
	a = bpf_map_lookup_elem(&pg_agg, &key);
	if (!a) {
		/* A new tuple: insert it, first act and all. Another CPU
		 * inserting the same tuple meanwhile makes this fail with
		 * EEXIST; the act is then absorbed into that one. */
		struct pg_agg_entry *fresh = bpf_map_lookup_elem(&pg_agg_scratch, &zero);

		if (!fresh)
			goto plain;
		fresh->pending = 0;
		fresh->window_start = now;
		fresh->first_ns = 0;
		fresh->last_ns = 0;
		ev->hdr.flags |= PG_F_FIRST;
		pg_event_copy(&fresh->ev, ev);
		if (!bpf_map_update_elem(&pg_agg, &key, fresh, BPF_NOEXIST)) {
			pg_send(ev, cls == PG_CLASS_POLICY ? PG_CLASS_POLICY : PG_CLASS_FIRST);
			return;
		}
		ev->hdr.flags &= ~PG_F_FIRST;
		a = bpf_map_lookup_elem(&pg_agg, &key);
		if (!a) {
			fc = pg_flood_counters();
			if (fc)
				fc->table_full++;
			goto plain;
		}
	}
	if (pg_agg_absorb(ev, a, now))
		return;
plain:
	pg_send(ev, cls);
}

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

/* The daemon's sweep (BPF_PROG_RUN; never attached): sends the summary of
 * every tuple whose window has closed, or of every tuple with acts pending
 * when force is set (at exit, after the hooks are detached). */
struct pg_flush_ctx {
	__u64 now;
	__u64 force;
};

static long pg_flush_one(struct bpf_map *map, struct pg_agg_key *key, struct pg_agg_entry *a,
			 struct pg_flush_ctx *c)
{
	__u64 start = a->window_start;
	__u64 n, first, last;
	union pg_any_event *ev;
	__u32 zero = 0;

	if (!a->pending)
		return 0;
	if (!c->force && (__s64)(c->now - start) < (__s64)pg_agg_window_ns)
		return 0;
	ev = bpf_map_lookup_elem(&pg_flush_scratch, &zero);
	if (!ev)
		return 1;
	if (__sync_val_compare_and_swap(&a->window_start, start, c->now) != start)
		return 0;
	first = a->first_ns;
	last = a->last_ns;
	n = __sync_lock_test_and_set(&a->pending, 0);
	if (!n)
		return 0;
	pg_count_aggregated(n, 1);
	pg_make_summary(ev, a, n, first, last);
	pg_send(ev, PG_CLASS_SUMMARY);
	return 0;
}

SEC("syscall")
int pg_flush(struct pg_flush_args *args)
{
	struct pg_flush_ctx c = {.now = bpf_ktime_get_boot_ns(), .force = args->force};

	bpf_for_each_map_elem(&pg_agg, pg_flush_one, &c, 0);
	return 0;
}

#endif
