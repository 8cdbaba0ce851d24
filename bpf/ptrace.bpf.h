/* SPDX-License-Identifier: GPL-2.0 */
/* ptrace(2) and process_vm_readv/writev(2): one process reading or steering
 * another's memory. Target resolved through the process cache at entry
 * (dispatched from syscalls.bpf.h); the exit adds the result. */
#ifndef PODGUARD_PTRACE_BPF_H
#define PODGUARD_PTRACE_BPF_H

#include "act.bpf.h"
#include "common.bpf.h"
#include "enforce.bpf.h"

#define PG_PTRACE_TRACEME 0

/* Global, so that the verifier checks it once rather than once for each of
 * the PG_PTRACE_SYSCALLS rows that call it. */
__noinline int pg_ptrace_enter(__u16 syscall, __s64 request, __s32 target)
{
	union pg_any_event *ev;
	struct pg_ptrace_event *p;
	int known;

	/* The syscalls past ptrace and process_vm_*: their own process (0,
	 * or its own number: prlimit64(0) runs in every process start) is no
	 * access to another. */
	if (syscall >= PG_SYS_PIDFD_GETFD && (target <= 0 || pg_names_current(target)))
		return 0;
	if (pg_is_agent())
		return 0;
	ev = pg_act_begin(PG_EV_PTRACE, syscall);
	if (!ev)
		return 0;
	p = &ev->ptrace;
	p->request = request;
	p->target_arg = target;
	if (syscall == PG_SYS_PTRACE && request == PG_PTRACE_TRACEME) {
		struct task_struct *cur = (struct task_struct *)bpf_get_current_task();

		pg_fill_task(&p->target, BPF_CORE_READ(cur, real_parent));
		known = 1;
	} else {
		known = pg_fill_target_from_cache(&p->target, p->source.pidns, target);
	}
	pg_act_park(ev, known, PG_OP_PTRACE, pg_ptrace_bit(syscall, request));
	return 0;
}

#endif
