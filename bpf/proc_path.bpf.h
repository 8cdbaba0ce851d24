/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The /proc path parser: classifies "/proc/<pid>/<entry>" spellings (absolute,
 * with "//", "." and "..", "self", "task/<tid>", relative to a procfs cwd or
 * dirfd) the way procfs would, from the text alone. What the text does not
 * show (symlinks, climbs from outside /proc, procfs mounted elsewhere) is
 * judged at exit by the object reached (proc_object.bpf.h).
 */
#ifndef PODGUARD_PROC_PATH_BPF_H
#define PODGUARD_PROC_PATH_BPF_H

#include "common.bpf.h"

#define PG_AT_FDCWD -100
/* A path argument that is a kernel copy (io_uring's struct filename), not
 * user memory. Above the 16 bits of pg_header.flags. */
#define PG_PATH_KERNEL (1u << 16)
#define PG_PROC_SUPER_MAGIC 0x9fa0
#define PG_MAX_TOKENS 8 /* power of two: indexes are masked */
#define PG_DENTRY_DEPTH 4 /* power of two: indexes are masked */
#define PG_DENTRY_NAME 32

enum pg_tok {
	PG_TOK_OTHER = 0,
	PG_TOK_PROC,
	PG_TOK_PID,
	PG_TOK_SELF,
	PG_TOK_TASK,
	PG_TOK_TID,
	PG_TOK_ENTRY,
};

/* hash(name) -> enum pg_proc_entry or PG_NAME_*; filled by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u32);
} pg_proc_names SEC(".maps");

/* Parser state lives in a map value, not on the stack: the verifier does not
 * track map contents, so bpf_loop's callback converges in one pass instead of
 * exploring every combination of token values. */
struct pg_path_state {
	__u64 hash;
	__u32 comp_start;
	__u32 num;
	__u8 numeric;
	__u8 dots; /* leading dots of the component; 0xff once a non-dot is seen */
	__u8 depth;
	__u8 done;
	__u32 overflow;
	__u8 tok[PG_MAX_TOKENS];
	__u32 val[PG_MAX_TOKENS];
};

static __always_inline __u32 pg_name_lookup(__u64 hash)
{
	__u32 *v = bpf_map_lookup_elem(&pg_proc_names, &hash);

	return v ? *v : 0;
}

/* enum pg_proc_entry of a name in kernel memory (a dentry's, the last
 * component of a path walk), or 0. */
static __noinline __u32 pg_kname_entry(const char *kname)
{
	char name[24] = {};
	__u64 hash = PG_FNV_OFFSET;
	__u32 entry;

	if (!kname || bpf_probe_read_kernel_str(name, sizeof(name), kname) <= 1)
		return 0;
#pragma unroll
	for (int k = 0; k < (int)sizeof(name); k++) {
		if (!name[k])
			break;
		hash = (hash ^ (__u8)name[k]) * PG_FNV_PRIME;
	}
	entry = pg_name_lookup(hash);
	return entry < PG_PROC_ENTRY_MAX ? entry : 0;
}

/* Path text the parser walks: the procfs-relative base of a relative path
 * ("8/task/9/"), then the path as given. Twice PG_PATH_LEN so that masked
 * offsets can never run past it. */
struct pg_pathbuf {
	char text[2 * PG_PATH_LEN];
	struct pg_path_state st;
};

struct pg_loop_ctx {
	struct pg_pathbuf *pb;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_pathbuf);
} pg_pathbufs SEC(".maps");

struct pg_comp {
	__u64 hash;
	__u32 num;
	__u32 len;
	__u8 numeric;
	__u8 dots;
	__u8 first_zero;
};

/* Classify one path component by where it stands, the way procfs would.
 * Not inlined: it is called from several places and would bloat each. */
static __noinline void pg_push_component(struct pg_path_state *st, struct pg_comp *c)
{
	__u64 hash = c->hash;
	__u32 len = c->len, num = c->num;
	__u8 numeric = c->numeric, dots = c->dots, first_zero = c->first_zero;
	__u8 d = st->depth;
	__u8 parent;
	__u8 tok = PG_TOK_OTHER;
	__u32 val = 0;

	if (dots == 1 && len == 1)
		return; /* "." */
	if (dots == 2 && len == 2) { /* ".." */
		if (st->overflow)
			st->overflow--;
		else if (st->depth)
			st->depth--;
		return;
	}
	if (d >= PG_MAX_TOKENS) {
		st->overflow++;
		return;
	}
	parent = d ? st->tok[(d - 1) & (PG_MAX_TOKENS - 1)] : PG_TOK_OTHER;
	/* procfs rejects leading zeros: "/proc/08" is no pid. */
	numeric = numeric && len && len <= 10 && !(first_zero && len > 1);
	if (d == 0) {
		if (pg_name_lookup(hash) == PG_NAME_PROC)
			tok = PG_TOK_PROC;
	} else if (d == 1 && parent == PG_TOK_PROC) {
		if (numeric) {
			tok = PG_TOK_PID;
			val = num;
		} else if (pg_name_lookup(hash) == PG_NAME_SELF) {
			tok = PG_TOK_SELF;
		}
	} else if ((d == 2 && (parent == PG_TOK_PID || parent == PG_TOK_SELF)) ||
		   (d == 4 && parent == PG_TOK_TID)) {
		__u32 name = pg_name_lookup(hash);

		if (d == 2 && name == PG_NAME_TASK) {
			tok = PG_TOK_TASK;
		} else if (name > 0 && name < PG_PROC_ENTRY_MAX) {
			tok = PG_TOK_ENTRY;
			val = name;
			/* Past a magic link the walk is in the target's own tree. */
			if (name == PG_PROC_ROOT || name == PG_PROC_CWD || name == PG_PROC_EXE)
				st->done = 1;
		}
	} else if (d == 3 && parent == PG_TOK_TASK && numeric) {
		tok = PG_TOK_TID;
		val = num;
	}
	st->tok[d & (PG_MAX_TOKENS - 1)] = tok;
	st->val[d & (PG_MAX_TOKENS - 1)] = val;
	st->depth = d + 1;
}

static __always_inline void pg_comp_reset(struct pg_path_state *st)
{
	st->hash = PG_FNV_OFFSET;
	st->num = 0;
	st->numeric = 1;
	st->dots = 0;
}

static __always_inline long pg_path_char(struct pg_pathbuf *pb, __u32 i)
{
	struct pg_path_state *st = &pb->st;
	__u32 start = st->comp_start;
	char c;

	if (i >= 2 * PG_PATH_LEN)
		return 1;
	c = pb->text[i & (2 * PG_PATH_LEN - 1)];
	if (c == '/' || c == 0) {
		if (i > start) {
			struct pg_comp comp = {
				.hash = st->hash,
				.num = st->num,
				.len = i - start,
				.numeric = st->numeric,
				.dots = st->dots,
				.first_zero = pb->text[start & (2 * PG_PATH_LEN - 1)] == '0',
			};

			pg_push_component(st, &comp);
		}
		st->comp_start = i + 1;
		pg_comp_reset(st);
		return (c == 0 || st->done) ? 1 : 0;
	}
	st->hash = (st->hash ^ (__u8)c) * PG_FNV_PRIME;
	if (c >= '0' && c <= '9')
		st->num = st->num * 10 + (c - '0');
	else
		st->numeric = 0;
	if (c == '.' && st->dots != 0xff)
		st->dots++;
	else
		st->dots = 0xff;
	return 0;
}

/* Eight characters per callback: each bpf_loop step is an indirect call
 * (a retpoline on most kernels), dearer than handling one character. */
#define PG_PATH_CHUNK 8

static long pg_path_step(__u32 chunk, struct pg_loop_ctx *ctx)
{
	__u32 i = chunk * PG_PATH_CHUNK;

#pragma unroll
	for (int k = 0; k < PG_PATH_CHUNK; k++)
		if (pg_path_char(ctx->pb, i + k))
			return 1;
	return 0;
}

/* The form nearly every access has: "/proc/<pid>/<entry>", the entry last
 * or a magic link (root, cwd, exe) that ends what procfs resolves. Parsed
 * here in one unrolled pass over the copied path, the general parser's
 * copies and bpf_loop steps skipped. Any other form ("//", ".", "..",
 * "self", "task/<tid>", a pid with a leading zero, more components after a
 * plain entry) returns 0 and goes to the general parser, which gives the
 * same answer for the forms accepted here. */
#define PG_SIMPLE_PID_DIGITS 10
#define PG_SIMPLE_NAME_LEN 24

static __always_inline __u32 pg_parse_simple(const char *path, __s32 *pid)
{
	__u64 hash = PG_FNV_OFFSET;
	__u32 num = 0, i = 6, entry;
	char c;

	if (path[0] != '/' || path[1] != 'p' || path[2] != 'r' || path[3] != 'o' ||
	    path[4] != 'c' || path[5] != '/' || path[6] < '1' || path[6] > '9')
		return 0;
#pragma unroll
	for (int k = 0; k < PG_SIMPLE_PID_DIGITS; k++) {
		c = path[6 + k];
		if (c < '0' || c > '9')
			break;
		num = num * 10 + (c - '0');
		i++;
	}
	if (path[i & (PG_PATH_LEN - 1)] != '/')
		return 0;
	i++;
#pragma unroll
	for (int k = 0; k < PG_SIMPLE_NAME_LEN; k++) {
		c = path[(i + k) & (PG_PATH_LEN - 1)];
		if (c == '/' || c == 0) {
			if (k == 0)
				return 0;
			entry = pg_name_lookup(hash);
			if (entry == 0 || entry >= PG_PROC_ENTRY_MAX)
				return 0;
			if (c == '/' && entry != PG_PROC_ROOT && entry != PG_PROC_CWD &&
			    entry != PG_PROC_EXE)
				return 0;
			*pid = num;
			return entry;
		}
		if (c == '.')
			return 0; /* "." and ".." components, or a name the table lacks */
		hash = (hash ^ (__u8)c) * PG_FNV_PRIME;
	}
	return 0;
}

/* Writes the names from the procfs root down to d, each followed by '/'.
 * Returns the length written, or -1 if d is deeper than anything we classify. */
static __noinline int pg_compose_base(struct pg_pathbuf *pb, struct dentry *d)
{
	const unsigned char *names[PG_DENTRY_DEPTH] = {};
	int n = 0, off = 0;

	for (int lvl = 0; lvl < PG_DENTRY_DEPTH; lvl++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);

		if (!parent || parent == d)
			break;
		names[lvl] = BPF_CORE_READ(d, d_name.name);
		n = lvl + 1;
		d = parent;
	}
	if (BPF_CORE_READ(d, d_parent) != d)
		return -1;
	for (int k = PG_DENTRY_DEPTH - 1; k >= 0; k--) {
		long r;

		if (k >= n)
			continue;
		r = bpf_probe_read_kernel_str(&pb->text[off & (PG_PATH_LEN - 1)], PG_DENTRY_NAME,
					      names[k & (PG_DENTRY_DEPTH - 1)]);
		if (r <= 1)
			return -1;
		off += r - 1;
		pb->text[off & (2 * PG_PATH_LEN - 1)] = '/';
		off++;
		if (off >= PG_PATH_LEN - PG_DENTRY_NAME)
			return -1;
	}
	return off;
}

/* The procfs dentry a relative path starts from, or NULL if it is not on procfs. */
static __always_inline struct dentry *pg_procfs_base(__s32 dirfd, __u32 *pidns)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
	struct vfsmount *mnt;
	struct dentry *dentry;
	struct super_block *sb;

	if (dirfd == PG_AT_FDCWD) {
		mnt = BPF_CORE_READ(cur, fs, pwd.mnt);
		dentry = BPF_CORE_READ(cur, fs, pwd.dentry);
	} else {
		struct fdtable *fdt = BPF_CORE_READ(cur, files, fdt);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = 0;

		if (dirfd < 0 || (__u32)dirfd >= BPF_CORE_READ(fdt, max_fds))
			return 0;
		bpf_probe_read_kernel(&f, sizeof(f), &fds[dirfd]);
		if (!f)
			return 0;
		mnt = BPF_CORE_READ(f, f_path.mnt);
		dentry = BPF_CORE_READ(f, f_path.dentry);
	}
	sb = BPF_CORE_READ(mnt, mnt_sb);
	if (BPF_CORE_READ(sb, s_magic) != PG_PROC_SUPER_MAGIC)
		return 0;
	{
		struct proc_fs_info *fsi = BPF_CORE_READ(sb, s_fs_info);

		*pidns = BPF_CORE_READ(fsi, pid_ns, ns.inum);
	}
	return dentry;
}

#endif
