/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Policy enforcement: the in-kernel decision and what a hook does with it.
 *
 * The decision (pg_decide) ANDs a handful of rule bitmaps (see podguard.h)
 * and takes the lowest bit left: the first matching rule, in constant time,
 * the same answer as podguard::policy::decide() in user space.
 *
 * Applying a `block`:
 * - PG_ENFORCE_KILL (no BPF LSM): the offender gets SIGKILL at syscall entry,
 *   or at signal_generate for targets only known there (group kills,
 *   pidfd_send_signal). The syscall itself still runs: PG_ACT_KILLED.
 * - PG_ENFORCE_LSM: lsm/task_kill and lsm/ptrace_access_check return -EPERM
 *   (ptrace_access_check is also the gate of /proc/<pid>/root, cwd, environ,
 *   mem, ...): PG_ACT_BLOCKED. An operation the policy blocks that no LSM hook
 *   was asked about (/proc/<pid>/cmdline, PTRACE_TRACEME, ...) and that
 *   succeeded gets the KILL treatment at syscall exit.
 * - PG_ENFORCE_MONITOR: reported as PG_ACT_AUDITED, nothing applied.
 *
 * Who each side is (registered, an unidentified container, the host) and
 * when the posture for the unidentified applies: posture.bpf.h.
 *
 * Not decided in the kernel: `binaries` clauses (the compiler of the maps
 * leaves rules with one out of every kernel set, so they never match here;
 * user space accounts for them). Operations whose target the process cache
 * could not resolve have relation unknown, which no rule names: allowed.
 *
 * hdr.pad0 carries PG_INT_* between the hooks of one syscall; pg_submit
 * clears it before an event leaves the kernel.
 */
#ifndef PODGUARD_ENFORCE_BPF_H
#define PODGUARD_ENFORCE_BPF_H

#include "common.bpf.h"
#include "posture.bpf.h"
#include "proc_walk.bpf.h"

#define PG_SIGKILL 9
#define PG_INT_DECIDED 0x1 /* a decision was taken for this event */
#define PG_INT_LSM 0x2     /* an LSM hook decided for this syscall */

/* ptrace_may_access() modes (include/linux/ptrace.h) */
#define PG_PTRACE_MODE_ATTACH 0x02

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_enforce_config);
} pg_enforce_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_POLICY_GENS);
	__type(key, __u32);
	__type(value, struct pg_policy_gen);
} pg_policy_gens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_POLICY_GENS * PG_OP_SLOTS);
	__type(key, __u32);
	__type(value, struct pg_rule_set);
} pg_policy_ops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_POLICY_GENS * PG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pg_rule);
} pg_policy_rules SEC(".maps");

/* pg_decide's answer, packed: action | mode << 8 | posture << 16 | rule id << 32. */
#define PG_D_ACTION(d) ((__u8)(d))
#define PG_D_MODE(d) ((__u8)((d) >> 8))
#define PG_D_POSTURE(d) (((d) >> 16) & 1)
#define PG_D_RULE(d) ((__u32)((d) >> 32))

static __always_inline __u32 pg_ctz64(__u64 w)
{
	__u32 n = 0;

	if (!(w & 0xffffffffULL)) {
		n += 32;
		w >>= 32;
	}
	if (!(w & 0xffff)) {
		n += 16;
		w >>= 16;
	}
	if (!(w & 0xff)) {
		n += 8;
		w >>= 8;
	}
	if (!(w & 0xf)) {
		n += 4;
		w >>= 4;
	}
	if (!(w & 0x3)) {
		n += 2;
		w >>= 2;
	}
	if (!(w & 0x1))
		n += 1;
	return n;
}

/* Signal n -> bit n-1; anything else (0: a probe) -> 64, which no rule has. */
static __always_inline __u32 pg_signal_bit(__s32 sig)
{
	return sig >= 1 && sig <= 64 ? sig - 1 : PG_OP_BITS;
}

static __always_inline __u32 pg_ptrace_bit(__u16 syscall, __s64 request)
{
	if (syscall == PG_SYS_PROCESS_VM_READV)
		return PG_PTRACE_BIT_VM_READV;
	if (syscall == PG_SYS_PROCESS_VM_WRITEV)
		return PG_PTRACE_BIT_VM_WRITEV;
	if (request >= 0 && request <= PG_PTRACE_LOW_MAX)
		return request;
	if (request >= PG_PTRACE_HIGH_BASE && request < PG_PTRACE_HIGH_BASE + PG_PTRACE_HIGH_COUNT)
		return PG_PTRACE_LOW_MAX + 1 + (request - PG_PTRACE_HIGH_BASE);
	return PG_PTRACE_BIT_OTHER;
}

/* podguard::classify_relation on cgroup facts: same pod when both pod ids
 * are known and equal, or (either unknown) when the pid namespace is shared. */
static __always_inline __u32 pg_relation(struct pg_cgroup_info *s, struct pg_cgroup_info *t,
					 struct pg_op_facts *op)
{
	int src_in = s->in_container;
	int tgt_in = t->in_container;

	if (!op->tgt_known)
		return PG_REL_UNKNOWN;
	if (!src_in && !tgt_in)
		return PG_REL_HOST;
	if (!src_in)
		return PG_REL_HOST_TO_CONTAINER;
	if (!tgt_in)
		return PG_REL_CONTAINER_TO_HOST;
	if (s->container_id && t->container_id ? s->container_id == t->container_id
					       : op->src_cgroup == op->tgt_cgroup)
		return PG_REL_SAME_CONTAINER;
	if (s->pod_id && t->pod_id)
		return s->pod_id == t->pod_id ? PG_REL_SAME_POD : PG_REL_CROSS_POD;
	return op->src_pidns && op->src_pidns == op->tgt_pidns ? PG_REL_SAME_POD : PG_REL_CROSS_POD;
}

static __always_inline int pg_tgid_is_agent(__u32 tgid)
{
	return pg_agent_tgid && tgid == pg_agent_tgid;
}

static __noinline __u64 pg_decide(struct pg_op_facts *op)
{
	struct pg_rule_set *ops, *rel, *src, *tgt, *src_out, *tgt_out;
	struct pg_cgroup_info *si, *ti;
	struct pg_enforce_config *cfg;
	struct pg_policy_gen *pg;
	struct pg_cgroup_key key = {};
	struct pg_rule *rule;
	__u32 zero = 0, gen, slot, mode, words;
	__u64 any = 0, posture, src_un, tgt_un;

	cfg = bpf_map_lookup_elem(&pg_enforce_config, &zero);
	if (!cfg)
		return 0;
	gen = cfg->active_gen & 1;
	mode = cfg->mode;
	pg = bpf_map_lookup_elem(&pg_policy_gens, &gen);
	if (!pg || !pg->rule_count || op->kind >= PG_OP_KINDS || op->bit >= PG_OP_BITS)
		return 0;
	slot = gen * PG_OP_SLOTS + op->kind * PG_OP_BITS + op->bit;
	ops = bpf_map_lookup_elem(&pg_policy_ops, &slot);
	if (!ops)
		return 0;
	/* Rules are numbered from 0: words past the last rule are empty. An
	 * operation no rule names is decided before the cgroup lookups. */
	words = (pg->rule_count + 63) / 64;
	for (__u32 i = 0; i < PG_RULE_WORDS; i++)
		any |= ops->w[i];
	if (!any)
		return (__u64)mode << 8;
	key.gen = gen;
	si = pg_source_info(&key, op);
	if (!si)
		return 0;
	ti = pg_target_info(&key, op);
	if (!ti)
		return 0;
	/* Rules naming containers, for the sides not identified: branch-free. */
	src_un = 0 - (__u64)(si->unidentified != 0);
	tgt_un = 0 - (__u64)(ti->unidentified != 0);
	rel = &pg->relation[pg_relation(si, ti, op) & (PG_RELATIONS - 1)];
	src = &si->src;
	tgt = &ti->tgt;
	/* Rules the parties' agent-ness rules out. */
	src_out = pg_tgid_is_agent(op->src_tgid) ? &pg->src_not_agent : &pg->src_agent;
	tgt_out = pg_tgid_is_agent(op->tgt_tgid) ? &pg->tgt_not_agent : &pg->tgt_agent;

	for (__u32 i = 0; i < PG_RULE_WORDS && i < words; i++) {
		__u64 w = ops->w[i] & rel->w[i] & src->w[i] & tgt->w[i] & ~src_out->w[i] &
			  ~tgt_out->w[i];
		__u32 rk;

		if (!w)
			continue;
		rk = gen * PG_MAX_RULES + i * 64 + pg_ctz64(w);
		rule = bpf_map_lookup_elem(&pg_policy_rules, &rk);
		if (!rule)
			return 0;
		w &= -w; /* the deciding rule's bit */
		posture = (((pg->ident_src.w[i] & src_un) | (pg->ident_tgt.w[i] & tgt_un)) & w) != 0;
		return rule->action | (mode << 8) | (posture << 16) | ((__u64)rule->id << 32);
	}
	return (__u64)mode << 8;
}

/* Facts of an event's two sides (target as the process cache knew it). */
static __always_inline void pg_facts_from_event(struct pg_op_facts *f, struct pg_header *h,
						struct pg_task *src, struct pg_task *tgt)
{
	f->src_cgroup = src->cgroup_id;
	f->tgt_cgroup = tgt->cgroup_id;
	f->src_pidns = src->pidns;
	f->tgt_pidns = tgt->pidns;
	f->src_mntns = src->mntns;
	f->src_tgid = src->pid;
	f->tgt_tgid = tgt->pid;
	f->tgt_known = (h->flags & PG_F_TARGET_KNOWN) != 0;
}

/* Decide for a signal, ptrace or proc access event (they share the layout
 * of hdr, source and target) and apply the action.
 * can_kill: current is the offender, in its own syscall. */
static __noinline void pg_enforce(union pg_any_event *ev, __u32 kind, __u32 bit, int can_kill)
{
	struct pg_op_facts f = {.kind = kind, .bit = bit};
	struct pg_header *h = &ev->hdr;
	__u64 d;
	__u8 action;

	pg_facts_from_event(&f, h, &ev->act.source, &ev->act.target);
	d = pg_decide(&f);
	action = PG_D_ACTION(d);
	h->policy_rule = PG_D_RULE(d);
	h->pad0 |= PG_INT_DECIDED;
	if (PG_D_POSTURE(d))
		h->flags |= PG_F_UNIDENTIFIED;
	if (action != PG_ACT_BLOCKED) {
		h->action = action;
		return;
	}
	switch (PG_D_MODE(d)) {
	case PG_ENFORCE_KILL:
		if (can_kill) {
			bpf_send_signal(PG_SIGKILL);
			h->action = PG_ACT_KILLED;
			return;
		}
		break;
	case PG_ENFORCE_LSM:
		if (can_kill) {
			/* The LSM hook denies it, or the syscall exit kills. */
			h->action = PG_ACT_BLOCKED;
			return;
		}
		break;
	}
	h->action = PG_ACT_AUDITED; /* reported, not applied */
}

/* Syscall exit in LSM mode: a block no LSM hook was asked about, on an
 * operation that succeeded, is applied the fallback way. */
static __always_inline void pg_enforce_exit(long ret)
{
	__u32 zero = 0, tid;
	struct pg_enforce_config *cfg = bpf_map_lookup_elem(&pg_enforce_config, &zero);
	union pg_any_event *ev;

	if (!cfg || cfg->mode != PG_ENFORCE_LSM)
		return;
	tid = (__u32)bpf_get_current_pid_tgid();
	ev = pg_inflight_lookup(tid);
	if (!ev || ev->hdr.action != PG_ACT_BLOCKED || (ev->hdr.pad0 & PG_INT_LSM) || ret < 0)
		return;
	bpf_send_signal(PG_SIGKILL);
	ev->hdr.action = PG_ACT_KILLED;
}

/* ---- BPF LSM (loaded only where the kernel probe found it working) ---- */

static __always_inline int pg_lsm_decide(struct task_struct *target, __u32 kind, __u32 bit,
					 union pg_any_event *ev)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
	struct pg_op_facts f = {.kind = kind, .bit = bit, .tgt_known = 1};
	__u64 d;
	__u8 action;

	f.src_tgid = bpf_get_current_pid_tgid() >> 32;
	f.tgt_tgid = BPF_CORE_READ(target, tgid);
	if (f.src_tgid == f.tgt_tgid)
		return 0;
	f.src_cgroup = bpf_get_current_cgroup_id();
	f.tgt_cgroup = pg_task_cgroup_id(target);
	f.src_pidns = pg_task_pidns(cur);
	f.tgt_pidns = pg_task_pidns(target);
	f.src_mntns = BPF_CORE_READ(cur, nsproxy, mnt_ns, ns.inum);
	d = pg_decide(&f);
	action = PG_D_ACTION(d);
	if (PG_D_MODE(d) != PG_ENFORCE_LSM)
		return 0;
	if (ev) {
		/* Several targets (a group kill): the strongest action is the event's. */
		if (!(ev->hdr.pad0 & PG_INT_LSM) || action > ev->hdr.action) {
			ev->hdr.action = action;
			ev->hdr.policy_rule = PG_D_RULE(d);
			if (PG_D_POSTURE(d))
				ev->hdr.flags |= PG_F_UNIDENTIFIED;
		}
		ev->hdr.pad0 |= PG_INT_LSM | PG_INT_DECIDED;
	}
	return action == PG_ACT_BLOCKED ? -EPERM : 0;
}

static __always_inline union pg_any_event *pg_current_inflight(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	return pg_inflight_lookup(tid);
}

SEC("lsm/task_kill")
int BPF_PROG(pg_lsm_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	union pg_any_event *ev;

	if (ret)
		return ret;
	if (sig < 1 || sig > 64)
		return 0; /* signal 0 probes, delivers nothing, has no bit */
	ev = pg_current_inflight();
	if (ev && ev->hdr.kind != PG_EV_SIGNAL)
		ev = 0;
	return pg_lsm_decide(p, PG_OP_SIGNAL, sig - 1, ev);
}

/* Asked for ptrace attach, process_vm_*, and every ptrace-mode /proc file
 * (root, cwd, exe, environ, mem, maps, fd, ...). Which operation it is comes
 * from the syscall entry's event; without one (kcmp, pidfd_getfd, reads of
 * /proc/<pid>/stat...) an attach-mode check counts as an unnamed ptrace
 * request and a read-mode check as an unnamed /proc entry. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(pg_lsm_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	union pg_any_event *ev;
	__u32 kind, bit;

	if (ret)
		return ret;
	ev = pg_current_inflight();
	if (ev && ev->hdr.kind == PG_EV_PTRACE) {
		kind = PG_OP_PTRACE;
		bit = pg_ptrace_bit(ev->hdr.syscall, ev->ptrace.request);
	} else if (ev && ev->hdr.kind == PG_EV_PROC_ACCESS) {
		kind = PG_OP_PROC_ACCESS;
		bit = ev->proc.entry & (PG_OP_BITS - 1);
	} else if ((bit = pg_walk_entry())) {
		/* A path walk no syscall hook named (a symlink, a climb,
		 * procfs elsewhere, io_uring): proc_walk.bpf.h. */
		kind = PG_OP_PROC_ACCESS;
		ev = pg_walk_event(child, bit);
		ret = pg_lsm_decide(child, kind, bit, ev);
		if (ev)
			pg_walk_event_done(ev, ret);
		return ret;
	} else {
		ev = 0;
		if (mode & PG_PTRACE_MODE_ATTACH) {
			kind = PG_OP_PTRACE;
			bit = PG_PTRACE_BIT_OTHER;
		} else {
			kind = PG_OP_PROC_ACCESS;
			bit = PG_PROC_NONE;
		}
	}
	return pg_lsm_decide(child, kind, bit, ev);
}

#endif
