/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one header shared by the BPF programs and the daemon: every struct and
 * enum that crosses the kernel/user boundary (ring buffer records, map keys
 * and values) is defined here and nowhere else, but for two parts it
 * includes: the long value list of enum pg_syscall (podguard_syscalls.h) and
 * the compile-time checks of the layout (podguard_layout.h). Include this
 * header, never those.
 *
 * Layout rules: fixed-width types only, explicit padding, no pointers, so that
 * clang (BPF target) and g++ (x86_64) agree on every offset.
 */
#ifndef PODGUARD_H
#define PODGUARD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PG_COMM_LEN 16
#define PG_PATH_LEN 256
#define PG_ARGS_LEN 256
#define PG_MAX_PID_LEVELS 4
/* Syscalls between entry and exit are kept in an array indexed by the tid's
 * low bits; a tid whose slot is taken goes to a hash (tests aim at both). */
#define PG_INFLIGHT_SLOTS 8192

enum pg_event_kind {
	PG_EV_SIGNAL = 1,
	PG_EV_PTRACE = 2,
	PG_EV_PROC_ACCESS = 3,
	PG_EV_FORK = 4,
	PG_EV_EXEC = 5,
	PG_EV_EXIT = 6,
	PG_EV_KIND_MAX = 7,
};

#include "podguard_syscalls.h" /* enum pg_syscall */

/* /proc/<pid>/<entry> names the agent watches; the daemon fills the
 * pg_proc_entries map with the hash of each name. */
enum pg_proc_entry {
	PG_PROC_NONE = 0,
	PG_PROC_ROOT,
	PG_PROC_CWD,
	PG_PROC_EXE,
	PG_PROC_ENVIRON,
	PG_PROC_CMDLINE,
	PG_PROC_MEM,
	PG_PROC_MAPS,
	PG_PROC_SMAPS,
	PG_PROC_SMAPS_ROLLUP,
	PG_PROC_NUMA_MAPS,
	PG_PROC_PAGEMAP,
	PG_PROC_FD,
	PG_PROC_FDINFO,
	PG_PROC_MAP_FILES,
	PG_PROC_AUXV,
	PG_PROC_STACK,
	PG_PROC_SYSCALL,
	PG_PROC_WCHAN,
	PG_PROC_IO,
	PG_PROC_NS,
	PG_PROC_MOUNTINFO,
	PG_PROC_MOUNTS,
	PG_PROC_MOUNTSTATS,
	PG_PROC_PERSONALITY,
	PG_PROC_TIMERS,
	PG_PROC_ATTR,
	PG_PROC_ENTRY_MAX,
};

/* Values of pg_proc_names besides the entries: names the path parser needs
 * ("thread-self" maps to PG_NAME_SELF too). */
#define PG_NAME_PROC 1000
#define PG_NAME_SELF 1001
#define PG_NAME_TASK 1002

/* What enforcement did. */
enum pg_action {
	PG_ACT_ALLOWED = 0,
	PG_ACT_AUDITED = 1,
	PG_ACT_BLOCKED = 2, /* denied by the BPF LSM: never happened */
	PG_ACT_KILLED = 3,  /* offender SIGKILLed at syscall entry: may have happened */
};

/* Result of signal:signal_generate (the kernel's TRACE_SIGNAL_*), +1 so
 * that 0 means "no signal was generated" (sig 0, permission denied...). */
enum pg_delivery {
	PG_DELIVERY_NONE = 0,
	PG_DELIVERY_DELIVERED = 1,
	PG_DELIVERY_IGNORED = 2,
	PG_DELIVERY_ALREADY_PENDING = 3,
	PG_DELIVERY_OVERFLOW_FAIL = 4,
	PG_DELIVERY_LOSE_INFO = 5,
};

enum pg_event_flags {
	PG_F_TARGET_KNOWN = 1 << 0,   /* target struct is filled */
	PG_F_PATH_TRUNCATED = 1 << 1, /* path longer than PG_PATH_LEN */
	PG_F_EXTRA_TARGET = 1 << 2,   /* 2nd+ target of a group/broadcast kill */
	PG_F_PATH_RELATIVE = 1 << 3,  /* path was resolved against cwd or dirfd */
	/* The path's page was not resident at syscall entry (a BPF tracepoint
	 * cannot fault it in), so it was read after the kernel had copied it:
	 * the decision came at exit, after the operation. */
	PG_F_READ_AT_EXIT = 1 << 4,
	PG_F_STACKS = 1 << 5, /* user_stack_id and kernel_stack_id are set */
	/* The first act of its aggregation tuple (bpf/transport.bpf.h): later
	 * identical acts within the window are counted, not sent one by one. */
	PG_F_FIRST = 1 << 6,
	/* A summary: stands for hdr.count identical acts, the first at
	 * hdr.first_ns and the last at time_ns; the tuple's fields are those of
	 * its first act (the tid, time and target_arg are the first act's). */
	PG_F_SUMMARY = 1 << 7,
	/* Identified from the object the kernel reached (the file opened, the
	 * cwd entered, the task the LSM check named), not from the path's
	 * spelling: symlinks, climbs, procfs mounted elsewhere, bind mounts. */
	PG_F_BY_OBJECT = 1 << 8,
	/* The deciding rule names containers (name, pod, namespace, labels) and
	 * a side was a container the daemon had not identified yet: the rule's
	 * posture for the unidentified decided (bpf/enforce.bpf.h). */
	PG_F_UNIDENTIFIED = 1 << 9,
};

/* Why an event could not be delivered to user space. */
enum pg_lost_reason {
	PG_LOST_RINGBUF_FULL = 0,
	PG_LOST_INFLIGHT_FULL = 1, /* syscall entry could not be remembered */
	PG_LOST_PROC_MAP_FULL = 2, /* in-kernel process cache update failed */
	/* A path unreadable at entry that could not be read at exit either
	 * (an exec replaced the memory, a relative chdir moved the base). */
	PG_LOST_PATH_UNREADABLE = 3,
	/* The source's cgroup had spent its share of the ring buffers
	 * (per-container fairness, bpf/transport.bpf.h). */
	PG_LOST_RATE_LIMITED = 4,
	PG_LOST_REASON_MAX = 5,
};

/* One row of pg_syscall_hooks (bpf/syscalls.bpf.h): a syscall whose
 * syscalls:sys_enter_<name> / sys_exit_<name> tracepoints the loader attaches
 * pg_sys_enter / pg_sys_exit to. */
#define PG_SYSCALL_NAME_LEN 32
#define PG_HOOK_ENTER 1
#define PG_HOOK_EXIT 2

struct pg_syscall_hook {
	char name[PG_SYSCALL_NAME_LEN]; /* as in the tables: upper case */
	__s32 nr;                       /* negative: not a syscall on this architecture */
	__u32 hooks;                    /* PG_HOOK_* */
};

/* One side of an event: a thread and the process it belongs to. */
struct pg_task {
	__u32 pid;    /* host tgid */
	__u32 tid;    /* host tid */
	__u32 ns_pid; /* tgid in its own (innermost) pid namespace */
	__u32 ns_tid;
	__u32 uid;
	__u32 euid;
	__u32 pidns; /* pid namespace inode */
	__u32 mntns; /* mount namespace inode */
	__u64 cgroup_id;  /* cgroup v2 (default hierarchy) id */
	__u64 start_ns;   /* process start, CLOCK_BOOTTIME ns: (pid, start) is unique */
	__u32 ppid;       /* host tgid of the real parent */
	__u32 flags;      /* PG_TASK_*: meaningful in pg_procs only */
	char comm[PG_COMM_LEN];
};

/* pg_task.flags. ARMED: the process runs a container's code: it, or the
 * process it was forked from, exec'd a binary while outside the host's pid or
 * mount namespace (a container's entrypoint, a `podman exec` command). Sticky
 * across fork and every later exec, setns and cgroup move. The posture for an
 * unidentified container applies to an armed source only: a runtime's setup
 * (runc init joining the pod's namespaces) runs before that exec. */
#define PG_TASK_ARMED 0x1

struct pg_header {
	__u64 time_ns; /* CLOCK_BOOTTIME */
	__u16 kind;    /* enum pg_event_kind */
	__u16 syscall; /* enum pg_syscall */
	__u8 action;   /* enum pg_action */
	__u8 pad0;
	__u16 flags; /* enum pg_event_flags */
	__s64 result; /* syscall return value (negative errno) */
	__u32 policy_rule; /* rule id that decided the action, 0 = default */
	/* With PG_F_STACKS: ids in pg_stacks (bpf/stack.bpf.h) of the source's
	 * user and kernel stack at the hook; negative: bpf_get_stackid's error. */
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	/* Acts this record stands for: 1, or a summary's count (PG_F_SUMMARY). */
	__u32 count;
	__u64 first_ns; /* a summary's first act, CLOCK_BOOTTIME; else 0 */
};

/* The head of every act record (signal, ptrace, /proc access): code that
 * needs only the parties (the policy decision, aggregation, fairness) reads
 * any act through it (union pg_any_event's act). The records repeat its
 * fields rather than embed it, so that each kind's fields stay one member
 * access away; podguard_layout.h checks that they agree. */
struct pg_act_head {
	struct pg_header hdr;
	struct pg_task source;
	struct pg_task target;
};

struct pg_signal_event {
	struct pg_header hdr;
	struct pg_task source;
	struct pg_task target;
	__s32 sig;
	__s32 target_arg; /* pid (or tgid) as the sender named it */
	__s32 tid_arg;    /* tid argument of tgkill/rt_tgsigqueueinfo */
	__u16 delivery;   /* enum pg_delivery */
	__u16 ntargets;   /* processes hit by a group/broadcast kill */
};

struct pg_ptrace_event {
	struct pg_header hdr;
	struct pg_task source;
	struct pg_task target;
	__s64 request; /* ptrace request; 0 for process_vm_* */
	__s32 target_arg;
	__u32 pad;
};

struct pg_proc_access_event {
	struct pg_header hdr;
	struct pg_task source;
	struct pg_task target;
	__s32 target_arg; /* pid as named in the path (its /proc's namespace) */
	__s32 dirfd;
	__u16 entry; /* enum pg_proc_entry */
	__u16 path_len;
	__u32 pad;
	char path[PG_PATH_LEN]; /* as given; relative paths are as given too */
};

/* fork, exec and exit of processes (not threads). */
struct pg_process_event {
	struct pg_header hdr;
	struct pg_task task;
	__s32 exit_code; /* exit: wait(2) status */
	__u16 filename_len;
	__u16 args_len;
	char filename[PG_PATH_LEN]; /* exec: the binary */
	char args[PG_ARGS_LEN];     /* exec: argv, NUL-separated, maybe truncated */
};

/* In-kernel process cache (Tetragon-style): lets hooks resolve a pid named
 * in some pid namespace to the host task without walking kernel lists. */
struct pg_pid_key {
	__u32 pidns; /* namespace the number is valid in */
	__u32 nr;
};

struct pg_pid_value {
	__u32 tid;
	__u32 tgid;
	__u32 ns_tid; /* tid in the task's own (innermost) pid namespace */
	__u32 pad;
};

/* Per-CPU undelivered-event counters, one slot: [kind][reason]. */
struct pg_lost_counters {
	__u64 count[PG_EV_KIND_MAX][PG_LOST_REASON_MAX];
};

/* ---- flood control (bpf/transport.bpf.h) -------------------------------
 *
 * Identical acts within a window are aggregated; what is sent goes through
 * one of two ring buffers: pg_events_prio for what a flood must not crowd out
 * (policy-matched events, first occurrences, summaries), pg_events for the
 * rest. Each source cgroup draws from its own token buckets for both. */

/* Why an event was sent, for the undelivered-by-class counters. */
enum pg_event_class {
	PG_CLASS_ORDINARY = 0, /* a repeat after a quiet window, aggregation off or table full */
	PG_CLASS_FIRST = 1,    /* first occurrence of its tuple */
	PG_CLASS_POLICY = 2,   /* a rule matched: audited, blocked or killed */
	PG_CLASS_SUMMARY = 3,  /* the count of a window's aggregated acts */
	PG_CLASS_MAX = 4,
};

enum pg_drop_reason {
	PG_DROP_RINGBUF_FULL = 0,
	PG_DROP_RATE_LIMITED = 1,
	PG_DROP_MAX = 2,
};

/* Per-CPU, one slot. Counts are of acts (a lost summary loses its count). */
struct pg_flood_counters {
	__u64 lost[PG_CLASS_MAX][PG_DROP_MAX];
	__u64 sent[PG_CLASS_MAX];  /* records written, by class */
	__u64 aggregated;          /* acts folded into a tuple's pending count */
	__u64 summarized;          /* pending acts handed to a summary (sent or lost) */
	__u64 demoted;             /* priority records sent through pg_events (bucket spent) */
	__u64 table_full;          /* acts sent unaggregated: the tuple table was full */
};

/* pg_agg key: what makes two acts "the same". */
struct pg_agg_key {
	__u64 src_cgroup;
	__u64 path_hash; /* /proc access: the path as given; else 0 */
	__s64 result;
	__s64 detail; /* signal number, ptrace request or /proc entry */
	__u32 src_pid; /* 0 when aggregating by container */
	__u32 tgt_pid; /* 0: unresolved target */
	__u16 kind;
	__u16 syscall;
	__u8 action;
	__u8 pad[3];
};

/* pg_fair value: one source cgroup's token buckets and counters. Credit is
 * in nanoseconds of refill time. */
struct pg_fair_bucket {
	__u64 last_ns;
	__s64 credit_prio;
	__s64 credit_ord;
	__u64 suppressed;  /* acts not sent: the cgroup's buckets were spent */
	__u64 aggregated;  /* acts reported in summaries */
	__u64 demoted;
};

/* Context of the pg_flush program (run by the daemon, never attached). */
struct pg_flush_args {
	__u64 force; /* send every pending count, window closed or not */
};

/* Key of pg_proc_entries: 64-bit FNV-1a of a /proc entry name. */
#define PG_FNV_OFFSET 0xcbf29ce484222325ULL
#define PG_FNV_PRIME 0x100000001b3ULL

/* ---- policy enforcement (bpf/enforce.bpf.h, userspace/enforce/) -------
 *
 * The compiled policy lives in the kernel as bitmaps over rules: bit i of a
 * pg_rule_set is rule i (id i + 1). For one operation the kernel ANDs the set
 * of rules that name the operation, the set for the relation, the set whose
 * source selector matches the source's cgroup, the set whose target selector
 * matches the target's cgroup and the agent constraints; the lowest bit left
 * is the first matching rule. Constant time whatever the rule count.
 *
 * Everything a policy writes exists twice (generation 0 and 1); the daemon
 * fills the inactive one and then flips pg_enforce_config.active_gen. */
#define PG_MAX_RULES 1024
#define PG_RULE_WORDS (PG_MAX_RULES / 64)
#define PG_POLICY_GENS 2
#define PG_OP_KINDS 3 /* == podguard::policy::OperationKind count */
#define PG_OP_BITS 64
#define PG_OP_SLOTS (PG_OP_KINDS * PG_OP_BITS) /* per generation in pg_policy_ops */
#define PG_RELATIONS 8 /* podguard::Relation values 0..6, padded */
#define PG_MAX_CGROUPS 16384

/* == podguard::policy::OperationKind */
enum pg_op_kind {
	PG_OP_SIGNAL = 0,
	PG_OP_PTRACE = 1,
	PG_OP_PROC_ACCESS = 2,
};

/* == podguard::Relation */
enum pg_relation {
	PG_REL_SAME_CONTAINER = 0,
	PG_REL_SAME_POD = 1,
	PG_REL_HOST_TO_CONTAINER = 2,
	PG_REL_CONTAINER_TO_HOST = 3,
	PG_REL_CROSS_POD = 4,
	PG_REL_HOST = 5,
	PG_REL_UNKNOWN = 6,
};

/* ptrace request -> bit, as podguard::policy::ptrace_request_bit. */
#define PG_PTRACE_LOW_MAX 33
#define PG_PTRACE_HIGH_BASE 0x4200
#define PG_PTRACE_HIGH_COUNT 27
#define PG_PTRACE_BIT_OTHER 61
#define PG_PTRACE_BIT_VM_READV 62
#define PG_PTRACE_BIT_VM_WRITEV 63

/* What the hooks do with a `block` decision. */
enum pg_enforce_mode {
	PG_ENFORCE_MONITOR = 0, /* decide and report; block is reported, never applied */
	PG_ENFORCE_KILL = 1,    /* SIGKILL the offender at syscall entry */
	PG_ENFORCE_LSM = 2,     /* deny in the BPF LSM hooks; kill where no hook asks */
};

struct pg_rule_set {
	__u64 w[PG_RULE_WORDS];
};

/* pg_enforce_config[0]. active_gen is read once per decision: flipping it
 * switches every map of the policy at once. */
struct pg_enforce_config {
	__u32 active_gen; /* 0 or 1 */
	__u32 mode;       /* enum pg_enforce_mode */
};

/* pg_policy_gens[gen]: the per-generation sets that do not depend on the op. */
struct pg_policy_gen {
	__u32 rule_count; /* 0: no policy, skip the decision */
	__u32 pad;
	struct pg_rule_set relation[PG_RELATIONS];
	/* Facts of a cgroup without a pg_cgroups entry: a host process. */
	struct pg_rule_set host_src;
	struct pg_rule_set host_tgt;
	/* Rules whose selector needs the party to be / not to be the agent. */
	struct pg_rule_set src_agent;
	struct pg_rule_set src_not_agent;
	struct pg_rule_set tgt_agent;
	struct pg_rule_set tgt_not_agent;
	/* Facts of a container cgroup the daemon has not registered yet (seconds
	 * old): rules whose selector matches it under the rule's posture
	 * (closed: block and audit rules match, allow rules do not; open: only
	 * rules that name no container match). */
	struct pg_rule_set unident_src;
	struct pg_rule_set unident_tgt;
	/* Rules whose selector names containers: a match of an unidentified side
	 * through one of them was the posture's (PG_F_UNIDENTIFIED). */
	struct pg_rule_set ident_src;
	struct pg_rule_set ident_tgt;
};

/* pg_policy_rules[gen * PG_MAX_RULES + i] */
struct pg_rule {
	__u32 id;
	__u8 action; /* enum pg_action: ALLOWED, AUDITED or BLOCKED (= block) */
	__u8 pad[3];
};

/* pg_cgroups keys that are no cgroup: the facts of a cgroup without an entry
 * of its own, a host one or an unidentified container (written with every
 * generation from pg_policy_gen's host_* and unident_* sets). One kind of
 * pointer for the decision to follow whatever the case. */
#define PG_CGROUP_KEY_HOST (~0ULL)
#define PG_CGROUP_KEY_UNIDENTIFIED (~0ULL - 1)

struct pg_cgroup_key {
	__u64 cgroup_id;
	__u32 gen;
	__u32 pad;
};

/* What the daemon knows about one cgroup, for one policy generation. */
struct pg_cgroup_info {
	__u32 pod_id;       /* daemon-assigned per pod; 0 = unknown pod */
	__u32 container_id; /* daemon-assigned per container; 0 = the cgroup is the container */
	__u8 in_container;
	/* A container whose name and pod the daemon does not know yet: src and
	 * tgt are the generation's unident_src/unident_tgt (posture). */
	__u8 unidentified;
	__u8 pad[6];
	struct pg_rule_set src; /* rules whose source selector matches this cgroup */
	struct pg_rule_set tgt; /* rules whose target selector matches this cgroup */
};

/* pg_cgroup_class[cgroup id]: what the kernel itself concluded about a
 * cgroup a task joined, before the daemon registered it. */
#define PG_CG_CONTAINER 1
/* Ancestors looked at to find a container parent (libpod_parent,
 * kubepods..., machine.slice). */
#define PG_CG_MAX_DEPTH 8

/* pg_guard_stats[0]: stop signals aimed at the agent (bpf/guard.bpf.h). */
struct pg_guard_stats {
	__u64 stops;         /* stop signals generated for the agent that the policy blocks */
	__u64 resumed;       /* followed by a SIGCONT from the kernel */
	__u64 resume_failed; /* the SIGCONT could not be sent (kfunc missing or busy) */
	__u64 allowed_stops; /* stop signals the policy allows (an admin's) */
};
#include "podguard_layout.h" /* the layout checks */

#endif /* PODGUARD_H */
