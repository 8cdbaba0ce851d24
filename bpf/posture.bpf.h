/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who each side of an operation is, for the decision (enforce.bpf.h): a
 * registered cgroup's facts (pg_cgroups), an unidentified container's, or
 * the host's.
 *
 * Containers not identified yet. The daemon registers a container's cgroup
 * (pg_cgroups) from a cgroup-tree scan at start, a watch on cgroup creation
 * and the runtime's events; a process can still act before that. The kernel
 * does not wait for it: a cgroup missing from pg_cgroups is an unidentified
 * container when its process is outside the initial pid namespace, or when a
 * task joined it under a container parent (pg_cgroup_class, set at
 * cgroup_attach_task and exec, below: an ancestor named libpod_parent,
 * machine.slice or kubepods*). Its facts are then the generation's
 * unident_src/unident_tgt: each rule's posture says whether a selector that
 * names containers matches it, and the event carries PG_F_UNIDENTIFIED when
 * that decided.
 *
 * From the container's first exec. As a source, an unidentified container's
 * process is held to the posture only once armed (PG_TASK_ARMED in pg_procs):
 * it, or the process it was forked from, exec'd while outside the host's pid
 * or mount namespace. That is the container's entrypoint, or a `podman exec`
 * command, and no code of the container can run before it. The runtime's own
 * setup in the new cgroup comes before that exec and runs the host's binary
 * in the host's namespaces (runc init opening /proc/<infra>/ns/ipc and the
 * others to join the pod): while not armed and still in the host's pid and
 * mount namespaces, it is judged as the host. The flag is sticky: a
 * container process that later enters the host's namespaces (setns),
 * re-execs, forks or moves to another cgroup stays armed. A process the
 * cache has no entry for is judged by its namespaces at the act alone.
 */
#ifndef PODGUARD_POSTURE_BPF_H
#define PODGUARD_POSTURE_BPF_H

#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PG_MAX_CGROUPS);
	__type(key, struct pg_cgroup_key);
	__type(value, struct pg_cgroup_info);
} pg_cgroups SEC(".maps");

/* Cgroups a task joined under a container parent, not yet registered. LRU:
 * the daemon's registration supersedes an entry, so losing an old one costs
 * nothing once the daemon caught up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PG_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, __u32);
} pg_cgroup_class SEC(".maps");

/* One operation as the decision sees it. */
struct pg_op_facts {
	__u64 src_cgroup;
	__u64 tgt_cgroup;
	__u32 src_pidns;
	__u32 tgt_pidns;
	__u32 src_tgid;
	__u32 tgt_tgid;
	__u32 kind; /* enum pg_op_kind */
	__u32 bit;  /* the operation's bit in the kind's mask */
	__u32 tgt_known;
	__u32 src_mntns;
};

/* A cgroup the daemon has not registered: a container not identified yet
 * when its process is outside the initial pid namespace or the kernel saw a
 * task join it under a container parent; else a host cgroup. */
static __always_inline int pg_unregistered_container(__u64 cgroup_id, __u32 pidns)
{
	if (pidns && pidns != PG_INIT_PIDNS)
		return 1;
	return cgroup_id && bpf_map_lookup_elem(&pg_cgroup_class, &cgroup_id) != 0;
}

/* ---- armed processes (PG_TASK_ARMED) ---------------------------------- */

/* A new process inherits its creator's flag. */
static __always_inline __u32 pg_flags_at_fork(struct task_struct *parent, struct pg_task *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	struct pg_task *p = bpf_map_lookup_elem(&pg_procs, &ptgid);

	if (p)
		return p->flags;
	return pg_container_side(parent, child->pidns, child->mntns) * PG_TASK_ARMED;
}

/* An exec outside the host's namespaces arms; none disarms. Called before
 * the exec hook rewrites the process' entry. */
static __always_inline __u32 pg_flags_at_exec(struct task_struct *task, struct pg_task *t)
{
	struct pg_task *old = bpf_map_lookup_elem(&pg_procs, &t->pid);
	__u32 flags = old ? old->flags : 0;

	if (pg_container_side(task, t->pidns, t->mntns))
		flags |= PG_TASK_ARMED;
	return flags;
}

/* The acting (current) task is its container's runtime at work: not armed,
 * and still in the host's pid and mount namespaces (runc init opens the
 * pod's /proc/<pid>/ns files before it enters any of them). */
static __always_inline int pg_runtime_setup(struct pg_op_facts *op)
{
	struct pg_task *t = bpf_map_lookup_elem(&pg_procs, &op->src_tgid);

	if (t && (t->flags & PG_TASK_ARMED))
		return 0;
	return !pg_container_side_kept(op->src_pidns, op->src_mntns);
}

/* ---- the two sides' facts --------------------------------------------- */

/* The source is the current task. */
static __always_inline struct pg_cgroup_info *pg_source_info(struct pg_cgroup_key *key,
							     struct pg_op_facts *op)
{
	struct pg_cgroup_info *si;
	int container;

	key->cgroup_id = op->src_cgroup;
	si = bpf_map_lookup_elem(&pg_cgroups, key);
	if (si && !si->unidentified)
		return si;
	container = si || pg_unregistered_container(op->src_cgroup, op->src_pidns);
	if (container && pg_runtime_setup(op))
		key->cgroup_id = PG_CGROUP_KEY_HOST;
	else if (si)
		return si;
	else
		key->cgroup_id = container ? PG_CGROUP_KEY_UNIDENTIFIED : PG_CGROUP_KEY_HOST;
	return bpf_map_lookup_elem(&pg_cgroups, key);
}

/* A container being set up is protected as a target from its first moment. */
static __always_inline struct pg_cgroup_info *pg_target_info(struct pg_cgroup_key *key,
							     struct pg_op_facts *op)
{
	struct pg_cgroup_info *ti;

	key->cgroup_id = op->tgt_cgroup;
	ti = bpf_map_lookup_elem(&pg_cgroups, key);
	if (ti)
		return ti;
	key->cgroup_id = op->tgt_known && pg_unregistered_container(op->tgt_cgroup, op->tgt_pidns)
				 ? PG_CGROUP_KEY_UNIDENTIFIED
				 : PG_CGROUP_KEY_HOST;
	return bpf_map_lookup_elem(&pg_cgroups, key);
}

/* ---- containers the kernel recognises before the daemon does ---------- */

/* Names of the cgroups container runtimes create their containers under
 * (podman's cgroupfs and systemd managers, the kubelet's both drivers). */
static __always_inline int pg_is_parent_name(const char *name)
{
	char b[16] = {};

	if (bpf_probe_read_kernel_str(b, sizeof(b), name) <= 0)
		return 0;
	if (b[0] == 'l' && b[1] == 'i' && b[2] == 'b' && b[3] == 'p' && b[4] == 'o' &&
	    b[5] == 'd' && b[6] == '_' && b[7] == 'p' && b[8] == 'a' && b[9] == 'r' &&
	    b[10] == 'e' && b[11] == 'n' && b[12] == 't' && b[13] == 0)
		return 1; /* libpod_parent */
	if (b[0] == 'k' && b[1] == 'u' && b[2] == 'b' && b[3] == 'e' && b[4] == 'p' &&
	    b[5] == 'o' && b[6] == 'd' && b[7] == 's')
		return 1; /* kubepods, kubepods.slice, kubepods-burstable.slice, ... */
	if (b[0] == 'm' && b[1] == 'a' && b[2] == 'c' && b[3] == 'h' && b[4] == 'i' &&
	    b[5] == 'n' && b[6] == 'e' && b[7] == '.' && b[8] == 's' && b[9] == 'l' &&
	    b[10] == 'i' && b[11] == 'c' && b[12] == 'e' && b[13] == 0)
		return 1; /* machine.slice */
	return 0;
}

/* Marks a default-hierarchy cgroup as a container when one of its
 * ancestors is a container parent. Called where a task enters a cgroup
 * (cgroup_attach_task: runc moving its init into a new container) and at
 * exec (a task born into one with clone3(CLONE_INTO_CGROUP)). */
static __always_inline void pg_classify_cgroup(struct cgroup *cg)
{
	__u64 id = BPF_CORE_READ(cg, kn, id);
	__u32 val = PG_CG_CONTAINER;
	struct cgroup *a;

	if (bpf_map_lookup_elem(&pg_cgroup_class, &id))
		return;
	a = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	for (int i = 0; i < PG_CG_MAX_DEPTH && a; i++) {
		struct cgroup *up = (struct cgroup *)BPF_CORE_READ(a, self.parent);

		if (!up)
			return; /* the root: never a parent of containers by name */
		if (pg_is_parent_name(BPF_CORE_READ(a, kn, name))) {
			bpf_map_update_elem(&pg_cgroup_class, &id, &val, BPF_ANY);
			return;
		}
		a = up;
	}
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(pg_cgroup_classify_attach, struct cgroup *dst, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	/* On a hybrid machine every hierarchy fires; only cgroup2 ids count. */
	if (BPF_CORE_READ(task, cgroups, dfl_cgrp) != dst)
		return 0;
	pg_classify_cgroup(dst);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(pg_cgroup_classify_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	pg_classify_cgroup(BPF_CORE_READ(task, cgroups, dfl_cgrp));
	return 0;
}

#endif
