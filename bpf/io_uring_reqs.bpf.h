/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring requests between submission and completion (io_uring.bpf.h), and
 * the request a task is executing: the LSM hook (proc_walk.bpf.h) folds its
 * decision into the request's event instead of reporting a second one.
 */
#ifndef PODGUARD_IO_URING_REQS_BPF_H
#define PODGUARD_IO_URING_REQS_BPF_H

#include "common.bpf.h"

#define PG_PF_IO_WORKER 0x00000010

/* A request's event decided at submission (hdr.kind set), or an open to be
 * judged by its file at completion (kind 0, path and dirfd kept). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct pg_proc_access_event);
} pg_uring_reqs SEC(".maps");

/* The last request each tid submitted: the one it runs inline, right after
 * io_uring:io_uring_submit_req, inside io_uring_enter. Indexed like
 * pg_pending; a collision only costs the LSM hook a second event. */
struct pg_uring_last {
	__u64 req;
	__u32 tid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_PENDING_SLOTS);
	__type(key, __u32);
	__type(value, struct pg_uring_last);
} pg_uring_last SEC(".maps");

static __always_inline void pg_uring_note_submit(__u64 req)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 slot = tid & (PG_PENDING_SLOTS - 1);
	struct pg_uring_last *l = bpf_map_lookup_elem(&pg_uring_last, &slot);

	if (l) {
		l->req = req;
		l->tid = tid;
	}
}

/* The stored event of the io_uring request the current task runs, or NULL:
 * an io-wq worker's current work, or the request its syscall submitted. */
static __always_inline struct pg_proc_access_event *pg_uring_current_req(void)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 req = 0;

	if (cur->flags & PG_PF_IO_WORKER) {
		struct io_worker *w = cur->worker_private;
		struct io_wq_work *work = BPF_CORE_READ(w, cur_work);

		if (work)
			req = (__u64)((void *)work - bpf_core_field_offset(struct io_kiocb, work));
	} else {
		__u32 slot = tid & (PG_PENDING_SLOTS - 1);
		struct pg_uring_last *l = bpf_map_lookup_elem(&pg_uring_last, &slot);

		if (l && l->tid == tid)
			req = l->req;
	}
	if (!req)
		return 0;
	return bpf_map_lookup_elem(&pg_uring_reqs, &req);
}

#endif
