/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 32-bit (ia32) syscalls on x86-64. The per-syscall tracepoints the native
 * hooks use (syscalls.bpf.h) never fire for them, so `int $0x80` from any
 * process, or a 32-bit binary, would open /proc/<pid>/root or kill unseen.
 * Only the raw sys_enter/sys_exit tracepoints see them, and those run on
 * every syscall of the node: these programs return at the first load unless
 * the task is in a 32-bit syscall, and the loader loads them only where the
 * kernel accepts 32-bit syscalls at all (userspace/loader/compat_probe.cpp).
 * A watched 32-bit syscall then takes the native path: its number
 * translated (compat_nr.bpf.h), its arguments moved into the native
 * registers of a scratch pt_regs, zero-extended as the 32-bit kernel entry
 * does.
 */
#ifndef PODGUARD_COMPAT_BPF_H
#define PODGUARD_COMPAT_BPF_H

#include "syscalls.bpf.h"

#if defined(__TARGET_ARCH_x86)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pt_regs);
} pg_compat_regs SEC(".maps");

/* At a syscall's exit: the native number of the 32-bit syscall the task is
 * in, -1 when it is in none (or in one nobody watches). */
static __always_inline long pg_compat_exit_nr(void)
{
	if (!pg_in_compat_syscall())
		return -1;
	return pg_compat_native_nr(PG_SYSCALL_NR(pg_syscall_regs()));
}

SEC("raw_tp/sys_enter")
int pg_compat_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *r, *n;
	__u32 zero = 0;
	long nr;

	if (!pg_in_compat_syscall())
		return 0;
	nr = pg_compat_native_nr(ctx->args[1]);
	if (nr < 0)
		return 0;
	n = bpf_map_lookup_elem(&pg_compat_regs, &zero);
	if (!n)
		return 0;
	r = pg_syscall_regs();
	n->di = (__u32)r->bx;
	n->si = (__u32)r->cx;
	n->dx = (__u32)r->dx;
	n->r10 = (__u32)r->si;
	n->r8 = (__u32)r->di;
	n->r9 = (__u32)r->bp;
	n->orig_ax = nr;
	pg_sys_enter_regs(nr, n);
	return 0;
}

/* The object judge of an open or chdir, in a program of its own as on the
 * native exits (the 6.1 verifier's stack), declared first so that it runs
 * before pg_compat_exit on the same tracepoint. */
SEC("raw_tp/sys_exit")
int pg_compat_object_exit(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = pg_compat_exit_nr();

	if (nr == PG_NR_OPEN || nr == PG_NR_OPENAT || nr == PG_NR_OPENAT2 || nr == PG_NR_CHDIR)
		pg_object_exit(ctx->args[1]);
	return 0;
}

SEC("raw_tp/sys_exit")
int pg_compat_exit(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = pg_compat_exit_nr();

	return nr < 0 ? 0 : pg_sys_exit_nr(nr, ctx->args[1]);
}
#endif

#endif
