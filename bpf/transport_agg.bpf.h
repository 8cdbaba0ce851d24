/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Aggregation: identical acts (same source process or container, target,
 * kind, syscall, signal/request/entry, path, result and action) within a
 * window are one tuple in pg_agg. The first act of a tuple goes out at once;
 * later ones only add to the tuple's pending count. A summary (the count,
 * first and last time) goes out when the next act comes after the window, or
 * when the daemon sweeps pg_agg through pg_flush (every quarter window, and
 * once more with force after the hooks are detached). Entries are never
 * deleted, only reused by the LRU: an evicted tuple's pending count is the
 * difference between the aggregated and summarized counters. Part of
 * transport.bpf.h.
 */
#ifndef PODGUARD_TRANSPORT_AGG_BPF_H
#define PODGUARD_TRANSPORT_AGG_BPF_H

#include "transport_fair.bpf.h"

/* Set by the daemon before load (podguard run --aggregate-*). */
const volatile __u64 pg_agg_window_ns = 1000000000ULL; /* 0: no aggregation */
const volatile __u8 pg_agg_by_container = 0;

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
	k->src_cgroup = ev->act.source.cgroup_id;
	k->src_pid = pg_agg_by_container ? 0 : ev->act.source.pid;
	if (ev->hdr.flags & PG_F_TARGET_KNOWN)
		k->tgt_pid = ev->act.target.pid;
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
