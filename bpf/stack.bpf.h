/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Optional stacks of an event's source (podguard run --stacks): the user and
 * kernel call chain at the hook, as ids into pg_stacks that user space
 * resolves and symbolizes (userspace/stack/). Off by default: the cost is
 * then one branch on a constant the verifier removes.
 */
#ifndef PODGUARD_STACK_BPF_H
#define PODGUARD_STACK_BPF_H

#include "common.bpf.h"

#define PG_STACK_DEPTH 127 /* the kernel's default perf_event_max_stack */

/* Set by the loader. */
const volatile bool pg_cfg_stacks = false;

/* Identical stacks share an id. Buckets are never freed: user space caches
 * what it read, and a new stack that hashes to a taken bucket gets -EEXIST
 * (reported as such) rather than overwriting one an event still names. The
 * loader shrinks the map to one entry when stacks are off. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PG_STACK_DEPTH * sizeof(__u64));
} pg_stacks SEC(".maps");

/* ctx: the program's own context (raw tracepoints qualify). */
static __always_inline void pg_stack_fill(void *ctx, struct pg_header *h)
{
	if (!pg_cfg_stacks)
		return;
	h->kernel_stack_id = bpf_get_stackid(ctx, &pg_stacks, 0);
	h->user_stack_id = bpf_get_stackid(ctx, &pg_stacks, BPF_F_USER_STACK);
	h->flags |= PG_F_STACKS;
}

/* At syscall entry, after the operation's hook remembered its event: the
 * stacks are taken in the source's own context, before it returns to user
 * space. Syscalls with nothing remembered cost an array load. */
static __always_inline void pg_stack_capture(void *ctx)
{
	__u32 tid;
	union pg_any_event *ev;

	if (!pg_cfg_stacks)
		return;
	tid = (__u32)bpf_get_current_pid_tgid();
	if (!pg_maybe_pending(tid))
		return;
	ev = pg_inflight_lookup(tid);
	if (!ev || (ev->hdr.flags & PG_F_STACKS))
		return;
	pg_stack_fill(ctx, &ev->hdr);
}

#endif
