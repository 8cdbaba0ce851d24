/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Part of podguard.h (include that), at its end. */
#ifndef PODGUARD_LAYOUT_H
#define PODGUARD_LAYOUT_H

/* ---- the layout contract ------------------------------------------------
 * Checked by both compilers that read this header (clang for the BPF target,
 * g++ for the daemon): a field added, reordered or padded differently fails
 * the build on the side that disagrees instead of garbling records.
 * The act kinds share one head {hdr, source, target} (struct pg_act_head),
 * so that code that only needs the parties (the policy decision) reads any
 * act alike. */
#ifdef __cplusplus
#define PG_LAYOUT_ASSERT(cond, what) static_assert(cond, what)
#else
#define PG_LAYOUT_ASSERT(cond, what) _Static_assert(cond, what)
#endif
#define PG_ASSERT_SIZE(type, n) PG_LAYOUT_ASSERT(sizeof(struct type) == (n), "size of " #type)
#define PG_ASSERT_OFFSET(type, field, n)                                                           \
	PG_LAYOUT_ASSERT(__builtin_offsetof(struct type, field) == (n), "offset of " #type "." #field)
#define PG_ASSERT_PARTIES(type)                                                                    \
	PG_ASSERT_OFFSET(type, hdr, 0);                                                            \
	PG_ASSERT_OFFSET(type, source, sizeof(struct pg_header));                                  \
	PG_ASSERT_OFFSET(type, target, sizeof(struct pg_header) + sizeof(struct pg_task))

PG_ASSERT_SIZE(pg_task, 72);
PG_ASSERT_OFFSET(pg_task, cgroup_id, 32);
PG_ASSERT_OFFSET(pg_task, flags, 52);
PG_ASSERT_OFFSET(pg_task, comm, 56);
PG_ASSERT_SIZE(pg_header, 48);
PG_ASSERT_OFFSET(pg_header, first_ns, 40);
PG_ASSERT_OFFSET(pg_header, result, 16);
PG_ASSERT_OFFSET(pg_header, policy_rule, 24);
PG_ASSERT_SIZE(pg_act_head, 48 + 2 * 72);
PG_ASSERT_PARTIES(pg_act_head);
PG_ASSERT_PARTIES(pg_signal_event);
PG_ASSERT_PARTIES(pg_ptrace_event);
PG_ASSERT_PARTIES(pg_proc_access_event);
PG_ASSERT_SIZE(pg_signal_event, 208);
PG_ASSERT_SIZE(pg_ptrace_event, 208);
PG_ASSERT_OFFSET(pg_proc_access_event, path, 208);
PG_ASSERT_SIZE(pg_proc_access_event, 464);
PG_ASSERT_OFFSET(pg_process_event, filename, 128);
PG_ASSERT_SIZE(pg_process_event, 640);
PG_ASSERT_SIZE(pg_pid_key, 8);
PG_ASSERT_SIZE(pg_pid_value, 16);
PG_ASSERT_SIZE(pg_lost_counters, 8 * PG_EV_KIND_MAX * PG_LOST_REASON_MAX);
PG_ASSERT_SIZE(pg_rule_set, 8 * PG_RULE_WORDS);
PG_ASSERT_SIZE(pg_enforce_config, 8);
PG_ASSERT_SIZE(pg_policy_gen, 8 + 18 * 8 * PG_RULE_WORDS);
PG_ASSERT_SIZE(pg_rule, 8);
PG_ASSERT_SIZE(pg_cgroup_key, 16);
PG_ASSERT_OFFSET(pg_cgroup_info, src, 16);
PG_ASSERT_SIZE(pg_cgroup_info, 16 + 2 * 8 * PG_RULE_WORDS);

#endif /* PODGUARD_LAYOUT_H */
