/* SPDX-License-Identifier: GPL-2.0 */
/* ptrace(2) and process_vm_readv/writev(2): one process reading or steering
 * another's memory. Target resolved through the process cache at entry. */
#ifndef PODGUARD_PTRACE_BPF_H
#define PODGUARD_PTRACE_BPF_H

#include "common.bpf.h"

#define PG_PTRACE_TRACEME 0

static __always_inline void pg_ptrace_enter(__u16 syscall, __s64 request, __s32 target)
{
	union pg_any_event *ev;
	struct pg_ptrace_event *p;
	int known;

	if (pg_is_agent())
		return;
	ev = pg_scratch_event();
	if (!ev)
		return;
	p = &ev->ptrace;
	__builtin_memset(p, 0, sizeof(*p));
	p->hdr.kind = PG_EV_PTRACE;
	p->hdr.syscall = syscall;
	p->request = request;
	p->target_arg = target;
	pg_fill_current(&p->source);
	if (syscall == PG_SYS_PTRACE && request == PG_PTRACE_TRACEME) {
		struct task_struct *cur = (struct task_struct *)bpf_get_current_task();

		pg_fill_task(&p->target, BPF_CORE_READ(cur, real_parent));
		known = 1;
	} else {
		known = pg_fill_target_from_cache(&p->target, p->source.pidns, target);
	}
	if (known) {
		p->hdr.flags |= PG_F_TARGET_KNOWN;
		if (!pg_report_self && p->target.pid == p->source.pid)
			return;
	}
	pg_inflight_store(ev);
}

SEC("tp/syscalls/sys_enter_ptrace")
int pg_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	pg_ptrace_enter(PG_SYS_PTRACE, (__s64)ctx->args[0], (__s32)ctx->args[1]);
	return 0;
}

SEC("tp/syscalls/sys_enter_process_vm_readv")
int pg_enter_process_vm_readv(struct trace_event_raw_sys_enter *ctx)
{
	pg_ptrace_enter(PG_SYS_PROCESS_VM_READV, 0, (__s32)ctx->args[0]);
	return 0;
}

SEC("tp/syscalls/sys_enter_process_vm_writev")
int pg_enter_process_vm_writev(struct trace_event_raw_sys_enter *ctx)
{
	pg_ptrace_enter(PG_SYS_PROCESS_VM_WRITEV, 0, (__s32)ctx->args[0]);
	return 0;
}

SEC("tp/syscalls/sys_exit_ptrace")
int pg_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	pg_inflight_finish(ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_process_vm_readv")
int pg_exit_process_vm_readv(struct trace_event_raw_sys_exit *ctx)
{
	pg_inflight_finish(ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_process_vm_writev")
int pg_exit_process_vm_writev(struct trace_event_raw_sys_exit *ctx)
{
	pg_inflight_finish(ctx->ret);
	return 0;
}

#endif
