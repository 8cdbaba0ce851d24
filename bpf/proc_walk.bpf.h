/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BPF LSM only: the /proc entry a ptrace-mode check is made for, from the
 * path walk in progress (current->nameidata), when no syscall hook named the
 * access. The walk has followed every symlink, "..", bind mount and procfs
 * mount by then: its last component is the entry whose open or link the
 * kernel is checking (environ, mem, root, cwd, exe...). The check's task is
 * the target. So lsm/ptrace_access_check decides by the right entry and an
 * event is reported, for an io_uring request's walk too.
 */
#ifndef PODGUARD_PROC_WALK_BPF_H
#define PODGUARD_PROC_WALK_BPF_H

#include "common.bpf.h"
#include "io_uring_reqs.bpf.h"
#include "proc_path.bpf.h"

#define PG_LOOKUP_OPEN 0x0100
#define PG_INT_LSM_WALK 0x2 /* == PG_INT_LSM (enforce.bpf.h) */

/* The path syscall the current task is in (syscalls.bpf.h's table), or 0. */
static __u16 pg_current_path_syscall(void);

static __always_inline __u32 pg_walk_entry(void)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct nameidata *nd = cur->nameidata;

	if (!nd)
		return 0;
	return pg_kname_entry((const char *)nd->last.name);
}

/* The event of a walk's access to child, in the scratch event, or NULL. */
static __noinline union pg_any_event *pg_walk_event(struct task_struct *child, __u32 entry)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct nameidata *nd = cur->nameidata;
	union pg_any_event *ev;
	struct pg_proc_access_event *p;
	long n;

	if (!nd || BPF_CORE_READ(child, tgid) == cur->tgid || pg_is_agent())
		return 0;
	ev = pg_scratch_event();
	if (!ev)
		return 0;
	p = &ev->proc;
	__builtin_memset(&p->hdr, 0, sizeof(p->hdr));
	__builtin_memset(&p->source, 0, sizeof(p->source) + sizeof(p->target));
	p->hdr.kind = PG_EV_PROC_ACCESS;
	p->hdr.flags = PG_F_BY_OBJECT | PG_F_TARGET_KNOWN;
	if (cur->flags & PG_PF_IO_WORKER)
		p->hdr.syscall = (nd->flags & PG_LOOKUP_OPEN) ? PG_SYS_IO_URING_OPENAT
							      : PG_SYS_IO_URING_STATX;
	else
		p->hdr.syscall = pg_current_path_syscall();
	p->entry = entry;
	p->dirfd = nd->dfd;
	p->path[0] = 0;
	n = bpf_probe_read_kernel_str(p->path, sizeof(p->path), BPF_CORE_READ(nd, name, name));
	p->path_len = n > 0 ? n - 1 : 0;
	if (p->path[0] != '/')
		p->hdr.flags |= PG_F_PATH_RELATIVE;
	pg_fill_current(&p->source);
	pg_fill_task(&p->target, child);
	p->target_arg = p->target.pidns == p->source.pidns ? p->target.ns_pid : p->target.pid;
	return ev;
}

/* After the decision. A syscall's walk is finished by its exit (the result
 * attached there). An io_uring request's walk (in an io-wq worker, or inline
 * in io_uring_enter) folds into the request's event, sent at completion with
 * the result; without one (it was not recorded) it goes now, if denied. */
static __always_inline void pg_walk_event_done(union pg_any_event *ev, int denied)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pg_proc_access_event *r;
	__u16 syscall = ev->hdr.syscall;

	if (!(cur->flags & PG_PF_IO_WORKER) && syscall != PG_SYS_NONE) {
		pg_inflight_store(ev);
		return;
	}
	r = pg_uring_current_req();
	if (r) {
		if (r->hdr.kind) {
			r->hdr.action = ev->hdr.action;
			r->hdr.policy_rule = ev->hdr.policy_rule;
			r->hdr.pad0 |= PG_INT_LSM_WALK;
		} else {
			/* An open the spelling did not name: this is its event. */
			__u16 uring_syscall = r->hdr.syscall;

			ev->hdr.syscall = uring_syscall & 0x7fff;
			ev->hdr.pad0 |= PG_INT_LSM_WALK;
			*r = ev->proc;
		}
		return;
	}
	if (denied) {
		ev->hdr.result = denied;
		pg_submit(ev);
	}
}

#endif
