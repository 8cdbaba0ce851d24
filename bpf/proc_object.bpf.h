/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Access to another process judged by the object the kernel reached, not by
 * the path's spelling. At the exit of an open the file is in the caller's fd
 * table; at the exit of a chdir it is the caller's cwd. Two facts tell where
 * it is, whatever the spelling (a symlink, a climb out of any cwd, procfs
 * mounted elsewhere, a bind mount of /proc/<pid>):
 * - a file on procfs (PROC_SUPER_MAGIC) whose inode belongs to a pid
 *   (proc_inode.pid): /proc/<pid>/<entry> itself, named by its dentry;
 * - a file on a mount of another mount namespace than the caller's: reached
 *   through /proc/<pid>/root or cwd of a process of that namespace.
 * The entry hook (proc_access.bpf.h) still judges what the spelling shows,
 * before the operation; what it could not see is judged here, after it: the
 * event says read_at_exit and a fallback kill comes after the open.
 */
#ifndef PODGUARD_PROC_OBJECT_BPF_H
#define PODGUARD_PROC_OBJECT_BPF_H

#include "common.bpf.h"
#include "enforce.bpf.h"
#include "proc_path.bpf.h"
#include "proc_walk.bpf.h"

/* A mount namespace -> a process in it: the target named when a file of that
 * namespace is reached from another. A memo of a scan of the process cache
 * (pg_procs, which the lifecycle hooks keep and the daemon seeds from /proc),
 * checked against it on every use: an owner that exited or moved on is
 * replaced by a new scan. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} pg_mntns_owner SEC(".maps");

/* An open or chdir whose spelling named nothing, to be judged at its exit.
 * Indexed by the tid's low bits like pg_pending: a plain store at entry, a
 * load and compare at every exit. */
struct pg_object_check {
	__u64 upath;
	__u32 tid;
	__s32 dirfd;
	__u16 syscall;
	__u16 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_PENDING_SLOTS);
	__type(key, __u32);
	__type(value, struct pg_object_check);
} pg_object_checks SEC(".maps");

static __always_inline struct pg_object_check *pg_object_check_slot(__u32 tid)
{
	__u32 slot = tid & (PG_PENDING_SLOTS - 1);

	return bpf_map_lookup_elem(&pg_object_checks, &slot);
}

static __always_inline void pg_object_check_later(__u16 syscall, __s32 dirfd, const char *upath)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pg_object_check *c;

	if (syscall != PG_SYS_OPENAT && syscall != PG_SYS_OPEN && syscall != PG_SYS_OPENAT2 &&
	    syscall != PG_SYS_CHDIR)
		return;
	c = pg_object_check_slot(tid);
	if (!c)
		return;
	c->upath = (__u64)upath;
	c->dirfd = dirfd;
	c->syscall = syscall;
	c->tid = tid;
}

/* The spelling named the access at entry: nothing left to judge at exit. */
static __always_inline void pg_object_check_cancel(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pg_object_check *c = pg_object_check_slot(tid);

	if (c && c->tid == tid)
		c->tid = 0;
}

/* ---- the process a mount namespace belongs to ---- */

static __always_inline void pg_mntns_note(__u32 mntns, __u32 tgid)
{
	if (mntns)
		bpf_map_update_elem(&pg_mntns_owner, &mntns, &tgid, BPF_ANY);
}

struct pg_mntns_scan {
	__u32 mntns;
	__u32 tgid;
};

static long pg_mntns_scan_one(struct bpf_map *map, __u32 *tgid, struct pg_task *t,
			      struct pg_mntns_scan *s)
{
	if (t->mntns != s->mntns)
		return 0;
	s->tgid = *tgid;
	return 1;
}

/* A process of mntns other than the caller, or 0. */
static __noinline __u32 pg_mntns_owner_of(__u32 mntns)
{
	struct pg_mntns_scan s = {.mntns = mntns};
	__u32 *owner = bpf_map_lookup_elem(&pg_mntns_owner, &mntns);

	if (owner) {
		struct pg_task *t = bpf_map_lookup_elem(&pg_procs, owner);

		if (t && t->mntns == mntns)
			return *owner;
	}
	/* The first access to this namespace, or its last owner is gone. */
	bpf_for_each_map_elem(&pg_procs, pg_mntns_scan_one, &s, 0);
	if (s.tgid)
		pg_mntns_note(mntns, s.tgid);
	return s.tgid;
}

/* ---- what was reached ---- */

/* The path of the file at fd in the caller's table. */
static __always_inline int pg_fd_path(long fd, struct path *out)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct fdtable *fdt = cur->files->fdt;
	struct file **fds = fdt->fd;
	struct file *f = 0;

	if (fd < 0 || fd >= fdt->max_fds)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	return bpf_probe_read_kernel(out, sizeof(*out), &f->f_path) == 0;
}

/* enum pg_proc_entry of a procfs dentry's name, or 0. */
static __always_inline __u32 pg_dentry_entry(struct dentry *d)
{
	return pg_kname_entry((const char *)BPF_CORE_READ(d, d_name.name));
}

/* One operation whose object is judged. */
struct pg_object_op {
	__u64 path; /* as given: user memory, or a kernel copy with PG_PATH_KERNEL */
	__s64 ret;
	__s32 dirfd;
	__u32 path_flags;
	__u16 syscall;
	__u16 entry; /* filled by the judge */
	__s32 target_arg; /* filled by the judge */
};

/* The event for an access identified by its object: filled in the scratch
 * event, decided, and sent with the syscall's result (it is over). */
static __noinline void pg_object_report(struct pg_object_op *op, const struct pg_pid_value *pv)
{
	const char *path = (const char *)op->path;
	union pg_any_event *ev = pg_scratch_event();
	struct pg_proc_access_event *p;
	long n;

	if (!ev)
		return;
	p = &ev->proc;
	__builtin_memset(&p->hdr, 0, sizeof(p->hdr));
	__builtin_memset(&p->source, 0, sizeof(p->source) + sizeof(p->target));
	p->hdr.kind = PG_EV_PROC_ACCESS;
	p->hdr.syscall = op->syscall;
	p->hdr.flags = PG_F_READ_AT_EXIT | PG_F_BY_OBJECT;
	p->hdr.result = op->ret;
	p->entry = op->entry;
	p->dirfd = op->dirfd;
	p->target_arg = op->target_arg;
	p->path[0] = 0;
	if (op->path_flags & PG_PATH_KERNEL)
		n = bpf_probe_read_kernel_str(p->path, sizeof(p->path), path);
	else
		n = bpf_probe_read_user_str(p->path, sizeof(p->path), path);
	p->path_len = n > 0 ? n - 1 : 0;
	if (n >= PG_PATH_LEN)
		p->hdr.flags |= PG_F_PATH_TRUNCATED;
	if (p->path[0] != '/')
		p->hdr.flags |= PG_F_PATH_RELATIVE;
	pg_fill_current(&p->source);
	if (pg_fill_target_from_pid(&p->target, pv)) {
		p->hdr.flags |= PG_F_TARGET_KNOWN;
		pg_enforce(ev, PG_OP_PROC_ACCESS, op->entry, 1);
		/* The operation is over: in LSM mode a block no hook applied
		 * is applied the fallback way, as at any syscall exit. */
		if (p->hdr.action == PG_ACT_BLOCKED) {
			bpf_send_signal(PG_SIGKILL);
			p->hdr.action = PG_ACT_KILLED;
		}
	}
	pg_submit(ev);
}

/* Judges the file or directory at *obj that an operation reached. */
static __noinline void pg_object_judge(struct path *obj, struct pg_object_op *op)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct vfsmount *mnt = obj->mnt;
	struct dentry *d = obj->dentry;
	struct super_block *sb = BPF_CORE_READ(mnt, mnt_sb);
	__u32 tgid = cur->tgid;
	struct pg_pid_value pv = {};
	__u32 entry;

	if (pg_is_agent())
		return;
	if (BPF_CORE_READ(sb, s_magic) == PG_PROC_SUPER_MAGIC) {
		struct inode *inode = BPF_CORE_READ(d, d_inode);
		struct proc_inode *pi =
			(void *)inode - bpf_core_field_offset(struct proc_inode, vfs_inode);
		struct pid *pid = BPF_CORE_READ(pi, pid);
		struct proc_fs_info *fsi;
		struct pg_pid_key key = {.pidns = PG_INIT_PIDNS};
		struct pg_pid_value *v;
		unsigned int level;
		struct upid up;

		if (!pid)
			return; /* not a process's file: /proc/cpuinfo, /proc/sys/... */
		entry = pg_dentry_entry(d);
		if (!entry) {
			/* fdinfo/<n>, attr/<name>: the entry is the directory. */
			entry = pg_dentry_entry(BPF_CORE_READ(d, d_parent));
			if (entry != PG_PROC_FDINFO && entry != PG_PROC_ATTR &&
			    entry != PG_PROC_NS && entry != PG_PROC_FD &&
			    entry != PG_PROC_MAP_FILES)
				return;
		}
		key.nr = BPF_CORE_READ(pid, numbers[0].nr);
		v = bpf_map_lookup_elem(&pg_pids, &key);
		if (!v)
			return;
		pv = *v;
		if (pv.tgid == tgid && !pg_report_self)
			return;
		/* The number as that procfs shows it: its own pid namespace's. */
		fsi = BPF_CORE_READ(sb, s_fs_info);
		level = BPF_CORE_READ(fsi, pid_ns, level);
		up = pg_upid_at(pid, level & (PG_MAX_PID_LEVELS - 1));
		op->entry = entry;
		op->target_arg = up.nr;
		pg_object_report(op, &pv);
		return;
	}
	{
		struct mount *m = (void *)mnt - bpf_core_field_offset(struct mount, mnt);
		struct mnt_namespace *ns = BPF_CORE_READ(m, mnt_ns);
		__u32 inum, owner;
		struct pg_task *t;

		/* The caller's own namespace (nearly every file): pointers
		 * compared, nothing read. Or a detached mount (open_tree,
		 * fsmount): nobody's tree. */
		if (!ns || ns == cur->nsproxy->mnt_ns)
			return;
		/* Kernel-internal mounts (pipes, sockets, nsfs, anon inodes)
		 * carry MNT_NS_INTERNAL, a marker, not a namespace. */
		if ((unsigned long)ns < 4096)
			return;
		inum = BPF_CORE_READ(ns, ns.inum);
		if (!inum)
			return;
		owner = pg_mntns_owner_of(inum);
		if (!owner || (owner == tgid && !pg_report_self))
			return;
		t = bpf_map_lookup_elem(&pg_procs, &owner);
		if (!t)
			return;
		pv.tgid = owner;
		pv.tid = owner;
		pv.ns_tid = t->ns_pid;
		op->entry = PG_PROC_ROOT;
		op->target_arg = t->ns_pid;
		pg_object_report(op, &pv);
	}
}

/* At exec's point of no return (sched_process_exec): the binary is judged
 * like an opened file unless the spelling named the access at entry (a
 * symlink or a climb to /proc/<pid>/exe or root/...). The memory the path was
 * in is gone: the path reported is the kernel's copy. */
static __always_inline void pg_object_exec(struct linux_binprm *bprm)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pg_object_op op = {.dirfd = PG_AT_FDCWD, .path_flags = PG_PATH_KERNEL};
	struct path obj;

	if (pg_inflight_lookup(tid))
		return;
	{
		struct file *f = BPF_CORE_READ(bprm, file);

		if (!f || bpf_probe_read_kernel(&obj, sizeof(obj), &f->f_path))
			return;
	}
	op.syscall = pg_current_path_syscall();
	if (op.syscall != PG_SYS_EXECVE && op.syscall != PG_SYS_EXECVEAT)
		return;
	op.path = (__u64)BPF_CORE_READ(bprm, filename);
	pg_object_judge(&obj, &op);
}

/* At every syscall exit: an open or chdir marked at entry is judged now. */
static __always_inline void pg_object_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pg_object_check *c = pg_object_check_slot(tid);
	struct pg_object_op op = {};
	struct path obj;

	if (!c || c->tid != tid)
		return;
	c->tid = 0;
	/* The LSM hook named it during the walk (enforce.bpf.h): reported. */
	if (ret < 0 || pg_inflight_lookup(tid))
		return;
	op.syscall = c->syscall;
	op.dirfd = c->dirfd;
	op.path = c->upath;
	op.ret = ret;
	if (op.syscall == PG_SYS_CHDIR) {
		struct task_struct *cur = bpf_get_current_task_btf();

		obj.mnt = cur->fs->pwd.mnt;
		obj.dentry = cur->fs->pwd.dentry;
	} else if (!pg_fd_path(ret, &obj)) {
		return;
	}
	pg_object_judge(&obj, &op);
}

#endif
