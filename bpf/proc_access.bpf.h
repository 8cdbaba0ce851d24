/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Access to another process through /proc/<pid>/<entry>, judged by its
 * spelling at the entry of every path syscall (PG_PATH_SYSCALLS): absolute,
 * or relative to a cwd or dirfd that is inside procfs. An open or chdir whose
 * spelling names nothing is judged again at exit by what it reached
 * (proc_object.bpf.h).
 *
 * Cost matters here: openat runs everywhere. The entry hook reads at most 8
 * bytes of an ordinary absolute path and returns; only paths that start
 * like "/proc", odd absolute forms ("//", "/."), and relative paths whose base
 * is on procfs are parsed in full.
 */
#ifndef PODGUARD_PROC_ACCESS_BPF_H
#define PODGUARD_PROC_ACCESS_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"
#include "proc_object.bpf.h"
#include "proc_path.bpf.h"

/* A path whose page was not resident at entry, to be read again at exit. */
struct pg_path_retry {
	__u64 upath;
	__s32 dirfd;
	__u16 syscall;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pg_path_retry);
} pg_path_retries SEC(".maps");

static __always_inline void pg_path_retry_later(__u16 syscall, __s32 dirfd, const char *upath)
{
	struct pg_path_retry r = {.upath = (__u64)upath, .dirfd = dirfd, .syscall = syscall};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (bpf_map_update_elem(&pg_path_retries, &tid, &r, BPF_ANY)) {
		pg_count_lost(PG_EV_PROC_ACCESS, PG_LOST_INFLIGHT_FULL);
		return;
	}
	pg_pending_add(tid, 1);
}

/* What pg_proc_parse left behind. */
#define PG_PARSE_NONE 0
#define PG_PARSE_EVENT 1 /* the scratch event holds an access to report */
#define PG_PARSE_RETRY 2 /* the path was not resident: read again at exit */
/* flags: 0 at syscall entry, PG_F_READ_AT_EXIT on the retry at exit;
 * PG_PATH_KERNEL: upath is a kernel copy (io_uring's struct filename). */

static __always_inline long pg_read_path_str(void *dst, __u32 size, const char *path, __u32 flags)
{
	if (flags & PG_PATH_KERNEL)
		return bpf_probe_read_kernel_str(dst, size, path);
	return bpf_probe_read_user_str(dst, size, path);
}

/* Global, so that the verifier checks it once rather than once for each
 * PG_PATH_SYSCALLS row (and io_uring opcode) that calls it. */
__noinline int pg_proc_parse(__u16 syscall, __s32 dirfd, __u64 upath_addr, __u32 flags)
{
	const char *upath = (const char *)upath_addr;
	char head[8] = {};
	union pg_any_event *ev;
	struct pg_proc_access_event *p;
	struct pg_loop_ctx lctx;
	struct pg_path_state *st;
	struct pg_pathbuf *pb;
	struct dentry *base = 0;
	__u32 zero = 0;
	int off = 0;
	__u32 pidns = 0;
	long n;
	__s32 pid;
	struct pg_pid_value pv;
	int resolved;
	__u16 entry;
	int is_tid;
	int named_self = 0;

	n = pg_read_path_str(head, sizeof(head), upath, flags);
	if (n < 0) {
		/* Not resident: a path string in a page nobody touched yet (a
		 * fresh binary's rodata, an untouched file mapping). The kernel
		 * faults it in while copying it, so it is readable at exit. */
		if (pg_is_agent())
			return PG_PARSE_NONE;
		if (flags & PG_F_READ_AT_EXIT) {
			pg_count_lost(PG_EV_PROC_ACCESS, PG_LOST_PATH_UNREADABLE);
			return PG_PARSE_NONE;
		}
		pg_path_retry_later(syscall, dirfd, upath);
		return PG_PARSE_RETRY;
	}
	if (n <= 1)
		return PG_PARSE_NONE;
	if (head[0] == '/') {
		if (head[1] == 'p') {
			if (!(head[2] == 'r' && head[3] == 'o' && head[4] == 'c' &&
			      (head[5] == '/' || head[5] == 0)))
				return PG_PARSE_NONE;
		} else if (head[1] != '/' && head[1] != '.') {
			return PG_PARSE_NONE;
		}
	} else {
		base = pg_procfs_base(dirfd, &pidns);
		if (!base)
			return PG_PARSE_NONE;
	}
	if (pg_is_agent())
		return PG_PARSE_NONE;

	ev = pg_scratch_event();
	if (!ev)
		return PG_PARSE_NONE;
	p = &ev->proc;
	n = pg_read_path_str(p->path, sizeof(p->path), upath, flags);
	if (n <= 0)
		return PG_PARSE_NONE;
	if (!base && (entry = pg_parse_simple(p->path, &pid))) {
		is_tid = 0;
		goto parsed;
	}
	pb = bpf_map_lookup_elem(&pg_pathbufs, &zero);
	if (!pb)
		return PG_PARSE_NONE;
	st = &pb->st;
	__builtin_memset(st, 0, sizeof(*st));
	if (base) {
		off = pg_compose_base(pb, base);
		if (off < 0)
			return PG_PARSE_NONE;
		st->tok[0] = PG_TOK_PROC;
		st->depth = 1;
	}
	/* The path was just copied from user memory; copy that copy (with its
	 * NUL) rather than read user memory a second time. */
	if (bpf_probe_read_kernel(&pb->text[off & (PG_PATH_LEN - 1)], PG_PATH_LEN, p->path))
		return PG_PARSE_NONE;
	pb->text[(off + PG_PATH_LEN - 1) & (2 * PG_PATH_LEN - 1)] = 0;
	pg_comp_reset(st);
	lctx.pb = pb;
	bpf_loop((off + n + PG_PATH_CHUNK - 1) / PG_PATH_CHUNK, pg_path_step, &lctx, 0);

	/* [proc, pid|self, entry] or [proc, pid|self, task, tid, entry] */
	if (st->overflow || st->depth < 3 || st->tok[0] != PG_TOK_PROC)
		return PG_PARSE_NONE;
	if (st->tok[2] == PG_TOK_ENTRY) {
		entry = st->val[2];
		pid = st->val[1];
		is_tid = 0;
	} else if (st->depth >= 5 && st->tok[2] == PG_TOK_TASK && st->tok[3] == PG_TOK_TID &&
		   st->tok[4] == PG_TOK_ENTRY) {
		entry = st->val[4];
		pid = st->val[3];
		is_tid = 1;
	} else {
		return PG_PARSE_NONE;
	}
	named_self = st->tok[1] == PG_TOK_SELF && !is_tid;
	if (named_self && !pg_report_self)
		return PG_PARSE_NONE;

parsed:
	__builtin_memset(&p->hdr, 0, sizeof(p->hdr));
	__builtin_memset(&p->source, 0, sizeof(p->source) + sizeof(p->target));
	p->hdr.kind = PG_EV_PROC_ACCESS;
	p->hdr.syscall = syscall;
	p->hdr.flags = (__u16)flags;
	if (n >= PG_PATH_LEN)
		p->hdr.flags |= PG_F_PATH_TRUNCATED;
	if (base)
		p->hdr.flags |= PG_F_PATH_RELATIVE;
	p->entry = entry;
	p->dirfd = dirfd;
	p->path_len = n - 1;
	if (!pidns)
		pidns = pg_current_pidns();
	if (named_self) {
		/* Only reached with report_self: the caller is the target. */
		pg_fill_current(&p->source);
		pid = p->source.ns_pid;
		resolved = pg_resolve_pid(pidns, pid, &pv);
	} else {
		resolved = pg_resolve_pid(pidns, pid, &pv);
		/* A process reading its own /proc/<pid> is not reported:
		 * decided before the costly fill. */
		if (resolved && !pg_report_self && pg_is_current_process(&pv))
			return PG_PARSE_NONE;
		pg_fill_current(&p->source);
	}
	p->target_arg = pid;
	if (resolved && pg_fill_target_from_pid(&p->target, &pv)) {
		p->hdr.flags |= PG_F_TARGET_KNOWN;
		pg_enforce(ev, PG_OP_PROC_ACCESS, entry, 1);
	} else if (!is_tid && pidns == p->source.pidns && (__u32)pid == p->source.ns_pid &&
		   !pg_report_self) {
		return PG_PARSE_NONE;
	}
	return PG_PARSE_EVENT;
}

/* A path syscall's entry: the spelling judged now; an open or chdir that
 * names nothing here is judged again at exit by what it reached. */
static __always_inline void pg_proc_enter(__u16 syscall, __s32 dirfd, const char *upath,
					  __u32 flags)
{
	int r;

	if (!flags)
		pg_object_check_later(syscall, dirfd, upath);
	r = pg_proc_parse(syscall, dirfd, (__u64)upath, flags);
	if (r == PG_PARSE_NONE)
		return;
	pg_object_check_cancel();
	if (r == PG_PARSE_EVENT) {
		union pg_any_event *ev = pg_scratch_event();

		if (ev)
			pg_inflight_store(ev);
	}
}

/* At exit of a path syscall whose path could not be read at entry. */
static __always_inline void pg_proc_retry_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pg_path_retry *rp;
	struct pg_path_retry r;
	char c = 0;

	/* An event remembered at entry: the path was read there, nothing to
	 * retry (and the slot check is cheaper than the hash lookup). */
	if (pg_inflight_lookup(tid))
		return;
	rp = bpf_map_lookup_elem(&pg_path_retries, &tid);
	if (!rp)
		return;
	r = *rp;
	bpf_map_delete_elem(&pg_path_retries, &tid);
	pg_pending_add(tid, -1);
	/* A successful exec replaced the memory the path was in; a successful
	 * relative chdir moved the base the path was relative to. */
	if (ret == 0 && (r.syscall == PG_SYS_EXECVE || r.syscall == PG_SYS_EXECVEAT)) {
		pg_count_lost(PG_EV_PROC_ACCESS, PG_LOST_PATH_UNREADABLE);
		return;
	}
	if (ret == 0 && r.syscall == PG_SYS_CHDIR &&
	    (bpf_probe_read_user(&c, 1, (const void *)r.upath) || c != '/')) {
		pg_count_lost(PG_EV_PROC_ACCESS, PG_LOST_PATH_UNREADABLE);
		return;
	}
	pg_proc_enter(r.syscall, r.dirfd, (const char *)r.upath, PG_F_READ_AT_EXIT);
}

#endif
