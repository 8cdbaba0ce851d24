/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Path operations submitted through io_uring (openat, openat2, statx,
 * unlinkat, mkdirat, renameat, linkat): they pass through no hooked
 * syscall (io_uring_enter carries only counts). io_uring:io_uring_submit_req
 * fires once a request is prepared, with the path already copied into the
 * kernel (struct filename): its spelling is judged there, in the submitter,
 * before the operation runs, exactly as at a syscall's entry.
 * io_uring:io_uring_complete brings the result; for an open that the
 * spelling did not name, the file it installed is judged by what it is
 * (proc_object.bpf.h). Requests are matched by their address.
 */
#ifndef PODGUARD_IO_URING_BPF_H
#define PODGUARD_IO_URING_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"
#include "io_uring_reqs.bpf.h"
#include "proc_access.bpf.h"
#include "proc_object.bpf.h"

SEC("raw_tp/io_uring_submit_req")
int BPF_PROG(pg_uring_submit, struct io_kiocb *req)
{
	__u8 opcode = BPF_CORE_READ(req, opcode);
	union pg_any_event *ev;
	struct filename *fname;
	__u64 key = (__u64)req;
	__u16 syscall;
	__s32 dfd;
	int r;

	if (opcode == IORING_OP_OPENAT || opcode == IORING_OP_OPENAT2) {
		struct io_open *op = (void *)&req->cmd;

		syscall = opcode == IORING_OP_OPENAT ? PG_SYS_IO_URING_OPENAT
						     : PG_SYS_IO_URING_OPENAT2;
		/* A direct descriptor (file_slot) never enters the fd table. */
		if (BPF_CORE_READ(op, file_slot))
			syscall |= 0x8000;
		dfd = BPF_CORE_READ(op, dfd);
		fname = BPF_CORE_READ(op, filename);
	} else if (opcode == IORING_OP_STATX) {
		struct io_statx *op = (void *)&req->cmd;

		syscall = PG_SYS_IO_URING_STATX;
		dfd = BPF_CORE_READ(op, dfd);
		fname = BPF_CORE_READ(op, filename);
	} else if (opcode == IORING_OP_UNLINKAT) {
		struct io_unlink *op = (void *)&req->cmd;

		syscall = PG_SYS_IO_URING_UNLINKAT;
		dfd = BPF_CORE_READ(op, dfd);
		fname = BPF_CORE_READ(op, filename);
	} else if (opcode == IORING_OP_MKDIRAT) {
		struct io_mkdir *op = (void *)&req->cmd;

		syscall = PG_SYS_IO_URING_MKDIRAT;
		dfd = BPF_CORE_READ(op, dfd);
		fname = BPF_CORE_READ(op, filename);
	} else if (opcode == IORING_OP_RENAMEAT || opcode == IORING_OP_LINKAT) {
		/* Same layout; the old path is judged (the new one is not read). */
		struct io_rename *op = (void *)&req->cmd;

		syscall = opcode == IORING_OP_RENAMEAT ? PG_SYS_IO_URING_RENAMEAT
						       : PG_SYS_IO_URING_LINKAT;
		dfd = BPF_CORE_READ(op, old_dfd);
		fname = BPF_CORE_READ(op, oldpath);
	} else {
		return 0;
	}
	if (!fname)
		return 0;
	pg_uring_note_submit(key);
	r = pg_proc_parse(syscall & 0x7fff, dfd, (__u64)BPF_CORE_READ(fname, name), PG_PATH_KERNEL);
	ev = pg_scratch_event();
	if (!ev)
		return 0;
	if (r != PG_PARSE_EVENT) {
		/* Named nothing: an open is judged by its file at completion. */
		if (syscall != PG_SYS_IO_URING_OPENAT && syscall != PG_SYS_IO_URING_OPENAT2)
			return 0;
		if (pg_is_agent())
			return 0;
		ev->hdr.kind = 0;
		ev->hdr.syscall = syscall;
		ev->proc.dirfd = dfd;
		if (bpf_probe_read_kernel_str(ev->proc.path, sizeof(ev->proc.path),
					      BPF_CORE_READ(fname, name)) <= 0)
			return 0;
	}
	if (bpf_map_update_elem(&pg_uring_reqs, &key, &ev->proc, BPF_ANY))
		pg_count_lost(PG_EV_PROC_ACCESS, PG_LOST_INFLIGHT_FULL);
	return 0;
}

SEC("raw_tp/io_uring_complete")
int BPF_PROG(pg_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe)
{
	__u64 key = (__u64)req;
	struct pg_proc_access_event *v = bpf_map_lookup_elem(&pg_uring_reqs, &key);
	union pg_any_event *ev;
	struct path obj;
	__s32 res;

	if (!v)
		return 0;
	/* From the request, not the tracepoint's arguments: they changed
	 * shape across kernels (6.1 passes the result itself). */
	res = BPF_CORE_READ((struct io_kiocb *)req, cqe.res);
	if (v->hdr.kind) {
		ev = pg_scratch_event();
		if (ev) {
			ev->proc = *v;
			ev->hdr.result = res;
			/* LSM mode: a block no hook applied (the open went through). */
			if (ev->hdr.action == PG_ACT_BLOCKED && res >= 0 &&
			    !(ev->hdr.pad0 & PG_INT_LSM)) {
				bpf_send_signal(PG_SIGKILL);
				ev->hdr.action = PG_ACT_KILLED;
			}
			pg_submit(ev);
		}
	} else if (res >= 0 && v->hdr.syscall < 0x8000 && pg_fd_path(res, &obj)) {
		struct pg_object_op op = {
			.path = (__u64)v->path,
			.ret = res,
			.dirfd = v->dirfd,
			.path_flags = PG_PATH_KERNEL,
			.syscall = v->hdr.syscall,
		};

		pg_object_judge(&obj, &op);
	}
	bpf_map_delete_elem(&pg_uring_reqs, &key);
	return 0;
}

#endif
