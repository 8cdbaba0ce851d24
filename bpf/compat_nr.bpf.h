/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 32-bit (ia32) syscalls on x86-64: their numbers, translated to the native
 * ones of the watched syscalls (syscalls.bpf.h), so that one switch serves
 * both. A 32-bit binary, or a 64-bit one executing `int $0x80`, makes these;
 * the kernel's per-syscall tracepoints never fire for them (compat.bpf.h has
 * the hooks that see them). Included by syscalls.bpf.h after its PG_NR_*.
 */
#ifndef PODGUARD_COMPAT_NR_BPF_H
#define PODGUARD_COMPAT_NR_BPF_H

#if defined(__TARGET_ARCH_x86)
/* thread_info.status while the task is in a 32-bit syscall (set at entry,
 * cleared on the way back to user mode). */
#define PG_TS_COMPAT 0x0002

/* X(32-bit number, native name) from arch/x86/entry/syscalls/syscall_32.tbl:
 * every watched syscall, and the 32-bit table's own spellings of the same
 * operation (stat64, fstatat64, truncate64, chown32, setuid32, ...). */
#define PG_COMPAT_SYSCALLS(X)                                                                      \
	X(37, KILL)                                                                                \
	X(238, TKILL)                                                                              \
	X(270, TGKILL)                                                                             \
	X(178, RT_SIGQUEUEINFO)                                                                    \
	X(335, RT_TGSIGQUEUEINFO)                                                                  \
	X(424, PIDFD_SEND_SIGNAL)                                                                  \
	X(26, PTRACE)                                                                              \
	X(347, PROCESS_VM_READV)                                                                   \
	X(348, PROCESS_VM_WRITEV)                                                                  \
	X(438, PIDFD_GETFD)                                                                        \
	X(440, PROCESS_MADVISE)                                                                    \
	X(448, PROCESS_MRELEASE)                                                                   \
	X(349, KCMP)                                                                               \
	X(312, GET_ROBUST_LIST)                                                                    \
	X(317, MOVE_PAGES)                                                                         \
	X(294, MIGRATE_PAGES)                                                                      \
	X(336, PERF_EVENT_OPEN)                                                                    \
	X(340, PRLIMIT64)                                                                          \
	X(5, OPEN)                                                                                 \
	X(295, OPENAT)                                                                             \
	X(437, OPENAT2)                                                                            \
	X(85, READLINK)                                                                            \
	X(305, READLINKAT)                                                                         \
	X(18, STAT)                                                                                \
	X(106, STAT)                                                                               \
	X(195, STAT)                                                                               \
	X(84, LSTAT)                                                                               \
	X(107, LSTAT)                                                                              \
	X(196, LSTAT)                                                                              \
	X(300, NEWFSTATAT)                                                                         \
	X(383, STATX)                                                                              \
	X(33, ACCESS)                                                                              \
	X(307, FACCESSAT)                                                                          \
	X(439, FACCESSAT2)                                                                         \
	X(12, CHDIR)                                                                               \
	X(11, EXECVE)                                                                              \
	X(358, EXECVEAT)                                                                           \
	X(92, TRUNCATE)                                                                            \
	X(193, TRUNCATE)                                                                           \
	X(38, RENAME)                                                                              \
	X(39, MKDIR)                                                                               \
	X(40, RMDIR)                                                                               \
	X(9, LINK)                                                                                 \
	X(10, UNLINK)                                                                              \
	X(83, SYMLINK)                                                                             \
	X(15, CHMOD)                                                                               \
	X(182, CHOWN)                                                                              \
	X(212, CHOWN)                                                                              \
	X(16, LCHOWN)                                                                              \
	X(198, LCHOWN)                                                                             \
	X(14, MKNOD)                                                                               \
	X(99, STATFS)                                                                              \
	X(268, STATFS)                                                                             \
	X(61, CHROOT)                                                                              \
	X(21, MOUNT)                                                                               \
	X(226, SETXATTR)                                                                           \
	X(227, LSETXATTR)                                                                          \
	X(229, GETXATTR)                                                                           \
	X(230, LGETXATTR)                                                                          \
	X(232, LISTXATTR)                                                                          \
	X(233, LLISTXATTR)                                                                         \
	X(235, REMOVEXATTR)                                                                        \
	X(236, LREMOVEXATTR)                                                                       \
	X(292, INOTIFY_ADD_WATCH)                                                                  \
	X(296, MKDIRAT)                                                                            \
	X(297, MKNODAT)                                                                            \
	X(298, FCHOWNAT)                                                                           \
	X(301, UNLINKAT)                                                                           \
	X(302, RENAMEAT)                                                                           \
	X(303, LINKAT)                                                                             \
	X(304, SYMLINKAT)                                                                          \
	X(306, FCHMODAT)                                                                           \
	X(320, UTIMENSAT)                                                                          \
	X(341, NAME_TO_HANDLE_AT)                                                                  \
	X(353, RENAMEAT2)                                                                          \
	X(428, OPEN_TREE)                                                                          \
	X(442, MOUNT_SETATTR)                                                                      \
	X(452, FCHMODAT2)                                                                          \
	X(23, SETUID)                                                                              \
	X(213, SETUID)                                                                             \
	X(70, SETREUID)                                                                            \
	X(203, SETREUID)                                                                           \
	X(164, SETRESUID)                                                                          \
	X(208, SETRESUID)                                                                          \
	X(310, UNSHARE)                                                                            \
	X(346, SETNS)

#define PG_COMPAT_CASE(nr32, name)                                                                 \
	case nr32:                                                                                 \
		return PG_NR_##name;

/* The native number of 32-bit syscall nr32, or -1 when nobody watches it. */
static __always_inline long pg_compat_native_nr(long nr32)
{
	switch (nr32) {
	PG_COMPAT_SYSCALLS(PG_COMPAT_CASE)
	}
	return -1;
}

static __always_inline int pg_in_compat_syscall(void)
{
	return bpf_get_current_task_btf()->thread_info.status & PG_TS_COMPAT;
}

/* The native number of the current task's syscall nr, whichever table it
 * came from. */
static __always_inline long pg_native_syscall_nr(long nr)
{
	return pg_in_compat_syscall() ? pg_compat_native_nr(nr) : nr;
}
#else
/* arm64's 32-bit (AArch32) syscalls are not watched: README "Known limits". */
static __always_inline long pg_native_syscall_nr(long nr)
{
	return nr;
}
#endif

#endif
