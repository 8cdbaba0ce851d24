/* SPDX-License-Identifier: GPL-2.0 */
/* Maps and helpers shared by every hook. */
#ifndef PODGUARD_COMMON_BPF_H
#define PODGUARD_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "podguard.h"

#ifndef EPERM
#define EPERM 1
#endif

/* Set by the daemon before load. */
const volatile __u32 pg_agent_tgid = 0;
/* Signals a process sends itself are not cross-process activity; off by default. */
const volatile __u8 pg_report_self = 0;

/* A syscall between its entry and exit tracepoints, keyed by tid. The value
 * is the event itself, so the exit hook only sets the result and copies it.
 * Most live in pg_inflight_slots, an array indexed by the tid's low bits: no
 * hashing and no bucket lock (which disables interrupts, dear in a VM: the
 * hash cost a /proc open about 4% of its time). A tid whose slot another tid
 * holds goes to the pg_inflight hash instead. */
union pg_any_event {
	struct pg_header hdr;
	struct pg_act_head act; /* any act kind's parties */
	struct pg_signal_event signal;
	struct pg_ptrace_event ptrace;
	struct pg_proc_access_event proc;
	struct pg_process_event process;
};

struct pg_inflight_slot {
	/* Owner; 0: free (tid 0 is the idle task, never in a syscall). 64 bits:
	 * what compare-and-swap takes below BPF ISA v3. */
	__u64 tid;
	union pg_any_event ev;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_INFLIGHT_SLOTS);
	__type(key, __u32);
	__type(value, struct pg_inflight_slot);
} pg_inflight_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, union pg_any_event);
} pg_inflight SEC(".maps");

/* Per-CPU scratch space: events are too large for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union pg_any_event);
} pg_scratch SEC(".maps");

#include "transport.bpf.h"

/* In-kernel process cache: (pid namespace, number) -> host task, and host
 * tgid -> process identity. Kept by the lifecycle hooks, seeded by the daemon
 * from /proc at start. LRU so a missed exit can never fill it for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct pg_pid_key);
	__type(value, struct pg_pid_value);
} pg_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, __u32);
	__type(value, struct pg_task);
} pg_procs SEC(".maps");

static __always_inline union pg_any_event *pg_scratch_event(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pg_scratch, &zero);
}

/* ---- task identity ---------------------------------------------------- */

/* The initial pid namespace's inode (PROC_PID_INIT_INO): the host's. */
#define PG_INIT_PIDNS 0xEFFFFFFCU

/* A field chain read with a helper call per pointer (BPF_CORE_READ), for
 * any task, or as direct loads through the current task's BTF pointer: the
 * verifier makes those plain memory reads that cannot fault, and an event
 * filled its source with about twenty helper calls before. */
#define PG_READ_PROBED(src, ...) BPF_CORE_READ(src, __VA_ARGS__)
#define PG_READ_BTF(src, ...) ___arrow(src, __VA_ARGS__)

static __always_inline struct upid pg_upid_at(struct pid *pid, unsigned int lvl)
{
	struct upid up = {};

	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[lvl]);
	return up;
}

/* Pid namespace a pid at level is interpreted in (its innermost one). The
 * initial one's inode is known: no reads. */
static __always_inline __u32 pg_pidns_at(struct pid *pid, unsigned int level)
{
	struct upid up;

	if (level == 0)
		return PG_INIT_PIDNS;
	up = pg_upid_at(pid, level);
	return BPF_CORE_READ(up.ns, ns.inum);
}

static __always_inline __u32 pg_task_pidns(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);

	return pg_pidns_at(pid, BPF_CORE_READ(pid, level));
}

static __always_inline __u32 pg_current_pidns(void)
{
	struct pid *pid = bpf_get_current_task_btf()->thread_pid;

	return pg_pidns_at(pid, pid->level);
}

static __always_inline __u64 pg_task_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

/* One list of what a pg_task holds, for both ways of reading a task. A task
 * of the initial pid namespace (the host's) has its host ids as its own and
 * needs no read of its upid: each probe read costs about 30 ns. Threads of a
 * process share its pid namespace, so the leader's level is the task's. comm
 * is copied whole rather than as a string: the kernel keeps it NUL-padded,
 * and the fixed-size copy is the cheaper helper. */
#define PG_FILL_TASK(t, task, RD)                                                                  \
	do {                                                                                       \
		struct task_struct *leader_ = RD(task, group_leader);                              \
		struct pid *pid_ = RD(task, thread_pid);                                           \
		unsigned int level_ = RD(pid_, level);                                             \
                                                                                                   \
		(t)->tid = RD(task, pid);                                                          \
		(t)->pid = RD(task, tgid);                                                         \
		if (level_ == 0) {                                                                 \
			(t)->ns_tid = (t)->tid;                                                    \
			(t)->ns_pid = (t)->pid;                                                    \
			(t)->pidns = PG_INIT_PIDNS;                                                \
		} else {                                                                           \
			struct pid *lpid_ = RD(leader_, thread_pid);                               \
			struct upid up_ = pg_upid_at(pid_, level_);                                \
			struct upid lup_ = pg_upid_at(lpid_, level_);                              \
                                                                                                   \
			(t)->ns_tid = up_.nr;                                                      \
			(t)->ns_pid = lup_.nr;                                                     \
			(t)->pidns = BPF_CORE_READ(up_.ns, ns.inum);                               \
		}                                                                                  \
		(t)->mntns = RD(task, nsproxy, mnt_ns, ns.inum);                                   \
		(t)->uid = RD(task, real_cred, uid.val);                                           \
		(t)->euid = RD(task, cred, euid.val);                                              \
		(t)->start_ns = RD(leader_, start_boottime);                                       \
		(t)->ppid = RD(task, real_parent, tgid);                                           \
		(t)->cgroup_id = RD(task, cgroups, dfl_cgrp, kn, id);                              \
		bpf_probe_read_kernel((t)->comm, sizeof((t)->comm), &leader_->comm);               \
	} while (0)

static __always_inline void pg_fill_task(struct pg_task *t, struct task_struct *task)
{
	PG_FILL_TASK(t, task, PG_READ_PROBED);
}

static __always_inline void pg_fill_current(struct pg_task *t)
{
	struct task_struct *task = bpf_get_current_task_btf();

	PG_FILL_TASK(t, task, PG_READ_BTF);
}

/* Resolve a pid the caller named, as seen from the caller's pid namespace,
 * through the process cache. Returns 0 when unknown. */
static __always_inline int pg_resolve_pid(__u32 pidns, __s32 nr, struct pg_pid_value *out)
{
	struct pg_pid_key key = {.pidns = pidns, .nr = (__u32)nr};
	struct pg_pid_value *v;

	if (nr <= 0)
		return 0;
	v = bpf_map_lookup_elem(&pg_pids, &key);
	if (!v)
		return 0;
	*out = *v;
	return 1;
}

/* Fill an event's target from a resolved pid. */
static __always_inline int pg_fill_target_from_pid(struct pg_task *target, const struct pg_pid_value *pv)
{
	struct pg_task *proc = bpf_map_lookup_elem(&pg_procs, &pv->tgid);

	if (!proc)
		return 0;
	*target = *proc;
	target->tid = pv->tid;
	target->ns_tid = pv->ns_tid;
	return 1;
}

/* Fill an event's target from the process cache. */
static __always_inline int pg_fill_target_from_cache(struct pg_task *target, __u32 pidns, __s32 nr)
{
	struct pg_pid_value pv;

	return pg_resolve_pid(pidns, nr, &pv) && pg_fill_target_from_pid(target, &pv);
}

/* Whether nr, as the caller would name a task in its own pid namespace, is
 * the calling thread or its process: compared with the caller's own ids,
 * no cache lookup. Other threads of the process are not recognised here. */
static __always_inline int pg_names_current(__s32 nr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pid *pid = task->thread_pid;
	__u32 own = 0; /* one variable for both reads: one stack slot for the verifier */

	if (nr <= 0)
		return 0;
	if (pid->level == 0) {
		/* The initial namespace's numbers are the task's own: no read.
		 * The barriers keep clang from merging these loads with the
		 * reads below into one instruction on two kinds of pointer,
		 * which the verifier rejects. */
		__u32 tid = task->pid, tgid = task->tgid;

		barrier_var(tid);
		barrier_var(tgid);
		return (__u32)nr == tid || (__u32)nr == tgid;
	}
	bpf_probe_read_kernel(&own, sizeof(own), &pid->numbers[pid->level].nr);
	if (own == (__u32)nr)
		return 1;
	pid = task->group_leader->thread_pid;
	bpf_probe_read_kernel(&own, sizeof(own), &pid->numbers[pid->level].nr);
	return own == (__u32)nr;
}

static __always_inline int pg_is_current_process(const struct pg_pid_value *pv)
{
	return pv->tgid == (__u32)(bpf_get_current_pid_tgid() >> 32);
}

/* How many remembered syscalls each tid slot holds. Every syscall exit
 * passes through here; an inlined array load lets the exits with nothing
 * remembered (nearly all of them) skip any lookup. Slots are shared by tids
 * equal modulo the size, which only costs those an extra lookup. Events kept
 * in the pg_inflight hash count PG_PENDING_HASHED each, so that a lookup can
 * tell when the hash has nothing to look for. */
#define PG_PENDING_SLOTS 65536
#define PG_PENDING_HASHED (1u << 16)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_PENDING_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} pg_pending SEC(".maps");

static __always_inline __u32 *pg_pending_slot(__u32 tid)
{
	__u32 slot = tid & (PG_PENDING_SLOTS - 1);

	return bpf_map_lookup_elem(&pg_pending, &slot);
}

/* A task outside the host's pid or mount namespace (the host's: those of
 * the initial pid namespace's init). What arms a process at exec
 * (PG_TASK_ARMED), and what stands for the flag where the cache has no entry. */
__u32 pg_host_mntns = 0; /* as the hooks below last read it */

static __always_inline int pg_container_side(struct task_struct *task, __u32 pidns, __u32 mntns)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	struct pid_namespace *init = 0;

	if (pidns != PG_INIT_PIDNS)
		return 1;
	bpf_probe_read_kernel(&init, sizeof(init), &pid->numbers[0].ns);
	pg_host_mntns = BPF_CORE_READ(init, child_reaper, nsproxy, mnt_ns, ns.inum);
	return mntns != pg_host_mntns;
}

/* The same from the value the lifecycle hooks keep: no reads, for the
 * decision, whose call chains have no stack to spare on 6.1. Before any
 * hook ran (never, once a process has forked), everything is a container. */
static __always_inline int pg_container_side_kept(__u32 pidns, __u32 mntns)
{
	return pidns != PG_INIT_PIDNS || !pg_host_mntns || mntns != pg_host_mntns;
}

/* A process' identity changes without an exec when it joins another cgroup
 * (a runtime moving it into a container's), another mount namespace, takes
 * another uid or name. Targets are named from pg_procs, so each such change
 * is written there as it happens; PG_TASK_ARMED stays as it was. A function
 * of its own: its record would add to the syscall exit's stack (512 bytes
 * for a whole call chain on 6.1). */
static __noinline void pg_refresh_proc(struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct pg_task t = {}, *old = bpf_map_lookup_elem(&pg_procs, &tgid);

	pg_fill_task(&t, leader);
	t.flags = old ? old->flags : pg_container_side(task, t.pidns, t.mntns) * PG_TASK_ARMED;
	if (bpf_map_update_elem(&pg_procs, &tgid, &t, BPF_ANY))
		pg_count_lost(PG_EV_FORK, PG_LOST_PROC_MAP_FULL);
}

static __always_inline struct pg_inflight_slot *pg_inflight_slot(__u32 tid)
{
	__u32 slot = tid & (PG_INFLIGHT_SLOTS - 1);

	return bpf_map_lookup_elem(&pg_inflight_slots, &slot);
}

/* Remember a syscall until its exit; the scratch event becomes the value. */
static __always_inline void pg_inflight_store(union pg_any_event *ev)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pg_inflight_slot *s = pg_inflight_slot(tid);
	__u32 *pending = pg_pending_slot(tid);

	if (s) {
		if (s->tid == tid) {
			/* A leftover of this tid (an exit we never saw): replace it. */
			pg_event_copy(&s->ev, ev);
			return;
		}
		if (s->tid == 0 && __sync_val_compare_and_swap(&s->tid, 0, (__u64)tid) == 0) {
			pg_event_copy(&s->ev, ev);
			if (pending)
				__sync_fetch_and_add(pending, 1);
			return;
		}
	}
	if (bpf_map_update_elem(&pg_inflight, &tid, ev, BPF_NOEXIST)) {
		if (bpf_map_update_elem(&pg_inflight, &tid, ev, BPF_ANY))
			pg_count_lost(ev->hdr.kind, PG_LOST_INFLIGHT_FULL);
		return;
	}
	if (pending)
		__sync_fetch_and_add(pending, PG_PENDING_HASHED);
}

/* The remembered event of a tid, or NULL. */
static __always_inline union pg_any_event *pg_inflight_lookup(__u32 tid)
{
	struct pg_inflight_slot *s = pg_inflight_slot(tid);
	__u32 *pending;

	if (s && s->tid == tid)
		return &s->ev;
	pending = pg_pending_slot(tid);
	if (!pending || *pending < PG_PENDING_HASHED)
		return 0;
	return bpf_map_lookup_elem(&pg_inflight, &tid);
}

/* For exits that must run without a remembered event (identity changes). */
static __always_inline void pg_pending_add(__u32 tid, int delta)
{
	__u32 *pending = pg_pending_slot(tid);

	if (pending && (delta > 0 || (*pending & (PG_PENDING_HASHED - 1))))
		__sync_fetch_and_add(pending, delta);
}

static __always_inline int pg_maybe_pending(__u32 tid)
{
	__u32 *pending = pg_pending_slot(tid);

	return pending && *pending;
}

static __always_inline void pg_inflight_forget(__u32 tid)
{
	struct pg_inflight_slot *s = pg_inflight_slot(tid);
	__u32 *pending;

	if (s && s->tid == tid) {
		s->tid = 0;
		pg_pending_add(tid, -1);
		return;
	}
	pending = pg_pending_slot(tid);
	if (pending && *pending >= PG_PENDING_HASHED && !bpf_map_delete_elem(&pg_inflight, &tid))
		__sync_fetch_and_add(pending, -PG_PENDING_HASHED);
}

/* At syscall exit: set the result and send the remembered event. */
static __always_inline void pg_inflight_finish(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	union pg_any_event *ev;

	if (!pg_maybe_pending(tid))
		return;
	ev = pg_inflight_lookup(tid);
	if (!ev)
		return;
	ev->hdr.result = ret;
	pg_submit(ev);
	pg_inflight_forget(tid);
}

static __always_inline int pg_is_agent(void)
{
	return pg_agent_tgid && (bpf_get_current_pid_tgid() >> 32) == pg_agent_tgid;
}

#endif
